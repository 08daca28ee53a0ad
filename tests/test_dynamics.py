"""Time-resolved kinetics (diffrax): the long-time limit, linear relaxation, conservation laws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.kinetic import inelastic as inel
from jaxqp.kinetic.coefficients import sectors_from_occupations
from jaxqp.kinetic.collisions import ElectronElectron, ElectronPhonon
from jaxqp.kinetic.dynamics import solve_dynamics

GRID = inel.uniform_grid(1.5, 0.1)
E = np.asarray(GRID.points)


def _fermi(e, mu, T):
    return 0.5 * (1 - np.tanh((e - mu) / (2 * T)))


def _island(material, temperature=0.1):
    """A closed piece of wire: vacuum ends, one contact switched off."""
    c = qp.TunnelContact(position=0.0, kappa=0.0, electrode=qp.NormalMetal())
    return qp.Wire(material, 1.0, (c,), temperature=temperature, ends=("vacuum", "vacuum"), n_x=4)


def test_bias_step_relaxes_to_the_stationary_solution(little_optimisation):
    """After a bias step the distributions reach the stationary solution of the Newton solver (1e-8); the
    end node stays at its (heated) reservoir's distribution throughout."""
    sc = qp.Superconductor(delta=1.0, gamma=0.05)
    inj = qp.TunnelContact(position=0.0, kappa=0.05, electrode=qp.NormalMetal(bias=1.2, temperature=0.1))
    w = qp.Wire(sc, 1.0, (inj,), temperature=0.1, ends=("vacuum", qp.Reservoir(temperature=0.15)), n_x=4)
    procs = (ElectronElectron(0.05), ElectronPhonon(0.05, temperature=0.1))
    with little_optimisation():  # one Newton solve: compiling it optimised takes longer than it runs
        st = inel.solve_inelastic(w, procs, grid=GRID, subdivision=2)
    d = solve_dynamics(w, procs, jnp.array([1.0, 1e4]), grid=GRID, subdivision=2)
    assert bool(d.converged)
    assert float(jnp.max(jnp.abs(d.sectors[0] - st.kinetic.sectors))) > 0.05  # still on its way at t = 1
    assert float(jnp.max(jnp.abs(d.sectors[-1] - st.kinetic.sectors))) < 1e-8
    hot = np.tanh(E / (2 * 0.15))
    assert np.max(np.abs(np.asarray(d.sectors[:, :, -1, 0]) - hot)) < 1e-14


def test_small_deviation_decays_with_the_linearised_operator():
    """Normal island coupled to phonons: a small deviation evolves as exp(L t) with L the Jacobian of
    the discrete equations (dense matrix exponential by eigen-decomposition, NumPy)."""
    isl = _island(qp.Superconductor(delta=0.0, gamma=0.0))
    procs = (ElectronPhonon(5.0, temperature=0.1),)
    system = inel.kinetic_system(isl, procs, grid=GRID, subdivision=1)
    heq = system.equilibrium()
    V = jnp.zeros(1)
    cap = np.asarray(system.volume)[None, :, None] * np.asarray(system.density_of_states())
    J = np.asarray(jax.jit(jax.jacfwd(lambda h: system.residual(h, V)))(heq)).reshape(heq.size, heq.size)
    L = -J / cap.reshape(-1)[:, None]
    dev = 1e-4 * np.exp(-((E - 0.5) / 0.2) ** 2)  # a few hot electrons near E = 0.5
    h0 = np.asarray(heq).copy()
    h0[:, :, 0] += dev[:, None]
    h0[:, :, 2] += dev[:, None]
    times = np.array([2.0, 10.0])
    d = solve_dynamics(isl, procs, times, grid=GRID, initial=h0, subdivision=1, rtol=1e-9, atol=1e-12)
    w, Vv = np.linalg.eig(L)
    c = np.linalg.solve(Vv, (h0 - np.asarray(heq)).reshape(-1))
    for k, t in enumerate(times):
        lin = np.real(Vv @ (np.exp(w * t) * c)).reshape(heq.shape)
        got = np.asarray(d.sectors[k] - heq)
        assert np.max(np.abs(got - lin)) < 2e-3 * np.max(np.abs(lin))
    assert np.max(np.abs(np.asarray(d.sectors[-1] - heq))) < 0.8 * np.max(np.abs(dev))  # it relaxes


