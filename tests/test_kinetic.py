"""Kinetic engine: coefficients, wire solver, conservation laws, analytic limits, seed 001 Eq. (21)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw
from jaxqp.distributions import fermi, modes
from jaxqp.internal.blocktri import dense_matrix
from jaxqp.kinetic import coefficients as kc
from jaxqp.kinetic import wire as kw
from jaxqp.spectral.bulk import green_functions

NE = 801  # one energy-grid size for most tests (compiled once)
NX = 120
T = 0.05


def _wire(material, *, kappas=(0.5, 0.3), xs=(10.0, 14.0), L=30.0, q=0.0, P=(0.0, 0.0), ends=("reservoir",) * 2):
    contacts = tuple(kw.TunnelContact(x, k, qp.NormalMetal(temperature=T), polarization=p)
                     for x, k, p in zip(xs, kappas, P, strict=False))
    return qp.Wire(material, L, contacts, temperature=T, phase_gradient=q, n_x=NX, ends=ends)


SC = qp.Superconductor(delta=1.0, gamma=1e-2, h=0.2, b_so=0.02, b_sf=0.005, zeta=0.01)


# ----------------------------------------------------------------- coefficients
def test_sector_self_energies_reproduce_the_retarded_equation():
    """[Lambda^R, g^R] = 0 with the self-energies used for the Keldysh part (independent of bulk.py's form)."""
    E = jnp.array([-1.7, -0.4, 0.3, 0.95, 1.2, 2.5])
    h, gam, z, bso, bsf = 0.2, 1e-2, 0.05, 0.03, 0.02
    _, g, f, ok = green_functions(E + 1j * gam, h, 1.0, z, bso, bsf)
    assert bool(jnp.all(ok))
    gR = kc._nambu(g.T, f.T)  # (E, sector, 1, 2, 2)
    # spin-up electrons (sector 0) at E + h, spin-down electrons (sector 1) at E - h
    eps = (E[:, None] + jnp.array([1.0, -1.0]) * h + 1j * gam)[..., None, None, None]
    lam = -1j * eps * kc._T3 + kc._pair_and_self_energy(gR, 1.0, z, bso, bsf)
    comm = kc._mm(lam, gR) - kc._mm(gR, lam)
    assert float(jnp.max(jnp.abs(comm))) < 1e-9
    # a sector's own self-energy alone (no spin relaxation from the other one) does not solve it
    lam = -1j * eps * kc._T3 + kc._pair_and_self_energy(gR, 1.0, z + 2 * bso, 0.0, 0.0)
    assert float(jnp.max(jnp.abs(kc._mm(lam, gR) - kc._mm(gR, lam)))) > 1e-3


def test_coefficients_match_closed_forms():
    E = jnp.array([0.5, 1.05, 1.3, 2.0, -1.4])
    q = 0.3
    _, g, f, _ = green_functions(E + 1j * 1e-2, 0.0, 1.0, 0.5 * q**2)
    D, J, R = kc.sector_coefficients(g, f, 1.0, phase_gradient=q)
    g0, f0 = g[0], f[0]
    np.testing.assert_allclose(D[:, 0, 0], jnp.real(g0) ** 2 - jnp.real(f0) ** 2, rtol=1e-12)  # D_L
    np.testing.assert_allclose(D[:, 1, 1], jnp.real(g0) ** 2 + jnp.imag(f0) ** 2, rtol=1e-12)  # D_T
    np.testing.assert_allclose(R[:, 1, 1], -2.0 * jnp.imag(f0), rtol=1e-12)  # R_T (seed 001 App. B)
    np.testing.assert_allclose(R[:, 0, 0], 0.0, atol=1e-13)  # energy is conserved
    # supercurrent coupling j_E d_x phi with j_E = Im(F^2), F = i f (seed 001 Eqs. 9-10)
    np.testing.assert_allclose(J[:, 1, 0], q * jnp.imag((1j * f0) ** 2), rtol=1e-12)
    np.testing.assert_allclose(J[:, 0, 1], J[:, 1, 0], rtol=1e-12)
    # normal state: unit diffusion, spin relaxation 2 b (f_{L,s} - f_{L,-s})
    D, J, R = kc.sector_coefficients(jnp.ones(2), jnp.zeros(2), 0.0, b_so=0.1, b_sf=0.05)
    np.testing.assert_allclose(D, np.eye(4), atol=1e-14)
    np.testing.assert_allclose(R, 0.3 * np.array([[1, 0, -1, 0], [0, 1, 0, -1], [-1, 0, 1, 0], [0, -1, 0, 1]]),
                               atol=1e-14)


def test_energy_rows_conserve_energy_across_sectors():
    E = jnp.linspace(-2.5, 2.5, 9)
    _, g, f, _ = green_functions(E + 1e-2j, 0.2, 1.0, 0.01, 0.02, 0.005)
    _, _, R = kc.sector_coefficients(g, f, 1.0, zeta=0.01, b_so=0.02, b_sf=0.005)
    np.testing.assert_allclose(R[:, 0, :] + R[:, 2, :], 0.0, atol=1e-12)


def test_mode_conventions_and_seed000_eq2():
    E = jnp.linspace(-2, 2, 41)
    fu, fd = fermi(E - 0.1, 0.3), fermi(E + 0.05, 0.1)
    fum, fdm = fermi(-E - 0.1, 0.3), fermi(-E + 0.05, 0.1)
    fL, fT, fL3, fT3 = modes(fu, fd, fum, fdm)
    h = kc.sectors_from_occupations(fu, fd, fum, fdm)
    m = kc.to_modes(h)
    for a, b in zip((fL, fT, fT3, fL3), (m[:, 0], m[:, 1], m[:, 2], m[:, 3]), strict=False):
        np.testing.assert_allclose(a, b, atol=1e-14)
    np.testing.assert_allclose(kc.occupations_from_sectors(h), jnp.stack([fu, fd]), atol=1e-14)
    Nu, Nd = 1.0 + 0.3 * jnp.tanh(E), 1.0 - 0.2 * E**2 / 4
    rp, rm = 0.5 * (Nu + Nd), 0.5 * (Nu - Nd)
    np.testing.assert_allclose(Nu * fu + Nd * fd, rp * (1 - fL - fT) - rm * (fT3 + fL3), atol=1e-14)


# ----------------------------------------------------------------- solver
@pytest.fixture(scope="module")
def sc_solution():
    w = _wire(SC, q=0.15, P=(0.3, 0.0))
    return w, qp.solve_kinetic(w, jnp.array([1.4, 0.2]), n_energy=NE)


def test_equilibrium_when_all_biases_vanish():
    w = _wire(SC, q=0.15, P=(0.3, 0.0))
    sol = qp.solve_kinetic(w, jnp.zeros(2), n_energy=NE)
    heq = kw.equilibrium_sectors(sol.energy.points, T)[:, None, :]
    assert float(jnp.max(jnp.abs(sol.sectors - heq))) < 1e-10
    assert float(jnp.max(jnp.abs(sol.currents.charge))) < 1e-12
    assert float(jnp.max(jnp.abs(sol.charge_imbalance()))) < 1e-12
    # the same device as a one-segment chain (the shared 1-D description): the same solution
    same = qp.solve_kinetic(w.as_chain(), jnp.zeros(2), n_energy=NE)
    np.testing.assert_array_equal(np.asarray(same.sectors), np.asarray(sol.sectors))


def test_block_thomas_equals_dense_solve():
    w = _wire(SC, q=0.15)
    E = jnp.array([-1.3, 0.4, 1.02, 2.2])
    co, _ = kw.wire_coefficients(w, E)
    A, B, C, _ = kw.assemble(co, w.x, w.ends)
    d = jnp.asarray(np.random.default_rng(1).normal(size=B.shape[:-1] + (3,)))
    h = kw.block_thomas(A, B, C, d)
    M = dense_matrix(A, B, C)
    ref = jnp.linalg.solve(M, d.reshape(d.shape[0], -1, 3)).reshape(h.shape)
    assert float(jnp.max(jnp.abs(h - ref)) / jnp.max(jnp.abs(ref))) < 1e-10


def test_charge_and_energy_conservation(sc_solution):
    _, sol = sc_solution
    injected = float(jnp.sum(sol.currents.charge))
    balance = float(jnp.sum(sol.reservoir_currents()) + sol.converted_current())
    assert abs(injected) > 1e-3
    assert abs(injected - balance) < 1e-9 * max(1.0, abs(injected))
    assert abs(float(sol.converted_current())) > 1e-3  # the superconductor does convert
    prof = sol.current_profile()
    heat_in = float(jnp.sum(sol.currents.heat))
    heat_out = float(-prof["energy"][0] + prof["energy"][-1])
    assert abs(heat_in - heat_out) < 1e-9


def test_normal_state_matches_resistor_network():
    """Delta = 0: non-local voltage and currents of a diffusive wire with two tunnel contacts (Kirchhoff)."""
    L, (x1, x2), (k1, k2) = 30.0, (10.0, 14.0), (0.5, 0.3)
    w = _wire(qp.Superconductor(delta=0.0), kappas=(k1, k2), xs=(x1, x2), L=L)
    V = np.array([0.7, -0.2])
    cur = qp.contact_currents(w, jnp.asarray(V), n_energy=NE)
    # node potentials mu1, mu2: conductances 1/x1, 1/(x2-x1), 1/(L-x2) along the wire, k1, k2 to the electrodes
    G = np.array([[1 / x1 + 1 / (x2 - x1) + k1, -1 / (x2 - x1)], [-1 / (x2 - x1), 1 / (x2 - x1) + 1 / (L - x2) + k2]])
    mu = np.linalg.solve(G, np.array([k1 * V[0], k2 * V[1]]))
    I_ref = np.array([k1 * (V[0] - mu[0]), k2 * (V[1] - mu[1])])
    # the merged (refined + uniform) default energy grid integrates Fermi edges to second order
    np.testing.assert_allclose(np.asarray(cur.charge), I_ref, rtol=1e-4)
    sol = qp.solve_kinetic(w, jnp.asarray(V), n_energy=NE)
    i1, i2 = w.contact_nodes
    np.testing.assert_allclose(np.asarray(sol.charge_imbalance())[[i1, i2]], mu, rtol=1e-4)


def test_biased_and_heated_reservoir_ends():
    """Reservoir ends at their own potential and temperature (jaxqp.Reservoir), normal wire: Kirchhoff with
    the reservoirs as voltage sources, the current into each reservoir, d I / d V_reservoir by autodiff
    against central differences; a heated end without bias gives the Wiedemann-Franz profile
    T_e^2(x) = T_L^2 (1 - x/L) + T_R^2 x/L of the local equilibrium (no inelastic scattering), no current."""
    L, (x1, x2), (k1, k2), VL = 30.0, (10.0, 14.0), (0.5, 0.3), 0.3
    normal = qp.Superconductor(delta=0.0)

    def wire(vl):
        return _wire(normal, kappas=(k1, k2), xs=(x1, x2), L=L, ends=(qp.Reservoir(bias=vl), "reservoir"))

    w = wire(VL)
    assert w.ends == ("reservoir", "reservoir") and isinstance(w.boundaries[0], qp.Reservoir)
    V = np.array([0.7, -0.2])
    sol = qp.solve_kinetic(w, jnp.asarray(V), n_energy=NE)
    G = np.array([[1 / x1 + 1 / (x2 - x1) + k1, -1 / (x2 - x1)], [-1 / (x2 - x1), 1 / (x2 - x1) + 1 / (L - x2) + k2]])
    mu = np.linalg.solve(G, np.array([k1 * V[0] + VL / x1, k2 * V[1]]))
    np.testing.assert_allclose(np.asarray(sol.currents.charge), [k1 * (V[0] - mu[0]), k2 * (V[1] - mu[1])], rtol=1e-4)
    np.testing.assert_allclose(np.asarray(sol.reservoir_currents()), [(mu[0] - VL) / x1, mu[1] / (L - x2)],
                               rtol=1e-4, atol=1e-7)
    f = lambda vl: qp.contact_currents(wire(vl), jnp.asarray(V), n_energy=NE).charge[0]  # noqa: E731
    d = float(jax.grad(f)(VL))
    fd = (float(f(VL + 1e-4)) - float(f(VL - 1e-4))) / 2e-4
    assert abs(d - fd) < 1e-7 * abs(d) + 1e-10 and d < 0
    TL, TR = 0.3, 0.05
    hot = qp.Wire(normal, L, (), temperature=TR, n_x=NX, growth=0.0, ends=(qp.Reservoir(temperature=TL), "reservoir"))
    s = qp.solve_kinetic(hot, n_energy=NE)
    mu_loc, _, T_loc, ok = s.local_equilibrium()
    x = np.asarray(hot.x)
    assert bool(np.all(ok)) and np.max(np.abs(np.asarray(mu_loc))) < 1e-10
    np.testing.assert_allclose(np.asarray(T_loc) ** 2, TL**2 * (1 - x / L) + TR**2 * x / L, rtol=2e-3)
    assert np.max(np.abs(np.asarray(s.reservoir_currents()))) < 1e-10


def test_normal_state_spin_relaxation_length():
    """A polarised injector in a normal wire: mu_s decays as exp(-x/lambda_s), lambda_s = 1/(2 sqrt(b_so + b_sf))."""
    b = 0.01
    w = _wire(qp.Superconductor(delta=0.0, b_so=0.6 * b, b_sf=0.4 * b), xs=(40.0, 70.0), L=120.0, P=(0.5, 0.0),
              kappas=(0.5, 1e-8))
    sol = qp.solve_kinetic(w, jnp.array([0.4, 0.0]), n_energy=NE)
    x = np.asarray(sol.x)
    mus = np.asarray(sol.spin_accumulation())
    sel = (x > 45) & (x < 65)
    slope = np.polyfit(x[sel], np.log(mus[sel]), 1)[0]
    lam = 1 / (2 * np.sqrt(b))
    assert abs(-1 / slope / lam - 1) < 0.02  # finite-length corrections are ~exp(-2 * 50 / lam)


def test_nonlocal_conductance_autodiff_matches_finite_differences():
    w = _wire(SC)
    grid = kw.default_energy_grid(w, 2.0, NE)
    Vi = jnp.array([0.8, 1.3])
    m = qp.nonlocal_conductance(w, Vi, jnp.array([0.1]), grid=grid)
    eps = 1e-5
    cp = qp.contact_currents(w, jnp.stack([jnp.stack([v + eps, 0.1]) for v in Vi]), grid=grid)
    cm = qp.contact_currents(w, jnp.stack([jnp.stack([v - eps, 0.1]) for v in Vi]), grid=grid)
    fd = -(cp.charge[:, 1] - cm.charge[:, 1]) / (2 * eps)
    np.testing.assert_allclose(np.asarray(m.g_nl[:, 0]), np.asarray(fd), rtol=1e-6)
    fdl = (cp.charge[:, 0] - cm.charge[:, 0]) / (2 * eps)
    np.testing.assert_allclose(np.asarray(m.G_inj[:, 0]), np.asarray(fdl), rtol=1e-6)


@pytest.mark.optimised
def test_seed001_eq21_charge_imbalance_nonlocal_conductance():
    """Numerical engine vs the analytic solution of seed 001 App. B (long uniform wire, tiny detector)."""
    L, kap, kd, Tn = 400.0, 0.05, 1e-6, 0.03
    V = jnp.array([1.1, 1.5, 2.5])
    for gamma in (5e-3, 2e-2):
        for d in (2.0, 6.0):
            mat = qp.Superconductor(delta=1.0, gamma=gamma)
            contacts = (kw.TunnelContact(L / 2, kap, qp.NormalMetal(temperature=Tn)),
                        kw.TunnelContact(L / 2 + d, kd, qp.NormalMetal(temperature=Tn)))
            w = qp.Wire(mat, L, contacts, temperature=Tn, n_x=300)
            m = qp.nonlocal_conductance(w, V, 0.0, n_energy=3001)
            num = np.asarray(m.g_nl[:, 0]) / kd
            eq21 = np.asarray(nw.charge_imbalance_gnl(V, d, kap, Tn, gamma=gamma, n_energy=20001))
            np.testing.assert_allclose(num, eq21, rtol=2e-3)
            assert np.all(num > 0)  # charge imbalance gives a positive g_nl (seed 001 convention)


def test_nonlocal_symmetries_with_supercurrent():
    """Elastic, fixed Delta: g_nl(V, q) = g_nl(-V, -q); no V_det dependence; g_sa = g_as = 0."""
    Vi = jnp.linspace(-1.6, 1.6, 5)
    qs = jnp.array([-0.3, 0.0, 0.3])
    base = _wire(qp.Superconductor(delta=1.0, gamma=1e-2))
    g, Is = nw.supercurrent_map(base, Vi, qs, jnp.array([0.0, 0.4]), n_energy=NE)
    assert float(Is[2]) > 0 and abs(float(Is[0] + Is[2])) < 1e-12 and abs(float(Is[1])) < 1e-14
    np.testing.assert_allclose(np.asarray(g), np.asarray(g[::-1, ::-1]), atol=1e-12 * float(jnp.max(jnp.abs(g))))
    dec = qp.symmetry_decomposition(g, Vi, qs)
    scale = float(jnp.max(jnp.abs(g)))
    assert float(jnp.max(jnp.abs(dec["g_sa"]))) < 1e-10 * scale
    assert float(jnp.max(jnp.abs(dec["g_as"]))) < 1e-10 * scale
    assert float(jnp.max(jnp.abs(dec["g_aa"]))) > 1e-3 * scale  # the coupling term mixes the modes
    # depairing by the supercurrent lowers the charge-imbalance signal (seed 001 Fig. 10)
    assert float(dec["g_ss"][3, 2]) < float(dec["g_ss"][3, 1])
    m = qp.nonlocal_conductance(base, Vi, jnp.array([-0.5, 0.5]), n_energy=NE)
    np.testing.assert_allclose(np.asarray(m.g_nl[:, 0]), np.asarray(m.g_nl[:, 1]), rtol=1e-10)


def test_supercurrent_matches_bcs_stiffness():
    """Small q, Gamma -> 0: I_s = (pi/2) Delta tanh(Delta/2T) q (units Delta0/(e R_xi))."""
    Tw = 0.2
    w = qp.Wire(qp.Superconductor(delta=1.0, gamma=1e-4), 10.0, (), temperature=Tw, phase_gradient=1e-3, n_x=20)
    grid = qp.grids.adaptive(jnp.array([-1.0, 1.0]), jnp.array([1e-4, 1e-4]), -30.0, 30.0, 8001)
    Is = float(qp.supercurrent(w, grid=grid))
    assert abs(Is / (0.5 * np.pi * np.tanh(0.5 / Tw) * 1e-3) - 1) < 2e-3
    # the same wire as a one-segment chain (the one 1-D description) gives the same current
    assert float(qp.supercurrent(w.as_chain(), grid=grid)) == Is


@pytest.mark.optimised  # 4.7 s with XLA's optimisation, 6.4 s without (alone)
def test_bias_for_current_roundtrip():
    w = _wire(qp.Superconductor(delta=1.0, gamma=1e-2))
    grid = kw.default_energy_grid(w, 3.0, NE)
    I_target = jnp.array([0.05, 0.2])
    V = qp.bias_for_current(w, 0, I_target, v_max=3.0, n_table=101, grid=grid)
    I, _ = qp.local_conductance(w, 0, V, grid=grid)
    np.testing.assert_allclose(np.asarray(I), np.asarray(I_target), rtol=1e-8)
    np.testing.assert_array_equal(np.asarray(qp.bias_for_current(w.as_chain(), 0, I_target, v_max=3.0, n_table=101,
                                                                 grid=grid)), np.asarray(V))
    with pytest.raises(ValueError, match="raise v_max"):
        qp.bias_for_current(w, 0, 100.0, v_max=3.0, n_table=101, grid=grid)


def test_bad_input_is_rejected():
    mat = qp.Superconductor()
    with pytest.raises(ValueError, match="outside the wire"):
        qp.Wire(mat, 10.0, (kw.TunnelContact(12.0, 0.1),))
    with pytest.raises(ValueError, match="sits on a reservoir"):
        qp.Wire(mat, 10.0, (kw.TunnelContact(0.0, 0.1),))
    with pytest.raises(ValueError, match="ends must be"):
        qp.Wire(mat, 10.0, (kw.TunnelContact(5.0, 0.1),), ends=("reservoir", "open"))
    with pytest.raises(ValueError, match="kappa"):
        kw.TunnelContact(5.0, -0.1)
    with pytest.raises(ValueError, match="polarisation"):
        kw.TunnelContact(5.0, 0.1, polarization=1.5)
    w = qp.Wire(mat, 10.0, (kw.TunnelContact(5.0, 0.1),))
    with pytest.raises(ValueError, match="one per contact"):
        qp.contact_currents(w, jnp.zeros((3, 2)))
    with pytest.raises(ValueError, match="no drive: add TunnelContact"):
        qp.solve_kinetic(qp.Wire(mat, 10.0, ()))
    closed = qp.Wire(mat, 10.0, (kw.TunnelContact(5.0, 0.0),), ends=("vacuum", "vacuum"))
    for solve in (qp.solve_kinetic, lambda w: qp.solve_inelastic(w, (qp.ElectronPhonon(0.05),))):
        with pytest.raises(ValueError, match="the wire is closed: every contact has kappa = 0"):
            solve(closed)
    with pytest.raises(ValueError, match="symmetric about zero"):
        qp.symmetry_decomposition(jnp.zeros(3), jnp.array([0.0, 1.0, 2.0]))
    c = (kw.TunnelContact(5.0, 0.1),)
    with pytest.raises(ValueError, match="one segment"):
        qp.solve_kinetic(qp.Chain((qp.Segment(mat, 5.0), qp.Segment(mat, 5.0)), contacts=c))
    with pytest.raises(ValueError, match="conductance=1"):
        qp.solve_kinetic(qp.Chain((qp.Segment(mat, 10.0, conductance=2.0),), contacts=c))
    with pytest.raises(ValueError, match="spin-active"):
        qp.solve_kinetic(qp.Chain((qp.Segment(mat, 10.0),), contacts=c, ends=("reservoir", qp.SpinActive(0.3))))


def test_separable_map_equals_per_bias_solves():
    """Fast path (sum of one function per contact bias) vs the small dense solve at every bias point."""
    from jaxqp.kinetic import solve as ks

    w = _wire(SC, P=(0.3, 0.0))
    grid = kw.default_energy_grid(w, 2.0, NE)
    Vi, Vd = jnp.linspace(-1.6, 1.6, 5), jnp.array([-0.4, 0.1, 0.5])
    m = qp.nonlocal_conductance(w, Vi, Vd, grid=grid)
    VV = jnp.stack(jnp.broadcast_arrays(Vi[:, None], Vd[None, :]), -1).reshape(-1, 2)
    out = ks.responses_jit(w, grid, VV, 256, None, 0)
    scale = float(jnp.max(jnp.abs(m.g_nl)))
    np.testing.assert_allclose(np.asarray(m.g_nl), -np.asarray(out["dcharge"][:, 1]).reshape(5, 3), atol=1e-12 * scale)
    np.testing.assert_allclose(np.asarray(m.I_inj), np.asarray(out["charge"][:, 0]).reshape(5, 3), atol=1e-14)
    np.testing.assert_allclose(np.asarray(m.spin_det), -np.asarray(out["spin"][:, 1]).reshape(5, 3), atol=1e-14)
