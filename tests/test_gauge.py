"""Linear-in-momentum spin-orbit coupling as an SU(2) gauge field in the spin-general Usadel solver."""

import jax.numpy as jnp
import numpy as np
import pytest
from spin_blocks import analytic_and_coloured_blocks

import jaxqp as qp
from jaxqp.spectral import spin as S

NX = 15
L = 2.5
E = jnp.linspace(0.05, 1.8, 8)
SIG = S.SIGMA


def _rotation(a, x):
    """``V(x) = exp(i x a.sigma)``, (n, 2, 2)."""
    t = np.linalg.norm(a)
    n = np.einsum("a,aij->ij", a / t, SIG)
    return np.cos(t * x)[:, None, None] * np.eye(2) + 1j * np.sin(t * x)[:, None, None] * n


def _rotate_vector(V, v):
    """The 3-vector of ``V^dagger (v.sigma) V`` for each V (n, 2, 2)."""
    M = np.einsum("nji,jk,nkl->nil", V.conj(), np.einsum("a,aij->ij", v, SIG), V)
    return np.real(np.einsum("aij,nji->na", SIG, M)) / 2


def _ends(m_left, m_right):
    return (S.SpinActive(0.8, m_left), S.SpinActive(0.5, m_right, conductance=0.4, polarization=0.3,
                                                       electrode=qp.NormalMetal()))


def test_a_pure_gauge_field_only_rotates_the_spin_structure():
    """A uniform field along the wire, ``A = a.sigma``, is removed by ``g = V g' V^dagger`` with
    ``V(x) = exp(i x a.sigma)``: g' solves the problem without the field in which the exchange field and
    the end magnetisations are rotated by ``V^dagger``.  On the grid this holds exactly (link transports),
    so the solutions agree to the Newton tolerance; the DOS, a spin-rotation invariant, is unchanged."""
    mat = qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_so=0.02, b_sf=0.01)
    a = np.array([0.5, -0.2, 0.4])
    x = np.linspace(0.0, L, NX)
    V = _rotation(a, x)
    mL, mR = np.array([1.0, 0.0, 0.0]), np.array([0.0, 0.6, 0.8])
    field = qp.GaugeField(np.stack([a, np.zeros(3), np.zeros(3)]))
    gauged = S.solve_spin(S.SpinWire(mat, L, NX, ends=_ends(mL, mR), spin_orbit=field), E)
    h_rot = _rotate_vector(V, 0.3 * np.array([0.0, 0.0, 1.0]))
    plain = S.SpinWire(mat, L, NX, ends=_ends(_rotate_vector(V[:1], mL)[0], _rotate_vector(V[-1:], mR)[0]),
                       exchange=h_rot)
    ref = S.solve_spin(plain, E)
    G, G0 = np.asarray(gauged.retarded()), np.asarray(ref.retarded())
    W = np.zeros((NX, 4, 4), complex)
    W[:, :2, :2] = W[:, 2:, 2:] = V
    np.testing.assert_allclose(G, np.einsum("xij,exjk,xlk->exil", W, G0, W.conj()), atol=1e-9)
    np.testing.assert_allclose(np.asarray(gauged.dos()), np.asarray(ref.dos()), atol=1e-9)
    # the field does act: without it the solution differs
    assert np.max(np.abs(G - G0)) > 0.1


