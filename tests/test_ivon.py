"""theory.ivon: Algorithm 1 transcriptions, posterior scale, the adaptive edge and the trajectories at it."""

from __future__ import annotations

import doctest
import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import theory.ivon
from theory import DomainError
from theory.ivon import (
    IVONState,
    adaptive_spectral_radius,
    adaptive_threshold,
    ivon_init,
    ivon_sample,
    ivon_step,
    posterior_std,
    preconditioned_sharpness,
    preconditioner,
)
from theory.quadratic import gd_threshold
from theory.sam import locate_threshold

# local names kept where a test uses them: hypothesis derives its examples from the test's source
from reference import mp_adaptive_threshold as mp_adaptive

EPS = np.finfo(float).eps


# ---------------------------------------------------------------- Algorithm 1, literally

def algorithm1(state, ghat, eps, *, lr, ess, beta1, beta2, delta, clip=math.inf, debias=True):
    """Shen et al. (2024), Algorithm 1, one iteration, transcribed line by line in scalar Python.

    ``ghat[s][i]`` is the gradient of draw ``s`` at theta = m + sigma * eps[s].
    """
    m, h, g, t = (list(map(float, state.mean)), list(map(float, state.hess)),
                  list(map(float, state.momentum)), state.step + 1)
    S = len(ghat)
    m_new, h_new, g_new = [], [], []
    for i in range(len(m)):
        sigma2 = 1.0 / (ess * (h[i] + delta))                  # sigma <- 1/sqrt(lambda (h + delta))
        sigma = math.sqrt(sigma2)
        theta = [m[i] + sigma * eps[s][i] for s in range(S)]   # theta ~ q
        gh = sum(ghat[s][i] for s in range(S)) / S              # g^ <- grad l(theta)
        hh = sum(ghat[s][i] * (theta[s] - m[i]) / sigma2 for s in range(S)) / S   # h^ <- g^ (theta - m)/sigma^2
        gi = beta1 * g[i] + (1 - beta1) * gh                    # g <- b1 g + (1 - b1) g^
        # h <- b2 h + (1 - b2) h^ + (1 - b2)^2/2 (h - h^)^2/(h + delta)
        hi = (beta2 * h[i] + (1 - beta2) * hh
              + 0.5 * (1 - beta2) ** 2 * (h[i] - hh) ** 2 / (h[i] + delta))
        gbar = gi / (1 - beta1 ** t) if debias else gi          # g_bar <- g/(1 - b1^t)
        step = (gbar + delta * m[i]) / (hi + delta)             # m <- m - alpha (g_bar + delta m)/(h + delta)
        step = min(max(step, -clip), clip)
        m_new.append(m[i] - lr * step)
        h_new.append(hi)
        g_new.append(gi)
    return IVONState(np.array(m_new), np.array(h_new), np.array(g_new), t)


def reference_update(state, ghat, eps, *, lr, ess, beta1, beta2, delta, clip=np.inf, debias=True):
    """The reference implementation (team-approx-bayes/ivon, IVON._update and helpers) in NumPy.

    The draw is stored as noise = sigma * eps; the Hessian estimate is
    mean(noise * g) * (hess + wd) * ess ('price' method).
    """
    m, h, g = state.mean, state.hess, state.momentum
    sigma = 1.0 / np.sqrt(ess * (h + delta))
    noise = sigma * np.asarray(eps)
    avg_grad = np.mean(ghat, axis=0)
    avg_nxg = np.mean(noise * np.asarray(ghat), axis=0)
    momentum = beta1 * g + (1.0 - beta1) * avg_grad                            # _new_momentum
    f = avg_nxg * (h + delta) * ess                                            # _new_hess
    hess = beta2 * h + (1.0 - beta2) * f + (0.5 * (1 - beta2) ** 2) * (h - f) ** 2 / (h + delta)
    deb = 1.0 - beta1 ** float(state.step + 1) if debias else 1.0
    mean = m - lr * np.clip((momentum / deb + delta * m) / (hess + delta), -clip, clip)   # _new_param_averages
    return IVONState(mean, hess, momentum, state.step + 1)


