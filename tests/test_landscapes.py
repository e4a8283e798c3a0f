"""theory.landscapes: derivatives, computed critical points, routes, basins, bad input."""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from theory import DomainError
from theory.landscapes import (
    CriticalPoint,
    DoubleWell,
    DoubleWellND,
    Landscape,
    Quadratic,
    Route,
    StyblinskiTang,
)

LANDSCAPES = [
    DoubleWell(),
    DoubleWell(height=0.7, width=1.3, tilt=0.3),
    DoubleWellND(),
    DoubleWellND(height=0.5, width=1.2, tilt=-0.1, transverse=(0.5, 2.0, 3.0), coupling=0.4),
    DoubleWellND(tilt=0.1, transverse=(1.5, 0.7), coupling=-0.6),
    StyblinskiTang(dim=3),
    StyblinskiTang(dim=4, sharpness=2.5),
    StyblinskiTang(dim=2, sharpness=0.3),
    Quadratic([0.5, 1.0, 4.0]),
]
IDS = [repr(f) for f in LANDSCAPES]

# per-coordinate Styblinski-Tang: f1(x) = (x^4 - 16 x^2 + 5 x) / 2
F1_ROOTS = np.sort(np.roots([2.0, 0.0, -16.0, 2.5]).real)


def f1(x):
    return 0.5 * (x**4 - 16 * x**2 + 5 * x)


def points(land, data, lo=-3.5, hi=3.5):
    """A random point in the box, scaled into the region of interest of a sharpened landscape."""
    xs = data.draw(st.lists(st.floats(lo, hi, allow_nan=False), min_size=land.dim, max_size=land.dim))
    scale = 1 / math.sqrt(land.sharpness) if isinstance(land, StyblinskiTang) else 1.0
    return np.array(xs) * scale


def grad_scale(land, x):
    return max(1.0, float(np.abs(land.gradient(x)).max()), abs(float(land.value(x))))


# -- derivatives ------------------------------------------------------------------


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_gradient_is_derivative_of_value(land, data):
    x = points(land, data)
    h = 1e-5 * max(1.0, float(np.abs(x).max()))
    fd = np.array([(land.value(x + h * e) - land.value(x - h * e)) / (2 * h) for e in np.eye(land.dim)])
    assert np.allclose(land.gradient(x), fd, rtol=0, atol=1e-6 * grad_scale(land, x))


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_hessian_is_derivative_of_gradient(land, data):
    x = points(land, data)
    h = 1e-5 * max(1.0, float(np.abs(x).max()))
    fd = np.stack([(land.gradient(x + h * e) - land.gradient(x - h * e)) / (2 * h) for e in np.eye(land.dim)], axis=-1)
    hess = land.hessian(x)
    assert hess.shape == (land.dim, land.dim)
    assert np.array_equal(hess, hess.T)
    assert np.allclose(hess, fd, rtol=0, atol=1e-6 * max(1.0, float(np.abs(hess).max()), grad_scale(land, x)))


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_batching_and_out(land):
    rng = np.random.default_rng(0)
    x = rng.uniform(-3, 3, size=(2, 3, land.dim))
    val, grad, hess = land.value(x), land.gradient(x), land.hessian(x)
    assert val.shape == (2, 3) and grad.shape == x.shape and hess.shape == (2, 3, land.dim, land.dim)
    for i, j in itertools.product(range(2), range(3)):
        assert np.allclose(val[i, j], land.value(x[i, j]), rtol=1e-15, atol=0)
        assert np.allclose(grad[i, j], land.gradient(x[i, j]), rtol=1e-15, atol=1e-15)
        assert np.array_equal(hess[i, j], land.hessian(x[i, j]))
    assert np.shape(land.value(x[0, 0])) == ()
    flat = x.reshape(-1, land.dim)
    assert land.value(flat).shape == (6,) and land.gradient(flat).shape == (6, land.dim)
    buf = np.full_like(x, np.nan)
    assert land.gradient(x, out=buf) is buf
    assert np.array_equal(buf, grad)
    # out may be the input itself, and a list is accepted
    y = x.copy()
    assert land.gradient(y, out=y) is y and np.array_equal(y, grad)
    assert np.array_equal(land.gradient(x[0, 0].tolist()), grad[0, 0])
    assert land.basin(x).shape == (2, 3) and land.basin(x).dtype == np.int64


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_gradient_layouts_agree(land):
    """Blocked rows (several blocks, a ragged last one), strided and 3-D non-contiguous inputs, single points."""
    rng = np.random.default_rng(5)
    big = rng.uniform(-3, 3, size=(2 * 70_001, land.dim))
    views = [big[:70_001], big[::2], big.reshape(2, 70_001, land.dim).transpose(1, 0, 2)]
    for x in views:
        g = land.gradient(x)
        out = np.full(x.shape, np.nan)[...]
        assert land.gradient(x, out=out) is out and np.array_equal(out, g)
        flat = x.reshape(-1, land.dim)
        for i in rng.integers(0, flat.shape[0], size=20):
            assert np.array_equal(g.reshape(-1, land.dim)[i], land.gradient(flat[i]))
    # a strided out buffer
    out = np.empty((70_001, 2 * land.dim))[:, ::2]
    assert np.array_equal(land.gradient(big[:70_001], out=out), land.gradient(big[:70_001]))


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_bad_shapes(land):
    with pytest.raises(DomainError, match="x must have shape"):
        land.value(np.zeros((4, land.dim + 1)))
    with pytest.raises(DomainError, match="out must have the shape"):
        land.gradient(np.zeros((4, land.dim)), out=np.zeros((3, land.dim)))


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_repr_round_trips(land):
    again = eval(repr(land))
    x = np.random.default_rng(1).uniform(-2, 2, size=(5, land.dim))
    assert type(again) is type(land) and np.array_equal(again.gradient(x), land.gradient(x))


