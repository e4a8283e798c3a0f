r"""Stability threshold of variational gradient descent (VGD) on a quadratic.

Conventions
-----------
Loss :math:`\ell(\theta) = \tfrac12 \theta^\top Q\theta`, eigenpairs
:math:`(\lambda_i, v_i)` of :math:`Q`. VGD with learning rate ``lr`` (:math:`\eta`)
updates the mean :math:`m` of a Gaussian :math:`\mathcal N(m, \sigma^2 I)` with
the gradient averaged over ``n_samples`` (:math:`N_s`) perturbations,

.. math:: m_+ = m - \eta\,\frac1{N_s}\sum_{k=1}^{N_s}\nabla\ell(m + e_k),
          \qquad e_k \sim \mathcal N(0, \sigma^2 I).

``grad_sq`` is :math:`c_i = g_i^2`, the squared component of the gradient
:math:`\nabla\ell(m) = Qm` along :math:`v_i`. Direction :math:`i` decreases the
expected loss in one step iff :math:`\lambda_i < (2/\eta)\,\mathrm{VF}(z_i)`,
:math:`z_i = N_s c_i/\sigma^2`.

Source: A. Ghosh, B. Cong, R. Yokota, S. Ravishankar, R. Wang, M. Tao,
M. E. Khan and T. Möllenhoff, *Variational Learning Finds Flatter Solutions at
the Edge of Stability*, NeurIPS 2025 (arXiv:2506.12903), Sec. 3, the quadratic
analysis; re-derived symbolically in :mod:`theory.symbolic`.

``sigma`` is the standard deviation of each coordinate of :math:`e_k` for
every ``dof``: a Student-t perturbation with ``dof`` :math:`\nu > 2` is
:math:`e = \sigma\sqrt{(\nu-2)/\nu}\,T_\nu` (scipy scale
:math:`\sigma\sqrt{(\nu-2)/\nu}`, :func:`perturbation_scale`). On a quadratic
the expected change of the loss depends on the perturbation only through its
variance :math:`\sigma^2`, so every result here is the Gaussian one and
``dof`` is only validated (:math:`\nu \le 2` has no finite standard deviation
and is refused); ``dof=inf`` is the Gaussian.
"""

from __future__ import annotations

import numpy as np

from . import _validate as v
from ._deprecate import renamed_keywords
from ._exact import DD, mantissa_product, rational, root_of_product, scale2

__all__ = [
    "variational_factor",
    "vgd_threshold",
    "signal_to_noise",
    "perturbation_scale",
    "perturbation_variance",
    "max_sigma",
    "min_n_samples",
]

# Float Newton steps before the double-double polish. From the starting point
# min(omega**(1/3), 2**-k) the slowest case (w near 1, root 0.68 from 1) is at
# full float precision after 6.
_NEWTON_STEPS = 7
# Above w = 2**60 the root is 1 - 1/w + ..., which rounds to 1.0.
_K_UNIT = 20


def _solve_cubic(factors, exp2: int):
    r"""Root ``x`` in [0, 1] of ``x**3 + w*x - w = 0``, ``w = 2**exp2 * prod(f**p)``.

    Returns ``(xi, k)`` with ``x = xi * 2**k``. Writing ``w = omega * 2**(3k)``
    with ``omega`` of order one, ``xi`` solves ``xi**3 + s*omega*xi - omega = 0``,
    ``s = 2**k``, a convex increasing cubic: Newton from the upper bound
    ``min(omega**(1/3), 1/s)`` converges monotonically, and a last step with the
    residual in double-double (``omega`` is known to 2**-100) leaves ``xi``
    correctly rounded in all but near-tie cases. Nothing over- or underflows:
    ``xi`` is of order one, and ``k`` carries the scale.
    """
    omega, expo, zero, inf = mantissa_product(factors, exp2)
    k, r = np.divmod(expo, 3)
    omega = scale2(omega, r.astype(np.int32))
    unit = zero | inf | (k >= _K_UNIT)
    k = np.where(unit, 0, k).astype(np.int32)
    s = np.ldexp(1.0, k)  # underflows to 0 only where that term is below 2**-1000
    om = omega.hi
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        xi = np.minimum(np.cbrt(om), 1.0 / s)
        for _ in range(_NEWTON_STEPS):
            xi = xi - (xi * xi * xi + (s * om * xi - om)) / (3.0 * xi * xi + s * om)
        d = DD(xi) * xi * xi + (DD(s * xi) - 1.0) * omega
        xi = xi - (d.hi + d.lo) / (3.0 * xi * xi + s * om)
    xi = np.where(zero & ~inf, 0.0, np.where(unit, 1.0, xi))
    return xi, k