def _random_case(seed, samples):
    rng = np.random.default_rng(seed)
    P = 7
    state = IVONState(rng.normal(0, 1, P), rng.uniform(0.05, 5.0, P), rng.normal(0, 0.3, P),
                      int(rng.integers(0, 50)))
    eps = rng.standard_normal((samples, P))
    kw = dict(lr=float(rng.uniform(1e-3, 0.5)), ess=float(10 ** rng.uniform(0, 3)),
              beta1=float(rng.choice([0.0, 0.5, 0.9])), beta2=float(rng.choice([0.9, 0.999, 0.99999, 1.0])),
              delta=float(rng.choice([0.0, 1e-4, 0.1])))
    # a non-quadratic loss per coordinate, evaluated at the sample
    theta = ivon_sample(state.mean, state.hess, eps, ess=kw["ess"], weight_decay=kw["delta"])
    ghat = np.sin(theta) + 0.7 * theta ** 3
    return state, ghat, eps, kw


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), samples=st.integers(1, 4), debias=st.booleans())
def test_step_matches_a_literal_transcription_of_algorithm1(seed, samples, debias):
    state, ghat, eps, kw = _random_case(seed, samples)
    got = ivon_step(state, ghat if samples > 1 else ghat[0], eps if samples > 1 else eps[0],
                    lr=kw["lr"], ess=kw["ess"], beta1=kw["beta1"], beta2=kw["beta2"],
                    weight_decay=kw["delta"], debias=debias)
    want = algorithm1(state, ghat, eps, debias=debias, **kw)
    ref = reference_update(state, ghat, eps, debias=debias, **kw)
    for a, b, c in zip(got[:3], want[:3], ref[:3]):
        # Algorithm 1 forms theta - m, which loses digits when sigma << |m|
        assert np.allclose(a, b, rtol=1e-10, atol=1e-12)
        assert np.allclose(a, c, rtol=1e-12, atol=1e-14)
    assert got.step == want.step == state.step + 1


def test_clipping_and_several_steps_match_the_transcription():
    state, ghat, eps, kw = _random_case(5, 2)
    a = b = state
    rng = np.random.default_rng(1)
    for _ in range(20):
        eps = rng.standard_normal((2, 7))
        theta = ivon_sample(a.mean, a.hess, eps, ess=kw["ess"], weight_decay=kw["delta"])
        ghat = 3.0 * theta + np.cos(theta)
        a = ivon_step(a, ghat, eps, lr=kw["lr"], ess=kw["ess"], beta1=kw["beta1"], beta2=kw["beta2"],
                      weight_decay=kw["delta"], clip_radius=0.05)
        b = algorithm1(b, ghat, eps, clip=0.05, **kw)
        assert np.allclose(a.mean, b.mean, rtol=1e-9) and np.allclose(a.hess, b.hess, rtol=1e-9)
    assert a.step == 20 + state.step


def test_first_step_with_the_reference_lr_rescaling_is_an_sgd_step():
    # the reference implementation's default uses lr * (h0 + delta); with h frozen at h0 (beta2 = 1)
    # and bias correction the first step is m - lr (g + delta m): SGD with weight decay
    h0, delta, lr = 2.5, 1e-2, 0.1
    m0 = np.array([1.0, -3.0, 0.25])
    state = ivon_init(m0, h0)
    g = np.array([0.4, 1.0, -2.0])
    new = ivon_step(state, g, np.zeros(3), lr=lr * (h0 + delta), ess=10.0, beta1=0.9, beta2=1.0,
                    weight_decay=delta)
    assert np.allclose(new.mean, m0 - lr * (g + delta * m0), rtol=1e-14)


