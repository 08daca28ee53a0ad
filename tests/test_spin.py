"""General spin structure: Keldysh-Nambu-spin Usadel (Riccati), spin-active interfaces, spin supercurrents
(seed 003)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from spin_blocks import analytic_and_coloured_blocks

import jaxqp as qp
from jaxqp import grids
from jaxqp.devices import spin_supercurrent as ssc
from jaxqp.selfconsistency import TC0
from jaxqp.spectral import spin as S
from jaxqp.spectral import wire as W

NX = 11
T_SEED = 0.01 * TC0


def _seed_wire(**kw):
    return ssc.device(n_x=NX, **kw)


def _grid(Vs=0.0, T=T_SEED, n=160):
    return ssc.energy_grid(Vs, T, n=n)


def test_reduces_to_collinear_solver_in_any_direction():
    """With a collinear exchange field the 4x4 solver equals the per-sector theta/Riccati solver,
    with spin-orbit, spin-flip and orbital depairing and an inhomogeneous Delta; rotating the field
    rotates the spin-resolved DOS."""
    m = qp.Superconductor(delta=1.0, h=0.3, gamma=0.02, zeta=0.05, b_so=0.04, b_sf=0.02)
    L = 2.0
    chain = W.Chain((W.Segment(m, L, n_x=NX, self_consistent=True),), ends=("reservoir", "vacuum"))
    x = W.discretize(chain).x
    np.testing.assert_allclose(np.diff(x), L / (NX - 1))
    prof = jnp.asarray(1.0 - 0.5 * np.exp(-(x - L) ** 2 / 0.3))
    E = jnp.linspace(0.05, 2.0, 24)
    ref = W.solve_proximity(chain, E, delta_profile=prof)
    for k, direction in ((2, (0, 0, 1)), (0, (1, 0, 0))):
        # the same description for both solvers: a one-segment chain, the field along `direction`
        same = W.Chain((W.Segment(m, L, n_x=NX, self_consistent=True, exchange_direction=direction),),
                       ends=("reservoir", "vacuum"))
        sol = S.solve_spin(same, E, delta_profile=prof)
        nd = np.asarray(sol.spin_dos())
        np.testing.assert_allclose(nd[k, 0], ref.dos[..., 0], atol=1e-10)
        np.testing.assert_allclose(nd[k, 1], ref.dos[..., 1], atol=1e-10)
        other = (k + 1) % 3  # perpendicular axis: both spins see the average
        np.testing.assert_allclose(nd[other, 0], 0.5 * (ref.dos[..., 0] + ref.dos[..., 1]), atol=1e-10)


def test_varying_field_and_tunnel_end_match_collinear_chain():
    """An exchange field that changes along the wire (two segments joined transparently) and a
    Kupriyanov-Lukichev tunnel end to a normal metal, against the collinear chain with a point contact.
    The spin solver takes the one-segment chain with a spin-active end (equal to its SpinWire form);
    the collinear solver refuses it."""
    m1 = qp.Superconductor(delta=1.0, h=0.3, gamma=0.02)
    m2 = qp.Superconductor(delta=1.0, h=-0.2, gamma=0.02)
    L, kappa = 2.0, 0.8
    chain = W.Chain((W.Segment(m1, L / 2, n_x=6), W.Segment(m2, L / 2, n_x=6)), ends=("reservoir", "vacuum"),
                    contacts=(qp.TunnelContact(L, kappa, qp.NormalMetal()),), growth=0.0)
    x = W.discretize(chain).x
    np.testing.assert_allclose(np.diff(x), L / (NX - 1), rtol=1e-5)  # the chain's grid is uniform to 4e-7
    E = jnp.linspace(0.05, 2.0, 24)
    ref = W.solve_proximity(chain, E)
    hx = np.where(x < L / 2 - 1e-9, 0.3, -0.2)
    hx[NX // 2] = 0.05  # the shared node collects half a cell of each segment
    field = jnp.asarray(np.stack([hx, 0 * hx, 0 * hx], 1))
    end = qp.SpinActive(0.0, (0, 1, 0), conductance=kappa * L, electrode=qp.NormalMetal())
    spin_chain = qp.Chain((qp.Segment(m1, L, n_x=NX, exchange=field),), ends=("reservoir", end))
    with pytest.raises(ValueError, match="solve_spin"):  # the collinear solver has no spin-active end
        qp.solve_proximity(spin_chain, E)
    sol = S.solve_spin(spin_chain, E)
    assert np.all(np.asarray(sol.result) == 0)
    ref_wire = S.solve_spin(S.SpinWire(m1, L, NX, ends=("reservoir", end), exchange=field), E)
    np.testing.assert_array_equal(np.asarray(sol.gamma), np.asarray(ref_wire.gamma))
    nd = np.asarray(sol.spin_dos())
    np.testing.assert_allclose(nd[0, 0], ref.dos[..., 0], atol=2e-5)
    np.testing.assert_allclose(nd[0, 1], ref.dos[..., 1], atol=2e-5)


def test_charge_supercurrent_matches_collinear_spectral_current():
    """A phase gradient along the wire: the spectral charge current of the Keldysh formula equals
    tanh(E/2T) Re j(E) / 4 of the collinear solver (whose charge current is (1/8) int tanh Re j over
    all energies), so J_0 is the charge current in Delta0 / (e R_xi)."""
    m = qp.Superconductor(delta=1.0, h=0.2, gamma=0.02)
    L, phi = 2.0, 1.2
    chain = W.Chain((W.Segment(m, L, n_x=NX, phase=-phi / 2, phase_gradient=phi / L),), ends=("vacuum", "vacuum"))
    E = jnp.linspace(0.05, 2.0, 24)
    ref = W.solve_proximity(chain, E)
    x = jnp.linspace(0.0, L, NX)
    sol = S.solve_spin(S.SpinWire(m, L, NX, phase=-phi / 2 + phi * x / L), E)
    T = 0.1
    ob = S.observables(sol, S.SpinDistribution(T), jnp.ones(24))
    expect = np.tanh(np.asarray(E) / (2 * T))[:, None] * np.real(np.asarray(ref.spectral_current())) / 4
    np.testing.assert_allclose(np.asarray(ob.spectral_current[..., 0]), expect, atol=1e-10)
    assert np.max(np.abs(expect)) > 1e-3


def test_analytic_jacobian_equals_jvp_and_retarded_normalisation():
    m = qp.Superconductor(delta=1.0, gamma=0.01, zeta=0.1, b_so=0.05, b_sf=0.03, h=0.2)
    ends = ("reservoir", S.SpinActive(0.6, (0, 1, 0), conductance=0.3, polarization=0.4, electrode=qp.NormalMetal()))
    sw = S.SpinWire(m, 1.5, NX, ends=ends, exchange_direction=(1, 1, 0))
    # and a chain of two segments joined by a spin-active interface (polarised link, spin mixing on both sides)
    face = qp.Interface(0.5, polarization=0.4, spin_mixing=(0.3, -0.2), magnetization=(1, 1, 0))
    fm = qp.Superconductor(delta=0.0, h=0.3, gamma=0.02, b_sf=0.03)
    chain = qp.Chain((qp.Segment(m, 1.0, n_x=6), qp.Segment(fm, 0.5, n_x=4, exchange_direction=(0, 0, 1))),
                     (face,), ends=ends, growth=0.0)
    z = jnp.linspace(0.1, 2.0, 7).astype(complex)
    for structure in (sw, S.SpinWire.from_chain(chain)):
        for a, b in analytic_and_coloured_blocks(structure, z):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-12)
    sol = S.solve_spin(sw, jnp.linspace(0.1, 2.0, 7))
    G = np.asarray(sol.retarded())
    np.testing.assert_allclose(G @ G, np.broadcast_to(np.eye(4), G.shape), atol=1e-10)


def test_spin_supercurrent_conserved_even_and_rotated_by_injection():
    """Seed 003 Eqs. (5)-(7) with Delta fixed: J_eq is along m1 x m2 = z and conserved along the wire; the
    integrand is even in E; spin-z injection leaves it (to second order) unchanged; spin-x injection adds
    J_y, linear in V_s and along J_eq x h_s."""
    dev = _seed_wire()
    g = _grid()
    d = 0.967 * jnp.ones(NX)
    sol = S.solve_spin(dev, g.points, delta_profile=d)
    neg = S.solve_spin(dev, -g.points, delta_profile=d)
    J = {}
    for key, Vs, axis in (("eq", 0.0, (0, 0, 1)), ("z", 0.1, (0, 0, 1)), ("x1", 0.05, (1, 0, 0)),
                          ("x2", 0.1, (1, 0, 0))):
        dist = S.SpinDistribution(T_SEED, Vs, axis)
        ob = S.observables(sol, dist, g.weights)
        c = np.asarray(ob.current)  # (links, 4)
        np.testing.assert_allclose(c, np.broadcast_to(c.mean(0), c.shape), atol=1e-10)  # conserved
        J[key] = c.mean(0)
        ob_neg = S.observables(neg, dist, g.weights)
        np.testing.assert_allclose(np.asarray(ob_neg.spectral_current), np.asarray(ob.spectral_current), atol=1e-10)
    assert J["eq"][3] > 1e-3
    np.testing.assert_allclose(J["eq"][:3], 0.0, atol=1e-12)  # no charge current, no J_x, J_y
    np.testing.assert_allclose(J["z"][:3], 0.0, atol=1e-12)
    assert abs(J["z"][3] - J["eq"][3]) < 1e-2 * J["eq"][3]
    jy1, jy2 = J["x1"][2], J["x2"][2]
    assert np.sign(jy1) == np.sign(np.cross([0, 0, J["eq"][3]], [1, 0, 0])[1])
    assert abs(jy2 / jy1 - 2.0) < 0.05
    assert abs(J["x2"][1]) < 1e-12


@pytest.mark.optimised  # 4.7 s with XLA's optimisation, 6.0 s without (alone)
def test_normal_state_spin_accumulation_equals_spin_voltage():
    dev = ssc.device(n_x=NX, material=qp.Superconductor(delta=0.0, gamma=0.01))
    g = grids.uniform(0.0, 30.0, 3001)
    sol = S.solve_spin(dev, g.points, delta_profile=jnp.zeros(NX))
    for T in (0.01, 0.2):
        dist = S.SpinDistribution(T, 0.3, (0, 1, 1))
        acc = np.asarray(S.observables(sol, dist, g.weights).spin_accumulation)
        np.testing.assert_allclose(acc, np.broadcast_to(0.3 * np.array([0, 1, 1]) / np.sqrt(2), acc.shape),
                                   atol=2e-4)


def test_self_consistent_gap_bulk_limits_and_implicit_gradient():
    """Bulk (no interfaces): Delta(T) equals the weak-coupling gap; a spin voltage below Delta0 leaves the
    T -> 0 gap unchanged (seed 003, bistable regime); dDelta/dT by implicit differentiation equals finite
    differences, in forward and in reverse mode."""
    bulk = ssc.device(n_x=3, spin_mixing=0.0, gamma=1e-3)
    g = grids.adaptive(jnp.array([float(qp.gap(0.3)), 1.0]), jnp.array([2e-3, 2e-3]), 0.0, 30.0, 160)
    r = S.self_consistent_gap(bulk, S.SpinDistribution(0.3, 0.0), g)
    assert bool(r.converged)
    np.testing.assert_allclose(np.asarray(r.delta), float(qp.gap(0.3)), rtol=3e-3)
    r0 = S.self_consistent_gap(bulk, S.SpinDistribution(0.02, 0.3, (0, 0, 1)), g)
    np.testing.assert_allclose(np.asarray(r0.delta), 1.0, atol=3e-3)

    def mean_gap(T):
        return jnp.mean(S.self_consistent_gap(bulk, S.SpinDistribution(T, 0.0), g).delta)

    dT = jax.jacfwd(mean_gap)(0.3)
    fd = (mean_gap(0.3 + 1e-4) - mean_gap(0.3 - 1e-4)) / 2e-4
    np.testing.assert_allclose(float(dT), float(fd), rtol=1e-4)
    np.testing.assert_allclose(float(jax.grad(mean_gap)(0.3)), float(dT), rtol=1e-8)


def test_seed003_equilibrium_matches_geneus():
    """Seed 003 geometry in equilibrium against GENEUS (same equations; its 101 positions x 1000 energies,
    self-consistent to 1e-8): J_z L = 0.0349140, Delta(0) = 0.962886, Delta(L/2) = 0.968842.  GENEUS
    differentiates in x/L, hence the factor L."""
    dev = _seed_wire()
    r = ssc.solve(dev, 0.0, (0, 0, 1), T_SEED, n_energy=300)
    assert bool(r.converged)
    np.testing.assert_allclose(float(r.spin_current[2]) * 1.5, 0.0349140, rtol=2.5e-3)
    d = np.asarray(r.delta)
    np.testing.assert_allclose(d[0], 0.962886, rtol=3e-3)
    np.testing.assert_allclose(d[NX // 2], 0.968842, rtol=3e-3)
    np.testing.assert_allclose(d, d[::-1], atol=1e-10)  # the x <-> y mirror symmetry of the geometry


def test_bistable_region_reported():
    """Bulk wire at T -> 0: superconducting branch up to e V_s ~ Delta0, normal state locally stable
    above ~ Delta0 / 2 (Chandrasekhar-Clogston): normal unstable at 0.3, bistable at 0.7, normal only at 1.2."""
    dev = ssc.device(n_x=3, spin_mixing=0.0, gamma=0.01)
    sw = ssc.sweep_spin_voltage(dev, [0.3, 0.7, 1.2], (1, 0, 0), 0.02, n_energy=160)
    assert list(sw.sc_exists) == [True, True, False]
    assert sw.normal_gain[0] > 1 and sw.normal_gain[1] < 1
    assert list(sw.bistable) == [False, True, False]
    assert list(sw.normal_only) == [False, False, True]
    assert np.all(sw.converged)
    np.testing.assert_allclose(sw.delta_mean[:2], sw.delta_mean[0], rtol=5e-3)  # Delta unchanged for V_s < Delta
    ds = sw.to_xarray()
    assert ds["J"].dims == ("spin_voltage", "component")


def test_bad_input_is_rejected():
    m = qp.Superconductor()
    with pytest.raises(ValueError, match="non-zero 3-vector"):
        S.SpinActive(0.5, (0, 0, 0))
    with pytest.raises(ValueError, match=r"\|P\| < 1"):
        S.SpinActive(0.5, (0, 0, 1), conductance=1.0, polarization=1.0, electrode=qp.NormalMetal())
    with pytest.raises(ValueError, match="needs an electrode"):
        S.SpinActive(0.5, (0, 0, 1), conductance=1.0)
    with pytest.raises(ValueError, match="end must be"):
        S.SpinWire(m, 1.0, 5, ends=("open", "vacuum"))
    with pytest.raises(ValueError, match="temperature"):
        S.SpinDistribution(-0.1)
    sw = S.SpinWire(m, 1.0, 5)
    with pytest.raises(ValueError, match="delta_profile"):
        S.solve_spin(sw, jnp.linspace(0.1, 1.0, 4), delta_profile=jnp.ones(3))
    with pytest.raises(ValueError, match="cutoff"):
        S.self_consistent_gap(sw, S.SpinDistribution(0.1), grids.uniform(0.0, 3.0, 10))
    two = qp.Chain((qp.Segment(m, 1.0, n_x=5), qp.Segment(m, 1.0, n_x=5, spin_orbit=qp.GaugeField.rashba(0.2))),
                   ends=("vacuum", "vacuum"))
    with pytest.raises(ValueError, match="one-segment wire"):  # several segments: no gauge field yet
        S.solve_spin(two, jnp.linspace(0.1, 1.0, 4))
    with pytest.raises(ValueError, match="point contacts"):
        S.solve_spin(qp.Chain((qp.Segment(m, 1.0, n_x=5),), contacts=(qp.TunnelContact(0.5, 0.1, qp.NormalMetal()),)),
                     jnp.linspace(0.1, 1.0, 4))
    with pytest.raises(ValueError, match=r"shape \(n_x, 3\)"):
        qp.Segment(m, 1.0, n_x=5, exchange=jnp.zeros((4, 3)))
    assert sw.as_chain().ends == ("vacuum", "vacuum")
    with pytest.raises(ValueError, match="SpinActive object"):
        qp.Chain((qp.Segment(m, 1.0, n_x=5),), ends=("spin-active", "vacuum"))



def test_grid_that_misses_the_gap_edge_is_flagged():
    """Gamma = 1e-3 with a grid refined only at E = 1: at T = 0.3 the gap edge (0.945) is not resolved."""
    bulk = ssc.device(n_x=3, spin_mixing=0.0, gamma=1e-3)
    g = grids.adaptive(jnp.array([1.0, 1.0]), jnp.array([2e-3, 2e-3]), 0.0, 30.0, 160)
    with pytest.warns(UserWarning, match="gap edges"):
        r = S.self_consistent_gap(bulk, S.SpinDistribution(0.3, 0.0), g)
    assert not bool(r.converged)
