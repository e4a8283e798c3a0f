r"""Bring your own model: a loss written in JAX as a model of the package.

:func:`from_jax` (also :func:`theory.hessian_models.from_jax`) wraps a user's
``loss(params, batch)``, a start ``params`` (any pytree) and the data (a tuple
of arrays whose leading axis indexes the examples) as a :class:`JaxModel`,
which has the whole model protocol of :class:`theory.hessian_models.LossModel`:
every consumer (:func:`theory.simulators.train`, the sharpness and curvature
tools, the gradient-noise and escape simulators) works on it unchanged.

Conventions
-----------
* The flat parameter vector :math:`\theta` is
  ``jax.flatten_util.ravel_pytree(params)[0]``: the leaves in pytree order,
  each flattened in C order. :meth:`JaxModel.params_of` maps it back.
* A model's ``batch`` argument (example indices in ``[0, N)``, repeats
  counted) selects those rows of every data array; the user's ``loss`` is the
  mean loss over the rows it is given, so the full-data loss is
  :math:`L(\theta) = \frac1N\sum_i \ell_i(\theta)` exactly when ``loss`` is a
  mean of per-example terms (what :meth:`JaxModel.per_sample_gradients`
  assumes: it evaluates ``loss`` on batches of one).
* Gradients by reverse mode; Hessian-vector products forward-over-reverse,
  :math:`H v = \partial_\epsilon \nabla L(\theta + \epsilon v)|_0` through
  ``jax.jvp`` of ``jax.grad``, never forming :math:`H` (Pearlmutter 1994, "Fast
  exact multiplication by the Hessian"); per-example gradients by ``jax.vmap``.
  Every function is compiled once per batch size (``jax.jit``) and returns
  NumPy float64 arrays.
* Float64 throughout. JAX computes in float32 unless its 64-bit mode is on:
  enable it once, at the start of the program and before any array is made,
  with ``jax.config.update("jax_enable_x64", True)`` (or the environment
  variable ``JAX_ENABLE_X64=1``). Without it :func:`from_jax` refuses, rather
  than return float32 curvature; floating leaves and data are cast to
  float64, and a ``loss`` that still returns float32 is refused.

Needs the ``jax`` extra: ``pip install "theory[jax]"``.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from . import _models
from . import _validate as v
from .errors import DomainError
from .rng import seed_sequence

__all__ = ["JaxModel", "from_jax", "x64_enabled"]

#: per-example gradient rows held at once (in doubles): larger data sets are taken in chunks of examples
_ROWS_BUDGET = 2**24


def _jax():
    try:
        import jax
        import jax.flatten_util  # noqa: F401 - ravel_pytree
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("from_jax needs JAX, an optional extra: pip install 'theory[jax]' "
                          "(or pip install jax)") from exc
    return jax


def x64_enabled() -> bool:
    """Whether JAX's 64-bit mode is on (``jax.config.update("jax_enable_x64", True)``)."""
    jnp = _jax().numpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # JAX warns when it truncates a requested float64
        return jnp.zeros((), dtype=jnp.float64).dtype == jnp.float64


def _float64_leaves(jax, params):
    """``params`` with every floating leaf as float64; TypeError for leaves that cannot be differentiated."""
    jnp = jax.numpy

    def cast(leaf):
        arr = jnp.asarray(leaf)
        if jnp.issubdtype(arr.dtype, jnp.complexfloating) or not jnp.issubdtype(arr.dtype, jnp.floating):
            raise TypeError(f"params must hold real floating-point leaves (the parameters to differentiate); "
                            f"got a leaf of dtype {arr.dtype} and shape {arr.shape}")
        return arr.astype(jnp.float64)

    return jax.tree_util.tree_map(cast, params)


