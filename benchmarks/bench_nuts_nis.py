"""NUTS on the NIS posterior: effective samples per second, this checkout against an earlier revision.

Data: an NIS conductance curve from the independent numpy generator of ``bench_fit_nis.py``
(Dynes-BCS DOS, thermal smearing; delta = 220 ueV, gamma = 1.5 ueV, T = 0.15 K, G_N = 20 uS), 201
biases, 1 % Gaussian noise.  Model ``jaxqp.inference.models.NISConductance()`` (1,001 energies), 4 free
parameters, the model's default priors; a least-squares fit first, then
``jaxqp.inference.bayes.run_nuts(..., init=fit)`` with the default gradient rule (``"auto"``), one chain.

Measured: the wall time of a second, warm ``run_nuts`` call (new seed; compilation excluded), the
effective sample size (numpyro's ``n_eff``, smallest over the parameters) and their ratio, plus
the posterior means and standard deviations.  ``--baseline REV`` runs the same measurement in a
subprocess on a ``git worktree`` of revision ``REV`` (the same machine, the same run), so the
speed-up and the agreement of the two posteriors are recorded together.

    python benchmarks/bench_nuts_nis.py [--baseline 67617ae] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_fit_nis import TRUTH, numpy_nis  # noqa: E402

FREE = ("delta", "gamma", "T", "G_N")


def measure(n_bias: int, num_warmup: int, num_samples: int) -> dict:
    import jax.numpy as jnp

    import jaxqp

    try:
        from jaxqp.inference import bayes, fit, models
    except ImportError:  # a baseline revision from before the inference package
        from jaxqp import bayes, fit, models

    V = np.linspace(-600.0, 600.0, n_bias)  # uV
    sd = 0.01 * TRUTH["G_N"]
    y = numpy_nis(V, **TRUTH, spacing=0.05) + sd * np.random.default_rng(1).standard_normal(V.shape)
    x = {"bias": jnp.asarray(V * 1e-6)}
    model = models.NISConductance()
    start = models.parameters_for(model, {"delta": 230.0, "gamma": 1.0, "T": 0.14, "G_N": 2.1e-5})
    r = fit.curve_fit(model, x, y, start, sigma=sd, absolute_sigma=True)
    t0 = time.perf_counter()
    bayes.run_nuts(model, x, y, sigma=sd, init=r, num_warmup=num_warmup, num_samples=num_samples, seed=0)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    post = bayes.run_nuts(model, x, y, sigma=sd, init=r, num_warmup=num_warmup, num_samples=num_samples, seed=1)
    warm = time.perf_counter() - t0
    summ = post.summary()
    ess = min(summ[k]["n_eff"] for k in FREE)
    return {"jaxqp_file": jaxqp.__file__, "first_s": first, "warm_s": warm, "min_n_eff": ess,
            "ess_per_s": ess / warm, "gradient": post.gradient, "divergences": int(np.sum(post.divergences)),
            "mean": {k: float(post.mean[k]) for k in FREE}, "sd": {k: float(post.sd[k]) for k in FREE},
            "n_eff": {k: float(summ[k]["n_eff"]) for k in FREE}, "fit_stderr": {k: r.stderr[k] for k in FREE}}


def baseline(rev: str, args) -> dict:
    from _common import worktree

    with worktree(rev) as wt:
        env = dict(os.environ, PYTHONPATH=str(wt))
        cmd = [sys.executable, str(Path(__file__).resolve()), "--measure-only", "--n-bias", str(args.n_bias),
               "--warmup", str(args.warmup), "--samples", str(args.samples)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, cwd=wt)
        res = json.loads(out.stdout.strip().splitlines()[-1])
        assert Path(res["jaxqp_file"]).resolve().is_relative_to(wt.resolve()), res["jaxqp_file"]
        res["revision"] = rev
        return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", default=None, help="git revision to compare against (run in a worktree)")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n-bias", type=int, default=201)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--samples", type=int, default=500)
    args = ap.parse_args()
    if args.quick:
        args.warmup, args.samples = 100, 100
    if args.measure_only:
        print(json.dumps(measure(args.n_bias, args.warmup, args.samples)))
        return
    from _common import write

    now = measure(args.n_bias, args.warmup, args.samples)
    out = {"n_bias": args.n_bias, "n_energy": 1001, "num_warmup": args.warmup, "num_samples": args.samples,
           "truth": TRUTH, "this_checkout": now}
    print(f"this checkout: {now['warm_s']:.1f} s warm, min n_eff {now['min_n_eff']:.0f}, "
          f"{now['ess_per_s']:.2f} effective samples/s ({now['gradient']} gradients)")
    if args.baseline:
        base = baseline(args.baseline, args)
        out["baseline"] = base
        out["speedup_ess_per_s"] = now["ess_per_s"] / base["ess_per_s"]
        out["posterior_difference_in_sd"] = {k: (now["mean"][k] - base["mean"][k]) / now["sd"][k] for k in FREE}
        out["sd_ratio"] = {k: now["sd"][k] / base["sd"][k] for k in FREE}
        print(f"{args.baseline}: {base['warm_s']:.1f} s warm, min n_eff {base['min_n_eff']:.0f}, "
              f"{base['ess_per_s']:.2f} effective samples/s ({base['gradient']} gradients); "
              f"speed-up {out['speedup_ess_per_s']:.1f}x")
    write("nuts_nis_quick" if args.quick else "nuts_nis", out)


if __name__ == "__main__":
    main()
