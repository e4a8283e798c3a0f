"""The array backend every simulator runs on: NumPy by default, CuPy when asked.

A simulator calls :func:`get_backend` once and then uses only the returned
object's ``xp`` namespace and its random-number methods, so one copy of the
code runs on the CPU and on a GPU. CuPy is imported only when it is asked for
(``backend="cupy"``, or CuPy arrays among the inputs).
"""

from __future__ import annotations

import contextlib
import importlib

import numpy as np

__all__ = ["Backend", "get_backend", "available_backends", "single_threaded_blas"]


def single_threaded_blas():
    """Context manager: BLAS on one thread, where threadpoolctl is installed (a no-op without it).

    For loops over many small dense problems (eigenvalues of a few hundred wide
    matrices, L-BFGS on a small model): threading buys little there, and
    spin-waiting BLAS threads on a busy machine made them ten to a hundred
    times slower (measured).
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - optional
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")


class Backend:
    """NumPy implementation; subclasses override what differs."""

    name = "numpy"
    # Runs per random stream. Large enough to amortise one generator call,
    # small enough that chunks can be cut finely.
    block_size = 1024

    def __init__(self, xp=np):
        self.xp = xp

    def generator(self, seed_seq: np.random.SeedSequence):
        return np.random.Generator(np.random.PCG64(seed_seq))

    def fill_normal(self, gen, out) -> None:
        """Fill ``out`` (a float64 view) with standard normal numbers, in place."""
        gen.standard_normal(out=out)

    def fill_gamma(self, gen, shape: float, out) -> None:
        """Fill ``out`` with Gamma(shape, 1) numbers, in place."""
        gen.standard_gamma(shape, out=out)

    def asarray(self, x, dtype=np.float64):
        return self.xp.asarray(x, dtype=dtype)

    def to_numpy(self, x) -> np.ndarray:
        return np.asarray(x)

    def synchronize(self) -> None:
        """Wait for queued device work (a no-op on the CPU); call before timing."""

    def __repr__(self) -> str:
        return f"<backend {self.name}>"

    def __reduce__(self):
        # Worker processes rebuild the backend from its class (modules do not pickle).
        return (type(self), ())


class CuPyBackend(Backend):
    name = "cupy"
    block_size = 1 << 16  # one kernel launch per block and step: keep blocks large on a GPU

    def __init__(self):
        try:
            cupy = importlib.import_module("cupy")
        except ImportError as exc:  # pragma: no cover - depends on the machine
            raise ImportError("backend='cupy' needs CuPy and a CUDA GPU: pip install 'theory[cupy]'") from exc
        super().__init__(cupy)

    def generator(self, seed_seq):
        return self.xp.random.Generator(self.xp.random.XORWOW(seed_seq))

    def fill_normal(self, gen, out) -> None:
        out[...] = gen.standard_normal(size=out.shape, dtype=self.xp.float64)

    def fill_gamma(self, gen, shape, out) -> None:
        out[...] = gen.standard_gamma(shape, size=out.shape, dtype=self.xp.float64)

    def to_numpy(self, x) -> np.ndarray:
        return self.xp.asnumpy(x)

    def synchronize(self) -> None:
        self.xp.cuda.get_current_stream().synchronize()


_REGISTRY = {"numpy": Backend, "cupy": CuPyBackend}
_CACHE: dict[str, Backend] = {}


def _is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def get_backend(backend=None, *arrays) -> Backend:
    """The backend named by ``backend`` ("numpy", "cupy", a Backend), else the one ``arrays`` live on.

    Raises ValueError for an unknown name and ImportError when CuPy is asked
    for but not installed.
    """
    if isinstance(backend, Backend):
        return backend
    if backend is None:
        backend = "cupy" if any(_is_cupy_array(a) for a in arrays) else "numpy"
    if not isinstance(backend, str):
        raise TypeError(f"backend must be one of {sorted(_REGISTRY)}, a Backend or None; got "
                        f"{type(backend).__name__} {backend!r}")
    if backend not in _REGISTRY:
        raise ValueError(f"backend must be one of {sorted(_REGISTRY)}; got {backend!r}")
    if backend not in _CACHE:
        _CACHE[backend] = _REGISTRY[backend]()
    return _CACHE[backend]


def available_backends() -> list[str]:
    """Names of the backends that import and find a device on this machine."""
    names = ["numpy"]
    try:
        cp = get_backend("cupy").xp
        if cp.cuda.runtime.getDeviceCount() > 0:
            names.append("cupy")
    except Exception:  # no CuPy, no driver, or no device
        pass
    return names
