"""Command line: ``jaxqp demo``, ``jaxqp info``, ``jaxqp fit CONFIG``."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jaxqp: differentiable quasiclassical (Usadel-Keldysh) solvers for superconductors "
    "out of equilibrium, with spin. Energies are in units of the BCS gap Delta0.",
)


def _compilation_cache():
    """Persist compiled XLA programs between runs (~/.cache/jaxqp/xla unless JAXQP_CACHE_DIR)."""
    import jax

    if jax.config.jax_compilation_cache_dir:
        return  # the caller configured a cache already
    path = os.environ.get("JAXQP_CACHE_DIR", str(Path.home() / ".cache" / "jaxqp" / "xla"))
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", path)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)
    except OSError:  # read-only home: run without the cache
        pass


@app.command()
def demo(
    out: Path = typer.Option(Path("jaxqp-demo"), "--out", "-o", help="output folder"),
    quick: bool = typer.Option(False, "--quick", help="small grids (a few seconds after compilation)"),
):
    """Reproduce seed 004 (thermospin effect, Figs. 2 and 3): netCDF data and PNG figures."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    _compilation_cache()
    from . import demo as demo_mod

    cfg = demo_mod.DemoConfig.quick() if quick else demo_mod.DemoConfig()
    t0 = time.perf_counter()
    with Progress(TextColumn("{task.description:<48}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
                  TimeElapsedColumn()) as bar:
        task = bar.add_task("starting", total=1.0)

        def report(msg, frac):
            bar.update(task, description=msg, completed=frac)

        paths = demo_mod.run(out, config=cfg, progress=report)
    typer.echo(f"done in {time.perf_counter() - t0:.1f} s. Wrote:")
    for k, p in paths.items():
        typer.echo(f"  {k:>5s}: {p.resolve()}")


@app.command()
def info():
    """Versions, devices and numerical precision."""
    import jax

    import jaxqp

    from ._config import x64_enabled

    rows = {
        "jaxqp": jaxqp.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": ", ".join(str(d) for d in jax.devices()),
        "float precision": "float64 (x64 enabled)" if x64_enabled() else "float32 (set JAXQP_X64=1 for float64)",
    }
    for mod in ("equinox", "optimistix", "lineax", "xarray", "numpy"):
        try:
            rows[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover
            rows[mod] = "not installed"
    for k, v in rows.items():
        typer.echo(f"{k:>16s}: {v}")


@app.command("fit")
def fit_config(
    config: Path = typer.Argument(..., help="TOML file: model, data file, free parameters and starts "
                                  "(see `python -c 'import jaxqp.fitconfig as c; print(c.__doc__)'`)"),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: [output] dir of the config)"),
):
    """Fit a model to measured data as a TOML configuration describes; write report.json, fit.png, fit.nc."""
    _compilation_cache()
    from .fitconfig import ConfigError, run

    try:
        res, paths = run(config, out)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(res.summary())
    for k, p in paths.items():
        typer.echo(f"  {k:>6s}: {p.resolve()}")
    if not res.converged:
        typer.echo("warning: the fit did not converge", err=True)
        raise typer.Exit(1)


if __name__ == "__main__":  # pragma: no cover
    app()