def _variance_ratio(dof):
    """nu / (nu - 2), the Student-t variance per unit scale squared; 1 for the Gaussian (dof = inf)."""
    t = np.isfinite(dof)
    nu = np.where(t, dof, 3.0)
    return np.where(t, nu / (nu - 2.0), 1.0)


def variational_factor(z, lr):
    r"""The variational factor VF(z) that scales the GD threshold 2/lr for VGD.

    .. math::

        \mathrm{VF}(z) = \eta\sqrt{z/3}\,
        \sinh\!\Big(\tfrac13\operatorname{arcsinh}\!\big(\tfrac3\eta\sqrt{3/z}\big)\Big),

    the unique real root :math:`x` of :math:`x^3 + w x - w = 0` with
    :math:`w = z\eta^2/4`, so that :math:`\lambda^* = (2/\eta)\mathrm{VF}(z)` is the
    real root of :math:`\lambda^3 + z\lambda - 2z/\eta = 0`.

    Parameters
    ----------
    z : array_like
        Signal-to-noise ratio :math:`z = N_s c/\sigma^2` in [0, inf]
        (see :func:`signal_to_noise`).
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.

    Returns
    -------
    float or ndarray
        VF in [0, 1]; increasing in ``z``; ``VF(0) = 0``, ``VF(inf) = 1``
        (GD), ``VF ~ w**(1/3)`` as ``w -> 0`` and ``1 - VF ~ 1/w`` as ``w -> inf``.

    Notes
    -----
    Computed as the root of the cubic rescaled by a power of two
    (:math:`w = \omega 2^{3k}`, :math:`x = 2^k\xi`), by Newton's method from an
    upper bound and a final step whose residual is evaluated in double-double
    arithmetic: correctly rounded up to near-ties over the whole float range,
    including subnormal ``z`` and products ``z*lr**2`` that over- or underflow.
    The closed form above, evaluated naively, loses accuracy at small ``z``
    and returns NaN or 0/inf where ``z*lr**2`` leaves the float range.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.

    Examples
    --------
    >>> variational_factor(100.0, 0.1)   # w = 1/4: root of x^3 + x/4 - 1/4
    0.5
    """
    z = v.nonnegative(z, "z")
    lr = v.positive(lr, "lr")
    v.broadcast_together(z=z, lr=lr)
    xi, k = _solve_cubic([(z, 1), (lr, 2)], exp2=-2)
    x = np.ldexp(xi, k)
    return v.scalar_out(x, z, lr)


def signal_to_noise(grad_sq, sigma, n_samples=1, *, dof=np.inf):
    r"""The ratio :math:`z = N_s c / \sigma^2` that VF depends on.

    ``sigma`` is the standard deviation of the perturbation, so ``dof``
    (validated, > 2) does not change :math:`z`. ``sigma = 0`` gives ``inf``
    (GD) whatever ``grad_sq``. The product can overflow for extreme inputs
    where VF itself is well defined; :func:`vgd_threshold` never forms it.
    """
    grad_sq, sigma, n, dof = _threshold_inputs(grad_sq, sigma, n_samples, dof)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        z = n * grad_sq / sigma**2  # 0/0 at sigma = 0 is set to inf below
    # where a factor over- or underflowed, assemble the product from mantissas and exponents
    redo = (sigma > 0) & ~((z >= np.finfo(np.float64).tiny) & np.isfinite(z))
    if redo.any():
        z = np.where(redo, root_of_product([(n, 1), (np.where(redo, grad_sq, 1.0), 1),
                                            (np.where(redo, sigma, 1.0), -2)], 1), z)
    z = v.broadcast(np.where(sigma == 0, np.inf, z), dof)
    return v.scalar_out(z, grad_sq, sigma, n_samples, dof)


