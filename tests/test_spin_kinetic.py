"""Kinetic equations with general spin structure (`jaxqp.kinetic.spin`): the collinear engine, the
prescribed-distribution solver, conservation laws, spin-rotation covariance and derivatives.

The non-collinear checks share one wire structure (a spin-active barrier to a normal electrode on
the left, a reservoir on the right, 9 nodes, an exchange profile as an array) and one energy grid,
so that they share one compiled program.
"""

import jax
import numpy as np
import pytest

import jaxqp as qp
from jaxqp import grids
from jaxqp.kinetic import spin as K
from jaxqp.spectral import spin as S

GRID = grids.uniform(-3.0, 3.0, 201)
N_X, LENGTH = 9, 2.0
TIGHT = S.default_options()._replace(rtol=1e-12, res_tol=1e-12)


def _rotation(v):
    """Rotation matrix exp(v . L) (Rodrigues)."""
    v = np.asarray(v, float)
    t = np.linalg.norm(v)
    k = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]]) / t
    return np.eye(3) + np.sin(t) * k + (1 - np.cos(t)) * k @ k


def _device(material, exchange, magnetization, *, spin_mixing=0.8, conductance=0.5, polarization=0.3):
    """The shared structure: electrode behind a spin-active barrier (left), reservoir (right)."""
    barrier = qp.SpinActive(spin_mixing, magnetization, conductance=conductance, polarization=polarization,
                            electrode=qp.NormalMetal())
    return qp.SpinWire(material, LENGTH, N_X, ends=(barrier, "reservoir"),
                       exchange=np.broadcast_to(np.asarray(exchange, float), (N_X, 3)))


def test_collinear_reduction_to_the_four_mode_engine():
    """Exchange field along z with spin-orbit and spin-flip scattering, orbital depairing and reservoirs
    at different potentials and temperatures: the eight-mode solver reproduces solve_kinetic's four
    modes (the others stay zero) and its charge current on every link."""
    m = qp.Superconductor(delta=1.0, h=0.3, gamma=2e-3, zeta=0.01, b_so=0.02, b_sf=0.03)
    (b0, T0), (b1, T1) = (0.8, 0.1), (-0.2, 0.05)
    collinear = qp.Wire(m, 4.0, ends=(qp.Reservoir(bias=b0, temperature=T0), qp.Reservoir(bias=b1, temperature=T1)),
                        temperature=0.05, n_x=N_X, growth=0.0)
    ref = qp.solve_kinetic(collinear, grid=GRID)
    wire = qp.SpinWire(m, 4.0, N_X, ends=("reservoir", "reservoir"), phase=np.zeros(N_X))
    # a Reservoir's bias is the electrons' potential, SpinDistribution's voltage the electric one
    out = K.solve_spin_kinetic(wire, GRID, (qp.SpinDistribution(T0, voltage=-b0), qp.SpinDistribution(T1, voltage=-b1)),
                               options=TIGHT)
    h = np.asarray(out.modes)
    np.testing.assert_allclose(h[..., list(K.COLLINEAR_MODES)], ref.modes, atol=1e-10)
    assert np.max(np.abs(h[..., [2, 3, 5, 6]])) == 0.0
    prof = ref.current_profile()
    np.testing.assert_allclose(out.charge_current, prof["quasiparticle"] + prof["super"], atol=1e-10)
    assert np.ptp(np.asarray(out.charge_current)) > 0.5  # conversion to supercurrent: a real test of R