# -- critical points ------------------------------------------------------------------


@pytest.mark.parametrize("land", LANDSCAPES, ids=IDS)
def test_critical_points_are_critical(land):
    pts = land.critical_points()
    values = [c.value for c in pts]
    assert values == sorted(values)
    for c in pts:
        assert isinstance(c, CriticalPoint)
        scale = max(1.0, float(np.abs(c.eigvals).max()) * max(1.0, float(np.abs(c.x).max())))
        assert np.abs(land.gradient(c.x)).max() < 1e-12 * scale
        assert c.value == pytest.approx(float(land.value(c.x)), rel=1e-14, abs=1e-14)
        w = np.linalg.eigvalsh(land.hessian(c.x))
        assert np.allclose(c.eigvals, w, rtol=1e-12, atol=1e-12)
        assert c.index == int(np.sum(w < 0))
        assert np.allclose(c.eigvecs @ np.diag(c.eigvals) @ c.eigvecs.T, land.hessian(c.x), atol=1e-12 * scale)
    n_min = len(land.minima())
    assert all(c.index == 0 for c in land.minima()) and all(c.index == 1 for c in land.saddles())
    if isinstance(land, Quadratic):
        assert n_min == 1 and land.saddles() == []
    elif isinstance(land, StyblinskiTang):
        d = land.dim
        assert n_min == 2**d and len(land.saddles()) == d * 2 ** (d - 1) and len(pts) == 3**d
        counts = np.bincount([c.index for c in pts], minlength=d + 1)
        assert counts.tolist() == [math.comb(d, m) * 2 ** (d - m) for m in range(d + 1)]
    else:
        assert n_min == 2 and len(land.saddles()) == 1 and len(pts) == 3


def test_double_well_closed_forms():
    for h, w in [(0.25, 1.0), (0.7, 1.3), (3.0, 0.2)]:
        cps = DoubleWell(h, w).critical_points()
        xs = sorted(float(c.x[0]) for c in cps)
        assert xs == [-w, 0.0, w] or np.allclose(xs, [-w, 0.0, w], rtol=1e-15, atol=0)
        mins, (saddle,) = DoubleWell(h, w).minima(), DoubleWell(h, w).saddles()
        assert [float(m.x[0]) for m in mins] == sorted(float(m.x[0]) for m in mins)  # equal values: left first
        for m in mins:
            assert m.value == pytest.approx(0.0, abs=1e-15 * h)
            assert m.eigvals[0] == pytest.approx(8 * h / w**2, rel=1e-14)
        assert saddle.x[0] == 0.0 and saddle.value == h
        assert saddle.eigvals[0] == pytest.approx(-4 * h / w**2, rel=1e-15)