@settings(max_examples=100, deadline=None)
@given(h=st.floats(-0.99, 1e6), hhat_scale=st.floats(-1e8, 1e8), beta2=st.floats(0, 1), delta=st.floats(1.0, 2.0))
def test_hessian_update_keeps_the_preconditioner_positive(h, hhat_scale, beta2, delta):
    # h+ + delta = (h + delta) ((1 + r w)^2 + 1)/2 > 0, r = 1 - beta2, w = (h^ - h)/(h + delta)
    state = IVONState(np.zeros(1), np.array([h]), np.zeros(1), 0)
    eps = np.array([1.0])
    sigma = posterior_std(h, delta, 1.0)
    g = np.array([hhat_scale * sigma])          # so that h^ = g eps / sigma = hhat_scale
    new = ivon_step(state, g, eps, lr=0.1, ess=1.0, beta1=0.0, beta2=beta2, weight_decay=delta)
    p, r, w = h + delta, 1 - beta2, (hhat_scale - h) / (h + delta)
    assert new.hess[0] + delta > 0
    assert new.hess[0] + delta == pytest.approx(p * ((1 + r * w) ** 2 + 1) / 2, rel=1e-9,
                                                abs=1e-9 * p * (1 + r * abs(w)) ** 2)


def test_hessian_estimate_is_unbiased_on_a_quadratic():
    """Reparametrisation trick: E[g^ (theta - m)/sigma^2] = the curvature (Stein's lemma / Price's theorem)."""
    rng = np.random.default_rng(42)
    curv = np.array([0.5, 2.0, 7.0])
    m, h, delta, ess = np.array([0.3, -1.0, 2.0]), np.array([1.0, 3.0, 0.2]), 1e-3, 4.0
    n = 200_000
    eps = rng.standard_normal((n, 3))
    theta = ivon_sample(m, h, eps, ess=ess, weight_decay=delta)
    ghat = curv * theta
    hhat = ghat * eps * np.sqrt(ess * (h + delta))        # g^ (theta - m)/sigma^2
    est, se = hhat.mean(axis=0), hhat.std(axis=0) / np.sqrt(n)
    assert np.all(np.abs(est - curv) < 5 * se)
    # one ivon_step with beta2 = 0 sets h to that average (the correction term vanishes at h = h^ only)
    new = ivon_step(IVONState(m, h, np.zeros(3), 0), ghat, eps, lr=0.1, ess=ess, beta1=0.0, beta2=0.0,
                    weight_decay=delta)
    assert np.allclose(new.hess, est + 0.5 * (h - est) ** 2 / (h + delta), rtol=1e-10)


# ---------------------------------------------------------------- posterior scale, preconditioner

@settings(max_examples=100, deadline=None)
@given(h=st.floats(0, 1e300), delta=st.floats(1e-300, 1e3), ess=st.floats(1e-300, 1e300))
def test_posterior_std_matches_mpmath(h, delta, ess):
    with mp.workdps(40):
        exact = 1 / mp.sqrt(mp.mpf(ess) * (mp.mpf(h) + mp.mpf(delta)))
    got = posterior_std(h, delta, ess)
    assert abs(mp.mpf(got) - exact) <= 3 * EPS * exact


def test_posterior_std_and_preconditioner_values():
    assert posterior_std(3.0, 1.0, 4.0) == 0.25
    assert preconditioner(3.0, 1.0) == 4.0
    assert posterior_std(1e300, 1e-4, 1e300) == pytest.approx(1e-300, rel=2 * EPS)   # product would overflow
    out = posterior_std(np.array([[1.0], [3.0]]), 1.0, np.array([1.0, 4.0, 16.0]))
    assert out.shape == (2, 3) and out[1, 2] == 0.125
    state = ivon_init(np.zeros(4), 0.5)
    assert np.array_equal(state.hess, np.full(4, 0.5)) and state.step == 0
    eps = np.array([1.0, -1.0, 0.0, 2.0])
    assert np.array_equal(ivon_sample(state.mean, state.hess, eps, ess=1.0, weight_decay=0.5), eps)


# ---------------------------------------------------------------- the adaptive edge