def test_prescribed_limit_collinear_spin_voltage_with_supercurrent():
    """Field and spin voltage along z, a phase gradient, equal reservoirs, no relaxation: the uniform
    prescribed distribution solves the kinetic equations, and the currents and accumulations equal
    those of the prescribed-distribution observables (half their full-grid integrals)."""
    m = qp.Superconductor(delta=1.0, h=0.2, gamma=5e-3)
    wire = qp.SpinWire(m, 4.0, N_X, ends=("reservoir", "reservoir"), phase=0.3 * np.linspace(0.0, 4.0, N_X))
    d = qp.SpinDistribution(0.1, spin_voltage=0.5, axis=(0, 0, 1))
    sol = qp.solve_spin(wire, GRID.points, options=TIGHT)
    out = K.solve_spin_kinetic(wire, GRID, (d, d), spectra=sol)
    h0 = K.modes_of(K.distribution_matrix(d, GRID.points))
    np.testing.assert_allclose(out.modes, np.broadcast_to(np.asarray(h0)[:, None], out.modes.shape), atol=1e-10)
    ob = S.observables(sol, d, GRID.weights)
    assert abs(float(out.charge_current[0])) > 0.1  # a supercurrent flows
    np.testing.assert_allclose(out.charge_current, 0.5 * ob.current[:, 0], atol=1e-8)
    np.testing.assert_allclose(out.spin_current, 0.5 * ob.current[:, 1:], atol=1e-8)
    np.testing.assert_allclose(out.spin_accumulation, 0.5 * ob.spin_accumulation, atol=1e-8)


def test_prescribed_limit_equilibrium_spin_supercurrent():
    """Non-collinear: exchange along z, spin mixing along x, no tunnelling, equilibrium everywhere. The
    equilibrium distribution solves the kinetic equations, and the spin supercurrent equals that of the
    prescribed-distribution observables."""
    m = qp.Superconductor(delta=1.0, gamma=5e-3)
    wire = _device(m, (0.0, 0.0, 0.2), (1.0, 0.0, 0.0), conductance=0.0, polarization=0.0)
    d = qp.SpinDistribution(0.1)
    sol = qp.solve_spin(wire, GRID.points)
    out = K.solve_spin_kinetic(wire, GRID, (d, d), spectra=sol)
    h0 = K.modes_of(K.distribution_matrix(d, GRID.points))
    np.testing.assert_allclose(out.modes, np.broadcast_to(np.asarray(h0)[:, None], out.modes.shape), atol=1e-10)
    ob = S.observables(sol, d, GRID.weights)
    assert np.max(np.abs(np.asarray(out.spin_current[:, 1]))) > 1e-2  # a spin supercurrent along y flows
    np.testing.assert_allclose(out.spin_current, 0.5 * ob.current[:, 1:], atol=1e-10)


def _normal_device(spin_mixing=0.6):
    m = qp.Superconductor(delta=0.0, gamma=1e-3)
    return _device(m, (0.0, 0.0, 0.25), (0.0, 1.0, 0.0), spin_mixing=spin_mixing, conductance=0.7, polarization=0.0)


def test_normal_state_conservation_ohm_and_torque():
    """Normal wire with an exchange field, spin injected along x through a spin-active barrier:
    charge is conserved link by link, the barrier is an Ohmic resistor in series,
    I = -G_T (V - mu(0)), and the spin current changes only by the exchange torque
    d_x j_s = 2 h x mu_s (computed here from the field and the accumulation)."""
    wire = _normal_device()
    de = qp.SpinDistribution(0.1, spin_voltage=0.4, axis=(1, 0, 0), voltage=0.5)
    out = K.solve_spin_kinetic(wire, GRID, (de, qp.SpinDistribution(0.1)))
    I = np.asarray(out.charge_current)
    assert np.ptp(I) < 1e-13 and abs(I[0]) > 0.05
    GT = 0.7 / LENGTH  # G_T = (G_T / G_N) sigma / L
    np.testing.assert_allclose(I[0], -GT * (0.5 - float(out.charge_potential[0])), rtol=1e-9)
    dx = LENGTH / (N_X - 1)
    js, mu = np.asarray(out.spin_current), np.asarray(out.spin_accumulation)
    torque = 2 * dx * np.cross([0.0, 0.0, 0.25], mu[1:-1])
    assert np.max(np.abs(torque)) > 1e-3
    np.testing.assert_allclose(js[1:] - js[:-1], torque, atol=1e-14)