def test_closed_island_thermalises_and_conserves_number_energy_spin():
    """Electron-electron collisions in a closed normal island: an injected population thermalises to a
    Fermi function; electron number, energy and spin stay constant."""
    isl = _island(qp.Superconductor(delta=0.0, gamma=0.0))
    n = np.clip(_fermi(E, 0.0, 0.1) + 0.3 * np.exp(-((E - 0.7) / 0.1) ** 2), 0, 1)
    m = _fermi(E, 0.0, 0.1)  # spin down stays cold: a spin accumulation as well
    h0 = np.asarray(sectors_from_occupations(n, m, n[::-1], m[::-1]))
    h0 = np.broadcast_to(h0[:, None, :], (E.size, 4, 4))
    d = solve_dynamics(isl, (ElectronElectron(kappa=0.5, power=1.5),), jnp.array([1.0, 300.0]), grid=GRID,
                       initial=h0, subdivision=1, rtol=1e-7, atol=1e-9)
    # the totals are conserved to round-off (1e-13 at this step tolerance, as at rtol = 1e-9 with 2.5 times
    # the steps): the conservation comes from the discrete collision operator, not from small steps
    for q in (d.energy, d.charge):
        q = np.asarray(q)
        assert np.ptp(q) < 1e-7 * np.max(np.abs(q))
    assert abs(float(d.spin[-1] - d.spin[0])) < 1e-7 * abs(float(d.charge[0]))
    # the end state: a Fermi function for each spin (log(1/n - 1) is linear in E), spins apart
    hf = np.asarray(d.sectors[-1, :, 0])
    up, dn = 0.5 * (1 - hf[:, 0] - hf[:, 1]), 0.5 * (1 - hf[:, 2] - hf[:, 3])
    for occ in (up, dn):
        ok = (occ > 1e-3) & (occ < 1 - 1e-3)
        slope, icpt = np.polyfit(E[ok], np.log(1 / occ[ok] - 1), 1)
        T, mu = 1 / slope, -icpt / slope
        assert np.max(np.abs(occ - _fermi(E, mu, T))) < 2e-3, (mu, T)
    assert np.max(np.abs(up - dn)) > 0.05  # no spin flips: the accumulation stays