TILT_LIMIT = 8 * 0.7 / (3 * math.sqrt(3) * 1.3)   # 8h/(3 sqrt(3) w) for h = 0.7, w = 1.3


@pytest.mark.parametrize("tilt", [0.3, -0.3, 0.9 * TILT_LIMIT, -0.999999 * TILT_LIMIT])
def test_tilted_well_roots(tilt):
    land = DoubleWell(0.7, 1.3, tilt)
    c4, c2 = 0.7 / 1.3**4, -2 * 0.7 / 1.3**2
    ref = np.sort(np.roots([4 * c4, 0, 2 * c2, -tilt]).real)
    xs = np.sort([float(c.x[0]) for c in land.critical_points()])
    assert np.allclose(xs, ref, rtol=0, atol=1e-6 if abs(tilt) > 0.5 else 1e-13)
    # the lower well is the one the tilt pushes down
    assert np.sign(land.minima()[0].x[0]) == np.sign(tilt)


def test_styblinski_tang_roots_and_global_minimum():
    land = StyblinskiTang(dim=10)
    roots = land.coordinate_roots()
    assert np.allclose(roots, F1_ROOTS, rtol=0, atol=1e-14)
    assert roots[0] == pytest.approx(-2.9035, abs=1e-4) and roots[1] == pytest.approx(0.1567, abs=1e-4)
    assert roots[2] == pytest.approx(2.7468, abs=1e-4)
    g = land.global_minimum()
    assert np.all(g.x == roots[0]) and g.index == 0
    assert g.value == pytest.approx(-39.16617 * 10, rel=1e-6)
    assert g.value == pytest.approx(10 * f1(F1_ROOTS[0]), rel=1e-14)
    assert np.allclose(g.eigvals, 6 * roots[0] ** 2 - 16, rtol=1e-14)
    assert land.minima()[0].value == g.value and np.array_equal(land.minima()[0].x, g.x)
    with pytest.raises(DomainError, match="dim"):
        StyblinskiTang(dim=20).minima()
    with pytest.raises(DomainError, match="dim"):
        StyblinskiTang(dim=11).critical_points()


@pytest.mark.parametrize("k", [0.01, 0.5, 3.0, 100.0])
def test_sharpness_scaling(k):
    """f_k(theta) = f(sqrt(k) theta): positions / sqrt(k), curvatures * k, values and barriers unchanged."""
    base, sharp = StyblinskiTang(dim=3), StyblinskiTang(dim=3, sharpness=k)
    assert np.allclose(sharp.coordinate_roots() * math.sqrt(k), base.coordinate_roots(), rtol=1e-14, atol=1e-15)
    for a, b in zip(base.critical_points(), sharp.critical_points()):
        assert np.allclose(b.x * math.sqrt(k), a.x, rtol=1e-14, atol=1e-15)
        assert np.allclose(b.eigvals, k * a.eigvals, rtol=1e-13)
        assert b.value == pytest.approx(a.value, rel=1e-14)
    for i in range(3):
        ra, rb = base.route(0, saddle=i), sharp.route(0, saddle=i)
        assert rb.delta_loss == ra.delta_loss
        assert rb.hess_min_escape == pytest.approx(k * ra.hess_min_escape, rel=1e-14)
        assert rb.hess_saddle_escape == pytest.approx(k * ra.hess_saddle_escape, rel=1e-14)
    x = np.random.default_rng(2).uniform(-3, 3, size=(20, 3))
    assert np.allclose(sharp.value(x / math.sqrt(k)), base.value(x), rtol=1e-13, atol=1e-12)
    assert np.allclose(sharp.hessian(x / math.sqrt(k)), k * base.hessian(x), rtol=1e-13, atol=1e-12 * k)


# -- routes ------------------------------------------------------------------------