def test_spin_rotation_covariance():
    """Rotating every spin vector (exchange field, barrier magnetisation, spin-voltage axis) rotates the
    spin currents and accumulations the same way and leaves charge untouched: superconducting wire
    with spin-orbit scattering, polarised tunnelling and non-coplanar vectors."""
    m = qp.Superconductor(delta=1.0, gamma=5e-3, b_so=0.01)

    def run(R):
        wire = _device(m, R @ [0.0, 0.0, 0.3], R @ [0.0, 1.0, 0.0])
        de = qp.SpinDistribution(0.1, spin_voltage=0.4, axis=R @ [1.0, 0.0, 0.0], voltage=0.2)
        return K.solve_spin_kinetic(wire, GRID, (de, qp.SpinDistribution(0.1, voltage=-0.3)))

    R = _rotation([0.3, -0.7, 1.1])
    a, b = run(np.eye(3)), run(R)
    assert np.max(np.abs(np.asarray(a.spin_current))) > 1e-2
    np.testing.assert_allclose(b.spin_current, np.asarray(a.spin_current) @ R.T, atol=1e-12)
    np.testing.assert_allclose(b.spin_accumulation, np.asarray(a.spin_accumulation) @ R.T, atol=1e-12)
    np.testing.assert_allclose(b.charge_current, a.charge_current, atol=1e-12)


def test_conductance_by_autodiff_equals_finite_differences():
    """dI/dV of the barrier current by reverse mode through the solve equals central differences."""
    wire = _normal_device()

    def current(V):
        de = qp.SpinDistribution(0.1, spin_voltage=0.4, axis=(1, 0, 0), voltage=V)
        return K.solve_spin_kinetic(wire, GRID, (de, qp.SpinDistribution(0.1))).charge_current[0]

    g = jax.grad(current)(0.5)
    eps = 1e-4
    fd = (current(0.5 + eps) - current(0.5 - eps)) / (2 * eps)
    np.testing.assert_allclose(g, fd, rtol=1e-6)


def test_bad_drives_are_explained():
    m = qp.Superconductor(delta=1.0, gamma=5e-3)
    closed = qp.SpinWire(m, LENGTH, N_X, ends=("vacuum", qp.SpinActive(0.5, (1, 0, 0))))
    with pytest.raises(ValueError, match="no reservoir and no electrode"):
        K.solve_spin_kinetic(closed, GRID, (None, None))
    wire = _device(m, (0.0, 0.0, 0.2), (1.0, 0.0, 0.0))
    with pytest.raises(ValueError, match="the left end is a reservoir or an electrode"):
        K.solve_spin_kinetic(wire, GRID, (None, qp.SpinDistribution(0.1)))
    with pytest.raises(ValueError, match="must be None"):
        K.solve_spin_kinetic(closed, GRID, (qp.SpinDistribution(0.1), None))
    sc = qp.SpinWire(m, LENGTH, N_X, ends=(qp.SpinActive(0.0, (0, 0, 1), conductance=0.3, electrode=m), "reservoir"))
    with pytest.raises(ValueError, match="is a superconductor"):
        K.solve_spin_kinetic(sc, GRID, (qp.SpinDistribution(0.1, spin_voltage=0.5), qp.SpinDistribution(0.1)))
    with pytest.raises(TypeError, match="EnergyGrid"):
        K.solve_spin_kinetic(wire, GRID.points, (qp.SpinDistribution(0.1), qp.SpinDistribution(0.1)))


# ----------------------------------------------------------------- self-consistent Delta(x) out of equilibrium
def _gap_grid(n):
    """Positive energies for the self-consistent gaps, refined at zero and at the gap edges."""
    return grids.adaptive(np.array([0.0, 0.9, 0.3, 0.8]), np.array([0.05, 0.01, 0.05, 0.01]), 0.0, 8.0, n)


_POSITIVE = _gap_grid(120)
_SYMMETRIC = K.symmetric_grid(_POSITIVE)
# the derivative test compares two computations on one grid, which agree at any resolution (1.1e-7
# relative at 120 and at 60 points): half the points keep its three self-consistent solves short
_COARSE = K.symmetric_grid(_gap_grid(60))


def test_symmetric_grid_halves_to_the_positive_integral():
    f = lambda E: np.cosh(E) ** -2 + E ** 2 * np.exp(-np.abs(E))  # noqa: E731
    full = float(np.sum(_SYMMETRIC.weights * f(np.asarray(_SYMMETRIC.points))))
    half = float(np.sum(_POSITIVE.weights * f(np.asarray(_POSITIVE.points))))
    assert abs(0.5 * full - half) < 1e-13 * half
    assert float(_SYMMETRIC.points[0]) == -8.0 and np.all(np.diff(np.asarray(_SYMMETRIC.points)) > 0)


