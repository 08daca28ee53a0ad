"""Inelastic collision integrals, the energy-coupled kinetic solver and the non-equilibrium gap."""

import dataclasses
import tomllib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.kinetic import inelastic as inel
from jaxqp.kinetic.collisions import (
    ElectronElectron,
    ElectronPhonon,
    RelaxationTime,
    collision_integral,
    dense_collision_integral,
    dense_energy_collision_integral,
    energy_collision_integral,
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
        fast = np.asarray(energy_collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))
        ref = dense_energy_collision_integral(proc, E, N, M, f)
        assert np.max(np.abs(fast - ref)) < 1e-12 * np.max(np.abs(ref)) + 1e-14
        # detailed balance: equilibrium at the bath temperature is stationary, exactly on the grid
        eq = np.asarray(energy_collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(feq)))
        assert np.max(np.abs(eq)) < 1e-12
        # particle number (odd part) is conserved by every process
        assert abs(np.sum(fast)) < 1e-11 * np.sum(np.abs(fast))
    # electron-electron collisions conserve energy; phonons take it away
    ee = np.asarray(energy_collision_integral(ElectronElectron(1.0), E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))
    assert abs(np.sum(E * ee)) < 1e-12 * np.sum(np.abs(E * ee))
    # relaxation (I ~ rate N (f - f_eq)) has the sign of the deviation at the coherence peaks
    bump = feq + 0.01 * (np.abs(np.abs(E) - 1.2) < 0.05) * np.sign(E)
    rt = np.asarray(energy_collision_integral(ElectronElectron(1.0), E, jnp.asarray(N), jnp.asarray(M),
                                              jnp.asarray(bump)))
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
        _, diag = energy_collision_integral(proc, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(feq),
                                            with_diagonal=True)
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
        I = np.asarray(energy_collision_integral(ph, E, jnp.asarray(N), jnp.asarray(M), jnp.asarray(f)))[0]
        P.append(-np.sum(E * I) * d)
    ratio = (0.25**5 - 0.05**5) / (0.15**5 - 0.05**5)
    assert P[0] > 0 and abs(P[1] / P[0] - ratio) < 2e-3 * ratio


def _bcs_complex(E, delta=1.0, gamma=0.05, h=0.0):
    _, g, f, _ = green_functions(jnp.asarray(E) + 1j * gamma, h, delta, 0.0, 0.0, 0.0)
    return np.asarray(g), np.asarray(f)


def test_full_collision_integral_fft_dense_reduction_balance_conservation():
    """All modes: FFT == explicit sums; f_T = 0 gives the energy-mode integral exactly (and I_T = 0);
    equilibrium is stationary in every mode; e-e conserves particle number, energy and quasiparticle
    charge; modes="energy" acts on f_L alone."""
    E = np.arange(-20, 21) * 0.15
    g, f = _bcs_complex(E, h=0.2)
    rng = np.random.default_rng(3)
    T = 0.3
    t = np.tanh(E / (2 * T))
    h = np.stack([t + 0.1 * rng.normal(size=(2, E.size)), 0.1 * rng.normal(size=(2, E.size))], -1)
    heq = np.stack([np.broadcast_to(t, (2, E.size)), np.zeros((2, E.size))], -1)
    h0 = np.stack([h[..., 0], 0 * h[..., 1]], -1)
    G, F = jnp.asarray(g), jnp.asarray(f)
    procs = (ElectronElectron(0.7), ElectronElectron(kappa=0.3, power=1.5), ElectronPhonon(0.5, temperature=T))
    for proc in procs:
        fast = np.asarray(collision_integral(proc, E, G, F, jnp.asarray(h)))
        ref = dense_collision_integral(proc, E, g, f, h)
        assert np.max(np.abs(fast - ref)) < 1e-12 * np.max(np.abs(ref))
        assert np.max(np.abs(fast[..., 1])) > 1e-2 * np.max(np.abs(fast[..., 0]))  # the charge modes do relax
        eq = np.asarray(collision_integral(proc, E, G, F, jnp.asarray(heq)))
        assert np.max(np.abs(eq)) < 1e-12 * np.max(np.abs(fast))
        red = np.asarray(collision_integral(proc, E, G, F, jnp.asarray(h0)))
        if proc.power < 1.0 or isinstance(proc, ElectronPhonon):
            old = np.asarray(energy_collision_integral(proc, E, G.real, F.real, jnp.asarray(h0[..., 0])))
            assert np.max(np.abs(red[..., 0] - old)) < 1e-12 * np.max(np.abs(old))
        assert np.max(np.abs(red[..., 1])) < 1e-14 * np.max(np.abs(red))
        assert abs(np.sum(fast[..., 0])) < 1e-12 * np.sum(np.abs(fast[..., 0]))  # particle number
        en = np.asarray(collision_integral(dataclasses.replace(proc, modes="energy"), E, G, F, jnp.asarray(h)))
        assert np.max(np.abs(en - red * np.array([1.0, 0.0]))) < 1e-14 * np.max(np.abs(red))
    for proc in procs[:2]:
        ee = np.asarray(collision_integral(proc, E, G, F, jnp.asarray(h)))
        assert abs(np.sum(E[:, None] * ee[..., 0].T)) < 1e-12 * np.sum(np.abs(E * ee[..., 0]))
    # relaxation time: the distributed normal bath, I = rate N (h - h_eq) in both components
    rt = np.asarray(collision_integral(RelaxationTime(0.1), E, G, F, jnp.asarray(h), temperature=T))
    np.testing.assert_allclose(rt, 0.1 * g.real[..., None] * (h - heq), rtol=1e-13, atol=1e-16)


