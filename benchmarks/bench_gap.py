"""Self-consistent Delta(T) sweeps: jaxqp (one batched call) against scipy (brentq + quad per T).

The scipy reference solves the weak-coupling BCS equation on the real axis,
ln(1/Delta) = 2 int_0^inf dxi n_F(E)/E, E = sqrt(xi^2 + Delta^2), temperature by temperature.

    python benchmarks/bench_gap.py
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
from _common import timed, write
from scipy.integrate import quad
from scipy.optimize import brentq

import jaxqp as qp


def scipy_gap(T):
    if T == 0:
        return 1.0
    if T >= qp.TC0:
        return 0.0

    def G(d):
        def integrand(xi):
            return np.exp(-np.hypot(xi, d) / T) / (1 + np.exp(-np.hypot(xi, d) / T)) / np.hypot(xi, d)

        return np.log(1 / d) - 2 * quad(integrand, 0, np.inf, limit=200)[0]

    return brentq(G, 1e-8, 1.0, xtol=1e-14)


def main():
    rows = []
    for n in (100, 1000):
        T = jnp.linspace(0.0, 0.56, n)
        for name, kw in (("bcs", {}), ("spin_split_h0.3_zeta0.02", dict(h=0.3, zeta=0.02))):
            first, best, D = timed(lambda t, kw=kw: qp.gap(t, **kw), T, repeat=2)
            rows.append({"case": name, "n_temperatures": n, "first_call_s": first, "wall_s": best,
                         "per_temperature_ms": 1e3 * best / n})
            print(f"{name:26s} n={n:5d} {best:8.3f} s ({1e3 * best / n:.2f} ms per T), first {first:.1f} s")
    Ts = np.linspace(0.0, 0.56, 100)
    t0 = time.perf_counter()
    Dsp = np.array([scipy_gap(t) for t in Ts])
    tsp = time.perf_counter() - t0
    Dj = np.asarray(qp.gap(jnp.asarray(Ts)))
    jax_100 = next(r["wall_s"] for r in rows if r["case"] == "bcs" and r["n_temperatures"] == 100)
    rows.append({"case": "bcs", "method": "scipy brentq + quad per temperature", "n_temperatures": 100,
                 "wall_s": tsp, "max_abs_difference_to_jaxqp": float(np.max(np.abs(Dsp - Dj))),
                 "speedup_jaxqp_over_scipy": tsp / jax_100})
    print(f"scipy: {tsp:.2f} s for 100 T, max |diff| = {np.max(np.abs(Dsp - Dj)):.2e}, speed-up {tsp / jax_100:.1f}x")
    write("gap_sweep", {"rows": rows})


if __name__ == "__main__":
    main()
