"""jaxqp: differentiable quasiclassical (Usadel-Keldysh) solvers on JAX.

Units: energies in Delta0 (zero-temperature BCS gap), k_B = hbar = e = 1,
temperatures k_B T / Delta0 (Tc = e^gamma/pi = 0.567), see `jaxqp.units`.
float64 is enabled on import (set ``JAXQP_X64=0`` before importing to opt out).
``jaxqp.enable_compilation_cache()`` (or ``JAXQP_CACHE=1``) keeps compiled programs between processes.
"""

from .internal import config as _config  # noqa: F401  (first: enables float64 before anything else)

# isort: split
import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING

# isort: split
from . import geometry, grids, units
from .distributions import fermi
from .geometry import Chain, GaugeField, Interface, Reservoir, Segment, TunnelContact, Wire
from .grids import EnergyGrid
from .internal import moved as _moved
from .internal.config import VERSION, enable_compilation_cache
from .junction import (
    SpinCurrents,
    current_and_conductance,
    differential_conductance,
    heat_current,
    junction_response,
    quasiparticle_detector_conductance,
    tunnel_current,
)
from .kinetic import (
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
from .kinetic.spin import SpinKineticSolution, solve_spin_kinetic
from .materials import Electrode, NormalMetal, Superconductor
from .observables import symmetry_decomposition
from .selfconsistency import TC0, GapBranches, gap, gap_branches, gap_equation, tc
from .spectral import SpectralParams, SpectralSolution, dos, solve
from .spectral.spin import SpinActive, SpinContact, SpinDistribution, SpinSolution, SpinWire, solve_spin
from .spectral.wire import (
    GapProfile,
    JosephsonCurrent,
    ProximitySolution,
    josephson_current,
    self_consistent_gap,
    solve_proximity,
)

if _TYPE_CHECKING:
    from .kinetic.dynamics import DynamicsSolution, solve_dynamics

__version__ = VERSION

# imported on first use: time evolution needs diffrax, a sixth of the import time of the package
# (the command-line tools and every fresh process start faster without it)
_ON_FIRST_USE = {"DynamicsSolution": ".kinetic.dynamics", "solve_dynamics": ".kinetic.dynamics"}


def __getattr__(name: str):
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module 'jaxqp' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_ON_FIRST_USE))


_moved.install()  # the old module paths (jaxqp.fit, jaxqp.cli, ...) keep working, with a DeprecationWarning

__all__ = [
    "enable_compilation_cache", "geometry",
    "EnergyGrid", "Electrode", "SpectralParams", "GapBranches", "NormalMetal", "SpectralSolution", "SpinCurrents",
    "Superconductor", "TC0", "current_and_conductance", "differential_conductance", "dos", "fermi", "gap",
    "gap_branches",
    "gap_equation", "grids", "heat_current", "junction_response", "quasiparticle_detector_conductance",
    "solve", "tc", "tunnel_current", "units",
    "ContactCurrents", "KineticSolution", "NonlocalMap", "TunnelContact", "Wire", "bias_for_current",
    "contact_currents", "local_conductance", "nonlocal_conductance", "solve_kinetic", "supercurrent",
    "symmetry_decomposition",
    "Chain", "GapProfile", "GaugeField", "Interface", "Reservoir", "JosephsonCurrent", "ProximitySolution", "Segment",
    "josephson_current",
    "self_consistent_gap", "solve_proximity",
    "SpinActive", "SpinContact", "SpinDistribution", "SpinSolution", "SpinWire", "solve_spin",
    "ElectronElectron", "ElectronPhonon", "GapEquation", "GapSweep", "InelasticSolution", "NewtonOptions",
    "NonlocalGapMap", "RelaxationTime", "gap_sweep", "nonlocal_gap_map", "solve_inelastic", "uniform_grid",
    "DynamicsSolution", "solve_dynamics", "SpinKineticSolution", "solve_spin_kinetic",
]
