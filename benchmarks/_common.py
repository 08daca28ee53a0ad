"""Shared helpers of the benchmarks: timing, device description, JSON output."""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import jax

import jaxqp

RESULTS = Path(__file__).resolve().parent / "results"


def device_info() -> dict:
    dev = jax.devices()[0]
    return {
        "backend": jax.default_backend(),
        "device": str(dev),
        "device_kind": getattr(dev, "device_kind", ""),
        "n_devices": jax.device_count(),
        "cpu_count": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxqp": jaxqp.__version__,
        "x64": bool(jax.config.read("jax_enable_x64")),
    }


def timed(fn, *args, repeat: int = 3):
    """(first call incl. compilation, best of ``repeat`` warm calls, result)."""
    t0 = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    first = time.perf_counter() - t0
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = jax.block_until_ready(fn(*args))
        best = min(best, time.perf_counter() - t0)
    return first, best, out


def write(name: str, payload: dict) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "date": datetime.datetime.now().isoformat(timespec="seconds"),
               "environment": device_info(), **payload}
    tag = payload["environment"]["backend"]
    path = RESULTS / f"{name}_{tag}.json"
    path.write_text(json.dumps(payload, indent=2, default=float))
    print(f"wrote {path}")
    return path


@contextlib.contextmanager
def worktree(rev: str):
    """A ``git worktree`` of revision ``rev`` (removed afterwards): the same benchmark, run against an
    earlier revision on the same machine in the same run."""
    here = Path(__file__).resolve().parent
    root = Path(subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=here, capture_output=True, text=True,
                               check=True).stdout.strip())
    wt = Path(tempfile.mkdtemp()) / "baseline"
    subprocess.run(["git", "worktree", "add", "--detach", str(wt), rev], cwd=root, check=True, capture_output=True)
    try:
        yield wt
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(wt)], cwd=root, capture_output=True)

