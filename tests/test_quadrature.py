"""Energy quadrature: smooth grids, one spectrum shared by all biases, derivatives of the computed function.

Derivative checks compare forward-mode autodiff with Richardson-extrapolated central differences of
the *same* jitted computation (fourth order, relative steps 1e-3), so they test that nothing in
the quadrature is held fixed behind the derivative's back.  Each check compiles one program whose
parameters are arguments, and the hypothesis draws reuse it.
"""

import math
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jaxqp as qp
from jaxqp import grids
from jaxqp.inference import data, models

DRAWS = settings(max_examples=8, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def _derivative_fd(f, p, t, h):
    """Sixth-order central differences (Richardson on steps h, h/2, h/4)."""
    def d(k):
        return (f(p + k * t) - f(p - k * t)) / (2 * k)

    d1, d2, d4 = d(h), d(h / 2), d(h / 4)
    return (16 * (4 * d4 - d2) / 3 - (4 * d2 - d1) / 3) / 15


class _Checked:
    """A function of a parameter vector, compiled once with its forward-mode derivative."""

    def __init__(self, fn):
        self.f = jax.jit(fn)
        self.jvp = jax.jit(lambda p, t: jax.jvp(fn, (p,), (t,))[1])


def _check_derivatives(fn: _Checked, p, scales, rtol=1e-7):
    """jvp of ``fn`` along each coordinate of ``p`` equals finite differences of ``fn`` itself.

    ``scales[i]``: how far parameter i must move to change the output by order one (a width for
    energies that move sharp peaks); steps of 2e-3, 5e-4 and 8e-3 of it are tried in turn until one
    agrees: at one of them truncation (step^6) and the output's rounding noise (1e-11 of a
    conductance next to a coherence peak, divided by the step) both stay below ``rtol``.  (Over the
    draws of the two tests, 2e-3 agreed for 247 of 248 derivatives, 5e-4 for all.)
    """
    p = jnp.asarray(p, float)
    size = float(np.max(np.abs(np.asarray(fn.f(p)))))
    for i in range(p.size):
        t = jnp.zeros_like(p).at[i].set(1.0)
        ad = np.asarray(fn.jvp(p, t))
        assert np.all(np.isfinite(ad)), i
        # relative to the derivative, or to the output per unit scale where a symmetry makes it vanish;
        # a step scan (truncation falls and rounding grows as the step shrinks, and a wrong derivative
        # agrees at none of the steps)
        norm = max(np.max(np.abs(ad)), 1e-3 * size / scales[i])
        errs = []
        for k in (2e-3, 5e-4, 8e-3):
            errs.append(np.max(np.abs(ad - np.asarray(_derivative_fd(fn.f, p, t, k * scales[i])))) / norm)
            if errs[-1] < rtol:
                break
        assert errs[-1] < rtol, (i, errs)


# --------------------------------------------------------------------------- the smooth grid
def test_smooth_grid_integrates_lorentzians_and_differentiates_exactly():
    c = jnp.array([-1.0, 0.3, 1.0])

    def integral(w):
        g = grids.smooth(c, w, -4.0, 5.0, 801)
        lor = jnp.sum(w[:, None] / ((g.points[None, :] - c[:, None]) ** 2 + w[:, None] ** 2), axis=0)
        return g.integrate(lor)

    def exact(w):
        return jnp.sum(jnp.arctan((5.0 - c) / w) - jnp.arctan((-4.0 - c) / w))

    w = jnp.array([1e-3, 1e-4, 2e-2])
    value_and_grad = jax.jit(lambda w: (jax.value_and_grad(integral)(w), jax.grad(exact)(w)))  # one program
    (value, grad), grad_exact = value_and_grad(w)
    assert abs(float(value - exact(w))) < 1e-8 * float(exact(w))
    # the nodes move with the widths: the derivative of the quadrature is that of the integral
    np.testing.assert_allclose(grad, grad_exact, rtol=2e-5)
    g = grids.smooth(c, w, -4.0, 5.0, 801)
    assert np.all(np.diff(np.asarray(g.points)) > 0) and float(g.points[0]) == -4.0
    assert abs(float(g.points[-1]) - 5.0) < 1e-12 and abs(float(g.weights.sum()) - 9.0) < 1e-5


def test_smooth_grid_nodes_solve_the_node_map_on_coarse_grids_with_sharp_features():
    """Every node solves Phi(E_i) = i/(n-1), with Phi written out here in NumPy, also where the
    features are 1e-6 wide on a 51-node grid (the node search is Newton-bisection, not a fixed number
    of steps); a node that sits on a feature's centre moves with it (d E_i/d c_k against central
    differences)."""
    lo, hi, n, frac = -3.0, 3.0, 51, 0.5
    c = np.array([-1.0, 0.0, 1.0])
    w = np.array([1e-6, 1e-6, 1e-6])
    E = np.asarray(grids.smooth(jnp.asarray(c), jnp.asarray(w), lo, hi, n, fraction=frac).points)

    def phi(x):
        s = np.sum(np.arcsinh((x[:, None] - c) / w) - np.arcsinh((lo - c) / w), axis=-1)
        total = np.sum(np.arcsinh((hi - c) / w) - np.arcsinh((lo - c) / w))
        return (1 - frac) * (x - lo) / (hi - lo) + frac * s / total

    assert np.max(np.abs(phi(E) - np.linspace(0.0, 1.0, n))) * (n - 1) < 1e-8
    i = n // 2  # the map is odd about 0: the middle node is the feature at 0
    assert abs(E[i]) < 1e-12

    def node(shift):
        return grids.smooth(jnp.asarray(c) + jnp.array([0.0, 1.0, 0.0]) * shift, jnp.asarray(w), lo, hi, n,
                            fraction=frac).points[i]

    ad = float(jax.grad(node)(0.0))
    fd = float((node(1e-9) - node(-1e-9)) / 2e-9)
    assert ad > 0.1 and abs(ad - fd) < 1e-5 * ad


# --------------------------------------------------------------------------- Fermi-window sums
def test_fermi_sums_and_their_derivative_rule_equal_the_direct_sum():
    """The matrix-product form and its one-order-up derivative rule against autodiff of the plain
    sum sum_j B_j f((E_j - u)/T): values, forward and reverse mode, and second derivatives."""
    from jaxqp.distributions import fermi, fermi_sums

    rng = np.random.default_rng(3)
    E = jnp.asarray(np.sort(rng.uniform(-3, 3, (2, 40)), axis=-1))
    B = jnp.asarray(rng.normal(size=(2, 2, 40, 2)))
    u = jnp.asarray(rng.uniform(-1, 1, (2, 2, 5)))
    T = jnp.asarray([0.1, 0.3])

    def direct(E, B, u, T):
        return jnp.matmul(fermi(E[:, None, None, :] - u[..., None], T[:, None, None, None]), B)

    def fast(E, B, u, T):
        return fermi_sums(0, E, B, u, T)

    def slope(f):  # d/du along all shifts at once: the conductance-like first derivative
        return lambda E, B, u, T: jax.jvp(lambda v: f(E, B, v, T), (u,), (jnp.ones_like(u),))[1]

    args = (E, B, u, T)
    np.testing.assert_allclose(fast(*args), direct(*args), rtol=0, atol=1e-14)

    @jax.jit  # every pair of derivatives in one program (not thousands of single operations)
    def pairs(args):
        out = []
        for i in range(4):
            for f, g in ((fast, direct), (slope(fast), slope(direct))):
                out.append((jax.jacfwd(f, argnums=i)(*args), jax.jacfwd(g, argnums=i)(*args)))
                out.append((jax.grad(lambda *a, f=f: jnp.sum(jnp.sin(f(*a))), argnums=i)(*args),
                            jax.grad(lambda *a, g=g: jnp.sum(jnp.sin(g(*a))), argnums=i)(*args)))
        # a kernel shared by both spins (no spin bias) broadcasts against spin-resolved weights
        E, B, u, T = args
        out.append((jax.jacfwd(fast, argnums=2)(E, B, u[:, :1], T), jax.jacfwd(direct, argnums=2)(E, B, u[:, :1], T)))
        return out

    for a, b in pairs(args):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-11)


