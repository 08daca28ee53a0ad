"""``jaxqp run``: what chunking, writing every chunk and resuming cost, against one direct call and NumPy.

An NIS junction swept over field and temperature (a G(B, T, V) map):

- ``jaxqp run`` through :mod:`jaxqp.app.runner` (chunks on disk, sharded function, assembly);
- the same numbers from one vectorised ``qp.junction_response`` call (no chunks, no files);
- resume: the time to finish after half of the chunk files are deleted;
- the straightforward NumPy way: a loop over sweep points with a vectorised trapezoid integral per
  bias on a uniform energy grid (the BCS-Dynes DOS in closed form, self-consistent Delta from jaxqp).

    python benchmarks/bench_run_sweep.py [--quick]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import jax
import numpy as np
from _common import write

import jaxqp as qp
from jaxqp.app import runconfig, runner

KB_UEV = 86.17333262
MUB_UEV = 57.883818060


def config(n_B: int, n_T: int, n_V: int, n_E: int) -> dict:
    return {
        "task": "junction", "units": {"delta0": "200 ueV"},
        "left": {"kind": "normal", "temperature": "60 mK"},
        "right": {"kind": "superconductor", "gamma": "1e-3 Delta0"},
        "grid": {"bias": {"start": "-0.5 mV", "stop": "0.5 mV", "num": n_V}, "n_energy": n_E},
        "sweep": {"right.field": {"start": "0 T", "stop": "1.5 T", "num": n_B},
                  "right.temperature": {"start": "60 mK", "stop": "600 mK", "num": n_T}},
    }


def numpy_map(V, h, T, delta, gamma, n_uniform, TN):
    """Loop over sweep points; per bias one trapezoid integral on a uniform grid (normal electrode at TN)."""
    E = np.linspace(-4.0, 4.0, n_uniform)
    out = np.empty((h.size, T.size, V.size))
    for i, hh in enumerate(h):
        for j in range(T.size):
            d, t = delta[i, j], TN
            N = 0.0
            for s in (+1, -1):
                z = E + s * hh + 1j * gamma
                N = N + 0.5 * np.abs(np.real(z / np.sqrt(z * z - d * d + 0j)))
            # G(V) = -int N_S(E) f'(E - V) dE for a normal left electrode at temperature t
            for k, v in enumerate(V):
                x = (E - v) / (2 * t)
                out[i, j, k] = np.trapezoid(N / (4 * t * np.cosh(x) ** 2), E)
    return out


def main(quick: bool):
    n_B, n_T, n_V, n_E = (8, 4, 101, 1001) if quick else (32, 16, 201, 2001)
    raw = config(n_B, n_T, n_V, n_E)
    cfg = runconfig.from_dict(raw)
    tmp = Path(tempfile.mkdtemp())
    try:
        pl = runner.plan(cfg)
        t0 = time.perf_counter()
        ds, _ = runner.run(cfg, out=tmp / "a")
        first = time.perf_counter() - t0
        shutil.rmtree(tmp / "a")
        t0 = time.perf_counter()
        ds, _ = runner.run(cfg, out=tmp / "a")
        warm = time.perf_counter() - t0
        files = sorted((tmp / "a" / "chunks").glob("*.npz"))
        for f in files[len(files) // 2:]:
            f.unlink()
        (tmp / "a" / "result.nc").unlink()
        t0 = time.perf_counter()
        ds2, _ = runner.run(cfg, out=tmp / "a")
        resume = time.perf_counter() - t0
        identical = bool(ds2.identical(ds))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    d0 = 200.0
    h = MUB_UEV * np.linspace(0, 1.5, n_B) / d0
    T = KB_UEV * np.linspace(0.06, 0.6, n_T) / d0
    V = np.linspace(-2.5, 2.5, n_V)
    delta = np.asarray(qp.gap(T[None, :], h=h[:, None]))

    TN = KB_UEV * 0.06 / d0  # the normal electrode stays at 60 mK; the sweep heats the superconductor

    def direct():
        N = qp.NormalMetal(temperature=TN)
        S = qp.Superconductor(delta=delta[:, :, None], h=h[:, None, None], gamma=1e-3, temperature=T[None, :, None])
        return qp.junction_response(N, S, V[None, None, :], n_energy=n_E)["conductance"].charge

    t0 = time.perf_counter()
    G = jax.block_until_ready(direct())
    direct_first = time.perf_counter() - t0
    t0 = time.perf_counter()
    G = jax.block_until_ready(direct())
    direct_warm = time.perf_counter() - t0
    same = float(np.max(np.abs(np.asarray(G) - ds.conductance.values)))

    n_np = 20001
    sub = (slice(0, 2), slice(0, 2))  # time a corner, extrapolate per point
    t0 = time.perf_counter()
    Gn = numpy_map(V, h[sub[0]], T[sub[1]], delta[sub], 1e-3, n_np, TN)
    t_np = (time.perf_counter() - t0) / 4 * n_B * n_T
    np_err = float(np.max(np.abs(Gn - ds.conductance.values[sub])))

    rows = {
        "grid": {"n_field": n_B, "n_temperature": n_T, "n_bias": n_V, "n_energy": n_E, "points": n_B * n_T,
                 "chunk": pl.chunk, "n_chunks": pl.n_chunks},
        "jaxqp_run_first_s": first, "jaxqp_run_warm_s": warm, "resume_half_s": resume,
        "resume_identical": identical,
        "direct_call_first_s": direct_first, "direct_call_warm_s": direct_warm,
        "run_vs_direct_max_abs_diff": same,
        "chunking_overhead_warm": warm / direct_warm,
        "numpy_loop_s_extrapolated": t_np, "numpy_uniform_energies": n_np,
        "numpy_max_abs_diff_G": np_err,
    }
    print(rows)
    write("run_sweep" + ("_quick" if quick else ""), rows)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    main(ap.parse_args().quick)
