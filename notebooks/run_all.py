"""Execute the notebooks' small versions (JAXQP_FAST=1) with nbmake, as CI does.

    python notebooks/run_all.py [NAME ...] [--workers 2] [--full]

Converts each ``notebooks/NAME.py`` (jupytext py:percent) to ``notebook-output/ipynb/NAME.ipynb``
and runs them with ``pytest --nbmake``; exits non-zero if any notebook fails.  The executed
notebooks keep their outputs (inline figures included) in ``notebook-output/ipynb/``; the figures
the notebooks save go to ``notebook-output/figures/`` (``JAXQP_NOTEBOOK_OUT``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SKIP = {"run_all.py"}


def notebooks(names=None) -> list[Path]:
    paths = sorted(p for p in HERE.glob("*.py") if p.name not in SKIP)
    if names:
        paths = [p for p in paths if p.stem in names]
    return paths


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="notebook names without .py (default: all)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="the full versions (slow), not JAXQP_FAST=1")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per notebook")
    a = ap.parse_args(argv)
    import jupytext

    out = HERE.parent / "notebook-output" / "ipynb"
    out.mkdir(parents=True, exist_ok=True)
    targets = []
    for p in notebooks(a.names):
        nb = jupytext.read(p)
        target = out / f"{p.stem}.ipynb"
        jupytext.write(nb, target)
        targets.append(str(target))
    if not targets:
        print("no notebooks selected", file=sys.stderr)
        return 2
    env = dict(os.environ)
    # no persistent compilation cache unless asked for (JAXQP_CACHE=1): kernels running side by side
    # would write and read the same entries at once
    env.setdefault("JAXQP_CACHE", "0")
    env["JAXQP_NOTEBOOK_OUT"] = str(HERE.parent / "notebook-output" / "figures")
    if not a.full:
        env["JAXQP_FAST"] = "1"
    cmd = [sys.executable, "-m", "pytest", "--nbmake", "--overwrite", f"--nbmake-timeout={a.timeout}", "-o", "addopts=",
           "-p", "no:cacheprovider", "--durations=0", "-q"]
    if a.workers > 1:
        cmd += ["-n", str(a.workers)]
    t0 = time.perf_counter()
    res = subprocess.run(cmd + targets, cwd=HERE.parent, env=env)
    print(f"{len(targets)} notebooks in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    return res.returncode


if __name__ == "__main__":
    sys.exit(main())
