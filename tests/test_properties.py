"""Property-based tests of the solvers: random valid parameters, edges included (h near and above
the Chandrasekhar-Clogston field, Gamma -> 0, T -> 0, strong depairing).

On every draw: a point flagged as converged has its residual below tolerance, recomputed here from
the returned functions (not taken from the solver); nothing comes back as a silent NaN or inf; the
symmetries and identities hold.  Each test compiles its program once (fixed shapes, parameters as
arguments).  The draws per test are printed at the end of the run ("property-based draws"); the
CI profile runs 10 reproducible draws per test, ``JAXQP_HYPOTHESIS_PROFILE=deep`` runs 400 random ones.
"""

import jax.numpy as jnp
import numpy as np
from hypothesis import example, given
from hypothesis import strategies as st

import jaxqp as qp
from jaxqp.junction import tunnel_current


def _draws(test, record_property):
    """Run the hypothesis test ``test`` (no arguments) and record how many draws it made."""
    count = [0]
    test(count)
    record_property("draws", count[0])


def _maki_fulde_residual(E, sc, g, f):
    """Relative residual of the Maki-Fulde equation (docs/theory.md section 2) from g and f:
    v = Delta g / f, s = -i Delta / f."""
    d, h, zeta, bso, bsf, gam = (float(x) for x in (sc.delta, sc.h, sc.zeta, sc.b_so, sc.b_sf, sc.gamma))
    v = d * g / f
    s = -1j * d / f
    out = []
    for a, b, sign in ((0, 1, 1.0), (1, 0, -1.0)):
        eps = E + sign * h + 1j * gam
        R = (v[a] - eps - zeta * v[a] / s[a] - bso * (v[b] - v[a]) / s[b]
             - bsf * ((v[b] + v[a]) / s[b] + v[a] / s[a]))
        scale = np.abs(v[a]) + np.abs(eps) + (zeta + 2 * bso + 2 * bsf) * np.abs(v[a] / s[a]) + 1.0
        out.append(np.abs(R) / scale)
    return np.max(out)


E_BULK = np.concatenate([np.linspace(-3.0, 3.0, 301), [-1.0, -0.5, 0.0, 0.5, 1.0]])


def test_bulk_spectra_converge_to_the_retarded_root_with_symmetries(record_property):
    @given(delta=st.floats(0.2, 1.0), h=st.floats(0.0, 1.2), zeta=st.sampled_from([0.0, 1e-3, 0.05, 0.3]),
           b_so=st.sampled_from([0.0, 0.01, 0.1, 0.5]), b_sf=st.sampled_from([0.0, 0.02, 0.2]),
           gamma=st.sampled_from([1e-6, 1e-4, 1e-2, 0.1]))
    @example(delta=1.0, h=0.0, zeta=0.0, b_so=0.0, b_sf=0.0, gamma=1e-6)  # BCS, Gamma -> 0
    @example(delta=1.0, h=1 / np.sqrt(2), zeta=0.0, b_so=0.0, b_sf=0.0, gamma=1e-6)  # Clogston field
    @example(delta=0.3, h=1.2, zeta=0.3, b_so=0.5, b_sf=0.2, gamma=0.1)  # everything strong
    def check(count, delta, h, zeta, b_so, b_sf, gamma):
        count[0] += 1
        sc = qp.Superconductor(delta=delta, h=h, zeta=zeta, b_so=b_so, b_sf=b_sf, gamma=gamma)
        sol = sc.solve(jnp.asarray(np.concatenate([E_BULK, -E_BULK])))
        g, f, ok = np.asarray(sol.g), np.asarray(sol.f), np.asarray(sol.converged)
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(f)), "no silent NaN/inf"
        assert ok.all(), "every energy converges at these parameters"
        E = np.concatenate([E_BULK, -E_BULK])
        assert _maki_fulde_residual(E, sc, g, f) < 1e-9
        np.testing.assert_allclose(g**2 - f**2, 1.0, atol=1e-9)  # normalisation
        N = g.real
        assert N.min() > -1e-12, "retarded branch: the DOS is >= 0"
        n = E_BULK.size  # particle-hole symmetry: N_up(E) = N_dn(-E)
        np.testing.assert_allclose(N[0, :n], N[1, n:], atol=1e-9)

    _draws(check, record_property)


