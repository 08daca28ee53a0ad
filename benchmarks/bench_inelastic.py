"""Seed 001 Fig. 11(a): self-consistent Delta(V_inj) with electron-electron collisions, 51 biases.

Device: `jaxqp.devices.nonlocal_wire.half_wire(("A", "B"))` (half of the 11 um Al wire, injector on
the symmetry plane, reservoir at L/2 = 84.6 xi, kappa = G R_xi / 2), Gamma = 0.005,
omega_D = 10, lambda = 1/arcsinh(omega_D), gamma_ee = 2e-4, V_inj = 0 .. 5 step 0.1.
jaxqp: `jaxqp.gap_sweep` (Newton-Krylov on the whole (E, x) grid with Delta as an unknown,
continuation in bias), at the paper's energy spacing 1/40 (n_E = 801) and, with `--fine`, at 1/160
(n_E = 3201; on a CPU only every fifth bias, extrapolated).

Reference in the same run, the straightforward way of seed 001 Appendix B: for one bias point, an
outer fixed-point iteration on Delta ("iterate until self-consistency is obtained"), and inside it a
semi-implicit Picard iteration on the collision integral (out-scattering rate on the diagonal, the
rest lagged; the fully explicit lagged source diverges here) around the elastic equation for f_L,
a tridiagonal system per energy solved by `scipy.linalg.solve_banded`, with the collision integral
by NumPy FFTs.  Same discretisation (cell-averaged spectra from jaxqp), tolerance 1e-9 on Delta.

    python benchmarks/bench_inelastic.py [--fine] [--quick]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import write
from scipy.linalg import solve_banded

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw
from jaxqp.kinetic import inelastic as inel


def sweep(wire, ee, V, spacing):
    grid = qp.uniform_grid(10.0, spacing)
    biases = jnp.stack([V, jnp.zeros_like(V)], -1)
    t0 = time.perf_counter()
    out = qp.gap_sweep(wire, [ee], biases, gap=qp.GapEquation(cutoff=10.0), grid=grid)
    jax.block_until_ready(out.up.delta)
    return time.perf_counter() - t0, out


def numpy_reference(wire, ee, V, spacing, tol=1e-9, max_outer=4):
    """Outer Delta iteration, inner Picard on the collisions; f_L mode only (no spin, no supercurrent)."""
    grid = qp.uniform_grid(10.0, spacing)
    E = np.asarray(grid.points)
    d = E[1] - E[0]
    x = np.asarray(wire.x)
    n, nE = x.size, E.size
    vol = np.concatenate([[0.5 * (x[1] - x[0])], 0.5 * (x[2:] - x[:-2]), [0.5 * (x[-1] - x[-2])]])
    inj = wire.contacts[0]
    T_inj = float(inj.electrode.temperature)
    fN = 0.5 * (np.tanh((E + V) / (2 * T_inj)) + np.tanh((E - V) / (2 * T_inj)))
    feq = np.tanh(E / (2 * float(wire.temperature)))
    L = 1 << int(np.ceil(np.log2(2 * nE - 1)))
    k = np.arange(L)
    k = np.where(k < nE, k, k - L)
    valid = np.abs(k) < nE
    C = float(ee.coefficient()) / 4.0 * d
    lam = 1.0 / np.arcsinh(10.0)

    def spectra(delta):
        co, G, F, _ = inel._spectra(wire, E, jnp.asarray([delta]), 8)
        N, M = jnp.real(G), jnp.real(F)
        return np.asarray(co.D[:, 0, 0, 0]), np.asarray(N[0, 0]), np.asarray(M[0, 0])

    def collisions(N, M, f):  # f (n, nE)
        F = np.fft.rfft
        FN, FM, FNf, FMf = F(N, L), F(M, L), F(N * f, L), F(M * f, L)
        c = np.conj
        A = np.fft.irfft(c(FN) * FN - c(FM) * FM - c(FNf) * FNf + c(FMf) * FMf, L)
        B = np.fft.irfft(c(FNf) * FN - c(FN) * FNf - c(FMf) * FM + c(FM) * FMf, L)
        a, b = np.where(valid, A, 0.0) * d, np.where(valid, B, 0.0) * d
        Fa, Fb = F(a, L), F(b, L)
        Ir = lambda z: np.fft.irfft(z, L)[..., :nE]  # noqa: E731
        diag = C * (N * Ir(Fa * FN - Fb * FNf) - M * Ir(Fa * FM - Fb * FMf))
        return f * diag + C * (N * Ir(Fb * FN - Fa * FNf) + M * Ir(Fa * FMf - Fb * FM)), diag

    def kinetic(D, N, M, f0):
        f = f0.copy()
        dx = np.diff(x)
        for it in range(2000):
            # semi-implicit Picard: the out-scattering rate on the diagonal, the rest lagged
            # (the fully explicit lagged source diverges on this problem)
            src, diag = collisions(N, M, f) if it else (np.zeros_like(f), np.zeros_like(f))
            src = src - diag * f
            new = np.empty_like(f)
            for j in range(nE):  # one tridiagonal system per energy
                g = D[j] / dx
                ab = np.zeros((3, n))
                ab[1, :-1] += g
                ab[1, 1:] += g
                ab[1] += vol * diag[:, j]
                ab[0, 1:] = -g
                ab[2, :-1] = -g
                rhs = -vol * src[:, j]
                ab[1, 0] += inj.kappa * N[j]
                rhs[0] += inj.kappa * N[j] * fN[j]
                ab[1, -1], rhs[-1] = 1.0, feq[j]  # Dirichlet row: reservoir
                ab[2, -2] = 0.0
                new[:, j] = solve_banded((1, 1), ab, rhs)
            err = np.max(np.abs(new - f))
            f = new
            if err < tol:
                return f, it + 1
        return f, -1

    delta = 1.0
    f = np.broadcast_to(feq, (n, nE)).copy()
    inner, steps = [], []
    for outer in range(max_outer):
        D, N, M = spectra(delta)
        f, its = kinetic(D, N, M, f)
        inner.append(its)
        new = 0.5 * lam * np.sum(M * f[0] * (np.abs(E) <= 10.0 + 1e-9)) * d
        steps.append(abs(new - delta))
        if abs(new - delta) < tol:
            return new, outer + 1, inner, steps
        delta = new
    return delta, -1, inner, steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--fine", action="store_true", help="also the 4x finer energy grid (spacing 1/160)")
    ap.add_argument("--quick", action="store_true", help="11 biases only")
    args = ap.parse_args()
    wire = nw.half_wire(("A", "B"), n_x=64)
    ee = qp.ElectronElectron(2e-4, modes="energy")  # seed 001's model (and the reference's): f_L only
    V = jnp.linspace(0.0, 5.0, 11 if args.quick else 51)
    runs = {}
    t_cold, out = sweep(wire, ee, V, 1 / 40)
    t_warm, out = sweep(wire, ee, V, 1 / 40)
    runs["paper_grid"] = dict(spacing=1 / 40, n_E=801, n_x=int(wire.x.size), n_bias=int(V.size),
                              cold_s=t_cold, warm_s=t_warm, all_converged=bool(jnp.all(out.converged)),
                              newton_iterations=np.asarray(out.up.iterations).tolist(),
                              delta=np.asarray(out.delta).tolist(), V_inj=np.asarray(V).tolist())
    print(f"paper grid: cold {t_cold:.1f} s, warm {t_warm:.1f} s, converged {bool(jnp.all(out.converged))}")
    if args.fine:
        Vf = V[::5]
        t_cold_f, outf = sweep(wire, ee, Vf, 1 / 160)
        runs["fine_grid"] = dict(spacing=1 / 160, n_E=3201, n_x=int(wire.x.size), n_bias=int(Vf.size),
                                 cold_s=t_cold_f, extrapolated_51_s=t_cold_f * 51 / Vf.size,
                                 all_converged=bool(jnp.all(outf.converged)),
                                 delta=np.asarray(outf.delta).tolist(), V_inj=np.asarray(Vf).tolist())
        print(f"fine grid ({Vf.size} biases): {t_cold_f:.1f} s")
    payload = dict(device="half_wire(A,B)", gamma=0.005, omega_D=10.0, gamma_ee=2e-4, runs=runs)
    write("inelastic", payload)
    # reference at one bias above 3 Delta
    Vr = 4.0
    t0 = time.perf_counter()
    d_ref, n_outer, inner, steps = numpy_reference(wire, ee, Vr, 1 / 40)
    t_ref = time.perf_counter() - t0
    i = int(np.argmin(np.abs(np.asarray(V) - Vr)))
    d_jax = float(out.delta[i])
    # outer fixed point: the Delta updates shrink geometrically; iterations to reach 1e-9
    rate = steps[-1] / steps[-2] if len(steps) > 1 and steps[-2] > 0 else float("nan")
    need = len(steps) + max(0.0, np.log(1e-9 / steps[-1]) / np.log(rate)) if 0 < rate < 1 else float("nan")
    per_outer = t_ref / len(steps)
    runs["numpy_reference"] = dict(V_inj=Vr, seconds=t_ref, outer_iterations_run=len(steps),
                                   picard_iterations=inner, delta_updates=steps, contraction=rate,
                                   outer_iterations_needed=need, seconds_per_outer=per_outer,
                                   extrapolated_point_s=per_outer * need,
                                   extrapolated_51_s=per_outer * need * 51,
                                   delta_after_run=d_ref, delta_jaxqp=d_jax,
                                   speedup_vs_jaxqp_warm=per_outer * need * V.size / t_warm)
    print(f"numpy/scipy reference at V={Vr}: {t_ref:.1f} s for {len(steps)} Delta iterations (Picard {inner}), "
          f"contraction {rate:.3f}, ~{need:.0f} iterations needed -> {per_outer * need:.0f} s per bias point; "
          f"Delta {d_ref:.8f} (not converged) vs jaxqp {d_jax:.8f}")
    write("inelastic", payload)


if __name__ == "__main__":
    main()