def test_relaxation_to_the_local_equilibrium():
    """RelaxationTime(conserve=...): the target is the Fermi function with the distribution's own charge,
    spin and energy (against an independent scipy root of the three moment equations), so the collision
    integral conserves them to round-off; a local equilibrium does not relax; the energy-mode path is the
    full one at f_T = 0; the derivative is that of the computation (central differences)."""
    from scipy.optimize import fsolve

    E = np.arange(-30, 31) * 0.1
    g, f = _bcs_complex(E, h=0.2)
    N = g.real
    rng = np.random.default_rng(5)
    heq = np.asarray(qp.distributions.equilibrium_modes(E, 0.15, 0.05, 0.3))  # (2, n_E, 2)
    h = heq + 0.05 * rng.normal(size=heq.shape)
    G, F, H = jnp.asarray(g), jnp.asarray(f), jnp.asarray(h)
    s = np.array([1.0, -1.0])
    mom = lambda x: np.array([np.sum(N * x[..., 1]), np.sum(s[:, None] * N * x[..., 0]),  # noqa: E731
                              np.sum(E * N * x[..., 0])])
    proc = RelaxationTime(0.4, conserve="all")
    I = np.asarray(collision_integral(proc, E, G, F, H, temperature=0.1))
    for m in (np.sum(I[..., 1]), np.sum(s[:, None] * I[..., 0]), np.sum(E * I[..., 0])):  # charge, spin, energy
        assert abs(m) < 1e-13 * np.sum(np.abs(I))
    ref = fsolve(lambda u: mom(h) - mom(np.asarray(qp.distributions.equilibrium_modes(E, u[0], u[1], u[2]))),
                 [0.0, 0.0, 0.3], xtol=1e-13)
    tgt, params, ok = qp.distributions.local_equilibrium(E, N, H, temperature=0.1)
    assert bool(ok) and np.max(np.abs(np.array([float(p) for p in params]) - ref)) < 1e-9
    np.testing.assert_allclose(I, 0.4 * N[..., None] * (h - np.asarray(tgt)), rtol=1e-13, atol=1e-16)
    assert np.max(np.abs(np.asarray(collision_integral(proc, E, G, F, jnp.asarray(heq), temperature=0.1)))) < 1e-12
    # energy only: mu = spin = 0 and T from the energy moment alone
    only = np.asarray(collision_integral(RelaxationTime(0.4, conserve="energy"), E, G, F, H, temperature=0.1))
    assert abs(np.sum(E * only[..., 0])) < 1e-13 * np.sum(np.abs(only))
    assert abs(np.sum(only[..., 1])) > 1e-2 * np.sum(np.abs(only))  # the charge relaxes to the bath
    # the energy-mode path is the full integral at f_T = 0
    h0 = jnp.asarray(np.stack([h[..., 0], 0 * h[..., 1]], -1))
    proc2 = RelaxationTime(0.4, conserve=("spin", "energy"))
    full = np.asarray(collision_integral(proc2, E, G, F, h0, temperature=0.1))
    fast = np.asarray(energy_collision_integral(proc2, E, G.real, F.real, h0[..., 0], temperature=0.1))
    assert np.max(np.abs(full[..., 0] - fast)) < 1e-13
    # derivative of the computation: jvp against central differences
    dh = jnp.asarray(rng.normal(size=h.shape))
    fn = lambda a: collision_integral(proc, E, G, F, H + a * dh, temperature=0.1)  # noqa: E731
    jv = np.asarray(jax.jvp(fn, (0.0,), (1.0,))[1])
    fd = (np.asarray(fn(1e-6)) - np.asarray(fn(-1e-6))) / 2e-6
    assert np.max(np.abs(jv - fd)) < 1e-6 * np.max(np.abs(jv))


