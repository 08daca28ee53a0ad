"""Self-consistent gap: BCS numbers, analytic pair-breaking results, Chandrasekhar-Clogston, gradients."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import digamma

import jaxqp as qp
from jaxqp.selfconsistency import TC0


def test_bcs_numbers():
    assert TC0 == pytest.approx(math.exp(0.5772156649015329) / math.pi)
    assert float(qp.gap(0.0)) == pytest.approx(1.0, abs=1e-9)
    assert float(qp.gap_equation(1.0, 0.0)) == pytest.approx(0.0, abs=1e-9)
    # G(Delta, T=0) = ln(1/Delta) in BCS
    assert float(qp.gap_equation(0.5, 0.0)) == pytest.approx(math.log(2.0), abs=1e-9)
    # linearised equation: ln(Tc0/T)
    assert float(qp.gap_equation(0.0, 0.3)) == pytest.approx(math.log(TC0 / 0.3), abs=1e-9)
    tc = float(qp.tc())
    assert tc == pytest.approx(TC0, rel=1e-9)
    assert 1.0 / tc == pytest.approx(math.pi * math.exp(-0.5772156649015329), rel=1e-9)  # Delta0/kTc = 1.764


def test_gap_near_tc_and_low_temperature():
    # Ginzburg-Landau: Delta = pi sqrt(8/(7 zeta(3))) kTc sqrt(1 - T/Tc) = 3.0633 Tc sqrt(1 - t)
    t = 0.9995
    d = float(qp.gap(t * TC0))
    assert d == pytest.approx(3.0633 * TC0 * math.sqrt(1 - t), rel=5e-4)
    # exponentially small change at low T: Delta(T) ~ 1 - sqrt(2 pi T) exp(-1/T)
    T = 0.1
    assert 1.0 - float(qp.gap(T)) == pytest.approx(math.sqrt(2 * math.pi * T) * math.exp(-1 / T), rel=0.05)
    # monotonic decrease, and every point of a batched sweep solves the gap equation
    Ts = jnp.linspace(0.0, 0.56, 100)
    D = qp.gap(Ts)
    assert float(jnp.max(jnp.abs(qp.gap_equation(D, Ts)))) < 1e-10
    D = np.asarray(D)
    assert np.all(np.diff(D) < 1e-12) and D[-1] > 0  # flat to round-off at low T
    assert float(qp.gap(0.6)) == 0.0


def test_pair_breaking_critical_temperatures_are_digamma_laws():
    z = 0.1
    f = lambda T: math.log(TC0 / T) - (digamma(0.5 + z / (2 * math.pi * T)) - digamma(0.5))  # noqa: E731
    assert float(qp.tc(zeta=z)) == pytest.approx(brentq(f, 0.05, 0.56), rel=1e-8)
    h = 0.3

    def g(T):  # ln(Tc0/T) = Re psi(1/2 + i h/(2 pi T)) - psi(1/2), as its Matsubara series
        w = 2 * math.pi * T * (np.arange(400000) + 0.5)
        return math.log(TC0 / T) - 2 * math.pi * T * np.sum(1 / w - w / (w**2 + h**2))

    assert float(qp.tc(h=h)) == pytest.approx(brentq(g, 0.05, 0.56), rel=1e-6)


def test_abrikosov_gorkov_zero_temperature_gap():
    """ln(Delta00/Delta) = pi zeta / (4 Delta) for zeta <= Delta (AG, T = 0)."""
    for z in (0.1, 0.2):
        d = float(qp.gap(0.0, zeta=z))
        assert math.log(1 / d) == pytest.approx(math.pi * z / (4 * d), abs=1e-9)


def test_chandrasekhar_clogston():
    hs = jnp.array([0.3, 0.6, 0.69, 0.70, 0.714, 0.72])
    b = qp.gap_branches(0.0, h=hs)
    d = np.asarray(b.delta)
    fe = np.asarray(b.free_energy)
    for i, h in enumerate(np.asarray(hs)):
        k = int(np.nanargmax(np.where(np.asarray(b.locally_stable[i]), d[i], np.nan)))
        # BCS branch: Delta = 1, Omega_S - Omega_N = -1/2 + h^2
        assert d[i, k] == pytest.approx(1.0, abs=1e-8)
        assert fe[i, k] == pytest.approx(-0.5 + h**2, abs=2e-5)
        if h > 0.5:  # the unstable (Sarma) branch Delta = sqrt(2h - 1) exists too
            unstable = d[i][np.asarray(b.valid[i]) & ~np.asarray(b.locally_stable[i])]
            assert unstable.size == 1 and unstable[0] == pytest.approx(math.sqrt(2 * h - 1), abs=1e-7)
    # first-order transition at h = 1/sqrt(2)
    stable = np.asarray(b.stable)
    assert np.all(stable[np.asarray(hs) < 1 / math.sqrt(2)] == pytest.approx(1.0, abs=1e-8))
    assert np.all(stable[np.asarray(hs) > 1 / math.sqrt(2)] == 0.0)
    assert np.all(np.asarray(qp.gap(0.0, h=hs)) == stable)
    # the bulk value h = Delta0/2 is where the normal state becomes unstable at T = 0
    assert float(qp.gap_equation(0.0, 0.0, h=0.5)) == pytest.approx(0.0, abs=1e-8)


def test_closed_form_without_pair_breaking_equals_the_general_solver():
    """With zeta, b_so and b_sf known to be zero the Matsubara functions take the closed form; a
    tiny nonzero zeta takes the general Newton solve.  Both give the same gaps (including the
    first-order branch at h > Delta/2 and the approach to Tc)."""
    T = jnp.array([0.02, 0.05, 0.1, 0.2, 0.45, 0.55])
    h = jnp.array([0.0, 0.6, 0.55, 0.3, 0.1, 0.0])
    closed = np.asarray(qp.gap(T, h=h))
    assert np.all(closed[:4] > 0.9) and 0.1 < closed[5] < 0.4
    np.testing.assert_allclose(closed, qp.gap(T, h=h, zeta=1e-300), rtol=0, atol=1e-13)


def test_debye_cutoff_variant():
    assert float(qp.gap(0.0, omega_D=10.0)) == pytest.approx(1.0, abs=1e-9)
    # G_D(0, T) = ln(Tc0/T) - ln((w + sqrt(w^2+1)) / (2 w))  =>  Tc_D = Tc0 * 2w / (w + sqrt(w^2+1))
    w = 10.0
    assert float(qp.tc(omega_D=w)) == pytest.approx(TC0 * 2 * w / (w + math.sqrt(w * w + 1)), rel=1e-7)
    assert float(qp.gap(0.3, omega_D=w)) < float(qp.gap(0.3))


def test_gap_gradients_match_finite_differences():
    x0 = jnp.array([0.25, 0.2, 0.05, 0.1])  # T, h, zeta, b_so

    def f(x):
        return qp.gap(x[0], h=x[1], zeta=x[2], b_so=x[3])

    jac = np.asarray(jax.jacfwd(f)(x0))
    grad = np.asarray(jax.grad(f)(x0))
    eps = 1e-5
    for i in range(4):
        e = jnp.zeros(4).at[i].set(eps)
        fd = float((f(x0 + e) - f(x0 - e)) / (2 * eps))
        assert jac[i] == pytest.approx(fd, rel=1e-5, abs=1e-8), i
        assert grad[i] == pytest.approx(fd, rel=1e-5, abs=1e-8), i


def test_tc_gradient():
    g = float(jax.grad(lambda h: qp.tc(h=h))(0.3))
    fd = float((qp.tc(h=0.3 + 1e-5) - qp.tc(h=0.3 - 1e-5)) / 2e-5)
    assert g == pytest.approx(fd, rel=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="T must be >= 0"):
        qp.gap(-0.1)
    with pytest.raises(ValueError, match="omega_D"):
        qp.gap(0.1, omega_D=1.0)
    with pytest.raises(ValueError, match="zeta"):
        qp.gap(0.1, zeta=-1.0)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        qp.gap(jnp.ones(3) * 0.1, h=jnp.ones(4) * 0.1)


def test_gap_of_any_shape_in_one_size_bucket_is_one_compiled_program():
    """Inputs are broadcast, flattened and padded to a few batch sizes (1, 2, 3, 4, 6, 8, 12, ...), so that
    batches of 11 and 12 points in any shape share one compiled program; every element equals the scalar
    call, and the padding never reaches the result."""
    from jaxqp import selfconsistency as sc
    from jaxqp.internal.batching import bucket_size

    assert [bucket_size(n) for n in (0, 1, 2, 3, 5, 7, 9, 13, 100)] == [0, 1, 2, 3, 6, 8, 12, 16, 128]
    T = np.linspace(0.05, 0.6, 12)
    before = sc.gap_jit._cache_size()
    a = qp.gap(T[:11], h=0.3, zeta=0.01)
    b = qp.gap(T.reshape(3, 4), h=0.3, zeta=0.01)
    c = qp.gap(0.3, h=np.full((2, 6), 0.3), zeta=0.01)
    assert sc.gap_jit._cache_size() - before <= 1  # 3 without the buckets
    assert a.shape == (11,) and b.shape == (3, 4) and c.shape == (2, 6)
    one = np.array([float(qp.gap(t, h=0.3, zeta=0.01)) for t in T])
    np.testing.assert_allclose(np.asarray(b).ravel(), one, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(a), one[:11], rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(np.asarray(c), float(qp.gap(0.3, h=0.3, zeta=0.01)), rtol=1e-13)
    # under a trace the same steps are traced: a gradient per element equals central differences
    g = jax.vmap(jax.grad(lambda t: qp.gap(t, h=0.3, zeta=0.01)))(jnp.asarray(T[:5]))
    up, dn = (np.asarray(qp.gap(T[:5] + s, h=0.3, zeta=0.01)) for s in (1e-6, -1e-6))
    fd = (up - dn) / 2e-6
    np.testing.assert_allclose(np.asarray(g), fd, rtol=1e-5, atol=1e-7)