@settings(max_examples=150, deadline=None)
@given(lr=st.floats(1e-300, 1e300), beta1=st.one_of(st.floats(0, 1 - 2**-52), st.sampled_from([0.0, 0.9, 0.99, 0.999])))
def test_adaptive_threshold_matches_mpmath(lr, beta1):
    exact = mp_adaptive(lr, beta1)
    got = adaptive_threshold(lr, beta1)
    if exact > np.finfo(float).max:
        assert got == np.inf
    else:
        assert abs(mp.mpf(got) - exact) <= 2.5 * EPS * exact


def test_adaptive_threshold_values_and_limits():
    assert adaptive_threshold(0.1) == gd_threshold(0.1) == 20.0      # beta1 = 0: the GD edge, exactly
    for lr in (1e-3, 0.1, 7.0):
        assert adaptive_threshold(lr, 0.0) == 2.0 / lr
        assert adaptive_threshold(lr, 0.9) == pytest.approx(38.0 / lr, rel=4 * EPS)
    assert adaptive_threshold(1.0, 0.5) == 6.0
    t = adaptive_threshold(0.1, np.array([0.0, 0.5, 0.9, 0.99]))
    assert np.all(np.diff(t) > 0)                                       # momentum raises the edge


@settings(max_examples=100, deadline=None)
@given(lr=st.floats(1e-3, 10), beta1=st.floats(0, 0.999), frac=st.floats(0.01, 3.0))
def test_spectral_radius_crosses_one_at_the_edge(lr, beta1, frac):
    edge = adaptive_threshold(lr, beta1)
    s = frac * edge
    roots = np.roots([1.0, -(1 + beta1 - (1 - beta1) * lr * s), beta1])
    r = adaptive_spectral_radius(s, lr, beta1)
    assert r == pytest.approx(np.max(np.abs(roots)), rel=1e-6, abs=1e-12)
    if abs(frac - 1) > 1e-6:
        assert (r < 1) == (frac < 1)
    below = adaptive_spectral_radius(edge * (1 - 1e-9), lr, beta1)
    above = adaptive_spectral_radius(edge * (1 + 1e-9), lr, beta1)
    assert below < 1 < above


def ema_recursion(s, lr, beta1, steps, *, debias=False, m0=1.0):
    """Preconditioned EMA momentum on l = (s p/2) m^2 with preconditioner p (only s = lambda/p matters).

    g <- beta1 g + (1 - beta1) s m,  m <- m - lr g / (1 - beta1^t)   (vectorised over s)
    Returns |m| after steps // 2 and after steps.
    """
    s = np.asarray(s, dtype=float)
    m, g = np.full_like(s, m0), np.zeros_like(s)
    half = None
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(1, steps + 1):
            g = beta1 * g + (1 - beta1) * s * m
            m = m - lr * (g / (1 - beta1**t) if debias else g)
            if t == steps // 2:
                half = np.abs(m)
    return half, np.abs(m)


@pytest.mark.parametrize("debias", [False, True])
def test_which_bound_holds_for_ivon_default_momentum(debias):
    """beta1 = 0.9: sharpness 10x above 2/lr still decays; the edge is 38/lr, not 2/lr."""
    lr, beta1 = 0.05, 0.9
    s = np.array([2 / lr * (1 + 1e-6), 10 * 2 / lr, 38 / lr * (1 - 1e-6), 38 / lr * (1 + 1e-6)])
    s[2:] = adaptive_threshold(lr, beta1) * np.array([1 - 1e-6, 1 + 1e-6])
    half, end = ema_recursion(s, lr, beta1, 4000, debias=debias)
    grows = end > half
    assert list(grows) == [False, False, False, True]
    # and the per-step factor of the surviving mode is the spectral radius
    rate = (end / half) ** (1 / 2000)
    assert np.allclose(rate[2:], adaptive_spectral_radius(s[2:], lr, beta1), rtol=1e-9)


def test_without_momentum_the_edge_is_two_over_lr():
    lr = 0.05
    s = 2 / lr * np.array([1 - 1e-6, 1 + 1e-6])
    half, end = ema_recursion(s, lr, 0.0, 4000)
    assert list(end > half) == [False, True]


