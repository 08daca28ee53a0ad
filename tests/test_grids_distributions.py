"""Energy grids (quadrature) and distribution functions."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp import grids
from jaxqp.distributions import fermi, modes


def test_adaptive_grid_integrates_exactly_known_integrals():
    g = grids.adaptive(jnp.array([-1.0, 1.0, 0.0]), jnp.array([1e-3, 1e-3, 1e-2]), -5.0, 5.0, 4001)
    p = np.asarray(g.points)
    assert np.all(np.diff(p) > 0) and p[0] == -5.0 and p[-1] == pytest.approx(5.0)
    assert float(g.integrate(jnp.ones_like(g.points))) == pytest.approx(10.0, rel=1e-5)
    # a Dynes DOS: int N dE = Re[w(5 + i G) - w(-5 + i G)], w = sqrt(z^2 - 1) retarded
    G = 1e-3
    z = g.points + 1j * G
    N = jnp.real(z / (jnp.sqrt(z - 1) * jnp.sqrt(z + 1)))
    w = lambda x: np.sqrt(x + 1j * G - 1) * np.sqrt(x + 1j * G + 1)  # noqa: E731
    assert float(g.integrate(N)) == pytest.approx(float(np.real(w(5.0) - w(-5.0))), rel=1e-5)
    # the spacing at a feature is a fraction of its width
    i = np.searchsorted(p, 1.0)
    assert p[i] - p[i - 1] < 0.1e-3


def test_adaptive_grid_second_order_convergence():
    errs = []
    for n in (401, 801, 1601):
        g = grids.adaptive(jnp.array([0.3]), jnp.array([1e-2]), -2.0, 2.0, n)
        errs.append(abs(float(g.integrate(jnp.exp(-g.points**2))) - np.sqrt(np.pi) * 0.9953222650189527))
    assert errs[1] < errs[0] / 3 and errs[2] < errs[1] / 3


def test_batched_grids_and_errors():
    g = grids.adaptive(jnp.array([[-1.0, 1.0], [-0.5, 0.5]]), 1e-3, jnp.array([-3.0, -4.0]), jnp.array([3.0, 4.0]), 501)
    assert g.points.shape == (2, 501)
    np.testing.assert_allclose(np.asarray(g.integrate(jnp.ones_like(g.points))), [6.0, 8.0], rtol=1e-3)
    with pytest.raises(ValueError, match="widths must be > 0"):
        grids.adaptive(jnp.array([0.0]), 0.0, -1.0, 1.0, 101)
    with pytest.raises(ValueError, match="empty energy range"):
        grids.adaptive(jnp.array([0.0]), 0.1, 1.0, -1.0, 101)
    with pytest.raises(ValueError, match="too coarse"):
        grids.check_resolution(grids.uniform(-2, 2, 41), np.array([1.0]), np.array([1e-3]))


def test_fermi_function_and_modes_in_equilibrium():
    E = jnp.linspace(-1, 1, 11)
    T = 0.2
    np.testing.assert_allclose(np.asarray(fermi(E, T)), 1 / (np.exp(np.asarray(E) / T) + 1), rtol=1e-12)
    assert np.all(np.asarray(fermi(jnp.array([-1.0, 0.0, 1.0]), 0.0)) == [1.0, 0.5, 0.0])
    f, fm = fermi(E, T), fermi(-E, T)
    fL, fT, fL3, fT3 = modes(f, f, fm, fm)
    np.testing.assert_allclose(np.asarray(fL), np.tanh(np.asarray(E) / (2 * T)), atol=1e-12)
    np.testing.assert_allclose(np.asarray(fT), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(fL3), 0.0, atol=1e-12)
    # spin-dependent temperatures excite the spin-energy mode only; spin accumulation the spin mode
    fu, fd = fermi(E, 0.3), fermi(E, 0.1)
    fL, fT, fL3, fT3 = modes(fu, fd, fermi(-E, 0.3), fermi(-E, 0.1))
    assert float(jnp.max(jnp.abs(fL3))) > 0.1 and float(jnp.max(jnp.abs(fT3))) < 1e-12
    mu = 0.1
    fL, fT, fL3, fT3 = modes(fermi(E - mu, T), fermi(E + mu, T), fermi(-E - mu, T), fermi(-E + mu, T))
    assert float(jnp.max(jnp.abs(fT3))) > 0.1 and float(jnp.max(jnp.abs(fL3))) < 1e-12


def test_custom_spinful_distribution_enters_the_current():
    """An electrode out of equilibrium: spin-up hot, spin-down cold."""
    dist = lambda E: jnp.stack([fermi(E, 0.3), fermi(E, 0.05)])  # noqa: E731
    N = qp.NormalMetal(distribution=dist)
    S = qp.Superconductor(delta=1.0, h=0.2, gamma=1e-4, temperature=0.05)
    I = qp.tunnel_current(N, S, 0.0)
    assert abs(float(I.charge)) > 1e-4  # thermoelectric: spin-split S and spin-dependent temperatures
    I_eq = qp.tunnel_current(qp.NormalMetal(temperature=0.05), S, 0.0)
    assert abs(float(I_eq.charge)) < 1e-10
