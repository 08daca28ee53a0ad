"""Inelastic collision integrals, the energy-coupled kinetic solver and the non-equilibrium gap."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxqp as qp
from jaxqp.kinetic import inelastic as inel
from jaxqp.kinetic.collisions import (
    ElectronElectron,
    ElectronPhonon,
    RelaxationTime,
    collision_integral,
    dense_collision_integral,
)
from jaxqp.spectral.bulk import green_functions


def _bcs(E, delta=1.0, gamma=0.05, h=0.0):
    _, g, f, _ = green_functions(jnp.asarray(E) + 1j * gamma, h, delta, 0.0, 0.0, 0.0)
    return np.real(np.asarray(g)), np.real(np.asarray(f))


# ----------------------------------------------------------------- collision integrals
def test_collision_integrals_fft_dense_balance_conservation():
    E = np.arange(-30, 31) * 0.1
    N, M = _bcs(E, h=0.2)  # spin-split: two different sectors
    rng = np.random.default_rng(1)
    T = 0.3
    f = np.tanh(E / (2 * T))[None] + 0.1 * rng.normal(size=(2, E.size))
    feq = np.broadcast_to(np.tanh(E / (2 * T)), (2, E.size))
    for proc in (ElectronElectron(0.7), ElectronElectron(0.3, power=0.5), ElectronPhonon(0.5, temperature=T)):
        fast = np.asarray(collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))
        ref = dense_collision_integral(proc, E, N, M, f)
        assert np.max(np.abs(fast - ref)) < 1e-12 * np.max(np.abs(ref)) + 1e-14
        # detailed balance: equilibrium at the bath temperature is stationary, exactly on the grid
        eq = np.asarray(collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(feq)))
        assert np.max(np.abs(eq)) < 1e-12
        # particle number (odd part) is conserved by every process
        assert abs(np.sum(fast)) < 1e-11 * np.sum(np.abs(fast))
    # electron-electron collisions conserve energy; phonons take it away
    ee = np.asarray(collision_integral(ElectronElectron(1.0), E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))
    assert abs(np.sum(E * ee)) < 1e-12 * np.sum(np.abs(E * ee))
    # relaxation (I ~ rate N (f - f_eq)) has the sign of the deviation at the coherence peaks
    bump = feq + 0.01 * (np.abs(np.abs(E) - 1.2) < 0.05) * np.sign(E)
    rt = np.asarray(collision_integral(ElectronElectron(1.0), E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(bump)))
    assert np.all(rt[:, np.abs(E - 1.2) < 0.05] > 0)


def test_collision_rates_normal_state_laws():
    """Normal state: the e-e rate is (E^2 + pi^2 T^2)/2 x const (Fermi liquid) and equals ``rate`` at
    E = 0, T = T_c; the e-ph heat flow follows T_e^5 - T_ph^5."""
    d = 0.005
    E = np.arange(-1600, 1601) * d
    N, M = np.ones((1, E.size)), np.zeros((1, E.size))
    tc = qp.units.TC_OVER_DELTA0
    proc = ElectronElectron(2e-4)
    for T in (0.2, tc):
        feq = np.tanh(E / (2 * T))[None]
        _, diag = collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(feq), with_diagonal=True)
        diag = np.asarray(diag)[0]
        for e in (0.0, 0.5, 1.0):
            i = 1600 + int(round(e / d))
            expect = 2e-4 * (e**2 + np.pi**2 * T**2) / (np.pi**2 * tc**2)
            assert abs(diag[i] - expect) < 1e-4 * expect
    # electron-phonon: the heat flow to the phonons, P = -int E I dE ~ T_e^5 - T_ph^5 (Debye phonons)
    ph = ElectronPhonon(1.0, temperature=0.05)
    P = []
    for Te in (0.15, 0.25):
        f = np.tanh(E / (2 * Te))[None]
        I = np.asarray(collision_integral(ph, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))[0]
        P.append(-np.sum(E * I) * d)
    ratio = (0.25**5 - 0.05**5) / (0.15**5 - 0.05**5)
    assert P[0] > 0 and abs(P[1] / P[0] - ratio) < 2e-3 * ratio


# ----------------------------------------------------------------- solver
def _wire(V=0.0, kappa=0.005, length=10.0, n_x=12, gamma=0.01, delta=1.0, temperature=0.02):
    sc = qp.Superconductor(delta=delta, gamma=gamma)
    inj = qp.TunnelContact(position=0.0, kappa=kappa, electrode=qp.NormalMetal(bias=V, temperature=0.02))
    det = qp.TunnelContact(position=2.0, kappa=1e-3, electrode=qp.NormalMetal(temperature=0.02))
    return qp.Wire(sc, length, (inj, det), temperature=temperature, ends=("vacuum", "reservoir"), n_x=n_x)


GRID = inel.uniform_grid(4.0, 0.04)


def test_elastic_limit_rta_decay_and_energy_current():
    w = _wire(V=2.0)
    # rate 0 (same compiled program as rate 0.05), point sampling: the elastic engine's answer
    s0 = inel.solve_inelastic(w, (ElectronElectron(0.0),), grid=GRID, subdivision=1)
    ref = qp.solve_kinetic(w, grid=GRID)
    assert np.max(np.abs(s0.kinetic.sectors - ref.sectors)) < 1e-10
    assert np.allclose(s0.currents.charge, ref.currents.charge, rtol=1e-9, atol=1e-14)
    # electron-electron collisions conserve the energy current between the injector and the detector
    s1 = inel.solve_inelastic(w, (ElectronElectron(0.05),), grid=GRID, subdivision=1)
    assert bool(s1.converged) and int(s1.iterations) < 15
    prof = s1.kinetic.current_profile()["energy"]
    x = np.asarray(s1.kinetic.x)
    faces = 0.5 * (x[1:] + x[:-1])
    between = np.asarray(prof)[faces < 2.0]
    assert np.ptp(between) < 1e-9 * np.max(np.abs(between))
    # ... and it relaxes the injected quasiparticles: f_L at high energies is closer to equilibrium
    dev0 = np.abs(np.asarray(s0.modes[:, 8, 0]) - np.tanh(np.asarray(GRID.points) / 0.04))
    dev1 = np.abs(np.asarray(s1.modes[:, 8, 0]) - np.tanh(np.asarray(GRID.points) / 0.04))
    hi = np.asarray(GRID.points) > 1.5
    assert np.sum(dev1[hi]) < 0.97 * np.sum(dev0[hi])


def test_relaxation_time_matches_analytic_decay():
    """Normal wire, RTA: D f'' = gamma (f - f_eq) with a zero-flux end and a reservoir at L gives
    delta f(x) ~ cosh((L - x)/l)... here sinh((L-x)/l)/sinh(L/l) x delta f(0), l = 1/sqrt(gamma)."""
    gam = 0.04
    L = 10.0
    sc = qp.Superconductor(delta=0.0, gamma=0.0)
    inj = qp.TunnelContact(position=0.0, kappa=0.02, electrode=qp.NormalMetal(bias=1.0, temperature=0.05))
    w = qp.Wire(sc, L, (inj,), temperature=0.05, ends=("vacuum", "reservoir"), n_x=400, growth=0.0)
    grid = inel.uniform_grid(2.0, 0.05)
    s = inel.solve_inelastic(w, (RelaxationTime(gam),), grid=grid, subdivision=1)
    E = np.asarray(grid.points)
    x = np.asarray(s.kinetic.x)
    df = np.asarray(s.modes[:, :, 0]) - np.tanh(E / 0.1)[:, None]
    i = np.argmin(np.abs(E - 0.5))
    lam = 1.0 / np.sqrt(gam)
    shape = np.sinh((L - x) / lam) / np.sinh(L / lam)
    assert np.max(np.abs(df[i] / df[i, 0] - shape)) < 2e-3


def _bcs_gap_reference(T, gamma, cutoff):
    """Equilibrium real-axis gap equation by bisection on a fine grid (independent of the solver):
    Delta = (lambda/2) int Re f tanh(E/2T), f = Delta / (z sqrt(1 - Delta^2/z^2)), z = E + i Gamma."""
    E = np.linspace(-cutoff, cutoff, 400001)
    z = E + 1j * gamma
    lam = 1.0 / np.arcsinh(cutoff)

    def rhs(d):
        f = d / (z * np.sqrt(1 - d**2 / z**2))
        y = np.real(f) * np.tanh(E / (2 * T))
        return 0.5 * lam * np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(E))

    lo, hi = 0.5, 1.2
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if rhs(mid) > mid:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


def test_nonequilibrium_gap_two_branches_of_a_pinned_island():
    """A small island pinned to the double-step distribution of a normal electrode at bias V:
    for V < Delta two gapped solutions, the equilibrium one, arccosh(w_D/D) = arcsinh(w_D), and the
    lower branch arccosh(w_D/D) - arccosh(V/D) = arcsinh(w_D) (T -> 0)."""
    sc = qp.Superconductor(delta=1.0, gamma=0.002)
    grid = inel.uniform_grid(2.0, 0.01)

    def delta(V, start):
        c = qp.TunnelContact(position=0.5, kappa=5.0, electrode=qp.NormalMetal(bias=V, temperature=0.005))
        isl = qp.Wire(sc, 1.0, (c,), temperature=0.005, ends=("vacuum", "vacuum"), n_x=7)
        s = inel.solve_inelastic(isl, (), grid=grid, gap=inel.GapEquation(cutoff=2.0, start=start), subdivision=2,
                                 throw=False)
        return s.delta[0], s.converged

    # one compiled program: value and reverse-mode derivative (transposed GMRES) of Delta(V)
    vg = jax.jit(jax.value_and_grad(delta, has_aux=True))
    (lower, ok_l), g = vg(0.8, 0.75)
    (upper, ok_u), _ = vg(0.8, 1.0)
    assert bool(ok_l) and bool(ok_u)
    lam_inv = np.arcsinh(2.0)
    lo, hi = 0.5, 0.8
    for _ in range(60):
        m = 0.5 * (lo + hi)
        if np.arccosh(2.0 / m) - np.arccosh(0.8 / m) > lam_inv:
            hi = m
        else:
            lo = m
    assert abs(float(lower) - 0.5 * (lo + hi)) < 1e-2
    assert abs(float(upper) - 2.0 / np.cosh(lam_inv)) < 1e-2
    assert float(upper) - float(lower) > 0.05
    # d Delta / d V on the lower branch: positive (it rises towards V = Delta), equal to finite differences
    fd = (float(vg(0.8 + 1e-5, 0.75)[0][0]) - float(vg(0.8 - 1e-5, 0.75)[0][0])) / 2e-5
    assert float(g) > 0 and abs(float(g) - fd) < 1e-4 * abs(fd)


def test_gradients_implicit_vs_finite_differences():
    """d Delta / d(gamma_ee, Gamma, kappa) through Newton-Krylov by implicit differentiation vs finite differences;
    reverse mode equals forward mode."""
    gap = inel.GapEquation(cutoff=4.0)

    def delta_of(theta):
        gee, gamma, kappa = theta
        w = _wire(V=3.2, kappa=kappa, gamma=gamma)
        s = inel.solve_inelastic(w, (ElectronElectron(gee),), grid=GRID, gap=gap, throw=False)
        return s.delta[0]

    th = jnp.array([5e-3, 0.01, 0.005])
    # one compiled program: (value, directional derivative) by forward-mode implicit differentiation
    jvp = jax.jit(lambda t, v: jax.jvp(delta_of, (t,), (v,)))
    jac = []
    for k, hstep in enumerate((1e-5, 1e-5, 1e-5)):
        e = jnp.zeros(3).at[k].set(1.0)
        _, d = jvp(th, e)
        fd = (float(jvp(th + hstep * e, e)[0]) - float(jvp(th - hstep * e, e)[0])) / (2 * hstep)
        assert abs(float(d) - fd) < 1e-4 * max(abs(fd), 1e-3), (k, float(d), fd)
        jac.append(float(d))
    assert jac[0] < 0 and jac[2] < 0  # more pair breaking, more injection: smaller gap
    # reverse mode: the transposed solve (GMRES on J^T with the transposed preconditioner)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(delta_of))(th)), jac, rtol=1e-6)


def test_nonlocal_gap_map_symmetries():
    w = _wire(V=0.0)
    gap = inel.GapEquation(cutoff=4.0)
    V = jnp.array([-3.2, 0.0, 3.2])
    m = inel.nonlocal_gap_map(w, (ElectronElectron(5e-3),), V, jnp.array([-0.6, 0.6]), gap=gap, grid=GRID)
    assert bool(jnp.all(m.converged))
    d = np.asarray(m.delta)
    # at V_inj = 0 the self-consistent gap is the equilibrium one (independent real-axis quadrature)
    assert abs(d[1] - _bcs_gap_reference(0.02, 0.01, 4.0)) < 2e-3
    assert abs(d[0] - d[2]) < 1e-8 and d[2] < d[1]  # Delta is even in V_inj, suppressed by injection
    gsa, gss = np.asarray(m.g_sa), np.asarray(m.g_ss)
    assert np.allclose(gsa[:, 0], -gsa[:, 1], atol=1e-12)  # odd in V_det
    assert np.allclose(gsa[0], -gsa[2], atol=1e-10) and np.allclose(gss[0], gss[2], rtol=1e-6)
    # g_sa is the Delta modulation: dI_N/dDelta x dDelta/dV, with dDelta/dV by implicit differentiation
    dd = np.asarray(m.d_delta)
    assert abs(dd[1]) < 1e-10 and dd[2] < 0 and abs(dd[0] + dd[2]) < 1e-8
    # the implicit dDelta/dV_inj and g_nl agree with finite differences of the same (compiled) sweep
    h = 1e-5
    mp = inel.nonlocal_gap_map(w, (ElectronElectron(5e-3),), V + h, jnp.array([-0.6, 0.6]), gap=gap, grid=GRID)
    mm = inel.nonlocal_gap_map(w, (ElectronElectron(5e-3),), V - h, jnp.array([-0.6, 0.6]), gap=gap, grid=GRID)
    fd = (np.asarray(mp.delta) - np.asarray(mm.delta)) / (2 * h)
    assert np.allclose(dd[[0, 2]], fd[[0, 2]], rtol=1e-4, atol=1e-7)
    gfd = (np.asarray(mp.I_det) - np.asarray(mm.I_det)) / (2 * h)
    assert np.allclose(np.asarray(m.g_nl), gfd, rtol=1e-4, atol=1e-10 * np.max(np.abs(gfd)))