def test_one_pass_jacobian_is_the_jacobian_in_every_argument():
    """The least-squares residual that carries its materialised Jacobian: jvp in the parameters
    and in the data (differentiating a fit with respect to its data) equal those of the plain
    residual."""
    from jaxqp.inference.fit import _one_pass_jacobian

    def res(theta, args):
        x, y = args
        return jnp.exp(-theta[0] * x) * theta[1] + jnp.sin(theta[2] * x) - y

    wrapped = _one_pass_jacobian(res)
    theta = jnp.array([0.7, 1.3, 2.1])
    args = (jnp.linspace(0.0, 2.0, 9), jnp.linspace(-1.0, 1.0, 9))
    np.testing.assert_allclose(jax.jacfwd(wrapped)(theta, args), jax.jacfwd(res)(theta, args), rtol=1e-14)
    dargs = (jnp.ones(9), jnp.linspace(0.0, 1.0, 9))
    t = jnp.array([0.2, -0.5, 1.0])
    a = jax.jvp(wrapped, (theta, args), (t, dargs))[1]
    b = jax.jvp(res, (theta, args), (t, dargs))[1]
    np.testing.assert_allclose(a, b, rtol=1e-13)
    np.testing.assert_allclose(jax.grad(lambda th: jnp.sum(wrapped(th, args) ** 2))(theta),
                               jax.grad(lambda th: jnp.sum(res(th, args) ** 2))(theta), rtol=1e-13)