def check_route(land, r):
    assert isinstance(r, Route)
    assert r.minimum.index == 0 and r.saddle.index == 1 and r.next_minimum.index == 0
    assert r.delta_loss == pytest.approx(r.saddle.value - r.minimum.value, rel=1e-12)
    assert np.linalg.norm(r.direction) == pytest.approx(1.0, rel=1e-15)
    assert (r.saddle.x - r.minimum.x) @ r.direction > 0
    assert (r.next_minimum.x - r.saddle.x) @ r.direction > 0
    hb = land.hessian(r.saddle.x)
    assert np.allclose(hb @ r.direction, -r.hess_saddle_escape * r.direction, atol=1e-12 * np.abs(hb).max())
    assert r.hess_min_escape == pytest.approx(r.direction @ land.hessian(r.minimum.x) @ r.direction, rel=1e-13)
    assert r.crossed(r.next_minimum.x) and not r.crossed(r.minimum.x)
    assert land.basin(r.minimum.x) != land.basin(r.next_minimum.x)
    assert land.basin(r.saddle.x - 1e-6 * r.direction) == land.basin(r.minimum.x)
    assert land.basin(r.saddle.x + 1e-6 * r.direction) == land.basin(r.next_minimum.x)


def test_reference_double_well_route():
    land = DoubleWell()   # U = x^4/4 - x^2/2 + 1/4
    for m, start in [(0, -1.0), (1, 1.0), (np.array([-0.7]), -1.0)]:
        r = land.route(m)
        check_route(land, r)
        assert r.minimum.x[0] == start and r.saddle.x[0] == 0.0 and r.next_minimum.x[0] == -start
        assert r.delta_loss == 0.25 and r.hess_min_escape == 2.0 and r.hess_saddle_escape == 1.0
        assert r.direction[0] == -start
        assert r.det_ratio == 0.5
    assert land.route(0, saddle=0).saddle.x[0] == 0.0
    x = np.array([[-2.0], [-0.1], [0.1], [3.0]])
    assert land.route(0).crossed(x).tolist() == [False, False, True, True]
    assert land.route(1).crossed(x).tolist() == [True, True, False, False]
    assert land.basin(x).tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("tilt", [0.2, -0.35])
def test_tilted_routes_both_directions(tilt):
    h, w = 0.6, 1.1
    land = DoubleWell(h, w, tilt)

    def u(x):
        return h * ((x / w) ** 2 - 1) ** 2 - tilt * x

    def u2(x):
        return 12 * h * x**2 / w**4 - 4 * h / w**2

    left, mid, right = np.sort(np.roots([4 * h / w**4, 0, -4 * h / w**2, -tilt]).real)
    for start, end in [(left, right), (right, left)]:
        r = land.route(np.array([start]))
        check_route(land, r)
        assert r.minimum.x[0] == pytest.approx(start, abs=1e-13)
        assert r.next_minimum.x[0] == pytest.approx(end, abs=1e-12)
        assert r.saddle.x[0] == pytest.approx(mid, abs=1e-13)
        assert r.delta_loss == pytest.approx(u(mid) - u(start), rel=1e-12)
        assert r.hess_min_escape == pytest.approx(u2(start), rel=1e-12)
        assert r.hess_saddle_escape == pytest.approx(-u2(mid), rel=1e-12)
        assert r.direction[0] == np.sign(mid - start)
    # index 0 is the deeper well, which the positive tilt puts on the right
    assert land.route(0).delta_loss > land.route(1).delta_loss
    assert np.sign(land.route(0).minimum.x[0]) == np.sign(tilt)


@pytest.mark.parametrize("tilt,coupling,k", [(0.0, 0.5, (1.0, 2.0)), (0.0, -0.4, (3.0,)), (0.15, 0.8, (0.5, 1.0, 4.0)),
                                             (-0.1, -0.5, (2.0,))])
