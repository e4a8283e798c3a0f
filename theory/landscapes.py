r"""Loss landscapes with computed critical points, for the escape theory.

A :class:`Landscape` is a smooth loss :math:`L:\mathbb R^d\to\mathbb R` with its
gradient and Hessian, vectorised over leading axes (``x`` of shape
``(..., dim)``) and written with the array namespace of its input, so the same
object serves NumPy and CuPy simulations. Its critical points are computed
(roots of the gradient, classified by the Hessian's eigenvalues), never typed
in, and :meth:`Landscape.route` assembles what the Kramers formulas need to
leave a minimum over a saddle: the barrier :math:`\Delta L`, the Hessians at
both ends, and the escape direction. :meth:`Landscape.basin` labels the basin
of attraction (of gradient flow) a point lies in, the exit test of escape
simulations.

Landscapes:

- :class:`DoubleWell`: the 1-D quartic double well (the reference well of the escape docs).
- :class:`DoubleWellND`: the double well along :math:`x_0` with harmonic
  transverse directions whose stiffness depends on :math:`x_0`, so the
  Eyring-Kramers determinant ratio differs from 1.
- :class:`StyblinskiTang`: the separable Styblinski-Tang function, with a
  sharpness parameter; :math:`2^d` minima and :math:`d\,2^{d-1}` index-1 saddles.
- :class:`Quadratic`: a convex quadratic (one minimum, no saddle).

Conventions: ``gradient(x, out=buf)`` writes into ``buf`` (which must have the
shape of ``x``) and returns it. The gradients are written for the inner loops
of simulations over many walkers: a few in-place passes per block of rows (so
that they run in cache), coefficients folded, and no temporary of the array's
size (:class:`DoubleWellND` with coupling uses one of shape ``x.shape[:-1]``,
per block).

Points: every method takes ``x`` (or ``minimum``, ``saddle``) as one point or
a batch of shape ``(..., dim)`` of finite real numbers; anything else (NaN,
inf, complex, bools, strings, ragged or wrong lengths) is refused with an
error that names the argument. A loss that overflows for a finite point is
inf; where overflowing terms would cancel to NaN the point is refused.
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass

import numpy as np

from . import _validate as v
from .backend import get_backend
from .errors import DomainError

__all__ = [
    "Landscape",
    "CriticalPoint",
    "Route",
    "DoubleWell",
    "DoubleWellND",
    "StyblinskiTang",
    "Quadratic",
]

# Enumerating critical points is exponential in the dimension for separable
# landscapes; refuse lists longer than this (each point carries a dim x dim matrix).
_MAX_ENUMERATED = 1 << 16


# -- helpers -------------------------------------------------------------------


def _points(x, dim: int, name: str = "x", check: bool = True):
    """(xp, x): ``x`` a point or a batch of points of dimension ``dim``, as a floating array of its namespace.

    The one validation of every landscape method's point argument: a real
    numeric array (bools, complex numbers, strings and objects refused with a
    TypeError naming ``name``) of shape ``(..., dim)``, finite (DomainError
    naming ``name`` otherwise). Float arrays keep their precision, integers
    become float64. ``check=False`` skips the finiteness pass (the inner loops
    of simulators, which test their walkers for divergence themselves).
    """
    xp = get_backend(None, x).xp
    if xp is np:
        try:
            arr = np.asarray(x)
        except ValueError:
            raise TypeError(f"{name} must be a point or an array of points of shape (..., {dim}); got a "
                            f"ragged sequence") from None
    else:
        arr = xp.asarray(x)
    kind = arr.dtype.kind
    if kind == "b":
        raise TypeError(f"{name} must hold real numbers, not bools")
    if kind == "c":
        raise TypeError(f"{name} must be real; got a complex value")
    if kind not in "iuf":
        raise TypeError(f"{name} must be a point or an array of points of real numbers; got {type(x).__name__} "
                        f"of dtype {arr.dtype}")
    if kind != "f":
        arr = arr.astype(xp.float64)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise DomainError(f"{name} must have shape (..., {dim}), its last axis the coordinates; "
                          f"got shape {tuple(arr.shape)}")
    # a finite sum proves every entry finite without a temporary of the array's size
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(xp.sum(arr)) if check and arr.size else 0.0
    if not math.isfinite(total) and not bool(xp.isfinite(arr).all()):
        bad = arr[~xp.isfinite(arr)]
        raise DomainError(f"{name} must be finite; got {float(bad.ravel()[0])!r}")
    return xp, arr


def _no_nan(result, xp, name: str = "x"):
    """``result`` unless it holds NaN: an indeterminate form (inf - inf, 0 inf) where terms overflowed."""
    with np.errstate(over="ignore", invalid="ignore"):
        total = float(xp.sum(result)) if result.size else 0.0
    if math.isnan(total) and bool(xp.isnan(result).any()):
        raise DomainError(f"{name} is too far out: terms of the loss overflow there and their sum is "
                          f"indeterminate; take |{name}| smaller")
    return result


def _probe(distance: float) -> float:
    """Step off a saddle towards (or away from) a minimum at ``distance``: 1e-3 (of the distance beyond 1),
    and 1e-3 of the distance itself where 1e-3 would reach half-way (landscapes on scales far below 1)."""
    step = 1e-3 * max(1.0, distance)
    return step if step < 0.5 * distance else 1e-3 * distance


def _index(i, name: str, n: int) -> int:
    """``i`` as an index into a list of ``n`` items (negative from the end), or a DomainError naming ``name``."""
    if isinstance(i, (bool, np.bool_)):
        raise TypeError(f"{name} must be an index or a point, not a bool")
    i = operator.index(i)
    if not -n <= i < n:
        raise DomainError(f"{name} must be an index in [{-n}, {n}) (there are {n}); got {i}")
    return i


def _is_index(i) -> bool:
    return isinstance(i, (int, np.integer, bool, np.bool_))


def _scalar(x, name: str) -> float:
    """A real scalar parameter (TypeError naming ``name`` for arrays, bools, complex, strings)."""
    return v.scalar(x, name)


def _may_overlap(xp, a, b) -> bool:
    test = getattr(xp, "may_share_memory", None)
    return a is b if test is None else bool(test(a, b))


def _cubic_into(xp, y, o, a3: float, a1: float, a0: float) -> None:
    r"""``o = a3 y^3 + a1 y + a0`` elementwise, in place, with no temporaries.

    Written as :math:`a_3\,(y^2 + a_1/a_3)\,y + a_0`: at most five passes, and
    the multiplication by :math:`a_3 = 1` or the additions of 0 are skipped.
    ``o`` must not overlap ``y``.
    """
    xp.multiply(y, y, out=o)
    b = a1 / a3
    if b != 0:
        o += b
    o *= y
    if a3 != 1:
        o *= a3
    if a0 != 0:
        o += a0


# Rows per block of the blocked gradients: 2**15 numbers (256 KiB of float64) per
# operand, so that the several in-place passes run in cache.
_BLOCK = 1 << 15


def _blocked(xp, x, out, kernel, scratch: bool = False) -> None:
    """Run ``kernel(xb, ob, sb)`` over blocks of rows of ``x`` and ``out`` (NumPy), or once (other namespaces).

    ``sb`` is a scratch array of shape ``xb.shape[:-1]`` when ``scratch`` is
    true (one of them, of one block's size, is allocated), else None. A
    kernel that makes several passes then reads memory once and works in
    cache; the kernels use column views ``x[..., j]``, whose ufunc loops run
    over the rows (a broadcast against a short vector would loop over ``dim``).
    """
    dim = x.shape[-1]
    if xp is np and x.ndim >= 2 and (x.ndim == 2 or (x.flags.c_contiguous and out.flags.c_contiguous)):
        x2, o2 = x.reshape(-1, dim), out.reshape(-1, dim)
        n = x2.shape[0]
        rows = max(1, _BLOCK // dim)
        s = np.empty(min(rows, n), dtype=x.dtype) if scratch else None
        for b in range(0, n, rows):
            e = min(b + rows, n)
            kernel(x2[b:e], o2[b:e], None if s is None else s[: e - b])
        return
    kernel(x, out, xp.empty(x.shape[:-1], dtype=x.dtype) if scratch else None)


def _newton_cubic(a3: float, a1: float, a0: float, r: float) -> float:
    """Polish a root of ``a3 r^3 + a1 r + a0`` by Newton steps while the residual decreases."""

    def f(t):
        return (a3 * t * t + a1) * t + a0

    fr = f(r)
    for _ in range(50):
        d = 3.0 * a3 * r * r + a1
        if fr == 0.0 or d == 0.0:
            break
        r_new = r - fr / d
        f_new = f(r_new)
        if abs(f_new) >= abs(fr):
            break
        r, fr = r_new, f_new
    return r


def _cubic_roots(a3: float, a1: float, a0: float) -> np.ndarray:
    r"""The three real roots, ascending, of :math:`a_3 x^3 + a_1 x + a_0` (three assumed).

    Trigonometric (Viete) solution of the depressed cubic
    :math:`x^3 + p x + q = 0`, :math:`x_k = 2\sqrt{-p/3}\cos(\tfrac13\arccos(\tfrac{3q}{2p}\sqrt{-3/p}) - 2\pi k/3)`,
    which stays real where a companion-matrix solver may return a spurious
    complex pair (near a double root), then Newton polish. For an odd cubic
    (:math:`a_0 = 0`) the roots are returned exactly symmetric.
    """
    p, q = a1 / a3, a0 / a3
    if not p < 0:
        raise DomainError("the cubic does not have three real roots")
    m = 2.0 * math.sqrt(-p / 3.0)
    arg = min(1.0, max(-1.0, 3.0 * q / (p * m)))
    theta = math.acos(arg) / 3.0
    roots = sorted(_newton_cubic(a3, a1, a0, m * math.cos(theta - 2.0 * math.pi * k / 3.0)) for k in range(3))
    if a0 == 0:
        r = abs(_newton_cubic(a3, a1, a0, roots[2]))
        roots = [-r, 0.0, r]
    return np.array(roots, dtype=np.float64)


# -- critical points and routes ----------------------------------------------------


@dataclass(frozen=True)
class CriticalPoint:
    """A point where the gradient vanishes, with the Hessian's spectrum there.

    Attributes
    ----------
    x : ndarray, shape (dim,)
    value : float
        :math:`L(x)`.
    eigvals : ndarray, shape (dim,)
        Hessian eigenvalues, ascending.
    eigvecs : ndarray, shape (dim, dim)
        Orthonormal eigenvectors as columns.
    """

    x: np.ndarray
    value: float
    eigvals: np.ndarray
    eigvecs: np.ndarray

    @property
    def index(self) -> int:
        """Number of negative Hessian eigenvalues: 0 for a minimum, 1 for a saddle of escape."""
        return int(np.sum(self.eigvals < 0))


@dataclass(frozen=True)
class Route:
    r"""Escape from ``minimum`` over the index-1 ``saddle`` (towards ``next_minimum``).

    Attributes
    ----------
    minimum, saddle : CriticalPoint
    next_minimum : CriticalPoint or None
        The minimum reached by descending from the saddle on the far side.
    delta_loss : float
        :math:`\Delta L = L(b) - L(a)`.
    direction : ndarray, shape (dim,)
        Unit eigenvector of the saddle's negative eigenvalue, pointing away
        from the minimum.
    hess_min_escape : float
        :math:`H_{ae} = e^\top H_a e`, the curvature at the minimum along the
        escape direction.
    hess_saddle_escape : float
        :math:`|H_{be}|`, the magnitude of the saddle's negative eigenvalue.
    """

    minimum: CriticalPoint
    saddle: CriticalPoint
    next_minimum: CriticalPoint | None
    delta_loss: float
    direction: np.ndarray
    hess_min_escape: float
    hess_saddle_escape: float

    @property
    def det_ratio(self) -> float:
        r""":math:`|\det H_b| / \det H_a`, the ratio under the square root of the Eyring-Kramers prefactor.

        Computed from the eigenvalues as :math:`\exp(\sum\log|\lambda_b| - \sum\log\lambda_a)`,
        so it neither overflows nor underflows in high dimension. In one
        dimension it is :math:`|H_b| / H_a`.
        """
        return float(np.exp(np.sum(np.log(np.abs(self.saddle.eigvals))) - np.sum(np.log(self.minimum.eigvals))))

    def crossed(self, x) -> np.ndarray:
        """True where ``x`` lies beyond the hyperplane through the saddle normal to the escape direction."""
        xp, x = _points(x, int(np.size(self.direction)))
        return ((x - xp.asarray(self.saddle.x)) @ xp.asarray(self.direction)) > 0


# -- base class --------------------------------------------------------------------


class Landscape:
    """Base class: subclasses define ``dim``, ``value``, ``gradient``, ``hessian`` and ``critical_points``.

    A subclass may implement ``_gradient_into(xp, x, out)`` (fill ``out``, an
    array of ``x``'s shape that does not overlap it) instead of ``gradient``;
    the base :meth:`gradient` then handles input conversion, ``out`` and
    aliasing. :meth:`basin` is optional (needed only by escape simulations
    that stop on leaving a basin).
    """

    dim: int = 1

    def value(self, x):
        """L(x) for ``x`` of shape (..., dim); returns shape (...)."""
        raise NotImplementedError

    def gradient(self, x, out=None):
        """The gradient, shape (..., dim); written into ``out`` when given (no temporaries in hot loops).

        ``out`` must have the shape of ``x``; it may be ``x`` itself (then a
        temporary is used). Returns ``out`` (or a new array).
        """
        xp, x = _points(x, self.dim)
        return _no_nan(self._gradient_out(xp, x, out), xp)

    def _gradient_out(self, xp, x, out):
        if out is None:
            out = xp.empty_like(x)
        elif not hasattr(out, "shape") or getattr(out.dtype, "kind", None) != "f":
            raise TypeError(f"out must be a floating array of the shape of x, {tuple(x.shape)}; got "
                            f"{type(out).__name__}")
        elif tuple(out.shape) != tuple(x.shape):
            raise DomainError(f"out must have the shape of x, {tuple(x.shape)}; got {tuple(out.shape)}")
        if _may_overlap(xp, x, out):
            tmp = xp.empty_like(x)
            self._gradient_into(xp, x, tmp)
            out[...] = tmp
            return out
        self._gradient_into(xp, x, out)
        return out

    def _gradient_into(self, xp, x, out) -> None:
        raise NotImplementedError

    def _step_gradient(self, x, out):
        """:meth:`gradient` without the finiteness pass, for simulators' inner loops (they test divergence)."""
        if type(self).gradient is not Landscape.gradient:
            return self.gradient(x, out=out)
        xp, x = _points(x, self.dim, check=False)
        return self._gradient_out(xp, x, out)

    def _step_basin(self, x):
        """:meth:`basin` without the finiteness pass, for simulators' inner loops (they test divergence)."""
        if type(self).basin.__module__ != __name__ or type(self)._basin is Landscape._basin:
            return self.basin(x)
        return self._basin(*_points(x, self.dim, check=False))

    def hessian(self, x):
        """The Hessian, shape (..., dim, dim)."""
        raise NotImplementedError

    def critical_points(self) -> list[CriticalPoint]:
        """All critical points, sorted by value."""
        raise NotImplementedError

    def basin(self, x):
        r"""Integer label, shape (...), of the minimum whose basin of attraction (under gradient flow) holds ``x``.

        Escape simulations stop a walker when ``basin(x) != basin(start)``.
        Note that the first time the label changes is the first passage to the
        separatrix, which at low temperature takes about half of Kramers' mean
        escape time :math:`\tau` (see the escape docs page): Kramers' :math:`\tau`
        is the time to get well beyond the saddle.
        """
        return self._basin(*_points(x, self.dim))

    def _basin(self, xp, x):
        raise NotImplementedError(
            f"{type(self).__name__} has no basin labelling; stop escape runs with Route.crossed() "
            "(the hyperplane through the saddle) or by descend() from the walkers instead")

    # -- derived ----------------------------------------------------------

    def _critical_point(self, x, name: str = "x") -> CriticalPoint:
        x = np.asarray(self._point(x, name), dtype=np.float64)
        w, vecs = np.linalg.eigh(np.asarray(self.hessian(x)))
        return CriticalPoint(x, float(self.value(x)), w, vecs)

    def minima(self) -> list[CriticalPoint]:
        """The minima (index 0), sorted by value."""
        return [c for c in self.critical_points() if c.index == 0]

    def saddles(self) -> list[CriticalPoint]:
        """Index-1 saddles (one negative eigenvalue): the passes between minima."""
        return [c for c in self.critical_points() if c.index == 1]

    def _point(self, x, name: str) -> np.ndarray:
        """One point of shape (dim,), finite (the argument ``name`` of a method)."""
        _, x = _points(x, self.dim, name)
        if x.shape != (self.dim,):
            raise DomainError(f"{name} must be one point, of shape ({self.dim},); got shape {tuple(x.shape)}")
        return x

    def descend(self, x, *, steps: int = 20_000, tol: float = 1e-13) -> CriticalPoint:
        """The minimum reached by gradient flow (damped Newton near the end) from ``x`` (one point, shape (dim,))."""
        return self._descend(x, "x", v.as_int(steps, "steps", 1), float(v.positive(v.scalar(tol, "tol"), "tol")))

    def _descend(self, x, name: str, steps: int = 20_000, tol: float = 1e-13) -> CriticalPoint:
        x = x0 = np.array(self._point(x, name), dtype=np.float64)
        prev, w_seen = None, 0.0
        for _ in range(steps):
            with np.errstate(over="ignore", invalid="ignore"):  # overflow is handled just below
                g = np.asarray(self.gradient(x))
                h = np.asarray(self.hessian(x))
                g_norm = np.linalg.norm(g)
            if not (np.isfinite(g).all() and np.isfinite(h).all()):
                if prev is None:
                    raise DomainError(f"{name} is too far out: gradient flow from it leaves the floating-point "
                                      f"range (the gradient or Hessian overflows at {x.tolist()})")
                # the last step (scaled by a small local curvature) overshot: redo it on the largest curvature seen
                x, g = prev
                x, prev = x - g / max(1.0, w_seen), None
                continue
            w = np.linalg.eigvalsh(h)
            w_seen = max(w_seen, float(abs(w).max()))
            if w[0] > 0 and g_norm < 1e-6 * max(1.0, w[-1]):
                x = x - np.linalg.solve(h, g)
                if np.linalg.norm(self.gradient(x)) < tol * max(1.0, w[-1]):
                    break
            else:
                prev = (x, g)
                x = x - g / max(1.0, abs(w).max())
        else:
            # no convergence with steps scaled for curvatures near 1: follow the flow on the landscape's own scale
            return self._descend_scaled(x0, name, steps, tol)
        return self._critical_point(x)

    def _descend_scaled(self, x, name: str, steps: int, tol: float) -> CriticalPoint:
        """Gradient flow with steps ``g / (largest curvature seen)``, then Newton, for any scale of the loss."""
        w_seen = 0.0
        for _ in range(steps):
            with np.errstate(over="ignore", invalid="ignore", under="ignore"):
                g = np.asarray(self.gradient(x))
                h = np.asarray(self.hessian(x))
            if not (np.isfinite(g).all() and np.isfinite(h).all()):
                raise DomainError(f"{name} is too far out: gradient flow from it leaves the floating-point "
                                  f"range (the gradient or Hessian overflows at {x.tolist()})")
            w = np.linalg.eigvalsh(h)
            w_seen = max(w_seen, float(abs(w).max()))
            if w_seen == 0.0 or not np.any(g):
                break
            if w[0] > 0:
                dx = np.linalg.solve(h, g)
                x_new = x - dx
                if self.value(x_new) <= self.value(x):
                    x = x_new
                    if np.linalg.norm(dx) <= tol * np.linalg.norm(x):
                        break
                    continue
            x = x - g / w_seen
        return self._critical_point(x)

    def route(self, minimum=0, saddle=None) -> Route:
        """The escape route from a minimum (index into :meth:`minima`, or a point) over a saddle.

        A point stands for the minimum that gradient flow reaches from it (the
        minimum itself when the point is one). With ``saddle=None`` the lowest
        index-1 saddle adjacent to the minimum (the one whose downhill side
        leads back to it) is taken; ``saddle`` may also be an index into
        :meth:`saddles` or a point.
        """
        if _is_index(minimum):
            mins = self.minima()
            a = mins[_index(minimum, "minimum", len(mins))]
        else:
            a = self._descend(minimum, "minimum")
        if saddle is None:
            candidates = self.saddles()
        elif _is_index(saddle):
            sads = self.saddles()
            candidates = [sads[_index(saddle, "saddle", len(sads))]]
        else:
            candidates = [self._critical_point(saddle, "saddle")]
        best = None
        for b in candidates:
            if b.index != 1:
                raise DomainError("saddle must have exactly one negative Hessian eigenvalue; "
                                  f"the point given has {b.index}")
            e = b.eigvecs[:, 0]
            if (b.x - a.x) @ e < 0:
                e = -e
            step = _probe(float(np.linalg.norm(b.x - a.x)))
            back = self.descend(b.x - step * e)
            if np.linalg.norm(back.x - a.x) > 1e-6 * max(1.0, float(np.linalg.norm(a.x))):
                continue
            if best is None or b.value < best[0].value:
                best = (b, e)
        if best is None:
            raise DomainError("no index-1 saddle leads back to this minimum")
        b, e = best
        nxt = self.descend(b.x + _probe(float(np.linalg.norm(b.x - a.x))) * e)
        h_ae = float(e @ np.asarray(self.hessian(a.x)) @ e)
        return Route(a, b, nxt, b.value - a.value, e, h_ae, float(-b.eigvals[0]))

    def _const(self, xp, name: str):
        """The NumPy array attribute ``name`` in namespace ``xp`` (cached, so a GPU copy is made once)."""
        cache = self.__dict__.setdefault("_xp_constants", {})
        key = (xp.__name__, name)
        if key not in cache:
            cache[key] = xp.asarray(getattr(self, name))
        return cache[key]


# -- the 1-D double well -------------------------------------------------------------


class DoubleWell(Landscape):
    r"""The quartic double well :math:`U(x) = h\,((x/w)^2 - 1)^2 - F x` in one dimension.

    Parameters
    ----------
    height : float, default 1/4
        Barrier :math:`h > 0` of the untilted well (between :math:`x = \pm w` and 0).
    width : float, default 1
        Half the distance :math:`w > 0` between the untilted minima.
    tilt : float, default 0
        Linear tilt :math:`F` (positive lowers the right well). Must leave two
        minima: :math:`|F| < 8h/(3\sqrt3\,w)`.

    Notes
    -----
    :math:`U'(x) = 4h x^3/w^4 - 4h x/w^2 - F`; its three real roots (two minima
    and the saddle between them) are computed by the trigonometric cubic
    formula and polished by Newton's method. Untilted: :math:`x = 0, \pm w`
    with :math:`U = h, 0` and :math:`U'' = -4h/w^2, 8h/w^2`.

    The default is the reference well :math:`U = x^4/4 - x^2/2` shifted by 1/4
    (minima at :math:`\pm1` with :math:`U'' = 2`, saddle at 0 with :math:`U'' = -1`,
    barrier 1/4).

    Basins: :meth:`basin` labels points left of the saddle 0 and right of it 1.
    """

    dim = 1

    def __init__(self, height=0.25, width=1.0, tilt=0.0):
        self.height = float(v.positive(_scalar(height, "height"), "height"))
        self.width = float(v.positive(_scalar(width, "width"), "width"))
        self.tilt = float(v.finite(_scalar(tilt, "tilt"), "tilt"))
        h, w = np.float64(self.height), np.float64(self.width)
        # the coefficients h/w^4, 2h/w^2 and the curvatures 8h/w^2 must be normal floats
        with np.errstate(all="ignore"):
            coef = np.array([h / w**4, 2 * h / w**2, 12 * h / w**2, 8 * h / (3 * np.sqrt(3) * w)])
        if not (np.isfinite(coef).all() and (coef >= np.finfo(float).tiny).all()):
            raise DomainError(f"height and width must keep height/width**4 and 12*height/width**2 finite and "
                              f"above {np.finfo(float).tiny:.3g} (the well's coefficients); got height={h!r}, "
                              f"width={w!r}")
        limit = 8 * self.height / (3 * np.sqrt(3) * self.width)
        if abs(self.tilt) >= limit:
            raise DomainError(f"tilt must be in (-{limit:.6g}, {limit:.6g}) to keep two minima; got {self.tilt!r}")
        # U(x) = c4 x^4 + c2 x^2 + c1 x + c0
        self._c4 = self.height / self.width**4
        self._c2 = -2 * self.height / self.width**2
        self._c1 = -self.tilt
        self._c0 = self.height
        # U'(x) = a3 x^3 + a1 x + a0; roots ascending: left minimum, saddle, right minimum
        self._a3, self._a1, self._a0 = 4 * self._c4, 2 * self._c2, self._c1
        self._roots = _cubic_roots(self._a3, self._a1, self._a0)
        curv = 3 * self._a3 * self._roots**2 + self._a1
        if not (np.all(np.diff(self._roots) > 0) and curv[0] > 0 and curv[1] < 0 and curv[2] > 0):
            raise DomainError(f"tilt must be in (-{limit:.6g}, {limit:.6g}) to keep two minima, and not so close "
                              f"to the ends that the saddle merges with a minimum in floating point; got {self.tilt!r}")

    def value(self, x):
        r""":math:`U(x)` for ``x`` of shape (..., 1); returns shape (...)."""
        _, x = _points(x, 1)
        x = x[..., 0]
        x2 = x * x
        return (self._c4 * x2 + self._c2) * x2 + self._c1 * x + self._c0

    def _gradient_into(self, xp, x, out) -> None:
        # U' = a3 x^3 + a1 x + a0: three in-place passes for the default well (a3 = 1, a0 = 0)
        a3, a1, a0 = self._a3, self._a1, self._a0
        _blocked(xp, x, out, lambda x, out, _: _cubic_into(xp, x[..., 0], out[..., 0], a3, a1, a0))

    def hessian(self, x):
        r""":math:`U''(x) = 12 h x^2/w^4 - 4h/w^2`, shape (..., 1, 1)."""
        _, x = _points(x, 1)
        y = x[..., 0]
        return (12 * self._c4 * y * y + 2 * self._c2)[..., None, None]

    def critical_points(self) -> list[CriticalPoint]:
        """The two minima and the saddle, sorted by value (for equal values, by position)."""
        pts = [self._critical_point(np.array([r])) for r in self._roots]
        return sorted(pts, key=lambda c: c.value)

    def basin(self, x):
        """0 left of the saddle (x <= x_b), 1 right of it; shape (...). Exact in one dimension."""
        return super().basin(x)

    def _basin(self, xp, x):
        return (x[..., 0] > self._roots[1]).astype(xp.int64)

    def potential(self, x):
        """U at scalar or array ``x`` (no trailing axis): the callable the 1-D formulas take."""
        try:
            x = np.asarray(x)
        except ValueError:
            raise TypeError("x must be a number or an array of numbers; got a ragged sequence") from None
        return self.value(x[..., None])

    def __repr__(self) -> str:
        return f"DoubleWell(height={self.height!r}, width={self.width!r}, tilt={self.tilt!r})"


# -- the double well with coupled transverse directions -------------------------------


class DoubleWellND(Landscape):
    r"""A double well along :math:`x_0` with harmonic transverse directions whose stiffness depends on :math:`x_0`.

    .. math::

        U(x) = \mathrm{DW}(x_0) + \tfrac12 \sum_{j\ge1} k_j\,(1 + c\,x_0^2)\,x_j^2,
        \qquad \mathrm{DW}(x_0) = h\,((x_0/w)^2 - 1)^2 - F x_0,

    with :math:`\mathrm{DW}` the 1-D well of :class:`DoubleWell` and
    ``dim = 1 + len(transverse)``.

    Parameters
    ----------
    height, width, tilt : float
        Those of :class:`DoubleWell` (same defaults and ranges).
    transverse : float or sequence of float, default (1.0,)
        Transverse curvatures :math:`k_j > 0` (at :math:`x_0 = 0`); at least one.
    coupling : float, default 0
        :math:`c`. Must keep every transverse curvature positive at the
        critical points: :math:`c > -1/\max_* x_{0*}^2` over the critical
        :math:`x_{0*}` of the 1-D well.

    Notes
    -----
    Gradient: :math:`\partial_0 U = \mathrm{DW}'(x_0) + c\,x_0 \sum_j k_j x_j^2`,
    :math:`\partial_j U = k_j (1 + c x_0^2) x_j`. Hessian:
    :math:`H_{00} = \mathrm{DW}''(x_0) + c\sum_j k_j x_j^2`,
    :math:`H_{0j} = 2 c\,x_0 k_j x_j`, :math:`H_{jj} = k_j(1 + c x_0^2)`.

    The isolated critical points are those of the 1-D well on the axis
    :math:`x_j = 0`, with Hessian :math:`\mathrm{diag}(\mathrm{DW}''(x_{0*}), k_j(1 + c x_{0*}^2))`.
    The transverse curvatures therefore differ between minimum and saddle when
    :math:`c \ne 0`, and the Eyring-Kramers ratio
    :math:`|\det H_b|/\det H_a = |\mathrm{DW}''(b)|/\mathrm{DW}''(a)\;\prod_j (1+c b^2)/(1+c a^2)`
    is not the 1-D one; untilted, :math:`a = \pm w`, :math:`b = 0`, it is
    :math:`1/(2 (1 + c w^2)^{d-1})`. This landscape exists to test that prefactor.

    For :math:`c < 0` the stiffness vanishes at :math:`|x_0| = 1/\sqrt{-c}`,
    beyond both minima: there the loss is unbounded below and has degenerate
    (non-isolated) critical sets, which :meth:`critical_points` does not list.

    Basins: :meth:`basin` labels 0 the basin of the left minimum and 1 that of
    the right one. The separatrix is the hyperplane :math:`x_0 = x_b` exactly
    when ``tilt == 0`` (by symmetry) or ``coupling == 0`` (then :math:`x_0`
    evolves on its own); otherwise :meth:`basin` uses the separatrix to second
    order in the transverse coordinates,
    :math:`x_0 = x_b + \sum_j a_j x_j^2`, :math:`a_j = c\,x_b k_j / (\lambda_b + 2 k_j (1 + c x_b^2))`
    with :math:`\lambda_b = -\mathrm{DW}''(x_b)`, which is accurate near the saddle,
    where escaping walkers cross.
    """

    def __init__(self, height=0.25, width=1.0, tilt=0.0, transverse=(1.0,), coupling=0.0):
        self._well = DoubleWell(height, width, tilt)
        self.height, self.width, self.tilt = self._well.height, self._well.width, self._well.tilt
        k = np.atleast_1d(v.positive(transverse, "transverse")).astype(np.float64)
        if k.ndim != 1 or k.size < 1:
            raise DomainError(f"transverse must be a non-empty 1-D sequence of curvatures; got shape {k.shape}")
        self.transverse = k
        self.dim = 1 + k.size
        c = float(v.finite(_scalar(coupling, "coupling"), "coupling"))
        r2 = float(np.max(self._well._roots**2))
        if not np.isfinite(c * r2):
            raise DomainError(f"coupling must keep coupling*x0^2 finite at the critical points (|coupling| below "
                              f"{np.finfo(float).max / r2:.6g} for this well); got {c!r}")
        if not 1.0 + c * r2 > 0:
            raise DomainError(f"coupling must be > {-1 / r2:.6g} (= -1/x0^2 at the critical point farthest from 0, "
                              f"so that 1 + coupling*x0^2 > 0 there); got {c!r}")
        self.coupling = c
        xb = self._well._roots[1]
        lam_b = -float(self._well.hessian(np.array([xb]))[0, 0])
        # second-order separatrix x0 = xb + sum_j a_j x_j^2 (zero when c*xb == 0: then exact)
        self._sep = c * xb * k / (lam_b + 2 * k * (1 + c * xb * xb))
        self._sep_exact = not np.any(self._sep)

    def value(self, x):
        r""":math:`U(x)` for ``x`` of shape (..., dim); returns shape (...)."""
        xp, x = _points(x, self.dim)
        x0, xt = x[..., 0], x[..., 1:]
        q = xp.sum(self._const(xp, "transverse") * xt * xt, axis=-1)
        w = self._well
        x2 = x0 * x0
        if self.coupling == 0:  # (1 + 0 x0^2) = 1, also where x0^2 overflows
            return (w._c4 * x2 + w._c2) * x2 + w._c1 * x0 + w._c0 + 0.5 * q
        # on the axis (q = 0) the transverse term is 0 even where 1 + c x0^2 overflows
        t = xp.where(q == 0, 0.0, 0.5 * (1 + self.coupling * x2) * q)
        return _no_nan((w._c4 * x2 + w._c2) * x2 + w._c1 * x0 + w._c0 + t, xp)

    def _gradient_into(self, xp, x, out) -> None:
        w, c = self._well, self.coupling
        a3, a1, a0 = w._a3, w._a1, w._a0
        ks = [float(t) for t in self.transverse]

        def uncoupled(x, out, _):
            for j, kj in enumerate(ks, 1):
                xp.multiply(x[..., j], kj, out=out[..., j])
            _cubic_into(xp, x[..., 0], out[..., 0], a3, a1, a0)

        def coupled(x, out, s):
            x0, o0 = x[..., 0], out[..., 0]
            # o0 <- Q = sum_j k_j x_j^2, the transverse outputs serving as scratch
            for j, kj in enumerate(ks, 1):
                xj, oj = x[..., j], out[..., j]
                xp.multiply(xj, xj, out=oj)
                if j == 1:
                    xp.multiply(oj, kj, out=o0)
                else:
                    oj *= kj
                    o0 += oj
            # o0 <- a3 x0 (x0^2 + a1/a3 + (c/a3) Q) + a0
            xp.multiply(x0, x0, out=s)
            o0 *= c / a3
            o0 += s
            if a1 != 0:
                o0 += a1 / a3
            o0 *= x0
            if a3 != 1:
                o0 *= a3
            if a0 != 0:
                o0 += a0
            # o_j <- k_j (1 + c x0^2) x_j
            s *= c
            s += 1.0
            for j, kj in enumerate(ks, 1):
                oj = out[..., j]
                xp.multiply(x[..., j], s, out=oj)
                if kj != 1:
                    oj *= kj

        if c == 0:
            _blocked(xp, x, out, uncoupled)
        else:
            _blocked(xp, x, out, coupled, scratch=True)

    def hessian(self, x):
        """The Hessian, shape (..., dim, dim) (see the class notes)."""
        xp, x = _points(x, self.dim)
        k = self._const(xp, "transverse")
        c, w = self.coupling, self._well
        x0, xt = x[..., 0], x[..., 1:]
        h = xp.zeros(x.shape + (self.dim,), dtype=x.dtype)
        idx = xp.arange(1, self.dim)
        if c == 0:  # no coupling terms (0 times an overflowed square would be NaN)
            h[..., 0, 0] = 12 * w._c4 * x0 * x0 + 2 * w._c2
            h[..., idx, idx] = k * xp.ones_like(x0)[..., None]
            return h
        h[..., 0, 0] = 12 * w._c4 * x0 * x0 + 2 * w._c2 + c * xp.sum(k * xt * xt, axis=-1)
        off = 2 * c * x0[..., None] * k * xt
        h[..., 0, 1:] = off
        h[..., 1:, 0] = off
        h[..., idx, idx] = k * (1 + c * x0 * x0)[..., None]
        return _no_nan(h, xp)

    def critical_points(self) -> list[CriticalPoint]:
        """The isolated critical points: the 1-D well's on the axis (x_j = 0), sorted by value."""
        pts = []
        for r in self._well._roots:
            x = np.zeros(self.dim)
            x[0] = r
            pts.append(self._critical_point(x))
        return sorted(pts, key=lambda c: c.value)

    def basin(self, x):
        """0 in the basin of the left minimum, 1 in the right one's; shape (...). See the class notes."""
        return super().basin(x)

    def _basin(self, xp, x):
        x0 = x[..., 0]
        xb = self._well._roots[1]
        if self._sep_exact:
            return (x0 > xb).astype(xp.int64)
        xt = x[..., 1:]
        return (x0 > xb + (xt * xt) @ self._const(xp, "_sep")).astype(xp.int64)

    def __repr__(self) -> str:
        k = tuple(float(t) for t in self.transverse)
        return (f"DoubleWellND(height={self.height!r}, width={self.width!r}, tilt={self.tilt!r}, "
                f"transverse={k!r}, coupling={self.coupling!r})")


# -- Styblinski-Tang -------------------------------------------------------------------


class StyblinskiTang(Landscape):
    r"""The Styblinski-Tang function, sharpened: :math:`f_k(\theta) = f(\sqrt k\,\theta)`.

    .. math::

        f(x) = \tfrac12 \sum_{i<d} \left(x_i^4 - 16 x_i^2 + 5 x_i\right),\qquad
        f_k(\theta) = \tfrac12 \sum_i \left(k^2\theta_i^4 - 16 k\,\theta_i^2 + 5\sqrt k\,\theta_i\right).

    Parameters
    ----------
    dim : int, default 10
        Dimension :math:`d \ge 1`.
    sharpness : float, default 1
        :math:`k > 0` (between :math:`10^{-150}` and :math:`10^{150}`).
        Sharpening multiplies every Hessian by :math:`k`, moves every critical
        point to :math:`x_*/\sqrt k` and leaves values (hence barriers) unchanged.

    Notes
    -----
    Separable: per coordinate the gradient is the cubic
    :math:`\partial_i f_k = 2k^2\theta^3 - 16k\,\theta + \tfrac52\sqrt k`, whose
    three real roots (:meth:`coordinate_roots`) are, for :math:`k = 1`, the
    global minimum :math:`\approx -2.9035`, the maximum :math:`\approx 0.1567`
    and the local minimum :math:`\approx 2.7468` (curvatures
    :math:`6k^2\theta^2 - 16k`). The critical points are the :math:`3^d`
    combinations; the :math:`2^d` minima put every coordinate at a minimum,
    the :math:`d\,2^{d-1}` index-1 saddles exactly one at the maximum. The
    global minimum has value :math:`\approx -39.16617\,d`; the barrier out of a
    coordinate's global (local) minimum is :math:`\approx 39.36` (:math:`25.23`).

    Orders: :meth:`minima` lists minima by number of coordinates at the local
    minimum, then by :meth:`basin` label (so by value; index 0 is the global
    minimum); :meth:`route` finds the :math:`i`-th of them without
    enumerating. :meth:`minima`, :meth:`saddles` and :meth:`critical_points`
    enumerate (:math:`2^d`, :math:`d\,2^{d-1}` and :math:`3^d` points: they
    refuse more than 65536); :meth:`route`, :meth:`routes` and
    :meth:`global_minimum` do not.

    Basins: coordinate :math:`i` flows to the local minimum when
    :math:`\theta_i` exceeds the maximum, else to the global one, so
    :meth:`basin` returns :math:`\sum_i 2^i\,[\theta_i > \theta_{\max}]`
    (exact; needs :math:`d \le 62`).
    """

    def __init__(self, dim=10, sharpness=1.0):
        self.dim = v.as_int(dim, "dim", low=1)
        self.sharpness = float(v.positive(_scalar(sharpness, "sharpness"), "sharpness"))
        k = self.sharpness
        if not 1e-150 <= k <= 1e150:
            raise DomainError(f"sharpness must be in [1e-150, 1e150] (its square enters the quartic term); got {k!r}")
        self._sk = math.sqrt(k)
        # per-coordinate gradient a3 t^3 + a1 t + a0
        self._a3, self._a1, self._a0 = 2 * k * k, -16 * k, 2.5 * self._sk
        # unsharpened per-coordinate quantities (global min, max, local min)
        base = _cubic_roots(2.0, -16.0, 2.5)
        self._base_roots = base
        self._base_values = 0.5 * (((base * base - 16.0) * base + 5.0) * base)
        self._roots = np.array([_newton_cubic(self._a3, self._a1, self._a0, r / self._sk) for r in base])
        self._curv = k * (6.0 * base * base - 16.0)
        self._cache: dict = {}

    # -- evaluation --

    def value(self, x):
        r""":math:`f_k(\theta)` for ``x`` of shape (..., dim); returns shape (...)."""
        xp, x = _points(x, self.dim)
        u = x * self._sk if self._sk != 1 else x
        t = u * u
        t -= 16.0
        t *= u
        t += 5.0
        t *= u
        return 0.5 * xp.sum(t, axis=-1)

    def _gradient_into(self, xp, x, out) -> None:
        # separable: one cubic over the whole array, five in-place passes (per block, in cache)
        a3, a1, a0 = self._a3, self._a1, self._a0
        _blocked(xp, x, out, lambda x, out, _: _cubic_into(xp, x, out, a3, a1, a0))

    def hessian(self, x):
        r"""Diagonal, :math:`6k^2\theta_i^2 - 16k`; shape (..., dim, dim)."""
        xp, x = _points(x, self.dim)
        h = xp.zeros(x.shape + (self.dim,), dtype=x.dtype)
        idx = xp.arange(self.dim)
        h[..., idx, idx] = (3 * self._a3) * x * x + self._a1
        return h

    def hessian_diagonal(self, x):
        """The Hessian's diagonal (all of it), shape (..., dim)."""
        xp, x = _points(x, self.dim)
        return (3 * self._a3) * x * x + self._a1

    def basin(self, x):
        r""":math:`\sum_i 2^i [\theta_i > \theta_{\max}]`, shape (...).

        Bit :math:`i` is set where coordinate :math:`i` is on the local minimum's side of the maximum.
        """
        return super().basin(x)

    def _basin(self, xp, x):
        if self.dim > 62:
            raise DomainError(f"basin labels are bits of an int64: dim must be <= 62; got {self.dim}")
        bits = (x > self._roots[1]).astype(xp.int64)
        if xp is np:
            return bits @ self._const(xp, "_bit_weights")
        return xp.sum(bits * self._const(xp, "_bit_weights"), axis=-1)

    @property
    def _bit_weights(self) -> np.ndarray:
        return np.left_shift(np.int64(1), np.arange(self.dim, dtype=np.int64))

    # -- critical points --

    def coordinate_roots(self) -> np.ndarray:
        r"""The three per-coordinate critical values, ascending: global minimum, maximum, local minimum.

        Roots of the cubic :math:`2k^2\theta^3 - 16k\theta + \tfrac52\sqrt k`, Newton-polished.
        """
        return self._roots.copy()

    def _build(self, digits: np.ndarray, order: np.ndarray) -> list[CriticalPoint]:
        """CriticalPoints for rows of ``digits`` (0 global min, 1 max, 2 local min per coordinate), in ``order``."""
        digits = digits[order]
        xs = self._roots[digits]
        # the value from the per-coordinate counts: equal (to the bit) for points of one class,
        # so lists sorted by value keep their documented order
        v0, v1, v2 = self._base_values
        vals = (digits == 0).sum(axis=1) * v0 + (digits == 1).sum(axis=1) * v1 + (digits == 2).sum(axis=1) * v2
        curv = self._curv[digits]
        perm = np.argsort(curv, axis=1, kind="stable")
        eigvals = np.take_along_axis(curv, perm, axis=1)
        eye = np.eye(self.dim)
        return [CriticalPoint(xs[n], float(vals[n]), eigvals[n], eye[:, perm[n]]) for n in range(len(digits))]

    def _enumerable(self, count: int, what: str) -> None:
        if count > _MAX_ENUMERATED:
            raise DomainError(f"{what} would list {count} points for dim={self.dim} (more than {_MAX_ENUMERATED}); "
                              "use route(), routes() and global_minimum(), which do not enumerate")

    def _all_bits(self) -> np.ndarray:
        labels = np.arange(1 << self.dim, dtype=np.int64)
        return ((labels[:, None] >> np.arange(self.dim)) & 1).astype(bool)

    def minima(self) -> list[CriticalPoint]:
        """All :math:`2^d` minima, by value (see the class notes for the order of equal values)."""
        self._enumerable(1 << self.dim, "minima()")
        if "minima" not in self._cache:
            bits = self._all_bits()
            order = np.lexsort((np.arange(len(bits)), bits.sum(axis=1)))
            self._cache["minima"] = self._build(np.where(bits, 2, 0), order)
        return list(self._cache["minima"])

    def saddles(self) -> list[CriticalPoint]:
        """All :math:`d\\,2^{d-1}` index-1 saddles (one coordinate at the maximum), by value."""
        d = self.dim
        self._enumerable(d << (d - 1), "saddles()")
        if "saddles" not in self._cache:
            bits = self._all_bits()
            digits, keys = [], []
            for i in range(d):
                rows = ~bits[:, i]                      # the other coordinates' minima, bit i unused
                dg = np.where(bits[rows], 2, 0)
                dg[:, i] = 1
                digits.append(dg)
                lab = np.flatnonzero(rows)
                keys.append(np.stack([bits[rows].sum(axis=1), np.full(lab.size, i), lab], axis=1))
            digits, keys = np.concatenate(digits), np.concatenate(keys)
            order = np.lexsort((keys[:, 2], keys[:, 1], keys[:, 0]))
            self._cache["saddles"] = self._build(digits, order)
        return list(self._cache["saddles"])

    def critical_points(self) -> list[CriticalPoint]:
        """All :math:`3^d` critical points, by value: exponential in ``dim`` (at most dim = 10)."""
        self._enumerable(3**self.dim, "critical_points()")
        if "all" not in self._cache:
            n = 3**self.dim
            digits = (np.arange(n)[:, None] // 3 ** np.arange(self.dim)) % 3
            v0, v1, v2 = self._base_values
            value = (digits == 0).sum(axis=1) * v0 + (digits == 1).sum(axis=1) * v1 + (digits == 2).sum(axis=1) * v2
            order = np.lexsort((np.arange(n), value))
            self._cache["all"] = self._build(digits, order)
        return list(self._cache["all"])

    def global_minimum(self) -> CriticalPoint:
        """The global minimum (every coordinate at the per-coordinate global minimum)."""
        return self._minimum(0)

    def _minimum(self, label: int) -> CriticalPoint:
        bits = self._label_bits(label)
        return self._build(np.where(bits, 2, 0)[None, :], np.array([0]))[0]

    def _label_bits(self, label: int) -> np.ndarray:
        return np.array([(label >> i) & 1 for i in range(self.dim)], dtype=bool)

    def _label_of_rank(self, rank: int) -> int:
        """The basin label of ``minima()[rank]``, without enumerating (combinatorial unranking)."""
        d = self.dim
        m = 0
        while rank >= math.comb(d, m):
            rank -= math.comb(d, m)
            m += 1
        label = 0
        for p in range(d - 1, -1, -1):              # the rank-th integer with m bits set, ascending
            if m == 0:
                break
            c = math.comb(p, m)
            if rank >= c:
                label |= 1 << p
                rank -= c
                m -= 1
        return label

    def _minimum_label(self, minimum) -> int:
        if isinstance(minimum, (int, np.integer)) and not isinstance(minimum, bool):
            n = 1 << self.dim
            i = operator.index(minimum)
            if not -n <= i < n:
                raise DomainError(f"minimum must be an index in [-2**dim, 2**dim) = [{-n}, {n}); got {i}")
            return self._label_of_rank(i % n)
        x = np.asarray(v.finite(minimum, "minimum"), dtype=np.float64)
        if x.shape != (self.dim,):
            raise DomainError(f"minimum must be an index or a point of shape ({self.dim},); got shape {x.shape}")
        return sum(1 << i for i in range(self.dim) if x[i] > self._roots[1])

    def _saddle_coordinate(self, saddle, label: int) -> int:
        d = self.dim
        if isinstance(saddle, (int, np.integer)) and not isinstance(saddle, bool):
            i = operator.index(saddle)
            if not -d <= i < d:
                raise DomainError(f"saddle must be a coordinate index in [-dim, dim) = [{-d}, {d}); got {i}")
            return i % d
        x = np.asarray(v.finite(saddle, "saddle"), dtype=np.float64)
        if x.shape != (d,):
            raise DomainError(f"saddle must be a coordinate index or a point of shape ({d},); got shape {x.shape}")
        dist = np.abs(x[:, None] - self._roots[None, :])
        nearest = dist.argmin(axis=1)
        scale = 1e-6 * max(1.0, float(np.abs(self._roots).max()))
        expected = np.where(self._label_bits(label), 2, 0)
        at_max = np.flatnonzero(nearest == 1)
        if (dist.min(axis=1) > scale).any() or at_max.size != 1 or \
                np.any(np.delete(nearest, at_max) != np.delete(expected, at_max)):
            raise DomainError("saddle must be an index-1 saddle next to the minimum: one coordinate at the "
                              "per-coordinate maximum and the others at the minimum's coordinates (within 1e-6)")
        return int(at_max[0])

    def route(self, minimum=0, saddle=None) -> Route:
        r"""The escape route out of a minimum over the saddle that moves one coordinate to its maximum.

        Parameters
        ----------
        minimum : int or array_like, default 0
            An index into :meth:`minima` (0: the global minimum; computed
            without enumerating), or a point, which stands for the minimum of
            the basin it lies in.
        saddle : int or array_like, optional
            The coordinate :math:`i` that crosses its maximum, or the saddle
            point itself. Default: the lowest adjacent saddle (a coordinate at
            its local minimum if there is one; the first such coordinate).

        Returns
        -------
        Route
            Towards the minimum with coordinate :math:`i` flipped; the barrier
            is the per-coordinate one, :math:`f_1(\theta_{\max}) - f_1(\theta_i)`,
            computed without cancellation against the other coordinates.
        """
        label = self._minimum_label(minimum)
        if saddle is None:
            bits = self._label_bits(label)
            barriers = self._base_values[1] - np.where(bits, self._base_values[2], self._base_values[0])
            i = int(np.argmin(barriers))
        else:
            i = self._saddle_coordinate(saddle, label)
        return self._route(label, i)

    def routes(self, minimum=0) -> list[Route]:
        r"""All ``dim`` single-coordinate routes out of a minimum, coordinate by coordinate.

        Escape rates over parallel paths add: :math:`\gamma_{\rm total} = \sum_p \gamma_p`.
        """
        label = self._minimum_label(minimum)
        return [self._route(label, i) for i in range(self.dim)]

    def _route(self, label: int, i: int) -> Route:
        a = self._minimum(label)
        t = 2 if (label >> i) & 1 else 0
        digits = np.where(self._label_bits(label), 2, 0)
        digits[i] = 1
        b = self._build(digits[None, :], np.array([0]))[0]
        nxt = self._minimum(label ^ (1 << i))
        e = np.zeros(self.dim)
        e[i] = 1.0 if self._roots[1] > self._roots[t] else -1.0
        delta = float(self._base_values[1] - self._base_values[t])
        return Route(a, b, nxt, delta, e, float(self._curv[t]), float(-self._curv[1]))

    def __repr__(self) -> str:
        return f"StyblinskiTang(dim={self.dim}, sharpness={self.sharpness!r})"


# -- convex quadratic ------------------------------------------------------------------


class Quadratic(Landscape):
    r"""The convex quadratic :math:`L(x) = \tfrac12 \sum_i \lambda_i x_i^2` (one minimum, at 0; no saddle).

    Parameters
    ----------
    eigvals : float or sequence of float
        Curvatures :math:`\lambda_i > 0`; ``dim = len(eigvals)``.
    """

    def __init__(self, eigvals):
        lam = np.atleast_1d(v.positive(eigvals, "eigvals")).astype(np.float64)
        if lam.ndim != 1 or lam.size < 1:
            raise DomainError(f"eigvals must be a non-empty 1-D sequence; got shape {lam.shape}")
        self.eigvals = lam
        self.dim = lam.size

    def value(self, x):
        r""":math:`\tfrac12\sum_i\lambda_i x_i^2`, shape (...)."""
        xp, x = _points(x, self.dim)
        return 0.5 * xp.sum(self._const(xp, "eigvals") * x * x, axis=-1)

    def _gradient_into(self, xp, x, out) -> None:
        lam = [float(t) for t in self.eigvals]

        def kernel(x, out, _):
            for j, lj in enumerate(lam):
                xp.multiply(x[..., j], lj, out=out[..., j])

        _blocked(xp, x, out, kernel)

    def hessian(self, x):
        r""":math:`\mathrm{diag}(\lambda)`, broadcast to shape (..., dim, dim)."""
        xp, x = _points(x, self.dim)
        h = xp.zeros(x.shape + (self.dim,), dtype=x.dtype)
        idx = xp.arange(self.dim)
        h[..., idx, idx] = self._const(xp, "eigvals")
        return h

    def critical_points(self) -> list[CriticalPoint]:
        """The minimum at the origin (the gradient's only root)."""
        return [self._critical_point(np.zeros(self.dim))]

    def basin(self, x):
        """0 everywhere (one basin); shape (...)."""
        return super().basin(x)

    def _basin(self, xp, x):
        return xp.zeros(x.shape[:-1], dtype=xp.int64)

    def __repr__(self) -> str:
        return f"Quadratic(eigvals={[float(t) for t in self.eigvals]!r})"
