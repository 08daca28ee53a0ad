"""Numerical precision and tolerances.

jaxqp works in float64 by default: importing :mod:`jaxqp` switches on
``jax_enable_x64``.  Set the environment variable ``JAXQP_X64=0`` *before* the
first import to leave JAX's precision alone (float32 unless you enable x64
yourself).  All tolerances below follow the active precision, so the same code
runs in float32 on accelerators where that is much faster, at the price of
roughly six significant digits in spectral quantities.
"""

from __future__ import annotations

import os

import jax
import jax.numpy as jnp

if os.environ.get("JAXQP_X64", "1").strip().lower() not in ("0", "false", "no", "off"):
    jax.config.update("jax_enable_x64", True)


def x64_enabled() -> bool:
    """Whether JAX currently computes in double precision."""
    return bool(jax.config.read("jax_enable_x64"))


def real_dtype():
    return jnp.float64 if x64_enabled() else jnp.float32


def complex_dtype():
    return jnp.complex128 if x64_enabled() else jnp.complex64


def default_rtol() -> float:
    """Relative tolerance of Newton solves at the active precision."""
    return 1e-12 if x64_enabled() else 2e-5
