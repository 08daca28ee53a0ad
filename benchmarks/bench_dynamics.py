"""Time-resolved kinetics: a superconducting wire after a bias step, e-e and e-ph collisions.

Device: Delta = 1, Gamma = 0.05, L = 1 xi between a vacuum end with a tunnel injector
(kappa = 0.05, V = 1.2 from t = 0) and a reservoir, T = 0.1, n_x = 4 (6 with ``--large``),
uniform energy grid |E| <= 1.5, spacing 0.1 (0.05 with ``--large``). The system is integrated from
equilibrium to t = 1e3 hbar/Delta0 (the stationary state) with rtol 1e-8, atol 1e-10.

jaxqp: `jaxqp.solve_dynamics` (diffrax Kvaerno5 with the block-tridiagonal stage solver).
Reference in the same run, the straightforward way: `scipy.integrate.solve_ivp(method="BDF")` on
the same right-hand side (the same jitted residual, called from NumPy), with scipy's
finite-difference Jacobian and dense LU. Both end states are compared with the stationary
Newton solution.

With ``--gap`` it times instead a prescribed gap: a closed BCS island (Gamma = 0.02, T = 1, no
collisions, |E| <= 2.5 at spacing 0.05) whose Delta is lowered from 1 to 0.8 over t = 10. The
reference in the same run is scipy's BDF on a right-hand side written here from the kinetic
system's public pieces (spectra at Delta, DOS, Re f, residual), so it checks the spectral-flow
term as well; both are compared with the analytic adiabatic invariant.

With ``--adiabatic`` the wire of the default run (|E| <= 2.5 at spacing 0.1, e-e and e-ph) has a
self-consistent gap (``GapEquation(cutoff=2)``) that follows the injected quasiparticles; the
reference is the stationary self-consistent Newton-Krylov solution (a second method; no scipy
integrator takes the gap equation as it is).

With ``--adiabatic-gradient`` it times reverse mode through the adiabatic path instead: `jax.grad`
of ``Delta(t = 3) + 0.3 sum_E w(E) f_T(E, x = 0, t = 3)`` (``w`` linear from -1 to 1) with respect
to the injector bias and the e-ph rate (the wire of the test suite: |E| <= 2.5 at spacing 0.2,
e-ph only, 8 midpoints per cell), against central finite differences (step 1e-4) of the same
computation. The reference is those finite differences; scipy has no reverse mode.

    python benchmarks/bench_dynamics.py [--large | --gap | --adiabatic | --adiabatic-gradient]
"""

from __future__ import annotations

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
from _common import write
from scipy.integrate import solve_ivp

import jaxqp as qp
from jaxqp.kinetic import inelastic as inel


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--gap", action="store_true")
    ap.add_argument("--adiabatic", action="store_true")
    ap.add_argument("--adiabatic-gradient", action="store_true")
    args = ap.parse_args()
    jax.config.update("jax_enable_x64", True)
    if args.gap:
        return gap_ramp()
    if args.adiabatic:
        return adiabatic()
    if args.adiabatic_gradient:
        return adiabatic_gradient()
    n_x, spacing = (6, 0.05) if args.large else (4, 0.1)
    sc = qp.Superconductor(delta=1.0, gamma=0.05)
    inj = qp.TunnelContact(position=0.0, kappa=0.05, electrode=qp.NormalMetal(bias=1.2, temperature=0.1))
    wire = qp.Wire(sc, 1.0, (inj,), temperature=0.1, ends=("vacuum", "reservoir"), n_x=n_x)
    grid = inel.uniform_grid(1.5, spacing)
    procs = (qp.ElectronElectron(0.05), qp.ElectronPhonon(0.05, temperature=0.1))
    times = jnp.array([1.0, 10.0, 100.0, 1e3])
    stat = inel.solve_inelastic(wire, procs, grid=grid, subdivision=2)

    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, procs, times, grid=grid, subdivision=2)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, procs, times, grid=grid, subdivision=2)
    warm = time.perf_counter() - t0
    err = float(jnp.max(jnp.abs(d.sectors[-1] - stat.kinetic.sectors)))
    print(f"jaxqp: first {first:.1f} s, warm {warm:.1f} s, {int(d.steps)} steps, |h(1e3) - h_stat| = {err:.2e}")

    system = inel.kinetic_system(wire, procs, grid=grid, subdivision=2)
    V = jnp.array([1.2])
    cap = system.volume[None, :, None] * jnp.maximum(system.density_of_states(), 1e-3)
    active = (system.volume > 0)[None, :, None]
    shape = system.equilibrium().shape
    rhs = jax.jit(lambda h: jnp.where(active, -system.residual(h, V) / jnp.where(active, cap, 1.0), 0.0))
    rhs(system.equilibrium()).block_until_ready()
    calls = [0]

    def f(t, y):
        calls[0] += 1
        return np.asarray(rhs(jnp.asarray(y.reshape(shape)))).ravel()

    t0 = time.perf_counter()
    ref = solve_ivp(f, (0.0, 1e3), np.asarray(system.equilibrium()).ravel(), method="BDF", t_eval=np.asarray(times),
                    rtol=1e-8, atol=1e-10)
    t_scipy = time.perf_counter() - t0
    err_s = float(np.max(np.abs(ref.y[:, -1].reshape(shape) - np.asarray(stat.kinetic.sectors))))
    agree = float(np.max(np.abs(ref.y.T.reshape((-1,) + shape) - np.asarray(d.sectors))))
    print(f"scipy BDF: {t_scipy:.1f} s, {ref.nfev} evaluations ({ref.njev} Jacobians), |h(1e3) - h_stat| = {err_s:.2e};"
          f" jaxqp vs scipy at the save times: {agree:.2e}")
    write("dynamics", {"n_E": int(grid.points.size), "n_x": n_x, "n_unknowns": int(np.prod(shape)),
                       "t_end": 1e3, "rtol": 1e-8, "atol": 1e-10,
                       "jaxqp_first_s": first, "jaxqp_warm_s": warm, "jaxqp_steps": int(d.steps),
                       "jaxqp_error_vs_stationary": err, "scipy_bdf_s": t_scipy, "scipy_nfev": int(ref.nfev),
                       "scipy_njev": int(ref.njev), "scipy_error_vs_stationary": err_s,
                       "max_difference_jaxqp_scipy": agree})


