"""The 1-D retarded Usadel solver `solve_proximity` on a superconducting wire with a normal tunnel injector.

Device: a 40 xi superconducting wire (Delta = 1, Gamma = 1e-3, h = 0) between two superconducting
reservoirs (Dirichlet: bulk solution at both ends), with a point tunnel contact (kappa = 0.1) to a
normal metal in the middle, x0 = 20 xi.  jaxqp: `jaxqp.spectral.wire.solve_proximity` at
n_E = 4000 energies on [-3, 3] and n_x = 400 position nodes (the default graded grid of
`jaxqp.Wire`), one batched call; cold = first call incl. compilation, warm = second call.  The same
call is also timed with `Options(rtol=1e-10)`, a Newton-update tolerance below the round-off floor of
the graded grid: the update stalls and the batch runs to the iteration cap (same result).

Reference in the same run: `scipy.integrate.solve_bvp` energy by energy on a subset of the
energies, for the same problem in the theta parametrisation (g = cosh theta, f = sinh theta; h = 0,
so one spin sector suffices):

    theta'' = -2i z sinh(theta) + 2i Delta cosh(theta),   z = E + i Gamma,   0 < x < 40,
    theta(0) = theta(40) = theta_bulk = artanh(Delta / z)   (retarded branch: Re cosh >= 0),
    theta'(x0+) - theta'(x0-) = kappa sinh(theta(x0))        (the tunnel contact to g_e = tau_3).

The two halves [0, x0] and [x0, 40] are mapped onto s in [0, 1] (x = x0 s on the left, x = 40 - (40 - x0) s
on the right, so that both reservoirs sit at s = 0 and the contact at s = 1) and solved as one
system of 4 complex unknowns (theta_L, d theta_L/ds, theta_R, d theta_R/ds), handed to solve_bvp as
8 real ones (real and imaginary parts) with analytic Jacobians.  Initial guess theta_bulk on a
uniform mesh of 400 nodes, tol = 1e-6.

Why not solve_bvp's own complex mode: in scipy 1.17 its damped Newton measures the step by
``cost = np.dot(step, step)`` (no complex conjugate), so the Armijo test compares complex numbers;
steps are wrongly damped, the collocation system is never solved to its tolerance, and the mesh is
refined to 3e4-1e5 nodes (status 1 at most energies, ~5-20 s per energy).  The real split gives the
same problem 400-800 nodes and ~20 ms per energy.

    python benchmarks/bench_proximity.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import timed, write
from scipy.integrate import solve_bvp
from scipy.interpolate import CubicSpline

import jaxqp as qp
from jaxqp.kinetic.wire import TunnelContact
from jaxqp.spectral.wire import Options, default_options, solve_proximity

LENGTH = 40.0
X0 = 20.0
X_PROBE = 10.0
KAPPA = 0.1
GAMMA = 1e-3
DELTA = 1.0
E_MAX = 3.0
BVP_TOL = 1e-6
BVP_NODES = 400
#: energies of the scipy subset (the nearest points of jaxqp's energy grid are used); 11 below the gap
SUBSET_E = (-3.0, -2.2, -1.5, -1.1, -1.02, -0.98, -0.8, -0.5, -0.2, 0.0,
            0.1, 0.3, 0.6, 0.9, 0.97, 1.003, 1.01, 1.05, 1.4, 2.5)
QUICK_SUBSET_E = (-1.5, -0.5, 0.0, 0.97, 1.01, 2.5)
STRICT = Options(rtol=1e-10)


def device(n_x: int) -> qp.Wire:
    sc = qp.Superconductor(delta=DELTA, gamma=GAMMA)
    return qp.Wire(sc, LENGTH, (TunnelContact(X0, KAPPA, qp.NormalMetal()),), n_x=n_x,
                   ends=("reservoir", "reservoir"))


def theta_bulk(z: complex) -> complex:
    """Bulk theta on the retarded branch (Re cosh theta >= 0)."""
    th = np.arctanh(DELTA / z)
    return th + 1j * np.pi if np.cosh(th).real < 0 else th


def _real(v):
    return np.concatenate([v.real, v.imag])


def _cplx(y):
    return y[:4] + 1j * y[4:]


def _real_jac(J):
    """Jacobian (4, 4, ...) of a complex-analytic map -> (8, 8, ...) of its real form."""
    return np.concatenate([np.concatenate([J.real, -J.imag], 1), np.concatenate([J.imag, J.real], 1)], 0)


def scipy_theta(E: float, tol: float = BVP_TOL, n0: int = BVP_NODES):
    """solve_bvp at one energy.  Returns (theta(x) callable, status, final mesh size, theta_bulk)."""
    z = E + 1j * GAMMA
    tb = theta_bulk(z)
    a, b = X0, LENGTH - X0
    sc = np.array([a * a, b * b])[:, None]

    def fun(s, y):
        y = _cplx(y)
        th = y[0::2]
        out = np.empty_like(y)
        out[0::2] = y[1::2]
        out[1::2] = sc * (-2j * z * np.sinh(th) + 2j * DELTA * np.cosh(th))
        return _real(out)

    def fun_jac(s, y):
        th = _cplx(y)[0::2]
        dF = -2j * z * np.cosh(th) + 2j * DELTA * np.sinh(th)
        J = np.zeros((4, 4, y.shape[1]), complex)
        J[0, 1] = J[2, 3] = 1.0
        J[1, 0] = sc[0] * dF[0]
        J[3, 2] = sc[1] * dF[1]
        return _real_jac(J)

    def bc(ya, yb):
        ya, yb = _cplx(ya), _cplx(yb)
        return _real(np.array([ya[0] - tb, ya[2] - tb, yb[0] - yb[2],
                               -(yb[1] / a + yb[3] / b) - KAPPA * np.sinh(yb[0])]))

    def bc_jac(ya, yb):
        Ja = np.zeros((4, 4), complex)
        Jb = np.zeros((4, 4), complex)
        Ja[0, 0] = Ja[1, 2] = 1.0
        Jb[2, 0], Jb[2, 2] = 1.0, -1.0
        Jb[3, 0], Jb[3, 1], Jb[3, 3] = -KAPPA * np.cosh(_cplx(yb)[0]), -1.0 / a, -1.0 / b
        return _real_jac(Ja), _real_jac(Jb)

    s = np.linspace(0.0, 1.0, n0)
    y0 = np.zeros((4, n0), complex)
    y0[0::2] = tb
    sol = solve_bvp(fun, bc, s, _real(y0), fun_jac=fun_jac, bc_jac=bc_jac, tol=tol, max_nodes=100000)

    def theta(x):
        x = np.atleast_1d(np.asarray(x, float))
        left = x <= X0
        out = np.empty(x.shape, complex)
        out[left] = _cplx(sol.sol(x[left] / a))[0]
        out[~left] = _cplx(sol.sol((LENGTH - x[~left]) / b))[2]
        return out

    return theta, int(sol.status), int(sol.x.size), tb


def main(n_energy: int = 4000, n_x: int = 400, subset=SUBSET_E, quick: bool = False):
    wire = device(n_x)
    E = jnp.linspace(-E_MAX, E_MAX, n_energy)
    Enp = np.asarray(E)

    first, warm, sol = timed(lambda e: solve_proximity(wire, e), E, repeat=1)
    x = np.asarray(sol.x)
    g = np.asarray(sol.g)
    dos = g[..., 0].real  # (n_E, n_x); h = 0: both spin sectors are equal
    spin_diff = float(np.max(np.abs(g[..., 0] - g[..., 1])))
    its = int(np.max(np.asarray(sol.iterations)))
    conv = bool(np.all(np.asarray(sol.converged)))
    res = float(np.max(np.asarray(sol.residual)))
    opts = default_options()
    rows = [{"method": "jaxqp solve_proximity (Riccati FV, batched Newton + block Thomas), default Options",
             "n_energy": n_energy, "n_x": n_x, "first_call_s": first, "wall_s": warm,
             "energies_per_s": n_energy / warm, "iterations_max": its, "maxiter": opts.maxiter,
             "rtol": opts.rtol, "all_converged": conv, "max_relative_residual": res,
             "max_abs_diff_between_spin_sectors": spin_diff}]
    print(f"jaxqp  n_E={n_energy}, n_x={n_x}: warm {warm:.2f} s, cold {first:.2f} s; iterations {its} "
          f"(maxiter {opts.maxiter}), all converged {conv}, max residual {res:.1e}")

    f2, w2, sol2 = timed(lambda e: solve_proximity(wire, e, options=STRICT), E, repeat=1)
    its2 = int(np.max(np.asarray(sol2.iterations)))
    d12 = float(np.max(np.abs(np.asarray(sol2.g) - g)))
    rows.append({"method": "jaxqp solve_proximity, Options(rtol=1e-10) (Newton-update tolerance below the "
                           "round-off floor of the graded grid: stalls to the iteration cap)",
                 "n_energy": n_energy, "n_x": n_x, "first_call_s": f2, "wall_s": w2, "energies_per_s": n_energy / w2,
                 "iterations_max": its2, "all_converged": bool(np.all(np.asarray(sol2.converged))),
                 "max_relative_residual": float(np.max(np.asarray(sol2.residual))),
                 "max_abs_diff_g_to_default_options": d12})
    print(f"jaxqp  Options(rtol=1e-10): warm {w2:.2f} s, cold {f2:.2f} s; iterations {its2}; "
          f"max |g - g_default| {d12:.1e}")

    # ---- scipy solve_bvp per energy on a subset of jaxqp's energies
    idx = sorted(set(int(np.argmin(np.abs(Enp - e))) for e in subset))
    i0 = int(np.argmin(np.abs(x - X0)))
    nodes_at, statuses, per_E, sp20, sp10, jx20, jx10, prof = [], [], [], [], [], [], [], []
    for i in idx:
        t0 = time.perf_counter()
        theta, st, nn, tb = scipy_theta(float(Enp[i]))
        per_E.append(time.perf_counter() - t0)
        statuses.append(st)
        nodes_at.append(nn)
        if st != 0:
            continue
        sp20.append(np.cosh(theta(X0)[0]).real)
        sp10.append(np.cosh(theta(X_PROBE)[0]).real)
        jx20.append(dos[i, i0])
        jx10.append(float(CubicSpline(x, dos[i])(X_PROBE)))
        prof.append(np.max(np.abs(np.cosh(theta(x)).real - dos[i])))
    per_E = np.asarray(per_E)
    statuses = np.asarray(statuses)
    ok = statuses == 0
    E_ok = Enp[np.asarray(idx)[ok]]
    sp20, sp10, jx20, jx10, prof = map(np.asarray, (sp20, sp10, jx20, jx10, prof))
    t_per = float(per_E.mean())
    extrap = t_per * n_energy
    d20, d10 = np.abs(jx20 - sp20), np.abs(jx10 - sp10)
    rows.append({
        "method": "scipy solve_bvp per energy, theta parametrisation, two half wires on one interval "
                  "(4 complex unknowns as 8 real), analytic Jacobians",
        "bvp_tol": BVP_TOL, "initial_nodes": BVP_NODES, "energies": [float(Enp[i]) for i in idx],
        "n_below_gap": int(np.sum(np.abs(Enp[idx]) < DELTA)),
        "wall_s_per_energy": per_E.tolist(), "wall_s_per_energy_mean": t_per,
        "final_mesh_nodes": nodes_at, "bvp_status_counts": {str(s): int(c) for s, c in
                                                            zip(*np.unique(statuses, return_counts=True),
                                                                strict=False)},
        "n_failed": int(np.sum(~ok)),
        "extrapolated_wall_s": extrap,
        "extrapolation": f"mean wall_s_per_energy x {n_energy} energies (serial, one core)",
        "ratio_scipy_over_jaxqp_warm": extrap / warm, "ratio_scipy_over_jaxqp_cold": extrap / first,
        "ratio_scipy_over_jaxqp_rtol1e-10_warm": extrap / w2,
        "dos_x20_scipy": sp20.tolist(), "dos_x20_jaxqp": jx20.tolist(),
        "dos_x10_scipy": sp10.tolist(), "dos_x10_jaxqp_cubic_interp": jx10.tolist(),
        "max_abs_diff_dos_x20": float(d20.max()), "max_rel_diff_dos_x20": float(np.max(d20 / np.abs(sp20))),
        "energy_of_max_diff_x20": float(E_ok[np.argmax(d20)]),
        "max_abs_diff_dos_x10": float(d10.max()), "max_rel_diff_dos_x10": float(np.max(d10 / np.abs(sp10))),
        "energy_of_max_diff_x10": float(E_ok[np.argmax(d10)]),
        "max_abs_diff_dos_all_nodes": float(prof.max()),
    })
    print(f"scipy  {len(idx)} energies: {t_per * 1e3:.1f} ms per energy (final meshes {min(nodes_at)}-"
          f"{max(nodes_at)} nodes, {int(np.sum(~ok))} failed) -> {extrap:.1f} s for {n_energy} energies; "
          f"{extrap / warm:.2f}x the jaxqp warm time ({extrap / w2:.2f}x with rtol=1e-10)")
    print(f"       DOS max |diff| at x=20: {d20.max():.2e} "
          f"(rel {np.max(d20 / np.abs(sp20)):.1e}, E={E_ok[np.argmax(d20)]:.3f}); "
          f"at x=10: {d10.max():.2e} (rel {np.max(d10 / np.abs(sp10)):.1e}); all nodes {prof.max():.2e}")

    grid = {"n_energy": n_energy, "n_x": n_x, "E_range": [-E_MAX, E_MAX],
            "min_dx": float(np.diff(x).min()), "max_dx": float(np.diff(x).max()),
            "nodes_within_0.1_xi_of_contact": int(np.sum(np.abs(x - X0) < 0.1))}
    write("proximity_quick" if quick else "proximity", {
        "rows": rows,
        "device_parameters": {"length_xi": LENGTH, "x_contact": X0, "kappa": KAPPA, "contact_electrode": "normal metal",
                              "delta": DELTA, "gamma": GAMMA, "h": 0.0, "ends": ["reservoir", "reservoir"]},
        "grid_sizes": grid,
        "jax_devices": [str(d) for d in jax.devices()],
    })


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="500 energies x 100 nodes, 6 scipy energies")
    ap.add_argument("--n-energy", type=int, default=None)
    ap.add_argument("--n-x", type=int, default=None)
    a = ap.parse_args()
    if a.quick:
        main(a.n_energy or 500, a.n_x or 100, QUICK_SUBSET_E, quick=True)
    else:
        main(a.n_energy or 4000, a.n_x or 400)