def test_coupled_well_prefactor(tilt, coupling, k):
    h, w = 0.25, 1.0
    land = DoubleWellND(h, w, tilt, transverse=k, coupling=coupling)
    d2 = DoubleWell(h, w, tilt).hessian
    for m in (0, 1):
        r = land.route(m)
        check_route(land, r)
        a, b = r.minimum.x[0], r.saddle.x[0]
        assert np.all(r.minimum.x[1:] == 0) and np.all(r.saddle.x[1:] == 0)
        expected = abs(d2(np.array([b]))[0, 0]) / d2(np.array([a]))[0, 0] \
            * np.prod([(1 + coupling * b * b) / (1 + coupling * a * a)] * len(k))
        assert r.det_ratio == pytest.approx(expected, rel=1e-12)
        assert r.det_ratio == pytest.approx(abs(np.linalg.det(land.hessian(r.saddle.x)))
                                            / np.linalg.det(land.hessian(r.minimum.x)), rel=1e-12)
        assert np.allclose(r.direction, np.eye(land.dim)[0] * np.sign(b - a))
        assert r.hess_saddle_escape == pytest.approx(-d2(np.array([b]))[0, 0], rel=1e-13)
        assert r.delta_loss == DoubleWell(h, w, tilt).route(m).delta_loss
    if tilt == 0:
        assert land.route(0).det_ratio == pytest.approx(1 / (2 * (1 + coupling) ** len(k)), rel=1e-14)


def test_styblinski_tang_routes():
    d = 6
    land = StyblinskiTang(dim=d)
    g_barrier, l_barrier = f1(F1_ROOTS[1]) - f1(F1_ROOTS[0]), f1(F1_ROOTS[1]) - f1(F1_ROOTS[2])
    assert g_barrier == pytest.approx(39.36, abs=0.01) and l_barrier == pytest.approx(25.23, abs=0.01)
    routes = land.routes(0)
    assert len(routes) == d
    for i, r in enumerate(routes):
        check_route(land, r)
        assert r.delta_loss == pytest.approx(g_barrier, rel=1e-14)
        assert np.array_equal(r.direction, np.eye(d)[i])
        assert r.hess_min_escape == pytest.approx(6 * F1_ROOTS[0] ** 2 - 16, rel=1e-14)
        assert r.hess_saddle_escape == pytest.approx(16 - 6 * F1_ROOTS[1] ** 2, rel=1e-14)
        flipped = np.full(d, land.coordinate_roots()[0])
        flipped[i] = land.coordinate_roots()[2]
        assert np.array_equal(r.next_minimum.x, flipped)
        assert land.basin(r.next_minimum.x) == 1 << i
    # the default saddle is the lowest: out of a coordinate at its local minimum when there is one
    start = np.full(d, land.coordinate_roots()[0])
    start[[2, 4]] = land.coordinate_roots()[2]
    r = land.route(start)
    assert np.flatnonzero(r.direction).tolist() == [2] and r.direction[2] == -1.0
    assert r.delta_loss == pytest.approx(l_barrier, rel=1e-14)
    assert land.route(0).delta_loss == pytest.approx(g_barrier, rel=1e-14)
    # a saddle given as a point, and minima given by index, agree with the enumerations
    saddle = land.route(start, saddle=4).saddle.x
    assert land.route(start, saddle=saddle).direction[4] == -1.0
    assert land.route(start, saddle=-2).direction[4] == -1.0
    mins = land.minima()
    for i in [0, 1, 7, 20, 41, 62, 63, -1]:
        assert np.array_equal(land.route(i).minimum.x, mins[i].x)
        assert land.route(i).minimum.value == mins[i].value
    assert [land.basin(m.x) for m in mins] == [land._label_of_rank(i) for i in range(2**d)]
    with pytest.raises(DomainError, match="saddle"):
        land.route(start, saddle=land.route(0, saddle=1).saddle.x)   # not adjacent to this minimum
    with pytest.raises(DomainError, match="saddle"):
        land.route(0, saddle=d)
    with pytest.raises(DomainError, match="minimum"):
        land.route(2**d)


def test_high_dimensional_route_without_enumeration():
    land = StyblinskiTang(dim=40, sharpness=2.0)
    r = land.route(5)
    check_route(land, r)
    assert r.minimum.value == pytest.approx(39 * f1(F1_ROOTS[0]) + f1(F1_ROOTS[2]), rel=1e-13)
    total = sum(1 / x.delta_loss for x in land.routes(r.minimum.x))
    assert len(land.routes()) == 40 and total > 0