def gap_ramp():
    T, spacing, t_end = 1.0, 0.05, 10.0
    c = qp.TunnelContact(position=0.0, kappa=0.0, electrode=qp.NormalMetal())
    wire = qp.Wire(qp.Superconductor(delta=1.0, gamma=0.02), 1.0, (c,), temperature=T, ends=("vacuum", "vacuum"),
                   n_x=4)
    grid = inel.uniform_grid(2.5, spacing)
    e = np.asarray(grid.points)

    def gap(t):
        return 1.0 - 0.1 * (1.0 - jnp.cos(jnp.pi * jnp.minimum(t, t_end) / t_end))

    times = jnp.array([t_end])
    kw = dict(grid=grid, gap=gap, subdivision=8, rtol=1e-8, atol=1e-10)
    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, (), times, **kw)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, (), times, **kw)
    warm = time.perf_counter() - t0
    far = (np.abs(e) > 1.2) & (np.abs(e) < 2.2)
    want = np.tanh(np.sign(e) * np.sqrt(np.maximum(e**2 - 0.8**2 + 1.0, 0.0)) / (2 * T))
    err = float(np.max(np.abs(np.asarray(d.modes[-1, :, :, 0])[far] - want[far, None])))
    print(f"jaxqp: first {first:.1f} s, warm {warm:.1f} s, {int(d.steps)} steps, |f_L - invariant| = {err:.2e}")

    # the same equations from the public pieces: C d_t h = -F - (d_t Delta) [M d_E f_L ; (dN/dDelta) f_T]
    system = inel.kinetic_system(wire, (), grid=grid, subdivision=8)
    V = jnp.zeros(1)
    shape = system.equilibrium().shape
    vol = system.volume[None, :, None]
    L = jnp.asarray([1.0, 0.0, 1.0, 0.0])

    @jax.jit
    def rhs(t, h):
        delta, dd = jax.jvp(gap, (t,), (jnp.ones_like(t),))
        spec = lambda x: (jnp.maximum(system.at(x).density_of_states(), 1e-3), system.at(x).anomalous())  # noqa: E731
        (N, M), (dN, _) = jax.jvp(spec, (delta,), (jnp.ones_like(delta),))
        dh = jnp.gradient(h, spacing, axis=0)  # central inside, one-sided at the ends
        flow = L * M * dh + (1 - L) * dN * h
        return (-system.at(delta).residual(h, V) / vol - dd * flow) / N

    rhs(0.0, system.equilibrium()).block_until_ready()
    t0 = time.perf_counter()
    ref = solve_ivp(lambda t, y: np.asarray(rhs(t, jnp.asarray(y.reshape(shape)))).ravel(), (0.0, t_end),
                    np.asarray(system.equilibrium()).ravel(), method="BDF", t_eval=[t_end], rtol=1e-8, atol=1e-10)
    t_scipy = time.perf_counter() - t0
    agree = float(np.max(np.abs(ref.y[:, -1].reshape(shape) - np.asarray(d.sectors[-1]))))
    print(f"scipy BDF: {t_scipy:.1f} s, {ref.nfev} evaluations ({ref.njev} Jacobians); jaxqp vs scipy: {agree:.2e}")
    write("dynamics_gap", {"n_E": int(e.size), "n_x": 4, "n_unknowns": int(np.prod(shape)), "t_end": t_end,
                           "rtol": 1e-8, "atol": 1e-10, "jaxqp_first_s": first, "jaxqp_warm_s": warm,
                           "jaxqp_steps": int(d.steps), "jaxqp_error_vs_invariant": err, "scipy_bdf_s": t_scipy,
                           "scipy_nfev": int(ref.nfev), "scipy_njev": int(ref.njev),
                           "max_difference_jaxqp_scipy": agree})