def test_kinetic_self_consistent_gap_equals_the_prescribed_one_where_uniform():
    """Field and spin voltage along z on both reservoirs, no relaxation: the kinetic distributions are
    the prescribed ones at every Delta(x), so both self-consistent gaps agree; the spin voltage
    suppresses Delta (a real test of the non-equilibrium source)."""
    m = qp.Superconductor(delta=1.0, h=0.1, gamma=0.01)
    wire = qp.SpinWire(m, 1.5, 7, ends=("reservoir", "reservoir"))
    d = qp.SpinDistribution(0.2, spin_voltage=0.4, axis=(0, 0, 1))
    ref = S.self_consistent_gap(wire, d, _POSITIVE)
    out = K.self_consistent_gap(wire, _SYMMETRIC, (d, d))
    assert bool(ref.converged) and bool(out.converged)
    np.testing.assert_allclose(out.delta, ref.delta, atol=1e-7)
    eq = S.self_consistent_gap(wire, qp.SpinDistribution(0.2), _POSITIVE)
    assert float(np.min(np.asarray(eq.delta) - np.asarray(out.delta))) > 1e-3


def test_kinetic_self_consistent_gap_derivative_by_implicit_differentiation():
    """Reverse mode through the self-consistent gap of a contact-driven wire (spin injected through a
    spin-active barrier, far end insulating) equals central differences in the injector's spin voltage."""
    m = qp.Superconductor(delta=1.0, gamma=0.01)
    wire = qp.SpinWire(m, 1.5, 7, ends=(qp.SpinActive(0.6, (1, 0, 0), conductance=0.3, electrode=qp.NormalMetal()),
                                        qp.SpinActive(0.6, (0, 1, 0))))

    def mean_gap(Vs):
        d = qp.SpinDistribution(0.05, spin_voltage=Vs, axis=(1, 0, 0))
        out = K.self_consistent_gap(wire, _COARSE, (d, None))
        return out.delta.mean(), out.converged

    g, ok = jax.grad(mean_gap, has_aux=True)(0.4)
    eps = 1e-4
    # the differences evaluate the solve that reverse mode runs forward (the same compiled program)
    (up, _, ok_up), (dn, _, ok_dn) = (jax.vjp(mean_gap, v, has_aux=True) for v in (0.4 + eps, 0.4 - eps))
    assert bool(ok) and bool(ok_up) and bool(ok_dn)
    fd = (up - dn) / (2 * eps)
    assert abs(float(g)) > 1e-3
    np.testing.assert_allclose(g, fd, rtol=1e-5)


def test_superconducting_wire_conserves_spin_and_the_far_barrier_absorbs_none_along_its_magnetization():
    """Spin injected (axis off every magnetisation) from a normal electrode through the left spin-active
    barrier into a superconducting wire without exchange field or spin relaxation, with a magnetic
    insulator at the right end. The singlet pair potential exerts no torque, so the spin current is the
    same on every link; a spin-mixing torque is perpendicular to its magnetisation, so that current has no
    component along m2. No charge flows (one electrode). (The prescribed, uniform distribution of seed 003
    violates both: its spin current along m1 x m2 x h_s needs a distributed spin source.)"""
    m2 = np.array([0.6, 0.8, 0.0])
    wire = qp.SpinWire(qp.Superconductor(delta=1.0, gamma=0.01), 1.5, N_X,
                       ends=(qp.SpinActive(0.6, (1, 0, 0), conductance=1.0, electrode=qp.NormalMetal()),
                             qp.SpinActive(0.6, m2)))
    out = K.solve_spin_kinetic(wire, GRID, (qp.SpinDistribution(0.1, spin_voltage=0.5, axis=(0.3, 0, 1)), None))
    js = np.asarray(out.spin_current)
    assert np.linalg.norm(js[0]) > 1e-2
    assert np.max(np.ptp(js, axis=0)) < 1e-14
    assert abs(js[-1] @ m2) < 1e-14
    assert np.max(np.abs(np.asarray(out.charge_current))) < 1e-14


