"""The GPU-relevant workloads in float64 and float32, with the float32 error against float64.

Each workload runs in its own process per precision (``JAXQP_X64=1`` / ``0`` must be set before
jaxqp is imported), under a time limit, and reports the first call (compilation included), the best
of two warm calls and its result; the parent compares the float32 result with the float64 one
(maximum deviation relative to the largest float64 value) and writes ``results/gpu_suite_<backend>.json``
with the device name.  ``--smoke`` runs small sizes on any machine (CI runs it on the CPU).  The
exit status is 1 when a float64 run fails; a float32 run that fails (a solver that does not reach
its tolerance in single precision) is recorded as a finding.

| workload | full size (a GPU) | smoke |
| --- | --- | --- |
| ``spectral`` | DOS of the spin-split solver, 1e7 energies | 1e4 |
| ``nonlocal_map`` | 201 x 201 non-local map, 2,000 energies, 200 nodes | 11 x 11, 1,001, 60 |
| ``g0_map`` | seed 004 G0(T_S, h) map, 200 x 200 points, 2,001 energies | 8 x 8, 401 |
| ``proximity`` | 1-D retarded Usadel solve, 4,000 energies x 400 nodes | 200 x 60 |
| ``spin`` | general spin solver, seed 003 FI/S/FI point, 400 energies | 100 |
| ``inelastic`` | non-equilibrium Delta with e-e collisions, 11 biases, spacing 1/80 | 1 bias, 1/10 |
| ``map_fit`` | 101 x 101 non-local map fit, 4 parameters | 11 x 11 |

    python benchmarks/gpu_suite.py [--smoke] [--only spectral,g0_map] [--limit 150]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


# ----------------------------------------------------------------- workloads: (size) -> function of nothing
def spectral(smoke):
    import jax
    import jax.numpy as jnp

    import jaxqp as qp

    n = 10**4 if smoke else 10**7
    sc = qp.Superconductor(h=0.3, zeta=0.02, b_so=0.05, b_sf=0.01, gamma=1e-3)
    E = jnp.linspace(-3.0, 3.0, n)
    f = jax.jit(lambda E: qp.dos(sc, E))
    return {"energies": n}, lambda: f(E)[:, :: max(1, n // 10**4)]


def nonlocal_map(smoke):
    import jax.numpy as jnp
    from bench_nonlocal_map import device

    import jaxqp as qp

    n, n_e, n_x = (11, 1001, 60) if smoke else (201, 2000, 200)
    wire = device(n_x)
    V = jnp.linspace(-3.0, 3.0, n)
    return {"map": [n, n], "n_energy": n_e, "n_x": n_x}, lambda: qp.nonlocal_conductance(wire, V, V, n_energy=n_e).g_nl


def g0_map(smoke):
    import jax.numpy as jnp
    from bench_thermospin_map import GAMMA, T_SM, TC

    import jaxqp as qp
    from jaxqp.devices import thermospin as ts

    n, n_e = (8, 401) if smoke else (200, 2001)
    T_S = jnp.linspace(0.05, 0.95, n) * TC
    h = jnp.linspace(0.0, 0.7, n)
    j = ts.ThermospinJunction(h=h[None, :], T_S=T_S[:, None], T_Sm=T_SM, gamma=GAMMA,
                              delta_S=qp.gap(T_S)[:, None], delta_Sm=qp.gap(T_SM, h=h)[None, :])
    return {"map": [n, n], "n_energy": n_e}, lambda: ts.g0(j, n_energy=n_e)


def proximity(smoke):
    import jax.numpy as jnp
    from bench_proximity import device

    from jaxqp.spectral.wire import solve_proximity

    n_e, n_x = (200, 60) if smoke else (4000, 400)
    wire = device(n_x)
    E = jnp.linspace(0.0, 2.0, n_e)
    return {"n_energy": n_e, "n_x": n_x}, lambda: solve_proximity(wire, E, throw=False).dos


def spin(smoke):
    from jaxqp.devices import spin_supercurrent as ssc

    n_e = 100 if smoke else 400
    dev = ssc.device()
    return {"n_energy": n_e}, lambda: ssc.solve(dev, 0.25, (1.0, 0.0, 0.0), n_energy=n_e).current


def inelastic(smoke):
    import jax.numpy as jnp

    import jaxqp as qp
    from jaxqp.devices import nonlocal_wire as nw

    nb, spacing, n_x = (1, 1 / 10, 24) if smoke else (11, 1 / 80, 64)
    wire = nw.half_wire(("A", "B"), n_x=n_x)
    ee = qp.ElectronElectron(2e-4, modes="energy")
    V = jnp.linspace(0.5, 3.0, nb)
    biases = jnp.stack([V, jnp.zeros_like(V)], -1)
    grid = qp.uniform_grid(10.0, spacing)
    return ({"n_bias": nb, "spacing": spacing, "n_x": n_x},
            lambda: qp.gap_sweep(wire, [ee], biases, gap=qp.GapEquation(cutoff=10.0), grid=grid).delta)


def map_fit(smoke):
    import jax.numpy as jnp
    from bench_fit_map import FREE, START, TRUTH

    from jaxqp.inference import fit, models

    n = 11 if smoke else 101
    model = models.NonlocalConductanceMap(n_energy=401 if smoke else 801, n_x=60 if smoke else 120)
    fixed = {k: p.value for k, p in model.parameters().items() if k not in FREE}
    V = np.linspace(-700e-6, 700e-6, n)
    x = {"bias_inj": jnp.asarray(V)[:, None], "bias_det": jnp.asarray(V)[None, :]}
    y = np.asarray(model(x, **fixed, **TRUTH))
    noise = 0.01 * float(np.max(np.abs(y)))
    y = y + noise * np.random.default_rng(7).standard_normal(y.shape)
    p = models.parameters_for(model, START)

    def run():  # the fitted parameters relative to the truth (all of order one)
        r = fit.curve_fit(model, x, y, p, sigma=noise, absolute_sigma=True)
        return np.array([r.values[k] / TRUTH[k] for k in FREE])

    return {"map": [n, n], "free": list(FREE)}, run


WORKLOADS = {f.__name__: f for f in (spectral, nonlocal_map, g0_map, proximity, spin, inelastic, map_fit)}


# ----------------------------------------------------------------- one workload in this process
def child(name: str, smoke: bool, out: Path) -> None:
    sys.path.insert(0, str(HERE))
    import jax

    import jaxqp  # noqa: F401  (sets the precision from JAXQP_X64)

    sizes, fn = WORKLOADS[name](smoke)
    t0 = time.perf_counter()
    res = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    warm = []
    for _ in range(2):
        t0 = time.perf_counter()
        res = jax.block_until_ready(fn())
        warm.append(time.perf_counter() - t0)
    res = np.asarray(res)
    np.save(out, res)
    dev = jax.devices()[0]
    print(json.dumps({"sizes": sizes, "first_call_s": first, "warm_s": min(warm), "dtype": str(res.dtype),
                      "finite": bool(np.all(np.isfinite(res))), "device": str(getattr(dev, "device_kind", dev)),
                      "backend": jax.default_backend()}))


# ----------------------------------------------------------------- driver
def main(smoke: bool, only: list[str], limit: float) -> int:
    sys.path.insert(0, str(HERE))
    from _common import write

    tmp = Path(tempfile.mkdtemp())
    rows, status = {}, 0
    for name in only:
        row = {}
        for bits in ("64", "32"):
            out = tmp / f"{name}_{bits}.npy"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", name, "--out", str(out)]
            cmd += ["--smoke"] if smoke else []
            env = dict(os.environ, JAXQP_X64="1" if bits == "64" else "0")
            t0 = time.perf_counter()
            try:
                p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=limit)
                ok = p.returncode == 0
                info = json.loads(p.stdout.strip().splitlines()[-1]) if ok else {"error": p.stderr[-2000:]}
            except subprocess.TimeoutExpired:
                ok, info = False, {"error": f"timed out after {limit} s"}
            info["process_s"] = time.perf_counter() - t0
            row[f"float{bits}"] = info
            status |= 0 if ok or bits == "32" else 1  # float32 failures are findings, recorded in the JSON
            print(f"{name:13s} float{bits}: " + (f"first {info['first_call_s']:.2f} s, warm {info['warm_s']:.3f} s"
                                                 if ok else info["error"].splitlines()[-1]), flush=True)
        if "error" not in row["float64"] and "error" not in row["float32"]:
            a, b = np.load(tmp / f"{name}_64.npy"), np.load(tmp / f"{name}_32.npy")
            scale = float(np.max(np.abs(a))) or 1.0
            row["float32_max_error_relative"] = float(np.max(np.abs(a - b)) / scale)
            row["float32_speedup_warm"] = row["float64"]["warm_s"] / row["float32"]["warm_s"]
            print(f"{'':13s} float32 error {row['float32_max_error_relative']:.2e}, "
                  f"speed-up {row['float32_speedup_warm']:.2f}x", flush=True)
        rows[name] = row
        write("gpu_suite_smoke" if smoke else "gpu_suite", {"smoke": smoke, "limit_s": limit, "workloads": rows})
    return status


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="small sizes (any machine)")
    ap.add_argument("--only", default=",".join(WORKLOADS), help="comma-separated workloads")
    ap.add_argument("--limit", type=float, default=150.0, help="seconds per workload and precision")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        child(a.child, a.smoke, a.out)
    else:
        sys.exit(main(a.smoke, a.only.split(","), a.limit))