def _boltzmann_rates(proc, E, n):
    """Normal state, occupation numbers n[sigma, i] of electrons: dn/dt by the textbook in - out sums
    (partner occupations averaged over spin; phonons emitted and absorbed at T_ph)."""
    d = E[1] - E[0]
    ns, m = n.shape
    out = np.zeros_like(n)
    for k in range(-(m - 1), m):
        if k == 0:
            continue
        w = k * d
        i = np.arange(max(0, k), min(m, m + k))  # E_i and E_i - w both on the grid
        n0, n1 = n[:, i], n[:, i - k]
        if isinstance(proc, ElectronElectron):
            j = np.arange(max(0, -k), min(m, m - k))  # partner E_j -> E_j + w
            pin = np.mean(np.sum((1 - n[:, j]) * n[:, j + k], axis=1))
            pout = np.mean(np.sum(n[:, j] * (1 - n[:, j + k]), axis=1))
            K = float(proc.coefficient()) * proc.kernel(np.array([w]), d)[0] * d * d
            out[:, i] += K * ((1 - n0) * n1 * pin - n0 * (1 - n1) * pout)
        else:
            T = float(proc.temperature)
            nb = 1.0 / np.expm1(abs(w) / T)
            emit, absorb = (1 + nb, nb) if w > 0 else (nb, 1 + nb)  # electron at E loses w to the phonons
            C = float(proc.rate) / proc.normalisation() * abs(w) ** proc.power * d
            out[:, i] += C * ((1 - n0) * n1 * absorb - n0 * (1 - n1) * emit)
    return out


def test_normal_state_collisions_are_the_boltzmann_integrals():
    """Normal metal, spin-resolved non-equilibrium occupations: the Nambu collision integral of each
    sector is the in - out Boltzmann integral of the electrons (and of the holes, i.e. the electrons of
    the other spin at -E); Fermi functions with spin-dependent mu and one T are stationary for e-e."""
    from jaxqp.kinetic.coefficients import sectors_from_occupations

    E = np.arange(-25, 26) * 0.08
    rng = np.random.default_rng(4)
    fermi = lambda e, mu, T: 0.5 * (1 - np.tanh((e - mu) / (2 * T)))  # noqa: E731
    n = np.stack([0.6 * fermi(E, 0.3, 0.2) + 0.4 * fermi(E, -0.5, 0.1), fermi(E, 0.1, 0.3)])
    n = np.clip(n + 0.02 * rng.normal(size=n.shape), 0, 1)
    h = np.asarray(sectors_from_occupations(n[0], n[1], n[0][::-1], n[1][::-1]))  # (n_E, 4)
    hs = np.stack([h[:, 0:2], h[:, 2:4]])  # (2, n_E, 2)
    one, zero = jnp.ones((2, E.size), complex), jnp.zeros((2, E.size), complex)
    for proc in (ElectronElectron(kappa=0.4, power=1.5), ElectronElectron(0.3), ElectronPhonon(0.7, temperature=0.15)):
        I = np.asarray(collision_integral(proc, E, one, zero, jnp.asarray(hs)))
        ref = _boltzmann_rates(proc, E, n)
        scale = np.max(np.abs(ref))
        # sector s: electrons of spin s (h11 = 1 - 2 n_s(E), dn/dt = (I_L + I_T)/2) ...
        np.testing.assert_allclose(0.5 * (I[..., 0] + I[..., 1]), ref, atol=1e-12 * scale)
        # ... and holes of spin -s (h22 = 2 n_{-s}(-E) - 1)
        np.testing.assert_allclose(-0.5 * (I[::-1, ::-1, 0] - I[::-1, ::-1, 1]), ref, atol=1e-12 * scale)
    ee = ElectronElectron(kappa=0.4, power=1.5)
    heq = np.asarray(sectors_from_occupations(fermi(E, 0.2, 0.15), fermi(E, -0.1, 0.15),
                                              fermi(-E, 0.2, 0.15), fermi(-E, -0.1, 0.15)))
    I = np.asarray(collision_integral(ee, E, one, zero, jnp.asarray(np.stack([heq[:, 0:2], heq[:, 2:4]]))))
    assert np.max(np.abs(I)) < 1e-13


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


