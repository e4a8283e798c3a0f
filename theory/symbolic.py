r"""Symbolic derivation (sympy) of the stability results for VGD on a quadratic.

The numeric functions in :mod:`theory.quadratic` and :mod:`theory.vgd` state
closed forms; this module derives them from the model, so that each can be
traced back to the update rule. Per eigen-direction (scalar) the model is

.. math::

    \ell(\theta) = \tfrac12\lambda\theta^2, \qquad
    m_+ = m - \eta\,\frac1{N_s}\sum_{k=1}^{N_s}\ell'(m + e_k)
        = (1-\eta\lambda)\,m - \eta\lambda\bar e, \qquad
    \bar e \sim \mathcal N(0, \sigma^2/N_s),

with gradient component :math:`g = \lambda m`. Every ``*()`` function below
returns a sympy expression built from this model (the expectations are taken
with :mod:`sympy.stats`, the recursion is solved with :func:`sympy.rsolve`);
:func:`stated_forms` holds the formulas as they are written in the docstrings
of the numeric modules and in the paper, and :func:`verify` checks that the two
agree. :func:`lambdify_all` turns the derived expressions into NumPy or mpmath
callables.

Symbols (see :func:`symbols`): ``lam`` :math:`\lambda`, ``g``, ``m``, ``lr``
:math:`\eta`, ``sigma`` :math:`\sigma` (the perturbation's standard
deviation), ``scale`` :math:`s` (a Student-t law's scale), ``N_s`` :math:`N_s`, ``nu``
:math:`\nu` (Student-t degrees of freedom), ``z`` :math:`= N_s g^2/\sigma^2`,
``x`` (VF), ``w`` :math:`= z\eta^2/4`, ``t`` (step), ``m0`` and ``v0`` (mean
and variance of the initial :math:`m`).

Source: A. Ghosh et al., *Variational Learning Finds Flatter Solutions at the
Edge of Stability*, NeurIPS 2025, arXiv:2506.12903, Sec. 3 (quadratic analysis).

This module imports sympy; ``import theory`` does not import it.
"""

from __future__ import annotations

from functools import lru_cache
from types import SimpleNamespace

import sympy as sp
from sympy import stats

__all__ = [
    "symbols",
    "expected_loss_change",
    "threshold_cubic",
    "variational_factor_closed_form",
    "threshold_root_residual",
    "scaled_cubic",
    "student_t_variance",
    "student_t_expected_change",
    "second_moment_recursion",
    "expected_loss_after",
    "stationary_loss",
    "stated_forms",
    "verify",
    "lambdify_all",
]


@lru_cache(maxsize=None)
def symbols() -> SimpleNamespace:
    """The sympy symbols of the derivations, with their assumptions.

    Returns
    -------
    types.SimpleNamespace
        ``lam, lr, sigma, scale, nu, z, w, x`` positive; ``g, m, theta, m0`` real;
        ``N_s`` a positive integer; ``t`` a nonnegative integer; ``v0``
        nonnegative. (``nu > 2`` cannot be stated as an assumption: the
        Student-t derivation substitutes ``nu = 2 + k`` with ``k > 0``.)

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3 (notation).
    """
    pos = {"positive": True}
    return SimpleNamespace(
        lam=sp.Symbol("lam", **pos), lr=sp.Symbol("lr", **pos), sigma=sp.Symbol("sigma", **pos),
        scale=sp.Symbol("scale", **pos),
        nu=sp.Symbol("nu", **pos), z=sp.Symbol("z", **pos), w=sp.Symbol("w", **pos),
        x=sp.Symbol("x", **pos), g=sp.Symbol("g", real=True), m=sp.Symbol("m", real=True),
        theta=sp.Symbol("theta", real=True), m0=sp.Symbol("m0", real=True),
        v0=sp.Symbol("v0", nonnegative=True), Ns=sp.Symbol("N_s", positive=True, integer=True),
        t=sp.Symbol("t", integer=True, nonnegative=True),
    )


def _loss(theta):
    s = symbols()
    return s.lam * theta**2 / 2


def _step(noise):
    r"""One VGD step from ``m`` with averaged perturbation ``noise`` (:math:`\bar e`).

    The gradient :math:`\ell'(\theta) = \lambda\theta` is linear, so the average of
    :math:`\ell'(m + e_k)` over the samples is :math:`\ell'(m + \bar e)`.
    """
    s = symbols()
    grad = sp.diff(_loss(s.theta), s.theta)
    return s.m - s.lr * grad.subs(s.theta, s.m + noise)