# ----------------------------------------------------------------- point contacts inside the wire
def _three_terminal(sign=1.0, delta=1.0):
    """Electrode behind the left barrier, an electrode on a contact in the middle, a reservoir on the right;
    non-coplanar exchange field and magnetisations (all reversed with ``sign = -1``)."""
    h, m1, m2 = (sign * np.asarray(v) for v in ([0.1, 0.0, 0.25], [1.0, 0.0, 0.0], [0.0, 0.6, 0.8]))
    return qp.SpinWire(qp.Superconductor(delta=delta, gamma=0.01, b_so=0.01), LENGTH, N_X,
                       exchange=np.broadcast_to(h, (N_X, 3)),
                       ends=(qp.SpinActive(0.5, m1, conductance=0.8, polarization=0.3, electrode=qp.NormalMetal()),
                             "reservoir"),
                       contacts=(qp.SpinContact(1.0, qp.SpinActive(0.4, m2, conductance=0.6, polarization=0.5,
                                                                   electrode=qp.NormalMetal())),))


def test_onsager_reciprocity_of_the_three_terminal_conductance():
    """Linear-response conductances G_ij = dI_i/dV_j between the two electrodes (the reservoir grounded):
    G_ij(m) = G_ji(-m) with every magnetic vector reversed, in the normal and the superconducting state,
    while G itself is not symmetric."""
    def conductance(sign, delta):
        wire = _three_terminal(sign, delta)

        def currents(V):
            d = (qp.SpinDistribution(0.15, voltage=V[0]), qp.SpinDistribution(0.15),
                 qp.SpinDistribution(0.15, voltage=V[1]))
            return K.solve_spin_kinetic(wire, GRID, d).barrier_charge

        return np.asarray(jax.jacfwd(currents)(np.zeros(2)))

    for delta in (0.0, 1.0):
        plus, minus = conductance(1.0, delta), conductance(-1.0, delta)
        assert abs(plus[0, 1] - plus[1, 0]) > 1e-4
        np.testing.assert_allclose(plus, minus.T, atol=1e-13)


def test_point_contact_reduces_to_the_collinear_tunnel_contact():
    """A polarised contact in the middle of a normal wire with spin-flip scattering between two grounded
    reservoirs: f_T is exactly piecewise linear (no charge relaxation in a normal metal), and the modes and
    the contact's charge and spin currents equal solve_kinetic's with kappa = G_T (1 + sqrt(1 - P^2)) / (2 L)
    (the charge conductance of the spin-active barrier is G_T 2 / (1 + sqrt(1 - P^2)); agreement to 1e-6,
    the collinear engine's nodes around a contact being uniform only to 1.5e-6)."""
    m = qp.Superconductor(delta=0.0, gamma=1e-3, b_sf=0.05)
    kappa, P, V, L = 0.3, 0.4, 0.7, 4.0
    collinear = qp.Wire(m, L, contacts=(qp.TunnelContact(2.0, kappa, qp.NormalMetal(), polarization=P),),
                        ends=(qp.Reservoir(), qp.Reservoir()), temperature=0.1, n_x=N_X, growth=0.0)
    ref = qp.solve_kinetic(collinear, [V], grid=GRID)
    GT = kappa * L * (1 + np.sqrt(1 - P ** 2)) / 2
    barrier = qp.SpinActive(0.0, (0, 0, 1), conductance=GT, polarization=P, electrode=qp.NormalMetal())
    wire = qp.SpinWire(m, L, N_X, ends=("reservoir", "reservoir"), contacts=(qp.SpinContact(2.0, barrier),))
    d = qp.SpinDistribution(0.1)
    out = K.solve_spin_kinetic(wire, GRID, (d, d, qp.SpinDistribution(0.1, voltage=-V)))
    fT = np.asarray(out.modes[..., 1])
    np.testing.assert_allclose(fT[:, 1:4], fT[:, 4:5] * np.arange(1, 4) / 4, atol=1e-12)
    np.testing.assert_allclose(out.modes[..., list(K.COLLINEAR_MODES)], ref.modes, atol=1e-6)
    np.testing.assert_allclose(out.barrier_charge, ref.currents.charge, rtol=1e-6)
    np.testing.assert_allclose(out.barrier_spin[:, 2], ref.currents.spin, rtol=1e-6)
    with pytest.raises(ValueError, match="distinct interior"):
        qp.SpinWire(m, L, N_X, contacts=(qp.SpinContact(0.1, qp.SpinActive(0.5, (1, 0, 0))),))


