"""First call of each public verb in a fresh process: import time, first call (tracing and
compilation included) and a second, warm call.  The persistent compilation cache is off
(``JAXQP_CACHE=0``), so the first call is what a new user's script or notebook pays.

``--baseline REV`` measures a ``git worktree`` of revision ``REV`` in the same run, verb for verb.

    python benchmarks/bench_compile.py [--baseline 82fc125] [--verbs dos gap ...]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

SETUP = """
import jax, jax.numpy as jnp
import jaxqp as qp
S = qp.Superconductor(delta=1.0, gamma=1e-3)
N = qp.NormalMetal(temperature=0.05)
"""

# the examples of the README, one verb each
VERBS = {
    "dos": "qp.dos(qp.Superconductor(delta=1.0, h=0.3, zeta=0.02, b_so=0.05, gamma=1e-3), jnp.linspace(-2, 2, 2001))",
    "gap": "qp.gap(T=0.3, h=0.2)",
    "grad_gap": "jax.grad(lambda h: qp.gap(0.3, h=h))(0.2)",
    "tunnel_current": "qp.tunnel_current(N, qp.Superconductor(delta=1.0, gamma=1e-4, temperature=0.05), "
                      "jnp.linspace(-2, 2, 401))",
    "differential_conductance": "qp.differential_conductance(N, qp.Superconductor(delta=1.0, gamma=1e-4, "
                                "temperature=0.05), jnp.linspace(-2, 2, 401))",
    "nonlocal_conductance": (
        "wire = qp.Wire(qp.Superconductor(delta=1.0, h=0.2, gamma=1e-3, b_so=0.01), 40.0, "
        "(qp.TunnelContact(20.0, 0.05, qp.NormalMetal(temperature=0.03), polarization=0.2), "
        "qp.TunnelContact(24.0, 0.01, qp.NormalMetal(temperature=0.03))), temperature=0.03)\n"
        "RUN = lambda: qp.nonlocal_conductance(wire, jnp.linspace(-3, 3, 201), jnp.linspace(-3, 3, 201)).g_nl"),
    "solve_proximity": (
        "Sx, Nx = qp.Superconductor(delta=1.0), qp.Superconductor(delta=0.0)\n"
        "sns = qp.Chain((qp.Segment(Sx, 1e-3, n_x=4, conductance=1e4, phase=-1.0), qp.Segment(Nx, 10.0, n_x=81), "
        "qp.Segment(Sx, 1e-3, n_x=4, conductance=1e4, phase=+1.0)), temperature=0.01)\n"
        "RUN = lambda: qp.solve_proximity(sns, jnp.linspace(0, 0.1, 201)).gamma"),
    "josephson_current": (
        "Sx, Nx = qp.Superconductor(delta=1.0), qp.Superconductor(delta=0.0)\n"
        "sns = qp.Chain((qp.Segment(Sx, 1e-3, n_x=4, conductance=1e4, phase=-1.0), qp.Segment(Nx, 10.0, n_x=81), "
        "qp.Segment(Sx, 1e-3, n_x=4, conductance=1e4, phase=+1.0)), temperature=0.01)\n"
        "RUN = lambda: qp.josephson_current(sns).current"),
    "solve_spin": (
        "wire = qp.SpinWire(qp.Superconductor(delta=1.0, gamma=0.01), 1.5, 31, "
        "ends=(qp.SpinActive(0.6, (1, 0, 0)), qp.SpinActive(0.6, (0, 1, 0))))\n"
        "RUN = lambda: qp.solve_spin(wire, jnp.linspace(0.0, 3.0, 301)).gamma"),
    "solve_spin_kinetic": (
        "inj = qp.SpinWire(qp.Superconductor(delta=1.0, gamma=5e-3, h=0.2), 3.0, 13, "
        "ends=(qp.SpinActive(0.5, (0, 0, 1), conductance=0.5, electrode=qp.NormalMetal()), 'reservoir'))\n"
        "d = (qp.SpinDistribution(0.1, spin_voltage=1.5, axis=(1, 0, 0)), qp.SpinDistribution(0.1))\n"
        "RUN = lambda: qp.solve_spin_kinetic(inj, qp.grids.uniform(-3.0, 3.0, 301), d).modes"),
}


def _program(verb: str) -> str:
    body = VERBS[verb]
    run = body if "RUN =" in body else f"RUN = lambda: {body}"
    return f"""
import json, time
t0 = time.perf_counter()
{SETUP}
t_import = time.perf_counter() - t0
{run}
t0 = time.perf_counter(); jax.block_until_ready(RUN()); first = time.perf_counter() - t0
t0 = time.perf_counter(); jax.block_until_ready(RUN()); warm = time.perf_counter() - t0
print(json.dumps({{"import_s": t_import, "first_call_s": first, "warm_call_s": warm, "jaxqp_file": qp.__file__}}))
"""


def measure(verbs, cwd: Path | None = None, pythonpath: str | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "JAX_COMPILATION_CACHE_DIR"}
    env["JAXQP_CACHE"] = "0"
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    rows = {}
    for verb in verbs:
        out = subprocess.run([sys.executable, "-c", _program(verb)], env=env, cwd=cwd, capture_output=True,
                             text=True, timeout=900)
        if out.returncode != 0:
            rows[verb] = {"error": out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "failed"}
        else:
            rows[verb] = json.loads(out.stdout.strip().splitlines()[-1])
            rows[verb]["stderr_lines"] = [ln for ln in out.stderr.splitlines() if ln.strip()]
        r = rows[verb]
        if "error" in r:
            print(f"  {verb:26s} error: {r['error']}")
        else:
            print(f"  {verb:26s} import {r['import_s']:5.2f} s  first call {r['first_call_s']:6.2f} s  "
                  f"warm {r['warm_call_s']:.3f} s")
    return rows


def baseline(rev: str, verbs) -> dict:
    from _common import worktree

    with worktree(rev) as wt:
        rows = measure(verbs, cwd=wt, pythonpath=str(wt))
        for r in rows.values():
            if "jaxqp_file" in r:
                assert Path(r["jaxqp_file"]).resolve().is_relative_to(wt.resolve()), r["jaxqp_file"]
        return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default=None, help="git revision to compare against (run in a worktree)")
    ap.add_argument("--verbs", nargs="*", default=list(VERBS), choices=list(VERBS))
    args = ap.parse_args()
    from _common import write

    print("this checkout:")
    now = measure(args.verbs, cwd=HERE.parent)
    out = {"cache": "off (JAXQP_CACHE=0)", "verbs": {k: VERBS[k] for k in args.verbs}, "this_checkout": now,
           "max_first_call_s": max((r["first_call_s"] for r in now.values() if "first_call_s" in r), default=None)}
    if args.baseline:
        print(f"{args.baseline}:")
        base = baseline(args.baseline, args.verbs)
        out["baseline"] = {"revision": args.baseline, **base}
        out["first_call_ratio"] = {k: now[k]["first_call_s"] / base[k]["first_call_s"] for k in args.verbs
                                   if "first_call_s" in now[k] and "first_call_s" in base.get(k, {})}
    write("compile", out)


if __name__ == "__main__":
    main()
