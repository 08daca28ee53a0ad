"""Kinetic equations: spectral coefficients, 1-D wires with contacts, public verbs."""

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
from .wire import TunnelContact, Wire, default_energy_grid, position_grid, wire_response

__all__ = [
    "ContactCurrents", "KineticCoefficients", "KineticSolution", "NonlocalMap", "TunnelContact", "Wire",
    "bias_for_current", "contact_currents", "default_energy_grid", "local_conductance",
    "nonlocal_conductance", "position_grid", "solve_kinetic", "supercurrent", "to_modes", "to_sectors",
    "wire_response",
]