def test_pure_su2_gauge_field_only_rotates_the_kinetic_spin_frame():
    """A uniform spin-orbit field along the wire alone (A = alpha sigma_y, no transverse component) is a
    pure gauge: with spin injected along x through a polarised barrier into a superconducting wire with a
    vacuum end, the charge potential and currents are unchanged, and the spin accumulation is that of
    the wire without the field rotated about y by -2 alpha x (to the retarded solver's tolerance)."""
    alpha = 0.4

    def run(field):
        wire = qp.SpinWire(qp.Superconductor(delta=1.0, gamma=0.01), LENGTH, N_X, spin_orbit=field,
                           ends=(qp.SpinActive(0.3, (0, 0, 1), conductance=0.8, polarization=0.4,
                                               electrode=qp.NormalMetal()), "vacuum"))
        d = qp.SpinDistribution(0.15, spin_voltage=0.5, axis=(1, 0, 0), voltage=0.3)
        return K.solve_spin_kinetic(wire, GRID, (d, None), options=TIGHT)

    plain = run(None)
    gauged = run(qp.GaugeField(np.array([[0.0, alpha, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]])))
    np.testing.assert_allclose(gauged.charge_potential, plain.charge_potential, atol=1e-10)
    np.testing.assert_allclose(gauged.charge_current, plain.charge_current, atol=1e-10)
    mu = np.asarray(plain.spin_accumulation)
    assert np.max(np.abs(mu[:, [0, 2]])) > 0.05
    x = np.linspace(0.0, LENGTH, N_X)
    R = np.array([_rotation([0.0, -2 * alpha * xi, 0.0]) if xi > 0 else np.eye(3) for xi in x])
    np.testing.assert_allclose(gauged.spin_accumulation, np.einsum("nij,nj->ni", R, mu), atol=1e-9)


# ----------------------------------------------------------------- multi-segment chains
def test_multi_segment_chain_equals_the_collinear_proximity_solver_and_ohms_law_in_series():
    """A superconductor (with a phase, spin-orbit scattering) joined to a ferromagnet (exchange field,
    spin-flip scattering, twice the conductance, half the diffusion constant) by a tunnel or a transparent
    interface: the spin-general solver on the chain equals solve_proximity's spin-resolved DOS to 1e-10.
    Two normal segments joined by a tunnel interface between reservoirs carry the current of the three
    resistances in series, L1/sigma1 + 1/G_B + L2/sigma2, on every link."""
    from jaxqp.spectral import wire as W

    sc = qp.Superconductor(delta=1.0, gamma=0.02, b_so=0.02)
    fm = qp.Superconductor(delta=0.0, h=0.3, gamma=0.02, b_sf=0.03)
    E = np.linspace(0.05, 2.0, 24)
    for interface in (qp.Interface(0.5), qp.Interface()):
        chain = qp.Chain((qp.Segment(sc, 2.0, n_x=15, phase=0.3),
                          qp.Segment(fm, 1.0, n_x=9, conductance=2.0, diffusion=0.5)),
                         interfaces=(interface,), ends=("reservoir", "vacuum"), growth=0.0)
        ref = W.solve_proximity(chain, E)
        nd = np.asarray(qp.solve_spin(chain, E).spin_dos())
        np.testing.assert_allclose(nd[2, 0], ref.dos[..., 0], atol=1e-10)
        np.testing.assert_allclose(nd[2, 1], ref.dos[..., 1], atol=1e-10)
    normal = qp.Superconductor(delta=0.0, gamma=1e-3)
    chain = qp.Chain((qp.Segment(normal, 2.0, n_x=9), qp.Segment(normal, 1.0, n_x=5, conductance=2.0)),
                     interfaces=(qp.Interface(0.5),), ends=("reservoir", "reservoir"), growth=0.0)
    out = K.solve_spin_kinetic(chain, GRID, (qp.SpinDistribution(0.1, voltage=0.4), qp.SpinDistribution(0.1)))
    np.testing.assert_allclose(out.charge_current, -0.4 / (2.0 / 1.0 + 1 / 0.5 + 1.0 / 2.0), rtol=1e-10)
    with pytest.raises(ValueError, match="one-segment"):
        S.self_consistent_gap(chain, qp.SpinDistribution(0.1), _POSITIVE)


