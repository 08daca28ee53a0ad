"""Seed 002 Fig. 2d: what sets the low-temperature non-local spin-valve resistance R_nl(T)?

A study, not a timing: the full kinetic engine (inhomogeneous spectra, the tunnel contacts
renormalise the wire's spectrum) for the device of the seed 002 notebook (kappa = 0.1 at both
contacts, P = 0.3, separation 3 xi, lambda = 5 xi, Gamma = 1e-6, a 40 xi wire), and

1. ``temperature``: R_nl(T) with uniform Dynes spectra in the closed form of
   `spin_injection.spin_valve_closed_form` (exact, and its tunnel limit) next to the full engine;
   ``crossover``: the closed form as the injector's back-action and the detector's absorption are
   switched on one at a time;
2. ``convergence``: n_x, n_E and Gamma (down to 1e-8) at T = 0.06 and 0.15;
3. ``contacts``: kappa of the injector and of the detector, one at a time and both, and the separation;
4. ``decomposition``: the detector signal split into sub-gap and above-gap energies, the spectral
   weights of the two contacts, the spin accumulation at the detector and the charge-imbalance part
   that the parallel/antiparallel subtraction removes;
5. ``independent``: R_nl at three temperatures from scipy's ``solve_bvp`` applied to the same
   linear-response equations with the same spectra (``tests/reference_spin_valve.py``).

Each section is written to ``results/spin_valve_study_cpu.json`` as soon as it is done; a run with
``--sections`` replaces those sections and keeps the others.

    python benchmarks/study_spin_valve.py [--quick] [--sections temperature,convergence,...]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import jax
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent / "tests"))

from _common import RESULTS, write  # noqa: E402

from jaxqp.devices import spin_injection as si  # noqa: E402

BASE = dict(kappa=0.1, polarization=0.3, separation=3.0, b_so=0.01, gamma=1e-6, length=40.0,
            spectra="inhomogeneous")
TEMPS = (0.3, 0.25, 0.2, 0.15, 0.125, 0.1, 0.08, 0.06)


def r_nl(T, n_x=100, n_energy=801, **kw):
    args = dict(BASE, temperature=T, n_x=n_x, **kw)
    return float(si.nonlocal_resistance(si.spin_valve(parallel=True, **args), si.spin_valve(parallel=False, **args),
                                        n_energy=n_energy, dv=T / 200))


def section_temperature(quick):
    temps = TEMPS[::2] if quick else TEMPS
    out = {"T": list(temps), "engine_inhomogeneous": [], "engine_uniform_gamma1e-2": [],
           "closed_form_uniform_gamma1e-2": [], "tunnel_limit_uniform_gamma1e-2": []}
    cf = dict(polarization=0.3, separation=3.0, b_so=0.01, gamma=1e-2, length=40.0)
    for T in temps:
        out["engine_inhomogeneous"].append(r_nl(T))
        out["engine_uniform_gamma1e-2"].append(r_nl(T, gamma=1e-2, spectra="uniform"))
        out["closed_form_uniform_gamma1e-2"].append(si.spin_valve_closed_form(T, kappa=0.1, **cf))
        out["tunnel_limit_uniform_gamma1e-2"].append(si.spin_valve_closed_form(T, kappa=0.1, tunnel_limit=True, **cf))
        print("T", T, {k: v[-1] for k, v in out.items() if k != "T"}, flush=True)
    return out


def section_crossover(quick):
    """Closed form, uniform Dynes spectra (Gamma = 1e-2): the tunnel limit, and the exact solution with
    back-action only (weak detector), absorption only (weak injector) and both, against kappa."""
    cf = dict(polarization=0.3, separation=3.0, b_so=0.01, gamma=1e-2, length=40.0)
    temps = (0.3, 0.2, 0.15, 0.125, 0.1, 0.08, 0.06)
    n0 = float(np.ravel(si.bulk_gf(0.0, 1.0, 1e-2)[0].real)[0])
    out = {"T": list(temps), "tunnel_limit": [si.spin_valve_closed_form(T, tunnel_limit=True, **cf) for T in temps]}
    for k in (1e-4, 1e-3, 1e-2, 1e-1):
        out[str(k)] = {"rho": k * si.spin_length(0.01) / (2 * n0),
                       "injector_only": [si.spin_valve_closed_form(T, kappa=k, kappa_det=1e-7, **cf) for T in temps],
                       "detector_only": [si.spin_valve_closed_form(T, kappa=1e-7, kappa_det=k, **cf) for T in temps],
                       "both": [si.spin_valve_closed_form(T, kappa=k, **cf) for T in temps]}
        print("crossover", k, out[str(k)], flush=True)
    return out


def section_convergence(quick):
    out = {}
    for T in ((0.15,) if quick else (0.06, 0.15)):
        rows = []
        for n_x, n_e, gam in ((100, 801, 1e-6), (200, 801, 1e-6), (400, 801, 1e-6), (100, 1601, 1e-6),
                              (100, 3201, 1e-6), (100, 801, 1e-4), (100, 801, 1e-5), (100, 801, 1e-7),
                              (100, 801, 1e-8))[: 3 if quick else None]:
            rows.append({"n_x": n_x, "n_energy": n_e, "gamma": gam, "R_nl": r_nl(T, n_x, n_e, gamma=gam)})
            print("conv", T, rows[-1], flush=True)
        out[str(T)] = rows
    return out


def section_contacts(quick):
    temps = (0.06, 0.15) if quick else (0.06, 0.1, 0.15, 0.2)
    kappas = (0.02, 0.1) if quick else (0.01, 0.02, 0.05, 0.1, 0.2)
    out = {"T": list(temps), "kappa": list(kappas), "both": [], "injector_only": [], "detector_only": [],
           "separation": {}}
    for k in kappas:
        out["both"].append([r_nl(T, kappa=k) for T in temps])
        out["injector_only"].append([r_nl(T, kappa=k, kappa_det=0.1) for T in temps])
        out["detector_only"].append([r_nl(T, kappa=0.1, kappa_det=k) for T in temps])
        print("kappa", k, out["both"][-1], out["injector_only"][-1], out["detector_only"][-1], flush=True)
    for d in ((1.0, 6.0) if quick else (1.0, 2.0, 6.0)):
        out["separation"][str(d)] = [r_nl(T, separation=d) for T in temps]
        print("separation", d, out["separation"][str(d)], flush=True)
    return out


def decomposition(T, n_x=100, n_energy=801, **kw):
    """Energy-resolved linear response of the two contacts from `solve_kinetic` at +-dv."""
    from jaxqp.kinetic.solve import solve_kinetic

    args = dict(BASE, temperature=T, n_x=n_x, **kw)
    dv = T / 200
    res = {}
    for name, par in (("P", True), ("AP", False)):
        w = si.spin_valve(parallel=par, **args)
        g = []
        sols = {}
        for b in range(2):
            V = np.zeros(2)
            V[b] = dv
            sp, sm = solve_kinetic(w, V, n_energy=n_energy), solve_kinetic(w, -V, n_energy=n_energy)
            sols[b] = (sp, sm)
            ds = (np.asarray(sp.fluxes) - np.asarray(sm.fluxes)) / (2 * dv)  # (n_E, n_c, 4)
            g.append(-0.25 * (ds[..., 1] + ds[..., 3]))  # dI_c/dV_b per energy
        E = np.asarray(sols[0][0].energy.points)
        wts = np.asarray(sols[0][0].energy.weights)
        gE = np.stack(g, -1)  # (n_E, c, b)
        G = np.einsum("e,ecb->cb", wts, gE)
        vd = -G[1, 0] / G[1, 1]
        i_inj = G[0, 0] + G[0, 1] * vd
        sub = np.abs(E) < float(w.material.delta)
        gdi_sub, gdi_above = float(np.sum(wts[sub] * gE[sub, 1, 0])), float(np.sum(wts[~sub] * gE[~sub, 1, 0]))
        sp, sm = sols[0]
        xd = w.contact_nodes[1]
        mu_s_det = float((np.asarray(sp.spin_accumulation())[xd] - np.asarray(sm.spin_accumulation())[xd]) / (2 * dv))
        res[name] = {"V_det_per_I": vd / i_inj, "G_ii": G[0, 0], "G_dd": G[1, 1], "G_di": G[1, 0],
                     "G_di_subgap": gdi_sub, "G_di_above_gap": gdi_above,
                     "injector_weight": G[0, 0] / w.contacts[0].kappa, "detector_weight": G[1, 1] / w.contacts[1].kappa,
                     "mu_s_at_detector_per_I": mu_s_det / i_inj}
    res["R_nl"] = 0.5 * (res["P"]["V_det_per_I"] - res["AP"]["V_det_per_I"])
    res["charge_imbalance_part"] = 0.5 * (res["P"]["V_det_per_I"] + res["AP"]["V_det_per_I"])
    dsub = 0.5 * (res["P"]["G_di_subgap"] - res["AP"]["G_di_subgap"])
    dabove = 0.5 * (res["P"]["G_di_above_gap"] - res["AP"]["G_di_above_gap"])
    res["spin_signal_subgap_fraction"] = dsub / (dsub + dabove)
    return res


def section_decomposition(quick):
    temps = (0.06, 0.15, 0.3) if quick else TEMPS
    out = {}
    for T in temps:
        out[str(T)] = decomposition(T)
        d = out[str(T)]
        print("decomp", T, d["R_nl"], d["spin_signal_subgap_fraction"], d["P"]["detector_weight"],
              d["P"]["mu_s_at_detector_per_I"], d["charge_imbalance_part"], flush=True)
    return out


def section_independent(quick):
    import reference_spin_valve as ref

    from jaxqp.kinetic.wire import default_energy_grid, proximity_spectra

    n_x, n_e = (80, 201) if quick else (240, 401)
    out = []
    for T in (0.06, 0.15, 0.3):
        args = dict(BASE, temperature=T, n_x=n_x)
        wp, wa = si.spin_valve(parallel=True, **args), si.spin_valve(parallel=False, **args)
        t0 = time.perf_counter()
        eng = float(si.nonlocal_resistance(wp, wa, n_energy=n_e, dv=T / 200))
        t1 = time.perf_counter()
        grid = default_energy_grid(wp, v_max=T / 200, n=n_e)
        _, g, f, _ = proximity_spectra(wp, grid.points)
        spectra = (np.asarray(wp.x), np.asarray(g[0]), np.asarray(f[0]))
        r = ref.nonlocal_resistance((wp, wa), np.asarray(grid.points), np.asarray(grid.weights), T,
                                    delta=float(wp.material.delta), b_so=BASE["b_so"], spectra=spectra)
        out.append({"T": T, "n_x": n_x, "n_energy": n_e, "engine": eng, "solve_bvp": r, "relative": r / eng - 1,
                    "engine_s": t1 - t0, "solve_bvp_s": time.perf_counter() - t1})
        print("independent", out[-1], flush=True)
    return out


SECTIONS = {"temperature": section_temperature, "crossover": section_crossover, "convergence": section_convergence,
            "contacts": section_contacts, "decomposition": section_decomposition, "independent": section_independent}


def main(quick=False, sections=tuple(SECTIONS)):
    name = "spin_valve_study_quick" if quick else "spin_valve_study"
    out = {"device": BASE}
    old = RESULTS / f"{name}_{jax.default_backend()}.json"
    if old.exists():  # sections run earlier stay (each run replaces only its own sections)
        out.update({k: v for k, v in json.loads(old.read_text()).items()
                    if k not in ("benchmark", "date", "environment")})
    for s in sections:
        t0 = time.perf_counter()
        out[s] = SECTIONS[s](quick)
        out[s + "_wall_s"] = time.perf_counter() - t0
        write(name, out)


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--sections", default=",".join(SECTIONS))
    a = ap.parse_args()
    main(a.quick, tuple(a.sections.split(",")))
