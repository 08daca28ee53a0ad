"""Test configuration: float64, and an opt-in persistent XLA cache to make re-runs fast."""

import gc
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings

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


# Property-based tests (tests/test_properties.py): a small, reproducible set of draws in CI; the long
# profile for deep runs is JAXQP_HYPOTHESIS_PROFILE=deep (or pytest --hypothesis-profile=deep).
_SLOW = [HealthCheck.too_slow, HealthCheck.function_scoped_fixture]
settings.register_profile("ci", max_examples=10, deadline=None, derandomize=True, suppress_health_check=_SLOW)
settings.register_profile("deep", max_examples=400, deadline=None, suppress_health_check=_SLOW)
settings.load_profile(os.environ.get("JAXQP_HYPOTHESIS_PROFILE", "ci"))


def pytest_terminal_summary(terminalreporter):
    """How many hypothesis draws each property test ran (``record_property("draws", n)``)."""
    rows = [(r.nodeid, v) for r in terminalreporter.stats.get("passed", []) + terminalreporter.stats.get("failed", [])
            for k, v in getattr(r, "user_properties", ()) if k == "draws"]
    if rows:
        terminalreporter.write_sep("-", "property-based draws")
        for nodeid, n in sorted(rows):
            terminalreporter.write_line(f"{n:5d}  {nodeid}")


# Every compiled XLA CPU program keeps its machine code in memory mappings of its own; one test worker
# compiles thousands of programs, and at the kernel's limit on mappings per process
# (vm.max_map_count, 65530 by default) the next compilation fails inside LLVM with a segmentation
# fault.  After a test module, when the process holds more than half that many mappings, drop JAX's
# caches of compiled programs (later modules recompile what they share with earlier ones).
_MAPS = Path("/proc/self/maps")
_MAP_LIMIT = 30000


@pytest.fixture(autouse=True, scope="module")
def _release_compiled_programs():
    yield
    try:
        with _MAPS.open() as f:
            n = sum(1 for _ in f)
    except OSError:  # not Linux
        return
    if n > _MAP_LIMIT:
        jax.clear_caches()
        gc.collect()


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
