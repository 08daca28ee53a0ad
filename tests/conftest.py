"""Test configuration: float64, and an opt-in persistent XLA cache to make re-runs fast."""

import os

import numpy as np
import pytest

import jaxqp  # enables float64

# Opt-in persistent XLA cache (JAXQP_TEST_CACHE=<dir>) for fast local re-runs.  Off by default, also
# for the command-line tools the tests invoke (in process and as subprocesses): a cold run compiles
# everything anyway, and the two xdist workers writing the same cache entry while the other reads
# it (JAX writes entries in place) has crashed a worker with a segmentation fault.
_cache = os.environ.get("JAXQP_TEST_CACHE")
if _cache:
    os.environ["JAXQP_CACHE"] = "1"
    os.environ["JAXQP_CACHE_DIR"] = _cache
    jaxqp.enable_compilation_cache(_cache)
else:
    os.environ["JAXQP_CACHE"] = "0"


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
