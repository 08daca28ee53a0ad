"""Seed 000 device: spin-resolved distributions, SIS' detector spectroscopy, spin-energy-mode charge imbalance."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.devices import spin_energy_mode as sem

NE = 801
V_INJ = 1.05  # between the spin-up (Delta - E_Z) and spin-down (Delta + E_Z) edges at 1 T


@pytest.fixture(scope="module")
def at_1T():
    w = sem.device(1.0)
    return w, qp.solve_kinetic(w, jnp.array([V_INJ, 0.0]), n_energy=NE)


def test_device_parameters():
    w = sem.device(1.0)
    u = sem.units()
    assert abs(u.xi_nm - 51.8) < 0.5  # sqrt(hbar D / Delta) for D = 10 cm^2/s, Delta = 245 ueV
    assert abs(float(w.material.h) - 57.88 / 245.0) < 1e-3  # E_Z = mu_B B
    assert abs(float(w.material.zeta) - 6.5 / 245.0) < 1e-12
    np.testing.assert_allclose(sem.peak_voltages(w), [-(1 - 180 / 245 + 57.88 / 245), -abs(1 - 180 / 245 - 57.88 / 245),
                                                      abs(1 - 180 / 245 - 57.88 / 245), 1 - 180 / 245 + 57.88 / 245],
                               rtol=1e-3)
    with pytest.raises(ValueError, match="normal above"):
        sem.device(3.0)


def test_spin_resolved_distribution_near_the_injector(at_1T):
    """Seed 000 Fig. 1c: quasiparticles fill the spin-up states from the gap edge up to eV_inj, then stop."""
    w, sol = at_1T
    f = np.asarray(sol.occupations()[:, :, w.contact_nodes[1]])
    E = np.asarray(sol.energy.points)
    h = float(w.material.h)
    below = np.argmin(np.abs(E - (V_INJ - 0.1)))
    above = np.argmin(np.abs(E - (V_INJ + 0.15)))
    assert f[0, below] > 1e-3 and f[0, above] < 0.05 * f[0, below]
    # spin down has no states below Delta + E_Z = 1.24: only spin up is injected, the distributions differ
    n = np.asarray(sol.quasiparticle_number()[:, :, w.contact_nodes[1]])
    edge = (E > 1 - h) & (E < V_INJ)
    assert np.sum(n[0, edge]) > 20 * np.sum(n[1, edge])


def test_spin_energy_mode_charge_imbalance_sits_at_the_split_gap_edge(at_1T):
    """Seed 000 Eq. (2): rho_- f_L3 adds charge only for Delta - E_Z <= |E| <= Delta + E_Z, and not at all at B = 0."""
    w, sol = at_1T
    i = w.contact_nodes[1]
    N, m = sol.dos[:, i], sol.modes[:, i]
    dens = np.asarray(0.5 * (N[:, 0] - N[:, 1]) * m[:, 3] * sol.energy.weights)
    E = np.asarray(sol.energy.points)
    h = float(w.material.h)
    inside = np.abs(np.abs(E) - 1.0) <= h + 0.05
    assert abs(dens[inside].sum()) > 1e-6
    assert np.abs(dens[~inside]).sum() < 0.02 * abs(dens[inside].sum())
    w0 = sem.device(0.0)
    sol0 = qp.solve_kinetic(w0, jnp.array([V_INJ, 0.0]), n_energy=NE)
    N0 = sol0.dos[:, i]
    assert float(jnp.max(jnp.abs((N0[:, 0] - N0[:, 1]) * sol0.modes[:, i, 3]))) < 1e-12


def test_detector_conductance_symmetry_and_odd_part():
    """No injection: G_det(V_det) is even.  At 1 T with spin-polarised injection it has an odd part at P2/P3."""
    w = sem.device(1.0)
    pv = sem.peak_voltages(w)
    Vd = jnp.sort(jnp.concatenate([jnp.asarray(pv), jnp.array([-0.15, 0.0, 0.15])]))
    m = sem.detector_map(w, jnp.array([0.0, V_INJ]), Vd, n_energy=NE)
    G = np.asarray(m["G_det"])
    odd = np.asarray(sem.odd_part(G))
    assert np.max(np.abs(odd[0])) < 1e-10 * np.max(np.abs(G[1]))
    p3 = int(np.argmin(np.abs(np.asarray(Vd) - pv[2])))
    assert abs(odd[1, p3]) > 1e-5 * np.max(np.abs(G[1]))
    assert float(m["I_inj"][1, 0]) > 0
    assert np.all(np.asarray(m["converged"]))
