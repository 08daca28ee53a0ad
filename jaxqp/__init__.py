"""jaxqp: differentiable quasiclassical (Usadel-Keldysh) solvers on JAX.

Units: energies in Delta0 (zero-temperature BCS gap), k_B = hbar = e = 1,
temperatures k_B T / Delta0 (Tc = e^gamma/pi = 0.567), see :mod:`jaxqp.units`.
float64 is enabled on import (set ``JAXQP_X64=0`` before importing to opt out).
``jaxqp.enable_compilation_cache()`` (or ``JAXQP_CACHE=1``) keeps compiled programs between processes.
"""

from . import _config  # noqa: F401  (enables float64 before anything else)
from ._config import enable_compilation_cache
from . import grids, units
from .distributions import fermi
from .grids import EnergyGrid
from .kinetic import (
    ContactCurrents,
    KineticSolution,
    NonlocalMap,
    TunnelContact,
    Wire,
    bias_for_current,
    contact_currents,
    local_conductance,
    nonlocal_conductance,
    solve_kinetic,
    supercurrent,
)
from .kinetic.collisions import ElectronElectron, ElectronPhonon, RelaxationTime
from .kinetic.inelastic import (
    GapEquation,
    GapSweep,
    InelasticSolution,
    NewtonOptions,
    NonlocalGapMap,
    gap_sweep,
    nonlocal_gap_map,
    solve_inelastic,
    uniform_grid,
)
from .observables import symmetry_decomposition
from .junction import (
    SpinCurrents,
    current_and_conductance,
    differential_conductance,
    heat_current,
    junction_response,
    quasiparticle_detector_conductance,
    tunnel_current,
)
from .materials import Electrode, NormalMetal, Superconductor
from .selfconsistency import TC0, GapBranches, gap, gap_branches, gap_equation, tc
from .spectral import SpectralSolution, dos, solve
from .spectral.wire import (
    Chain,
    GapProfile,
    Interface,
    JosephsonCurrent,
    ProximitySolution,
    Segment,
    josephson_current,
    self_consistent_gap,
    solve_proximity,
)
from .spectral.spin import SpinActive, SpinDistribution, SpinSolution, SpinWire, solve_spin

__version__ = "0.1.0"

__all__ = [
    "enable_compilation_cache",
    "EnergyGrid", "Electrode", "GapBranches", "NormalMetal", "SpectralSolution", "SpinCurrents",
    "Superconductor", "TC0", "current_and_conductance", "differential_conductance", "dos", "fermi", "gap", "gap_branches",
    "gap_equation", "grids", "heat_current", "junction_response", "quasiparticle_detector_conductance",
    "solve", "tc", "tunnel_current", "units",
    "ContactCurrents", "KineticSolution", "NonlocalMap", "TunnelContact", "Wire", "bias_for_current",
    "contact_currents", "local_conductance", "nonlocal_conductance", "solve_kinetic", "supercurrent",
    "symmetry_decomposition",
    "Chain", "GapProfile", "Interface", "JosephsonCurrent", "ProximitySolution", "Segment", "josephson_current",
    "self_consistent_gap", "solve_proximity",
    "SpinActive", "SpinDistribution", "SpinSolution", "SpinWire", "solve_spin",
    "ElectronElectron", "ElectronPhonon", "GapEquation", "GapSweep", "InelasticSolution", "NewtonOptions",
    "NonlocalGapMap", "RelaxationTime", "gap_sweep", "nonlocal_gap_map", "solve_inelastic", "uniform_grid",
]