def _threshold_inputs(grad_sq, sigma, n_samples, dof):
    grad_sq = v.nonnegative(grad_sq, "grad_sq")
    sigma = v.nonnegative(sigma, "sigma")
    n = v.integer_at_least(n_samples, "n_samples", 1)
    dof = v.student_dof(dof)
    v.broadcast_together(grad_sq=grad_sq, sigma=sigma, n_samples=n, dof=dof)
    both_inf = np.isinf(grad_sq) & np.isinf(sigma)
    v.require(grad_sq, ~both_inf, "grad_sq",
              "finite where sigma is infinite (inf/inf is indeterminate)")
    return grad_sq, sigma, n, dof


def perturbation_scale(sigma, dof=np.inf):
    r"""Scipy scale :math:`s = \sigma\sqrt{(\nu-2)/\nu}` of a Student-t perturbation of standard deviation ``sigma``.

    :math:`e = s\,T_\nu` with :math:`T_\nu` a standard Student-t variate of
    ``dof`` :math:`\nu > 2` has variance :math:`s^2\nu/(\nu-2) = \sigma^2`;
    ``dof = inf`` (Gaussian) gives ``sigma``. The inverse of
    :func:`perturbation_variance` up to the square root. :math:`\nu \le 2`
    raises DomainError: there the variance is infinite.
    """
    sigma = v.nonnegative(sigma, "sigma")
    dof = v.student_dof(dof)
    v.broadcast_together(sigma=sigma, dof=dof)
    t = np.isfinite(dof)
    nu = np.where(t, dof, 3.0)
    out = np.where(t, sigma * np.sqrt((nu - 2.0) / nu), sigma)
    return v.scalar_out(out, sigma, dof)


@renamed_keywords(sigma="scale")
def perturbation_variance(scale, dof=np.inf):
    r"""Variance per coordinate of a Student-t perturbation of scipy scale ``scale``: :math:`s^2\nu/(\nu-2)`.

    :math:`e = s\,T_\nu`, :math:`T_\nu` a standard Student-t variate of ``dof``
    :math:`\nu > 2`; :math:`s^2` for the Gaussian (``dof = inf``). This is the
    one formula here about the scale rather than the standard deviation: the
    ``sigma`` of every other function is the square root of this variance
    (:func:`perturbation_scale` is the inverse). For :math:`\nu \le 2` the
    variance is infinite and a DomainError is raised. The keyword ``sigma=``
    (the former name of ``scale``) is accepted with a DeprecationWarning.

    References
    ----------
    The Student-t variance; derived in :func:`theory.symbolic.student_t_variance`.
    """
    scale = v.nonnegative(scale, "scale")
    dof = v.student_dof(dof)
    v.broadcast_together(scale=scale, dof=dof)
    with np.errstate(over="ignore"):
        out = scale**2 * _variance_ratio(dof)
    return v.scalar_out(out, scale, dof)


