"""theory.diagnose: each number against its exact value on models where it is known."""

from __future__ import annotations

import numpy as np
import pytest

import theory
from theory import DomainError, kramers, sam, vgd
from theory.hessian_models import LinearLeastSquares
from theory.rng import seed_sequence
from theory.simulators import GD, IVON, SAM, SGD, VGD
from theory.stats import z_critical

RNG = np.random.default_rng(seed_sequence(21))
X = RNG.normal(size=(80, 12)) * np.linspace(0.3, 2.0, 12)
Y = X @ RNG.normal(size=12) + 0.5 * RNG.normal(size=80)
LS = LinearLeastSquares(X, Y)
THETA = RNG.normal(size=12)
H = X.T @ X / 80


def test_least_squares_eigenvalues_edges_noise_and_trace():
    d = theory.diagnose(LS, lr=0.1, optimizer=VGD(0.05, n_samples=2), theta=THETA, batch_size=8, k=4)
    lam, vecs = np.linalg.eigh(H)
    np.testing.assert_allclose(d.eigenvalues, lam[::-1][:4], rtol=1e-12)
    assert d.edges == {"GD 2/lr": 20.0}
    g = LS.gradient(THETA)
    proj = (vecs[:, ::-1][:, :4].T @ g) ** 2
    np.testing.assert_allclose(d.vf_thresholds, vgd.vgd_threshold(0.1, 0.05, proj, 2), rtol=1e-9)
    # per-example gradient covariance along the eigenvectors, and its trace
    rows = LS.per_sample_gradients(THETA)
    c = np.cov(rows.T, bias=True)
    np.testing.assert_allclose(d.noise_along, np.einsum("ij,jk,ki->i", vecs[:, ::-1][:, :4].T, c,
                                                        vecs[:, ::-1][:, :4]), rtol=1e-9)
    assert d.noise_trace == pytest.approx(np.trace(c), rel=1e-12)
    assert d.minibatch_factor == pytest.approx((80 - 8) / (8 * 79), rel=1e-15)
    # Hutch++ with its own standard error
    assert abs(float(d.trace.z(np.trace(H)))) < z_critical(1e-4)
    assert d.barrier is None and d.log_escape_time is None  # a quadratic has no barrier
    assert "no barrier" in str(d)


def test_sam_and_ivon_edges_and_the_effective_number():
    g = np.linalg.norm(LS.gradient(THETA))
    d = theory.diagnose(LS, lr=0.1, optimizer=SAM(0.05), theta=THETA, k=1)
    assert d.edges["SAM"] == pytest.approx(float(sam.sam_threshold(0.1, 0.05, g)), rel=1e-15)
    assert theory.diagnose(LS, lr=0.1, optimizer=SAM(0.05, False), theta=THETA, k=1).edges["USAM"] == \
        pytest.approx(float(sam.usam_threshold(0.1, 0.05)), rel=1e-15)
    ivon = theory.diagnose(LS, lr=0.1, optimizer=IVON(beta1=0.5), theta=THETA, k=1)
    assert ivon.edges["IVON adaptive"] == pytest.approx(3.0 / (0.5 * 0.1), rel=1e-15)
    d = theory.diagnose(LS, lr=0.1, theta=THETA, alpha=0.5, n_probes=40, k=1)
    exact = float(np.sum(np.linalg.eigvalsh(H) / (np.linalg.eigvalsh(H) + 0.5)))
    # the quadrature is exact for P = 12 <= n_steps: only the probes' spread is left
    assert abs(float(d.effective_number.z(exact))) < z_critical(1e-4)


class _DoubleWell:
    """L(theta) = (theta^2 - 1)^2 in one dimension: minimum 1 (L'' = 8), maximum 0 (L'' = -4), barrier 1."""

    n_params, n_data = 1, 1

    def loss(self, theta, batch=None):
        return float((theta[0] ** 2 - 1) ** 2)

    def gradient(self, theta, batch=None):
        return np.array([4 * theta[0] * (theta[0] ** 2 - 1)])

    def hvp(self, theta, vec, batch=None):
        return (12 * theta[0] ** 2 - 4) * np.asarray(vec, dtype=float)


def test_the_escape_estimate_finds_the_barrier_and_gives_sgds_time():
    d = theory.diagnose(_DoubleWell(), lr=0.05, optimizer=SGD(4), theta=[1.0], k=1, n_probes=4)
    assert d.barrier == pytest.approx(1.0, rel=1e-9)
    expected = float(kramers.sgd_escape_time(1.0, 8.0, -4.0, 0.05, 4, log=True))
    assert d.log_escape_time == pytest.approx(expected, rel=1e-6)
    assert d.noise_along is None  # no per-example gradients: no noise rows


def test_plot_and_refusals():
    import matplotlib
    matplotlib.use("Agg")
    ax = theory.diagnose(LS, lr=0.1, optimizer=VGD(0.05), theta=THETA, k=3).plot()
    assert ax.get_yscale() == "log"
    with pytest.raises(ValueError, match="lr"):
        theory.diagnose(LS, lr=-1.0, theta=THETA)
    with pytest.raises(ValueError, match="k"):
        theory.diagnose(LS, lr=0.1, theta=THETA, k=13)
    with pytest.raises(TypeError, match="optimizer"):
        theory.diagnose(LS, lr=0.1, theta=THETA, optimizer="adam")
    with pytest.raises(ValueError, match="theta"):
        theory.diagnose(LS, lr=0.1, theta=np.zeros(3))
    with pytest.raises(TypeError, match="model"):
        theory.diagnose(object(), lr=0.1)
    assert theory.diagnose(LS, lr=0.1, optimizer=GD(), theta=THETA, k=1).batch_size is None
