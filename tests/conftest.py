"""Test configuration: float64, XLA settings that halve compilation, the slowest files first, and an opt-in
persistent XLA cache to make re-runs fast."""

import contextlib
import gc
import os
import time
from pathlib import Path

import jax
import numpy as np
import pytest
from hypothesis import HealthCheck, settings
from jax import monitoring

import jaxqp  # enables float64

# The tests compile thousands of small programs and run most of them briefly, so compilation dominates
# the cold suite.  These settings shorten it, with the same IEEE arithmetic (XLA's CPU code is compiled
# without fast-math either way):
# - the loop fusions are emitted by XLA's direct LLVM IR emitters instead of its MLIR fusion emitters
#   (``--xla_cpu_use_fusion_emitters=false``), where the installed XLA knows the option: an unknown
#   option aborts XLA, so a subprocess tries it once and the workers inherit the answer;
# - JAX asks XLA for little optimisation work (``jax_disable_most_optimizations``: LLVM at level 0),
#   except in the files of _OPTIMISED and the tests marked ``optimised``, whose programs run long enough
#   (time integration, Newton sweeps, fits in subprocesses) that the optimisation pays for itself.
#   With these two the cold suite on the 2-core CI machine took 674 s against 966-1057 s with LLVM at
#   level 0 alone (XLA compilation 519 s against 907 s, summed over the two workers);
# - the optimised tests compile at LLVM level 1 (``--xla_backend_optimization_level=1``) instead of
#   XLA's default 2: as fast for them (191 s against 193 s for all of them), and it makes a
#   self-consistent spin sweep worth optimising (its compilation halves; the spin-supercurrent task
#   test 38 s -> 25 s alone);
# - XLA does not hoist loop-invariant code out of while loops (``--xla_disable_hlo_passes=
#   while-loop-invariant-code-motion``): the largest programs are nests of Newton, line-search and
#   integration loops, and the pass was a fifth of their compilation (the inelastic solver: 4.2-4.7 s
#   -> 3.3-3.6 s).  The suite's XLA time fell from 571 s to 499 s and its wall time from 711 s to
#   652 s, with no test measurably slower to run.  The pass moves computations, it does not change them.
# Subprocesses inherit the settings through the environment (``host_devices_env`` below keeps them for
# one with several CPU devices).  The notebooks and the benchmark smoke
# run of CI, and every user, compile with XLA's defaults.
_OPTIMISED = ("test_dynamics", "test_spin_valve", "test_run")


def _xla_accepts(flag: str) -> bool:
    import subprocess
    import sys

    code = "import jax, jax.numpy as jnp; jnp.zeros(2).block_until_ready()"
    env = dict(os.environ, XLA_FLAGS=flag, JAX_PLATFORMS="cpu")
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120).returncode == 0


_EMITTERS = "--xla_cpu_use_fusion_emitters=false"
_NO_HOISTING = "--xla_disable_hlo_passes=while-loop-invariant-code-motion"
_LEVEL_1 = "--xla_backend_optimization_level=1"
_flags = os.environ.get("XLA_FLAGS", "")
if "JAXQP_TEST_XLA_PROBED" not in os.environ:
    if "xla_cpu_use_fusion_emitters" not in _flags and _xla_accepts(_EMITTERS):
        _flags = _flags + " " + _EMITTERS
    if "xla_disable_hlo_passes" not in _flags:
        _flags = _flags + " " + _NO_HOISTING
    if "xla_backend_optimization_level" not in _flags:
        _flags = _flags + " " + _LEVEL_1
    os.environ["XLA_FLAGS"] = _flags.strip()
os.environ["JAXQP_TEST_XLA_PROBED"] = "1"


def _little_optimisation(on: bool):
    jax.config.update("jax_disable_most_optimizations", on)
    os.environ["JAX_DISABLE_MOST_OPTIMIZATIONS"] = "1" if on else "0"


@contextlib.contextmanager
def _optimisation(little: bool):
    """Compile with little optimisation or with optimisation inside; the level found is restored after."""
    before = jax.config.read("jax_disable_most_optimizations")
    _little_optimisation(little)
    try:
        yield
    finally:
        _little_optimisation(before)