GAP_MAP_V = jnp.array([-3.2, 0.0, 3.2])


def _half_wire_map(V_inj):
    """The half wire's map g(V_inj, V_det) at V_det = -0.6 and 0.6 (one compiled program for every V_inj)."""
    return inel.nonlocal_gap_map(_wire(V=0.0), (ElectronElectron(5e-3),), V_inj, jnp.array([-0.6, 0.6]),
                                 gap=inel.GapEquation(cutoff=4.0), grid=GRID)


@pytest.fixture(scope="module")
def gap_map():
    """The map at GAP_MAP_V, shared by the symmetry test and the ``jaxqp run`` test."""
    return _half_wire_map(GAP_MAP_V)


def test_nonlocal_gap_map_symmetries(gap_map):
    m = gap_map
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
    mp, mm = _half_wire_map(GAP_MAP_V + h), _half_wire_map(GAP_MAP_V - h)
    fd = (np.asarray(mp.delta) - np.asarray(mm.delta)) / (2 * h)
    assert np.allclose(dd[[0, 2]], fd[[0, 2]], rtol=1e-4, atol=1e-7)
    gfd = (np.asarray(mp.I_det) - np.asarray(mm.I_det)) / (2 * h)
    assert np.allclose(np.asarray(m.g_nl), gfd, rtol=1e-4, atol=1e-10 * np.max(np.abs(gfd)))


HALF_WIRE_RUN = """
task = "inelastic"
[units]
delta0 = "200 ueV"
[material]
temperature = "0.02 Delta0"
gamma = "0.01 Delta0"
[wire]
length = "10 xi"
n_x = 12
left_end = "vacuum"                # the symmetry plane at the injector (seed 001's half wire)
[injector]
position = "0 xi"
kappa = 0.005
temperature = "0.02 Delta0"
[detector]
position = "2 xi"
kappa = 1e-3
temperature = "0.02 Delta0"
[collisions]
cutoff = "4 Delta0"
spacing = "0.04 Delta0"
rate_ee = "5e-3 Delta0"
[grid]
V_inj = { values = [-3.2, 0.0, 3.2], unit = "Delta0" }
V_det = ["-0.6 Delta0", "0.6 Delta0"]
"""


def test_inelastic_run_task_equals_the_gap_map(tmp_path, gap_map):
    """``jaxqp run`` task ``inelastic`` (seed 001 Figs. 11-12 from a configuration file): Delta(V_inj) and the
    map g(V_inj, V_det) equal nonlocal_gap_map on the same half wire (the program of the symmetry test
    above), with the detector biases as a labelled axis in volts; g_nl = g_sa + g_ss."""
    from jaxqp.app import runconfig, runner

    path = tmp_path / "half.toml"
    path.write_text(HALF_WIRE_RUN)
    ds, _ = runner.run(runconfig.load(path))
    assert ds.g_nl.dims == ("V_inj", "V_det") and ds.V_det.attrs["units"] == "V"
    np.testing.assert_allclose(ds.V_det.values, [-0.6 * 200e-6, 0.6 * 200e-6], rtol=1e-12)
    assert np.all(ds.converged.values == 1) and int(ds.status) == 0
    m = gap_map
    for k in ("delta", "d_delta", "I_det", "g_nl", "g_sa", "g_ss"):
        np.testing.assert_allclose(ds[k].values, np.asarray(getattr(m, k)), rtol=1e-9, atol=1e-12, err_msg=k)
    np.testing.assert_allclose(ds.g_nl.values, ds.g_sa.values + ds.g_ss.values, atol=1e-12)
    np.testing.assert_allclose(ds.delta_eV.values, ds.delta.values * 200e-6, rtol=1e-12)
    bad = HALF_WIRE_RUN.replace('left_end = "vacuum"', 'left_end = "reservoir"')
    with pytest.raises(runconfig.ConfigError, match="a contact at an end needs a vacuum end"):
        runconfig.from_dict(tomllib.loads(bad))


