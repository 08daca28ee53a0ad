"""``jaxqp bench``: timings of the core solvers on this machine, against the plain NumPy way where one exists.

Each case reports the first call (with compilation), the best of three warm
calls, and, where a straightforward NumPy computation of the same numbers
exists, its time and the largest difference between the two.  The full
benchmark scripts (larger grids, SciPy and GENEUS comparisons) are in the
source tree's ``benchmarks/`` folder.
"""

from __future__ import annotations

import datetime
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np


def environment() -> dict:
    import jaxqp

    dev = jax.devices()[0]
    return {"backend": jax.default_backend(), "device": str(dev), "device_kind": getattr(dev, "device_kind", ""),
            "n_devices": jax.device_count(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "jax": jax.__version__, "jaxqp": jaxqp.__version__,
            "x64": bool(jax.config.read("jax_enable_x64"))}


def _timed(fn, repeat: int = 3):
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn())
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn())
        best = min(best, time.perf_counter() - t0)
    return first, best, out


def _numpy_bcs_dos(E, gamma):
    z = E + 1j * gamma
    return np.real(z / np.sqrt(z * z - 1.0 + 0j) * np.sign(np.real(z) + 1e-300))


def _numpy_nis_current(V, E, gamma, T):
    """I(V) of an NIS junction: one vectorised trapezoid integral per bias (the usual NumPy script)."""
    N = np.abs(_numpy_bcs_dos(E, gamma))
    f = lambda x: 0.5 * (1.0 - np.tanh(x / (2 * T)))  # noqa: E731
    return np.array([np.trapezoid(N * (f(E - v) - f(E)), E) for v in V])


def run(quick: bool = False) -> dict:
    import jaxqp as qp

    cases = []
    gamma, T = 1e-3, 0.05
    for n in ((10**4,) if quick else (10**4, 10**6)):
        E = jnp.linspace(-3, 3, n)
        sc = qp.Superconductor(delta=1.0, gamma=gamma)
        f = jax.jit(lambda E, sc=sc: qp.solve(sc, E).dos[0])
        first, warm, N = _timed(lambda f=f, E=E: f(E))
        t0 = time.perf_counter()
        Nn = _numpy_bcs_dos(np.asarray(E), gamma)
        tn = time.perf_counter() - t0
        cases.append({"case": "DOS, Maki-Fulde solver (h = 0)", "size": f"{n} energies", "first_s": first,
                      "warm_s": warm, "numpy_s": tn, "numpy_method": "closed-form BCS-Dynes DOS",
                      "max_abs_diff": float(np.max(np.abs(np.asarray(N) - np.abs(Nn))))})
    n_V, n_E = (101, 2001) if quick else (401, 4001)
    V = jnp.linspace(-2, 2, n_V)
    N = qp.NormalMetal(temperature=T)
    S = qp.Superconductor(delta=1.0, gamma=gamma, temperature=T)
    first, warm, I = _timed(lambda: qp.tunnel_current(N, S, V, n_energy=n_E).charge)
    En = np.linspace(-4, 4, 200001)
    t0 = time.perf_counter()
    In = _numpy_nis_current(np.asarray(V), En, gamma, T)
    tn = time.perf_counter() - t0
    cases.append({"case": "NIS current, adaptive grid per bias", "size": f"{n_V} biases x {n_E} nodes",
                  "first_s": first, "warm_s": warm, "numpy_s": tn,
                  "numpy_method": "trapezoid on a uniform grid of 200001 energies per bias",
                  "max_abs_diff": float(np.max(np.abs(np.asarray(I) - In)))})
    n_x = 40 if quick else 100
    wire = qp.Wire(qp.Superconductor(delta=1.0, gamma=1e-2, h=0.1), 20.0,
                   (qp.TunnelContact(8.0, 0.3, qp.NormalMetal(temperature=0.08)),
                    qp.TunnelContact(11.0, 0.2, qp.NormalMetal(temperature=0.08))), temperature=0.08, n_x=n_x)
    n_kin = 201 if quick else 1001
    first, warm, _ = _timed(lambda: qp.solve_kinetic(wire, jnp.array([1.5, 0.0]), n_energy=n_kin).modes)
    cases.append({"case": "kinetic wire, two tunnel contacts", "size": f"{n_x} nodes x {n_kin} energies",
                  "first_s": first, "warm_s": warm})
    return {"benchmark": "jaxqp bench", "date": datetime.datetime.now().isoformat(timespec="seconds"),
            "quick": quick, "environment": environment(), "cases": cases}
