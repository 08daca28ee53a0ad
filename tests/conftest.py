"""Test configuration: float64, and an opt-in persistent XLA cache to make re-runs fast."""

import os
from pathlib import Path

import jax
import numpy as np
import pytest

import jaxqp  # noqa: F401  (enables float64)

# Opt-in persistent XLA cache (JAXQP_TEST_CACHE=<dir>) for fast local re-runs.  Off by default: a
# cold run compiles everything anyway, and writing executables to the cache has crashed a worker
# (a segmentation fault inside XLA's executable serialisation) on rare occasions.
_cache = os.environ.get("JAXQP_TEST_CACHE")
if _cache:
    try:
        Path(_cache).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", _cache)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except OSError:  # pragma: no cover - read-only location
        pass


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
