"""The general spin solvers against GENEUS: kinetic equations out of equilibrium, and Rashba spin-orbit coupling.

GENEUS (jabirali/geneus) solves the full Keldysh-Nambu-spin Usadel equation with eight distribution
modes.  Two cases, each a superconducting layer (Delta = 1 fixed, Gamma = 0.01, `selfconsistent: F`,
`nonequilibrium: T`) between two normal reservoirs (`conductor`, `order: 0`) through spin-active
tunnel barriers, are run by GENEUS' ``converge`` program and by `jaxqp.solve_spin_kinetic` on
GENEUS' grid (101 positions, its 1000 positive energies mirrored to negative ones, trapezoidal
weights):

* ``biased``: reservoirs at eV = -0.1 and +0.1, T = 0.2 Tc, L = 1.5 xi, barriers G_T/G_N = 0.3 with
  spin mixing along x (left) and y (right): a charge current converted into supercurrent and an
  equilibrium-like spin supercurrent along z.
* ``spin_biased``: a spin voltage 0.3 along (1, 0, 1) on the left reservoir, eV = 0.1 on the right,
  T = 0.3 Tc, L = 1 xi, polarised barriers (P = 0.4 along z on the left, P = 0.2 along y on the right).

Conventions mapped here: GENEUS multiplies its ``spinmixing`` by the barrier's ``conductance``
(jaxqp's ``spin_mixing`` is G_phi / G_N itself); GENEUS temperatures are T / Tc (jaxqp: k_B T /
Delta0 = 0.567 T / Tc); GENEUS differentiates in x / L, so its currents are L times jaxqp's; its
accumulations have the opposite sign.  GENEUS reports the currents on the nodes (x = 0 is the
barrier), jaxqp on the links: compared are the charge currents through the barriers, and the
charge and spin currents and accumulations in the middle of the wire (jaxqp: the mean of the two
links next to the middle node).

A third case checks the retarded solver with linear-in-momentum spin-orbit coupling:

* ``rashba_fs``: a ferromagnet (exchange field 0.3 along x, Rashba alpha xi = 0.8 in the plane of
  the layer, L = 1 xi) tunnel-coupled (G_T/G_N = 0.3) to a bulk superconductor, vacuum at the other
  end; the DOS at x = 0, L/2 and L for 0 < E <= 2.  GENEUS' junction runs along z with the Rashba
  field in the x-y plane (``A_x = -alpha sigma_y``, ``A_y = alpha sigma_x``): in jaxqp both are
  transverse components of the `jaxqp.GaugeField`.

    python benchmarks/bench_spin_geneus.py --geneus-bin /path/to/geneus/bin/converge
    python benchmarks/bench_spin_geneus.py --geneus DIR     # DIR/biased, DIR/spin_biased, DIR/rashba_fs
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
from bench_spin_supercurrent import geneus_grid

import jaxqp as qp
from jaxqp import grids
from jaxqp.kinetic import spin as K
from jaxqp.selfconsistency import TC0

CASES = {
    "biased": dict(length=1.5, T=0.2, left=dict(conductance=0.3, spinmixing=0.5, polarization=0.0, m=(1, 0, 0)),
                   right=dict(conductance=0.3, spinmixing=0.6, polarization=0.0, m=(0, 1, 0)),
                   res_left=dict(voltage=-0.1), res_right=dict(voltage=0.1)),
    "spin_biased": dict(length=1.0, T=0.3, left=dict(conductance=0.5, spinmixing=0.4, polarization=0.4, m=(0, 0, 1)),
                        right=dict(conductance=0.2, spinmixing=0.5, polarization=0.2, m=(0, 1, 0)),
                        res_left=dict(spinvoltage=0.3, spinaxis=(1, 0, 1)), res_right=dict(voltage=0.1)),
}


def _vec(v):
    return "[" + ",".join(str(x) for x in v) + "]"


def geneus_conf(c) -> str:
    def res(r):
        lines = ["[conductor]", "  order:          0", f"  temperature:    {c['T']}"]
        lines += [f"  {k}:    {_vec(v) if isinstance(v, tuple) else v}" for k, v in r.items()]
        return "\n".join(lines)

    mid = ["[superconductor]", "  order:          1", f"  length:         {c['length']}", "  nonequilibrium: T",
           "  selfconsistent: F"]
    for side, b in (("a", c["left"]), ("b", c["right"])):
        mid += [f"  conductance_{side}:  {b['conductance']}", f"  spinmixing_{side}:   {b['spinmixing']}",
                f"  polarization_{side}: {b['polarization']}", f"  magnetization_{side}: {_vec(b['m'])}"]
    return "\n".join([res(c["res_left"]), "\n".join(mid), res(c["res_right"])]) + "\n"


RASHBA = dict(alpha=0.8, h=0.3, length=1.0, conductance=0.3)
RASHBA_CONF = f"""[superconductor]
  order:          0
