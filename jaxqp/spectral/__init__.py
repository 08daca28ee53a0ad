"""Spectral (retarded) equations."""

from .bulk import SpectralSolution, dos, green_functions, solve

__all__ = ["SpectralSolution", "dos", "green_functions", "solve"]