def _change_from_moments(second_moment):
    """E[l(m+)] - l(m) for a perturbation with E[ebar] = 0 and E[ebar^2] = ``second_moment``, with m = g/lam."""
    s = symbols()
    e = sp.Dummy("ebar", real=True)
    after = sp.Poly(sp.expand(_loss(_step(e))), e)
    moments = {0: sp.Integer(1), 1: sp.Integer(0), 2: second_moment}  # the loss is quadratic in ebar
    change = sum(coeff * moments[k] for (k,), coeff in after.terms()) - _loss(s.m)
    return sp.factor(sp.simplify(change.subs(s.m, s.g / s.lam)))


@lru_cache(maxsize=None)
def expected_loss_change():
    r"""Expected one-step change of the loss, :math:`\mathbb E[\ell(m_+)] - \ell(m)`, derived.

    .. math::

        \mathbb E[\ell(m_+)] - \ell(m)
        = \frac{\eta}{2}\Big[g^2(\eta\lambda - 2) + \frac{\eta\lambda^3\sigma^2}{N_s}\Big].

    Derivation: :math:`\bar e` is a :func:`sympy.stats.Normal` with standard
    deviation :math:`\sigma/\sqrt{N_s}`, the expectation of
    :math:`\ell(m_+)` is taken with :func:`sympy.stats.E`, giving
    :math:`\tfrac\lambda2[((1-\eta\lambda)^2 - 1)m^2 + \eta^2\lambda^2\sigma^2/N_s]`,
    and :math:`m = g/\lambda` is substituted. With :math:`g = \lambda m` both
    sides are polynomials in :math:`(\lambda, m)`, so the identity holds for
    any real :math:`\lambda` although ``lam`` is declared positive.
    Numeric twin: :func:`theory.quadratic.expected_loss_change`.

    Returns
    -------
    sympy.Expr
        In ``lam, g, lr, sigma, N_s``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    ebar = stats.Normal("ebar", 0, s.sigma / sp.sqrt(s.Ns))
    change = stats.E(_loss(_step(ebar))) - _loss(s.m)
    return sp.factor(sp.simplify(change.subs(s.m, s.g / s.lam)))


@lru_cache(maxsize=None)
def threshold_cubic():
    r"""The cubic in :math:`\lambda` whose sign is the sign of the expected change.

    .. math::

        \mathbb E[\ell(m_+)] - \ell(m) = \frac{\eta^2\sigma^2}{2N_s}
        \big(\lambda^3 + z\lambda - 2z/\eta\big), \qquad z = \frac{N_s g^2}{\sigma^2}.

    Derivation: :func:`expected_loss_change` is divided by the positive factor
    :math:`\eta^2\sigma^2/(2N_s)` and :math:`g^2 = z\sigma^2/N_s` is substituted.
    The cubic is strictly increasing in :math:`\lambda` (derivative
    :math:`3\lambda^2 + z > 0`), so it has one real root :math:`\lambda^*`, and
    the direction descends in expectation iff :math:`\lambda < \lambda^*`.

    Returns
    -------
    sympy.Expr
        :math:`\lambda^3 + z\lambda - 2z/\eta`, in ``lam, z, lr``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    positive = s.lr**2 * s.sigma**2 / (2 * s.Ns)
    cubic = sp.expand(sp.expand(expected_loss_change() / positive).subs(s.g**2, s.z * s.sigma**2 / s.Ns))
    if cubic.has(s.g, s.sigma, s.Ns):
        raise ArithmeticError(f"the change does not depend on g, sigma, N_s through z alone: {cubic}")
    return cubic


