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

A fourth case is a stack of three segments joined by spin-active interfaces (`jaxqp.Interface` with a
polarisation and spin mixing):

* ``fsf_stack``: normal reservoir at eV = 0.2 | tunnel (G_T/G_N = 0.25) | ferromagnet (h = 0.4 along x,
  0.5 xi) | interface (G_B R_xi = 0.4, P = 0.3, spin mixing 0.5 G_B, m = x) | superconductor (Delta = 1
  fixed, 1 xi) | interface (0.4, P = 0.2, 0.6 G_B, m = y) | ferromagnet (h = 0.4 along y, 0.5 xi) |
  tunnel | grounded reservoir, T = 0.2 Tc, 101 nodes per layer.  GENEUS gives each material its own
  ``conductance_a/b``, relative to the material's ``sigma / L``: ``G_B R_xi L``.  Compared: the charge
  currents through the end barriers, and ``(J_charge, J)`` and the accumulations in the middle of each
  layer.  GENEUS iterates over the materials until the largest change is small; jaxqp solves the
  stack at once.

A third case checks the retarded solver with linear-in-momentum spin-orbit coupling:

* ``rashba_fs``: a ferromagnet (exchange field 0.3 along x, Rashba alpha xi = 0.8 in the plane of
  the layer, L = 1 xi) tunnel-coupled (G_T/G_N = 0.3) to a bulk superconductor, vacuum at the other
  end; the DOS at x = 0, L/2 and L for 0 < E <= 2.  GENEUS' junction runs along z with the Rashba
  field in the x-y plane (``A_x = -alpha sigma_y``, ``A_y = alpha sigma_x``): in jaxqp both are
  transverse components of the `jaxqp.GaugeField`.

    python benchmarks/bench_spin_geneus.py --geneus-bin /path/to/geneus/bin/converge
    python benchmarks/bench_spin_geneus.py --geneus DIR     # DIR/biased, DIR/spin_biased, DIR/rashba_fs, DIR/fsf_stack
    python benchmarks/bench_spin_geneus.py --only fsf_stack --geneus-bin ...   # one case, the others kept
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from _common import RESULTS, device_info, write
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


STACK = dict(T=0.2, voltage=0.2, h=0.4, lengths=(0.5, 1.0, 0.5), ends=0.25, n_x=101,
             faces=(dict(conductance=0.4, polarization=0.3, spinmixing=0.5, m=(1, 0, 0)),
                    dict(conductance=0.4, polarization=0.2, spinmixing=0.6, m=(0, 1, 0))))


def stack_conf() -> str:
    T, (l1, l2, l3), (f1, f2) = STACK["T"], STACK["lengths"], STACK["faces"]

    def side(s, f, length):
        return [f"  conductance_{s}:  {f['conductance'] * length}", f"  polarization_{s}: {f['polarization']}",
                f"  spinmixing_{s}:   {f['spinmixing']}", f"  magnetization_{s}: {_vec(f['m'])}"]

    def layer(kind, order, length, extra):
        return [f"[{kind}]", f"  order:          {order}", f"  length:         {length}", "  nonequilibrium: T",
                f"  temperature:    {T}"] + extra

    h = STACK["h"]
    lines = ["[conductor]", "  order:          0", f"  temperature:    {T}", f"  voltage:        {STACK['voltage']}"]
    lines += layer("ferromagnet", 1, l1, [f"  magnetization:  [{h},0,0]", f"  conductance_a:  {STACK['ends']}"]
                   + side("b", f1, l1))
    lines += layer("superconductor", 2, l2, ["  selfconsistent: F"] + side("a", f1, l2) + side("b", f2, l2))
    lines += layer("ferromagnet", 3, l3, [f"  magnetization:  [0,{h},0]"] + side("a", f2, l3)
                   + [f"  conductance_b:  {STACK['ends']}"])
    lines += ["[conductor]", "  order:          0", f"  temperature:    {T}"]
    return "\n".join(lines) + "\n"


