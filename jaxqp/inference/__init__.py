"""Inference: fitting measured curves and maps, and Bayesian posteriors.

- `data`: loading measured data with its units (CSV, netCDF, NumPy) into a
  `Measurement` in SI units.
- `fit`: least squares (Levenberg-Marquardt, Gauss-Newton, robust losses,
  multi-start) with exact Jacobians, covariances and uncertainties.
- `models`: fit models in laboratory units (NIS conductance, non-local
  maps, inelastic maps, ...), built on the physics layers.
- `bayes`: the same models as numpyro models, NUTS posteriors.
- `datasets`: example data shipped with the package (an NIS curve, a spin-split NIS map, a
  non-local map), with the parameters that generated them.

Imports: every physics layer, ``devices``, ``io`` and ``plot``; never the application layer.
"""