def vgd_threshold(lr, sigma, grad_sq, n_samples=1, *, dof=np.inf):
    r"""Largest Hessian eigenvalue along which one VGD step still lowers the expected loss.

    .. math::

        \lambda^* = \frac{2}{\eta}\,\mathrm{VF}\!\left(\frac{N_s c}{\sigma^2}\right)
        \quad\text{(the real root of } \lambda^3 + z\lambda - 2z/\eta = 0\text{)}

    Parameters
    ----------
    lr : array_like
        Learning rate :math:`\eta`, finite and > 0.
    sigma : array_like
        Standard deviation :math:`\sigma \ge 0` of each coordinate of the
        perturbation (for every ``dof``). ``sigma = 0`` is GD: the threshold
        is ``2/lr`` whatever ``grad_sq``; ``sigma = inf`` gives 0.
    grad_sq : array_like
        :math:`c \ge 0`, the squared gradient component along the eigenvector.
    n_samples : array_like, default 1
        :math:`N_s`, perturbations averaged per step (integer >= 1).
    dof : array_like, default inf
        Student-t degrees of freedom (> 2); ``inf`` is the Gaussian. At equal
        ``sigma`` the threshold does not depend on it (only the variance
        enters).

    Returns
    -------
    float or ndarray
        :math:`\lambda^*` in ``[0, 2/lr]``; a direction with eigenvalue
        :math:`\lambda > 0` descends in expectation iff :math:`\lambda < \lambda^*`.

    Notes
    -----
    :math:`z` is never formed: :math:`w = N_s c\eta^2/(4\sigma^2)` is
    assembled from the inputs' mantissas and exponents and the cubic solved in
    scaled form (as in :func:`variational_factor`), so the result is correctly
    rounded up to near-ties even where :math:`z` would overflow.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3; the GD limit is the
    classical edge of stability, Cohen et al. (ICLR 2021).
    """
    lr = v.positive(lr, "lr")
    grad_sq, sigma, n, dof = _threshold_inputs(grad_sq, sigma, n_samples, dof)
    v.broadcast_together(lr=lr, sigma=sigma, grad_sq=grad_sq, n_samples=n, dof=dof)
    # sigma = 0 means GD even when grad_sq = 0: make the 0/0 resolve to inf.
    gd = sigma == 0
    c = np.where(gd, 1.0, grad_sq)
    xi, k = _solve_cubic([(n, 1), (c, 1), (lr, 2), (sigma, -2)], exp2=-2)
    # lambda* = 2 x / lr = (2 xi / mantissa(lr)) * 2**(k - exponent(lr)): no intermediate overflow
    lm, le = np.frexp(lr)
    with np.errstate(over="ignore"):
        out = np.ldexp(2.0 * xi / lm, np.clip(k - le, -4000, 4000).astype(np.int32))
    return v.scalar_out(v.broadcast(out, dof), lr, sigma, grad_sq, n_samples, dof)


def _inverse_inputs(eigval, grad_sq, lr, dof):
    lr = v.positive(lr, "lr")
    eigval = v.positive(eigval, "eigval")
    grad_sq = v.nonnegative(grad_sq, "grad_sq")
    dof = v.student_dof(dof)
    v.broadcast_together(eigval=eigval, grad_sq=grad_sq, lr=lr, dof=dof)
    gap = rational(lambda r, lam: 2 - r * lam, lr, eigval)  # 2 - lr*eigval, sign exact
    v.require(eigval, gap >= 0, "eigval",
              "in (0, 2/lr]: above 2/lr even GD increases the loss, so no sigma or n_samples helps")
    return eigval, grad_sq, lr, dof, gap