def _mids(n_x: int):
    return [k * n_x + (n_x - 1) // 2 for k in range(3)]


def read_stack(folder: Path) -> dict:
    s, lossy, a = (np.loadtxt(folder / f) for f in ("supercurrent.dat", "lossycurrent.dat", "accumulation.dat"))
    tot = s[:, 1:5] + lossy[:, 1:5]
    lengths = STACK["lengths"]
    out = {"barrier_charge": [float(tot[0, 0] / lengths[0]), float(tot[-1, 0] / lengths[-1])],
           "J_mid": [(tot[i] / L).tolist() for i, L in zip(_mids(STACK["n_x"]), lengths, strict=True)],
           "accumulation_mid": [(-a[i, 1:5]).tolist() for i in _mids(STACK["n_x"])]}
    return out | _wall(folder)


def jaxqp_stack(n_x: int = STACK["n_x"], grid: grids.EnergyGrid | None = None) -> dict:
    """The stack on GENEUS' grid (default) or on ``n_x`` nodes per layer and ``grid``."""
    grid = _mirrored_grid() if grid is None else grid
    T, h = STACK["T"] * TC0, STACK["h"]
    fm, sc = qp.Superconductor(delta=0.0, h=h, gamma=0.01), qp.Superconductor(delta=1.0, gamma=0.01)
    (l1, l2, l3), n = STACK["lengths"], n_x
    segs = (qp.Segment(fm, l1, n_x=n, exchange_direction=(1, 0, 0)), qp.Segment(sc, l2, n_x=n),
            qp.Segment(fm, l3, n_x=n, exchange_direction=(0, 1, 0)))
    faces = tuple(qp.Interface(f["conductance"], polarization=f["polarization"],
                               spin_mixing=f["conductance"] * f["spinmixing"], magnetization=f["m"])
                  for f in STACK["faces"])
    end = qp.SpinActive(0.0, conductance=STACK["ends"], electrode=qp.NormalMetal())
    chain = qp.Chain(segs, faces, ends=(end, end), growth=0.0)
    t0 = time.perf_counter()
    out = K.solve_spin_kinetic(chain, grid, (qp.SpinDistribution(T, voltage=STACK["voltage"]), qp.SpinDistribution(T)))
    wall = time.perf_counter() - t0
    link = np.concatenate([np.asarray(out.charge_current)[:, None], np.asarray(out.spin_current)], 1)
    acc = np.concatenate([np.asarray(out.charge_potential)[:, None], np.asarray(out.spin_accumulation)], 1)
    bc = np.asarray(out.barrier_charge)
    return {"barrier_charge": [float(bc[0]), float(-bc[1])],
            "J_mid": [(0.5 * (link[i - 1] + link[i])).tolist() for i in _mids(n)],
            "accumulation_mid": [acc[i].tolist() for i in _mids(n)], "wall_s_first_call": wall,
            "n_x": int(out.x.shape[0]), "n_energy": int(grid.n), "converged": bool(np.all(np.asarray(out.converged)))}


def coarse_stack(n_x: int, n_positive: int, geneus: dict | None) -> dict:
    """The stack on ``n_x`` nodes per layer and an adaptive grid of ``2 n_positive - 1`` energies (refined at
    the gap edge, the Fermi edges of the bias and the ferromagnets' split edges), first and warm call."""
    g = K.symmetric_grid(grids.adaptive(jnp.asarray([1.0, STACK["voltage"], 1 - STACK["h"], 1 + STACK["h"]]),
                                        jnp.asarray([0.01, STACK["T"] * TC0, 0.1, 0.1]), 0.0, 30.0, n_positive))
    first = jaxqp_stack(n_x, g)
    t0 = time.perf_counter()
    out = jaxqp_stack(n_x, g)
    out["wall_s_warm"] = time.perf_counter() - t0
    out["wall_s_first_call"] = first["wall_s_first_call"]
    if geneus is not None:
        out["max_relative_difference"] = {k: _relative(out[k], geneus[k])
                                          for k in ("barrier_charge", "J_mid", "accumulation_mid")}
    return out


def _wall(folder: Path) -> dict:
    tl = folder / "time.log"
    out: dict = {}
    if tl.exists():
        text = tl.read_text()
        m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", text)
        if m:
            out["wall_s"] = sum(float(p) * 60 ** i for i, p in enumerate(reversed(m.group(1).split(":"))))
        m = re.search(r"User time \(seconds\): (\S+)", text)
        if m:
            out["cpu_user_s"] = float(m.group(1))
    return out


def _mirrored_grid() -> grids.EnergyGrid:
    g = geneus_grid()
    p, w = np.asarray(g.points), np.asarray(g.weights)
    return grids.EnergyGrid(points=jnp.asarray(np.concatenate([-p[::-1], p])),
                            weights=jnp.asarray(np.concatenate([w[::-1], w])))


def _relative(a, b) -> float:
    return float(np.max(np.abs(np.subtract(a, b))) / np.max(np.abs(b)))


def run_geneus(binary: Path, work: Path, only: str | None = None) -> None:
    confs = {name: geneus_conf(c) for name, c in CASES.items()} | {"rashba_fs": RASHBA_CONF,
                                                                  "fsf_stack": stack_conf()}
    for name, conf in confs.items():
        if only is not None and name != only:
            continue
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
    return out | _wall(folder)


def jaxqp_case(c, n_x=101) -> dict:
    grid = _mirrored_grid()
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
    ap.add_argument("--geneus", type=Path, help="folder with GENEUS outputs biased/ spin_biased/ ...")
    ap.add_argument("--geneus-bin", type=Path, help="run this GENEUS 'converge' binary here first")
    ap.add_argument("--only", choices=[*CASES, "rashba_fs", "fsf_stack"],
                    help="run one case; the others are kept from the existing results file")
    a = ap.parse_args()
    if a.geneus_bin:
        a.geneus = a.geneus or Path("geneus-kinetic-runs")
        run_geneus(a.geneus_bin, a.geneus, a.only)
    previous = RESULTS / f"spin_geneus_{device_info()['backend']}.json"
    rows = json.loads(previous.read_text())["cases"] if a.only and previous.exists() else {}
    for name, c in CASES.items():
        if a.only not in (None, name):
            continue
        row = {"case": c, "geneus_conf": geneus_conf(c), "jaxqp": jaxqp_case(c)}
        if a.geneus and (a.geneus / name).exists():
            row["geneus"] = read_geneus(a.geneus / name, c["length"])
            row["max_relative_difference"] = {k: _relative(row["jaxqp"][k], row["geneus"][k])
                                              for k in ("J_L_barrier_charge", "J_L_mid", "accumulation_mid")}
        rows[name] = row
        print(name, {k: v for k, v in row.items() if k not in ("case", "geneus_conf")}, flush=True)
    if a.only in (None, "rashba_fs"):
        rows["rashba_fs"] = rashba_case(a.geneus / "rashba_fs" if a.geneus else None)
        print("rashba_fs", rows["rashba_fs"].get("comparison"), flush=True)
    if a.only in (None, "fsf_stack"):
        row = {"case": STACK, "geneus_conf": stack_conf(), "jaxqp": jaxqp_stack()}
        if a.geneus and (a.geneus / "fsf_stack" / "supercurrent.dat").exists():
            row["geneus"] = read_stack(a.geneus / "fsf_stack")
            row["max_relative_difference"] = {k: _relative(row["jaxqp"][k], row["geneus"][k])
                                              for k in ("barrier_charge", "J_mid", "accumulation_mid")}
        row["jaxqp_coarse"] = [coarse_stack(n_x, n_e, row.get("geneus")) for n_x, n_e in ((21, 300), (21, 500))]
        rows["fsf_stack"] = row
        print("fsf_stack", {k: v for k, v in row.items() if k not in ("case", "geneus_conf")}, flush=True)
    write("spin_geneus", {"grid": {"n_x": 101, "n_energy_positive": 1000}, "cases": rows})


if __name__ == "__main__":
    main()
