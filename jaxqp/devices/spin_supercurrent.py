r"""Spin supercurrents controlled by spin injection (seed 003: Ouassou, Robinson, Linder, Sci. Rep. 9, 12731 (2019)).

Paper: J. A. Ouassou, J. W. A. Robinson and J. Linder, Controlling spin supercurrents via
nonequilibrium spin injection, Sci. Rep. 9, 12731 (2019). https://doi.org/10.1038/s41598-019-48945-0

A superconductor of length L between two magnetic insulators with
magnetisations m1 (left) and m2 (right), modelled as spin-active interfaces
with spin-mixing conductance G_phi/G_N, carries an equilibrium spin
supercurrent polarised along m1 x m2.  A spin source fixes a position-
independent distribution with spin voltage V_s along an axis (seed 003 Eqs.
(2)-(3)); the gap is self-consistent.  Spin injection along the equilibrium
current leaves it unchanged; injection perpendicular to it adds a component
along j_eq x h_s, linear in V_s at small V_s (seed 003 Eq. (7)).  Above about
e V_s = Delta0/2 the system is bistable: a superconducting solution coexists
with a locally stable normal state; both are reported.  `contact_device` and
`solve_contact` drive the same wire through a real contact (a normal electrode
behind the left barrier) and take the distribution from the kinetic equations
with general spin structure (`jaxqp.kinetic.spin`), to show where the
prescribed distribution of the paper holds.

Units: energies in Delta0, lengths in xi, temperatures in Delta0/k_B (the
seed quotes T/Tc: multiply by ``TC0``).  Currents are
`jaxqp.spectral.spin.SpinObservables` currents (positive-energy
integral of ``Re Tr[Omega (g dg/dx)^K]/8``, per unit conductance; GENEUS,
which differentiates in x/L, reports L times these values).  Defaults follow
the seed: L = 1.5 xi, G_phi/G_N = 0.6, m1 = x, m2 = y, T = 0.01 Tc, and an
inelastic broadening Gamma = 0.01 (the GENEUS default).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .. import grids
from ..kinetic import spin as _kspin
from ..materials import NormalMetal, Superconductor
from ..selfconsistency import TC0
from ..spectral import spin as _spin

DEFAULT_T = 0.01 * TC0
DEFAULT_GAMMA = 0.01


def device(length: float = 1.5, spin_mixing: float = 0.6, magnetizations=((1.0, 0.0, 0.0), (0.0, 1.0, 0.0)),
           n_x: int = 31, gamma: float = DEFAULT_GAMMA, material: Superconductor | None = None, *,
           contact: float | None = None, polarization: float = 0.0) -> _spin.SpinWire:
    """The FI/S/FI wire of seed 003 (a `jaxqp.spectral.spin.SpinWire`).  ``contact``: the left barrier
    also tunnels (``G_T / G_N = contact``, polarisation ``polarization``) to a normal electrode
    (`contact_device`)."""
    m = Superconductor(delta=1.0, gamma=gamma) if material is None else material
    tunnel = {} if contact is None else dict(conductance=contact, polarization=polarization, electrode=NormalMetal())
    left = _spin.SpinActive(spin_mixing=spin_mixing, magnetization=magnetizations[0], **tunnel)
    right = _spin.SpinActive(spin_mixing=spin_mixing, magnetization=magnetizations[1])
    return _spin.SpinWire(m, float(length), int(n_x), ends=(left, right))


def energy_grid(spin_voltage=0.0, temperature=DEFAULT_T, *, n: int = 400, omega_c: float = 30.0,
                gamma: ArrayLike = DEFAULT_GAMMA, gap=1.0) -> grids.EnergyGrid:
    """Positive-energy grid on [0, omega_c] refined at E = 1 and at the expected gap edge ``gap`` (width
    ``gamma``) and at the distribution's step E = |V_s| (width T).  Pass the material's Dynes ``gamma``
    and the current estimate of Delta: a gap edge sharper than the refinement is mis-integrated
    (``solve`` and the sweeps do this; `jaxqp.spectral.spin.self_consistent_gap` checks it)."""
    centers = jnp.stack([jnp.asarray(1.0), jnp.asarray(gap, float), jnp.abs(jnp.asarray(spin_voltage, float))])
    w = jnp.maximum(jnp.asarray(gamma, float), 1e-3)
    widths = jnp.stack([w, w, jnp.maximum(jnp.asarray(temperature, float), 1e-3)])
    return grids.adaptive(centers, widths, 0.0, omega_c, n)


class SpinSupercurrentResult(eqx.Module):
    """One operating point: ``delta`` (n_x,), link ``current`` (n_x-1, 4: charge, J_x, J_y, J_z),
    ``spin_current`` (3,) (link mean), ``spin_accumulation`` (n_x, 3), ``converged``."""

    x: Array
    delta: Array
    current: Array
    spin_current: Array
    spin_accumulation: Array
    converged: Array
    gap: _spin.GapSolution | None


def _gap_with_retry(run, make_grid, grid, start):
    """``run(grid, start)`` (a self-consistent gap); the gap may move away from the grid's refinement (a
    temperature step): if so, retry once on ``make_grid(gap found)``, started from it.  Returns the
    solution and its grid."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        gs = run(grid, start)
    d = np.asarray(gs.delta)
    if not bool(gs.converged) and np.any(d > 1e-3):
        grid = make_grid(float(np.mean(d[d > 1e-3])))
        gs = run(grid, gs.delta)
    return gs, grid


