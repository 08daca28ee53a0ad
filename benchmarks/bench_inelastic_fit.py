"""Fit of the electron-electron rate and the injector conductance to a non-local map with the
self-consistent, non-equilibrium gap (seed 001 Figs. 11-12; :class:`jaxqp.inference.models.InelasticNonlocalMap`).

Synthetic data: g_nl(V_inj, V_det) of the seed-001 half wire (pair A-B) at known gamma_ee and G_inj
plus 1 % noise (of max |g_nl|), on V_inj = 0 .. 3.6 Delta0 (continuation sweep) x V_det = +-0.6 Delta0.
Reduced grid: spacing 0.05 Delta0, omega_D = 4, n_x = 24, Dynes gamma = 0.02.  The fit uses exact
Jacobians: g_nl is itself an implicit derivative of the Newton-Krylov solution, so its parameter
derivatives are second derivatives through the implicit function theorem.  Before the fit the
Jacobian is checked against central finite differences.  Compared in the same run: scipy
`least_squares` with finite-difference Jacobians on the same jitted forward model.

    python benchmarks/bench_inelastic_fit.py
"""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import write
from scipy.optimize import least_squares

from jaxqp.inference import fit, models

TRUTH = dict(gamma_ee=5e-3, G_inj=24.6e-6)
START = dict(gamma_ee=2e-3, G_inj=18e-6)
FREE = tuple(TRUTH)


def main() -> None:
    model = models.InelasticNonlocalMap(n_x=24, spacing=0.05, cutoff=4.0, subdivision=4)
    params = models.parameters_for(model, {"gamma": 0.02})
    fixed = {k: p.value for k, p in params.items() if k not in FREE}
    d0 = fixed["delta0"] * 1e-6
    Vi = np.linspace(0.0, 3.6, 10) * d0
    Vd = np.array([-0.6, -0.3, 0.3, 0.6]) * d0
    x = {"bias_inj": jnp.asarray(Vi)[:, None], "bias_det": jnp.asarray(Vd)[None, :]}
    f = jax.jit(lambda v, x: model(x, **fixed, **dict(zip(FREE, v, strict=False))))
    v_true = jnp.array([TRUTH[k] for k in FREE])
    t0 = time.perf_counter()
    clean = np.asarray(f(v_true, x))
    t_forward_cold = time.perf_counter() - t0
    assert np.all(np.isfinite(clean)), "the synthetic map did not converge"
    t0 = time.perf_counter()
    np.asarray(f(v_true, x))
    t_forward = time.perf_counter() - t0
    # exact Jacobian (second derivatives) against central differences
    jac = np.asarray(jax.jit(jax.jacfwd(f))(v_true, x))
    fd_err = {}
    for i, k in enumerate(FREE):
        e = np.zeros(len(FREE))
        e[i] = 1e-4 * float(v_true[i])
        fd = (np.asarray(f(v_true + e, x)) - np.asarray(f(v_true - e, x))) / (2 * e[i])
        fd_err[k] = float(np.max(np.abs(fd - jac[..., i])) / np.max(np.abs(fd)))
    print("Jacobian vs finite differences (max relative):", fd_err)
    noise = 0.01 * float(np.max(np.abs(clean)))
    y = clean + noise * np.random.default_rng(11).standard_normal(clean.shape)
    p = models.parameters_for(model, dict(START, gamma=0.02))
    t0 = time.perf_counter()
    r = fit.curve_fit(model, x, y, p, sigma=noise, absolute_sigma=True)
    t_fit = time.perf_counter() - t0
    print(r.summary())

    calls = [0]

    def residual(v):
        calls[0] += 1
        return ((np.asarray(f(jnp.asarray(v), x)) - y) / noise).ravel()

    v0 = np.array([START[k] for k in FREE])
    t0 = time.perf_counter()
    ref = least_squares(residual, v0, jac="2-point", bounds=(0.0, np.inf), x_scale=v0, method="trf",
                        xtol=1e-10, ftol=1e-10, gtol=1e-10)
    t_scipy = time.perf_counter() - t0
    print(f"jaxqp fit {t_fit:.1f} s (incl. compilation), {r.n_steps} LM steps; scipy {t_scipy:.1f} s, "
          f"{calls[0]} model evaluations, x = {ref.x}")
    write("inelastic_fit", {
        "map": [len(Vi), len(Vd)], "model": {"n_x": model.n_x, "spacing": model.spacing, "cutoff": model.cutoff,
                                             "subdivision": model.subdivision, "gamma": 0.02},
        "truth": TRUTH, "start": START, "noise_S": noise,
        "forward_s": {"cold": t_forward_cold, "warm": t_forward},
        "jacobian_vs_finite_differences_max_rel": fd_err,
        "jaxqp": {"wall_s_incl_compilation": t_fit, "lm_steps": r.n_steps, "converged": r.converged,
                  "chi2_red": r.chi2_red, "values": {k: r.values[k] for k in FREE},
                  "stderr": {k: r.stderr[k] for k in FREE},
                  "pulls_vs_truth": {k: (r.values[k] - TRUTH[k]) / r.stderr[k] for k in FREE},
                  "correlation": float(r.correlation[0, 1])},
        "scipy_least_squares_fd": {"wall_s": t_scipy, "model_evaluations": calls[0], "status": int(ref.status),
                                   "values": dict(zip(FREE, map(float, ref.x), strict=False)),
                                   "chi2_red": float(2 * ref.cost / (y.size - len(FREE)))},
    })


if __name__ == "__main__":
    main()
