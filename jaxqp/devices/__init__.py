"""Ready-made models of the devices in the seed papers (one module each)."""

from . import thermospin

__all__ = ["thermospin"]
