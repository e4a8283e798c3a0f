r"""A one-hidden-layer tanh network with biases on a real data set, as a loss model and a landscape.

:class:`MLPLandscape` is a :class:`~theory.hessian_models.LossModel` (the
protocol of every model: ``loss``, ``gradient``, ``hvp``, ``per_sample_gradients``,
``hessian``, ``initial``, ...) and a :class:`~theory.landscapes.Landscape`
(``value``, ``gradient`` and ``hessian`` vectorised over leading axes of
``theta``, on NumPy or CuPy), with the training loss

.. math::  L(\theta) = \frac1N \sum_{i=1}^N \ell\big(f(x_i;\theta), y_i\big) + \frac\lambda2 |\theta|^2,
           \qquad f(x;\theta) = w_2^\top \tanh(W_1 x + b_1) + b_2,

:math:`\ell(f, y) = \tfrac12 (f - y)^2` (``loss="mse"``) or
:math:`\log(1 + e^{f}) - y f` with :math:`y \in \{0, 1\}` (``loss="logistic"``).
The flat parameter vector :math:`\theta` holds, for each hidden unit in turn,
its :math:`d` input weights and its bias, then :math:`w_2`, then :math:`b_2`
(:meth:`MLPLandscape.unpack`): :math:`P = h(d + 2) + 1`.

The gradient is back-propagation written out by hand; Hessians and
Hessian-vector products are complex-step derivatives of it,
:math:`\operatorname{Im}\nabla L(\theta + i h v)/h` with :math:`h = 10^{-30}`,
exact to rounding because the network uses only analytic operations (J. R. R. A.
Martins, P. Sturdza, J. J. Alonso, "The complex-step derivative
approximation", ACM TOMS 29 (2003) 245-262). :class:`TwoLayerNetwork
<theory.hessian_models.TwoLayerNetwork>` is the same architecture without
biases, with vector outputs and closed-form Hessians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import _deprecate
from . import _models
from . import _validate as v
from ._deprecate import renamed_keywords
from .backend import get_backend
from .datasets import load_dataset
from .errors import DomainError
from .hessian_models import HVP_STEP, LossModel
from .landscapes import Landscape
from .rng import derive

__all__ = ["MLPLandscape", "TrainResult"]

_LOSSES = ("mse", "logistic")


# Above this real part exp(u) is within a factor e^9 of overflow (exp(709.78) is the largest double).
_EXP_SAFE = 700.0


def _logistic_inplace(xp, u):
    r"""1 / (1 + exp(u)), in place on the temporary ``u`` (the logistic function of ``-u``).

    exp may overflow to inf for very negative pre-activations (a unit
    saturated at -1); for real ``u`` the result is then the correct limit 0,
    so the overflow warning is silenced. For complex ``u`` (the complex step
    of :meth:`MLPLandscape.hessian`) an overflowing :math:`e^u = \infty(\cos y + i\sin y)`
    would give :math:`1/(\infty + i\infty)` = NaN, so where
    :math:`\mathrm{Re}\,u > 700` the equal, analytic form
    :math:`e^{-u}/(1 + e^{-u})` is used instead.
    """
    big = None
    if u.dtype.kind == "c":
        big = u.real > _EXP_SAFE
        tail = xp.exp(-u[big])
        tail /= 1.0 + tail
    with np.errstate(over="ignore", invalid="ignore"):
        xp.exp(u, out=u)
        u += 1.0
        xp.reciprocal(u, out=u)
    if big is not None:
        u[big] = tail
    return u


@dataclass(frozen=True)
class TrainResult:
    r"""Result of :meth:`MLPLandscape.train`.

    Attributes
    ----------
    theta : ndarray, shape (P,)
        The point reached, :math:`\theta^*`.
    loss : float
        :math:`L(\theta^*)` (full batch, weight decay included).
    grad_norm : float
        :math:`|\nabla L(\theta^*)|_2`.
    eigvals : ndarray, shape (P,)
        Eigenvalues of the exact Hessian at :math:`\theta^*`, ascending.
    is_strict_minimum : bool
        ``eigvals[0] > zero_tol * eigvals[-1]``: every direction curves up by
        more than the Hessian's rounding error. The network has no continuous
        parameter symmetry (its symmetries, permuting hidden units and
        flipping the signs of a unit's weights, are discrete), so a generic
        minimum is strict. Flat directions (zero eigenvalues, to rounding)
        appear only with degenerate units: :math:`w_{2,j} = 0`, or a unit
        saturated on every example, whose weights then grow without bound. A
        positive ``weight_decay`` lifts them. Nothing is projected out: the
        eigenvalues are reported as computed, and a point with
        ``eigvals[0] < 0`` (a saddle) is reported too, with
        ``is_strict_minimum`` false.
    zero_tol : float
        The relative tolerance used for ``is_strict_minimum``.
    n_iter : int
        L-BFGS iterations.
    newton_steps : int
        Newton steps taken after L-BFGS (only while the Hessian is positive
        definite and each step lowers the gradient norm).
    message : str
        L-BFGS's termination message.
    """

    theta: np.ndarray
    loss: float
    grad_norm: float
    eigvals: np.ndarray
    is_strict_minimum: bool
    zero_tol: float
    n_iter: int
    newton_steps: int
    message: str

    @property
    def condition_number(self) -> float:
        """eigvals[-1] / eigvals[0] (inf unless the minimum is strict)."""
        return float(self.eigvals[-1] / self.eigvals[0]) if self.is_strict_minimum else np.inf


class MLPLandscape(LossModel, Landscape):
    r"""Training loss of a one-hidden-layer tanh network with biases on a fixed data set.

    .. math::  L(\theta) = \frac1N \sum_{i=1}^N \ell\big(f(x_i;\theta), y_i\big)
               + \frac\lambda2 |\theta|^2, \qquad
               f(x;\theta) = w_2^\top\tanh(W_1 x + b_1) + b_2,

    :math:`\ell(f, y) = \tfrac12(f - y)^2` (``"mse"``) or
    :math:`\log(1 + e^f) - y f` (``"logistic"``, :math:`y\in\{0,1\}`).

    Parameters
    ----------
    x : array_like, shape (N, d)
        Inputs (used as given; see :func:`theory.datasets.load_dataset` for standardised data).
    y : array_like, shape (N,)
        Targets: real (``"mse"``) or 0/1 labels (``"logistic"``).
    n_hidden : int, default 8
        Width :math:`h` of the hidden layer.
    loss : {"mse", "logistic"}, default "mse"
        The per-example loss, kept as :attr:`loss_kind` (``loss`` is the
        method :meth:`loss`).
    weight_decay : float, default 0
        :math:`\lambda \ge 0`. It enters the loss and every gradient as
        :math:`\lambda\theta`, each row of :meth:`per_sample_gradients`
        included (so their mean is the gradient), and cancels from their
        covariance, the minibatch noise.

    Notes
    -----
    Two interfaces. As a :class:`~theory.hessian_models.LossModel`:
    ``loss(theta, batch=None)``, ``gradient(theta, batch=None)``,
    ``hvp(theta, vec, batch=None)``, ``per_sample_gradients``,
    ``fisher_diagonal``, ``hessian(theta, batch=None)``, ``initial(seed)``,
    ``with_data``, ``n_params``, ``n_data``. As a
    :class:`~theory.landscapes.Landscape` (``dim`` = ``n_params``):
    ``value``, ``gradient`` and ``hessian`` take ``theta`` of shape ``(..., P)``
    (NumPy or CuPy) and are vectorised over the leading axes, and
    :meth:`minibatch_gradient` gives one minibatch gradient per walker. The
    Hessian is the complex-step derivative of the gradient,
    :math:`H_{:j} = \operatorname{Im}\,\nabla L(\theta + i h e_j) / h`,
    :math:`h = 10^{-30}`, symmetrised, :math:`(H + H^\top)/2`: one batched
    gradient at :math:`P` complex points.

    Critical points are not enumerable for a network; :meth:`train` finds a
    minimum, and :meth:`critical_points` raises ``NotImplementedError``.
    """

    @renamed_keywords(X="x", hidden="n_hidden")
    def __init__(self, x, y, *, n_hidden: int = 8, loss: str = "mse", weight_decay: float = 0.0):
        x = v.finite(x, "x")
        y = v.finite(y, "y")
        if x.ndim != 2 or x.shape[0] < 2:
            raise DomainError(f"x must have shape (N, d) with N >= 2; got {x.shape}")
        if y.shape != (x.shape[0],):
            raise DomainError(f"y must have shape ({x.shape[0]},) to match x; got {y.shape}")
        if not isinstance(loss, str) or loss not in _LOSSES:
            raise DomainError(f"loss must be one of {list(_LOSSES)}; got {loss!r}")
        if loss == "logistic" and not np.all((y == 0) | (y == 1)):
            raise DomainError("y must hold 0/1 labels for loss='logistic'")
        self.n_hidden = v.as_int(n_hidden, "n_hidden", 1)
        self.loss_kind = loss
        self.weight_decay = float(v.nonnegative(v.scalar(weight_decay, "weight_decay"), "weight_decay",
                                                allow_inf=False))
        self.x = np.ascontiguousarray(x)
        self.y = np.ascontiguousarray(y)
        self.n_in = x.shape[1]
        h, d = self.n_hidden, self.n_in
        self.n_params = h * (d + 2) + 1
        # Inputs with a trailing 1, so that one product applies W1 and b1 together.
        self._X1 = np.ascontiguousarray(np.concatenate([x, np.ones((x.shape[0], 1))], axis=1))
        self._device_data = {}

    @property
    def dim(self) -> int:
        """:math:`P`, the Landscape name of :attr:`n_params`."""
        return self.n_params

    @classmethod
    @renamed_keywords(hidden="n_hidden")
    def from_dataset(cls, name: str = "diabetes", *, n_hidden: int = 8, weight_decay: float = 0.0) -> "MLPLandscape":
        """The network on one of :func:`~theory.datasets.load_dataset`'s data sets, with the loss that fits it."""
        x, y, loss = load_dataset(name)
        model = cls(x, y, n_hidden=n_hidden, loss=loss, weight_decay=weight_decay)
        model.dataset = name
        return model

    def with_data(self, x, y) -> "MLPLandscape":
        """The same network (width, loss, weight decay) on other data, e.g. a held-out set."""
        other = MLPLandscape(x, y, n_hidden=self.n_hidden, loss=self.loss_kind, weight_decay=self.weight_decay)
        if other.n_in != self.n_in:
            raise DomainError(f"x must have {self.n_in} features to match the model; got {other.n_in}")
        return other

    def __repr__(self) -> str:
        name = getattr(self, "dataset", None)
        data = f"{name!r}" if name else f"N={self.n_data}, d={self.n_in}"
        return (f"MLPLandscape({data}, n_hidden={self.n_hidden}, loss={self.loss_kind!r}, "
                f"weight_decay={self.weight_decay:g}, P={self.n_params})")

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_device_data"] = {}  # device copies do not travel to worker processes
        return state

    # deprecated names (the LossModel protocol's names replace them)
    X = _deprecate.renamed_attribute("X", "x")
    hidden = _deprecate.renamed_attribute("hidden", "n_hidden")
    n_samples = _deprecate.renamed_attribute("n_samples", "n_data")
    n_features = _deprecate.renamed_attribute("n_features", "n_in")
    init_params = _deprecate.renamed_method("init_params", "initial")

    # -- parameters ------------------------------------------------------

    def _layer1(self, theta):
        """(W1 | b1) as a view of shape (..., h, d + 1): row j is unit j's input weights, then its bias."""
        h, d = self.n_hidden, self.n_in
        return theta[..., :h * (d + 1)].reshape(theta.shape[:-1] + (h, d + 1))

    def unpack(self, theta):
        r"""Views ``(W1, b1, w2, b2)`` of ``theta`` (..., P), shapes (..., h, d), (..., h), (..., h), (...).

        Layout of :math:`\theta`: for each hidden unit :math:`j = 0..h-1` its
        :math:`d` input weights then its bias (:math:`h(d+1)` entries), then the
        :math:`h` output weights :math:`w_2`, then the output bias :math:`b_2`.
        """
        theta = self._checked(theta)
        h, d = self.n_hidden, self.n_in
        wb = self._layer1(theta)
        return wb[..., :d], wb[..., d], theta[..., h * (d + 1):h * (d + 2)], theta[..., -1]

    def pack(self, W1, b1, w2, b2) -> np.ndarray:
        """The flat parameter vector(s) from the four blocks (inverse of :meth:`unpack`)."""
        W1, b1, w2, b2 = (v.as_float(a, n) for a, n in ((W1, "W1"), (b1, "b1"), (w2, "w2"), (b2, "b2")))
        h, d = self.n_hidden, self.n_in
        lead = b2.shape
        for a, n, tail in ((W1, "W1", (h, d)), (b1, "b1", (h,)), (w2, "w2", (h,))):
            if a.shape != lead + tail:
                raise DomainError(f"{n} must have shape {lead + tail} (b2 has shape {lead}); got {a.shape}")
        wb = np.concatenate([W1, b1[..., None]], axis=-1).reshape(lead + (-1,))
        return np.concatenate([wb, w2, b2[..., None]], axis=-1)

    def initial(self, seed=0, scale=1.0) -> np.ndarray:
        r"""A seeded start: :math:`W_1 \sim N(0, s^2/d)`, :math:`w_2 \sim N(0, s^2/h)`, biases 0.

        :math:`s` = ``scale`` (None: 1). Drawn from ``theory.rng.derive(seed, "learned.init")``.
        """
        scale = float(v.positive(v.scalar(1.0 if scale is None else scale, "scale"), "scale"))
        gen = np.random.Generator(np.random.PCG64(derive(seed, "learned.init")))
        h, d = self.n_hidden, self.n_in
        W1 = gen.standard_normal((h, d)) * (scale / np.sqrt(d))
        w2 = gen.standard_normal(h) * (scale / np.sqrt(h))
        return self.pack(W1, np.zeros(h), w2, np.float64(0.0))

    # -- forward and backward ---------------------------------------------

    def _data(self, xp):
        """(inputs with a column of ones, targets) in the namespace ``xp``."""
        if xp is np:
            return self._X1, self.y
        key = xp.__name__
        if key not in self._device_data:
            self._device_data[key] = (xp.asarray(self._X1), xp.asarray(self.y))
        return self._device_data[key]

    def _rows_of(self, xp, idx):
        """(inputs with ones, targets) of the examples ``idx`` (None: all) in namespace ``xp``."""
        X, y = self._data(xp)
        return (X, y) if idx is None else (X[idx], y[idx])

    def _forward(self, theta, X1):
        r"""Gates :math:`s = \sigma(2z) = (1 + \tanh z)/2`, shape (..., n, h), and outputs (..., n).

        ``X1``: inputs with a trailing 1, shape (n, d+1) or (..., n, d+1). With
        :math:`\tanh z = 2s - 1`, :math:`f = 2 w_2^\top s + b_2 - \sum_j w_{2j}`: one
        exponential per unit and example, and the factor -2 folded into the
        (small) weight matrix.
        """
        xp = get_backend(None, theta).xp
        h, d = self.n_hidden, self.n_in
        gate = _logistic_inplace(xp, X1 @ xp.swapaxes(-2.0 * self._layer1(theta), -1, -2))
        w2 = theta[..., h * (d + 1):h * (d + 2)]
        out = (gate @ (2.0 * w2)[..., :, None])[..., 0]
        out += (theta[..., -1] - w2.sum(axis=-1))[..., None]
        return gate, out

    def _dloss(self, out, y):
        """d ell / d f per example (analytic, so it also serves the complex step)."""
        if self.loss_kind == "mse":
            return out - y
        xp = get_backend(None, out).xp
        return 0.5 * (1.0 + xp.tanh(0.5 * out)) - y  # the logistic sigmoid, overflow-free

    def _sample_losses(self, out, y):
        if self.loss_kind == "mse":
            r = out - y
            return 0.5 * r * r
        xp = get_backend(None, out).xp
        return xp.logaddexp(0.0, out) - y * out

    def _mean_gradient(self, theta, X1, y, out):
        """out <- (1/n) sum_i grad ell_i (+ weight decay) over the examples (X1, y)."""
        xp = get_backend(None, theta).xp
        gate, f = self._forward(theta, X1)
        e = self._dloss(f, y)
        e *= 1.0 / X1.shape[-2]  # (..., n)
        h, d = self.n_hidden, self.n_in
        k = h * (d + 1)
        w2 = theta[..., k:k + h]
        esum = e.sum(axis=-1)
        # d f / d w2_j = tanh z_j = 2 s_j - 1
        out[..., k:k + h] = 2.0 * (e[..., None, :] @ gate)[..., 0, :] - esum[..., None]
        out[..., -1] = esum
        # d f / d z_j = w2_j (1 - tanh^2 z_j) = 4 w2_j s_j (1 - s_j)
        delta = gate * gate
        xp.subtract(gate, delta, out=delta)
        delta *= (4.0 * w2)[..., None, :]
        delta *= e[..., :, None]
        g1 = xp.swapaxes(delta, -1, -2) @ X1  # (..., h, d+1): input weights and biases together
        out[..., :k] = g1.reshape(g1.shape[:-2] + (k,))
        if self.weight_decay:
            out += self.weight_decay * theta
        return out

    def _example_gradients(self, theta, idx):
        """Rows grad ell_i(theta) of the data term alone (no weight decay), shape (n, P), at one point."""
        xp = get_backend(None, theta).xp
        X, y = self._rows_of(xp, idx)
        gate, f = self._forward(theta, X)  # (n, h), (n,)
        e = self._dloss(f, y)
        h, d = self.n_hidden, self.n_in
        n, k = X.shape[0], h * (d + 1)
        g = xp.empty((n, self.n_params), dtype=xp.result_type(theta, np.float64))
        g[:, k:k + h] = e[:, None] * (2.0 * gate - 1.0)
        g[:, -1] = e
        delta = e[:, None] * (4.0 * gate * (1.0 - gate)) * theta[k:k + h]
        g[:, :k] = (delta[:, :, None] * X[:, None, :]).reshape(n, k)
        return g

    # -- LossModel kernels (idx: validated example indices or None) --------

    def _loss(self, theta, idx):
        xp = get_backend(None, theta).xp
        X, y = self._rows_of(xp, idx)
        _, f = self._forward(theta, X)
        loss = self._sample_losses(f, y).mean(axis=-1)
        if self.weight_decay:
            loss = loss + 0.5 * self.weight_decay * (theta * theta).sum(axis=-1)
        return loss

    def _grad(self, theta, idx):
        xp = get_backend(None, theta).xp
        X, y = self._rows_of(xp, idx)
        out = xp.empty(theta.shape, dtype=xp.result_type(theta, np.float64))
        return self._mean_gradient(theta, X, y, out)

    def _per_sample(self, theta, idx):
        g = self._example_gradients(theta, idx)
        if self.weight_decay:
            g += self.weight_decay * theta
        return g

    def _hessian(self, theta, idx):
        xp = get_backend(None, theta).xp
        theta = xp.asarray(theta, dtype=np.float64)
        eye = xp.eye(self.n_params) * (1j * HVP_STEP)
        g = self._grad(theta[..., None, :] + eye, idx)  # row j: grad L(theta + i h e_j)
        hess = g.imag * (1.0 / HVP_STEP)
        return 0.5 * (hess + xp.swapaxes(hess, -1, -2))

    # -- public: LossModel and Landscape ----------------------------------

    def value(self, x):
        r"""Full-batch training loss :math:`L(\theta)` for ``x`` of shape (..., P); returns shape (...).

        ``x`` must end in an axis of length :math:`P` (DomainError naming ``x``
        otherwise); one NumPy point, shape (P,), is validated as by every
        LossModel (finite, real).
        """
        return self._loss(self._checked(x, "x"), None)

    def gradient(self, theta, batch=None, out=None):
        r"""Gradient :math:`\nabla L_B`, shape (..., P), for ``theta`` of shape (..., P).

        ``batch`` (example indices, shared by every point) gives the minibatch
        gradient, weight decay included; None the full batch. Written into
        ``out`` when given. One NumPy point, shape (P,), is validated as by
        every LossModel (finite, real, of length P).
        """
        theta = self._checked(theta)
        xp = get_backend(None, theta).xp
        if out is None:
            out = xp.empty(theta.shape, dtype=xp.result_type(theta, np.float64))
        X, y = self._rows_of(xp, None if batch is None else self._batch(batch))
        return self._mean_gradient(theta, X, y, out)

    def hessian(self, theta, batch=None):
        """Exact Hessian of the (minibatch) loss by the complex step of the gradient, shape (..., P, P)."""
        return self._hessian(self._checked(theta), None if batch is None else self._batch(batch))

    def _checked(self, theta, name="theta"):
        """A single NumPy point validated as by the LossModel methods; stacks and device arrays shape-checked.

        A stack (..., P) of walkers keeps its non-finite entries (a diverged
        walker's loss is inf), but its last axis must have length P.
        """
        if isinstance(theta, (np.ndarray, list, tuple)) and np.ndim(theta) == 1:
            return _models.as_theta(self, theta, name)
        if isinstance(theta, (list, tuple)) or np.ndim(theta) == 0:
            theta = np.asarray(theta)
        if theta.dtype.kind not in "fciu":
            raise TypeError(f"{name} must be an array of real numbers; got dtype {theta.dtype}")
        if theta.ndim == 0 or theta.shape[-1] != self.n_params:
            raise DomainError(f"{name} must have shape ({self.n_params},) or (..., {self.n_params}); "
                              f"got {tuple(theta.shape)}")
        return theta

    def critical_points(self):
        raise NotImplementedError("the critical points of a trained network cannot be enumerated; "
                                  "use MLPLandscape.train() to find a minimum")

    def minibatch_gradient(self, theta, idx, out=None):
        r"""Minibatch gradients for many walkers at once.

        .. math::  \hat g_w = \frac1B \sum_{b=1}^B \nabla\ell_{i_{w,b}}(\theta_w) + \lambda\theta_w

        Parameters
        ----------
        theta : ndarray, shape (W, P) (or any (..., P))
            One parameter vector per walker.
        idx : ndarray of int, shape (W, B) (matching leading axes, (..., B))
            Each walker's example indices (repeats count as often as they occur).
        out : ndarray, shape (W, P), optional

        Returns
        -------
        ndarray, shape (W, P)
            Computed with batched matrix products, no loop over walkers.
        """
        theta = self._checked(theta)
        xp = get_backend(None, theta).xp
        X, y = self._data(xp)
        if not hasattr(idx, "dtype") or isinstance(idx, np.ndarray):
            idx = np.asarray(idx)
            if idx.dtype == bool or idx.dtype.kind not in "iu":
                raise TypeError(f"idx must be an array of integer example indices; got dtype {idx.dtype}")
            v.require(idx, (idx >= 0) & (idx < self.n_data), "idx", f"indices in [0, {self.n_data})")
        if idx.ndim != theta.ndim or idx.shape[:-1] != theta.shape[:-1]:
            raise DomainError(f"idx must have shape {tuple(theta.shape[:-1])} + (B,) to match theta's leading axes; "
                              f"got {tuple(idx.shape)}")
        if out is None:
            out = xp.empty(theta.shape, dtype=xp.result_type(theta, np.float64))
        return self._mean_gradient(theta, X[idx], y[idx], out)

    def gradient_covariance(self, theta, batch=None) -> np.ndarray:
        r""":math:`C = \frac1n\sum_i (g_i - \bar g)(g_i - \bar g)^\top` over the (batch's) examples, shape (P, P).

        Computed from the data term's gradients: the weight decay, the same in
        every row, cancels.
        """
        g = self._example_gradients(self._theta(theta), self._batch(batch))
        g = g - g.mean(axis=0)
        return (g.T @ g) * (1.0 / g.shape[0])

    def sample_gradients(self, theta, idx=None):
        """Deprecated: per-example gradients without the weight decay; use :meth:`per_sample_gradients`."""
        _deprecate.warn_renamed("MLPLandscape.sample_gradients()",
                              "MLPLandscape.per_sample_gradients() (which includes the weight decay in each row)")
        return self._example_gradients(self._theta(theta), self._batch(idx))

    # -- training -------------------------------------------------------------

    def train(self, seed=0, *, init_scale: float = 1.0, maxiter: int = 20_000, gtol: float = 1e-10,
              newton_steps: int = 8, zero_tol: float = 1e-10, theta0=None) -> TrainResult:
        r"""A minimum of the full-batch loss from a seeded random start.

        L-BFGS (``scipy.optimize.minimize``, exact gradient) runs until the
        largest gradient component falls below ``gtol`` or progress stops;
        then, while the exact Hessian is positive definite, Newton steps
        :math:`\theta \leftarrow \theta - H^{-1}\nabla L` polish the point to
        rounding level (a step is kept only if it lowers the gradient norm).

        Parameters
        ----------
        seed : int, SeedSequence or None
            Seeds :meth:`initial` (ignored when ``theta0`` is given).
        init_scale : float
            The ``scale`` of :meth:`initial`.
        maxiter : int
            L-BFGS iteration limit.
        gtol : float
        newton_steps : int
            At most this many Newton steps.
        zero_tol : float
            Eigenvalues at or below ``zero_tol * max eigenvalue`` count as flat
            (see :attr:`TrainResult.is_strict_minimum`).
        theta0 : array_like, shape (P,), optional
            Starting point instead of a random one.

        Returns
        -------
        TrainResult
        """
        from scipy import optimize

        maxiter = v.as_int(maxiter, "maxiter", 1)
        newton_steps = v.as_int(newton_steps, "newton_steps", 0)
        gtol = float(v.positive(v.scalar(gtol, "gtol"), "gtol"))
        zero_tol = float(v.positive(v.scalar(zero_tol, "zero_tol"), "zero_tol"))
        if theta0 is None:
            theta = self.initial(seed, None if init_scale is None else v.scalar(init_scale, "init_scale"))
        else:
            theta = np.array(v.finite(theta0, "theta0"), dtype=np.float64)
            if theta.shape != (self.n_params,):
                raise DomainError(f"theta0 must have shape ({self.n_params},); got {theta.shape}")

        def fun(t):
            return float(self.value(t)), self.gradient(t)

        res = optimize.minimize(fun, theta, jac=True, method="L-BFGS-B",
                                options={"maxiter": maxiter, "maxfun": 2 * maxiter, "gtol": gtol,
                                         "ftol": 1e-16, "maxcor": 30})
        theta = res.x
        grad = self.gradient(theta)
        taken = 0
        for _ in range(newton_steps):
            hess = _models.finite_result(self, self.hessian(theta), "hessian", theta)
            w = np.linalg.eigvalsh(hess)
            if not w[0] > zero_tol * w[-1]:
                break
            trial = theta - np.linalg.solve(hess, grad)
            g_trial = self.gradient(trial)
            if not np.linalg.norm(g_trial) < np.linalg.norm(grad):
                break
            theta, grad = trial, g_trial
            taken += 1
        eig = np.linalg.eigvalsh(_models.finite_result(self, self.hessian(theta), "hessian", theta))
        return TrainResult(theta=theta, loss=float(self.value(theta)), grad_norm=float(np.linalg.norm(grad)),
                           eigvals=eig, is_strict_minimum=bool(eig[0] > zero_tol * eig[-1]), zero_tol=zero_tol,
                           n_iter=int(res.nit), newton_steps=taken, message=str(res.message))
