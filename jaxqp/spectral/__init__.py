"""Spectral (retarded) equations.

- `bulk`: homogeneous Usadel solution (spin-split, depairing, spin-orbit and
  spin-flip scattering) from raw parameters; the kernel every other solver starts from.
- `wire`: 1-D retarded solutions on a chain of segments (proximity effect,
  Josephson current, self-consistent Delta(x)).
- `spin`: the full spin structure (non-collinear exchange fields,
  spin-active interfaces, spin-triplet correlations).

Imports: ``internal``, ``units``, ``distributions``, ``grids``, ``materials`` and ``geometry``
(``bulk`` imports ``internal`` only, so that ``materials`` can build on it).  This package's
``__init__`` imports ``bulk`` only.
"""

from .bulk import SpectralParams, SpectralSolution, dos, green_functions, solve

__all__ = ["SpectralParams", "SpectralSolution", "dos", "green_functions", "solve"]
