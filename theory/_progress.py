"""The progress bar of ``theory verify``, ``theory figures``, sweeps and training runs: tqdm on stderr."""

from __future__ import annotations

import sys

from tqdm import tqdm


class Progress:
    """A tqdm bar over ``total`` items, announced one at a time.

    Parameters
    ----------
    total : int
        The number of items.
    enabled : bool, default True
        Draw the bar; when False, nothing is written.
    stream : file-like, optional
        Where the bar is written; ``sys.stderr`` by default.

    Notes
    -----
    ``step(label)`` names the item that starts, ``advance()`` counts it as
    done, ``close()`` ends the bar. ``done`` is the number of items counted,
    and may be set (a sweep that resumes from a results file starts part-way).
    """

    def __init__(self, total: int, *, enabled: bool = True, stream=None):
        self.total = int(total)
        self.enabled = bool(enabled)
        self._done = 0
        self._bar = tqdm(total=self.total, file=stream if stream is not None else sys.stderr,
                         disable=not self.enabled, leave=True, dynamic_ncols=True)

    @property
    def done(self) -> int:
        """The number of items counted as done."""
        return self._done

    @done.setter
    def done(self, value: int) -> None:
        self._done = int(value)
        if self.enabled:
            # a start part-way, not work done now: tqdm's rate counts from ``initial``
            self._bar.n = self._bar.initial = self._done
            self._bar.refresh()

    def step(self, label: str) -> None:
        """Announce that ``label`` is starting."""
        if self.enabled:
            self._bar.set_postfix_str(str(label))

    def advance(self) -> None:
        """Count one item as done."""
        self._done += 1
        self._bar.update(1)

    def close(self) -> None:
        """End the bar (the finished bar stays on its line)."""
        self._bar.close()