def max_sigma(eigval, grad_sq, lr, n_samples=1, *, dof=np.inf):
    r"""Largest perturbation standard deviation for which direction ``eigval`` still descends.

    Direction :math:`i` descends in expectation iff :math:`\sigma < \sigma^*`,

    .. math:: \sigma^{*2} = \frac{N_s\,c\,(2 - \eta\lambda)}{\eta\lambda^3},

    the inverse of :func:`vgd_threshold` in :math:`\sigma`, a standard
    deviation for every ``dof`` (so independent of ``dof``).

    Parameters
    ----------
    eigval : array_like
        :math:`\lambda` in (0, 2/lr]; above 2/lr no sigma works (DomainError).
    grad_sq, lr, n_samples, dof
        As in :func:`vgd_threshold`.

    Returns
    -------
    float or ndarray
        :math:`\sigma^* \ge 0`; 0 at ``eigval = 2/lr`` or ``grad_sq = 0``, where
        no perturbation keeps the direction strictly descending.
    """
    eigval, grad_sq, lr, dof, gap = _inverse_inputs(eigval, grad_sq, lr, dof)
    n = v.integer_at_least(n_samples, "n_samples", 1)
    v.broadcast_together(eigval=eigval, grad_sq=grad_sq, lr=lr, n_samples=n, dof=dof)
    out = root_of_product([(n, 1), (grad_sq, 1), (gap, 1), (lr, -1), (eigval, -3)], 2)
    return v.scalar_out(v.broadcast(out, dof), eigval, grad_sq, lr, n_samples, dof)


def min_n_samples(eigval, grad_sq, lr, sigma, *, dof=np.inf):
    r"""Smallest number of perturbation samples for which direction ``eigval`` descends.

    The smallest integer :math:`N_s \ge 1` with

    .. math:: N_s > \frac{\sigma^2\eta\lambda^3}{c\,(2-\eta\lambda)},

    (:math:`\sigma` the standard deviation, so independent of ``dof``), decided
    exactly (the comparison is made in exact arithmetic, so a critical value
    that is an integer is never rounded to the wrong side).

    Returns
    -------
    float or ndarray
        Integer-valued float, exact below 2**53; ``inf`` where no finite number
        suffices (``eigval = 2/lr``, or ``grad_sq = 0`` with ``sigma > 0``, or
        ``sigma = inf``). ``eigval > 2/lr`` raises DomainError.
    """
    eigval, grad_sq, lr, dof, gap = _inverse_inputs(eigval, grad_sq, lr, dof)
    sigma = v.nonnegative(sigma, "sigma")
    v.broadcast_together(eigval=eigval, grad_sq=grad_sq, lr=lr, sigma=sigma, dof=dof)
    both_inf = np.isinf(grad_sq) & np.isinf(sigma)
    v.require(grad_sq, ~both_inf, "grad_sq", "finite where sigma is infinite (inf/inf is indeterminate)")
    arrays = np.broadcast_arrays(eigval, grad_sq, lr, sigma, gap, dof)
    eigval, grad_sq, lr, sigma, gap = arrays[:-1]
    # No finite N_s helps when the deterministic part g^2 (lr*lam - 2) vanishes
    # or the noise is infinite; one sample suffices without noise or with c = inf.
    never = ~(grad_sq > 0) | ~(gap > 0) | np.isinf(sigma)
    one = ~never & ((sigma == 0) | np.isinf(grad_sq))
    ok = ~never & ~one
    crit = root_of_product([(np.where(ok, sigma, 1.0), 2), (lr, 1), (eigval, 3),
                            (np.where(ok, grad_sq, 1.0), -1), (np.where(ok, gap, 1.0), -1)], 1)
    exact = ok & (crit < 2.0**53)
    n = np.where(exact, np.floor(np.where(exact, crit, 0.0)) + 1.0, np.floor(crit) + 1.0)

    def excess(k):
        """Sign of k c (2 - lr lam) - sigma^2 lr lam^3, decided exactly."""
        out = np.ones(k.shape)
        if exact.any():
            out[exact] = rational(lambda k, c, r, lam, s: k * c * (2 - r * lam) - s * s * r * lam**3,
                                  *(a[exact] for a in (k, grad_sq, lr, eigval, sigma)))
        return out

    for _ in range(2):  # the rounded critical value is off by at most one
        n = np.where(exact & (excess(n) <= 0), n + 1.0, n)
        n = np.where(exact & (n > 1) & (excess(n - 1.0) > 0), n - 1.0, n)
    n = np.where(never, np.inf, np.where(one, 1.0, np.maximum(n, 1.0)))
    return v.scalar_out(n, eigval, grad_sq, lr, sigma, dof)
