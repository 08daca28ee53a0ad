"""The seed-001 non-local conductance map g_nl(V_inj, V_det) as one batched call.

Device: a 169.2 xi superconducting wire (Delta = 1, Gamma = 1.5e-3, bath T = 0.01) with equilibrium
reservoirs at both ends, an NIS injector in the middle (kappa = 2e-4, T = 0.02) and an NIS detector
4.6 xi away (kappa = 2.7e-4, T = 0.01).  jaxqp: `nonlocal_conductance` on a 201 x 201 (V_inj, V_det)
map, n_energy = 2000 adaptive energy nodes, n_x = 200 position nodes, g_nl = dI_det/dV_inj by
forward-mode autodiff (cold = first call incl. compilation, warm = second call).

Compared in the same run with the straightforward scipy way of seed 001 (Appendix B): only the
charge mode, the detector as a probe (no back-action), and by symmetry the half wire
0 <= y <= L/2 from the injector (y = 0) to a reservoir (f_T = 0 at y = L/2):

    d/dy (D_T f_T') = R_T f_T,   D_T f_T'(0) = -(kappa_inj / 2) N (f_T,e - f_T(0)),

D_T = (Re g)^2 + (Im f)^2, R_T = -2 Delta Im f, N = Re g, solved with `scipy.integrate.solve_bvp`
energy by energy and bias by bias (with the analytic d f_T,e/dV as a second drive, which gives g_nl
without finite differences); I_det = -(kappa_det / 2) int dE N f_T(y_det) on the same energy grid.
It is timed on a subset of injector biases and extrapolated linearly to the map.  Also timed: the
linear-response shortcut (one solve per energy for a unit drive, then every bias by quadrature).

    python benchmarks/bench_nonlocal_map.py [--quick]
"""

from __future__ import annotations

import argparse
import time

import jax.numpy as jnp
import numpy as np
from _common import timed, write
from scipy.integrate import solve_bvp

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw
from jaxqp.kinetic.solve import nonlocal_conductance, responses_jit
from jaxqp.kinetic.wire import TunnelContact, Wire, default_energy_grid
from jaxqp.spectral.bulk import green_functions

LENGTH = 169.2
X_INJ, X_DET = 84.6, 89.2
KAPPA_INJ, KAPPA_DET = 2e-4, 2.7e-4
T_INJ, T_DET, T_BATH = 0.02, 0.01, 0.01
GAMMA = 1.5e-3
V_MAX = 3.0
#: injector biases of the scipy subset (the nearest points of the map's V grid are used)
SUBSET_V = (-1.5, 0.9, 1.02, 1.2, 2.0, 3.0)
BVP_TOL = 1e-6


def device(n_x: int, kappa_det: float = KAPPA_DET) -> Wire:
    sc = qp.Superconductor(delta=1.0, gamma=GAMMA)
    contacts = (TunnelContact(X_INJ, KAPPA_INJ, qp.NormalMetal(temperature=T_INJ), name="inj"),
                TunnelContact(X_DET, kappa_det, qp.NormalMetal(temperature=T_DET), name="det"))
    return Wire(sc, LENGTH, contacts, temperature=T_BATH, n_x=n_x)


def _sech2(x):
    e = np.exp(-2.0 * np.abs(x))
    return 4.0 * e / (1.0 + e) ** 2


def injector_drive(E, V, T):
    """f_T,e(E) of a normal-metal injector at bias V and its analytic derivative d/dV."""
    fT = 0.5 * (np.tanh((E - V) / (2 * T)) - np.tanh((E + V) / (2 * T)))
    dfT = -(_sech2((E - V) / (2 * T)) + _sech2((E + V) / (2 * T))) / (4 * T)
    return fT, dfT


def spectral_coefficients(E):
    """N, D_T, R_T of the wire (h = 0) at real energies E."""
    _, g, f, ok = green_functions(jnp.asarray(E) + 1j * GAMMA, 0.0, 1.0)
    if not bool(jnp.all(ok)):
        raise RuntimeError("spectral solve did not converge")
    g, f = np.asarray(g[0]), np.asarray(f[0])
    return g.real, g.real**2 + f.imag**2, -2.0 * f.imag


