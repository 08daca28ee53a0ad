"""Inference: robust and likelihood losses, multi-start, batched fits and their calibration,
bias-offset and series-resistance corrections, and the seeds' worked inferences on synthetic
data with known truth (seed 000 Fig. 2a, seed 001 Fig. 10)."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import least_squares, minimize

from jaxqp.inference import fit, models
from jaxqp.internal import validation as val
from jaxqp.spectral.bulk import green_functions

NIS = models.NISConductance(n_energy=401)
NIS_TRUE = dict(delta=262.0, gamma=1.0, T=0.07, G_N=25e-6)
V = np.linspace(-600e-6, 600e-6, 81)


def test_robust_losses_agree_with_scipy_and_resist_outliers(rng):
    x = jnp.linspace(0.0, 1.0, 60)
    y = np.array(1.5 * x + 0.3) + 0.02 * rng.standard_normal(60)
    y[[7, 23, 41]] += np.array([0.8, -0.6, 1.1])  # outliers
    line = lambda x, a, b: a * x + b  # noqa: E731
    for loss in ("soft_l1", "huber", "cauchy", "arctan"):
        # (cauchy and arctan are not convex: start in the basin of the line, as scipy must too)
        r = fit.curve_fit(line, x, y, {"a": 1.3, "b": 0.2}, sigma=0.02, loss=loss, f_scale=3.0)
        ref = least_squares(lambda p: (p[0] * np.asarray(x) + p[1] - y) / 0.02, [1.3, 0.2], loss=loss,
                            f_scale=3.0, xtol=1e-14, ftol=1e-14, gtol=1e-14)
        assert r.converged
        np.testing.assert_allclose([r.values["a"], r.values["b"]], ref.x, rtol=1e-6, atol=1e-8)
        assert r.cost == pytest.approx(ref.cost, rel=1e-8)
        assert abs(r.values["a"] - 1.5) < 0.03  # the outliers barely move a robust fit
    plain = fit.curve_fit(line, x, y, {"a": 1.3, "b": 0.2}, sigma=0.02)
    assert abs(plain.values["b"] - 0.3) > 3 * abs(r.values["b"] - 0.3)


def test_optax_poisson_likelihood_and_hessian_covariance(rng):
    """A non-least-squares objective: counts N_i ~ Poisson(A exp(-t/tau)), negative log-likelihood."""
    t = jnp.linspace(0.0, 4.0, 40)
    counts = rng.poisson(np.asarray(50.0 * jnp.exp(-t / 1.3)))
    model = lambda t, A, tau: A * jnp.exp(-t / tau)  # noqa: E731

    def nll(m, y, sigma):
        return jnp.sum(m - y * jnp.log(m))

    r = fit.curve_fit(model, t, counts, {"A": fit.Parameter(30.0, 0.0), "tau": fit.Parameter(1.0, 0.0)},
                      loss=nll, method="optax", max_steps=20000, rtol=1e-12, atol=0.0)
    f = lambda p: float(np.sum(np.asarray(model(t, *p)) - counts * np.log(np.asarray(model(t, *p)))))  # noqa
    ref = minimize(f, [30.0, 1.0], method="Nelder-Mead", options=dict(xatol=1e-10, fatol=1e-12, maxiter=20000))
    assert r.converged
    np.testing.assert_allclose([r.values["A"], r.values["tau"]], ref.x, rtol=2e-5)
    # covariance = inverse Hessian of the NLL: compare with the Fisher information sum_i m_i' m_i'^T / m_i
    A, tau = ref.x
    m = A * np.exp(-np.asarray(t) / tau)
    g = np.stack([m / A, m * np.asarray(t) / tau**2])
    fisher = (g / m) @ g.T
    np.testing.assert_allclose(r.covariance, np.linalg.inv(fisher), rtol=0.05)


def test_multistart_escapes_a_local_minimum():
    x = jnp.linspace(0.0, 6.0, 120)
    y = jnp.sin(3.1 * x)
    model = lambda x, w: jnp.sin(w * x)  # noqa: E731
    one = fit.curve_fit(model, x, y, {"w": fit.Parameter(1.2, 0.5, 5.0)})
    many = fit.curve_fit(model, x, y, {"w": fit.Parameter(1.2, 0.5, 5.0)}, n_starts=24, seed=3)
    assert abs(one.values["w"] - 3.1) > 0.3  # a single start from far away is caught by a side minimum
    assert many.values["w"] == pytest.approx(3.1, abs=1e-6) and len(many.start_costs) == 25
    assert many.chi2 < 1e-10


def nis_curves(rng, n, noise):
    G = np.asarray(NIS({"bias": jnp.asarray(V)}, **NIS_TRUE))
    return G + noise * rng.standard_normal((n, V.size)), G


def test_batched_fits_are_calibrated_over_noise_draws(rng):
    """Over 64 noise draws the estimates scatter as the reported standard errors say, and chi2 ~ dof."""
    noise = 0.01 * NIS_TRUE["G_N"]
    Y, _ = nis_curves(rng, 64, noise)
    params = NIS.parameters()
    params.update(delta=params["delta"].replace(value=255.0), gamma=params["gamma"].replace(value=2.0),
                  T=params["T"].replace(value=0.09), G_N=params["G_N"].replace(value=24e-6))
    b = fit.fit_many(NIS, {"bias": jnp.asarray(V)}, Y, params, sigma=noise, absolute_sigma=True)
    assert b.converged.all() and len(b) == 64
    pulls = np.stack([(b.values[k] - NIS_TRUE[k]) / b.stderr[k] for k in NIS_TRUE], 1)
    assert np.all(np.abs(pulls.mean(0)) < 0.5), pulls.mean(0)  # 4 standard errors of the mean of 64
    assert np.all((0.75 < pulls.std(0)) & (pulls.std(0) < 1.3)), pulls.std(0)  # ~3.5 sigma of a std of 64
    assert b.chi2.mean() == pytest.approx(b.dof, rel=0.07)  # sd of the mean: sqrt(2 dof / 64) / dof = 2 %
    # a single fit of draw 0 gives the same as the batch
    r = fit.curve_fit(NIS, {"bias": jnp.asarray(V)}, Y[0], params, sigma=noise, absolute_sigma=True)
    for k in NIS_TRUE:
        assert r.values[k] == pytest.approx(b.values[k][0], rel=1e-6)
        assert r.stderr[k] == pytest.approx(b.stderr[k][0], rel=1e-4)


def test_bias_offset_and_series_resistance(rng):
    """Forward: the corrected model at the measured bias V_j + R I(V_j) + V_0 is G/(1 + R G), exactly.
    Inverse: both corrections and the junction parameters are recovered from noisy data."""
    R, V0 = 1500.0, 12e-6
    cm = models.Corrected(NIS, bias_offset=True, series_resistance=True)
    I, G = NIS.current_and_conductance({"bias": jnp.asarray(V)}, **NIS_TRUE)
    Vm = jnp.asarray(V) + R * I + V0
    Gm = cm({"bias": Vm}, **NIS_TRUE, V_offset=V0, R_series=R)
    np.testing.assert_allclose(Gm, G / (1 + R * G), rtol=1e-10, atol=1e-16)
    noise = 0.003 * NIS_TRUE["G_N"]
    y = np.asarray(Gm) + noise * rng.standard_normal(V.size)
    p = models.parameters_for(cm, {"delta": 255.0, "T": 0.09, "G_N": 24e-6, "R_series": 500.0})
    r = fit.curve_fit(cm, {"bias": Vm}, y, p, sigma=noise, absolute_sigma=True)
    truth = dict(NIS_TRUE, V_offset=V0, R_series=R)
    assert r.converged and 0.6 < r.chi2_red < 1.5
    for k, v in truth.items():
        assert abs(r.values[k] - v) < 4 * r.stderr[k], (k, r.values[k], r.stderr[k])
    assert r.stderr["R_series"] < 0.2 * R


def test_seed000_spin_split_injector_conductance_in_field(rng):
    """Seed 000 Fig. 2a: G_inj(V, B) of an N-I-S injector on Zeeman-split, orbitally depaired Al,
    fitted for Delta, R_orb, b_so and T (gamma, G_N fixed); at B = 0 the model is the NIS model."""
    ss = models.SpinSplitNIS(n_energy=401)
    truth = dict(delta=245.0, R_orb=6.5, b_so=0.03, T=0.09)
    fixed = dict(gamma=0.3, G_N=1 / 13e3, g_factor=2.0)
    B = jnp.array([0.0, 0.6, 1.2, 1.8])
    Vb = jnp.linspace(-500e-6, 500e-6, 61)
    x = {"field": B[:, None], "bias": Vb[None, :]}
    G = np.asarray(ss(x, **truth, **fixed))
    np.testing.assert_allclose(G[0], NIS({"bias": Vb}, delta=245.0, gamma=0.3, T=0.09, G_N=1 / 13e3), rtol=1e-12)
    # the Zeeman splitting moves the coherence peak (Fig. 2a): at 1.8 T the outer peak sits near Delta + mu_B B
    peak = float(Vb[30 + int(np.argmax(G[3, 30:]))]) * 1e6
    assert peak == pytest.approx(245.0 + 57.88 * 1.8, abs=25.0)
    noise = 0.005 * fixed["G_N"]
    y = G + noise * rng.standard_normal(G.shape)
    p = models.parameters_for(ss, {"delta": 235.0, "R_orb": 4.0, "b_so": 0.08, "T": 0.12,
                                   "gamma": {"start": 0.3, "fixed": True}, "G_N": {"start": 1 / 13e3, "fixed": True}})
    r = fit.curve_fit(ss, x, y, p, sigma=noise, absolute_sigma=True)
    assert r.converged and 0.6 < r.chi2_red < 1.5, r.summary()
    for k, v in truth.items():
        assert abs(r.values[k] - v) < 4 * r.stderr[k], (k, r.values[k], r.stderr[k])
    assert r.stderr["R_orb"] < 0.3 and r.stderr["b_so"] < 0.01


def test_supercurrent_spectral_integral_against_matsubara_sum():
    """int dE Im[(i f)^2] tanh(E/2T) on the real axis = 4 pi T sum_{n>=0} Re[(i f)^2](i(w_n + Gamma))
    (tanh has poles of residue 2T at E = i w_n in the upper half plane), with depairing zeta = q^2/2 and Dynes Gamma."""
    sr = models.SupercurrentRelation(n_energy=4001)
    T, gamma = 0.1, 1.5e-3
    for q in (0.05, 0.3):
        real_axis = float(sr.spectral_integral(jnp.asarray(q), gamma, T))
        w = np.pi * T * (2 * np.arange(40000) + 1)
        _, _, f, _ = green_functions(1j * (w + gamma), 0.0, 1.0, 0.5 * q**2)
        s = np.real((1j * np.asarray(f[0])) ** 2)
        tail = 2.0 / (np.pi * T * (2 * 40000 + 1))  # sum_{n>=N} 4 pi T / w_n^2
        matsubara = 4 * np.pi * T * s.sum() + tail
        assert real_axis == pytest.approx(matsubara, rel=3e-4), (q, real_axis, matsubara)
    # BCS limit: pi tanh(Delta/2T) at small q and Gamma
    assert float(sr.spectral_integral(jnp.asarray(1e-3), 1e-5, 0.05)) == pytest.approx(np.pi, rel=2e-3)


def test_seed001_charge_imbalance_lifetime_phase_gradient_and_I0(rng):
    """Seed 001 Fig. 10 procedure: Gamma from g_ss at I_s = 0 (V_inj < 1.5 Delta), then the phase
    gradient q at each supercurrent with Gamma fixed, then I_0 from I_s(q), Eq. (6)."""
    ci = models.ChargeImbalance(n_energy=1201)
    sr = models.SupercurrentRelation(n_energy=2001)
    defaults = {k: p.value for k, p in ci.parameters().items()}
    gamma_true, I0_true = 1.53e-3, 29.8e-6
    q_true = np.array([0.0, 0.12, 0.2, 0.28])
    Vi = jnp.linspace(0.9, 1.5, 31) * 265e-6  # the fitted range of the paper
    x = {"bias": Vi}
    curves = np.stack([np.asarray(ci(x, **dict(defaults, gamma=gamma_true, q=q))) for q in q_true])
    noise = 0.01 * curves[0].max()
    data = curves + noise * rng.standard_normal(curves.shape)
    # the supercurrents that were applied (what the experiment knows), from Eq. (6)
    Is = np.asarray(sr({"q": jnp.asarray(q_true)}, I0=I0_true, **{k: p.value for k, p in sr.parameters().items()
                                                                     if k != "I0"}))
    r0 = fit.curve_fit(ci, x, data[0], models.parameters_for(ci, {"gamma": 3e-3}), sigma=noise,
                       absolute_sigma=True)
    assert r0.converged and abs(r0.values["gamma"] - gamma_true) < 4 * r0.stderr["gamma"]
    assert r0.stderr["gamma"] < 0.1 * gamma_true
    qs, dqs = [], []
    for i in (1, 2, 3):
        p = models.parameters_for(ci, {"gamma": {"start": r0.values["gamma"], "fixed": True},
                                       "q": {"start": 0.1, "fixed": False}})
        r = fit.curve_fit(ci, x, data[i], p, sigma=noise, absolute_sigma=True)
        assert r.converged and abs(r.values["q"] - q_true[i]) < 4 * r.stderr["q"] + 0.01, (i, r.summary())
        qs.append(r.values["q"])
        dqs.append(r.stderr["q"])
    # I_s(q): the uncertainty of q becomes an effective current error |dI_s/dq| sigma_q
    qs, dqs = np.array(qs), np.array(dqs)
    fixed = {k: p.value for k, p in sr.parameters().items() if k != "I0"}
    slope = np.asarray(jax.vmap(jax.grad(lambda q: sr({"q": q}, I0=1.0, **fixed)))(jnp.asarray(qs)))
    rI = fit.curve_fit(sr, {"q": jnp.asarray(qs)}, Is[1:], models.parameters_for(sr, {"I0": 20e-6}),
                       sigma=np.abs(slope) * I0_true * dqs, absolute_sigma=True)
    assert rI.converged and abs(rI.values["I0"] - I0_true) < 4 * rI.stderr["I0"], rI.summary()
    assert rI.stderr["I0"] < 0.1 * I0_true


def test_nonlocal_map_model_matches_the_kinetic_engine_and_is_fitted(rng):
    """The map model is nonlocal_conductance on the same wire and grid (in siemens); its parameter
    Jacobian equals finite differences; a noisy 13 x 13 map gives back gamma, b_so, h and P_det."""
    import jaxqp as qp

    m = models.NonlocalConductanceMap(n_energy=401, n_x=60)
    truth = dict(gamma=2e-3, b_so=0.03, h=25.0, P_det=0.15)
    p = dict({k: v.value for k, v in m.parameters().items()}, **truth)
    Vi = jnp.linspace(-700e-6, 700e-6, 13)
    x = {"bias_inj": Vi[:, None], "bias_det": Vi[None, :]}
    g = np.asarray(jax.jit(lambda x: m(x, **p))(x))
    # the same wire and grid through the public verb
    w = m.wire(**p)
    t_min = min(float(c.electrode.temperature) for c in w.contacts)
    grid = m.grid(p["gamma"], p["h"] / p["delta"], 0.0, t_min)
    u = 1e6 / p["delta"]
    ref = qp.nonlocal_conductance(w, Vi * u, Vi[::4] * u, grid=grid)
    np.testing.assert_allclose(g[:, ::4], np.asarray(ref.g_nl) / p["R_xi"], rtol=1e-10, atol=1e-20)
    # forward-mode Jacobian in the fitted parameters against central differences, at a fixed quadrature
    # (the model's grid follows gamma and h, a discretisation effect that autodiff does not see)
    f = jax.jit(lambda q, x: m.evaluate(x, dict(p, **q), grid))
    v0 = {k: jnp.asarray(v) for k, v in truth.items()}
    jac = jax.jit(jax.jacfwd(f))(v0, x)
    for k, step in (("gamma", 1e-6), ("b_so", 1e-5), ("h", 1e-3), ("P_det", 1e-5)):
        fd = (np.asarray(f(dict(v0, **{k: v0[k] + step}), x)) - np.asarray(f(dict(v0, **{k: v0[k] - step}), x))) / (
            2 * step)
        np.testing.assert_allclose(np.asarray(jac[k]), fd, rtol=2e-5, atol=2e-5 * np.max(np.abs(fd)), err_msg=k)
    noise = 0.01 * np.max(np.abs(g))
    y = g + noise * rng.standard_normal(g.shape)
    r = fit.curve_fit(m, x, y, models.parameters_for(m, dict(gamma=1.5e-3, b_so=0.02, h=20.0, P_det=0.1)),
                      sigma=noise, absolute_sigma=True)
    assert r.converged and 0.65 < r.chi2_red < 1.35, r.summary()  # 3 sd of chi2/dof at dof 165
    for k, v in truth.items():
        assert abs(r.values[k] - v) < 4 * r.stderr[k], (k, r.values[k], r.stderr[k])


def test_frozen_models_compile_their_prediction_and_other_models_run_as_written():
    """A frozen model's prediction is its uncompiled call, for every parameter value (no value baked
    into the compiled program); a model whose fields may change is not compiled, so a change shows."""
    ci = models.ChargeImbalance(n_energy=201)
    x = {"bias": jnp.linspace(0.9, 1.5, 5) * 265e-6}
    p = {k: v.value for k, v in ci.parameters().items()}
    for gamma in (1e-3, 3e-3):
        np.testing.assert_allclose(np.asarray(ci(x, **dict(p, gamma=gamma))),
                                   np.asarray(type(ci).__call__.__wrapped__(ci, x, **dict(p, gamma=gamma))),
                                   rtol=1e-12)
    assert float(ci(x, **dict(p, gamma=3e-3))[0]) != float(ci(x, **dict(p, gamma=1e-3))[0])

    class Line(models.FitModel):  # not a dataclass: its slope may change between calls
        def __init__(self):
            self.slope = 1.0

        def parameters(self):
            return {"b": fit.Parameter(0.0)}

        def __call__(self, x, b):
            return self.slope * x["t"] + b

    line = Line()
    np.testing.assert_allclose(line({"t": jnp.arange(3.0)}, b=1.0), [1.0, 2.0, 3.0])
    line.slope = 2.0
    np.testing.assert_allclose(line({"t": jnp.arange(3.0)}, b=1.0), [1.0, 3.0, 5.0])

    # a parameter that is a known zero stays one in the compiled call (e.g. zero depairing: the
    # closed-form spectra), a non-zero one is traced
    seen = []

    @dataclasses.dataclass(frozen=True)
    class Shift(models.FitModel):
        def parameters(self):
            return {"b": fit.Parameter(0.0)}

        def __call__(self, x, b):
            seen.append(val.known_zero(b))
            return x["t"] + b

    for b in (0.0, 0.5):
        np.testing.assert_allclose(Shift()({"t": jnp.arange(3.0)}, b=b), np.arange(3.0) + b)
    assert seen == [True, False]