def _boltzmann_wire(proc, E, x, V, T0, iters=400):
    """Independent reference: the 1-D Boltzmann equation of a normal wire, D n'' = -Coll[n], with
    n(0) = f0(E - V), n(L) = f0(E), the e-e integral Coll = (1 - n) A_in - n A_out in occupation
    numbers (partner spin-degenerate), by fixed-point iteration on A_in, A_out and a Thomas solve per
    energy (NumPy)."""
    d = E[1] - E[0]
    m, nx = E.size, x.size
    dx = x[1] - x[0]
    f0 = lambda e: 0.5 * (1 - np.tanh(e / (2 * T0)))  # noqa: E731
    xi = (x / x[-1])[:, None]
    n = (1 - xi) * f0(E - V) + xi * f0(E)
    K = float(proc.coefficient()) * proc.kernel(np.arange(-(m - 1), m) * d, d) * d * d
    for _ in range(iters):
        Ain, Aout = np.zeros_like(n), np.zeros_like(n)
        for j in range(1, nx - 1):
            a = n[j]
            Ain[j] = np.convolve(a, K * np.correlate(a, 1 - a, "full"))[m - 1:2 * m - 1]
            Aout[j] = np.convolve(1 - a, K * np.correlate(1 - a, a, "full"))[m - 1:2 * m - 1]
        # (n_{j-1} - 2 n_j + n_{j+1}) / dx^2 - (A_in + A_out) n_j = -A_in, Thomas in x for all energies
        b = -2 / dx**2 - (Ain + Aout)
        r = -Ain.copy()
        r[1] -= n[0] / dx**2
        r[-2] -= n[-1] / dx**2
        c, y = np.zeros_like(n), np.zeros_like(n)
        for j in range(1, nx - 1):
            den = b[j] - (c[j - 1] / dx**2 if j > 1 else 0.0)
            c[j] = (1 / dx**2) / den
            y[j] = (r[j] - (y[j - 1] / dx**2 if j > 1 else 0.0)) / den
        new = n.copy()
        for j in range(nx - 2, 0, -1):
            new[j] = y[j] - (c[j] * new[j + 1] if j < nx - 2 else 0.0)
        change, n = np.max(np.abs(new - n)), new
        if change < 1e-13:
            break
    return n


