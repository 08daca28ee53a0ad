"""Ready-made models of the devices in published experiments and theory papers (one module each).

Paper constants (geometries, fitted parameters, figure axes) live here and nowhere else.

Imports: every physics layer (``internal`` up to ``kinetic``, ``junction`` and ``observables``);
never the inference or the application layer.
"""

from . import nonlocal_wire, spin_energy_mode, spin_supercurrent, thermospin

__all__ = ["nonlocal_wire", "spin_energy_mode", "spin_supercurrent", "thermospin"]