def _bcs_gap_equation(delta, T, n_max=20000):
    """Weak-coupling BCS in units of Delta0 (numpy): ln(T/Tc) + 2 pi T sum_w (1/w - 1/sqrt(w^2 + D^2))."""
    w = np.pi * T * (2 * np.arange(n_max) + 1)
    tail = delta**2 / (4 * (np.pi * T) ** 2 * (2 * n_max + 1) ** 2)  # the terms beyond n_max, ~ D^2/(2 w^3)
    return np.log(T / qp.TC0) + 2 * np.pi * T * np.sum(1 / w - 1 / np.sqrt(w**2 + delta**2)) + tail


def test_gap_is_a_root_of_the_gap_equation_on_every_draw(record_property):
    @given(T=st.one_of(st.just(0.0), st.floats(1e-3, 0.62)), h=st.one_of(st.just(0.0), st.floats(0.0, 0.8)),
           zeta=st.sampled_from([0.0, 0.02, 0.2]), b_so=st.sampled_from([0.0, 0.05]),
           gamma=st.sampled_from([0.0, 1e-3]))
    @example(T=0.3, h=0.0, zeta=0.0, b_so=0.0, gamma=0.0)  # BCS: the independent Matsubara sum
    @example(T=0.0, h=0.0, zeta=0.0, b_so=0.0, gamma=0.0)  # T = 0: Delta = Delta0
    @example(T=0.0, h=0.7, zeta=0.0, b_so=0.0, gamma=0.0)  # just below the Clogston field
    @example(T=0.0, h=0.72, zeta=0.0, b_so=0.0, gamma=0.0)  # just above: the normal state
    @example(T=0.56, h=0.0, zeta=0.0, b_so=0.0, gamma=0.0)  # near Tc
    def check(count, T, h, zeta, b_so, gamma):
        count[0] += 1
        d = float(qp.gap(T, h=h, zeta=zeta, b_so=b_so, gamma=gamma))
        if T == 0 and h == zeta == b_so == gamma == 0:
            assert abs(d - 1.0) < 1e-10
        if T == 0 and zeta == b_so == gamma == 0:  # first-order transition at h = 1/sqrt(2) (Clogston)
            assert (d > 0.99) if h < 0.7 else (h <= 1 / np.sqrt(2) or d == 0.0)
        assert np.isfinite(d) and 0.0 <= d <= 1.0 + 1e-12
        if T >= qp.TC0 * (1 + 1e-9):
            assert d == 0.0, "pair breaking only lowers Tc"
        if d > 1e-6:  # a simple root: the gap equation changes sign across it
            lo, hi = (float(qp.gap_equation(d * (1 + s), T, h=h, zeta=zeta, b_so=b_so, gamma=gamma))
                      for s in (-1e-6, 1e-6))
            assert lo * hi <= 0, (lo, hi)
        if h == 0 and zeta == 0 and b_so == 0 and gamma == 0 and 0.05 < T < 0.56:
            assert abs(_bcs_gap_equation(d, T)) < 1e-7  # an independent Matsubara sum

    _draws(check, record_property)


V_JUNCTION = np.linspace(-4.0, 4.0, 41)


