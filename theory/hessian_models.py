r"""Exact gradients, Hessian-vector products and Hessians of small models' training losses (no autodiff).

A model is anything with a training loss
:math:`L(\theta) = \frac1N\sum_{i=1}^N \ell_i(\theta)` of a flat parameter
vector :math:`\theta \in \mathbb R^P` on a fixed data set of :math:`N`
examples. The protocol has a minimal part, which every consumer
(:func:`theory.simulators.training.train`, the gradient-noise and escape
simulators, :func:`trained_spectrum`) needs, and an optional part, which
consumers use when present and otherwise compute from the minimal part or
refuse with a TypeError naming the missing method (:class:`LossModel`).
``batch`` is an array of example indices (repeats allowed): the minibatch
loss and gradient are the means over those examples,
:math:`L_B = \frac1{|B|}\sum_{i\in B}\ell_i`; ``None`` means the full data set.

- Minimal (:class:`MinimalLossModel`): ``loss(theta, batch=None)``,
  ``gradient(theta, batch=None)``, ``hvp(theta, vec, batch=None)`` (the exact
  :math:`\nabla^2 L_B(\theta)\,v`), ``n_params`` (:math:`P`), ``n_data`` (:math:`N`).
- Optional: ``per_sample_gradients(theta, batch=None)`` (rows :math:`g_i = \nabla\ell_i`),
  ``fisher_diagonal(theta)`` (:math:`\frac1N\sum_i g_i^2`), ``hessian(theta, batch=None)``
  (dense, :math:`P\times P`), ``initial(seed)`` (a seeded start), ``with_data(x, y)``
  (the same architecture on other data).

:class:`LossModel` is a base class that provides the whole protocol from a few
private kernels, plus ``fisher``, ``gradient_covariance``, ``hvp_operator`` and
``loss_on``.

Models
------
- :class:`LinearLeastSquares`: :math:`L = \frac1{2N}\sum_i (x_i^\top\theta - y_i)^2`,
  :math:`\nabla L = X^\top r/N`, :math:`H = X^\top X/N` (a Wishart matrix when
  the rows are Gaussian: the Marchenko-Pastur bulk of :mod:`theory.marchenko_pastur`).
- :class:`LogisticRegression` (:math:`y_i \in \{0, 1\}`, optional ridge
  :math:`\frac\lambda2|\theta|^2`): :math:`\nabla L = X^\top(p - y)/N + \lambda\theta`,
  :math:`H = X^\top \mathrm{diag}(p(1-p)) X/N + \lambda I`, :math:`p = \sigma(X\theta)`.
- :class:`TwoLayerNetwork`: :math:`f(x) = A\tanh(Wx)`, squared loss (Hessian below).
- :class:`ScalarProduct`: :math:`L(u, v) = \frac1{2N}\sum_i (uvx_i - y_i)^2`, the
  two-parameter "scalar network" in which gradient descent shows the edge of
  stability; the top Hessian eigenvalue on the minimum manifold is
  :math:`\overline{x^2}(u^2 + v^2)`.
- :class:`SoftmaxAttention`: one softmax attention head
  :math:`\hat Y = \mathrm{softmax}(XW_qW_k^\top X^\top/\sqrt{d_k})\,XW_v` on
  sequences, squared loss.
- :class:`theory.networks.MLPLandscape` (in its own module): a tanh network with
  biases on a real data set, also a landscape for the escape simulators.

Data: :func:`gaussian_mixture` (class-structured inputs, one-hot targets),
:func:`synthetic_regression` (a random tanh teacher plus noise),
:func:`synthetic_attention_task` (a random attention teacher plus noise),
:func:`train_test_split`.

Exact Hessian-vector products by the complex step
-------------------------------------------------
Where no closed form is written out, ``hvp`` differentiates the hand-derived
gradient along :math:`v` with a complex step (Squire & Trapp 1998, "Using
complex variables to estimate derivatives of real functions", SIAM Review 40,
110):

.. math::
    \nabla^2 L(\theta)\,v = \frac{\mathrm{Im}\,\nabla L(\theta + \mathrm i h v)}{h} + O(h^2 |v|^3),
    \qquad h = 10^{-30}.

The gradient code is complex-analytic in :math:`\theta` (matmul, ``tanh``,
``exp``, division; no ``abs``, conjugation or real-only branches: the softmax
shift uses the max of the *real* part, a constant the softmax is invariant
to), so there is no subtractive cancellation: the :math:`O(h^2)` term is
:math:`10^{-60}` relative and the result is exact to rounding, i.e. as
accurate as the closed-form Hessian times :math:`v`. ``v`` is first divided by
its largest entry (and the result multiplied back), so ``h v`` neither
underflows nor overflows. One HVP costs one complex gradient evaluation
(about 2-4 real ones). Where no closed-form Hessian exists (``SoftmaxAttention``)
the dense Hessian is assembled from :math:`P` such products, column by column,
then symmetrised (the asymmetry before that is rounding, about
:math:`10^{-16}` relative).

Network Hessian
---------------
:class:`TwoLayerNetwork` has :math:`k` outputs and :math:`h` hidden units,
:math:`L = \frac1{2N}\sum_i |f(x_i) - y_i|^2`, parameters
:math:`\theta = (\mathrm{vec}\,A, \mathrm{vec}\,W)`, both row-major
(:math:`A` is :math:`k\times h`, :math:`W` is :math:`h\times d`). With
:math:`z_i = Wx_i`, :math:`s_i = \tanh z_i`, :math:`s'_i = 1 - s_i^2`,
:math:`s''_i = -2 s_i s'_i`, residual :math:`r_i = A s_i - y_i`, and the
per-sample Jacobian :math:`J_i = \partial f(x_i)/\partial\theta` (:math:`k\times P`):

.. math::
    \partial f_{ia}/\partial A_{cb} = \delta_{ac} s_{ib}, \qquad
    \partial f_{ia}/\partial W_{jl} = A_{aj} s'_{ij} x_{il},

:math:`H = G + R`, the Gauss-Newton part :math:`G = \frac1N\sum_i J_i^\top J_i`
and the residual part :math:`R = \frac1N\sum_{i,a} r_{ia}\nabla^2 f_{ia}` with
the only nonzero second derivatives

.. math::
    \frac{\partial^2 f_{ia}}{\partial A_{cb}\,\partial W_{jl}} = \delta_{ac}\delta_{bj} s'_{ij} x_{il},\qquad
    \frac{\partial^2 f_{ia}}{\partial W_{jl}\,\partial W_{mn}} = \delta_{jm} A_{aj} s''_{ij} x_{il} x_{in}.

At a minimum with small residuals :math:`H \approx G`; for inputs with a few
strong directions or class structure :math:`G` shows a bulk plus a few
outliers (Sagun et al. 2017, "Empirical analysis of the Hessian of
over-parametrized neural networks"; Papyan 2019, "Measurements of three-level
hierarchical structure in the outliers in the spectrum of deepnet Hessians").
:func:`trained_spectrum` trains such a model (L-BFGS from a seeded start) and
returns its Hessian eigenvalues; :func:`gaussian_mixture` makes the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
from scipy import optimize, special

from . import _models
from . import _validate as v
from .backend import single_threaded_blas
from .errors import DomainError
from .rng import derive, seed_sequence

__all__ = ["MinimalLossModel", "LossModel", "LinearLeastSquares", "LogisticRegression", "TwoLayerNetwork",
           "ScalarProduct", "SoftmaxAttention", "gaussian_mixture", "synthetic_regression",
           "synthetic_attention_task", "teacher_network", "train_test_split", "TrainedSpectrum", "trained_spectrum",
           "HVP_STEP", "from_jax"]

#: The complex step :math:`h` of :meth:`LossModel.hvp`.
HVP_STEP = 1e-30
_TINY = float(np.finfo(np.float64).tiny)
_HUGE = float(np.finfo(np.float64).max)


def _data(x, y, *, y_ndim):
    x = v.finite(x, "x")
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise DomainError(f"x must have shape (N, d) with N, d >= 1; got {x.shape}")
    y = v.finite(y, "y")
    if y_ndim == 1 and y.shape != (x.shape[0],):
        raise DomainError(f"y must have shape ({x.shape[0]},) to match x; got {y.shape}")
    if y_ndim == 2:
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise DomainError(f"y must have shape ({x.shape[0]}, k) or ({x.shape[0]},) to match x; got {y.shape}")
    return x, y


def _scale(x, name: str) -> float:
    """A finite, nonnegative scalar standard deviation (TypeError for arrays and bools, DomainError otherwise)."""
    return float(v.nonnegative(v.scalar(x, name), name, allow_inf=False))


def _generator(seed, *path) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(derive(seed, *path)))


@runtime_checkable
class MinimalLossModel(Protocol):
    r"""The minimal part of the model protocol: what every consumer of a model needs.

    Any object with these members is a model (no base class needed):

    - ``n_params`` (int): :math:`P`, the length of :math:`\theta`;
    - ``n_data`` (int): :math:`N`, the number of training examples;
    - ``loss(theta, batch=None) -> float``: :math:`L_B(\theta)`;
    - ``gradient(theta, batch=None) -> ndarray (P,)``: :math:`\nabla L_B(\theta)`;
    - ``hvp(theta, vec, batch=None) -> ndarray (P,)``: :math:`\nabla^2 L_B(\theta)\,v`.

    ``isinstance(obj, MinimalLossModel)`` checks that the members exist (not
    their signatures). The optional part is listed in :class:`LossModel`.
    """

    n_params: int
    n_data: int

    def loss(self, theta, batch=None) -> float: ...

    def gradient(self, theta, batch=None) -> np.ndarray: ...

    def hvp(self, theta, vec, batch=None) -> np.ndarray: ...


class LossModel:
    r"""Base class of the models: a training loss :math:`L(\theta) = \frac1N\sum_i \ell_i(\theta)` (+ ridge).

    The model protocol. **Minimal part** (:class:`MinimalLossModel`; every
    consumer needs only this):

    ``n_params``, ``n_data``
        :math:`P` and :math:`N`.
    ``loss(theta, batch=None)``
        :math:`L_B(\theta) = \frac1{|B|}\sum_{i\in B}\ell_i(\theta)`, a float;
        ``batch`` holds example indices in ``[0, N)`` (repeats count with
        multiplicity), None the full data set.
    ``gradient(theta, batch=None)``
        :math:`\nabla L_B(\theta)`, shape (P,).
    ``hvp(theta, vec, batch=None)``
        :math:`\nabla^2 L_B(\theta)\,v`, shape (P,), exact.

    **Optional part** (used when present; otherwise computed from the minimal
    part, skipped, or refused with a TypeError naming the method, as each
    consumer documents):

    ``per_sample_gradients(theta, batch=None)``
        Rows :math:`g_i = \nabla\ell_i(\theta)`, shape (N, P), whose mean is
        ``gradient``. Needed by the gradient-noise simulators and the exact
        minibatch noise covariance; the source of the diagonal Fisher when
        ``fisher_diagonal`` is absent.
    ``fisher_diagonal(theta, batch=None)``
        :math:`\frac1N\sum_i g_i^2` (elementwise), shape (P,); G-TRACER's
        metric and the :math:`G` of the tracked :math:`\mathrm{Tr}(G^{-1}H)`.
        Without it (and without ``per_sample_gradients``) :func:`train` skips
        ``trace_ratio`` with a warning and refuses :class:`GTracer`.
    ``hessian(theta, batch=None)``
        The dense :math:`P\times P` Hessian; without it, consumers assemble it
        from the :math:`P` products ``hvp(theta, e_j)``.
    ``initial(seed)``
        A seeded start; :func:`train` starts from zeros without it,
        :func:`trained_spectrum` needs it or ``theta0``.
    ``with_data(x, y)``
        The same architecture on other data (a held-out loss); needed for
        ``test_data``.
    ``value_and_gradient(theta)``
        The full-batch loss and gradient from one pass; :func:`train` then
        spends one pass per full-batch step rather than two.

    This base class provides the whole protocol, and ``fisher``,
    ``gradient_covariance``, ``hvp_operator``, ``loss_on``, from private,
    complex-safe kernels that subclasses implement: ``_loss``, ``_per_sample``
    (and optionally ``_grad``, ``_hvp``, ``_hessian``) on an index array
    ``idx`` (or None for every example); the public methods validate their
    arguments and call them.

    Attributes
    ----------
    n_params : int
        :math:`P`, the length of :math:`\theta`.
    n_data : int
        :math:`N`, the number of training examples.
    """

    x: np.ndarray
    y: np.ndarray
    n_params: int

    # ---------------------------------------------------------------- validation

    @property
    def n_data(self) -> int:
        return self.x.shape[0]

    def _theta(self, theta) -> np.ndarray:
        return _models.as_theta(self, theta)

    def _vec(self, vec) -> np.ndarray:
        vec = v.finite(vec, "vec")
        if vec.shape != (self.n_params,):
            raise DomainError(f"vec must have shape ({self.n_params},); got {vec.shape}")
        return vec

    def _batch(self, batch):
        """None, or a 1-D int64 array of indices in [0, N) (a scalar index is a batch of one)."""
        return _models.as_batch(batch, self.n_data)

    def _rows(self, idx):
        if idx is None:
            return self.x, self.y
        return self.x[idx], self.y[idx]

    # ---------------------------------------------------------------- kernels (complex-safe where noted)

    def _loss(self, theta, idx):
        raise NotImplementedError

    def _per_sample(self, theta, idx):
        raise NotImplementedError

    def _grad(self, theta, idx):
        """Mean gradient over ``idx``; must accept complex ``theta`` unless ``_hvp`` is overridden."""
        return self._per_sample(theta, idx).mean(axis=0)

    def _hvp(self, theta, vec, idx):
        """Complex-step HVP of ``_grad`` (exact to rounding; see the module docstring)."""
        scale = np.max(np.abs(vec))
        if scale == 0:
            return np.zeros(self.n_params)
        step = HVP_STEP / scale
        if step >= _TINY and scale / HVP_STEP < _HUGE:
            g = self._grad(theta + (1j * step) * vec, idx)
            return np.imag(g) * (scale / HVP_STEP)
        # |vec| beyond about 1e278: h/|vec| would underflow and |vec|/h overflow. Linearity in vec,
        # H v = |v| H (v/|v|), with the unit direction stepped by h itself.
        g = self._grad(theta + (1j * HVP_STEP) * (vec / scale), idx)
        with np.errstate(over="ignore"):
            return (np.imag(g) / HVP_STEP) * scale

    def _hessian(self, theta, idx):
        """Dense Hessian from P HVPs on the unit vectors, symmetrised."""
        eye = np.eye(self.n_params)
        h = np.stack([self._hvp(theta, e, idx) for e in eye], axis=1)
        return 0.5 * (h + h.T)

    # ---------------------------------------------------------------- public interface

    def loss(self, theta, batch=None) -> float:
        r"""Mean loss :math:`L_B(\theta) = \frac1{|B|}\sum_{i\in B}\ell_i(\theta)` (full data when ``batch`` is None).

        Parameters
        ----------
        theta : array_like, shape (P,)
        batch : array_like of int, optional
            Example indices in ``[0, N)``; repeats count with multiplicity.
        """
        return float(np.real(self._loss(self._theta(theta), self._batch(batch))))

    def per_sample_gradients(self, theta, batch=None) -> np.ndarray:
        r"""Rows :math:`\nabla\ell_i(\theta)` (ridge term included in each), shape (N, P), or (len(batch), P) for a batch."""
        return self._per_sample(self._theta(theta), self._batch(batch))

    def gradient(self, theta, batch=None) -> np.ndarray:
        r"""Minibatch gradient :math:`\nabla L_B = \frac1{|B|}\sum_{i\in B}\nabla\ell_i`, shape (P,); full batch
        when ``batch`` is None."""
        return self._grad(self._theta(theta), self._batch(batch))

    def hvp(self, theta, vec, batch=None) -> np.ndarray:
        r"""Exact Hessian-vector product :math:`\nabla^2 L_B(\theta)\,v`, shape (P,), without the dense Hessian.

        Closed form for the linear models; otherwise the complex step
        :math:`\mathrm{Im}\,\nabla L(\theta + \mathrm i h v)/h`, :math:`h = 10^{-30}`
        (exact to rounding; module docstring).

        Parameters
        ----------
        theta, vec : array_like, shape (P,)
        batch : array_like of int, optional
            The Hessian of the minibatch loss over these examples (default: all).
        """
        return self._hvp(self._theta(theta), self._vec(vec), self._batch(batch))

    def hvp_operator(self, theta, batch=None):
        r"""``vec -> hvp(theta, vec)`` with ``theta`` and ``batch`` validated once, for Lanczos.

        Use as ``theory.sharpness.top_eigenvalue(model.hvp_operator(theta), n=model.n_params)``.
        """
        theta, idx = self._theta(theta), self._batch(batch)
        return lambda vec: self._hvp(theta, self._vec(vec), idx)

    def hessian(self, theta, batch=None) -> np.ndarray:
        """Exact dense Hessian of the (minibatch) loss, shape (P, P)."""
        return self._hessian(self._theta(theta), self._batch(batch))

    def fisher(self, theta, batch=None) -> np.ndarray:
        r"""Empirical Fisher :math:`F = \frac1{|B|}\sum_{i\in B} g_i g_i^\top`, :math:`g_i = \nabla\ell_i(\theta)`.

        Shape (P, P); uncentred (it includes :math:`gg^\top`); :meth:`gradient_covariance` is
        the centred version. For a squared loss at a zero-residual minimum it
        vanishes, unlike the Hessian.
        """
        g = self.per_sample_gradients(theta, batch)
        return g.T @ g / g.shape[0]

    def fisher_diagonal(self, theta, batch=None) -> np.ndarray:
        r"""Diagonal of the empirical Fisher, :math:`\frac1{|B|}\sum_{i\in B} g_i^2` (elementwise), shape (P,)."""
        g = self.per_sample_gradients(theta, batch)
        return np.mean(g * g, axis=0)

    def gradient_covariance(self, theta, batch=None) -> np.ndarray:
        r"""Covariance of one uniformly drawn example's gradient over the data set:
        :math:`C = \frac1N\sum_i (g_i - g)(g_i - g)^\top` (divisor N: the data set is the population)."""
        g = self.per_sample_gradients(theta, batch)
        d = g - g.mean(axis=0)
        return d.T @ d / g.shape[0]

    def initial(self, seed=0, scale=None) -> np.ndarray:
        r"""A seeded start :math:`\theta_0 \sim N(0, s^2 I_P)`, :math:`s` = ``scale`` (default :math:`1/\sqrt P`).

        The same ``seed`` gives the same vector in every process
        (:func:`theory.rng.derive`); ``None`` draws fresh entropy.
        """
        s = 1 / np.sqrt(self.n_params) if scale is None else _scale(scale, "scale")
        return s * _generator(seed, "hessian_models.init", type(self).__name__).standard_normal(self.n_params)

    def with_data(self, x, y) -> "LossModel":
        """The same model (architecture and hyperparameters) on other data, e.g. a held-out set."""
        raise NotImplementedError

    def loss_on(self, theta, x, y) -> float:
        """Loss of ``theta`` on other data (a test loss): ``with_data(x, y).loss(theta)``."""
        return self.with_data(x, y).loss(theta)


class LinearLeastSquares(LossModel):
    r""":math:`L(\theta) = \frac1{2N}\sum_i (x_i^\top\theta - y_i)^2`; :math:`H = X^\top X/N` (any :math:`\theta`).

    Parameters
    ----------
    x : array_like, shape (N, d)
    y : array_like, shape (N,)
    """

    def __init__(self, x, y):
        self.x, self.y = _data(x, y, y_ndim=1)
        self.n_params = self.x.shape[1]

    def with_data(self, x, y) -> "LinearLeastSquares":
        return LinearLeastSquares(x, y)

    def residuals(self, theta, batch=None) -> np.ndarray:
        r""":math:`r_i = x_i^\top\theta - y_i`."""
        x, y = self._rows(self._batch(batch))
        return x @ self._theta(theta) - y

    def _loss(self, theta, idx):
        x, y = self._rows(idx)
        r = x @ theta - y
        return 0.5 * np.mean(r * r)

    def _per_sample(self, theta, idx):
        x, y = self._rows(idx)
        return (x @ theta - y)[:, None] * x

    def _grad(self, theta, idx):
        x, y = self._rows(idx)
        return x.T @ (x @ theta - y) / x.shape[0]

    def _hvp(self, theta, vec, idx):
        x = self._rows(idx)[0]
        return x.T @ (x @ vec) / x.shape[0]

    def _hessian(self, theta, idx):
        x = self._rows(idx)[0]
        return x.T @ x / x.shape[0]

    def hessian(self, theta=None, batch=None) -> np.ndarray:
        r""":math:`X_B^\top X_B/|B|` (independent of ``theta``, which may be omitted)."""
        return self._hessian(None, self._batch(batch))

    def minimum(self) -> np.ndarray:
        """The least-squares solution (minimum-norm when X is rank deficient)."""
        return np.linalg.lstsq(self.x, self.y, rcond=None)[0]


class LogisticRegression(LossModel):
    r"""Mean cross-entropy of :math:`p_i = \sigma(x_i^\top\theta)` against :math:`y_i \in \{0, 1\}`, plus
    :math:`\frac\lambda2|\theta|^2`.

    :math:`H = X^\top\mathrm{diag}(p(1-p))X/N + \lambda I`. Without the ridge the
    Hessian equals the model's Fisher information at every :math:`\theta`
    (canonical link), so at the true parameter the per-sample gradient
    covariance :math:`E[(p - y)^2 xx^\top] = E[p(1-p)xx^\top]` is the
    population Hessian.
    """

    def __init__(self, x, y, l2=0.0):
        self.x, self.y = _data(x, y, y_ndim=1)
        if not np.all((self.y == 0) | (self.y == 1)):
            raise DomainError("y must hold labels 0 or 1")
        self.l2 = float(v.nonnegative(l2, "l2", allow_inf=False))
        self.n_params = self.x.shape[1]

    def with_data(self, x, y) -> "LogisticRegression":
        return LogisticRegression(x, y, l2=self.l2)

    def probabilities(self, theta, batch=None) -> np.ndarray:
        r""":math:`p_i = \sigma(x_i^\top\theta)`."""
        x = self._rows(self._batch(batch))[0]
        return special.expit(x @ self._theta(theta))

    def _loss(self, theta, idx):
        x, y = self._rows(idx)
        z = x @ theta
        # log(1 + e^z) - y z, stably
        return np.mean(np.logaddexp(0.0, z) - y * z) + 0.5 * self.l2 * theta @ theta

    def _per_sample(self, theta, idx):
        x, y = self._rows(idx)
        return (special.expit(x @ theta) - y)[:, None] * x + self.l2 * theta

    def _grad(self, theta, idx):
        x, y = self._rows(idx)
        return x.T @ (special.expit(x @ theta) - y) / x.shape[0] + self.l2 * theta

    def _hvp(self, theta, vec, idx):
        x = self._rows(idx)[0]
        p = special.expit(x @ theta)
        return x.T @ (p * (1 - p) * (x @ vec)) / x.shape[0] + self.l2 * vec

    def _hessian(self, theta, idx):
        x = self._rows(idx)[0]
        p = special.expit(x @ theta)
        h = (x * (p * (1 - p))[:, None]).T @ x / x.shape[0]
        h[np.diag_indices_from(h)] += self.l2
        return h

    def separating_direction(self):
        r"""A direction :math:`d \ne 0` with :math:`s_i x_i^\top d \ge 0` for every example, or None.

        :math:`s_i = 2y_i - 1`. Such a :math:`d` exists exactly when the data are
        separable or quasi-completely separable; then without a ridge the loss
        decreases along :math:`d` for ever and has no minimiser (A. Albert and
        J. A. Anderson, "On the existence of maximum likelihood estimates in
        logistic regression models", Biometrika 71 (1984) 1-10). Found by the
        linear program :math:`\max_d \sum_i s_i x_i^\top d` subject to
        :math:`s_i x_i^\top d \ge 0`, :math:`|d_j| \le 1`: the optimum is 0
        exactly when no such direction exists.
        """
        from scipy.optimize import linprog
        a = (2.0 * self.y - 1.0)[:, None] * self.x  # rows s_i x_i
        scale = np.max(np.abs(a), axis=0)
        scale[scale == 0] = 1.0
        a = a / scale  # columns of unit size, so the tolerance below is relative
        res = linprog(-a.sum(axis=0), A_ub=-a, b_ub=np.zeros(a.shape[0]), bounds=(-1.0, 1.0), method="highs")
        if res.status != 0 or -res.fun <= 1e-9 * a.shape[0]:
            return None
        return res.x / scale

    def minimum(self, theta0=None, *, tol=1e-12, max_iter=100) -> np.ndarray:
        """The minimiser by Newton's method with backtracking (needs l2 > 0 or non-separable data).

        Raises
        ------
        DomainError
            Without a ridge (``l2 = 0``), when the data are separable (a
            :meth:`separating_direction` exists: the loss has no minimiser),
            or when ``x`` has dependent columns (the minimiser is not unique).
        """
        theta = np.zeros(self.n_params) if theta0 is None else self._theta(theta0).copy()
        if self.l2 == 0:
            if self.separating_direction() is not None:
                raise DomainError("no minimum: the data are separable (the loss falls towards 0 along a "
                                  "separating direction without reaching it); set l2 > 0")
            if np.linalg.matrix_rank(self.x) < self.n_params:
                raise DomainError(f"no unique minimum: x has rank {np.linalg.matrix_rank(self.x)} < "
                                  f"{self.n_params} features (the loss is flat along its null space); set l2 > 0")
        for _ in range(max_iter):
            g = self.gradient(theta)
            if np.linalg.norm(g) <= tol:
                return theta
            step = np.linalg.solve(self.hessian(theta), g)
            t, f0 = 1.0, self.loss(theta)
            while self.loss(theta - t * step) > f0 - 0.25 * t * (g @ step) and t > 1e-12:
                t *= 0.5
            theta = theta - t * step
        if np.linalg.norm(self.gradient(theta)) > 1e3 * tol:
            raise DomainError("no minimum found: the data may be separable; set l2 > 0")
        return theta


class TwoLayerNetwork(LossModel):
    r""":math:`f(x) = A\tanh(Wx)` (:math:`k` outputs, ``n_hidden`` = :math:`h`), squared loss
    :math:`L = \frac1{2N}\sum_i|f(x_i) - y_i|^2`.

    :math:`\theta = (\mathrm{vec}A, \mathrm{vec}W)` row-major; :math:`P = kh + hd`.
    Gradient :math:`\nabla_A L = \frac1N\sum_i r_i s_i^\top`,
    :math:`\nabla_W L = \frac1N\sum_i (s'_i\odot A^\top r_i)\,x_i^\top`; closed-form
    Hessian :math:`G + R` in the module docstring; ``hvp`` by forward-over-reverse
    differentiation written out by hand: with :math:`\dot\theta = (\dot A, \dot W)`,
    :math:`\dot s_i = s'_i\odot\dot Wx_i`, :math:`\dot r_i = A\dot s_i + \dot As_i`,

    .. math::
        Hv = \frac1N\sum_i\Big(\dot r_i s_i^\top + r_i\dot s_i^\top,\;
        \big[-2s_i\odot\dot s_i\odot A^\top r_i + s'_i\odot(A^\top\dot r_i + \dot A^\top r_i)\big]x_i^\top\Big)

    (exact; the complex step of the base class gives the same to rounding).

    Parameters
    ----------
    x : array_like, shape (N, d)
    y : array_like, shape (N, k) or (N,)
    n_hidden : int
        :math:`h \ge 1`.
    """

    def __init__(self, x, y, n_hidden):
        self.x, self.y = _data(x, y, y_ndim=2)
        self.n_hidden = v.as_int(n_hidden, "n_hidden", 1)
        self.n_in = self.x.shape[1]
        self.n_out = self.y.shape[1]
        self.n_params = self.n_out * self.n_hidden + self.n_hidden * self.n_in

    def with_data(self, x, y) -> "TwoLayerNetwork":
        other = TwoLayerNetwork(x, y, self.n_hidden)
        if (other.n_in, other.n_out) != (self.n_in, self.n_out):
            raise DomainError(f"x and y must have {self.n_in} features and {self.n_out} outputs to match the "
                              f"model; got {other.n_in} and {other.n_out}")
        return other

    def _unpack(self, theta):
        k, h, d = self.n_out, self.n_hidden, self.n_in
        return theta[:k * h].reshape(k, h), theta[k * h:].reshape(h, d)

    def unpack(self, theta):
        """(A, W) from the flat vector."""
        return self._unpack(self._theta(theta))

    def _forward(self, theta, idx):
        a, w = self._unpack(theta)
        x, y = self._rows(idx)
        s = np.tanh(x @ w.T)  # (B, h)
        r = s @ a.T - y  # (B, k)
        return x, a, w, s, r

    def predict(self, theta, x=None) -> np.ndarray:
        """Outputs :math:`f(x_i)`, shape (M, k), on ``x`` (default the training inputs)."""
        a, w = self.unpack(theta)
        x = self.x if x is None else v.finite(x, "x")
        if x.ndim != 2 or x.shape[1] != self.n_in:
            raise DomainError(f"x must have shape (M, {self.n_in}); got {x.shape}")
        return np.tanh(x @ w.T) @ a.T

    def _loss(self, theta, idx):
        r = self._forward(theta, idx)[4]
        return 0.5 * np.sum(r * r) / r.shape[0]

    def _jacobian(self, theta, idx):
        x, a, _, s, _ = self._forward(theta, idx)
        n, k, h, d = x.shape[0], self.n_out, self.n_hidden, self.n_in
        ds = 1.0 - s * s
        jac = np.zeros((n, k, self.n_params), dtype=np.result_type(theta, x))
        for c in range(k):  # df_c / dA_cb = s_b
            jac[:, c, c * h:(c + 1) * h] = s
        # df_a / dW_jl = A_aj s'_j x_l
        jac[:, :, k * h:] = np.einsum("aj,ij,il->iajl", a, ds, x).reshape(n, k, h * d)
        return jac

    def jacobian(self, theta, batch=None) -> np.ndarray:
        r""":math:`J_{i a p} = \partial f_a(x_i)/\partial\theta_p`, shape (N, k, P)."""
        return self._jacobian(self._theta(theta), self._batch(batch))

    def _per_sample(self, theta, idx):
        r = self._forward(theta, idx)[4]
        return np.einsum("ia,iap->ip", r, self._jacobian(theta, idx))

    def _grad(self, theta, idx):
        x, a, _, s, r = self._forward(theta, idx)
        n = x.shape[0]
        ga = r.T @ s / n  # (k, h)
        gw = ((1.0 - s * s) * (r @ a)).T @ x / n  # (h, d)
        return np.concatenate([ga.ravel(), gw.ravel()])

    def _hvp(self, theta, vec, idx):
        # forward-over-reverse by hand: the directional derivative of _grad along vec = (dA, dW)
        x, a, _, s, r = self._forward(theta, idx)
        da, dw = self._unpack(vec)
        n = x.shape[0]
        ds1 = 1.0 - s * s  # s'
        dz = x @ dw.T  # (B, h)
        dsv = ds1 * dz  # directional derivative of s
        dr = dsv @ a.T + s @ da.T  # (B, k)
        ra = r @ a  # (B, h)
        hga = (dr.T @ s + r.T @ dsv) / n
        hgw = ((-2.0 * s * dsv) * ra + ds1 * (dr @ a + r @ da)).T @ x / n
        return np.concatenate([hga.ravel(), hgw.ravel()])

    def gauss_newton(self, theta, batch=None) -> np.ndarray:
        r""":math:`G = \frac1N\sum_i J_i^\top J_i` (positive semidefinite)."""
        jac = self.jacobian(theta, batch)
        n = jac.shape[0]
        jac = jac.reshape(-1, self.n_params)
        return jac.T @ jac / n

    def residual_hessian(self, theta, batch=None) -> np.ndarray:
        r""":math:`R = \frac1N\sum_{i,a} r_{ia}\nabla^2 f_a(x_i)`: the part of :math:`H` that vanishes with r."""
        x, a, _, s, r = self._forward(self._theta(theta), self._batch(batch))
        n, k, h, d = x.shape[0], self.n_out, self.n_hidden, self.n_in
        ds = 1.0 - s * s
        dds = -2.0 * s * ds
        out = np.zeros((self.n_params, self.n_params))
        # A-W block: d2/dA_cb dW_bl = (1/N) sum_i r_ic s'_ib x_il
        aw = np.einsum("ic,ib,il->cbl", r, ds, x) / n  # (k, h, d)
        for c in range(k):
            for b in range(h):
                row = c * h + b
                cols = slice(k * h + b * d, k * h + (b + 1) * d)
                out[row, cols] = aw[c, b]
                out[cols, row] = aw[c, b]
        # W-W block, diagonal in the hidden unit j: (1/N) sum_i (A^T r_i)_j s''_ij x_il x_in
        coef = (r @ a) * dds  # (N, h)
        ww = np.einsum("ij,il,in->jln", coef, x, x) / n
        for j in range(h):
            sl = slice(k * h + j * d, k * h + (j + 1) * d)
            out[sl, sl] = ww[j]
        return out

    def hessian(self, theta, batch=None) -> np.ndarray:
        """Closed form :math:`G + R` (module docstring)."""
        return self.gauss_newton(theta, batch) + self.residual_hessian(theta, batch)

    def initial(self, seed=0, scale=None) -> np.ndarray:
        """A seeded start: entries N(0, 1/d) for W and N(0, 1/h) for A (or N(0, scale^2) for both)."""
        g = _generator(seed, "hessian_models.init")
        k, h, d = self.n_out, self.n_hidden, self.n_in
        if scale is not None:
            scale = _scale(scale, "scale")
        sa = 1 / np.sqrt(h) if scale is None else scale
        sw = 1 / np.sqrt(d) if scale is None else scale
        return np.concatenate([sa * g.standard_normal(k * h), sw * g.standard_normal(h * d)])


class ScalarProduct(LossModel):
    r"""The two-parameter scalar network :math:`f(x) = uvx`, :math:`L(u, v) = \frac1{2N}\sum_i (uvx_i - y_i)^2`.

    :math:`\theta = (u, v)`. With :math:`r_i = uvx_i - y_i`,
    :math:`\nabla\ell_i = r_i x_i (v, u)` and

    .. math::
        \nabla^2 L = \begin{pmatrix} \overline{x^2}\,v^2 & \overline{xr} + \overline{x^2}\,uv \\
                                     \overline{xr} + \overline{x^2}\,uv & \overline{x^2}\,u^2 \end{pmatrix},

    bars denoting means over the (mini)batch. The minima form the hyperbola
    :math:`uv = w^* = \overline{xy}/\overline{x^2}`, where
    :math:`\overline{xr} = 0` and :math:`H = \overline{x^2}\,(v, u)^\top (v, u)`:
    eigenvalues 0 (along the manifold) and the sharpness
    :math:`\overline{x^2}(u^2 + v^2)`. The default data (one example
    :math:`x = y = 1`) give :math:`L = \frac12(uv - 1)^2` with sharpness
    :math:`u^2 + v^2` on :math:`uv = 1`, smallest (2) at the balanced point
    :math:`u = v = 1`.

    Gradient flow conserves :math:`u^2 - v^2` (:math:`\frac{d}{dt}(u^2 - v^2)
    = -2u\,\partial_uL + 2v\,\partial_vL = 0`), so from :math:`(u_0, v_0)` it
    ends where :math:`uv = w^*` meets that hyperbola, at sharpness
    :math:`\overline{x^2}\sqrt{(u_0^2 - v_0^2)^2 + 4w^{*2}}`
    (:meth:`gradient_flow_sharpness`, the "GFS sharpness" of Kreisler et al.).
    GD with learning rate :math:`\eta` can settle only where the sharpness is
    at most :math:`2/\eta`; started where gradient flow would end sharper than
    that, it oscillates across the valley and ends at a flatter minimum, often
    just below :math:`2/\eta` (the edge of stability), sometimes much flatter
    after a large excursion (e.g. :math:`x = y = 1`, :math:`(u_0, v_0) = (2.5, 0.45)`,
    gradient-flow sharpness 6.37: :math:`\eta = 0.35` ends at 4.97 against
    :math:`2/\eta = 5.71`, :math:`\eta = 0.4` at 3.32 against 5).

    Parameters
    ----------
    x, y : array_like, shape (N,) or scalar
        Scalar inputs and targets (default one example, x = y = 1).

    References
    ----------
    I. Kreisler, M. Shpigel Nacson, D. Soudry, Y. Carmon, *Gradient descent
    monotonically decreases the sharpness of gradient flow solutions in scalar
    networks and beyond*, ICML 2023 (arXiv:2305.13064): scalar networks with
    the squared loss as "perhaps the simplest setting where the EoS phenomena
    still occur"; GD provably converges to the EoS there.
    X. Zhu, Z. Wang, X. Wang, M. Zhou, R. Ge, *Understanding edge-of-stability
    training dynamics with a minimalist example*, ICLR 2023: a related
    two-parameter example whose GD endpoint has sharpness just below
    :math:`2/\eta`.
    """

    def __init__(self, x=1.0, y=1.0):
        x = np.atleast_1d(v.finite(x, "x"))
        y = np.atleast_1d(v.finite(y, "y"))
        if x.ndim != 1:
            raise DomainError(f"x must be a scalar or have shape (N,); got {x.shape}")
        if y.shape != x.shape:
            raise DomainError(f"y must have shape {x.shape} to match x; got {y.shape}")
        self.x, self.y = x, y
        self.n_params = 2

    def with_data(self, x, y) -> "ScalarProduct":
        return ScalarProduct(x, y)

    def _loss(self, theta, idx):
        x, y = self._rows(idx)
        r = theta[0] * theta[1] * x - y
        return 0.5 * np.mean(r * r)

    def _per_sample(self, theta, idx):
        x, y = self._rows(idx)
        rx = (theta[0] * theta[1] * x - y) * x
        return np.stack([rx * theta[1], rx * theta[0]], axis=1)

    def _hessian(self, theta, idx):
        x, y = self._rows(idx)
        u, w = theta
        m2 = np.mean(x * x)
        mxr = np.mean(x * (u * w * x - y))
        off = mxr + m2 * u * w
        return np.array([[m2 * w * w, off], [off, m2 * u * u]])

    def minimum_product(self) -> float:
        r""":math:`w^* = \overline{xy}/\overline{x^2}`, the product :math:`uv` on the minimum manifold."""
        m2 = float(np.mean(self.x * self.x))
        if m2 == 0:
            raise DomainError("x must not be all zero: every (u, v) is then a minimum")
        return float(np.mean(self.x * self.y)) / m2

    def point_on_minimum(self, u) -> np.ndarray:
        r"""The minimum :math:`(u, w^*/u)`."""
        u = float(v.finite(u, "u"))
        if u == 0:
            raise DomainError("u must be nonzero (the minimum manifold uv = w* does not meet u = 0)")
        return np.array([u, self.minimum_product() / u])

    def minimum_sharpness(self, u) -> float:
        r"""Top Hessian eigenvalue :math:`\overline{x^2}(u^2 + (w^*/u)^2)` at :meth:`point_on_minimum` ``(u)``."""
        uu, ww = self.point_on_minimum(u)
        return float(np.mean(self.x * self.x) * (uu * uu + ww * ww))

    def gradient_flow_sharpness(self, theta) -> float:
        r"""Sharpness :math:`\overline{x^2}\sqrt{(u^2 - v^2)^2 + 4w^{*2}}` of the minimum that gradient flow
        reaches from ``theta``."""
        u, w = self._theta(theta)
        m2 = float(np.mean(self.x * self.x))
        c, ws = u * u - w * w, self.minimum_product()
        return m2 * float(np.hypot(c, 2 * ws))

    def initial(self, seed=0, scale=1.0) -> np.ndarray:
        r"""A seeded start :math:`(u, v) \sim N(0, \mathrm{scale}^2 I_2)` (default scale 1)."""
        return super().initial(seed, scale)


class SoftmaxAttention(LossModel):
    r"""One softmax attention head on sequences with a squared loss.

    Example :math:`n` is a sequence :math:`X_n \in \mathbb R^{T\times d}` with
    target :math:`Y_n \in \mathbb R^{T\times d_v}`;

    .. math::
        Q = XW_q,\quad K = XW_k,\quad S = QK^\top/\sqrt{d_k},\quad
        A = \mathrm{softmax}_{\rm row}(S),\quad V = XW_v,\quad \hat Y = AV,

    :math:`\ell_n = \frac12\|\hat Y_n - Y_n\|_F^2` (summed over positions and
    output channels), :math:`L = \frac1N\sum_n \ell_n`. Parameters
    :math:`\theta = (\mathrm{vec}W_q, \mathrm{vec}W_k, \mathrm{vec}W_v)`, each
    row-major, :math:`W_q, W_k \in \mathbb R^{d\times d_k}`,
    :math:`W_v\in\mathbb R^{d\times d_v}`: :math:`P = 2dd_k + dd_v`.

    Gradient, by hand (per example, :math:`R = \hat Y - Y`):

    .. math::
        \nabla_{W_v}\ell = X^\top A^\top R,\qquad
        G_A = RV^\top,\qquad
        G_S = A\odot\big(G_A - (A\odot G_A)\mathbf 1\mathbf 1^\top\big)

    (the row-wise softmax Jacobian: :math:`\partial A_{tj}/\partial S_{tl} = A_{tj}(\delta_{jl} - A_{tl})`),

    .. math::
        \nabla_{W_q}\ell = X^\top G_S K/\sqrt{d_k},\qquad
        \nabla_{W_k}\ell = X^\top G_S^\top Q/\sqrt{d_k}.

    The code is complex-analytic, so ``hvp`` is the exact complex step on it;
    the dense Hessian is assembled from :math:`P` such HVPs, then symmetrised
    (use small sizes: about 0.1 s at :math:`P = 128`, :math:`N = 64`, :math:`T = 8`).

    Parameters
    ----------
    x : array_like, shape (N, T, d)
    y : array_like, shape (N, T, d_v)
    d_k : int
        Key/query dimension.

    Notes
    -----
    Variational learning's effect on sharpness at the edge of stability has
    been analysed and measured on networks including Vision Transformers
    (A. Ghosh et al., *Variational learning finds flatter solutions at the
    edge of stability*, 2025, arXiv:2506.12903, with VGD and IVON; IVON:
    Y. Shen et al., *Variational learning is effective for large deep
    networks*, ICML 2024, arXiv:2402.17641). This single head is a small,
    exactly differentiable stand-in for such attention layers.
    """

    def __init__(self, x, y, d_k):
        x = v.finite(x, "x")
        if x.ndim != 3 or min(x.shape) < 1:
            raise DomainError(f"x must have shape (N, T, d) with N, T, d >= 1; got {x.shape}")
        y = v.finite(y, "y")
        if y.ndim != 3 or y.shape[:2] != x.shape[:2] or y.shape[2] < 1:
            raise DomainError(f"y must have shape ({x.shape[0]}, {x.shape[1]}, d_v) to match x; got {y.shape}")
        self.x, self.y = x, y
        self.d_k = v.as_int(d_k, "d_k", 1)
        self.seq_len, self.d = x.shape[1], x.shape[2]
        self.d_v = y.shape[2]
        self.n_params = 2 * self.d * self.d_k + self.d * self.d_v

    def with_data(self, x, y) -> "SoftmaxAttention":
        """The same head on other sequences (any length T; d and d_v must match)."""
        other = SoftmaxAttention(x, y, self.d_k)
        if (other.d, other.d_v) != (self.d, self.d_v):
            raise DomainError(f"x and y must have d = {self.d} and d_v = {self.d_v} to match the model; "
                              f"got {other.d} and {other.d_v}")
        return other

    def _unpack(self, theta):
        # theta may carry leading axes (..., P): a stack of parameter vectors
        d, dk, dv = self.d, self.d_k, self.d_v
        n, lead = d * dk, theta.shape[:-1]
        return (theta[..., :n].reshape(lead + (d, dk)), theta[..., n:2 * n].reshape(lead + (d, dk)),
                theta[..., 2 * n:].reshape(lead + (d, dv)))

    def unpack(self, theta):
        """(W_q, W_k, W_v) from the flat vector."""
        return self._unpack(self._theta(theta))

    def _forward(self, theta, idx):
        # shapes for theta of shape (..., P): x (B, T, d), weights (..., 1, d, .), outputs (..., B, T, .)
        wq, wk, wv = (w[..., None, :, :] for w in self._unpack(theta))
        x, y = self._rows(idx)
        q, k, val = x @ wq, x @ wk, x @ wv  # (.., B, T, dk), (.., B, T, dk), (.., B, T, dv)
        s = q @ np.swapaxes(k, -1, -2) / np.sqrt(self.d_k)  # (.., B, T, T)
        # shift by the max of the real part: a constant, so exact, and analytic in theta
        e = np.exp(s - np.max(s.real, axis=-1, keepdims=True))
        a = e / np.sum(e, axis=-1, keepdims=True)
        r = a @ val - y
        return x, q, k, val, a, r

    def attention_weights(self, theta, batch=None) -> np.ndarray:
        """The attention matrices :math:`A_n`, shape (N, T, T) (rows sum to 1)."""
        return self._forward(self._theta(theta), self._batch(batch))[4]

    def predict(self, theta, x=None) -> np.ndarray:
        r""":math:`\hat Y_n = A_n X_n W_v`, shape (M, T, d_v), on ``x`` (default the training inputs)."""
        theta = self._theta(theta)
        model = self if x is None else self.with_data(x, np.zeros(np.shape(x)[:2] + (self.d_v,)))
        _, _, _, _, _, r = model._forward(theta, None)
        return r + model.y

    def _loss(self, theta, idx):
        r = self._forward(theta, idx)[5]
        return 0.5 * np.sum(r * r) / r.shape[0]

    def _per_sample(self, theta, idx):
        x, q, k, val, a, r = self._forward(theta, idx)
        xt = np.swapaxes(x, -1, -2)  # (B, d, T)
        g_v = xt @ (np.swapaxes(a, -1, -2) @ r)  # (.., B, d, dv)
        g_a = r @ np.swapaxes(val, -1, -2)  # (.., B, T, T)
        g_s = a * (g_a - np.sum(a * g_a, axis=-1, keepdims=True)) / np.sqrt(self.d_k)
        g_q = xt @ (g_s @ k)  # (.., B, d, dk)
        g_k = xt @ (np.swapaxes(g_s, -1, -2) @ q)
        lead = g_q.shape[:-2]  # (..., B)
        return np.concatenate([g_q.reshape(lead + (-1,)), g_k.reshape(lead + (-1,)), g_v.reshape(lead + (-1,))],
                              axis=-1)

    def _grad(self, theta, idx):
        return self._per_sample(theta, idx).mean(axis=-2)

    def initial(self, seed=0, scale=None) -> np.ndarray:
        r"""A seeded start: every entry of :math:`W_q, W_k, W_v` i.i.d. :math:`N(0, 1/d)`.

        With ``scale`` given, :math:`N(0, \mathrm{scale}^2)` instead.
        """
        s = 1 / np.sqrt(self.d) if scale is None else scale
        return super().initial(seed, s)


def gaussian_mixture(n_data, n_features, n_classes, *, separation=3.0, seed=0):
    r"""Class-structured data: :math:`x = \mu_c + z`, :math:`z \sim N(0, I_d)`, one-hot targets.

    The class means :math:`\mu_c` are ``separation`` times random orthonormal
    directions; classes are balanced (example ``i`` has class ``i % n_classes``).
    Returns ``(x, y)`` with ``y`` of shape (N, n_classes).
    """
    n = v.as_int(n_data, "n_data", 1)
    d = v.as_int(n_features, "n_features", 1)
    c = v.as_int(n_classes, "n_classes", 1)
    if c > d:
        raise DomainError(f"n_classes must be <= n_features = {d}; got {c}")
    sep = float(v.nonnegative(v.scalar(separation, "separation"), "separation", allow_inf=False))
    root = seed_sequence(seed)
    g = np.random.Generator(np.random.PCG64(derive(root, "gaussian_mixture")))
    means = np.linalg.qr(g.standard_normal((d, c)))[0].T * sep  # (c, d)
    labels = np.arange(n) % c
    x = means[labels] + g.standard_normal((n, d))
    return x, np.eye(c)[labels]


def synthetic_regression(n_data, n_features, n_outputs=1, *, n_hidden=4, noise=0.1, seed=0):
    r"""Regression data from a random teacher network: :math:`y = A^*\tanh(W^*x) + \sigma\varepsilon`.

    :math:`x \sim N(0, I_d)`, :math:`W^*_{jl} \sim N(0, 1/d)` (unit-variance
    pre-activations), :math:`A^*_{aj} \sim N(0, 1/h)`, :math:`\varepsilon \sim N(0, I_k)`.
    Train a :class:`TwoLayerNetwork` (any width) on it.

    Parameters
    ----------
    n_data, n_features, n_outputs : int
        :math:`N`, :math:`d`, :math:`k` (each >= 1).
    n_hidden : int
        Teacher width :math:`h`.
    noise : float
        :math:`\sigma \ge 0`, the label-noise standard deviation.
    seed : int or SeedSequence, optional

    Returns
    -------
    x : ndarray, shape (N, d)
    y : ndarray, shape (N, k)
    """
    n = v.as_int(n_data, "n_data", 1)
    d = v.as_int(n_features, "n_features", 1)
    k = v.as_int(n_outputs, "n_outputs", 1)
    h = v.as_int(n_hidden, "n_hidden", 1)
    sigma = float(v.nonnegative(v.scalar(noise, "noise"), "noise", allow_inf=False))
    root = seed_sequence(seed)
    gt = _generator(root, "synthetic_regression", "teacher")
    w = gt.standard_normal((h, d)) / np.sqrt(d)
    a = gt.standard_normal((k, h)) / np.sqrt(h)
    gd = _generator(root, "synthetic_regression", "data")
    x = gd.standard_normal((n, d))
    with np.errstate(over="ignore"):  # refused below
        y = np.tanh(x @ w.T) @ a.T + sigma * gd.standard_normal((n, k))
    if not np.all(np.isfinite(y)):
        raise DomainError(f"noise must keep the targets finite; got {sigma!r}, which overflows them")
    return x, y


def synthetic_attention_task(n_data=64, seq_len=8, d=8, d_k=4, d_v=8, *, noise=0.1, teacher_scale=1.0,
                             seed=0):
    r"""Sequences labelled by a random teacher attention head plus noise, for :class:`SoftmaxAttention`.

    :math:`X_n` has i.i.d. :math:`N(0, 1)` entries; the teacher's
    :math:`W_q^*, W_k^*` have i.i.d. :math:`N(0, c^2/d)` entries
    (:math:`c` = ``teacher_scale``; larger :math:`c` gives peakier attention)
    and :math:`W_v^*` :math:`N(0, 1/d)`;
    :math:`Y_n = \mathrm{softmax}(X_nW_q^*W_k^{*\top}X_n^\top/\sqrt{d_k})X_nW_v^* + \sigma E_n`,
    :math:`E_n` standard normal. The defaults give :math:`P = 2dd_k + dd_v = 128`
    for a student with the same ``d_k``.

    Returns
    -------
    x : ndarray, shape (N, T, d)
    y : ndarray, shape (N, T, d_v)
    """
    n = v.as_int(n_data, "n_data", 1)
    t = v.as_int(seq_len, "seq_len", 1)
    d = v.as_int(d, "d", 1)
    dk = v.as_int(d_k, "d_k", 1)
    dv = v.as_int(d_v, "d_v", 1)
    sigma = float(v.nonnegative(v.scalar(noise, "noise"), "noise", allow_inf=False))
    c = float(v.nonnegative(v.scalar(teacher_scale, "teacher_scale"), "teacher_scale", allow_inf=False))
    root = seed_sequence(seed)
    gt = _generator(root, "synthetic_attention_task", "teacher")
    teacher = np.concatenate([c * gt.standard_normal(2 * d * dk), gt.standard_normal(d * dv)]) / np.sqrt(d)
    gd = _generator(root, "synthetic_attention_task", "data")
    x = gd.standard_normal((n, t, d))
    clean = SoftmaxAttention(x, np.zeros((n, t, dv)), dk).predict(teacher)
    with np.errstate(over="ignore"):  # refused below
        y = clean + sigma * gd.standard_normal((n, t, dv))
    if not np.all(np.isfinite(y)):
        raise DomainError(f"noise must keep the targets finite; got {sigma!r}, which overflows them")
    return x, y


def teacher_network(n_data, n_features, n_hidden, *, target_scale=1.0, init_scale=None, teacher_hidden=4,
                    noise=0.1, test_fraction=None, seed=0):
    """A :class:`TwoLayerNetwork` on :func:`synthetic_regression` data, with its seeded start.

    The targets are the teacher's times ``target_scale``; with ``test_fraction``
    that share of the examples is held out (:func:`train_test_split`). Returns
    ``(model, theta0, held_out)``, ``held_out`` = ``(x, y)`` or None. Every
    random draw derives from ``seed``.
    """
    target_scale = float(v.finite(v.scalar(target_scale, "target_scale"), "target_scale"))
    if init_scale is not None:
        init_scale = _scale(init_scale, "init_scale")
    x, y = synthetic_regression(n_data, n_features, 1, n_hidden=teacher_hidden, noise=noise, seed=seed)
    held_out = None
    if test_fraction is not None:
        if x.shape[0] < 2:
            raise DomainError(f"n_data must be >= 2 to hold out a test_fraction; got {x.shape[0]}")
        x, y, xt, yt = train_test_split(x, y, test_fraction, seed=seed)
        with np.errstate(over="ignore"):
            held_out = (xt, target_scale * yt)
    with np.errstate(over="ignore"):
        targets = target_scale * y
    if not np.all(np.isfinite(targets)):
        raise DomainError(f"target_scale times the teacher's targets must be finite; got target_scale = "
                          f"{target_scale!r}, which overflows them")
    model = TwoLayerNetwork(x, targets, n_hidden)
    return model, model.initial(seed, scale=init_scale), held_out


def train_test_split(x, y, test_fraction=0.25, *, seed=0):
    """A seeded random split of examples (first axis) into training and held-out sets.

    Parameters
    ----------
    x, y : array_like
        Same length along the first axis.
    test_fraction : float
        In (0, 1); the test set has ``round(test_fraction * N)`` examples,
        at least one, and the training set at least one.

    Returns
    -------
    x_train, y_train, x_test, y_test : ndarray
    """
    x, y = np.asarray(x), np.asarray(y)
    if x.ndim < 1 or y.ndim < 1 or x.shape[0] != y.shape[0]:
        raise DomainError(f"x and y must have the same length along the first axis; got shapes {x.shape} and "
                          f"{y.shape}")
    n = x.shape[0]
    if n < 2:
        raise DomainError(f"x must hold at least 2 examples to split; got {n}")
    f = v.scalar(test_fraction, "test_fraction")
    v.require(f, (f > 0) & (f < 1), "test_fraction", "in (0, 1)")
    n_test = min(max(int(round(float(f) * n)), 1), n - 1)
    perm = _generator(seed, "train_test_split").permutation(n)
    test, train = perm[:n_test], perm[n_test:]
    return x[train], y[train], x[test], y[test]


@dataclass(frozen=True)
class TrainedSpectrum:
    """Result of :func:`trained_spectrum`: the minimum found and the Hessian spectrum there.

    ``eigenvalues`` (ascending) of the full Hessian; ``gauss_newton_eigenvalues``
    of its Gauss-Newton part (None for models without one).
    """

    theta: np.ndarray
    loss: float
    gradient_norm: float
    eigenvalues: np.ndarray
    gauss_newton_eigenvalues: np.ndarray | None
    converged: bool
    iterations: int


def trained_spectrum(model: MinimalLossModel, theta0=None, *, seed=0, gtol=1e-8,
                     max_iter=5000) -> TrainedSpectrum:
    """Train ``model`` by L-BFGS (scipy) from ``theta0`` (default the model's seeded start
    :meth:`LossModel.initial`) and return the Hessian eigenvalues at the point reached.

    ``converged`` is scipy's flag; ``gradient_norm`` says how close to a
    critical point the spectrum was taken. Needs the minimal protocol; the
    dense Hessian is ``model.hessian`` or, without it, assembled from ``P``
    Hessian-vector products; a model without ``initial`` needs ``theta0``.
    """
    _models.require_minimal(model)
    if theta0 is None:
        if not hasattr(model, "initial"):
            raise _models.missing_method(model, "initial", "trained_spectrum without theta0")
        theta0 = model.initial(seed)
    theta0 = _models.as_theta(model, theta0, "theta0")
    max_iter = v.as_int(max_iter, "max_iter", 1)
    gtol = float(v.positive(v.scalar(gtol, "gtol"), "gtol"))
    with single_threaded_blas():  # small dense problems: BLAS threads only contend
        res = optimize.minimize(model.loss, theta0, jac=model.gradient, method="L-BFGS-B",
                                options=dict(maxiter=max_iter, gtol=gtol, ftol=0.0, maxcor=30))
        theta = res.x
        h = _models.dense_hessian(model, theta)
        eig = np.linalg.eigvalsh(0.5 * (h + h.T))
        gn = None
        if hasattr(model, "gauss_newton"):
            g = model.gauss_newton(theta)
            gn = np.linalg.eigvalsh(0.5 * (g + g.T))
    return TrainedSpectrum(theta, float(res.fun), float(np.linalg.norm(model.gradient(theta))), eig, gn,
                           bool(res.success), int(res.nit))


def from_jax(loss, params, data, *, init=None):
    r"""A model of the package from a loss written in JAX: see :func:`theory.jax_models.from_jax`.

    ``loss(params, batch)`` is the mean loss over ``batch`` (a tuple of rows of
    ``data``), ``params`` the start (any pytree), ``data`` a tuple of arrays
    with the examples along the leading axis. The parameter vector is
    ``jax.flatten_util.ravel_pytree(params)[0]``; gradients, forward-over-reverse
    Hessian-vector products and per-example gradients are compiled and return
    NumPy float64. Needs ``pip install "theory[jax]"`` and
    ``jax.config.update("jax_enable_x64", True)``.
    """
    from .jax_models import from_jax as build

    return build(loss, params, data, init=init)