def test_prescribed_gap_moves_the_states_adiabatically():
    """A closed BCS island whose gap is lowered slowly (1 -> 0.8), without collisions: every state keeps
    its occupation while its energy E = sqrt(xi^2 + Delta^2) moves, so f_L(E, t) = f_L0(sqrt(E^2 - Delta(t)^2
    + Delta(0)^2)) (the clean adiabatic invariant, analytic); f_T stays zero."""
    T = 1.0
    isl = _island(qp.Superconductor(delta=1.0, gamma=0.02), temperature=T)
    grid = inel.uniform_grid(2.5, 0.1)
    e = np.asarray(grid.points)

    def gap(t):
        return 1.0 - 0.1 * (1.0 - jnp.cos(jnp.pi * jnp.minimum(t, 10.0) / 10.0))

    d = solve_dynamics(isl, (), jnp.array([5.0, 10.0]), grid=grid, gap=gap, subdivision=8, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(np.asarray(d.delta[:, 0]), [0.9, 0.8], atol=1e-14)
    far = (np.abs(e) > 1.2) & (np.abs(e) < 2.2)
    e0 = np.sign(e) * np.sqrt(np.maximum(e**2 - 0.8**2 + 1.0, 0.0))
    fl = np.asarray(d.modes[-1, :, :, 0])  # (n_E, n_x)
    want = np.tanh(e0 / (2 * T))
    assert np.max(np.abs(fl[far] - want[far, None])) < 1e-3  # 4e-5 measured
    assert np.min(np.abs(want - np.tanh(e / (2 * T)))[far]) > 0.01  # the states did move
    assert np.max(np.abs(np.asarray(d.modes[..., 1]))) < 1e-12
    with pytest.raises(ValueError, match="one pair potential >= 0"):
        solve_dynamics(isl, (), [1.0], grid=grid, gap=lambda t: -0.5)
    with pytest.raises(TypeError, match="function t -> Delta"):
        solve_dynamics(isl, (), [1.0], grid=grid, gap=0.5)


def test_adiabatic_gap_follows_the_gap_equation_to_the_self_consistent_stationary_state(little_optimisation):
    """A bias step on the injector of a wire whose Delta solves the non-equilibrium gap equation at every
    instant: Delta(0) is the equilibrium root, the injected quasiparticles suppress it, and the long-time
    limit is the self-consistent stationary solution of the Newton-Krylov solver (a second method), for
    both Delta and the distributions; the same for a gap profile Delta(x), one gap equation per node."""
    sc = qp.Superconductor(delta=1.0, gamma=0.05)
    inj = qp.TunnelContact(position=0.0, kappa=0.05, electrode=qp.NormalMetal(bias=1.2, temperature=0.1))
    wire = qp.Wire(sc, 1.0, (inj,), temperature=0.1, ends=("vacuum", "reservoir"), n_x=4)
    kw = dict(grid=inel.uniform_grid(2.5, 0.2), subdivision=8)
    procs = (qp.ElectronPhonon(0.05, temperature=0.1),)
    gap = inel.GapEquation(cutoff=2.0)
    with little_optimisation():
        stat = inel.solve_inelastic(wire, procs, gap=gap, **kw)
    d = solve_dynamics(wire, procs, jnp.array([0.0, 3.0, 1e3]), gap=gap, rtol=1e-6, atol=1e-8, **kw)
    delta = np.asarray(d.delta[:, 0])
    assert delta[0] > delta[1] > delta[2] and delta[0] - delta[2] > 0.05  # 0.847 -> 0.769 -> 0.760
    # Delta keeps to the gap equation (1.3e-7 measured at this tolerance)
    assert np.max(np.asarray(d.gap_residual)) < 1e-6
    assert abs(delta[-1] - float(stat.delta[0])) < 1e-8  # 2e-14 measured
    assert float(jnp.max(jnp.abs(d.sectors[-1] - stat.kinetic.sectors))) < 1e-8  # 2e-12 measured
    # a profile Delta(x): each node's Delta follows its own gap equation with the local bulk spectra
    gap = inel.GapEquation(cutoff=2.0, where="profile")
    with little_optimisation():
        stat = inel.solve_inelastic(wire, procs, gap=gap, **kw)
    d = solve_dynamics(wire, procs, jnp.array([0.0, 3.0, 1e3]), gap=gap, rtol=1e-6, atol=1e-8, **kw)
    delta = np.asarray(d.delta)  # (3, n_x): 0.847 everywhere -> 0.676 at the injector, 0.847 at the reservoir
    assert delta.shape == (3, 4) and np.ptp(delta[0]) < 1e-12 and np.all(np.diff(delta[-1]) > 0.03)
    assert np.all(delta[0, :3] > delta[1, :3]) and np.all(delta[1, :3] > delta[2, :3])
    assert np.max(np.asarray(d.gap_residual)) < 1e-6  # 4e-7 measured at this tolerance
    assert np.max(np.abs(delta[-1] - np.asarray(stat.delta))) < 1e-8  # 2e-13 measured
    assert float(jnp.max(jnp.abs(d.sectors[-1] - stat.kinetic.sectors))) < 1e-8  # 3e-12 measured
