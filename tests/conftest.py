"""Test configuration: float64, and a persistent XLA cache to make re-runs fast."""

import os
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxqp  # noqa: F401  (enables float64)

_cache = os.environ.get("JAXQP_TEST_CACHE", str(Path.home() / ".cache" / "jaxqp" / "xla-tests"))
try:
    Path(_cache).mkdir(parents=True, exist_ok=True)
    jax.config.update("jax_compilation_cache_dir", _cache)
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
except OSError:  # pragma: no cover - read-only home
    pass


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