# --------------------------------------------------------------------------- shared spectra
def _dynes_nis_numpy(V, delta, gamma, T, h=0.0):
    """Independent NIS conductance per spin sum: int N_BCS(E +- h) (-df/dE)(E - V) dE on a fine uniform grid."""
    E = np.arange(-8.0, 8.0, 2e-4)
    out = 0.0
    for s in (1.0, -1.0):
        z = E + s * h + 1j * gamma
        N = np.abs(np.real(z / np.sqrt(z * z - delta**2 + 0j)))
        kern = 0.25 / T / np.cosh(np.clip((E[None, :] - V[:, None]) / (2 * T), -300, 300)) ** 2
        out = out + 0.5 * np.trapezoid(N[None, :] * kern, E, axis=-1)
    return out


def test_shared_spectra_equal_per_bias_grids_and_the_closed_form():
    V = jnp.linspace(-2.5, 2.5, 81)
    N = qp.NormalMetal(temperature=0.06)
    for S in (qp.Superconductor(delta=1.0, gamma=2e-3, temperature=0.0),
              qp.Superconductor(delta=1.0, gamma=2e-3, h=0.25, temperature=0.0)):
        a = qp.current_and_conductance(N, S, V, quadrature="shared", n_energy=2001)
        b = qp.current_and_conductance(N, S, V, quadrature="per_bias", n_energy=2001)
        for x, y in zip(a, b, strict=False):
            np.testing.assert_allclose(x.charge, y.charge, rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(y.charge))))
        ref = _dynes_nis_numpy(np.asarray(V), 1.0, 2e-3, 0.06, float(S.h))
        np.testing.assert_allclose(a[1].charge, ref, atol=2e-5 * ref.max())
    # spin-orbit mixing, a polarised barrier, the superconductor as the left electrode and heat currents
    S = qp.Superconductor(delta=1.0, gamma=1e-3, h=0.2, b_so=0.03, temperature=0.02)
    ra = qp.junction_response(S, N, -V, polarization=0.3, quadrature="shared", n_energy=4001)
    rb = qp.junction_response(S, N, -V, polarization=0.3, quadrature="per_bias", n_energy=4001)
    for k in ra:
        for x, y in zip(ra[k], rb[k], strict=False):
            np.testing.assert_allclose(x, y, rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(y))))
    # a spin-biased normal electrode (one Fermi kernel per spin) on either side
    Nv = qp.NormalMetal(temperature=0.06, spin_bias=0.15)
    for L, R, v in ((Nv, S, V), (S, Nv, -V)):
        ra = qp.junction_response(L, R, v, polarization=0.3, quadrature="shared", n_energy=4001)
        rb = qp.junction_response(L, R, v, polarization=0.3, quadrature="per_bias", n_energy=4001)
        for k in ra:
            for x, y in zip(ra[k], rb[k], strict=False):
                np.testing.assert_allclose(x, y, rtol=0, atol=1e-6 * float(jnp.max(jnp.abs(y))))
    # a spin-split NIS map (field x bias): one spectrum per field
    h = jnp.array([[0.0], [0.15], [0.3]])
    Sm = qp.Superconductor(delta=1.0, gamma=2e-3, h=h, zeta=0.01, temperature=0.0)
    ma = qp.differential_conductance(N, Sm, V[None, :], quadrature="shared", n_energy=4001)
    mb = qp.differential_conductance(N, Sm, V[None, :], quadrature="per_bias", n_energy=4001)
    np.testing.assert_allclose(ma.spin, mb.spin, atol=1e-6 * float(jnp.max(jnp.abs(mb.up))))