def test_energy_relaxation_in_a_normal_wire_double_step_to_hot_electrons():
    """Pothier et al., PRL 79, 3490 (1997): a normal wire between a reservoir at V and a grounded one.
    No collisions: the double step; the diffusive-wire kernel K ~ kappa |E|^(-3/2) at an intermediate
    kappa: the independent Boltzmann solution; strong e-e (or a short relaxation time to the local
    equilibrium): the hot-electron Fermi function with
    mu = V (1 - x/L), T_e^2 = T0^2 + (3/pi^2) V^2 (x/L)(1 - x/L), in f_L and f_T.  The current is the
    Ohmic one and both the charge and the energy current are conserved along the wire."""
    T0, V, L = 0.02, 1.0, 10.0
    w = qp.Wire(qp.Superconductor(delta=0.0, gamma=0.0), L, (), temperature=T0,
                ends=(qp.Reservoir(bias=V), "reservoir"), n_x=21, growth=0.0)
    grid = inel.uniform_grid(3.0, 0.03)
    E, x = np.asarray(grid.points), np.asarray(w.x)
    mid = 10
    xi = x[mid] / L
    mu, Te = V * (1 - xi), np.sqrt(T0**2 + 3 / np.pi**2 * V**2 * xi * (1 - xi))
    hot = (0.5 * (np.tanh((E + mu) / (2 * Te)) + np.tanh((E - mu) / (2 * Te))),
           0.5 * (np.tanh((E - mu) / (2 * Te)) - np.tanh((E + mu) / (2 * Te))))
    f0 = lambda e: 0.5 * (1 - np.tanh(e / (2 * T0)))  # noqa: E731
    n2 = (1 - xi) * f0(E - V) + xi * f0(E)
    double = (n2[::-1] - n2, 1 - n2 - n2[::-1])  # f_L = n(-E) - n(E), f_T = 1 - n(E) - n(-E)
    errors = []
    for kappa in (0.0, 0.02, 1.0, 5.0):
        proc = ElectronElectron(kappa=kappa, power=1.5)
        s = inel.solve_inelastic(w, (proc,), grid=grid, subdivision=1)
        m = np.asarray(s.modes)
        errors.append(max(np.max(np.abs(m[:, mid, k] - hot[k])) for k in (0, 1)))
        if kappa == 0.0:
            assert max(np.max(np.abs(m[:, mid, k] - double[k])) for k in (0, 1)) < 2e-5
            I0 = np.asarray(s.kinetic.current_profile()["quasiparticle"])
            np.testing.assert_allclose(I0, V / L, rtol=1e-3)  # Ohmic
            np.testing.assert_allclose(np.asarray(s.kinetic.reservoir_currents()), [-V / L, V / L], rtol=1e-3)
            # the double step carries the charge and energy of the hot-electron Fermi function
            mu0, _, T_loc, ok = s.kinetic.local_equilibrium()
            assert bool(np.all(ok))
            assert np.max(np.abs(np.asarray(mu0) - V * (1 - x / L))) < 1e-4
            assert np.max(np.abs(np.asarray(T_loc) - np.sqrt(T0**2 + 3 / np.pi**2 * V**2 * x / L * (1 - x / L)))) < 3e-4
        if kappa == 0.02:
            ref = _boltzmann_wire(proc, E, np.linspace(0, L, 21), V, T0)
            n = 0.5 * (1 - m[..., 0] - m[..., 1]).T  # electrons: h11 = f_L + f_T = 1 - 2n
            assert np.max(np.abs(n - ref)) < 1e-4
            assert np.max(np.abs(m[:, mid, 0] - double[0])) > 0.05  # neither a double step nor hot
        prof = s.kinetic.current_profile()
        np.testing.assert_allclose(np.asarray(prof["quasiparticle"]), I0, rtol=1e-8)  # Ohmic, conserved
        en = np.asarray(prof["energy"])
        assert np.ptp(en) < 1e-8 * np.max(np.abs(en))
    assert errors[-1] < 2e-3 and errors[1] > 0.05
    assert all(a > b for a, b in zip(errors, errors[1:], strict=False))  # the crossover is monotonic
    # the relaxation-time form with the local equilibrium as target conserves charge and energy too
    s = inel.solve_inelastic(w, (RelaxationTime(10.0, conserve="all"),), grid=grid, subdivision=1)
    m = np.asarray(s.modes)
    np.testing.assert_allclose(np.asarray(s.kinetic.local_equilibrium()[2]), np.asarray(T_loc), rtol=1e-9)
    assert max(np.max(np.abs(m[:, mid, k] - hot[k])) for k in (0, 1)) < 2e-3
    prof = s.kinetic.current_profile()
    np.testing.assert_allclose(np.asarray(prof["quasiparticle"]), I0, rtol=1e-8)
    assert np.ptp(np.asarray(prof["energy"])) < 1e-8 * np.max(np.abs(np.asarray(prof["energy"])))


