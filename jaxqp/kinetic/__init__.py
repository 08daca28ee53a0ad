"""Kinetic equations: distribution functions of a 1-D wire out of equilibrium.

- `coefficients`: kinetic coefficients (diffusion, spectral supercurrent,
  relaxation and conversion terms) from retarded Green's functions.
- `wire`: the discretised equations on a `jaxqp.Wire`, the contacts'
  response and fluxes.
- `solve`: public verbs (distributions, contact currents, local and non-local
  conductance, supercurrent).
- `collisions` and `inelastic`: collision integrals on every distribution mode and the
  Newton-Krylov solver with a self-consistent gap.
- `dynamics`: time evolution of the distributions (diffrax).
- `spin`: the kinetic equations with general (non-collinear) spin structure: eight modes on a
  `jaxqp.SpinWire`.

Imports: ``internal``, ``units``, ``distributions``, ``grids``, ``materials``, ``geometry``,
``spectral`` and ``selfconsistency``; never ``devices``, the inference or the application layer.
"""

from .coefficients import KineticCoefficients, to_modes, to_sectors
from .solve import (
    ContactCurrents,
    KineticSolution,
    NonlocalMap,
    bias_for_current,
    contact_currents,
    local_conductance,
    nonlocal_conductance,
    solve_kinetic,
    supercurrent,
)
from .spin import SpinKineticSolution, solve_spin_kinetic
from .wire import TunnelContact, Wire, default_energy_grid, position_grid, wire_response

__all__ = [
    "ContactCurrents", "KineticCoefficients", "KineticSolution", "NonlocalMap", "TunnelContact", "Wire",
    "bias_for_current", "contact_currents", "default_energy_grid", "local_conductance",
    "nonlocal_conductance", "position_grid", "solve_kinetic",
    "SpinKineticSolution", "solve_spin_kinetic", "supercurrent", "to_modes", "to_sectors",
    "wire_response",
]