@lru_cache(maxsize=None)
def variational_factor_closed_form():
    r"""The variational factor :math:`\mathrm{VF}(z) = \tfrac\eta2\lambda^*`, derived.

    .. math::

        \mathrm{VF}(z) = \eta\sqrt{z/3}\,
        \sinh\!\Big(\tfrac13\operatorname{arcsinh}\!\big(\tfrac3\eta\sqrt{3/z}\big)\Big).

    Derivation: the real root of a depressed cubic :math:`y^3 + py + q` with
    :math:`p > 0` is :math:`-2\sqrt{p/3}\,\sinh\big(\tfrac13\operatorname{arcsinh}
    (\tfrac{3q}{2p}\sqrt{3/p})\big)` (the hyperbolic form of Cardano's
    solution); :math:`p` and :math:`q` are read off :func:`threshold_cubic`
    (:math:`p = z`, :math:`q = -2z/\eta`) and :math:`\lambda^* = (2/\eta)\mathrm{VF}`.
    That this is the root is checked by :func:`threshold_root_residual`.
    Numeric twins: :func:`theory.vgd.variational_factor`,
    :func:`theory.vgd.vgd_threshold`.

    Returns
    -------
    sympy.Expr
        VF in ``z, lr``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    poly = sp.Poly(threshold_cubic(), s.lam)
    one, zero, p, q = poly.all_coeffs()
    if (one, zero) != (1, 0):
        raise ArithmeticError(f"threshold cubic is not monic and depressed: {poly}")
    root = -2 * sp.sqrt(p / 3) * sp.sinh(sp.asinh(3 * q / (2 * p) * sp.sqrt(3 / p)) / 3)
    return sp.simplify(s.lr * root / 2)


@lru_cache(maxsize=None)
def threshold_root_residual():
    r"""The cubic of :func:`threshold_cubic` at :math:`\lambda^* = (2/\eta)\mathrm{VF}`, reduced to 0.

    With :math:`u = \tfrac13\operatorname{arcsinh}\big(\tfrac3\eta\sqrt{3/z}\big)`,
    :math:`\lambda^* = 2\sqrt{z/3}\sinh u` and the cubic is
    :math:`2(z/3)^{3/2}(4\sinh^3u + 3\sinh u) - 2z/\eta`. The triple-angle
    identity :math:`\sinh 3u = 4\sinh^3u + 3\sinh u` (itself obtained here from
    :func:`sympy.expand_trig` and :math:`\cosh^2 = 1 + \sinh^2`) turns this into
    :math:`2(z/3)^{3/2}\,\tfrac3\eta\sqrt{3/z} - 2z/\eta = 0`. The reduction is
    fully symbolic (no numeric evaluation is needed).

    Returns
    -------
    sympy.Expr
        The reduced residual, ``0``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    vf = variational_factor_closed_form()
    (sinh_u,) = vf.atoms(sp.sinh)
    u, S = sp.Dummy("u", real=True), sp.Dummy("S", real=True)
    triple = sp.expand(sp.expand_trig(sp.sinh(3 * u)).subs(sp.cosh(u) ** 2, 1 + sp.sinh(u) ** 2))
    triple = triple.subs(sp.sinh(u), S)  # 4 S**3 + 3 S, with S = sinh(u)
    residual = sp.expand(threshold_cubic().subs(s.lam, 2 * vf / s.lr)).subs(sinh_u, S)
    # reduce modulo S**3 = (sinh(3u) - 3 S)/4; sinh(3u) = sinh(asinh(...)) = the argument
    reduced = sp.rem(residual, triple - sp.sinh(3 * sinh_u.args[0]), S)
    return sp.simplify(reduced)


