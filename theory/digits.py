r"""A real network on real data: a 64-h-10 tanh MLP on scikit-learn's digits, as a JAX model.

:func:`digits_network` builds, through :func:`theory.jax_models.from_jax`, the
network

.. math::

    f(x) = W_2^\top \tanh(W_1^\top x + b_1) + b_2, \qquad
    x \in [0, 1]^{64},\ W_1 \in \mathbb{R}^{64\times h},\ W_2 \in \mathbb{R}^{h\times 10},

on the first ``n_data`` images of :func:`theory.datasets.load_dataset`\ ``("digits")``
in scikit-learn's order (pixels divided by 16), with one of two losses over the
one-hot targets :math:`e_{y_i}`:

* ``"mse"``: :math:`L = \frac{1}{2N}\sum_{i=1}^N \lVert f(x_i) - e_{y_i}\rVert^2`,
  half the squared error summed over the ten outputs, averaged over examples;
* ``"cross_entropy"``: :math:`L = \frac1N\sum_i \bigl(\log\sum_k e^{f_k(x_i)} - f_{y_i}(x_i)\bigr)`.

Start: LeCun-normal weights, :math:`(W_1)_{jk} \sim N(0, 1/64)` and
:math:`(W_2)_{kl} \sim N(0, 1/h)` (untruncated), zero biases; the key is
``jax.random.key`` of the seed as :meth:`theory.jax_models.JaxModel.initial`
derives it, so ``model.initial(seed)`` is ``model.start`` for the seed it was
built with. The flat parameter vector is :math:`(W_1, b_1, W_2, b_2)`, each in
C order (:math:`P = 75h + 10`; 2410 at :math:`h = 32`).

JAX is imported when a network is built, not with the package, and nothing
is enabled globally: the model needs JAX's 64-bit mode, which the caller turns
on (``jax.config.update("jax_enable_x64", True)``, or for a block ``with
x64_mode():``, :func:`x64_mode`); without it :func:`~theory.jax_models.from_jax`
refuses with the way to enable it.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np

from . import _validate as v
from .datasets import load_dataset
from .errors import DomainError
from .jax_models import JaxModel, from_jax
from .rng import seed_sequence

__all__ = ["DIGITS_LOSSES", "N_CLASSES", "digits_network", "held_out", "accuracy", "x64_mode"]

#: the losses :func:`digits_network` offers
DIGITS_LOSSES = ("mse", "cross_entropy")
#: the ten digit classes
N_CLASSES = 10
_N_IMAGES = 1797


def _forward(jnp, params, x):
    (w1, b1), (w2, b2) = params
    return jnp.tanh(x @ w1 + b1) @ w2 + b2


def _losses(jax):
    """The two mean losses ``loss(params, (x, onehot))`` over a batch."""
    jnp = jax.numpy

    def mse(params, batch):
        x, target = batch
        return 0.5 * jnp.mean(jnp.sum((_forward(jnp, params, x) - target) ** 2, axis=1))

    def cross_entropy(params, batch):
        x, target = batch
        out = _forward(jnp, params, x)
        # log-softmax through logsumexp: no overflow for large logits
        return jnp.mean(jax.nn.logsumexp(out, axis=1) - jnp.sum(out * target, axis=1))

    return {"mse": mse, "cross_entropy": cross_entropy}


def _initializer(jax, n_in, hidden):
    jnp = jax.numpy

    def init(key):
        k1, k2 = jax.random.split(key)
        # LeCun normal: variance 1/fan_in keeps the pre-activations O(1); biases start at zero
        return ((jax.random.normal(k1, (n_in, hidden)) / np.sqrt(n_in), jnp.zeros(hidden)),
                (jax.random.normal(k2, (hidden, N_CLASSES)) / np.sqrt(hidden), jnp.zeros(N_CLASSES)))

    return init


def digits_network(n_data: int = 1000, hidden: int = 32, loss: str = "mse", seed=0) -> JaxModel:
    r"""The 64-``hidden``-10 tanh network on the first ``n_data`` digits, as a :class:`~theory.jax_models.JaxModel`.

    Parameters
    ----------
    n_data : int
        :math:`N`, the first ``n_data`` of the 1,797 images in scikit-learn's order.
    hidden : int
        :math:`h`, the number of tanh units.
    loss : {"mse", "cross_entropy"}
        :math:`\frac{1}{2N}\sum_i\lVert f(x_i) - e_{y_i}\rVert^2` or the mean
        softmax cross-entropy (module docstring).
    seed : int or SeedSequence
        The start: LeCun-normal weights, zero biases, from ``jax.random.key``
        of the seed; ``model.initial(s)`` gives the start of seed ``s``.

    Returns
    -------
    JaxModel
        Data ``(x, onehot)``: pixels in :math:`[0, 1]`, shape (N, 64), and
        one-hot targets, shape (N, 10); ``model.start`` the seeded start.

    Raises
    ------
    ValueError
        Bad sizes or loss, or JAX's 64-bit mode off (the adapter's refusal).
    ImportError
        Without JAX or scikit-learn.
    """
    n_data = v.as_int(n_data, "n_data", 1)
    if n_data > _N_IMAGES:
        raise DomainError(f"n_data must be an integer in [1, {_N_IMAGES}] (the digits data set has "
                          f"{_N_IMAGES} images); got {n_data}")
    hidden = v.as_int(hidden, "hidden", 1)
    if not isinstance(loss, str) or loss not in DIGITS_LOSSES:
        raise DomainError(f"loss must be one of {list(DIGITS_LOSSES)}; got {loss!r}")
    # the key as JaxModel.initial derives it, so that model.initial(seed) is this start
    key = int(seed_sequence(seed).generate_state(1, dtype=np.uint32)[0])
    try:
        import jax
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("digits_network needs JAX, an optional extra: pip install 'theory[jax]'") from exc
    x, labels, _ = load_dataset("digits")
    x, labels = x[:n_data], labels[:n_data]
    onehot = np.eye(N_CLASSES)[labels]
    init = _initializer(jax, x.shape[1], hidden)
    # without 64-bit mode the start is float32 and from_jax refuses, naming jax_enable_x64
    return from_jax(_losses(jax)[loss], init(jax.random.key(key)), (x, onehot), init=init)


def held_out(n_data: int = 1000):
    """The images a :func:`digits_network` of ``n_data`` images did not train on: ``(x, onehot, labels)``.

    The last ``1797 - n_data`` images in scikit-learn's order, pixels in
    :math:`[0, 1]`; ``(x, onehot)`` is the ``test_data`` of :func:`theory.simulators.train`.
    """
    n_data = v.as_int(n_data, "n_data", 1)
    if n_data >= _N_IMAGES:
        raise DomainError(f"n_data must be an integer in [1, {_N_IMAGES - 1}] (some images must be left out); "
                          f"got {n_data}")
    x, labels, _ = load_dataset("digits")
    x, labels = x[n_data:], labels[n_data:]
    return x, np.eye(N_CLASSES)[labels], labels


def accuracy(model: JaxModel, x, labels):
    r"""``theta -> `` the fraction of images in ``x`` whose largest output :math:`f_k(x_i)` is the label.

    For a :func:`digits_network` ``model`` (the forward pass of the module
    docstring, on ``model.params_of(theta)``); pass it as ``train(...,
    test_metric=accuracy(model, x, labels))``.
    """
    import jax.numpy as jnp

    if not isinstance(model, JaxModel):
        raise TypeError(f"model must be a digits_network (a JaxModel); got {type(model).__name__}")
    x = v.finite(x, "x")
    labels = np.asarray(labels)
    if x.ndim != 2 or x.shape[1] != 64 or labels.shape != (x.shape[0],) or not np.issubdtype(labels.dtype, np.integer):
        raise DomainError(f"x must have shape (n, 64) and labels shape (n,) of integers; got {x.shape} and "
                          f"{labels.shape} of {labels.dtype}")
    xj = jnp.asarray(x)

    def metric(theta) -> float:
        out = _forward(jnp, model.params_of(theta), xj)
        return float(np.mean(np.argmax(np.asarray(out), axis=1) == labels))

    return metric


@contextmanager
def x64_mode():
    """JAX's 64-bit mode for the duration of a ``with`` block (``jax.enable_x64``), restored after it.

    For code that builds and trains a :func:`digits_network` without turning the
    mode on for the whole program; arrays made inside are float64.
    """
    import jax

    local = getattr(jax, "enable_x64", None)  # recent JAX; earlier releases keep it in jax.experimental
    if local is None:  # pragma: no cover - depends on the JAX release
        from jax.experimental import enable_x64 as local
    with local(True):
        yield