def solve(dev: _spin.SpinWire, spin_voltage=0.0, axis=(0.0, 0.0, 1.0), temperature=DEFAULT_T, *,
          n_energy: int = 400, start=None, self_consistent: bool = True, grid=None) -> SpinSupercurrentResult:
    """Self-consistent solution and currents at one spin voltage and temperature."""
    dist = _spin.SpinDistribution(temperature, spin_voltage, axis)
    guess = float(np.mean(np.asarray(start if start is not None else dev.material.delta)))
    gamma = dev.material.gamma
    g = energy_grid(spin_voltage, temperature, n=n_energy, gamma=gamma, gap=guess) if grid is None else grid
    if self_consistent:
        if grid is None:
            make = lambda gap: energy_grid(spin_voltage, temperature, n=n_energy, gamma=gamma, gap=gap)  # noqa: E731
            gs, g = _gap_with_retry(lambda gr, st: _spin.self_consistent_gap(dev, dist, gr, start=st), make, g, start)
        else:
            gs = _spin.self_consistent_gap(dev, dist, g, start=start)
        sol, ok = gs.solution, gs.converged
    else:
        d = dev.material.delta * jnp.ones(dev.n_x) if start is None else jnp.asarray(start)
        sol = _spin.solve_spin(dev, g.points, delta_profile=d, throw=False)
        gs = None
        ok = jnp.all(sol.converged)
    ob = _spin.observables(sol, dist, g.weights)
    delta = gs.delta if gs is not None else jnp.asarray(d)
    return SpinSupercurrentResult(x=sol.x, delta=delta, current=ob.current, spin_current=jnp.mean(ob.current[:, 1:], 0),
                                  spin_accumulation=ob.spin_accumulation, converged=ok, gap=gs)


def contact_device(contact: float = 1.0, polarization: float = 0.0, **device_options) -> _spin.SpinWire:
    """The wire of `device` driven by a real spin source: the left magnetic-insulator barrier also tunnels
    (``G_T / G_N = contact``, polarisation ``polarization``) to a normal electrode that holds the spin
    voltage.  The distribution in the wire then follows from the kinetic equations
    (`jaxqp.kinetic.spin`) instead of being prescribed; `solve_contact` solves it.  ``device_options``:
    those of `device`."""
    return device(contact=contact, polarization=polarization, **device_options)


def solve_contact(dev: _spin.SpinWire, spin_voltage=0.0, axis=(0.0, 0.0, 1.0), temperature=DEFAULT_T, *,
                  n_energy: int = 400, start=None, self_consistent: bool = True) -> SpinSupercurrentResult:
    """`solve` for a `contact_device`: the electrode holds the spin voltage, the wire's eight distribution
    modes and (``self_consistent``) Delta(x) follow from the kinetic equations
    (`jaxqp.kinetic.spin.self_consistent_gap`) on the mirrored grid of `energy_grid`.  The currents and
    accumulations have the units of `solve`; ``gap.solution`` is the retarded solution at the result."""
    dist = _spin.SpinDistribution(temperature, spin_voltage, axis)
    guess = float(np.mean(np.asarray(start if start is not None else dev.material.delta)))
    make = lambda gap: _kspin.symmetric_grid(energy_grid(spin_voltage, temperature, n=n_energy,  # noqa: E731
                                                         gamma=dev.material.gamma, gap=gap))
    grid = make(guess)
    dists = (dist, None)
    if self_consistent:
        gs, grid = _gap_with_retry(lambda gr, st: _kspin.self_consistent_gap(dev, gr, dists, start=st), make, grid,
                                   start)
        sol, delta, ok = gs.solution, gs.delta, gs.converged
    else:
        delta = dev.material.delta * jnp.ones(dev.n_x) if start is None else jnp.asarray(start)
        sol = _spin.solve_spin(dev, grid.points, delta_profile=delta, throw=False)
        gs, ok = None, jnp.all(sol.converged)
    out = _kspin.solve_spin_kinetic(dev, grid, dists, spectra=sol, delta_profile=delta)
    current = jnp.concatenate([out.charge_current[:, None], out.spin_current], axis=1)
    return SpinSupercurrentResult(x=out.x, delta=jnp.asarray(delta), current=current,
                                  spin_current=jnp.mean(out.spin_current, 0), spin_accumulation=out.spin_accumulation,
                                  converged=ok, gap=gs)


