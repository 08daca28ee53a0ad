"""Numerical precision and tolerances.

jaxqp works in float64 by default: importing `jaxqp` switches on
``jax_enable_x64``.  Set the environment variable ``JAXQP_X64=0`` *before* the
first import to leave JAX's precision alone (float32 unless you enable x64
yourself).  All tolerances below follow the active precision, so the same code
runs in float32 on accelerators where that is much faster, at the price of
roughly six significant digits in spectral quantities.

The persistent compilation cache keeps compiled XLA programs on disk between processes:
``jaxqp.enable_compilation_cache()`` in a script, or ``JAXQP_CACHE=1`` in the environment before
the first import.  The command-line tools switch it on by themselves unless ``JAXQP_CACHE=0``.
"""

from __future__ import annotations

import hashlib
import os
import platform
from pathlib import Path

import jax
import jax.numpy as jnp

VERSION = "0.1.0"

if os.environ.get("JAXQP_X64", "1").strip().lower() not in ("0", "false", "no", "off"):
    jax.config.update("jax_enable_x64", True)

_OFF = ("0", "false", "no", "off")


def _cache_fingerprint() -> str:
    """jax version and host CPU: executables compiled for one CPU must never be loaded on another
    (a home folder shared between machines), so each gets its own sub-folder."""
    flags = ""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((ln for ln in f if ln.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    cpu = hashlib.sha1(f"{platform.machine()} {platform.processor()} {flags}".encode()).hexdigest()[:10]
    return f"jax-{jax.__version__}-{cpu}"


def enable_compilation_cache(path: str | os.PathLike | None = None) -> Path | None:
    """Keep compiled XLA programs on disk, so that later processes skip compilation.

    Args:
        path: base folder; default ``$JAXQP_CACHE_DIR`` or ``~/.cache/jaxqp/xla``.  Programs go to
            a sub-folder per jax version and host CPU.

    Returns:
        The folder in use, or ``None`` when the cache stays off: ``JAXQP_CACHE=0`` in the
        environment, or a folder that cannot be created.  A cache folder configured before (by
        ``jax.config`` or an earlier call) is kept and returned.

    Only programs that took more than 0.5 s to compile are stored.  Two processes may share the
    folder.
    """
    if os.environ.get("JAXQP_CACHE", "").strip().lower() in _OFF:
        return None
    current = jax.config.jax_compilation_cache_dir  # type: ignore[attr-defined]
    if current:
        return Path(current)
    base = Path(path or os.environ.get("JAXQP_CACHE_DIR") or Path.home() / ".cache" / "jaxqp" / "xla")
    folder = base.expanduser() / _cache_fingerprint()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:  # read-only home: run without the cache
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    return folder


if os.environ.get("JAXQP_CACHE", "").strip().lower() not in ("", *_OFF):
    enable_compilation_cache()


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
