"""Ready-made models of the devices in the seed papers (one module each)."""

from . import nonlocal_wire, spin_energy_mode, spin_supercurrent, thermospin

__all__ = ["nonlocal_wire", "spin_energy_mode", "spin_supercurrent", "thermospin"]