def test_quadratic_has_no_route():
    land = Quadratic([1.0, 3.0])
    (m,) = land.minima()
    assert np.array_equal(m.x, [0.0, 0.0]) and np.array_equal(m.eigvals, [1.0, 3.0])
    with pytest.raises(DomainError, match="saddle"):
        land.route()
    assert np.all(land.basin(np.random.default_rng(0).normal(size=(7, 2))) == 0)


# -- basins ------------------------------------------------------------------------


def flow(land, x, t_end=60.0, dt=0.01):
    """Gradient flow (explicit Euler) of many points at once."""
    g = np.empty_like(x)
    for _ in range(int(t_end / dt)):
        x -= dt * land.gradient(x, out=g)
    return x


@pytest.mark.parametrize("land", [LANDSCAPES[1], LANDSCAPES[3], LANDSCAPES[4], LANDSCAPES[6], LANDSCAPES[7]],
                         ids=[IDS[i] for i in (1, 3, 4, 6, 7)])
def test_basin_matches_gradient_flow(land):
    """Points near the saddle (where escapes cross) are labelled as gradient flow sends them."""
    rng = np.random.default_rng(3)
    r = land.route(0)
    x = r.saddle.x + rng.uniform(-0.4, 0.4, size=(1500, land.dim)) / math.sqrt(getattr(land, "sharpness", 1.0))
    labels = land.basin(x)
    end = flow(land, x.copy())
    minima = np.array([m.x for m in land.minima()])
    nearest = np.argmin(np.linalg.norm(end[:, None, :] - minima[None], axis=-1), axis=1)
    assert np.all(np.linalg.norm(end - minima[nearest], axis=-1) < 1e-3)
    assert np.array_equal(labels, land.basin(minima[nearest]))
    assert len(set(labels.tolist())) > 1


def test_coupled_tilted_separatrix_is_curved():
    """The second-order separatrix labels points the flat hyperplane x0 = x_b gets wrong."""
    land = DoubleWellND(tilt=0.15, transverse=(1.0,), coupling=1.5)
    xb = land.saddles()[0].x[0]
    a = land._sep[0]
    assert a == pytest.approx(-0.0768, abs=1e-4)                 # c x_b k / (lambda_b + 2 k (1 + c x_b^2))
    for x1 in (0.1, 0.2, 0.3):
        x0 = np.linspace(xb - 0.01, xb + 0.01, 201)
        x0 = x0[np.abs(x0 - (xb + a * x1**2)) > 0.1 * x1**4]     # off the band of the fourth-order error
        x = np.stack([x0, np.full(x0.size, x1)], axis=-1)
        truth = (flow(land, x.copy())[:, 0] > 0).astype(int)
        assert np.array_equal(land.basin(x), truth)
        assert np.sum((x0 > xb) != truth) >= 3                   # where the flat hyperplane errs


def test_base_class_has_no_basin():
    class Flat(Landscape):
        dim = 2

    with pytest.raises(NotImplementedError, match="Flat has no basin labelling"):
        Flat().basin(np.zeros(2))