def test_nis_currents_are_odd_monotonic_and_ohmic_at_large_bias(record_property):
    @given(h=st.floats(0.0, 0.6), gamma=st.sampled_from([1e-4, 1e-2]), zeta=st.sampled_from([0.0, 0.05]),
           T_N=st.floats(0.01, 0.3))
    @example(h=0.0, gamma=1e-4, zeta=0.0, T_N=0.01)  # cold, sharp
    def check(count, h, gamma, zeta, T_N):
        count[0] += 1
        N, S = qp.NormalMetal(temperature=T_N), qp.Superconductor(h=h, gamma=gamma, zeta=zeta, temperature=0.02)
        I = np.asarray(tunnel_current(N, S, jnp.asarray(V_JUNCTION), n_energy=2001).charge)
        assert np.all(np.isfinite(I))
        np.testing.assert_allclose(I, -I[::-1], atol=1e-9)  # particle-hole symmetry: I(-V) = -I(V)
        assert np.all(np.diff(I) > 0), "dI/dV > 0 for N-I-S"
        # far above the gap the junction is ohmic: dI/dV -> 1 (G_T), up to Delta^2/V^2
        g_hi = (I[-1] - I[-2]) / (V_JUNCTION[-1] - V_JUNCTION[-2])
        assert abs(g_hi - 1.0) < 0.1
        # swapping the electrodes reverses the current
        I_swap = np.asarray(tunnel_current(S, N, jnp.asarray(-V_JUNCTION), n_energy=2001).charge)
        np.testing.assert_allclose(I_swap, -I, atol=1e-9)

    _draws(check, record_property)


def _kinetic_wire(h, b_so, gamma, q, kappas, P, T):
    sc = qp.Superconductor(delta=1.0, h=h, b_so=b_so, gamma=gamma)
    contacts = (qp.TunnelContact(8.0, kappas[0], qp.NormalMetal(temperature=T), polarization=P[0]),
                qp.TunnelContact(11.0, kappas[1], qp.NormalMetal(temperature=T), polarization=P[1]))
    return qp.Wire(sc, 20.0, contacts, temperature=T, phase_gradient=q, n_x=40)


def test_kinetic_wire_conserves_charge_and_energy_on_every_draw(record_property):
    @given(h=st.floats(0.0, 0.4), b_so=st.sampled_from([0.0, 0.02]), gamma=st.sampled_from([1e-4, 1e-2]),
           q=st.sampled_from([0.0, 0.1]), k1=st.floats(1e-3, 0.5), k2=st.floats(1e-3, 0.5),
           P1=st.floats(-0.9, 0.9), P2=st.floats(-0.9, 0.9), T=st.floats(0.05, 0.3),
           V1=st.floats(-2.5, 2.5), V2=st.floats(-1.0, 1.0))
    @example(h=0.0, b_so=0.0, gamma=1e-4, q=0.0, k1=1e-3, k2=1e-3, P1=0.0, P2=0.0, T=0.05, V1=0.0, V2=0.0)
    def check(count, h, b_so, gamma, q, k1, k2, P1, P2, T, V1, V2):
        count[0] += 1
        w = _kinetic_wire(h, b_so, gamma, q, (k1, k2), (P1, P2), T)
        sol = qp.solve_kinetic(w, jnp.array([V1, V2]), n_energy=601)
        assert bool(np.all(np.asarray(sol.converged)))
        assert np.all(np.isfinite(np.asarray(sol.sectors)))
        injected = float(jnp.sum(sol.currents.charge))
        balance = float(jnp.sum(sol.reservoir_currents()) + sol.converted_current())
        assert abs(injected - balance) < 1e-9 * max(1.0, abs(injected))
        prof = sol.current_profile()
        heat_in = float(jnp.sum(sol.currents.heat))
        assert abs(heat_in - float(prof["energy"][-1] - prof["energy"][0])) < 1e-9 * max(1.0, abs(heat_in))
        if V1 == V2 == 0.0:  # equilibrium: no current anywhere
            assert float(jnp.max(jnp.abs(sol.currents.charge))) < 1e-12

    _draws(check, record_property)


