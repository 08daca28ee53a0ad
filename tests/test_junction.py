"""Tunnel junctions: analytic limits, exact symmetries, conservation laws, autodiff vs FD, errors."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp import grids

V4 = jnp.array([-1.7, -0.4, 0.6, 2.3])


def test_normal_normal_is_ohmic_at_any_temperature():
    I = qp.tunnel_current(qp.NormalMetal(temperature=0.1), qp.NormalMetal(temperature=0.3), V4)
    np.testing.assert_allclose(np.asarray(I.charge), np.asarray(V4), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(I.spin), 0.0, atol=1e-12)
    G = qp.differential_conductance(qp.NormalMetal(temperature=0.1), qp.NormalMetal(temperature=0.3), V4)
    np.testing.assert_allclose(np.asarray(G.charge), 1.0, rtol=1e-5)


def test_nis_zero_temperature_is_analytic():
    """I(V) = int_0^V N(E) dE = Re[w(V + i Gamma) - w(i Gamma)], w = sqrt(z^2 - 1) retarded."""
    gam = 1e-3
    V = jnp.array([0.5, 0.99, 1.2, 3.0])
    I = qp.tunnel_current(qp.NormalMetal(temperature=0.0), qp.Superconductor(gamma=gam, temperature=0.0), V)

    def w(z):
        return np.sqrt(z - 1 + 0j) * np.sqrt(z + 1 + 0j)

    exact = np.real(w(np.asarray(V) + 1j * gam) - w(1j * gam))
    np.testing.assert_allclose(np.asarray(I.charge), exact, rtol=1e-4, atol=1e-6)


def test_sis_current_jump_at_the_sum_gap():
    """T = 0: I(Delta1 + Delta2 + 0) = (pi/2) sqrt(Delta1 Delta2) (Ambegaokar-Baratoff step)."""
    d1, d2 = 1.0, 0.6
    I = qp.tunnel_current(qp.Superconductor(delta=d1, gamma=1e-7), qp.Superconductor(delta=d2, gamma=1e-7),
                          jnp.array([d1 + d2 - 1e-3, d1 + d2 + 1e-4]), 0.0, 0.0, n_energy=4001)
    assert abs(float(I.charge[0])) < 1e-3
    assert float(I.charge[1]) == pytest.approx(math.pi / 2 * math.sqrt(d1 * d2), rel=1e-2)


def test_thermospin_symmetries_of_seed_004():
    """I_q(V,h) = -I_q(-V,h) = I_q(V,-h);  I_s(V,h) = I_s(-V,h) = -I_s(V,-h)."""
    S = qp.Superconductor(delta=0.83, gamma=1e-3, temperature=0.4)

    def cur(V, h):
        Sm = qp.Superconductor(delta=1.0, h=h, zeta=0.01, gamma=1e-3, temperature=0.006)
        return qp.tunnel_current(S, Sm, V)

    a, b, c = cur(V4, 0.3), cur(-V4, 0.3), cur(V4, -0.3)
    np.testing.assert_allclose(np.asarray(a.charge), -np.asarray(b.charge), atol=1e-9)
    np.testing.assert_allclose(np.asarray(a.charge), np.asarray(c.charge), atol=1e-9)
    np.testing.assert_allclose(np.asarray(a.spin), np.asarray(b.spin), atol=1e-9)
    np.testing.assert_allclose(np.asarray(a.spin), -np.asarray(c.spin), atol=1e-9)
    assert float(jnp.max(jnp.abs(a.spin))) > 1e-3  # nontrivial


def test_ohmic_limit_at_large_bias():
    S = qp.Superconductor(delta=1.0, gamma=1e-4, temperature=0.1)
    Sm = qp.Superconductor(delta=0.8, h=0.2, gamma=1e-4, temperature=0.05)
    G = qp.differential_conductance(S, Sm, jnp.array([30.0, -30.0]))
    np.testing.assert_allclose(np.asarray(G.charge), 1.0, atol=2e-3)


def test_conductance_autodiff_matches_finite_differences():
    """On a fixed grid (finite differences on the default grid would see the nodes move with V)."""
    N = qp.NormalMetal(temperature=0.05)
    S = qp.Superconductor(delta=1.0, h=0.15, zeta=0.02, gamma=2e-3, temperature=0.02)
    grid = grids.adaptive(jnp.array([-1.15, -0.85, 0.85, 1.15, 0.0]), jnp.array([0.02, 0.02, 0.02, 0.02, 0.05]),
                          -4.0, 4.0, 6001)
    V = V4 * 0.7
    G = qp.differential_conductance(N, S, V, grid=grid)
    eps = 1e-5
    fd = (qp.tunnel_current(N, S, V + eps, grid=grid).charge
          - qp.tunnel_current(N, S, V - eps, grid=grid).charge) / (2 * eps)
    np.testing.assert_allclose(np.asarray(G.charge), np.asarray(fd), rtol=1e-6, atol=1e-9)
    # and the default adaptive grids converge to the same conductance
    np.testing.assert_allclose(np.asarray(qp.differential_conductance(N, S, V).charge), np.asarray(G.charge),
                               rtol=5e-4)


def test_zero_temperature_conductance_is_the_dos():
    """NIS at T = 0: dI/dV = N_S(V) (the Fermi-edge term survives T -> 0)."""
    S = qp.Superconductor(delta=1.0, h=0.2, zeta=0.05, gamma=1e-3, temperature=0.0)
    V = jnp.array([0.5, 0.85, 1.3, 2.0])
    G = qp.differential_conductance(qp.NormalMetal(temperature=0.0), S, V)
    N = qp.dos(S, V)  # electrons of N at bias V probe the states of S at energy V
    np.testing.assert_allclose(np.asarray(G.up), np.asarray(0.5 * N[0]), rtol=2e-4)
    np.testing.assert_allclose(np.asarray(G.dn), np.asarray(0.5 * N[1]), rtol=2e-4)


def test_heat_currents_conserve_energy():
    """Heat into the right electrode = heat out of the left + Joule heat I V, computed independently."""
    L = qp.Superconductor(delta=0.9, gamma=1e-3, temperature=0.3)
    R = qp.Superconductor(delta=1.0, h=0.2, gamma=1e-3, temperature=0.05)
    QL = qp.heat_current(L, R, V4)
    I = qp.tunnel_current(L, R, V4)
    QR_out = qp.heat_current(R, L, -V4)  # heat leaving R, R biased at -V relative to L
    np.testing.assert_allclose(np.asarray(QL.charge + I.charge * V4), -np.asarray(QR_out.charge), atol=1e-6)
    np.testing.assert_allclose(np.asarray(QL.up + I.up * V4), -np.asarray(QR_out.up), atol=1e-6)
    # all four in one pass: the same currents, and dQ/dV against finite differences of Q
    r = qp.junction_response(L, R, V4)
    np.testing.assert_allclose(np.asarray(r["current"].charge), np.asarray(I.charge), rtol=1e-12)
    np.testing.assert_allclose(np.asarray(r["heat"].spin), np.asarray(QL.spin), rtol=1e-12, atol=1e-15)
    V = jnp.array([0.6])  # a fixed grid, refined at this bias's features (finite differences need one)
    peaks = jnp.array([0.6 - 0.9, 0.6 + 0.9, -1.2, -0.8, 0.8, 1.2, 0.0, 0.6])
    grid = grids.adaptive(peaks, jnp.array([1e-3] * 6 + [0.05, 0.05]), -15.0, 15.0, 8001)
    dQ = qp.junction_response(L, R, V, grid=grid)["heat_conductance"].charge
    fd = (qp.heat_current(L, R, V + 1e-5, grid=grid).charge - qp.heat_current(L, R, V - 1e-5, grid=grid).charge) / 2e-5
    np.testing.assert_allclose(np.asarray(dQ), np.asarray(fd), rtol=1e-6, atol=1e-9)


def test_nis_electronic_cooler_optimum():
    """Heat extracted from N peaks at V ~ Delta - 0.66 k_B T with 0.59 Delta^2/(e^2 R_T) (k_B T/Delta)^(3/2)."""
    T = 0.03
    N = qp.NormalMetal(temperature=T)
    S = qp.Superconductor(delta=1.0, gamma=1e-7, temperature=T)
    V = jnp.linspace(0.95, 1.0, 51)
    Q = np.asarray(qp.heat_current(N, S, V).charge)
    k = int(np.argmax(Q))
    assert float(V[k]) == pytest.approx(1 - 0.66 * T, abs=2e-3)
    assert Q[k] == pytest.approx(0.59 * T**1.5, rel=0.05)


def test_quasiparticle_detector_formula_is_the_cold_detector_limit():
    # tiny Dynes broadening: no subgap leakage through either DOS, which the formula neglects
    sample = qp.Superconductor(delta=1.0, h=0.2, zeta=0.01, gamma=1e-7)
    det = qp.Superconductor(delta=0.73, gamma=1e-7)
    V = jnp.array([0.1, 0.27, 0.3, 0.5, 1.2])  # below the sum gap 1.73
    approx = qp.quasiparticle_detector_conductance(sample, det, V, 0.15)
    exact = qp.differential_conductance(det, sample, V, 0.002, 0.15, n_energy=4001)
    np.testing.assert_allclose(np.asarray(approx.charge), np.asarray(exact.charge), rtol=2e-3, atol=2e-6)


def test_batching_and_chunking_are_consistent():
    S = qp.Superconductor(delta=jnp.array([0.7, 1.0])[:, None], gamma=1e-3, temperature=0.1)
    Sm = qp.Superconductor(delta=1.0, h=0.2, gamma=1e-3, temperature=0.02)
    a = qp.tunnel_current(S, Sm, V4)
    b = qp.tunnel_current(S, Sm, V4, chunk_size=3)
    assert a.up.shape == (2, 4)
    np.testing.assert_allclose(np.asarray(a.up), np.asarray(b.up), atol=1e-14)
    for i, d in enumerate((0.7, 1.0)):
        c = qp.tunnel_current(qp.Superconductor(delta=d, gamma=1e-3, temperature=0.1), Sm, V4)
        np.testing.assert_allclose(np.asarray(a.dn[i]), np.asarray(c.dn), atol=1e-12)
    up, dn = a  # unpacks as (I_up, I_dn)
    np.testing.assert_allclose(np.asarray(a.charge), np.asarray(up + dn))


def test_polarised_barrier_and_electrode_fields():
    N = qp.NormalMetal(temperature=0.0, bias=0.5)
    S = qp.Superconductor(delta=1.0, h=0.3, gamma=1e-3, temperature=0.0)
    I = qp.tunnel_current(N, S, polarization=0.4)  # V = N.bias - S.bias
    I0 = qp.tunnel_current(N, S, 0.5)
    assert float(I.up) == pytest.approx(1.4 * float(I0.up), rel=1e-12)
    assert float(I.dn) == pytest.approx(0.6 * float(I0.dn), rel=1e-12)


def test_user_grid_is_checked_and_used():
    N = qp.NormalMetal(temperature=0.05)
    S = qp.Superconductor(delta=1.0, gamma=1e-4)
    coarse = grids.uniform(-3.0, 3.0, 301)
    with pytest.raises(ValueError, match="too coarse"):
        qp.tunnel_current(N, S, 0.5, T_right=0.05, grid=coarse)
    fine = grids.adaptive(jnp.array([-1.0, 1.0, 0.5]), jnp.array([1e-4, 1e-4, 0.05]), -3.0, 3.0, 3001)
    a = qp.tunnel_current(N, S, 0.5, T_right=0.05, grid=fine)
    b = qp.tunnel_current(N, S, 0.5, T_right=0.05)
    assert float(a.charge) == pytest.approx(float(b.charge), rel=1e-4)


def test_bad_input():
    N = qp.NormalMetal(temperature=0.1)
    S = qp.Superconductor(gamma=1e-3)
    with pytest.raises(ValueError, match="T_right is missing"):
        qp.tunnel_current(N, S, 0.5)
    with pytest.raises(ValueError, match="T_left must be >= 0"):
        qp.tunnel_current(N, S, 0.5, -0.1, 0.1)
    with pytest.raises(ValueError, match="polarization"):
        qp.tunnel_current(N, S, 0.5, 0.1, 0.1, polarization=1.5)
    with pytest.raises(ValueError, match="V must be finite"):
        qp.tunnel_current(N, S, float("nan"), 0.1, 0.1)
    with pytest.raises(ValueError, match="inconsistent shapes"):
        qp.tunnel_current(N, S, jnp.ones(3), jnp.ones(4) * 0.1, 0.1)
    with pytest.raises(ValueError, match="temperature must be >= 0"):
        qp.NormalMetal(temperature=-1.0)


def test_gradient_of_current_with_respect_to_gap_and_field():
    grid = grids.adaptive(jnp.array([-1.15, -0.75, 0.75, 1.15, 0.0, 1.1]), jnp.full(6, 2e-3), -6.0, 6.0, 6001)

    def f(p):
        S = qp.Superconductor(delta=p[0], h=p[1], gamma=1e-3, temperature=0.02)
        return qp.tunnel_current(qp.NormalMetal(temperature=0.1), S, 1.1, grid=grid).spin

    p0 = jnp.array([0.95, 0.2])
    g = np.asarray(jax.grad(f)(p0))
    for i in range(2):
        e = jnp.zeros(2).at[i].set(1e-6)
        fd = float((f(p0 + e) - f(p0 - e)) / 2e-6)
        assert g[i] == pytest.approx(fd, rel=1e-4, abs=1e-8)
