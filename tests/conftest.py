"""Test configuration: float64, programs compiled without LLVM optimisation, the slowest files first, and an
opt-in persistent XLA cache to make re-runs fast."""

import gc
import os
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from jax import monitoring

import jaxqp  # enables float64

# The tests compile thousands of small programs and run each briefly, so LLVM's optimisation of the
# machine code costs more than it saves: the suite compiles without it (a third less compilation, 12 %
# less test time summed over the two workers of the cold suite on 2 cores; the same IEEE arithmetic,
# since XLA's CPU code is compiled without fast-math at every level).  Subprocesses inherit the flag.
# The notebooks and the benchmark smoke run of CI, and every user, compile at the default level.
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_backend_optimization_level" not in _flags:
    os.environ["XLA_FLAGS"] = (_flags + " --xla_backend_optimization_level=0").strip()

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


# Seconds of XLA backend compilation in this process (JAX's monitoring events): the part of a cold
# run that sharing compiled programs between tests saves; each worker reports its own, and the summary
# prints them.
_COMPILE_S = [0.0]


def _on_duration(event, duration, **_):
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILE_S[0] += duration


monitoring.register_event_duration_secs_listener(_on_duration)
_WORKER_COMPILE_S: dict = {}


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)  # an xdist worker
    if output is not None:
        output["compile_s"] = _COMPILE_S[0]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _WORKER_COMPILE_S[node.gateway.id] = getattr(node, "workeroutput", {}).get("compile_s", float("nan"))


def pytest_terminal_summary(terminalreporter):
    """XLA compilation time per process, and how many hypothesis draws each property test ran
    (``record_property("draws", n)``)."""
    per = _WORKER_COMPILE_S or {"main": _COMPILE_S[0]}
    terminalreporter.write_sep("-", "XLA backend compilation")
    terminalreporter.write_line(", ".join(f"{k}: {v:.0f} s" for k, v in sorted(per.items()))
                                + f"; {sum(per.values()):.0f} s in all")
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


# The slowest test files (cold, 2-core CPU, seconds of wall time measured with 2 workers) run first, so
# that `--dist loadfile` ends with short files on both workers instead of one worker finishing a long
# file alone; every other file keeps its place after them.
_SLOW_FILES = ("test_inelastic", "test_quadrature", "test_spin", "test_spin_kinetic", "test_run", "test_run_devices",
               "test_kinetic", "test_cli", "test_inference", "test_dynamics", "test_spin_valve", "test_proximity",
               "test_properties", "test_thermospin", "test_bayes", "test_gap", "test_junction")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(_SLOW_FILES)}
    items.sort(key=lambda item: rank.get(Path(str(item.fspath)).stem, len(rank)))


@pytest.fixture
def rng():
    return np.random.default_rng(20261122)