[ferromagnet]
  order:          1
  length:         {RASHBA['length']}
  magnetization:  [{RASHBA['h']},0,0]
  rashba:         {RASHBA['alpha']}
  conductance_a:  {RASHBA['conductance']}
"""


def run_geneus(binary: Path, work: Path) -> None:
    confs = {name: geneus_conf(c) for name, c in CASES.items()} | {"rashba_fs": RASHBA_CONF}
    for name, conf in confs.items():
        d = work / name
        d.mkdir(parents=True, exist_ok=True)
        (d / "case.conf").write_text(conf)
        with open(d / "output.log", "w") as log:
            subprocess.run(["/usr/bin/time", "-v", "-o", str(d / "time.log"), str(binary), "case.conf"], cwd=d,
                           stdout=log, stderr=subprocess.STDOUT, check=True)


def read_geneus(folder: Path, length: float) -> dict:
    s, lossy, a = (np.loadtxt(folder / f) for f in ("supercurrent.dat", "lossycurrent.dat", "accumulation.dat"))
    tot = s[:, 1:5] + lossy[:, 1:5]  # charge, spin x, y, z
    mid = len(tot) // 2
    out = {"J_L_barrier_charge": [float(tot[0, 0]), float(tot[-1, 0])], "J_L_mid": tot[mid].tolist(),
           "accumulation_mid": (-a[mid, 1:5]).tolist(), "x_mid": float(s[mid, 0]) * length}
    tl = folder / "time.log"
    if tl.exists():
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", tl.read_text())
        if m:
            out["wall_s"] = sum(float(p) * 60 ** i for i, p in enumerate(reversed(m.group(1).split(":"))))
    return out


def jaxqp_case(c, n_x=101) -> dict:
    g = geneus_grid()
    p, w = np.asarray(g.points), np.asarray(g.weights)
    grid = grids.EnergyGrid(points=jnp.asarray(np.concatenate([-p[::-1], p])),
                            weights=jnp.asarray(np.concatenate([w[::-1], w])))
    T = c["T"] * TC0

    def barrier(b):
        return qp.SpinActive(b["conductance"] * b["spinmixing"], b["m"], conductance=b["conductance"],
                             polarization=b["polarization"], electrode=qp.NormalMetal())

    def dist(r):
        return qp.SpinDistribution(T, r.get("spinvoltage", 0.0), r.get("spinaxis", (0, 0, 1)), r.get("voltage", 0.0))

    wire = qp.SpinWire(qp.Superconductor(delta=1.0, gamma=0.01), c["length"], n_x,
                       ends=(barrier(c["left"]), barrier(c["right"])))
    t0 = time.perf_counter()
    out = K.solve_spin_kinetic(wire, grid, (dist(c["res_left"]), dist(c["res_right"])))
    wall = time.perf_counter() - t0
    L = c["length"]
    link = np.concatenate([np.asarray(out.charge_current)[:, None], np.asarray(out.spin_current)], 1) * L
    bl = np.concatenate([np.asarray(out.barrier_charge)[:, None], np.asarray(out.barrier_spin)], 1) * L
    mid = (n_x - 1) // 2
    acc = np.concatenate([np.asarray(out.charge_potential)[:, None], np.asarray(out.spin_accumulation)], 1)
    # GENEUS' node current at a barrier is the wire's current there (into the wire on the left, out of it on
    # the right); its spin part includes the barrier's spin-mixing torque, so the barriers compare charge
    return {"J_L_barrier_charge": [float(bl[0, 0]), float(-bl[1, 0])],
            "J_L_mid": (0.5 * (link[mid - 1] + link[mid])).tolist(), "accumulation_mid": acc[mid].tolist(),
            "wall_s_first_call": wall, "converged": bool(np.all(np.asarray(out.converged)))}


def rashba_case(folder: Path | None, n_x: int = 101) -> dict:
    a = RASHBA["alpha"]
    field = qp.GaugeField(np.array([[0.0, 0.0, 0.0], [0.0, -a, 0.0], [a, 0.0, 0.0]]))  # along, 2 transverse
    wire = qp.SpinWire(qp.Superconductor(delta=0.0, h=RASHBA["h"], gamma=0.01), RASHBA["length"], n_x,
                       exchange_direction=(1.0, 0.0, 0.0), spin_orbit=field,
                       ends=(qp.SpinActive(0.0, (0, 0, 1), conductance=RASHBA["conductance"],
                                           electrode=qp.Superconductor(delta=1.0, gamma=0.01)), "vacuum"))
    E = np.asarray(geneus_grid().points)
    E = E[(E > 0) & (E <= 2.0)]
    t0 = time.perf_counter()
    dos = np.asarray(qp.solve_spin(wire, jnp.asarray(E)).dos())  # (n_E, n_x)
    row = {"conf": RASHBA_CONF, "jaxqp_wall_s_first_call": time.perf_counter() - t0, "n_energy": int(E.size)}
    if folder is not None and (folder / "density.dat").exists():
        ge = np.loadtxt(folder / "density.dat")
        xs = np.unique(ge[:, 0])
        diffs = {}
        for i in (0, n_x // 2, n_x - 1):
            sel = np.isclose(ge[:, 0], xs[i])
            ref = np.interp(E, ge[sel, 1], ge[sel, 2])
            diffs[f"x={xs[i] * RASHBA['length']:.2f}"] = {
                "max_abs_dos_difference": float(np.max(np.abs(dos[:, i] - ref))),
                "dos_range": [float(ref.min()), float(ref.max())]}
        row["comparison"] = diffs
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geneus", type=Path, help="folder with GENEUS outputs biased/ spin_biased/")
    ap.add_argument("--geneus-bin", type=Path, help="run this GENEUS 'converge' binary here first")
    a = ap.parse_args()
    if a.geneus_bin:
        a.geneus = a.geneus or Path("geneus-kinetic-runs")
        run_geneus(a.geneus_bin, a.geneus)
    rows = {}
    for name, c in CASES.items():
        row = {"case": c, "geneus_conf": geneus_conf(c), "jaxqp": jaxqp_case(c)}
        if a.geneus and (a.geneus / name).exists():
            row["geneus"] = read_geneus(a.geneus / name, c["length"])
            row["max_relative_difference"] = {
                k: float(np.max(np.abs(np.subtract(row["jaxqp"][k], row["geneus"][k])))
                         / np.max(np.abs(row["geneus"][k])))
                for k in ("J_L_barrier_charge", "J_L_mid", "accumulation_mid")}
        rows[name] = row
        print(name, {k: v for k, v in row.items() if k not in ("case", "geneus_conf")}, flush=True)
    rows["rashba_fs"] = rashba_case(a.geneus / "rashba_fs" if a.geneus else None)
    print("rashba_fs", rows["rashba_fs"].get("comparison"), flush=True)
    write("spin_geneus", {"grid": {"n_x": 101, "n_energy_positive": 1000}, "cases": rows})


if __name__ == "__main__":
    main()