_little_optimisation(True)

# Tracing and lowering build many short-lived Python objects, and each of Python's full collections
# walks every live object, in a test worker hundreds of thousands of cached jaxprs and programs.
# Rarer collections (gen-0 threshold 100000 allocations instead of 700) shorten tracing (133 s -> 106 s
# in a cold suite, both workers); the module fixture below still collects in full where it drops the
# compiled programs.
gc.set_threshold(100_000, 50, 1000)


@pytest.fixture(autouse=True, scope="module")
def _optimisation_level(request):
    with _optimisation(Path(str(request.fspath)).stem not in _OPTIMISED):
        yield


# A test marked ``optimised`` in another file: its few programs run long (large grids) and compile
# with optimisation (above).  JAX keys its caches of compiled programs without the optimisation level,
# so the programs it shares with the other tests are compiled once, at the level of the first use.
def pytest_configure(config):
    config.addinivalue_line("markers", "optimised: compile this test's programs with optimisation (LLVM level 1)")


@pytest.fixture
def little_optimisation():
    """A context manager for an optimised test: the programs first compiled inside it get little
    optimisation (a one-off solve that runs briefly, such as a second method's reference)."""

    return lambda: _optimisation(little=True)


@pytest.fixture(autouse=True)
def _optimised_test(request):
    if request.node.get_closest_marker("optimised") is None:
        yield
    else:
        with _optimisation(little=False):
            yield


@pytest.fixture
def host_devices_env():
    """``env(n)``: the environment for a subprocess with ``n`` CPU devices. It keeps this process's
    environment, the harness's XLA settings above included, and adds the device count."""

    def env(n: int) -> dict:
        flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={n}"
        return dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=flags.strip())

    return env


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
_TRACE_S = [0.0, 0.0, 0]  # tracing to jaxprs, lowering to MLIR, programs compiled (the opt-in profile below)


def _on_duration(event, duration, **_):
    if event == "/jax/core/compile/backend_compile_duration":
        _COMPILE_S[0] += duration
        _TRACE_S[2] += 1
    elif event == "/jax/core/compile/jaxpr_trace_duration":
        _TRACE_S[0] += duration
    elif event == "/jax/core/compile/jaxpr_to_mlir_module_duration":
        _TRACE_S[1] += duration


monitoring.register_event_duration_secs_listener(_on_duration)
_WORKER_COMPILE_S: dict = {}


def pytest_sessionfinish(session):
    output = getattr(session.config, "workeroutput", None)  # an xdist worker
    if output is not None:
        output["compile_s"] = _COMPILE_S[0]


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """At the end of a test process, exclude every live object from the interpreter's last full
    collection (``gc.freeze``): a worker holds hundreds of thousands of cached jaxprs and programs,
    the session waits for both workers to exit, and the collection finds nothing to free (the
    process ends).  A worker exited 3.5 s -> 1.4 s after one test file's programs."""
    gc.freeze()


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


# Opt-in profile of a run (JAXQP_TEST_PROFILE=<prefix>): one line per test, "seconds, seconds of XLA
# compilation, of tracing, of lowering, programs compiled, test id", in <prefix>.<process id>; the
# numbers that choose _OPTIMISED and _SLOW_FILES.
_PROFILE = os.environ.get("JAXQP_TEST_PROFILE")
if _PROFILE:

    @pytest.fixture(autouse=True)
    def _profile_test(request):
        c0, (r0, l0, n0), t0 = _COMPILE_S[0], _TRACE_S, time.perf_counter()
        yield
        with open(f"{_PROFILE}.{os.getpid()}", "a") as f:
            f.write(f"{time.perf_counter() - t0:.2f} {_COMPILE_S[0] - c0:.2f} {_TRACE_S[0] - r0:.2f} "
                    f"{_TRACE_S[1] - l0:.2f} {_TRACE_S[2] - n0} {request.node.nodeid}\n")