def _data_arrays(jax, data) -> tuple:
    """``data`` as a tuple of JAX arrays with one leading length N >= 1 (floating ones as float64)."""
    jnp = jax.numpy
    if not isinstance(data, tuple | list):
        raise TypeError(f"data must be a tuple of arrays whose leading axis indexes the examples; "
                        f"got {type(data).__name__}")
    if not data:
        raise DomainError("data must hold at least one array; got an empty tuple")
    out = []
    for i, a in enumerate(data):
        arr = np.asarray(a)
        if arr.dtype == object or arr.ndim == 0:
            raise DomainError(f"data[{i}] must be an array with a leading example axis; got "
                              f"{'a scalar' if arr.ndim == 0 else 'an object array'}")
        if np.issubdtype(arr.dtype, np.floating):
            arr = v.finite(arr, f"data[{i}]")
        out.append(jnp.asarray(arr))
    lengths = {int(a.shape[0]) for a in out}
    if len(lengths) != 1 or 0 in lengths:
        raise DomainError(f"data arrays must share one leading length N >= 1 (the examples); got leading "
                          f"lengths {[int(a.shape[0]) for a in out]}")
    return tuple(out)


class JaxModel:
    r"""A user's JAX loss with the model protocol of :class:`theory.hessian_models.LossModel`.

    Made by :func:`from_jax`; see the module docstring for the conventions
    (flat parameter order, batches, float64, forward-over-reverse HVPs).

    Attributes
    ----------
    n_params : int
        :math:`P`, the length of the flat parameter vector.
    n_data : int
        :math:`N`, the number of examples (the leading length of the data).
    start : ndarray, shape (P,)
        The flat start (``params`` as given).
    """

    def __init__(self, loss, params, data, *, init=None):
        jax = _jax()
        if not callable(loss):
            raise TypeError(f"loss must be a callable loss(params, batch); got {type(loss).__name__}")
        if init is not None and not callable(init):
            raise TypeError(f"init must be a callable init(key) -> params, or None; got {type(init).__name__}")
        if not x64_enabled():
            raise DomainError("params must be float64, and JAX computes in float32 unless its 64-bit mode is on: "
                              "call jax.config.update('jax_enable_x64', True) at the start of the program, before "
                              "any array is made (or set JAX_ENABLE_X64=1)")
        flat, unravel = jax.flatten_util.ravel_pytree(_float64_leaves(jax, params))
        if flat.size == 0:
            raise DomainError("params must hold at least one parameter; got an empty pytree")
        self._user_loss, self._params0, self._init, self._unravel = loss, params, init, unravel
        self.data = _data_arrays(jax, data)
        self.n_params = int(flat.size)
        self.start = v.finite(np.array(flat, dtype=np.float64), "params")
        self._compile(jax)
        self._check_loss()

    # ---------------------------------------------------------------- compiled kernels

    def _compile(self, jax):
        jnp, unravel, user = jax.numpy, self._unravel, self._user_loss

        def mean_loss(theta, rows):
            return user(unravel(theta), rows)

        grad = jax.grad(mean_loss)

        def take(data, idx):
            return data if idx is None else tuple(jnp.take(a, idx, axis=0) for a in data)

        def loss_at(theta, data, idx):
            return mean_loss(theta, take(data, idx))

        def grad_at(theta, data, idx):
            return grad(theta, take(data, idx))

        def hvp_at(theta, vec, data, idx):
            rows = take(data, idx)
            return jax.jvp(lambda t: grad(t, rows), (theta,), (vec,))[1]

        def rows_grad(theta, data, idx):  # one gradient per example: the loss on a batch of one
            one = jax.vmap(lambda row: grad(theta, tuple(r[None] for r in row)))
            return one(take(data, idx))

        self._k_loss = jax.jit(loss_at)
        self._k_value_grad = jax.jit(jax.value_and_grad(loss_at))
        self._k_grad = jax.jit(grad_at)
        self._k_hvp = jax.jit(hvp_at)
        self._k_rows = jax.jit(rows_grad)
        self._k_hessian = jax.jit(lambda theta, data, idx: jax.hessian(mean_loss)(theta, take(data, idx)))

    def _check_loss(self):
        out = self._k_loss(self._dev(self.start), self.data, None)
        if getattr(out, "shape", None) != () or out.dtype != np.float64:
            raise DomainError(f"loss must return a float64 scalar (the mean loss over the batch); got shape "
                              f"{getattr(out, 'shape', None)} and dtype {getattr(out, 'dtype', type(out).__name__)}")
        if not math.isfinite(float(out)):
            raise DomainError(f"loss must be finite at the start params; got {float(out)!r}")

    def _dev(self, x):
        return _jax().numpy.asarray(x)

    @staticmethod
    def _host(x) -> np.ndarray:
        return np.array(x, dtype=np.float64)

    # ---------------------------------------------------------------- validation

    @property
    def n_data(self) -> int:
        return int(self.data[0].shape[0])

    def _theta(self, theta, name="theta"):
        return self._dev(_models.as_theta(self, theta, name))

    def _batch(self, batch):
        """None, or the example indices (validated as LossModel does) as a JAX int array."""
        idx = _models.as_batch(batch, self.n_data)
        return None if idx is None else self._dev(idx)

    def _chunks(self, idx):
        """Index arrays of at most _ROWS_BUDGET / P examples each, covering ``idx`` (None: every example)."""
        n = self.n_data if idx is None else int(idx.shape[0])
        step = max(1, _ROWS_BUDGET // self.n_params)
        if idx is None and n <= step:
            return [None]
        full = self._dev(np.arange(self.n_data)) if idx is None else idx
        return [full[i:i + step] for i in range(0, n, step)]

    # ---------------------------------------------------------------- the protocol

    def loss(self, theta, batch=None) -> float:
        r"""Mean loss :math:`L_B(\theta)` of the batch (the full data when ``batch`` is None)."""
        return float(self._k_loss(self._theta(theta), self.data, self._batch(batch)))

    def gradient(self, theta, batch=None) -> np.ndarray:
        r""":math:`\nabla L_B(\theta)`, shape (P,), by reverse mode."""
        return self._host(self._k_grad(self._theta(theta), self.data, self._batch(batch)))

    def value_and_gradient(self, theta, batch=None):
        r"""``(loss, gradient)`` of the batch from one reverse pass (:func:`jax.value_and_grad`)."""
        value, g = self._k_value_grad(self._theta(theta), self.data, self._batch(batch))
        return float(value), self._host(g)

    def hvp(self, theta, vec, batch=None) -> np.ndarray:
        r"""Exact :math:`\nabla^2 L_B(\theta)\,v`, shape (P,): forward-over-reverse, without forming the Hessian."""
        return self._host(self._k_hvp(self._theta(theta), self._theta(vec, "vec"), self.data, self._batch(batch)))

    def hvp_operator(self, theta, batch=None):
        r"""``vec -> hvp(theta, vec)`` with ``theta`` and ``batch`` validated once, for Lanczos."""
        theta, idx = self._theta(theta), self._batch(batch)
        return lambda vec: self._host(self._k_hvp(theta, self._theta(vec, "vec"), self.data, idx))

    def per_sample_gradients(self, theta, batch=None) -> np.ndarray:
        r"""Rows :math:`\nabla\ell_i(\theta)` (the loss on each example alone), shape (N, P) or (len(batch), P)."""
        theta = self._theta(theta)
        return np.concatenate([self._host(self._k_rows(theta, self.data, c)) for c in self._chunks(self._batch(batch))])

    def fisher_diagonal(self, theta, batch=None) -> np.ndarray:
        r"""Diagonal of the empirical Fisher, :math:`\frac1{|B|}\sum_{i\in B} g_i^2`, shape (P,), in chunks of examples."""
        theta, idx = self._theta(theta), self._batch(batch)
        total, count = np.zeros(self.n_params), 0
        for c in self._chunks(idx):
            g = self._host(self._k_rows(theta, self.data, c))
            total += np.einsum("ij,ij->j", g, g)
            count += g.shape[0]
        return total / count

    def fisher_vp(self, theta, vec, batch=None) -> np.ndarray:
        r"""Empirical Fisher times a vector, :math:`F v = \frac1{|B|}\sum_i g_i\,(g_i^\top v)`, without forming :math:`F`."""
        theta, idx = self._theta(theta), self._batch(batch)
        vec = self._host(self._theta(vec, "vec"))
        total, count = np.zeros(self.n_params), 0
        for c in self._chunks(idx):
            g = self._host(self._k_rows(theta, self.data, c))
            total += g.T @ (g @ vec)
            count += g.shape[0]
        return total / count

    def gradient_covariance(self, theta, batch=None) -> np.ndarray:
        r""":math:`C = \frac1N\sum_i (g_i - g)(g_i - g)^\top`, shape (P, P) (dense: for moderate P)."""
        g = self.per_sample_gradients(theta, batch)
        d = g - g.mean(axis=0)
        return d.T @ d / g.shape[0]

    def hessian(self, theta, batch=None) -> np.ndarray:
        """The dense Hessian of the (minibatch) loss, shape (P, P), symmetrised (for moderate P)."""
        h = self._host(self._k_hessian(self._theta(theta), self.data, self._batch(batch)))
        return 0.5 * (h + h.T)

    def initial(self, seed=0) -> np.ndarray:
        """The flat start: ``init(key)`` with ``key = jax.random.key`` of the seed when ``init`` was given, else
        ``params`` as given (the same for every seed)."""
        if self._init is None:
            return self.start.copy()
        jax = _jax()
        state = int(seed_sequence(seed).generate_state(1, dtype=np.uint32)[0])
        flat, _ = jax.flatten_util.ravel_pytree(_float64_leaves(jax, self._init(jax.random.key(state))))
        if flat.size != self.n_params:
            raise DomainError(f"init must return params of the start's structure ({self.n_params} parameters); "
                              f"got {flat.size}")
        return self._host(flat)

    def params_of(self, theta):
        """The pytree of the flat vector ``theta`` (the inverse of the flattening)."""
        return self._unravel(self._theta(theta))

    def with_data(self, *data) -> "JaxModel":
        """The same loss and start on other data (e.g. held-out examples: ``with_data(x_test, y_test)``)."""
        return JaxModel(self._user_loss, self._params0, tuple(data), init=self._init)


def from_jax(loss, params, data, *, init=None) -> JaxModel:
    r"""A model of the package from a loss written in JAX.

    Parameters
    ----------
    loss : callable
        ``loss(params, batch) -> scalar``: the mean loss over ``batch``, a tuple
        of arrays (rows of ``data``, in the same order), as a float64 JAX
        scalar. It must be traceable by ``jax.jit``.
    params : pytree
        The start (any pytree of floating arrays); its flattening by
        ``jax.flatten_util.ravel_pytree`` is the parameter vector :math:`\theta`.
    data : tuple of array_like
        The data set, each array with the examples along its leading axis
        (e.g. ``(x, y)``).
    init : callable, optional
        ``init(key) -> params`` for seeded starts (``model.initial(seed)``),
        ``key`` a ``jax.random.key`` derived from the seed.

    Returns
    -------
    JaxModel

    Notes
    -----
    Needs JAX's 64-bit mode, enabled once at the start of the program:
    ``jax.config.update("jax_enable_x64", True)``.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> jax.config.update("jax_enable_x64", True)
    >>> def loss(p, batch):
    ...     x, y = batch
    ...     return 0.5 * jnp.mean((jnp.tanh(x @ p["w"]) @ p["v"] - y) ** 2)
    >>> x = jnp.linspace(-1, 1, 40).reshape(20, 2); y = jnp.sin(x[:, 0])
    >>> model = from_jax(loss, {"w": 0.5 * jnp.ones((2, 3)), "v": jnp.ones(3)}, (x, y))
    >>> model.n_params, model.n_data
    (9, 20)
    """
    return JaxModel(loss, params, data, init=init)
