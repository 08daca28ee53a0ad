"""Seed 003 spin supercurrents: jaxqp against GENEUS on the same configuration, and the Fig. 2 / Fig. 3 curves.

Device: FI/S/FI, L = 1.5 xi, G_phi/G_N = 0.6, m1 = x, m2 = y, Gamma = 0.01 (GENEUS' default
inelastic scattering), T = 0.01 Tc, self-consistent Delta(x), position-independent spin voltage.

Comparison (``--geneus DIR``): DIR holds GENEUS output folders ``eq`` (V_s = 0), ``sx`` (e V_s =
Delta0/4 along x) and ``sz`` (along z), each with ``supercurrent.dat``, ``correlation.dat`` and the
``time.log`` of ``/usr/bin/time -v`` around its ``converge`` program.  GENEUS (jabirali/geneus) is
built outside this repository; its configuration file is reproduced in benchmarks/README.md.
GENEUS differentiates in x / L, so its currents are L times jaxqp's.  jaxqp runs on GENEUS' grid:
101 positions, its 1000 energies (800 uniform on (0, 4], 200 on [4, 30]) with trapezoidal weights,
and on its own default grid (31 positions, 400 adaptive energies).  ``--geneus-bin BIN`` runs the
GENEUS ``converge`` binary here, in the same run, for the three points (about 10 minutes each).

Curves: J(V_s) for spin-z and spin-x injection (Fig. 2) and J(T) at e V_s = Delta0/4 (Fig. 3),
with the bistable region, on jaxqp's default grid.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from _common import write

from jaxqp import grids
from jaxqp.devices import spin_supercurrent as ssc
from jaxqp.selfconsistency import TC0

POINTS = {"eq": (0.0, (0, 0, 1)), "sx": (0.25, (1, 0, 0)), "sz": (0.25, (0, 0, 1))}
CONF = """[superconductor]
  length:          1.5
  temperature:     {3}
  selfconsistent:  {4}
  spinvoltage:     {1}
  spinaxis:        {2}
  magnetization_a: [1,0,0]
  spinmixing_a:    0.6
  magnetization_b: [0,1,0]
  spinmixing_b:    0.6
"""


def geneus_grid() -> grids.EnergyGrid:
    e = np.concatenate([np.linspace(1e-6, 4.0, 800), np.linspace(4.0, 30.0, 201)[1:]])
    w = np.zeros_like(e)
    d = np.diff(e)
    w[:-1] += d / 2
    w[1:] += d / 2
    return grids.EnergyGrid(points=jnp.asarray(e), weights=jnp.asarray(w))


def read_geneus(folder: Path) -> dict:
    sc = np.loadtxt(folder / "supercurrent.dat")
    co = np.loadtxt(folder / "correlation.dat")
    out = {"J_L": sc[:, 1:5].mean(0).tolist(), "J_L_spread": sc[:, 1:5].std(0).tolist(),
           "delta_edge": float(np.hypot(co[0, 1], co[0, 2])),
           "delta_center": float(np.hypot(*co[np.argmin(np.abs(co[:, 0] - 0.75)), 1:3]))}
    tl = folder / "time.log"
    if tl.exists():
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", tl.read_text())
        if m:
            parts = [float(p) for p in m.group(1).split(":")]
            out["wall_s"] = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
    return out


def run_geneus(binary: Path, work: Path) -> None:
    work.mkdir(parents=True, exist_ok=True)
    (work / "spinvalve.conf").write_text(CONF)
    for name, (Vs, axis) in POINTS.items():
        d = work / name
        d.mkdir(exist_ok=True)
        ax = "[" + ",".join(str(int(a)) for a in axis) + "]"
        with open(d / "output.log", "w") as log:
            subprocess.run(["/usr/bin/time", "-v", "-o", str(d / "time.log"), str(binary), "../spinvalve.conf",
                            str(Vs), ax, "0.01", "T"], cwd=d, stdout=log, stderr=subprocess.STDOUT, check=True)


def jaxqp_point(dev, Vs, axis, grid=None, n_energy=400):
    t0 = time.perf_counter()
    r = ssc.solve(dev, Vs, axis, ssc.DEFAULT_T, n_energy=n_energy, grid=grid)
    J = np.asarray(r.current)
    d = np.asarray(r.delta)
    wall = time.perf_counter() - t0
    return {"J_L": (J.mean(0) * dev.length).tolist(), "J_L_spread": (J.std(0) * dev.length).tolist(),
            "delta_edge": float(d[0]), "delta_center": float(d[len(d) // 2]), "converged": bool(r.converged),
            "newton_steps": int(r.gap.steps), "wall_s": wall}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geneus", type=Path, help="folder with GENEUS outputs eq/ sx/ sz/")
    ap.add_argument("--geneus-bin", type=Path, help="run this GENEUS 'converge' binary here first")
    ap.add_argument("--curves", type=int, default=11, help="points per Fig. 2 curve (0: skip the curves)")
    ap.add_argument("--no-compare", action="store_true", help="skip the three comparison points")
    a = ap.parse_args()
    payload: dict = {"device": "FI/S/FI L=1.5 xi, G_phi/G_N=0.6, m1=x, m2=y, Gamma=0.01, T=0.01 Tc, self-consistent"}
    if a.geneus_bin:
        a.geneus = a.geneus or Path("geneus-runs")
        run_geneus(a.geneus_bin, a.geneus)
    comparison = {}
    fine = ssc.device(n_x=101)
    default = ssc.device()
    for name, (Vs, axis) in ({} if a.no_compare else POINTS).items():
        row = {"spin_voltage": Vs, "axis": axis,
               "jaxqp_geneus_grid": jaxqp_point(fine, Vs, axis, grid=geneus_grid()),
               "jaxqp_default_grid": jaxqp_point(default, Vs, axis)}
        if a.geneus and (a.geneus / name).exists():
            row["geneus"] = read_geneus(a.geneus / name)
        comparison[name] = row
        print(name, {k: (v["J_L"], v.get("wall_s")) for k, v in row.items() if isinstance(v, dict)}, flush=True)
    payload["comparison"] = comparison
    payload["grids"] = {"geneus_grid": {"n_x": 101, "n_energy": 1000}, "default_grid": {"n_x": 31, "n_energy": 400}}
    if a.curves:
        Vs = np.linspace(0.0, 1.1, a.curves)
        t0 = time.perf_counter()
        curves = {}
        for label, axis in (("z", (0, 0, 1)), ("x", (1, 0, 0))):
            sw = ssc.sweep_spin_voltage(default, Vs, axis)
            curves[label] = {"spin_voltage": Vs.tolist(), "J": sw.spin_current.tolist(),
                             "delta_mean": sw.delta_mean.tolist(), "bistable": sw.bistable.tolist(),
                             "normal_only": sw.normal_only.tolist(), "normal_gain": sw.normal_gain.tolist()}
        Ts = np.linspace(0.01, 0.9, max(4, a.curves // 2)) * TC0
        for label, axis in (("T_z", (0, 0, 1)), ("T_x", (1, 0, 0))):
            sw = ssc.sweep_temperature(default, Ts, 0.25, axis)
            curves[label] = {"temperature_over_Tc": (Ts / TC0).tolist(), "J": sw.spin_current.tolist(),
                             "delta_mean": sw.delta_mean.tolist(), "normal_only": sw.normal_only.tolist()}
        payload["curves"] = curves
        payload["curves_wall_s"] = time.perf_counter() - t0
    write("spin_supercurrent", payload)


if __name__ == "__main__":
    main()