def _schmid_schon_reference(delta, gamma, rate, T, e_max=5.0, n=400_001):
    """Charge-imbalance relaxation rate of a homogeneous BCS superconductor with Dynes broadening
    ``gamma`` and charge-conserving relaxation-time collisions, solved in numpy on a fine grid:
    stationary ``R_T f_T + rate N (f_T - f_loc) = 0`` with the linearised local equilibrium
    ``f_loc ~ sech^2(E / 2T)`` (the injection is weak), rate ``int R_T f_T / int N f_T``."""
    E = np.linspace(-e_max, e_max, n)
    s = np.sqrt(delta**2 - (E + 1j * gamma) ** 2)  # principal root: Re N > 0 on both sides
    N = np.real(-1j * (E + 1j * gamma) / s)
    R_T = 2.0 * delta * np.real(delta / s)  # -2 Delta Im f with f = -i Delta / s
    f_T = rate * N / np.cosh(E / (2 * T)) ** 2 / (R_T + rate * N)
    return np.sum(R_T * f_T) / np.sum(N * f_T)


def test_charge_imbalance_relaxes_at_the_schmid_schon_rate():
    """Near Tc (Delta << T) the charge imbalance relaxes by inelastic scattering at the Schmid-Schon
    rate 1/tau_Q* = pi Delta / (4 T tau_E) (J. Low Temp. Phys. 20, 207 (1975)). Collisions that
    conserve the quasiparticle charge (relaxation time tau_E toward the local equilibrium) with spectra
    that contain their retarded self-energy (Dynes gamma = rate / 2): a weak tunnel injector feeds
    charge into a short closed wire, and the stationary injected current per charge imbalance is the
    relaxation rate. Checked for two gaps and two rates against the formula and against a numpy
    solution of the homogeneous equation; without a gap the charge does not relax."""
    T, L, V = 0.5, 0.1, 0.01
    grid = inel.uniform_grid(5.0, 0.01)

    def relaxation_rate(delta, rate):
        sc = qp.Superconductor(delta=delta, gamma=rate / 2)
        inj = qp.TunnelContact(position=0.0, kappa=1e-5, electrode=qp.NormalMetal(bias=V, temperature=T))
        wire = qp.Wire(sc, L, (inj,), temperature=T, ends=("vacuum", "vacuum"), n_x=4)
        s = inel.solve_inelastic(wire, (RelaxationTime(rate, conserve="charge"),), grid=grid, subdivision=8)
        mu = np.asarray(s.kinetic.charge_imbalance())
        assert np.ptp(mu) < 1e-4 * np.abs(mu).mean()  # homogeneous
        assert 0.0 < mu.mean() < V
        return float(np.asarray(s.currents.charge)[0]) / (mu.mean() * L)

    for delta, rate in ((0.05, 0.01), (0.025, 0.01), (0.05, 0.02)):
        got = relaxation_rate(delta, rate)
        schmid_schon = np.pi * delta * rate / (4 * T)
        assert abs(got / schmid_schon - 1) < 0.05, (delta, rate, got / schmid_schon)
        ref = _schmid_schon_reference(delta, rate / 2, rate, T)
        # first order in the energy spacing: 0.7-2.1 % here, 0.4-1.0 % at spacing 0.005
        assert abs(got / ref - 1) < 0.03, (delta, rate, got / ref)
    # a normal wire: the collisions conserve the charge, nothing converts it to condensate
    assert abs(relaxation_rate(0.0, 0.01)) < 1e-3 * np.pi * 0.05 * 0.01 / (4 * T)
    # closed (kappa = 0): without a drive only a bath on every mode fixes the stationary state, equilibrium
    off = qp.TunnelContact(position=0.0, kappa=0.0, electrode=qp.NormalMetal(bias=V, temperature=T))
    closed = qp.Wire(qp.Superconductor(delta=0.05, gamma=0.005), L, (off,), temperature=T, ends=("vacuum", "vacuum"),
                     n_x=4)
    s = inel.solve_inelastic(closed, (RelaxationTime(0.01),), grid=grid, subdivision=8)
    E = np.asarray(grid.points)
    assert np.max(np.abs(np.asarray(s.modes[..., 0]) - np.tanh(E / (2 * T))[:, None])) < 1e-10
    assert np.max(np.abs(np.asarray(s.modes[..., 1:]))) < 1e-10
    with pytest.raises(ValueError, match="the wire is closed"):
        inel.solve_inelastic(closed, (RelaxationTime(0.01, conserve="charge"),), grid=grid, subdivision=8)