def _ivon_map(lr, beta1, p, *, debias=True):
    """IVON's mean update on l = lam/2 m^2 through ivon_step: no noise, h = p frozen (beta2 = 1), delta = 0.

    state columns: mean, momentum. ivon_step must hand h back unchanged.
    """
    def step(lam, state, t):
        current = IVONState(state[:, 0], p, state[:, 1], t - 1)
        new = ivon_step(current, lam[:, 0] * current.mean, np.zeros(len(state)), lr=lr, ess=1.0,
                        beta1=beta1, beta2=1.0, weight_decay=0.0, debias=debias)
        assert np.array_equal(new.hess, p)
        return np.stack([new.mean, new.momentum], axis=-1)
    return step


def test_ivon_trajectory_diverges_exactly_at_the_adaptive_edge():
    """Bisection on the eigenvalue of the observed divergence of ivon_step iterations.

    Rows: beta1 in {0, 0.5, 0.9} x preconditioner p in {0.5, 3}; the edge in lam is
    p * adaptive_threshold(lr, beta1). Bias correction on (IVON's default). 300 steps:
    the second root (-beta1 at the edge) has decayed by step 150 to 0.9**150 = 1e-7
    of the first, which biases the located edge by < 1e-7 at beta1 = 0.9.
    """
    beta1 = np.repeat([0.0, 0.5, 0.9], 2)
    p = np.tile([0.5, 3.0], 3)
    lr = 0.1
    edge = p * adaptive_threshold(lr, beta1)
    found = locate_threshold(_ivon_map(lr, beta1, p), 0.5 * edge, 2.0 * edge, [1.0, 0.0], steps=300,
                             size=lambda s: np.abs(s[:, 0]), rtol=1e-7)
    assert np.max(np.abs(found / edge - 1)) < 1e-6, found / edge - 1
    # 2/lr (in lam: 2 p/lr) is the edge only without momentum; at beta1 = 0.9 it is 19 times higher
    assert np.allclose(found[:2], 2 * p[:2] / lr, rtol=1e-6)
    assert np.allclose(found[4:], 19 * 2 * p[4:] / lr, rtol=1e-6)


@pytest.mark.parametrize("debias", [True, False])
def test_ivon_step_is_the_preconditioned_ema_recursion(debias):
    """Without noise, with h frozen and delta = 0, ivon_step's mean follows ema_recursion with s = lam/p."""
    beta1 = np.repeat([0.0, 0.5, 0.9], 2)
    p = np.tile([0.5, 3.0], 3)
    lr = 0.1
    lam = p * adaptive_threshold(lr, beta1) * np.tile([0.97, 1.03], 3)
    step = _ivon_map(lr, beta1, p, debias=debias)
    state = np.tile([1.0, 0.0], (6, 1))
    for t in range(1, 201):
        state = step(lam[:, None], state, t)
    m, g = np.ones(6), np.zeros(6)
    for t in range(1, 201):
        g = beta1 * g + (1 - beta1) * (lam / p) * m
        m = m - lr * (g / (1 - beta1**t) if debias else g)
    assert np.allclose(state[:, 0], m, rtol=1e-10)


def test_ema_recursion_bisection_locates_the_edge_to_rounding():
    """The same bisection on the (fast) recursion itself, 800 steps: the edge to ~1e-12."""
    beta1 = np.array([0.0, 0.3, 0.5, 0.8, 0.9])
    lr = np.array([0.1, 1.0, 0.01, 0.05, 2.0])
    edge = adaptive_threshold(lr, beta1)

    def step(s, state, t):
        g = beta1[:, None] * state[:, 1:] + (1 - beta1[:, None]) * s * state[:, :1]
        m = state[:, :1] - lr[:, None] * g / (1 - beta1[:, None] ** t)
        return np.concatenate([m, g], axis=1)

    found = locate_threshold(step, 0.5 * edge, 2.0 * edge, [1.0, 0.0], steps=800,
                             size=lambda s: np.abs(s[:, 0]), rtol=1e-13)
    assert np.max(np.abs(found / edge - 1)) < 1e-11, found / edge - 1