def test_shared_path_refuses_what_it_cannot_resolve():
    V = jnp.linspace(-2.0, 2.0, 21)
    cold = qp.NormalMetal(temperature=1e-4)
    S = qp.Superconductor(delta=1.0, gamma=1e-2)
    with pytest.raises(ValueError, match="does not resolve the Fermi edge"):
        qp.differential_conductance(cold, S, V, T_right=0.0, n_energy=201, quadrature="shared")
    with pytest.raises(ValueError, match="one normal-metal electrode"):
        qp.differential_conductance(S, S, V, T_left=0.1, T_right=0.1, quadrature="shared")
    # "auto" falls back to per-bias grids, where dI/dV -> N_S(V) as T -> 0
    G = qp.differential_conductance(cold, S, V, T_right=0.0, n_energy=1001)
    np.testing.assert_allclose(G.charge, qp.dos(S, V)[0], rtol=2e-3)


# --------------------------------------------------------------------------- derivatives, junction layer
_V = jnp.linspace(-2.0, 2.0, 33)


def _nis(p):  # shared path, coarse grid (201 energies)
    N = qp.NormalMetal(temperature=p[0])
    S = qp.Superconductor(delta=p[2], gamma=p[1], h=p[3], b_so=p[4], temperature=0.01)
    r = qp.junction_response(N, S, _V, polarization=p[5], n_energy=201)
    return jnp.concatenate([r[k].charge for k in ("current", "conductance", "heat")])


def _sis(p):  # per-bias path, coarse grid
    L = qp.Superconductor(delta=p[2], gamma=p[1], temperature=p[0])
    R = qp.Superconductor(delta=1.0, gamma=p[1], h=p[3], temperature=0.05)
    I, G = qp.current_and_conductance(L, R, _V, polarization=p[4], n_energy=201)
    return jnp.concatenate([I.charge, G.spin])


_NIS, _SIS = _Checked(_nis), _Checked(_sis)


@pytest.mark.optimised  # 11 s with XLA's optimisation, 14 s without (alone)
@DRAWS
@given(T=st.floats(0.06, 0.3), gamma=st.floats(1e-3, 0.05), delta=st.floats(0.6, 1.2), h=st.floats(0.0, 0.4),
       b_so=st.floats(0.0, 0.1), P=st.floats(-0.5, 0.5))
def test_junction_derivatives_are_those_of_the_computed_currents(T, gamma, delta, h, b_so, P):
    # energies that move coherence peaks act on the scale of the narrowest width; widths themselves
    # (T, gamma, b_so) on several times their size
    width = min(gamma, T)
    t_scale = 10 * T
    # at 201 nodes and Gamma ~ 1e-3 the finite differences themselves resolve the derivative only to
    # ~5e-7 (rounding of peaks sampled by a few nodes against step^6 truncation), hence 1e-6 here;
    # the models at their default grids are held to 1e-7 below
    _check_derivatives(_NIS, [T, gamma, delta, h, b_so, P],
                       [t_scale, 10 * gamma, width, width, 10 * (b_so + gamma), 1.0], rtol=1e-6)
    _check_derivatives(_SIS, [T, gamma, delta, h, P], [t_scale, 10 * gamma, gamma, gamma, 1.0], rtol=1e-6)


# --------------------------------------------------------------------------- derivatives, fit models
_BIAS = jnp.linspace(-500e-6, 500e-6, 41)
_COORDS = {"b": _BIAS, "b2": _BIAS[None, :], "f": jnp.array([[0.2], [0.8]]), "q": jnp.linspace(0.05, 0.5, 9)}