def test_spin_active_interface_between_segments():
    """Two normal segments joined by a spin-active tunnel interface (polarisation P along m, spin mixing
    G_phi on each side), between reservoirs:

    * with the spin voltage along m the two spin channels are independent resistors in series, the barrier's
      conductances ``G_B (1 +- P) / (1 + sqrt(1 - P^2))``: charge and spin currents to 1e-10;
    * with P = 0 and the spin voltage along x, m along z, the spin current jumps only at the two nodes of the
      interface, by the spin-mixing torque ``G_phi,side m x mu`` of each side (computed from the accumulation);
    * charge is conserved on every link, and the collinear solvers refuse the chain."""
    normal = qp.Superconductor(delta=0.0, gamma=1e-3)
    q = (0.3, -0.2)

    def solve(P, m, axis):
        face = qp.Interface(0.5, polarization=P, spin_mixing=q, magnetization=m)
        chain = qp.Chain((qp.Segment(normal, 2.0, n_x=9), qp.Segment(normal, 1.0, n_x=5, conductance=2.0)),
                         interfaces=(face,), ends=("reservoir", "reservoir"), growth=0.0)
        drive = (qp.SpinDistribution(0.1, voltage=0.4, spin_voltage=0.3, axis=axis), qp.SpinDistribution(0.1))
        return chain, K.solve_spin_kinetic(chain, GRID, drive)

    P, m = 0.5, np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    chain, out = solve(P, m, m)
    r = np.sqrt(1 - P ** 2)
    g = {s: 1 / (2 * 2.0 + 2 * (1 + r) / (0.5 * 2 * (1 + s * P)) + 2 * 1.0 / 2.0) for s in (1, -1)}  # per spin
    I = np.asarray(out.charge_current)
    np.testing.assert_allclose(I, -(g[1] * 0.7 + g[-1] * 0.1), rtol=1e-10)
    np.testing.assert_allclose(np.asarray(out.spin_current), -np.outer(np.ones(I.size), m) * (g[1] * 0.7 - g[-1] * 0.1),
                               atol=1e-12)
    with pytest.raises(ValueError, match="spin-active end or interface"):
        qp.solve_proximity(chain, np.array([0.5]))
    with pytest.raises(ValueError, match="tunnel barrier"):
        qp.Interface(polarization=0.3)
    with pytest.raises(ValueError, match="P"):
        qp.Interface(0.5, polarization=1.0)
    with pytest.raises(ValueError, match="pair"):
        qp.Interface(0.5, spin_mixing=(0.1, 0.2, 0.3))

    z = np.array([0.0, 0.0, 1.0])
    _, out = solve(0.0, z, (1, 0, 0))
    I = np.asarray(out.charge_current)
    assert np.ptp(I) < 1e-13
    js, mu = np.asarray(out.spin_current), np.asarray(out.spin_accumulation)
    jump = js[1:] - js[:-1]  # at the interior nodes 1 .. n - 2; the interface links nodes 8 and 9
    torque = np.zeros_like(jump)
    torque[7] = q[0] * np.cross(z, mu[8])
    torque[8] = q[1] * np.cross(z, mu[9])
    assert np.max(np.abs(torque)) > 1e-3
    np.testing.assert_allclose(jump, torque, atol=1e-13)