def adiabatic():
    sc = qp.Superconductor(delta=1.0, gamma=0.05)
    inj = qp.TunnelContact(position=0.0, kappa=0.05, electrode=qp.NormalMetal(bias=1.2, temperature=0.1))
    wire = qp.Wire(sc, 1.0, (inj,), temperature=0.1, ends=("vacuum", "reservoir"), n_x=4)
    grid = inel.uniform_grid(2.5, 0.1)
    procs = (qp.ElectronElectron(0.05), qp.ElectronPhonon(0.05, temperature=0.1))
    gap = inel.GapEquation(cutoff=2.0)
    times = jnp.array([0.0, 1.0, 10.0, 100.0, 1e3])
    t0 = time.perf_counter()
    stat = inel.solve_inelastic(wire, procs, grid=grid, gap=gap, subdivision=2)
    t_stat = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, procs, times, grid=grid, gap=gap, subdivision=2)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    d = qp.solve_dynamics(wire, procs, times, grid=grid, gap=gap, subdivision=2)
    warm = time.perf_counter() - t0
    err_h = float(jnp.max(jnp.abs(d.sectors[-1] - stat.kinetic.sectors)))
    err_d = float(jnp.abs(d.delta[-1, 0] - stat.delta[0]))
    print(f"jaxqp: first {first:.1f} s, warm {warm:.1f} s, {int(d.steps)} steps; Delta(t) = "
          f"{np.round(np.asarray(d.delta[:, 0]), 6)}, max |G| = {float(jnp.max(d.gap_residual)):.1e}; vs the "
          f"stationary solution (first call {t_stat:.1f} s): |h| {err_h:.1e}, |Delta| {err_d:.1e}")
    write("dynamics_adiabatic", {"n_E": int(grid.points.size), "n_x": 4, "t_end": 1e3, "rtol": 1e-8, "atol": 1e-10,
                                 "jaxqp_first_s": first, "jaxqp_warm_s": warm, "jaxqp_steps": int(d.steps),
                                 "delta": np.asarray(d.delta[:, 0]).tolist(), "times": np.asarray(times).tolist(),
                                 "max_gap_residual": float(jnp.max(d.gap_residual)),
                                 "stationary_first_call_s": t_stat, "error_h_vs_stationary": err_h,
                                 "error_delta_vs_stationary": err_d})


def adiabatic_gradient():
    grid = inel.uniform_grid(2.5, 0.2)
    gap = inel.GapEquation(cutoff=2.0)
    times = jnp.array([0.0, 3.0])

    def observable(bias, rate):
        sc = qp.Superconductor(delta=1.0, gamma=0.05)
        inj = qp.TunnelContact(position=0.0, kappa=0.05, electrode=qp.NormalMetal(bias=bias, temperature=0.1))
        wire = qp.Wire(sc, 1.0, (inj,), temperature=0.1, ends=("vacuum", "reservoir"), n_x=4)
        d = qp.solve_dynamics(wire, (qp.ElectronPhonon(rate, temperature=0.1),), times, grid=grid, gap=gap,
                              subdivision=8)
        weight = jnp.linspace(-1.0, 1.0, grid.points.size)
        return d.delta[-1, 0] + 0.3 * jnp.sum(weight * d.modes[-1, :, 0, 1])

    point = (1.2, 0.05)
    t0 = time.perf_counter()
    value = float(observable(*point))
    t_value = time.perf_counter() - t0
    grad = jax.grad(observable, argnums=(0, 1))
    t0 = time.perf_counter()
    g = [float(v) for v in grad(*point)]
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    g = [float(v) for v in grad(*point)]
    warm = time.perf_counter() - t0
    step = 1e-4
    fd = []
    for k in range(2):
        shift = np.eye(2)[k] * step
        up, down = observable(*(np.add(point, shift))), observable(*(np.subtract(point, shift)))
        fd.append(float((up - down) / (2 * step)))
    rel = [abs(a - b) / abs(b) for a, b in zip(g, fd, strict=True)]
    print(f"value {value:.10f} (first call {t_value:.1f} s); grad {g} (first {first:.1f} s, warm {warm:.1f} s); "
          f"central differences {fd}; relative difference {rel}")
    write("dynamics_adiabatic_gradient", {"n_E": int(grid.points.size), "n_x": 4, "t_end": 3.0,
                                          "parameters": ["injector bias", "e-ph rate"], "point": list(point),
                                          "value": value, "value_first_call_s": t_value,
                                          "grad": g, "grad_first_call_s": first, "grad_warm_s": warm,
                                          "central_differences": fd, "fd_step": step, "relative_difference": rel})


if __name__ == "__main__":
    main()