def test_collisions_with_inhomogeneous_spectra():
    """Spectra renormalised by a strong normal contact (the 1-D retarded solution): without collisions
    the elastic engine's answer; at V = 0 equilibrium is stationary with collisions on every mode; e-e
    collisions conserve the energy current between the contacts."""
    sc = qp.Superconductor(delta=1.0, gamma=0.02)
    grid = inel.uniform_grid(3.0, 0.05)

    def wire(V):
        inj = qp.TunnelContact(position=0.0, kappa=0.5, electrode=qp.NormalMetal(bias=V, temperature=0.05))
        det = qp.TunnelContact(position=2.0, kappa=0.01, electrode=qp.NormalMetal(temperature=0.05))
        return qp.Wire(sc, 6.0, (inj, det), temperature=0.05, ends=("vacuum", "reservoir"), n_x=9,
                       spectra="inhomogeneous")

    procs = (ElectronElectron(0.0), ElectronPhonon(0.0, temperature=0.05))
    s0 = inel.solve_inelastic(wire(1.5), procs, grid=grid, subdivision=1)
    ref = qp.solve_kinetic(wire(1.5), grid=grid)
    assert np.max(np.abs(s0.kinetic.sectors - ref.sectors)) < 1e-10
    dos = np.asarray(s0.kinetic.dos)[np.argmin(np.abs(np.asarray(grid.points) - 1.05)), :, 0]
    assert dos[0] < 0.6 * dos[-1]  # the contact renormalises the spectra near it
    procs = (ElectronElectron(0.05), ElectronPhonon(0.02, temperature=0.05))
    eq = inel.solve_inelastic(wire(0.0), procs, grid=grid, subdivision=1)
    heq = np.asarray(qp.kinetic.wire.equilibrium_sectors(jnp.asarray(grid.points), 0.05))
    assert np.max(np.abs(np.asarray(eq.kinetic.sectors) - heq[:, None, :])) < 1e-12
    s1 = inel.solve_inelastic(wire(1.5), (ElectronElectron(0.05), ElectronPhonon(0.0, temperature=0.05)), grid=grid,
                              subdivision=1)
    assert bool(s1.converged)
    x = np.asarray(s1.kinetic.x)
    en = np.asarray(s1.kinetic.current_profile()["energy"])[0.5 * (x[1:] + x[:-1]) < 2.0]
    assert np.ptp(en) < 1e-9 * np.max(np.abs(en))
    assert np.max(np.abs(np.asarray(s1.kinetic.sectors) - np.asarray(s0.kinetic.sectors))) > 1e-3


def test_collision_processes_refuse_bad_input():
    with pytest.raises(ValueError, match="kappa"):
        ElectronElectron(0.1, power=1.5)  # the Fermi-level rate is infinite for power >= 1
    with pytest.raises(ValueError, match="exactly one"):
        ElectronElectron(0.1, kappa=0.2)
    with pytest.raises(ValueError, match="3/2"):
        ElectronElectron(kappa=0.1, power=2.0)
    with pytest.raises(ValueError, match="modes"):
        ElectronPhonon(0.1, temperature=0.1, modes="charge")
    k = ElectronElectron(kappa=0.3, power=1.5).kernel(np.arange(-3, 4) * 0.1, 0.1)
    assert k[3] == 0.0 and np.allclose(k, k[::-1])
    # the cell weights integrate |w|^(1 - p) exactly: sum_k K_k |w_k| dE = int_{dE/2}^{(n + 1/2) dE} w^(1-p) dw
    w = np.arange(1, 200) * 0.1
    kk = ElectronElectron(kappa=1.0, power=1.5).kernel(w, 0.1)
    assert abs(np.sum(kk * w * 0.1) - (19.95**0.5 - 0.05**0.5) / 0.5) < 1e-12
    with pytest.raises(ValueError, match="forcing_max"):
        inel.NewtonOptions(forcing_max=1.0)
    # the FFT length of the collision integrals: the smallest 5-smooth L >= 2 n - 1 (no wrap-around)
    from jaxqp.kinetic.collisions import _fft_size

    smooth = sorted(2**a * 3**b * 5**c for a in range(14) for b in range(9) for c in range(6))
    for n in (3, 31, 61, 401, 801, 3201):
        assert _fft_size(n) == min(m for m in smooth if m >= 2 * n - 1)
