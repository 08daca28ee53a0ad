"""Kinetic equations with general spin structure (`jaxqp.solve_spin_kinetic`) against a dense solve.

Problem: a superconducting wire (Delta = 1, h = 0.2 along z, Gamma = 5e-3, b_so = 0.01, L = 3 xi)
with spin injected along x from a normal electrode through a spin-active barrier (G_T/G_N = 0.5,
G_phi/G_N = 0.5, P = 0.3, spin voltage 1.5, T = 0.1) and a reservoir at the other end.  The
retarded solution is computed once and shared.  jaxqp assembles the 8x8 block-tridiagonal
equations of every energy and solves them by block Thomas for all energies at once; the baseline
is the straightforward way: a Python loop over energies, each building the dense
``(8 n_x) x (8 n_x)`` matrix from the same blocks and solving it with ``numpy.linalg.solve``
(the blocks' assembly is not counted for the baseline).  Both give the same modes (the maximum
difference is recorded).  Warm = best of repeated calls after the first.

Second part: the self-consistent gap of seed 003's wire driven by a contact (G_T/G_N = 0.3, spin
voltage 0.25 along x, T = 0.05), with the kinetic distributions (`solve_contact`: a spectral and
a kinetic solve per step, on the mirrored grid of 2 n_E - 1 energies) and with the prescribed one
(`solve`, n_E positive energies); first calls, compilation included.
"""

from __future__ import annotations

import time

import equinox as eqx
import jax
import numpy as np
from _common import timed, write

import jaxqp as qp
from jaxqp import grids
from jaxqp.kinetic import spin as K


def _wire(n_x):
    m = qp.Superconductor(delta=1.0, h=0.2, gamma=5e-3, b_so=0.01)
    barrier = qp.SpinActive(0.5, (0, 0, 1), conductance=0.5, polarization=0.3, electrode=qp.NormalMetal())
    return qp.SpinWire(m, 3.0, n_x, ends=(barrier, "reservoir"))


def _dense(op, n_x):
    A, B, C, d = (np.asarray(a) for a in (op.A, op.B, op.C, op.d))
    out = np.empty(d.shape)
    for e in range(d.shape[0]):
        M = np.zeros((8 * n_x, 8 * n_x))
        for i in range(n_x):
            M[8 * i:8 * i + 8, 8 * i:8 * i + 8] = B[e, i]
            if i > 0:
                M[8 * i:8 * i + 8, 8 * (i - 1):8 * i] = A[e, i]
            if i < n_x - 1:
                M[8 * i:8 * i + 8, 8 * (i + 1):8 * i + 16] = C[e, i]
        out[e] = np.linalg.solve(M, d[e].reshape(-1)).reshape(n_x, 8)
    return out


def main():
    rows = []
    dists = (qp.SpinDistribution(0.1, spin_voltage=1.5, axis=(1, 0, 0)), qp.SpinDistribution(0.1))
    for n_x, n_E in ((21, 601), (51, 2001)):
        wire = _wire(n_x)
        grid = grids.uniform(-4.0, 4.0, n_E)
        t0 = time.perf_counter()
        sol = jax.block_until_ready(qp.solve_spin(wire, grid.points))
        spectra_s = time.perf_counter() - t0
        cold, warm, out = timed(lambda w=wire, g=grid, s=sol: K.solve_spin_kinetic(w, g, dists, spectra=s).modes)
        op = eqx.filter_jit(lambda w, s: K.kinetic_operator(w, s, dists))(wire, sol)
        t0 = time.perf_counter()
        ref = _dense(op, n_x)
        dense_s = time.perf_counter() - t0
        rows.append({"n_x": n_x, "n_energy": n_E, "spectra_first_call_s": spectra_s, "kinetic_first_call_s": cold,
                     "kinetic_warm_s": warm, "numpy_dense_loop_s": dense_s, "speedup_warm": dense_s / warm,
                     "max_mode_difference": float(np.max(np.abs(np.asarray(out) - ref)))})
        print(rows[-1], flush=True)
    # the self-consistent gap of seed 003 driven by a contact (kinetic distributions) against the same
    # wire with the prescribed distribution, self-consistent too
    from jaxqp.devices import spin_supercurrent as ssc

    gap_rows = []
    for n_x, n_E in ((11, 200), (21, 300)):
        dev = ssc.contact_device(contact=0.3, n_x=n_x)
        t0 = time.perf_counter()
        kin = ssc.solve_contact(dev, 0.25, (1, 0, 0), 0.05, n_energy=n_E)
        kin_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        pres = ssc.solve(dev, 0.25, (1, 0, 0), 0.05, n_energy=n_E)
        pres_s = time.perf_counter() - t0
        gap_rows.append({"n_x": n_x, "n_energy_positive": n_E, "kinetic_self_consistent_s": kin_s,
                         "kinetic_steps": int(kin.gap.steps), "prescribed_self_consistent_s": pres_s,
                         "prescribed_steps": int(pres.gap.steps),
                         "converged": bool(kin.converged) and bool(pres.converged),
                         "mean_delta_kinetic": float(kin.delta.mean()),
                         "mean_delta_prescribed": float(pres.delta.mean())})
        print(gap_rows[-1], flush=True)
    write("spin_kinetic", {"rows": rows, "self_consistent": gap_rows})


if __name__ == "__main__":
    main()