def test_transverse_components_are_dyakonov_perel_spin_relaxation():
    """The transverse components of a wide strip add ``sum_k A_k g A_k`` to the node equation.  With the
    exchange field along z and ``A_1 = a sigma_x``, ``A_2 = a sigma_y`` this is spin-orbit scattering with
    ``b_so = 2 a^2`` (sigma_z g sigma_z commutes with g): the solutions agree to the Newton tolerance.  The
    normal-state relaxation tensor is D'yakonov-Perel's, ``-sum_k [A_k, [A_k, s.sigma]]``, with the Rashba
    ratio 2 : 1 of out-of-plane to in-plane relaxation."""
    a = 0.35
    mat = qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_sf=0.01)
    ends = _ends(np.array([0.0, 0.0, 1.0]), np.array([0.0, 0.0, -1.0]))
    field = qp.GaugeField(np.stack([np.zeros(3), [a, 0.0, 0.0], [0.0, a, 0.0]]))
    gauged = S.solve_spin(S.SpinWire(mat, L, NX, ends=ends, spin_orbit=field), E)
    scattering = qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_sf=0.01, b_so=2 * a ** 2)
    ref = S.solve_spin(S.SpinWire(scattering, L, NX, ends=ends, exchange=np.tile([0.0, 0.0, 0.3], (NX, 1))), E)
    np.testing.assert_allclose(np.asarray(gauged.retarded()), np.asarray(ref.retarded()), atol=1e-9)
    without = S.solve_spin(S.SpinWire(qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_sf=0.01), L, NX, ends=ends,
                                      exchange=np.tile([0.0, 0.0, 0.3], (NX, 1))), E)
    assert np.max(np.abs(np.asarray(without.dos()) - np.asarray(ref.dos()))) > 1e-2

    # a Rashba strip along x with an in-plane exchange field along y (the spin axis of A_0, which then only
    # gauges): uniform, with the bulk spin-split DOS of spin-orbit scattering b_so = alpha^2 (the in-plane
    # D'yakonov-Perel rate; out of plane it would be 2 alpha^2)
    al = 0.3
    film = S.SpinWire(qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3), L, NX, exchange_direction=(0.0, 1.0, 0.0),
                      ends=(S.SpinActive(0.0, (0, 1, 0)), S.SpinActive(0.0, (0, 1, 0), electrode=qp.NormalMetal())),
                      spin_orbit=qp.GaugeField.rashba(al))
    up = np.asarray(S.solve_spin(film, E).spin_dos())[1, 0]  # (E, x), spin along +y
    bulk = np.asarray(qp.dos(qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_so=al ** 2), E))[0]
    np.testing.assert_allclose(up, np.broadcast_to(bulk[:, None], up.shape), atol=1e-8)

    # relaxation tensor against the double commutator, for a random field and for Rashba
    rng = np.random.default_rng(3)
    for fld in (qp.GaugeField(rng.normal(size=(3, 3))), qp.GaugeField.rashba(0.7, angle=0.4)):
        A = np.einsum("ka,aij->kij", np.asarray(fld.components), SIG)
        lap = np.zeros((3, 3))
        for b in range(3):
            s = SIG[b]
            dd = -sum(Ak @ (Ak @ s - s @ Ak) - (Ak @ s - s @ Ak) @ Ak for Ak in A)
            lap[:, b] = np.real(np.einsum("aij,ji->a", SIG, dd)) / 2
        np.testing.assert_allclose(-lap, np.asarray(fld.relaxation_tensor()), atol=1e-12)
    np.testing.assert_allclose(np.asarray(qp.GaugeField.rashba(0.7, angle=0.4).relaxation_tensor()),
                               4 * 0.49 * np.diag([1.0, 1.0, 2.0]), atol=1e-12)
    np.testing.assert_allclose(np.asarray(qp.GaugeField.dresselhaus(0.5).relaxation_tensor()),
                               np.diag([1.0, 1.0, 2.0]), atol=1e-12)