def test_spin_solver_is_invariant_under_rotations_of_the_field(record_property):
    """The general spin solver (seed 003) on a wire with a uniform exchange field along a random unit
    vector u: the DOS resolved along u equals the DOS resolved along z for the same field along z, and
    the spin-averaged DOS does not change (spin-rotation symmetry); both are finite and >= 0."""
    from jaxqp.spectral import spin as S

    n_x, E = 9, jnp.linspace(0.05, 2.0, 12)

    def solve(m, field):
        chain = qp.Chain((qp.Segment(m, 1.5, n_x=n_x, exchange=jnp.broadcast_to(field, (n_x, 3))),),
                         ends=("reservoir", "vacuum"))
        sol = S.solve_spin(chain, E, throw=False)
        return np.asarray(sol.spin_dos()), np.asarray(sol.converged)

    @given(h=st.floats(0.0, 0.6), gamma=st.sampled_from([1e-3, 2e-2]), zeta=st.sampled_from([0.0, 0.05]),
           b_so=st.sampled_from([0.0, 0.04]), b_sf=st.sampled_from([0.0, 0.02]),
           u=st.tuples(*(st.floats(-1.0, 1.0),) * 3).filter(lambda v: 0.1 < np.linalg.norm(v)))
    @example(h=0.3, gamma=2e-2, zeta=0.05, b_so=0.04, b_sf=0.02, u=(1.0, 1.0, 0.0))
    def check(count, h, gamma, zeta, b_so, b_sf, u):
        count[0] += 1
        u = np.asarray(u) / np.linalg.norm(u)
        m = qp.Superconductor(delta=1.0, gamma=gamma, zeta=zeta, b_so=b_so, b_sf=b_sf)
        nd, ok = solve(m, jnp.asarray(h * u))
        ref, ok_ref = solve(m, jnp.asarray([0.0, 0.0, h]))
        assert ok.all() and ok_ref.all() and np.all(np.isfinite(nd))
        n0 = 0.5 * (nd[0, 0] + nd[0, 1])  # spin-averaged DOS
        along = np.tensordot(u, nd[:, 0] - n0, axes=1)  # the spin part along u
        np.testing.assert_allclose(n0 + along, ref[2, 0], atol=1e-9)
        np.testing.assert_allclose(n0 - along, ref[2, 1], atol=1e-9)
        np.testing.assert_allclose(n0, 0.5 * (ref[2, 0] + ref[2, 1]), atol=1e-9)
        assert nd.min() > -1e-9 or h == 0.0

    _draws(check, record_property)


def test_proximity_chain_conserves_the_spectral_current_and_is_even_in_the_phase(record_property):
    """S/N/S chains with random tunnel or transparent interfaces, phase, pair breaking and Dynes
    broadening (the 1-D retarded solver): every energy converges; the DOS is finite and >= 0; the
    spectral current is the same on every link of the normal segment (the equation it solves is a
    conservation law there); reversing the phase leaves the DOS and reverses the current; at zero phase
    no current flows."""
    E = jnp.concatenate([jnp.linspace(-1.6, -0.05, 6), jnp.linspace(0.05, 1.6, 6)])
    n_n = 9

    def solve(delta, gamma, zeta, G1, G2, phi):
        S = qp.Superconductor(delta=delta, gamma=gamma, zeta=zeta)
        N = qp.Superconductor(delta=0.0, gamma=gamma)
        segs = (qp.Segment(S, 0.5, n_x=4, conductance=1e3, phase=-phi / 2), qp.Segment(N, 2.0, n_x=n_n),
                qp.Segment(S, 0.5, n_x=4, conductance=1e3, phase=phi / 2))
        sol = qp.solve_proximity(qp.Chain(segs, (G1, G2), ends=("reservoir", "reservoir")), E, throw=False)
        return (np.asarray(sol.dos), np.asarray(sol.spectral_current()), np.asarray(sol.converged),
                np.asarray(sol.x))

    @given(delta=st.floats(0.3, 1.0), gamma=st.sampled_from([1e-4, 1e-2, 0.1]), zeta=st.sampled_from([0.0, 0.05]),
           G1=st.one_of(st.none(), st.floats(0.05, 50.0)), G2=st.one_of(st.none(), st.floats(0.05, 50.0)),
           phi=st.floats(0.0, 2 * np.pi))
    @example(delta=1.0, gamma=1e-4, zeta=0.0, G1=None, G2=None, phi=np.pi)  # transparent, minigap closed
    @example(delta=0.3, gamma=0.1, zeta=0.05, G1=0.05, G2=50.0, phi=1.0)  # very asymmetric barriers
    def check(count, delta, gamma, zeta, G1, G2, phi):
        count[0] += 1
        dos, j, ok, x = solve(delta, gamma, zeta, G1, G2, phi)
        dos_r, j_r, ok_r, _ = solve(delta, gamma, zeta, G1, G2, -phi)
        assert ok.all() and ok_r.all()
        assert np.all(np.isfinite(dos)) and np.all(np.isfinite(j))
        assert dos.min() > -1e-10
        mid = 0.5 * (x[1:] + x[:-1])
        jn = j[:, (mid > 0.5) & (mid < 2.5)]  # the links of the normal segment
        # the Newton tolerance acts on the Riccati amplitudes: the current's floor grows with |g|^2
        floor = 1e-9 * (1.0 + np.max(np.abs(dos))) ** 2
        assert np.max(np.abs(jn - jn[:, :1])) < 1e-8 * np.max(np.abs(jn)) + floor
        np.testing.assert_allclose(dos_r, dos, atol=1e-9)
        np.testing.assert_allclose(j_r.real, -j.real, atol=floor + 1e-9 * np.max(np.abs(j)))
        if phi == 0.0:
            assert np.max(np.abs(j.real)) < floor

    _draws(check, record_property)