class Sweep(eqx.Module):
    """A sweep along one parameter with both branches.

    ``values`` the swept parameter; ``sc_*`` the superconducting branch
    (followed by continuation from the first value; NaN-free: where it no
    longer exists ``sc_exists`` is False and the currents are those of the
    normal state, zero); ``normal_gain`` the largest eigenvalue of the
    linearised gap map at Delta = 0 (the normal state is locally stable below
    1); ``bistable`` = sc_exists & normal stable; ``normal_only`` = no
    superconducting solution.
    """

    values: np.ndarray
    spin_current: np.ndarray  # (n, 3) on the superconducting branch (zero where it is absent)
    delta_mean: np.ndarray
    delta_center: np.ndarray
    sc_exists: np.ndarray
    normal_gain: np.ndarray
    bistable: np.ndarray
    normal_only: np.ndarray
    converged: np.ndarray

    def to_xarray(self, name: str = "spin_voltage"):
        import xarray as xr

        return xr.Dataset(
            {"J": ((name, "component"), self.spin_current), "delta_mean": (name, self.delta_mean),
             "delta_center": (name, self.delta_center), "sc_exists": (name, self.sc_exists),
             "normal_gain": (name, self.normal_gain), "bistable": (name, self.bistable),
             "normal_only": (name, self.normal_only), "converged": (name, self.converged)},
            coords={name: self.values, "component": ["x", "y", "z"]},
            attrs={"units": "energies Delta0, J per unit conductance (jaxqp.spectral.spin.observables)"})


def _sweep(dev, points, make, n_energy, min_delta):
    out = {k: [] for k in ("J", "dm", "dc", "exists", "gain", "ok")}
    start = None
    for i, p in enumerate(points):
        Vs, axis, T = make(p)
        dist = _spin.SpinDistribution(T, Vs, axis)
        g = energy_grid(Vs, T, n=n_energy, gamma=dev.material.gamma)  # normal state: no gap edge
        gain = float(_spin.normal_state_gain(dev, dist, g))
        exists = False
        J = np.zeros(3)
        dm = dc = 0.0
        ok = True
        if start is not None or i == 0:
            r = solve(dev, Vs, axis, T, n_energy=n_energy, start=start)
            d = np.asarray(r.delta)
            exists = bool(r.converged) and float(d.mean()) > min_delta
            ok = bool(r.converged) or not exists
            if exists:
                J = np.asarray(r.spin_current)
                dm, dc = float(d.mean()), float(d[len(d) // 2])
                start = r.delta
            else:
                start = None  # the branch ended: stay on the normal branch
        out["J"].append(J)
        out["dm"].append(dm)
        out["dc"].append(dc)
        out["exists"].append(exists)
        out["gain"].append(gain)
        out["ok"].append(ok)
    exists = np.array(out["exists"])
    gain = np.array(out["gain"])
    return Sweep(values=np.asarray(points, float), spin_current=np.array(out["J"]), delta_mean=np.array(out["dm"]),
                 delta_center=np.array(out["dc"]), sc_exists=exists, normal_gain=gain, bistable=exists & (gain < 1),
                 normal_only=~exists, converged=np.array(out["ok"]))


def sweep_spin_voltage(dev: _spin.SpinWire, spin_voltages: Sequence[float], axis=(0.0, 0.0, 1.0),
                       temperature=DEFAULT_T, *, n_energy: int = 400, min_delta: float = 1e-3) -> Sweep:
    """Seed 003 Fig. 2: the spin supercurrent vs spin voltage on the superconducting branch, the normal
    state's stability and the bistable region (values must increase from 0)."""
    pts = [float(v) for v in spin_voltages]
    return _sweep(dev, pts, lambda v: (v, axis, temperature), n_energy, min_delta)


def sweep_temperature(dev: _spin.SpinWire, temperatures: Sequence[float], spin_voltage=0.25, axis=(0.0, 0.0, 1.0), *,
                      n_energy: int = 400, min_delta: float = 1e-3) -> Sweep:
    """Seed 003 Fig. 3: the spin supercurrent vs temperature at fixed spin voltage (values increasing)."""
    pts = [float(t) for t in temperatures]
    return _sweep(dev, pts, lambda t: (spin_voltage, axis, t), n_energy, min_delta)