def test_preconditioned_sharpness():
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 5))
    hess = a @ a.T
    p = rng.uniform(0.5, 3.0, 5)
    want = np.max(np.linalg.eigvals(np.diag(1 / p) @ hess).real)
    assert preconditioned_sharpness(hess, p) == pytest.approx(want, rel=1e-12)
    assert preconditioned_sharpness(np.diag([2.0, 8.0]), [1.0, 4.0]) == 2.0


def test_docstring_examples():
    assert doctest.testmod(theory.ivon, optionflags=doctest.NORMALIZE_WHITESPACE).failed == 0


# ---------------------------------------------------------------- bad input

_S = IVONState(np.zeros(2), np.ones(2), np.zeros(2), 0)
_G = np.zeros(2)


@pytest.mark.parametrize("call, name", [
    (lambda: adaptive_threshold(0.0), "lr"),
    (lambda: adaptive_threshold(-1.0, 0.5), "lr"),
    (lambda: adaptive_threshold(0.1, 1.0), "beta1"),
    (lambda: adaptive_threshold(0.1, -0.1), "beta1"),
    (lambda: adaptive_spectral_radius(1.0, 0.1, 1.5), "beta1"),
    (lambda: posterior_std(1.0, 0.0, 0.0), "ess"),
    (lambda: posterior_std(-1.0, 0.5, 1.0), "hess"),
    (lambda: posterior_std(1.0, -0.5, 1.0), "weight_decay"),
    (lambda: preconditioner(np.nan, 0.5), "hess"),
    (lambda: ivon_init(np.zeros(2), 0.0), "hess_init"),
    (lambda: ivon_step(_S, _G, _G, lr=0.0, ess=1.0), "lr"),
    (lambda: ivon_step(_S, _G, _G, lr=0.1, ess=-1.0), "ess"),
    (lambda: ivon_step(_S, _G, _G, lr=0.1, ess=1.0, beta1=1.0), "beta1"),
    (lambda: ivon_step(_S, _G, _G, lr=0.1, ess=1.0, beta2=1.5), "beta2"),
    (lambda: ivon_step(_S, _G, _G, lr=0.1, ess=1.0, weight_decay=-1e-4), "weight_decay"),
    (lambda: ivon_step(_S, _G, _G, lr=0.1, ess=1.0, clip_radius=0.0), "clip_radius"),
    (lambda: ivon_step(_S, np.array([np.inf, 0.0]), _G, lr=0.1, ess=1.0), "grad"),
    (lambda: ivon_step(_S, _G, np.zeros(3), lr=0.1, ess=1.0), "noise"),
    (lambda: ivon_step(_S, np.zeros((2, 3)), np.zeros((2, 3)), lr=0.1, ess=1.0), "grad"),
    (lambda: ivon_step(_S._replace(hess=np.array([1.0, -1.0])), _G, _G, lr=0.1, ess=1.0), "hess"),
    (lambda: ivon_step(_S._replace(step=-1), _G, _G, lr=0.1, ess=1.0), "step"),
    (lambda: preconditioned_sharpness(np.eye(2), [1.0, 0.0]), "precond"),
    (lambda: preconditioned_sharpness(np.ones((2, 3)), [1.0, 1.0]), "hessian"),
])
def test_bad_input_names_the_parameter(call, name):
    with pytest.raises(DomainError, match=rf"^{name} must"):
        call()


def test_ivon_step_with_an_overflowing_hessian_estimate_returns_its_limit():
    """Issue 12: grad -1e308 made h^ overflow and h, m NaN; h_+ is beyond the float range (+inf), the step 0."""
    state = ivon_init(np.zeros(2))
    new = ivon_step(state, np.array([-1e308, 1.0]), np.array([1.0, 1.0]), lr=0.1, ess=10.0)
    assert new.hess[0] == np.inf and new.mean[0] == 0.0 and new.momentum[0] == (1.0 - 0.9) * -1e308
    ref = ivon_step(state, np.array([-1.0, 1.0]), np.array([1.0, 1.0]), lr=0.1, ess=10.0)
    assert new.mean[1] == ref.mean[1] and new.hess[1] == ref.hess[1]  # other coordinates untouched
    # two draws whose float mean overflows (1e308 + 1e308) while the exact mean is 1e308
    two = ivon_step(state, np.full((2, 2), 1e308), np.ones((2, 2)), lr=0.1, ess=10.0)
    assert two.momentum[0] == (1.0 - 0.9) * 1e308 and np.isfinite(two.mean).all()