def test_inelastic_solver_converges_to_its_residual_and_conserves_charge_and_energy(record_property):
    """The energy-coupled kinetic solver with electron-electron scattering and relaxation to the local
    equilibrium, random rates, temperatures, barriers, gaps and biases: a converged solution has the
    residual of the public discrete system (recomputed here) at round-off; nothing is NaN; in a normal
    wire the injected charge and energy reach the reservoir (both processes conserve them); without
    bias the wire stays in equilibrium."""
    from jaxqp.kinetic import inelastic as inel

    grid = inel.uniform_grid(2.5, 0.1)

    def wire(delta, kappa, T, V):
        c = qp.TunnelContact(position=1.0, kappa=kappa, electrode=qp.NormalMetal(bias=V, temperature=T))
        return qp.Wire(qp.Superconductor(delta=delta, gamma=0.05), 3.0, (c,), temperature=T,
                       ends=("vacuum", "reservoir"), n_x=7, growth=0.0)

    @given(delta=st.one_of(st.just(0.0), st.floats(0.3, 1.0)), kappa=st.floats(0.01, 2.0), T=st.floats(0.05, 0.3),
           V=st.floats(-1.5, 1.5), r_ee=st.floats(1e-3, 1.0), r_rt=st.floats(1e-3, 1.0))
    @example(delta=0.0, kappa=2.0, T=0.05, V=1.5, r_ee=1.0, r_rt=1.0)
    @example(delta=1.0, kappa=0.01, T=0.3, V=0.0, r_ee=1e-3, r_rt=1e-3)
    def check(count, delta, kappa, T, V, r_ee, r_rt):
        count[0] += 1
        w = wire(delta, kappa, T, V)
        procs = (qp.ElectronElectron(kappa=r_ee, power=1.5), qp.RelaxationTime(r_rt, conserve="all"))
        sol = inel.solve_inelastic(w, procs, grid=grid, subdivision=2, throw=False)
        h = sol.kinetic.sectors
        assert np.all(np.isfinite(np.asarray(h)))
        assert bool(sol.converged), "these parameters are well inside the solver's range"
        system = inel.kinetic_system(w, procs, grid=grid, subdivision=2)
        F = np.asarray(system.residual(h, jnp.array([V])))
        drive = np.max(np.abs(np.asarray(system.residual(system.equilibrium(), jnp.array([V])))))
        assert np.max(np.abs(F)) < 1e-8 * max(drive, 1e-12) + 1e-13
        if V == 0.0:
            assert np.max(np.abs(np.asarray(h - system.equilibrium()))) < 1e-10
        if delta == 0.0:
            k = sol.kinetic
            injected = float(k.currents.charge[0])
            assert abs(injected - float(jnp.sum(k.reservoir_currents()))) < 1e-8 * abs(injected) + 1e-12
            heat = float(k.currents.heat[0])
            assert abs(heat - float(k.current_profile()["energy"][-1])) < 1e-8 * abs(heat) + 1e-12

    _draws(check, record_property)