def _half_wire_bvp(D, R, N, drives, tol=BVP_TOL, n0=50):
    """solve_bvp on the half wire for len(drives) injector drives at one energy; f_T(y_det) per drive.

    Unknowns are scaled by k = kappa_inj/2 (f_T = k w, D_T f_T' = k q) so that solve_bvp's
    tolerance (relative to 1 + |y'|) acts on O(1) numbers.  The initial mesh is graded towards the
    injector (first step 0.05 xi; the shortest relaxation length lambda_T = sqrt(D_T/R_T) is 0.71 xi).
    """
    k = 0.5 * KAPPA_INJ
    l = 0.5 * LENGTH
    m = len(drives)

    def fun(y, u):
        out = np.empty_like(u)
        out[0::2] = u[1::2] / D
        out[1::2] = R * u[0::2]
        return out

    def bc(ua, ub):
        res = np.empty(2 * m)
        res[0::2] = ua[1::2] + N * (np.asarray(drives) - k * ua[0::2])
        res[1::2] = ub[0::2]
        return res

    mesh = l * (np.geomspace(1.0, 1.0 + l / 0.05, n0) - 1.0) / (l / 0.05)
    sol = solve_bvp(fun, bc, mesh, np.zeros((2 * m, n0)), tol=tol, max_nodes=100000)
    return k * sol.sol(X_DET - X_INJ)[0::2], sol.status, sol.x.size


def scipy_per_bias(E, w, V):
    """I_det(V) and g_nl(V): one solve_bvp per energy (drives f_T,e and d f_T,e/dV)."""
    N, D, R = spectral_coefficients(E)
    fT, dfT = injector_drive(E, V, T_INJ)
    u = np.empty(E.size)
    du = np.empty(E.size)
    status, nodes = [], []
    for i in range(E.size):
        (u[i], du[i]), st, nn = _half_wire_bvp(D[i], R[i], N[i], (fT[i], dfT[i]))
        status.append(st)
        nodes.append(nn)
    I_det = -0.5 * KAPPA_DET * np.sum(w * N * u)
    g_nl = -0.5 * KAPPA_DET * np.sum(w * N * du)
    return I_det, g_nl, np.asarray(status), np.asarray(nodes)


def scipy_transfer(E, w, Vs):
    """The linear-response shortcut: f_T(y_det) = t(E) f_T,e, one solve per energy for all biases."""
    N, D, R = spectral_coefficients(E)
    t = np.array([_half_wire_bvp(D[i], R[i], N[i], (1.0,))[0][0] for i in range(E.size)])
    g = []
    for V in Vs:
        _, dfT = injector_drive(E, V, T_INJ)
        g.append(-0.5 * KAPPA_DET * np.sum(w * N * t * dfT))
    return np.asarray(g), t, N