# -- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("make,name", [
    (lambda: DoubleWell(height=0.0), "height"),
    (lambda: DoubleWell(height=-1.0), "height"),
    (lambda: DoubleWell(width=0.0), "width"),
    (lambda: DoubleWell(width=np.inf), "width"),
    (lambda: DoubleWell(tilt=8 * 0.25 / (3 * math.sqrt(3))), "tilt"),
    (lambda: DoubleWell(tilt=-1.0), "tilt"),
    (lambda: DoubleWell(tilt=np.nan), "tilt"),
    (lambda: DoubleWellND(height=0.0), "height"),
    (lambda: DoubleWellND(tilt=0.5), "tilt"),
    (lambda: DoubleWellND(transverse=(1.0, 0.0)), "transverse"),
    (lambda: DoubleWellND(transverse=-2.0), "transverse"),
    (lambda: DoubleWellND(transverse=()), "transverse"),
    (lambda: DoubleWellND(coupling=-1.0), "coupling"),
    (lambda: DoubleWellND(tilt=0.2, coupling=-0.9), "coupling"),
    (lambda: DoubleWellND(coupling=np.inf), "coupling"),
    (lambda: StyblinskiTang(dim=0), "dim"),
    (lambda: StyblinskiTang(sharpness=0.0), "sharpness"),
    (lambda: StyblinskiTang(sharpness=-2.0), "sharpness"),
    (lambda: StyblinskiTang(sharpness=1e200), "sharpness"),
    (lambda: StyblinskiTang(sharpness=np.inf), "sharpness"),
    (lambda: Quadratic([1.0, 0.0]), "eigvals"),
    (lambda: Quadratic([]), "eigvals"),
])
def test_bad_parameters(make, name):
    with pytest.raises(DomainError, match=name):
        make()


def test_coupling_limit_is_the_farthest_critical_point():
    # untilted: critical points at 0 and +-1, so coupling must exceed -1
    DoubleWellND(coupling=-0.999)
    land = DoubleWellND(tilt=0.2, coupling=-0.7)
    far = max(abs(c.x[0]) for c in land.critical_points())
    assert 1 - 0.7 * far**2 > 0
    assert all(c.eigvals[0] != 0 for c in land.critical_points())
    with pytest.raises(TypeError, match="dim"):
        StyblinskiTang(dim=2.5)


# -- memory: gradient(x, out=buf) in the simulators' inner loop ------------------------------


@pytest.mark.parametrize("land,n,slack", [
    (DoubleWell(), 10**6, 0),
    (DoubleWell(height=0.7, width=1.3, tilt=0.3), 10**6, 0),
    (StyblinskiTang(dim=10, sharpness=2.0), 10**5, 0),
    (Quadratic([1.0, 2.0, 3.0]), 3 * 10**5, 0),
    (DoubleWellND(transverse=(1.0, 2.0)), 3 * 10**5, 0),
    (DoubleWellND(tilt=0.1, transverse=(1.0, 2.0), coupling=0.5), 3 * 10**5, 1),  # one array of shape (n,)
], ids=["dw", "dw-tilted", "st", "quadratic", "nd", "nd-coupled"])
def test_gradient_out_allocates_no_full_size_array(land, n, slack):
    x = np.random.default_rng(4).uniform(-2, 2, size=(n, land.dim))
    buf = np.empty_like(x)
    land.gradient(x, out=buf)      # warm caches
    tracemalloc.start()
    try:
        land.gradient(x, out=buf)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert x.nbytes >= 2_000_000
    assert peak < 300_000 + slack * 8 * n         # ufunc buffers, and at most `slack` arrays of shape (n,)
    assert np.array_equal(buf, land.gradient(x))


# -- reliability: every method validates its points through one helper (issue 12) -------------------------

_LANDS = [DoubleWell(), DoubleWellND(transverse=(1.0, 2.0), coupling=0.3), DoubleWellND(transverse=(1.0,)),
          StyblinskiTang(dim=3), Quadratic([1.0, 2.0])]
_IDS = ["dw", "nd-coupled", "nd", "st", "quadratic"]


_ROUTES = {id(land): land.route(0) for land in _LANDS if not isinstance(land, Quadratic)}


def _methods(land):
    calls = {"value": land.value, "gradient": land.gradient, "hessian": land.hessian, "basin": land.basin}
    if not isinstance(land, Quadratic):
        calls["crossed"] = _ROUTES[id(land)].crossed
    return calls


@pytest.mark.parametrize("land", _LANDS, ids=_IDS)
@pytest.mark.parametrize("bad,exc,match", [
    (np.nan, DomainError, "x must be finite"),
    (np.inf, DomainError, "x must be finite"),
    (1 + 2j, TypeError, "x must be real"),
    ("abc", TypeError, "x must be"),
    (True, TypeError, "x must hold real numbers, not bools"),
])
def test_every_method_refuses_bad_points_naming_x(land, bad, exc, match):
    point = np.full(land.dim, 0.3, dtype=object if isinstance(bad, str) else type(bad))
    point[-1] = bad
    if isinstance(bad, str):
        point = np.array([bad] * land.dim)
    for name, method in _methods(land).items():
        with pytest.raises(exc, match=match):
            method(point)