def test_gauge_field_jacobian_constructors_and_refusals():
    """The analytic Jacobian blocks equal coloured JVPs with a gauge field; constructors, sums and bad
    input; the collinear solvers refuse a chain with a gauge field instead of ignoring it."""
    m = qp.Superconductor(delta=1.0, gamma=0.01, b_so=0.05, h=0.2)
    field = qp.GaugeField.rashba(0.4) + qp.GaugeField.dresselhaus(0.2, angle=0.3)
    sw = S.SpinWire(m, 1.5, 9, ends=("reservoir", S.SpinActive(0.6, (0, 1, 0))), exchange_direction=(1, 1, 0),
                    spin_orbit=field)
    z = jnp.linspace(0.1, 2.0, 5).astype(complex)
    for a, b in analytic_and_coloured_blocks(sw, z):
        for x, y in zip(a, b, strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), atol=1e-12)

    r = np.asarray(qp.GaugeField.rashba(0.5, angle=np.pi / 2).components)
    np.testing.assert_allclose(r[0], [-0.5, 0.0, 0.0], atol=1e-15)  # along y: A_y = -alpha sigma_x
    np.testing.assert_allclose(r[1], [0.0, -0.5, 0.0], atol=1e-15)  # across: -A_x
    assert np.all(np.asarray(qp.GaugeField.rashba(0.5, narrow=True).components)[1:] == 0)
    with pytest.raises(ValueError, match="shape"):
        qp.GaugeField(np.zeros(3))
    with pytest.raises(TypeError, match="GaugeField"):
        S.SpinWire(m, 1.5, 9, spin_orbit=np.zeros((3, 3)))
    chain = qp.Chain((qp.Segment(m, 1.5, n_x=9, spin_orbit=field),), ends=("reservoir", "vacuum"))
    assert S.SpinWire.from_chain(chain).spin_orbit is field
    with pytest.raises(ValueError, match="spin-orbit gauge field"):
        qp.solve_proximity(chain, jnp.linspace(0.1, 1.0, 3))


def test_reservoir_ends_hold_the_bulk_film_and_the_wire_converges_to_it():
    """A reservoir end with a gauge field is the bulk of the end material: a film in which every component
    acts (no closed form; a uniform solve).  With the exchange field out of plane the Rashba film is
    spin-orbit scattering with ``b_so = 2 alpha^2`` (out-of-plane D'yakonov-Perel), so the end nodes carry
    the bulk spin-split DOS of `jaxqp.dos` to the Newton tolerance.  Inside, the lattice transport
    reproduces the covariant Laplacian to O(dx^2): halving dx divides the deviation by 4.  The derivative
    in alpha, through the reservoir's own solve, equals central differences."""
    import jax

    al = 0.3
    bulk = np.asarray(qp.dos(qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3, b_so=2 * al ** 2), E))[0]

    def wire(n, a=al):
        return S.SpinWire(qp.Superconductor(delta=1.0, gamma=2e-3, h=0.3), L, n, ends=("reservoir", "reservoir"),
                          spin_orbit=qp.GaugeField.rashba(a))

    dev = []
    for n in (NX, 2 * NX - 1):
        sol = S.solve_spin(wire(n), E)
        up = np.asarray(sol.spin_dos())[2, 0]  # (E, x), spin along +z
        np.testing.assert_allclose(up[:, [0, -1]], np.stack([bulk, bulk], 1), atol=1e-9)
        dev.append(np.abs(up - bulk[:, None]).max())
    # in equilibrium the covariant (lowest-order) equation carries spin currents (the field's torque) but
    # no charge current at zero phase: no spin-galvanic current without a gyrotropic term
    ob = S.observables(sol, S.SpinDistribution(0.1), np.full(E.shape, float(E[1] - E[0])))
    np.testing.assert_allclose(np.asarray(ob.current)[:, 0], 0.0, atol=1e-12)
    assert np.abs(np.asarray(ob.current)[:, 1:]).max() > 1e-3
    assert 1e-5 < dev[1] < dev[0] < 2e-3
    assert 3.5 < dev[0] / dev[1] < 4.5

    def dos_mid(a):
        return S.solve_spin(wire(NX, a), E).dos()[3, NX // 2]

    fd = (dos_mid(al + 1e-5) - dos_mid(al - 1e-5)) / 2e-5
    np.testing.assert_allclose(float(jax.jit(jax.grad(dos_mid))(al)), float(fd), rtol=1e-6)