@lru_cache(maxsize=None)
def scaled_cubic():
    r"""The threshold cubic in the variables :math:`x = \mathrm{VF}`, :math:`w = z\eta^2/4`.

    .. math:: x^3 + wx - w = 0.

    Derivation: substitute :math:`\lambda = 2x/\eta` in :func:`threshold_cubic`,
    multiply by :math:`\eta^3/8 > 0` and put :math:`z = 4w/\eta^2`. So VF depends
    on :math:`z` and :math:`\eta` only through :math:`w`, and lies in (0, 1)
    (the cubic is :math:`-w < 0` at 0 and :math:`1 > 0` at 1).

    Returns
    -------
    sympy.Expr
        :math:`x^3 + wx - w`, in ``x, w``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    cubic = sp.expand(threshold_cubic().subs(s.lam, 2 * s.x / s.lr) * s.lr**3 / 8)
    return sp.expand(cubic.subs(s.z, 4 * s.w / s.lr**2))


@lru_cache(maxsize=None)
def _student_t_moments():
    s = symbols()
    k, y = sp.Dummy("k", positive=True), sp.Dummy("y", real=True)
    density = stats.density(stats.StudentT("T", 2 + k))(y)  # nu = 2 + k > 2
    mean = sp.integrate(y * density, (y, -sp.oo, sp.oo))
    second = sp.integrate(y**2 * density, (y, -sp.oo, sp.oo))
    return tuple(sp.simplify(sp.gammasimp(v)).subs(k, s.nu - 2) for v in (mean, second))


def student_t_variance():
    r"""Variance of a Student-t perturbation :math:`e = sT` of scale :math:`s`, :math:`T \sim t_\nu`, derived.

    .. math:: \operatorname{Var}(e) = s^2\frac{\nu}{\nu - 2}, \qquad \nu > 2.

    Derivation: :math:`\mathbb E[T^2]` is integrated against the density of
    :func:`sympy.stats.StudentT` (sympy's moment generating function route
    fails: the t distribution has none), with :math:`\nu = 2 + k`, :math:`k > 0`;
    :math:`\mathbb E[T] = 0`. For :math:`\nu \le 2` the integral diverges.
    The perturbation of standard deviation :math:`\sigma` therefore has
    scale :math:`s = \sigma\sqrt{(\nu-2)/\nu}`. Numeric twins:
    :func:`theory.vgd.perturbation_variance`, :func:`theory.vgd.perturbation_scale`.

    Returns
    -------
    sympy.Expr
        :math:`s^2\nu/(\nu-2)`, in ``scale, nu``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3 (heavy-tailed
    perturbations); the t-distribution variance is classical.
    """
    s = symbols()
    mean, second = _student_t_moments()
    return sp.factor(s.scale**2 * (second - mean**2))


@lru_cache(maxsize=None)
def student_t_expected_change():
    r"""Expected one-step change with Student-t perturbations (:math:`\nu > 2`, standard deviation :math:`\sigma`).

    .. math::

        \mathbb E[\ell(m_+)] - \ell(m)
        = \frac{\eta}{2}\Big[g^2(\eta\lambda - 2) + \frac{\eta\lambda^3\sigma^2}{N_s}\Big],

    the Gaussian result, whatever :math:`\nu`. Derivation: :math:`\ell(m_+)`
    is a quadratic polynomial in :math:`\bar e`, so its expectation needs only
    :math:`\mathbb E[\bar e] = 0` and :math:`\mathbb E[\bar e^2] =
    \operatorname{Var}(e)/N_s` (independent samples), with
    :math:`\operatorname{Var}(e)` from :func:`student_t_variance` at the scale
    :math:`s = \sigma\sqrt{(\nu-2)/\nu}` of the perturbation of standard
    deviation :math:`\sigma`. Numeric twin:
    :func:`theory.quadratic.expected_loss_change` with ``dof``.

    Returns
    -------
    sympy.Expr
        In ``lam, g, lr, sigma, N_s, nu``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    mean, _ = _student_t_moments()
    if mean != 0:
        raise ArithmeticError(f"Student-t mean should be 0, got {mean}")
    scale = s.sigma * sp.sqrt((s.nu - 2) / s.nu)
    return _change_from_moments(student_t_variance().subs(s.scale, scale) / s.Ns)


@lru_cache(maxsize=None)
def _solved_recursion():
    """``(M_t, A, C)``: the solution of M(t+1) = A M(t) + C, M(0) = m0**2 + v0, with A, C placeholders.

    rsolve's answer ``P A**t + Q`` is returned as ``A**t M_0 + Q (1 - A**t)``
    (fixed point ``Q = C/(1-A)``, ``P = M_0 - Q``): the same expression, but a
    sum of nonnegative terms, so it evaluates without cancellation.
    """
    s = symbols()
    M, A, C = sp.Function("M"), sp.Dummy("A", positive=True), sp.Dummy("C", positive=True)
    m_0 = s.m0**2 + s.v0
    solution = sp.expand(sp.rsolve(M(s.t + 1) - A * M(s.t) - C, M(s.t), {M(0): m_0}))
    fixed = sp.factor(solution - solution.coeff(A**s.t) * A**s.t)
    rewritten = A**s.t * m_0 + fixed * (1 - A**s.t)
    if sp.simplify(solution - rewritten) != 0:
        raise ArithmeticError(f"unexpected form of the solved recursion: {solution}")
    return rewritten, A, C