def test_biased_spin_split_superconducting_electrode_equals_the_collinear_tunnel_contact():
    """A spin-split superconducting electrode (h = 0.3 along z, polarised barrier) at a bias on a contact in the
    middle of a normal wire: its time-averaged function (electron block at E - b, hole block at E + b, no
    anomalous blocks) gives the collinear engine's quasiparticle tunnelling, modes and contact currents to
    1e-6, at either sign of the bias; the wire stays normal.  An electrode with a bias of its own is refused."""
    m = qp.Superconductor(delta=0.0, gamma=1e-3, b_sf=0.05)
    el = qp.Superconductor(delta=1.0, h=0.3, gamma=0.02)
    kappa, P, L = 0.3, 0.4, 4.0
    collinear = qp.Wire(m, L, contacts=(qp.TunnelContact(2.0, kappa, el, polarization=P),),
                        ends=(qp.Reservoir(), qp.Reservoir()), temperature=0.1, n_x=N_X, growth=0.0)
    GT = kappa * L * (1 + np.sqrt(1 - P ** 2)) / 2
    barrier = qp.SpinActive(0.0, (0, 0, 1), conductance=GT, polarization=P, electrode=el)
    wire = qp.SpinWire(m, L, N_X, ends=("reservoir", "reservoir"), contacts=(qp.SpinContact(2.0, barrier),))
    d = qp.SpinDistribution(0.1)
    for V in (1.4, -0.9):
        ref = qp.solve_kinetic(collinear, [V], grid=GRID)
        out = K.solve_spin_kinetic(wire, GRID, (d, d, qp.SpinDistribution(0.1, voltage=-V)))
        np.testing.assert_allclose(out.modes[..., list(K.COLLINEAR_MODES)], ref.modes, atol=1e-6)
        np.testing.assert_allclose(out.barrier_charge, ref.currents.charge, rtol=1e-6)
        np.testing.assert_allclose(out.barrier_spin[:, 2], ref.currents.spin, rtol=1e-6)
        assert abs(float(out.barrier_charge[0])) > 1e-3
    sol = qp.solve_spin(K.biased_wire(wire, (d, d, qp.SpinDistribution(0.1, voltage=0.5))), GRID.points)
    np.testing.assert_allclose(np.asarray(sol.dos()), 1.0, atol=1e-12)
    own = qp.SpinWire(m, L, N_X, ends=("reservoir", "reservoir"),
                      contacts=(qp.SpinContact(2.0, qp.SpinActive(0.0, conductance=GT, electrode=el, bias=0.3)),))
    with pytest.raises(ValueError, match="voltage = -bias"):
        K.solve_spin_kinetic(own, GRID, (d, d, qp.SpinDistribution(0.1, voltage=0.5)))
    with pytest.raises(ValueError, match="spin voltage"):
        K.solve_spin_kinetic(wire, GRID, (d, d, qp.SpinDistribution(0.1, spin_voltage=0.2)))


def test_large_problems_run_in_energy_chunks_with_the_same_result(monkeypatch):
    """Energies beyond a batch of ENERGY_NODES_PER_BATCH energy-nodes are solved in equal chunks (lax.map):
    the retarded and the kinetic solutions equal those of one batch (an extra energy of zero weight makes
    the chunked program a new one)."""
    sc = qp.Superconductor(delta=1.0, gamma=1e-2)
    face = qp.Interface(0.5, polarization=0.3, spin_mixing=(0.3, -0.2), magnetization=(1, 0, 0))
    end = qp.SpinActive(0.2, (0, 1, 0), conductance=0.5, electrode=qp.NormalMetal())
    chain = qp.Chain((qp.Segment(sc, 2.0, n_x=9), qp.Segment(sc, 1.0, n_x=5, conductance=2.0)),
                     interfaces=(face,), ends=(end, "reservoir"), growth=0.0)
    drive = (qp.SpinDistribution(0.1, voltage=0.4, spin_voltage=0.3, axis=(0, 0, 1)), qp.SpinDistribution(0.1))
    grid = grids.uniform(-3.0, 3.0, 61)
    one = K.solve_spin_kinetic(chain, grid, drive)
    monkeypatch.setattr(S, "ENERGY_NODES_PER_BATCH", 14 * 8)
    assert S.energy_chunk(14, 62) == 8
    longer = grids.EnergyGrid(points=np.append(grid.points, 3.5), weights=np.append(grid.weights, 0.0))
    chunks = K.solve_spin_kinetic(chain, longer, drive)
    np.testing.assert_allclose(chunks.modes[:61], one.modes, atol=1e-12)
    for name in ("charge_current", "spin_current", "barrier_charge", "barrier_spin", "spin_accumulation"):
        np.testing.assert_allclose(getattr(chunks, name), getattr(one, name), atol=1e-14)
    assert np.max(np.abs(np.asarray(one.spin_current))) > 1e-3
