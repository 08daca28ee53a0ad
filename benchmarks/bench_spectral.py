"""Spectral throughput: energies per second of the homogeneous spin-split solver.

jaxqp (all energies in one vectorised, jitted call) against the straightforward scipy way
(``scipy.optimize.root`` energy by energy on the real and imaginary parts of the Maki-Fulde
equation, started from the large-energy asymptote), in the same run.

    python benchmarks/bench_spectral.py [--max-exp 7]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import timed, write
from scipy.optimize import root

import jaxqp as qp

CASES = {
    "dynes_bcs": dict(delta=1.0, gamma=1e-4),
    "spin_split_depairing_so": dict(delta=1.0, h=0.3, zeta=0.05, b_so=0.02, b_sf=0.005, gamma=1e-4),
}


def scipy_dos(p, E):
    """The plain way: one scipy root-find per energy, no vectorisation, no continuation."""
    d, h, z, bso, bsf, g = (p.get(k, 0.0) for k in ("delta", "h", "zeta", "b_so", "b_sf", "gamma"))

    def inv_s(v):
        s = np.sqrt(d * d - v * v + 0j)
        c = 1 / s
        return -c if np.imag(v * c) < 0 else c

    out = np.empty((2, E.size))
    fails = 0
    for i, e in enumerate(E):
        eu, ed = e + h + 1j * g, e - h + 1j * g

        def F(x, eu=eu, ed=ed):
            vu, vd = x[0] + 1j * x[1], x[2] + 1j * x[3]
            cu, cd = inv_s(vu), inv_s(vd)
            ru = vu - eu - z * vu * cu - bso * (vd - vu) * cd - bsf * ((vd + vu) * cd + vu * cu)
            rd = vd - ed - z * vd * cd - bso * (vu - vd) * cu - bsf * ((vu + vd) * cu + vd * cd)
            return [ru.real, ru.imag, rd.real, rd.imag]

        x0 = [eu.real, eu.imag + z + 3 * bsf, ed.real, ed.imag + z + 3 * bsf]
        sol = root(F, x0, method="hybr", tol=1e-12)
        fails += not sol.success
        vu, vd = sol.x[0] + 1j * sol.x[1], sol.x[2] + 1j * sol.x[3]
        out[0, i] = np.real(-1j * vu * inv_s(vu))
        out[1, i] = np.real(-1j * vd * inv_s(vd))
    return out, fails


def main(max_exp: int = 7, n_scipy: int = 400):
    rows = []
    for name, p in CASES.items():
        sc = qp.Superconductor(**p)
        f = jax.jit(lambda E, sc=sc: qp.dos(sc, E))
        for k in range(3, max_exp + 1):
            n = 10**k
            E = jnp.linspace(-3.0, 3.0, n)
            first, best, N = timed(f, E, repeat=2 if n >= 10**6 else 5)
            conv = bool(qp.solve(sc, E[:: max(1, n // 10**5)]).converged.all())
            rows.append({"case": name, "n_energies": n, "first_call_s": first, "wall_s": best,
                         "energies_per_s": n / best, "converged": conv})
            print(f"{name:28s} n={n:>9d}  {best:9.4f} s  {n / best:12.3e} /s")
        Es = np.linspace(-3.0, 3.0, n_scipy)
        t0 = time.perf_counter()
        Ns, fails = scipy_dos(p, Es)
        ts = time.perf_counter() - t0
        Nj = np.asarray(qp.dos(sc, jnp.asarray(Es)))
        agree = float(np.mean(np.all(np.abs(Ns - Nj) < 1e-6, axis=0)))
        jax_rate = max(r["energies_per_s"] for r in rows if r["case"] == name)
        rows.append({"case": name, "method": "scipy.optimize.root per energy", "n_energies": n_scipy,
                     "wall_s": ts, "energies_per_s": n_scipy / ts, "failures": fails,
                     "fraction_agreeing_1e-6": agree, "speedup_jaxqp_over_scipy": jax_rate / (n_scipy / ts)})
        print(f"{name:28s} scipy: {n_scipy / ts:10.3e} /s, {fails} failures, agreement {agree:.3f}, "
              f"jaxqp speed-up {jax_rate / (n_scipy / ts):.0f}x")
    write("spectral_throughput", {"rows": rows, "target": "1e6 energies/s on a 2-core CPU, 1e8/s on one H100"})


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-exp", type=int, default=7)
    ap.add_argument("--n-scipy", type=int, default=400)
    a = ap.parse_args()
    main(a.max_exp, a.n_scipy)