@lru_cache(maxsize=None)
def second_moment_recursion() -> SimpleNamespace:
    r"""Recursion for :math:`M_t = \mathbb E[m_t^2]` under VGD, and its solution.

    .. math::

        M_{t+1} = a^2 M_t + c, \qquad a = 1 - \eta\lambda, \quad
        c = \frac{\eta^2\lambda^2\sigma^2}{N_s}, \qquad M_0 = m_0^2 + v_0,

        M_t = a^{2t}(m_0^2 + v_0) + c\,\frac{1 - a^{2t}}{1 - a^2}.

    Derivation: :math:`\mathbb E[m_+^2 \mid m]` is taken with
    :func:`sympy.stats.E`; it is :math:`a^2m^2 + c` (the cross term vanishes,
    :math:`\mathbb E\bar e = 0`), linear in :math:`m^2`, so the tower property
    gives the recursion, which :func:`sympy.rsolve` solves (valid for
    :math:`a^2 \ne 1`; at :math:`a^2 = 1` the fraction is its limit :math:`t`).

    Returns
    -------
    types.SimpleNamespace
        ``a2`` (:math:`a^2`), ``c``, ``recursion`` (a :class:`sympy.Eq` in the
        function ``M``), ``solution`` (:math:`M_t` in ``t, m0, v0``).

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3; numeric twin
    :func:`theory.quadratic.expected_loss`.
    """
    s = symbols()
    ebar = stats.Normal("ebar", 0, s.sigma / sp.sqrt(s.Ns))
    a2, cross, c = sp.Poly(sp.expand(stats.E(_step(ebar) ** 2)), s.m).all_coeffs()
    a = 1 - s.lr * s.lam
    if cross != 0 or sp.expand(a2 - a**2) != 0:
        raise ArithmeticError(f"unexpected conditional second moment: {a2}, {cross}, {c}")
    a2, c = a**2, sp.factor(c)  # a2 written as (1 - lr*lam)**2
    solution, A, C = _solved_recursion()
    M = sp.Function("M")
    return SimpleNamespace(a2=a2, c=c, recursion=sp.Eq(M(s.t + 1), a2 * M(s.t) + c),
                           solution=solution.subs({A: a2, C: c}))


def expected_loss_after(t=None):
    r"""Expected loss :math:`\mathbb E[\ell_t] = \tfrac\lambda2 M_t` after ``t`` VGD steps.

    .. math::

        \mathbb E[\ell_t] = \frac\lambda2\Big[a^{2t}(m_0^2 + v_0)
        + c\,\frac{1 - a^{2t}}{1 - a^2}\Big],
        \qquad a = 1-\eta\lambda,\ c = \frac{\eta^2\lambda^2\sigma^2}{N_s},

    from :func:`second_moment_recursion`. ``t=None`` keeps the symbol ``t``;
    an integer substitutes it; ``sigma`` is the standard deviation, so it holds
    for Student-t perturbations as it stands. Numeric twin:
    :func:`theory.quadratic.expected_loss` (``mean_proj`` = m0, ``init_var`` = v0).

    Returns
    -------
    sympy.Expr
        In ``lam, m0, v0, lr, sigma, N_s`` and ``t`` (unless substituted).

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    out = s.lam / 2 * second_moment_recursion().solution
    return out if t is None else out.subs(s.t, t)


@lru_cache(maxsize=None)
def stationary_loss():
    r"""Limit of :func:`expected_loss_after` as :math:`t\to\infty`, for :math:`|1-\eta\lambda| < 1`.

    .. math:: \lim_{t\to\infty}\mathbb E[\ell_t] = \frac{\eta\lambda^2\sigma^2}{2N_s(2-\eta\lambda)}.

    Derivation: with :math:`a^2 = 1/(1+q)`, :math:`q > 0` (exactly the case
    :math:`0 < a^2 < 1`), :func:`sympy.limit` in :math:`t` of the solved
    recursion; independent of :math:`m_0, v_0`. Numeric twin:
    :func:`theory.quadratic.stationary_loss`.

    Returns
    -------
    sympy.Expr
        In ``lam, lr, sigma, N_s``.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    rec = second_moment_recursion()
    solution, A, C = _solved_recursion()
    q = sp.Dummy("q", positive=True)
    limit = sp.limit(solution.subs(A, 1 / (1 + q)), s.t, sp.oo).subs(q, 1 / A - 1)
    return sp.factor(sp.simplify(s.lam / 2 * limit.subs({A: rec.a2, C: rec.c})))