# per model: data coordinates, parameter values, and the scale on which each free parameter acts
# (the Dynes width for energies that move the coherence peaks, in their units)
_MODEL_CASES = [
    (models.NISConductance(n_energy=1001), {"bias": "b"}, dict(delta=220.0, gamma=1.5, T=0.15, G_N=2e-5),
     dict(delta=1.5)),
    (models.Corrected(models.NISConductance(n_energy=401), series_resistance=True), {"bias": "b"},
     dict(delta=220.0, gamma=3.0, T=0.25, G_N=2e-5, V_offset=3e-6, R_series=300.0), dict(delta=3.0, V_offset=3e-6)),
    (models.SpinSplitNIS(n_energy=401), {"field": "f", "bias": "b2"},
     dict(delta=220.0, gamma=2.0, T=0.25, G_N=2e-5, R_orb=5.0, b_so=0.05, g_factor=2.0), dict(delta=2.0)),
    (models.ChargeImbalance(n_energy=301), {"bias": "b"}, None, {}),
    (models.SupercurrentRelation(n_energy=401), {"q": "q"}, None, {}),
]


def _model_case(model, xs, values):
    x = {k: _COORDS[v] for k, v in xs.items()}
    params = model.parameters()
    values = values or {k: p.value for k, p in params.items()}
    free = [k for k in values if not params[k].fixed and k != "g_factor"]
    if model.name == "supercurrent":
        free = ["I0", "gamma", "T"]
    fixed = {k: v for k, v in values.items() if k not in free}
    fn = _Checked(lambda p: model(x, **fixed, **dict(zip(free, p, strict=False))).ravel())
    return fn, free, values


_MODEL_FNS = [(_model_case(m, xs, v), scales) for m, xs, v, scales in _MODEL_CASES]


@pytest.mark.optimised  # 23 s with XLA's optimisation, 34 s without (alone)
@DRAWS
@given(u=st.lists(st.floats(-0.3, 0.3), min_size=6, max_size=6))
def test_fit_model_derivatives_are_those_of_the_computed_models(u):
    for (fn, free, values), scales in _MODEL_FNS:
        start = [values[k] * (1.0 + 0.5 * u[i % 6]) if values[k] != 0 else 1e-6 * u[i % 6]
                 for i, k in enumerate(free)]
        sc = [scales.get(k) or abs(s) or 1.0 for k, s in zip(free, start, strict=False)]
        _check_derivatives(fn, start, sc)


# --------------------------------------------------------------------------- the README workflow
def test_readme_csv_loads_and_fits_like_scipy(tmp_path):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import bench_fit_nis as b

    csv = tmp_path / "nis.csv"
    rows = b.make_csv(csv, n_bias=161)
    assert csv.read_text().splitlines()[0] == "bias [mV], G [uS], dG [uS]"
    m = data.load(csv)  # dG is recognised as the uncertainty column
    assert m.sigma is not None and np.allclose(m.sigma, rows[:, 2] * 1e-6)
    model = models.NISConductance()
    res = models.fit_data(model, m, {"delta": {"start": 0.25, "unit": "meV"}, "T": 0.1})
    assert res.converged and res.n_steps <= 25 and 0.6 < res.chi2_red < 1.5
    for k in ("delta", "gamma", "T", "G_N"):
        assert abs(res.values[k] - b.TRUTH[k]) < 4 * res.stderr[k], k
    # scipy's trust-region reflective fit of the same jaxqp model, finite-difference Jacobians
    from scipy.optimize import least_squares

    free = ("delta", "gamma", "T", "G_N")
    x = {"bias": jnp.asarray(m.coords["bias"])}
    f = jax.jit(lambda v: model(x, **dict(zip(free, v, strict=False))))
    v0 = np.array([res.values[k] for k in free]) * np.array([1.02, 0.9, 1.05, 0.98])
    ref = least_squares(lambda v: (np.asarray(f(jnp.asarray(v))) - m.values) / m.sigma, v0, x_scale=np.abs(v0),
                        method="trf", xtol=1e-12, ftol=1e-12, gtol=1e-12)
    for i, k in enumerate(free):
        assert abs(res.values[k] - ref.x[i]) < 0.01 * res.stderr[k], (k, res.values[k], ref.x[i])
    assert math.isclose(res.chi2, 2 * ref.cost, rel_tol=1e-6)
    # the covariance comes from the solver's last Jacobian: it equals (J^T J)^-1 from an independent
    # Jacobian of the model at the optimum
    J = np.asarray(jax.jacfwd(f)(jnp.asarray([res.values[k] for k in free]))) / m.sigma[:, None]
    np.testing.assert_allclose(res.covariance, np.linalg.inv(J.T @ J), rtol=1e-6)
    np.testing.assert_allclose(res.model_values, np.asarray(f(jnp.asarray([res.values[k] for k in free]))),
                               rtol=1e-12, atol=0)
