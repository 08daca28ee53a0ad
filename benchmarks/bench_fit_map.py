"""A full Levenberg-Marquardt fit of a 101 x 101 non-local conductance map with 4 free parameters.

Model: :class:`jaxqp.inference.models.NonlocalConductanceMap`, the seed-001 wire (junction pair A-B, injector
in the middle, detector 300 nm away, reservoirs at the ends) with Zeeman splitting h, spin-orbit
relaxation b_so, Dynes gamma and a spin-polarised detector barrier P_det: g_nl(V_inj, V_det) in
siemens on a 101 x 101 bias map (|V| <= 700 uV), n_energy = 801, n_x = 120, float64.  Synthetic data:
the model at known parameters plus 1 % Gaussian noise (of max |g_nl|).

- jaxqp: `jaxqp.inference.fit.curve_fit` (optimistix Levenberg-Marquardt, and Gauss-Newton; exact
  Jacobians by forward-mode autodiff through the kinetic solver), from a start 20-50 % off (farther starts can end in a
  side minimum near h = 97 ueV: use n_starts there); cold (incl. compilation) and warm.
- scipy: `scipy.optimize.least_squares` (trust-region reflective with the same bounds, x_scale at
  the start values) with 2-point finite-difference Jacobians, on the same jitted jaxqp forward model,
  in the same run.  Its model evaluations are counted (the finite-difference ones included).

    python benchmarks/bench_fit_map.py [--quick]     # --quick: a 41 x 41 map
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import write
from scipy.optimize import least_squares

from jaxqp.inference import fit, models

TRUTH = dict(gamma=2.0e-3, b_so=0.03, h=25.0, P_det=0.15)
START = dict(gamma=1.5e-3, b_so=0.02, h=20.0, P_det=0.1)
FREE = tuple(TRUTH)


def main(quick: bool = False) -> None:
    n = 41 if quick else 101
    model = models.NonlocalConductanceMap(n_energy=801, n_x=120)
    params = model.parameters()
    fixed = {k: p.value for k, p in params.items() if k not in FREE}
    Vi = np.linspace(-700e-6, 700e-6, n)
    Vd = np.linspace(-700e-6, 700e-6, n)
    x = {"bias_inj": jnp.asarray(Vi)[:, None], "bias_det": jnp.asarray(Vd)[None, :]}
    clean = np.asarray(jax.jit(lambda x: model(x, **fixed, **TRUTH))(x))
    noise = 0.01 * float(np.max(np.abs(clean)))
    y = clean + noise * np.random.default_rng(7).standard_normal(clean.shape)
    p = models.parameters_for(model, START)

    runs = []
    for label in ("cold", "warm"):
        t0 = time.perf_counter()
        r = fit.curve_fit(model, x, y, p, sigma=noise, absolute_sigma=True)
        runs.append((label, time.perf_counter() - t0, r))
    r = runs[-1][2]
    print(r.summary())
    gn = []
    for _ in ("cold", "warm"):  # the same fit by Gauss-Newton (no damping)
        t0 = time.perf_counter()
        rg = fit.curve_fit(model, x, y, p, sigma=noise, absolute_sigma=True, method="gauss_newton")
        gn.append(time.perf_counter() - t0)
    gauss_newton = {"cold_s": gn[0], "warm_s": gn[1], "steps": rg.n_steps, "converged": rg.converged,
                    "chi2": rg.chi2, "values": {k: rg.values[k] for k in FREE}}
    jaxqp_out = {
        "cold_s": runs[0][1], "warm_s": runs[1][1], "lm_steps": r.n_steps,
        "model_evaluations": {"value_and_jacobian": r.n_steps,
                              "note": "each LM step linearises the model once: one forward pass with "
                                      f"{len(FREE)} tangents (jax.jacfwd)"},
        "converged": r.converged, "chi2_red": r.chi2_red,
        "values": {k: r.values[k] for k in FREE}, "stderr": {k: r.stderr[k] for k in FREE},
    }

    # scipy: the same jitted forward model, finite-difference Jacobians
    f = jax.jit(lambda v, x: model(x, **fixed, **dict(zip(FREE, v, strict=False))))
    calls = [0]

    def residual(v):
        calls[0] += 1
        return ((np.asarray(f(jnp.asarray(v), x)) - y) / noise).ravel()

    v0 = np.array([START[k] for k in FREE])
    residual(v0)  # compile outside the timing
    calls[0] = 0
    lo = np.array([params[k].lower for k in FREE])
    hi = np.array([params[k].upper for k in FREE])
    t0 = time.perf_counter()
    ref = least_squares(residual, v0, jac="2-point", bounds=(lo, hi), x_scale=np.abs(v0), method="trf",
                        xtol=1e-10, ftol=1e-10, gtol=1e-10)
    t_scipy = time.perf_counter() - t0
    J = ref.jac
    with np.errstate(all="ignore"):
        err = np.sqrt(np.diag(np.linalg.inv(J.T @ J)))
    scipy_out = {
        "wall_s": t_scipy, "model_evaluations": calls[0], "nfev": int(ref.nfev), "njev": int(ref.njev or 0),
        "status": int(ref.status), "message": ref.message, "chi2_red": float(2 * ref.cost / (y.size - len(FREE))),
        "values": dict(zip(FREE, map(float, ref.x), strict=False)),
        "stderr_fd_jacobian": dict(zip(FREE, map(float, err), strict=False)),
    }
    agree = {k: abs(r.values[k] - scipy_out["values"][k]) / r.stderr[k] for k in FREE}
    print(f"jaxqp LM {runs[1][1]:.2f} s warm ({runs[0][1]:.2f} s cold), {r.n_steps} steps; Gauss-Newton "
          f"{gn[1]:.2f} s warm, {rg.n_steps} steps; scipy {t_scipy:.2f} s, {calls[0]} model evaluations "
          f"({ref.njev} Jacobians); ratio scipy / jaxqp LM {t_scipy / runs[1][1]:.2f}")
    write("fit_map_quick" if quick else "fit_map", {
        "map": [n, n], "n_energy": model.n_energy, "n_x": model.n_x, "free": list(FREE), "truth": TRUTH,
        "start": START, "noise_S": noise, "jaxqp": jaxqp_out, "jaxqp_gauss_newton": gauss_newton,
        "scipy_least_squares_fd": scipy_out, "chi2": {"jaxqp_lm": r.chi2, "scipy": 2 * ref.cost},
        "ratio_scipy_over_jaxqp_warm": t_scipy / runs[1][1], "ratio_scipy_over_jaxqp_cold": t_scipy / runs[0][1],
        "difference_in_stderr_units": agree,
        "pulls_vs_truth": {k: (r.values[k] - TRUTH[k]) / r.stderr[k] for k in FREE},
    })


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