def main(n_map: int = 201, n_energy: int = 2000, n_x: int = 200, n_subset: int = len(SUBSET_V), quick=False):
    wire = device(n_x)
    V = jnp.linspace(-V_MAX, V_MAX, n_map)
    Vnp = np.asarray(V)
    jd = int(np.argmin(np.abs(Vnp)))  # the V_det = 0 column

    first, warm, m = timed(lambda a, b: nonlocal_conductance(wire, a, b, n_energy=n_energy), V, V, repeat=1)
    g_map = np.asarray(m.g_nl)
    vdet_spread = float(np.max(np.abs(g_map - g_map[:, jd:jd + 1])))
    rows = [{"method": "jaxqp nonlocal_conductance (4x4 sector kinetic equations, FV + block Thomas, autodiff)",
             "map": [n_map, n_map], "n_energy": n_energy, "n_x": n_x,
             "first_call_s": first, "wall_s": warm, "bias_points_per_s": n_map**2 / warm,
             "max_abs_g_nl": float(np.max(np.abs(g_map))),
             "max_abs_variation_of_g_nl_with_V_det": vdet_spread}]
    print(f"jaxqp  {n_map}x{n_map} map, n_E={n_energy}, n_x={n_x}: warm {warm:.2f} s, cold {first:.2f} s; "
          f"max g_nl {np.max(np.abs(g_map)):.3e}, variation with V_det {vdet_spread:.1e}")

    # the generic batched path (one vmapped evaluation per map point, as used when an electrode is a
    # superconductor): the same map through the core that contact_currents / local_conductance use
    grid = default_energy_grid(wire, float(np.max(np.abs(Vnp))), n_energy)
    VV = jnp.stack(jnp.broadcast_arrays(V[:, None], V[None, :]), -1).reshape(-1, 2)
    f1, w1, out = timed(lambda vv: responses_jit(wire, grid, vv, 256, None, 0), VV, repeat=1)
    g_gen = -np.asarray(out["dcharge"])[:, 1].reshape(n_map, n_map)
    rows.append({"method": "jaxqp generic batched path (responses_jit: autodiff at every map point)",
                 "map": [n_map, n_map], "n_energy": n_energy, "n_x": n_x, "first_call_s": f1, "wall_s": w1,
                 "max_abs_diff_to_nonlocal_conductance_over_max_g_nl":
                     float(np.max(np.abs(g_gen - g_map)) / np.max(np.abs(g_map)))})
    print(f"jaxqp  generic path, {n_map}x{n_map} points: warm {w1:.2f} s, cold {f1:.2f} s; "
          f"max |diff| / max g_nl {np.max(np.abs(g_gen - g_map)) / np.max(np.abs(g_map)):.1e}")

    # ---- scipy on a subset of injector biases, the same energy grid and quadrature weights
    sub = sorted(set(int(np.argmin(np.abs(Vnp - v))) for v in SUBSET_V[:n_subset]))
    E, wts = np.asarray(grid.points), np.asarray(grid.weights)
    t0 = time.perf_counter()
    res = [scipy_per_bias(E, wts, float(Vnp[i])) for i in sub]
    t_sp = time.perf_counter() - t0
    I_sp = np.array([r[0] for r in res])
    g_sp = np.array([r[1] for r in res])
    status = np.concatenate([r[2] for r in res])
    nodes = np.concatenate([r[3] for r in res])
    per_solve = t_sp / (len(sub) * n_energy)
    map_s = per_solve * n_map * n_energy
    g_j = g_map[sub, jd]
    I_j = np.asarray(m.I_det)[sub, jd]
    rel_g = np.abs(g_j - g_sp) / np.abs(g_sp)
    rel_I = np.abs(I_j - I_sp) / np.abs(I_sp)

    # jaxqp in the probe limit (detector kappa x 1e-6, g_nl rescaled): discretisation error only
    probe = device(n_x, KAPPA_DET * 1e-6)
    mp = nonlocal_conductance(probe, Vnp[sub], 0.0, n_energy=n_energy)
    g_probe = 1e6 * np.asarray(mp.g_nl)[:, 0]
    rel_probe = np.abs(g_probe - g_sp) / np.abs(g_sp)
    rel_backaction = np.abs(g_j - g_probe) / np.abs(g_probe)

    t0 = time.perf_counter()
    g_tr, t_E, N_E = scipy_transfer(E, wts, Vnp)
    t_tr = time.perf_counter() - t0
    rel_tr = np.abs(g_tr[sub] - g_sp) / np.abs(g_sp)
    # the BVP against the closed form (seed 001 Eq. 21 on the finite half wire), where the signal is significant
    eq21 = np.asarray(nw.charge_imbalance_spectral(jnp.asarray(E), X_DET - X_INJ, KAPPA_INJ, gamma=GAMMA,
                                                   half_length=0.5 * LENGTH))
    sig = np.abs(eq21) > 1e-3 * np.max(np.abs(eq21))
    rel_eq21 = float(np.max(np.abs(N_E * t_E - eq21)[sig] / np.abs(eq21[sig])))

    rows.append({
        "method": "scipy solve_bvp per energy and injector bias on the half wire (seed 001 App. B, "
                  "charge mode only, detector as a probe), analytic d/dV drive",
        "n_energy": n_energy, "bvp_tol": BVP_TOL, "injector_biases_timed": [float(Vnp[i]) for i in sub],
        "solves_timed": len(sub) * n_energy, "wall_s_timed": t_sp, "wall_s_per_solve": per_solve,
        "bvp_status_counts": {str(s): int(c) for s, c in zip(*np.unique(status, return_counts=True), strict=False)},
        "bvp_mesh_nodes_median_max": [float(np.median(nodes)), int(nodes.max())],
        "extrapolated_map_wall_s": map_s,
        "extrapolation": f"wall_s_per_solve x {n_map} injector biases x {n_energy} energies; in the probe model "
                         "g_nl does not depend on V_det, so one V_inj column serves all V_det columns (a loop over "
                         f"all {n_map}x{n_map} map points would cost {n_map} times more: "
                         f"{map_s * n_map:.3g} s)",
        "speedup_jaxqp_warm_over_scipy": map_s / warm,
        "speedup_jaxqp_cold_over_scipy": map_s / first,
        "g_nl_scipy": g_sp.tolist(), "g_nl_jaxqp": g_j.tolist(),
        "I_det_scipy": I_sp.tolist(), "I_det_jaxqp": I_j.tolist(),
        "max_rel_diff_g_nl": float(rel_g.max()), "max_rel_diff_I_det": float(rel_I.max()),
        "max_abs_diff_g_nl_over_max_g_nl": float(np.max(np.abs(g_j - g_sp)) / np.max(np.abs(g_map))),
        "jaxqp_probe_limit_g_nl": g_probe.tolist(),
        "max_rel_diff_g_nl_jaxqp_probe_limit_vs_scipy": float(rel_probe.max()),
        "max_rel_effect_of_detector_backaction_in_jaxqp": float(rel_backaction.max()),
    })
    rows.append({
        "method": "scipy linear-response shortcut: solve_bvp once per energy (unit drive), all biases by quadrature",
        "n_energy": n_energy, "solves": n_energy, "wall_s": t_tr, "map_wall_s": t_tr,
        "speedup_jaxqp_warm_over_shortcut": t_tr / warm,
        "max_rel_diff_g_nl_to_per_bias_scipy": float(rel_tr.max()),
        "max_rel_diff_spectral_transfer_vs_eq21_closed_form": rel_eq21,
    })
    print(f"scipy  {len(sub)} biases x {n_energy} energies: {t_sp:.1f} s ({per_solve * 1e3:.2f} ms per solve) -> "
          f"{map_s:.0f} s per map; speed-up {map_s / warm:.0f}x (warm), {map_s / first:.0f}x (cold)")
    print(f"       max rel. diff to jaxqp: g_nl {rel_g.max():.2e}, I_det {rel_I.max():.2e}; jaxqp probe limit vs scipy "
          f"{rel_probe.max():.2e}; detector back-action {rel_backaction.max():.2e}")
    print(f"scipy  shortcut (one solve per energy): {t_tr:.1f} s for all {n_map} biases; "
          f"max rel. diff to per-bias scipy {rel_tr.max():.1e}; BVP vs closed-form Eq. (21) {rel_eq21:.1e}")
    write("nonlocal_map_quick" if quick else "nonlocal_map", {
        "rows": rows,
        "device_parameters": {"length_xi": LENGTH, "x_inj": X_INJ, "x_det": X_DET, "kappa_inj": KAPPA_INJ,
                              "kappa_det": KAPPA_DET, "T_inj": T_INJ, "T_det": T_DET, "T_bath": T_BATH,
                              "gamma": GAMMA, "delta": 1.0, "V_range": [-V_MAX, V_MAX]},
        "grid_sizes": {"map": [n_map, n_map], "n_energy": n_energy, "n_x": n_x},
    })


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="41 x 41 map, 1000 energies, 100 nodes, 2 scipy biases")
    a = ap.parse_args()
    if a.quick:
        main(n_map=41, n_energy=1000, n_x=100, n_subset=2, quick=True)
    else:
        main()