@settings(max_examples=100, deadline=None)
@given(st.floats(-308, 308), st.floats(-300, 300), st.floats(0.0, 1.0), st.booleans())
def test_ivon_step_is_never_nan(log_g, log_eps, beta2, negative):
    g = (-1.0 if negative else 1.0) * 10.0**log_g
    new = ivon_step(ivon_init(np.zeros(1)), np.array([g]), np.array([10.0**log_eps]), lr=0.1, ess=1e4,
                    beta2=beta2)
    assert not any(np.isnan(x).any() for x in new[:3])


def test_ivon_step_refuses_what_is_not_a_state_and_names_parameters():
    with pytest.raises(TypeError, match="^state must be an IVONState"):
        ivon_step(3.0, 1.0, 1.0, lr=0.1, ess=1.0)
    with pytest.raises(TypeError, match="^debias must be True or False"):
        ivon_step(_S, _G, _G, lr=0.1, ess=1.0, debias="yes")
    with pytest.raises(TypeError, match="^lr must be a real number, not a bool"):
        ivon_step(_S, _G, _G, lr=True, ess=1.0)
    with pytest.raises(DomainError, match=r"^lr must be a scalar or broadcast to the shape of mean"):
        ivon_step(_S, _G, _G, lr=np.ones(3), ess=1.0)
    with pytest.raises(DomainError, match=r"^hess_init must be a scalar or broadcast"):
        ivon_init(np.zeros(2), np.ones(3))
    with pytest.raises(DomainError, match=r"hess \(shape \(3,\)\) and weight_decay \(shape \(2,\)\)"):
        preconditioner(np.ones(3), np.ones(2))


def test_adaptive_spectral_radius_is_exactly_one_at_zero_sharpness():
    """Issue 12: s = 0 has the root z = 1 exactly (0.9999999999999994 before)."""
    assert adaptive_spectral_radius(0.0, 0.1, 0.9) == 1.0
    assert isinstance(adaptive_spectral_radius(0.0, 0.1, 0.9), float)


def _mp_radius(s, lr, b1):
    with mp.workdps(50):
        b = 1 + mp.mpf(b1) - (1 - mp.mpf(b1)) * mp.mpf(lr) * mp.mpf(s)
        d = b * b - 4 * mp.mpf(b1)
        return (abs(b) + mp.sqrt(d)) / 2 if d >= 0 else mp.sqrt(mp.mpf(b1))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from([0.0, 0.5, 0.9, 0.99, 1 - 2.0**-30]), st.floats(1e-3, 10.0),
       st.sampled_from(["uniform", "edge", "zero"]), st.floats(-1.5, 1.5), st.floats(-1e-12, 1e-12))
def test_adaptive_spectral_radius_is_on_the_right_side_of_one(b1, lr, where, u, jitter):
    """|rho| < 1 exactly when 0 < s < adaptive_threshold: the comparison with 1 is never rounded wrongly."""
    edge = float(mp_adaptive(lr, b1))
    s = {"uniform": u * edge, "edge": edge * (1 + jitter), "zero": jitter * edge}[where]
    got = adaptive_spectral_radius(s, lr, b1)
    from fractions import Fraction as F
    scaled = (1 - F(b1)) * F(lr) * F(s)  # rho < 1 iff 0 < (1 - b1) lr s < 2 + 2 b1, exactly
    below, at = 0 < scaled < 2 + 2 * F(b1), scaled in (0, 2 + 2 * F(b1))
    assert (got < 1) == below and (got == 1) == at
    want = _mp_radius(s, lr, b1)
    assert abs(mp.mpf(got) - want) <= 2 * 2.0**-52 * want
