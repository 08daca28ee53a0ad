"""1-D retarded Usadel solver: analytic limits, published numbers, conservation, implicit derivatives."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.devices import spin_injection as si
from jaxqp.internal import validation as val
from jaxqp.kinetic.wire import TunnelContact
from jaxqp.spectral import wire as sw
from jaxqp.spectral.bulk import green_functions

S = qp.Superconductor(delta=1.0)
N = qp.Superconductor(delta=0.0)


def _sns(L, phi, n=41, T=0.1):
    """Rigid S reservoirs (short, highly conducting S end segments) at the ends of an N wire."""
    return qp.Chain((qp.Segment(S, 1e-3, n_x=4, conductance=1e4, phase=-phi / 2), qp.Segment(N, L, n_x=n),
                     qp.Segment(S, 1e-3, n_x=4, conductance=1e4, phase=phi / 2)), temperature=T)


def _ko_current(phi, T, L, w):
    """Kulik-Omelyanchuk (KO-1) short diffusive junction, same Matsubara frequencies and tail rule."""
    d = np.sqrt(np.cos(phi / 2) ** 2 + w ** 2)
    terms = 2 * np.pi * T * 2 * np.cos(phi / 2) / d * np.arctan(np.sin(phi / 2) / d) / L
    return terms.sum() + terms[-1] * w[-1] / (2 * np.pi * T)


# ----------------------------------------------------------------- the discrete equation
@pytest.mark.parametrize("mat", [qp.Superconductor(delta=1.0, gamma=1e-3, h=0.2),
                                 qp.Superconductor(delta=0.8, gamma=1e-3, h=0.2, b_so=0.1, b_sf=0.03, zeta=0.05)])
def test_analytic_jacobian_equals_coloured_jvp(mat):
    w = qp.Wire(mat, 10.0, (TunnelContact(4.0, 0.3, qp.NormalMetal()),), n_x=30, phase_gradient=0.2)
    ch = sw.chain_from_wire(w)
    geo = sw._GEOMETRIES[sw._geometry_key(ch)]
    p = sw.node_params(ch, geo)
    coupled = sw._coupled(ch)
    k, nE = (4, 5) if coupled else (2, 5)
    B = nE if coupled else 2 * nE
    n = geo.x.shape[0]
    z = jnp.linspace(-2, 2, nE) + 0.01j
    keys = jax.random.split(jax.random.PRNGKey(0), 3)
    loc = sw._Local(p=p, z=z if coupled else jnp.concatenate([z, z]),
                    sign=jnp.ones(B) if coupled else jnp.concatenate([jnp.ones(nE), -jnp.ones(nE)]),
                    ext=jax.random.normal(keys[0], (n, 2 if coupled else 1, 4, B)) + 0j,
                    target=jnp.zeros((2, k, B), complex))
    Y = 0.3 * (jax.random.normal(keys[1], (n, k, B)) + 1j * jax.random.normal(keys[2], (n, k, B)))
    a = sw._analytic_blocks(Y, loc, (True, False), 0.1 * jnp.ones(B))
    b = sw._jvp_blocks(Y, loc, (True, False), 0.1 * jnp.ones(B))
    for x, y in zip(a, b, strict=False):
        assert float(jnp.max(jnp.abs(x - y))) <= 1e-12 * float(jnp.max(jnp.abs(y)))


def test_uniform_segment_reproduces_the_bulk_solution():
    """Vacuum ends, all depairing and spin-mixing terms on: the 1-D solution is the 0-D one everywhere."""
    mat = qp.Superconductor(delta=0.9, gamma=2e-3, h=0.25, zeta=0.04, b_so=0.05, b_sf=0.01)
    E = jnp.array([-1.5, -0.7, 0.1, 0.6, 0.95, 2.0])
    sol = qp.solve_proximity(qp.Chain((qp.Segment(mat, 3.0, n_x=9),), ends=("vacuum", "vacuum")), E)
    _, g, f, _ = green_functions(E + 2e-3j, 0.25, 0.9, 0.04, 0.05, 0.01)
    assert float(jnp.max(jnp.abs(sol.g - jnp.moveaxis(g, 0, -1)[:, None, :]))) < 1e-8
    assert float(jnp.max(jnp.abs(sol.f - jnp.moveaxis(f, 0, -1)[:, None, :]))) < 1e-8
    assert np.all(np.asarray(sol.result) == 0)


def test_a_capped_solve_says_why_it_stopped():
    """Two Newton steps cannot converge: every energy carries the 'iteration cap' code, and the error says so."""
    mat = qp.Superconductor(delta=0.9, gamma=2e-3, h=0.25, zeta=0.04)
    chain = qp.Chain((qp.Segment(mat, 3.0, n_x=9),), ends=("vacuum", "vacuum"))
    E = jnp.array([-1.5, 0.1, 0.95])
    opts = sw.default_options()._replace(maxiter=2)
    sol = qp.solve_proximity(chain, E, options=opts, throw=False)
    assert not np.any(np.asarray(sol.converged))
    assert np.all(np.asarray(sol.result) == 1)  # RESULTS.max_steps_reached
    with pytest.raises(RuntimeError, match="3 hit the iteration cap"):
        qp.solve_proximity(chain, E, options=opts)


def _while_loops(jaxpr) -> int:
    n = 0
    for e in jaxpr.eqns:
        n += e.primitive.name == "while"
        for p in e.params.values():
            for q in p if isinstance(p, (list, tuple)) else (p,):
                inner = getattr(q, "jaxpr", q)
                n += _while_loops(inner) if hasattr(inner, "eqns") else 0
    return n


def test_known_zero_depairing_compiles_the_closed_form_with_the_same_solution():
    """Zero depairing rates given as concrete values become static zeros at the jit boundary
    (`freeze_known_zeros`): the program leaves out the bulk Newton loops of the reservoir targets and
    the guess, and its solution equals that of the general program (the same chain with every parameter
    traced) to round-off.  Traced, batched and non-zero rates are left as they are."""
    E = jnp.array([0.3, 0.9, 1.4])
    ch = _sns(3.0, 1.0, n=9)
    frozen = val.freeze_known_zeros(ch)
    assert all(type(seg.material.zeta) is float and type(seg.phase_gradient) is float for seg in frozen.segments)
    assert frozen.segments[0].material.delta is ch.segments[0].material.delta  # only the listed fields
    kept = qp.Superconductor(delta=1.0, zeta=0.1, b_so=jnp.zeros(2))
    assert val.freeze_known_zeros(kept).zeta is kept.zeta and val.freeze_known_zeros(kept).b_so is kept.b_so
    assert type(val.freeze_known_zeros(kept).b_sf) is float
    assert jax.jit(lambda m: jnp.asarray(type(val.freeze_known_zeros(m).zeta) is float))(S) == False  # noqa: E712

    run = lambda c, e: qp.solve_proximity(c, e, throw=False).gamma  # noqa: E731
    closed = jax.make_jaxpr(lambda e: run(ch, e))(E).jaxpr
    general = jax.make_jaxpr(run)(ch, E).jaxpr
    assert _while_loops(closed) == 1  # the 1-D Newton alone
    assert _while_loops(general) == 4  # and the bulk solves of the two reservoirs and of the guess
    a = qp.solve_proximity(ch, E)
    b = jax.jit(run)(ch, E)
    assert float(jnp.max(jnp.abs(a.gamma - b))) < 1e-11


# ----------------------------------------------------------------- Josephson junctions
def test_kulik_omelyanchuk_short_junction_and_current_phase_relation():
    T, L = 0.1, 0.02  # E_Th = 2500 Delta: corrections O(Delta/E_Th) below 1e-3
    w = sw.matsubara_frequencies(T, 60.0)
    for phi in (1.0, 2.0):
        jc = qp.josephson_current(_sns(L, phi, 21), omega_max=60.0)
        assert bool(jc.converged)
        assert abs(float(jc.current) / _ko_current(phi, T, L, w) - 1) < 2e-3
        prof = np.asarray(jc.profile)[3:-3]  # links inside N: exactly conserved
        assert np.std(prof) < 1e-10 * abs(prof.mean())
    # odd and 2 pi periodic
    i1 = float(qp.josephson_current(_sns(L, 1.3, 21), omega_max=60.0).current)
    assert abs(float(qp.josephson_current(_sns(L, -1.3, 21), omega_max=60.0).current) + i1) < 1e-9 * abs(i1)
    assert abs(float(qp.josephson_current(_sns(L, 1.3 + 2 * np.pi, 21), omega_max=60.0).current) - i1) < 1e-9 * abs(i1)
    # KO-1 at T -> 0: e I_c R_N = 1.326 pi Delta / 2 = 2.08 Delta (the formula used above)
    phis = np.linspace(1.8, 2.2, 81)
    w0 = sw.matsubara_frequencies(1e-3, 200.0)
    assert abs(max(_ko_current(p, 1e-3, 1.0, w0) for p in phis) - 2.083) < 0.005


@pytest.mark.optimised  # 6.0 s with XLA's optimisation, 7.7 s without (alone)
def test_long_junction_minigap_and_critical_current():
    """Dubos et al. PRB 63, 064502: E_g -> 3.12 E_Th, e I_c R_N -> 10.82 E_Th for Delta >> E_Th, T -> 0."""
    L = 20.0
    Eth = 1 / L ** 2  # Delta / E_Th = 400
    E = Eth * jnp.linspace(2.8, 3.3, 51)
    sol = qp.solve_proximity(_sns(L, 0.0, 81), E)
    dos_mid = np.asarray(sol.dos[:, sol.x.shape[0] // 2, 0])
    eg = float(E[np.argmax(dos_mid > 1e-4)]) / Eth
    assert 3.05 < eg < 3.13
    assert np.all(dos_mid[E / Eth < 3.0] < 1e-6)
    ic = max(float(qp.josephson_current(_sns(L, p, 81, T=0.05 * Eth), omega_max=200 * Eth).current)
             for p in (1.9, 2.0, 2.1, 2.2))
    assert 10.3 < ic * L / Eth < 10.82  # finite Delta/E_Th lowers it (Dubos Fig. 2)


# ----------------------------------------------------------------- proximity and tunnel contacts
def test_thin_normal_layer_on_a_superconductor_mcmillan_limit():
    """N layer of thickness d << xi, tunnel-coupled to bulk S: g_N = X / sqrt(X^2), X = Gamma g_S - i z tau3 ...

    with Gamma = kappa / (2 d) (the single-node limit of the discrete equation); the
    minigap shrinks as the interface resistance grows."""
    d, eta = 0.05, 1e-3
    E = jnp.array([0.1, 0.2, 0.3, 0.4, 0.6, 1.2])
    Sg = qp.Superconductor(delta=1.0, gamma=eta)
    _, gs, fs, _ = green_functions(E + 1j * eta, 0.0, 1.0)
    gaps = []
    for kappa in (0.05, 0.02):
        ch = qp.Chain((qp.Segment(qp.Superconductor(delta=0.0, gamma=eta), d, n_x=5),),
                      contacts=(TunnelContact(0.0, kappa, Sg),), ends=("vacuum", "vacuum"))
        sol = qp.solve_proximity(ch, E)
        G = kappa / (2 * d)
        a = G * gs[0] - 1j * (E + 1j * eta)
        b = G * fs[0]
        gN = a / jnp.sqrt(a * a - b * b)
        gN = jnp.where(jnp.real(gN) < 0, -gN, gN)
        assert float(jnp.max(jnp.abs(sol.g[:, 2, 0] - gN) / jnp.abs(gN))) < 5e-3  # O(d^2) finite thickness
        # minigap: E_g (sqrt(1 - E_g^2) + Gamma) = Gamma
        from scipy.optimize import brentq
        gaps.append(brentq(lambda e, G=G: e * (np.sqrt(1 - e * e) + G) - G, 1e-6, 0.999))
    assert gaps[1] < gaps[0]
    assert abs(gaps[0] - 0.34781) < 1e-4


def test_geneus_equations_reference_case():
    """S reservoir | tunnel barrier (GENEUS conductance c = 0.3) | N wire of length xi | vacuum, eta = 0.01.

    Reference: an independent scipy solve_bvp solution of GENEUS's Riccati equations and
    boundary conditions (conductor.f90, spinactive.f90); GENEUS's c = G_B L / (sigma A) gives
    kappa = c / L in our units."""
    ref = np.array([[0.05, 0.100850, 0.113497, 0.117874], [0.10, 0.516104, 0.659409, 0.714648],
                    [0.15, 1.415285, 1.560242, 1.601769], [0.30, 1.111396, 1.119188, 1.117572],
                    [1.00, 1.235602, 1.013029, 0.950863], [2.00, 1.000347, 0.999255, 0.999692]])
    ch = qp.Chain((qp.Segment(qp.Superconductor(delta=0.0, gamma=0.01), 1.0, n_x=81),),
                  contacts=(TunnelContact(0.0, 0.3, qp.Superconductor(delta=1.0, gamma=0.01)),),
                  ends=("vacuum", "vacuum"))
    sol = qp.solve_proximity(ch, jnp.asarray(ref[:, 0]))
    x = np.asarray(sol.x)
    got = np.stack([np.interp(xx, x, np.asarray(sol.dos[i, :, 0])) for i in range(len(ref)) for xx in (0, 0.5, 1)])
    assert np.max(np.abs(got.reshape(-1, 3) - ref[:, 1:])) < 2e-3


def test_point_tunnel_contact_first_integral_and_decay():
    """Contact value against the exact first integral (seed 002 Eq. 38); bulk DOS far away; finite subgap DOS."""
    kappa, gam = 0.2, 1e-3
    E = jnp.array([0.0, 0.5, 0.9, 1.5])
    w = qp.Wire(qp.Superconductor(delta=1.0, gamma=gam), 40.0, (TunnelContact(20.0, kappa, qp.NormalMetal()),),
                n_x=240)
    sol = qp.solve_proximity(w, E)
    x = np.asarray(sol.x)
    i0 = int(np.argmin(np.abs(x - 20.0)))
    g0, _ = si.contact_spectrum(np.asarray(E), kappa, gamma=gam)
    assert np.max(np.abs(np.asarray(sol.g[:, i0, 0]) - g0)) < 2e-3
    gb, _ = si.bulk_gf(np.asarray(E), gamma=gam)
    far = int(np.argmin(np.abs(x - 8.0)))
    assert np.max(np.abs(np.asarray(sol.dos[:, far, 0]) - gb.real)) < 1e-3
    sub = np.asarray(sol.dos[1, :, 0])  # E = 0.5
    assert sub[i0] > 20 * gb.real[1]
    right = sub[i0:i0 + 40]
    assert np.all(np.diff(right) < 0)  # decays away from the injector


def test_implicit_derivatives_match_finite_differences():
    E = jnp.array([0.3, 0.8, 1.3])

    def dos_at_contact(kappa, delta):
        w = qp.Wire(qp.Superconductor(delta=delta, gamma=1e-2, b_so=0.02), 12.0,
                    (TunnelContact(6.0, kappa, qp.NormalMetal()),), n_x=40)
        sol = qp.solve_proximity(w, E, throw=False)
        return jnp.sum(sol.dos[:, 20, 0] * jnp.array([1.0, 0.5, 0.25]))

    g = jax.grad(dos_at_contact, argnums=(0, 1))(0.3, 1.0)
    h = 1e-5
    fd = ((dos_at_contact(0.3 + h, 1.0) - dos_at_contact(0.3 - h, 1.0)) / (2 * h),
          (dos_at_contact(0.3, 1.0 + h) - dos_at_contact(0.3, 1.0 - h)) / (2 * h))
    for a, b in zip(g, fd, strict=False):
        assert abs(float(a) - float(b)) < 1e-6 * max(1.0, abs(float(b)))


def test_self_consistent_gap_uniform_and_inverse_proximity():
    T = 0.3
    gp = qp.self_consistent_gap(qp.Chain((qp.Segment(S, 4.0, n_x=9, self_consistent=True),),
                                         ends=("vacuum", "vacuum"), temperature=T))
    assert float(jnp.max(jnp.abs(gp.delta - qp.gap(T)))) < 2e-5
    ch = qp.Chain((qp.Segment(S, 6.0, n_x=25, self_consistent=True), qp.Segment(N, 3.0, n_x=13)),
                  ends=("vacuum", "vacuum"), temperature=0.1)
    gp = qp.self_consistent_gap(ch)
    d = np.asarray(gp.delta)[:25]
    assert np.all(np.diff(d) < 0) and d[-1] < 0.5 and abs(d[0] - float(qp.gap(0.1))) < 2e-3
    assert np.all(np.asarray(gp.delta)[25:] == 0)


def test_bad_structures_are_rejected():
    with pytest.raises(ValueError, match="interfaces"):
        qp.Chain((qp.Segment(S, 1.0), qp.Segment(N, 1.0)), interfaces=())
    with pytest.raises(ValueError, match="outside"):
        qp.Chain((qp.Segment(S, 1.0),), contacts=(TunnelContact(2.0, 0.1),))
    with pytest.raises(ValueError, match="conductance"):
        qp.Interface(-1.0)
    with pytest.raises(ValueError, match="temperature > 0"):
        qp.josephson_current(_sns(0.1, 1.0), temperature=0.0)
    with pytest.raises(ValueError, match="self_consistent"):
        qp.self_consistent_gap(_sns(0.1, 0.0))


# ----------------------------------------------------------------- spin injection (seed 002)
T_SI = 0.05


@pytest.mark.optimised
def test_spin_injection_normal_state_and_superconducting_subgap():
    """Normal state: Eq. (20).  V_s < Delta, zero-Dynes limit: the injector's own proximity effect
    makes the subgap spin finite; interpolation formula at the injector.  (One compiled solve.)"""
    lam = si.spin_length(0.01)
    kw = dict(kappa=0.1, b_so=0.01, spin_bias=0.5, temperature=T_SI, gamma=1e-5, n_x=120, length=60.0)
    x, mu, _ = si.spin_accumulation(si.device(**{**kw, "delta": 0.0}), n_energy=801)
    ref = si.normal_state_mu_s(np.asarray(x) - 30.0, 0.1, lam, 0.5)
    assert np.max(np.abs(np.asarray(mu) - ref)) < 3e-3 * 0.5
    kw["delta"] = 1.0
    x, mu, sol = si.spin_accumulation(si.device(**kw), n_energy=801)
    _, mu_u, _ = si.spin_accumulation(si.device(spectra="uniform", **kw), n_energy=801)
    i0 = int(np.argmin(np.abs(np.asarray(x) - 30.0)))
    assert float(mu[i0]) > 30 * float(mu_u[i0])
    # interpolation formula (Eqs. 39-44) at the injector
    E = np.asarray(sol.energy.points)
    s = si.interpolation_spectral_spin(np.array([0.0]), E, 0.1, si.spin_length(0.01), 0.5, T_SI, gamma=1e-5)
    mu_i = si.mu_s(s, sol.energy.weights)[0]
    assert abs(mu_i / float(mu[i0]) - 1) < 0.05
    # the spectral spin density is finite deep below the gap (f_T3 of the injector is nonzero for |E| < V_s)
    dens = np.asarray(sol.spin_density())[:, i0]
    sub = (np.abs(E) < 0.4) & (np.abs(E) > 0.1)
    assert np.all(dens[sub] > 1e-3)