@pytest.mark.parametrize("land", _LANDS, ids=_IDS)
def test_every_method_refuses_wrong_lengths_and_ragged_points(land):
    for method in _methods(land).values():
        with pytest.raises(DomainError, match=r"x must have shape \(\.\.\., %d\)" % land.dim):
            method(np.zeros(land.dim + 1))
        with pytest.raises(TypeError, match="x must be"):
            method([[0.1] * land.dim, [0.2] * (land.dim + 1)])


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(range(len(_LANDS))), st.floats(allow_nan=False, allow_infinity=False))
def test_finite_points_give_no_nan(i, t):
    """Over the whole float range: a number (inf where the loss overflows) or a named refusal, never NaN."""
    land = _LANDS[i]
    x = np.full((2, land.dim), t)
    x[1, -1] = -t
    for method in _methods(land).values():
        try:
            with np.errstate(over="ignore"):  # a loss that overflows is inf, its limit
                out = np.asarray(method(x))
        except DomainError as e:
            assert "x" in str(e)
            continue
        assert not np.isnan(out.astype(float)).any()


def test_route_index_out_of_range_is_a_named_value_error():
    with pytest.raises(DomainError, match=r"minimum must be an index in \[-2, 2\)"):
        DoubleWell().route(minimum=5)
    with pytest.raises(DomainError, match="saddle must be an index"):
        DoubleWell().route(saddle=3)
    with pytest.raises(TypeError, match="minimum"):
        DoubleWell().route(minimum=True)
    with pytest.raises(DomainError, match="minimum is too far out"):
        DoubleWell().route(minimum=[1e200])
    with pytest.raises(DomainError, match="minimum must be one point"):
        DoubleWellND().route(minimum=np.zeros((2, 2)))


@pytest.mark.parametrize("width", [5e-324, 1e-300, 1e300])
def test_double_well_width_outside_the_coefficients_range_is_refused_by_name(width):
    with pytest.raises(DomainError, match="width"):
        DoubleWell(width=width)
    with pytest.raises(DomainError, match="width"):
        DoubleWellND(width=width)


@pytest.mark.parametrize("make,name", [
    (lambda a: DoubleWell(height=a), "height"), (lambda a: DoubleWell(width=a), "width"),
    (lambda a: DoubleWell(tilt=a), "tilt"), (lambda a: DoubleWellND(coupling=a), "coupling"),
    (lambda a: StyblinskiTang(sharpness=a), "sharpness"),
])
def test_constructors_refuse_arrays_and_bools_where_scalars_are_expected(make, name):
    with pytest.raises(TypeError, match=f"{name} must be a scalar"):
        make(np.array([0.1, 0.2]))
    with pytest.raises(TypeError, match=name):
        make(True)


def test_descend_validates_its_arguments():
    with pytest.raises(TypeError, match="steps"):
        DoubleWell().descend([0.3], steps=1.5)
    with pytest.raises(DomainError, match="tol"):
        DoubleWell().descend([0.3], tol=-1.0)
    with pytest.raises(DomainError, match="x must be finite"):
        DoubleWell().descend([np.nan])


@settings(max_examples=100, deadline=None)
@given(st.floats(-320, 308), st.floats(-320, 308))
def test_double_well_over_the_float_range_is_right_or_refused_by_name(lh, lw):
    h, w = 10.0**lh, 10.0**lw
    if h == 0 or w == 0 or not (np.isfinite(h) and np.isfinite(w)):
        return
    try:
        well = DoubleWell(height=h, width=w)
    except DomainError as e:
        assert "height" in str(e) and "width" in str(e)
        return
    lo, saddle, hi = well._roots
    assert lo == pytest.approx(-w, rel=1e-12) and hi == pytest.approx(w, rel=1e-12) and abs(saddle) <= 1e-12 * w
    assert well.route(0).delta_loss == pytest.approx(h, rel=1e-12)