def stated_forms() -> dict:
    """The formulas as stated (typed in, not derived), keyed like :func:`verify`.

    These are the forms in the docstrings of :mod:`theory.quadratic` and
    :mod:`theory.vgd` and in Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    s = symbols()
    lam, g, lr, sig2, Ns, nu, z, t = s.lam, s.g, s.lr, s.sigma**2, s.Ns, s.nu, s.z, s.t
    a, c = 1 - lr * lam, lr**2 * lam**2 * sig2 / Ns
    return {
        "expected_loss_change": lr / 2 * (g**2 * (lr * lam - 2) + lr * lam**3 * sig2 / Ns),
        "threshold_cubic": lam**3 + z * lam - 2 * z / lr,
        "variational_factor": lr * sp.sqrt(z / 3) * sp.sinh(sp.asinh(3 / lr * sp.sqrt(3 / z)) / 3),
        "scaled_cubic": s.x**3 + s.w * s.x - s.w,
        "student_t_variance": s.scale**2 * nu / (nu - 2),
        "student_t_expected_change": lr / 2 * (g**2 * (lr * lam - 2) + lr * lam**3 * sig2 / Ns),
        "expected_loss_after": lam / 2 * (a ** (2 * t) * (s.m0**2 + s.v0) + c * (1 - a ** (2 * t)) / (1 - a**2)),
        "stationary_loss": lr * lam**2 * sig2 / (2 * Ns * (2 - lr * lam)),
    }


def verify() -> dict:
    """Check every derivation: ``{name: True}`` where derived minus stated simplifies to 0.

    Also ``"threshold_root"``: :func:`threshold_root_residual` is 0, i.e.
    :math:`(2/\\eta)\\mathrm{VF}` solves the threshold cubic.
    """
    derived = {
        "expected_loss_change": expected_loss_change(),
        "threshold_cubic": threshold_cubic(),
        "variational_factor": variational_factor_closed_form(),
        "scaled_cubic": scaled_cubic(),
        "student_t_variance": student_t_variance(),
        "student_t_expected_change": student_t_expected_change(),
        "expected_loss_after": expected_loss_after(),
        "stationary_loss": stationary_loss(),
    }
    out = {k: sp.simplify(derived[k] - v) == 0 for k, v in stated_forms().items()}
    out["threshold_root"] = threshold_root_residual() == 0
    return out


def lambdify_all(modules: str = "mpmath") -> dict:
    """Numeric callables for the derived expressions (``modules``: ``"mpmath"`` or ``"numpy"``).

    Returns
    -------
    dict
        name -> function, with positional arguments

        - ``expected_loss_change(lam, g, lr, sigma, N_s)``
        - ``student_t_expected_change(lam, g, lr, sigma, N_s, nu)``
        - ``student_t_variance(scale, nu)``
        - ``threshold_cubic(lam, z, lr)``, ``scaled_cubic(x, w)``
        - ``variational_factor(z, lr)``, ``threshold(z, lr)`` (:math:`(2/\\eta)\\mathrm{VF}`)
        - ``expected_loss_after(lam, m0, lr, sigma, N_s, t, v0)``
        - ``stationary_loss(lam, lr, sigma, N_s)``

    Notes
    -----
    With ``"mpmath"`` the constants are evaluated at the working precision of
    the call (``mpmath.mp.dps``), so exact float inputs give results to that
    precision.

    References
    ----------
    Ghosh et al. (2025), arXiv:2506.12903, Sec. 3.
    """
    return dict(_lambdified(modules))


@lru_cache(maxsize=None)
def _lambdified(modules):
    s = symbols()
    vf = variational_factor_closed_form()
    table = {
        "expected_loss_change": ((s.lam, s.g, s.lr, s.sigma, s.Ns), expected_loss_change()),
        "student_t_expected_change": ((s.lam, s.g, s.lr, s.sigma, s.Ns, s.nu), student_t_expected_change()),
        "student_t_variance": ((s.scale, s.nu), student_t_variance()),
        "threshold_cubic": ((s.lam, s.z, s.lr), threshold_cubic()),
        "scaled_cubic": ((s.x, s.w), scaled_cubic()),
        "variational_factor": ((s.z, s.lr), vf),
        "threshold": ((s.z, s.lr), 2 * vf / s.lr),
        "expected_loss_after": ((s.lam, s.m0, s.lr, s.sigma, s.Ns, s.t, s.v0), expected_loss_after()),
        "stationary_loss": ((s.lam, s.lr, s.sigma, s.Ns), stationary_loss()),
    }
    return {name: sp.lambdify(args, expr, modules=modules) for name, (args, expr) in table.items()}
