"""Local equilibrium of non-equilibrium distributions (potential, spin splitting, temperature per point).

jaxqp solves the three moment equations of `jaxqp.distributions.local_equilibrium` for every point
at once (batched Newton, implicit derivatives); the reference is scipy's ``fsolve`` point by point on
the same equations in NumPy.  The distributions are hot-electron-like double steps on a spin-split
superconductor's density of states.

    python benchmarks/bench_local_equilibrium.py
"""

from __future__ import annotations

import time

import jax.numpy as jnp
import numpy as np
from _common import timed, write
from scipy.optimize import fsolve

import jaxqp as qp
from jaxqp.spectral.bulk import green_functions

S = np.array([1.0, -1.0])


def distributions(E, n_points, rng):
    """Random double steps (two Fermi edges mixed with random weights) in both spin sectors, (2, P, n_E, 2)."""
    V = rng.uniform(0.2, 1.5, n_points)
    w = rng.uniform(0.1, 0.9, n_points)[None, :, None, None]
    step = lambda mu: np.asarray(qp.distributions.equilibrium_modes(E, mu, 0.0, 0.05))  # noqa: E731
    return w * step(np.zeros(n_points)) + (1 - w) * step(V)


def moments(E, N, h):
    return np.array([np.sum(N * h[..., 1]), np.sum(S[:, None] * N * h[..., 0]), np.sum(E * N * h[..., 0])])


def scipy_point(E, N, h):
    target = moments(E, N, h)

    def F(u):
        eq = np.asarray(qp.distributions.equilibrium_modes(E, u[0], u[1], np.exp(u[2])))
        return (target - moments(E, N, eq)) / np.array([1.0, 1.0, np.max(np.abs(E))]) / np.sum(N)

    dE = E[1] - E[0]
    mu0 = -0.25 * np.sum(h[..., 1]) * dE  # the normal-state potential: int f_T dE = -2 mu per sector
    return fsolve(F, [mu0, 0.0, np.log(0.2)], xtol=1e-12)


def main():
    rng = np.random.default_rng(0)
    E = np.linspace(-4.0, 4.0, 401)
    _, g, _, _ = green_functions(jnp.asarray(E) + 1e-2j, 0.2, 1.0, 0.0, 0.0, 0.0)
    N = np.real(np.asarray(g))  # (2, n_E)
    rows = []
    for n in (100, 10000):
        h = distributions(E, n, rng)
        Nb = np.broadcast_to(N[:, None, :], h.shape[:-1])
        first, best, out = timed(lambda hh, Nb=Nb: qp.distributions.local_equilibrium(
            E, Nb, hh, temperature=0.05), jnp.asarray(h), repeat=2)
        ok = bool(np.all(np.asarray(out[2])))
        rows.append({"method": "jaxqp batched Newton", "n_points": n, "n_energy": E.size, "first_call_s": first,
                     "wall_s": best, "all_converged": ok})
        print(f"jaxqp n={n:6d}: {best:.3f} s warm, first {first:.2f} s, converged {ok}")
    h = distributions(E, 100, rng)
    Nb = np.broadcast_to(N[:, None, :], h.shape[:-1])
    t0 = time.perf_counter()
    ref = np.array([scipy_point(E, N, h[:, i]) for i in range(h.shape[1])])
    tsp = time.perf_counter() - t0
    _, (mu, sp, T), _ = qp.distributions.local_equilibrium(E, Nb, jnp.asarray(h), temperature=0.05)
    diff = float(np.max(np.abs(np.stack([np.asarray(mu), np.asarray(sp), np.log(np.asarray(T))], -1) - ref)))
    jax_100 = next(r["wall_s"] for r in rows if r["n_points"] == 100)
    rows.append({"method": "scipy fsolve per point (NumPy moments)", "n_points": 100, "n_energy": E.size,
                 "wall_s": tsp, "max_abs_difference_to_jaxqp": diff, "speedup_jaxqp_over_scipy": tsp / jax_100})
    print(f"scipy: {tsp:.2f} s for 100 points, max |diff| {diff:.1e}, jaxqp {tsp / jax_100:.0f}x faster")
    write("local_equilibrium", {"rows": rows})


if __name__ == "__main__":
    main()
