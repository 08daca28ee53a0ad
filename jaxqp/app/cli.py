"""Command line: ``jaxqp run CONFIG``, ``jaxqp fit CONFIG``, ``jaxqp demo``, ``jaxqp bench``, ``jaxqp info``."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jaxqp: differentiable quasiclassical (Usadel-Keldysh) solvers for superconductors "
    "out of equilibrium, with spin. Energies are in units of the BCS gap Delta0.",
)


def _version(value: bool):
    if value:
        from .. import __version__

        typer.echo(f"jaxqp {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                      help="print the version and exit")):
    """jaxqp: differentiable quasiclassical solvers for superconductors out of equilibrium, with spin."""


def _compilation_cache():
    """The command-line tools keep compiled programs between runs unless ``JAXQP_CACHE=0``."""
    from ..internal.config import enable_compilation_cache

    enable_compilation_cache()


@app.command()
def demo(
    out: Path = typer.Option(Path("jaxqp-demo"), "--out", "-o", help="output folder"),
    quick: bool = typer.Option(False, "--quick",
                               help="small grids (about 20 s on 2 cores once compiled, 50 s the first time)"),
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


def _memory_gib() -> float:
    from .runner import available_memory

    return available_memory() / 2**30


@app.command()
def info():
    """Versions, devices and numerical precision."""
    import jax

    import jaxqp

    from ..internal.config import x64_enabled

    rows = {
        "jaxqp": jaxqp.__version__,
        "jax": jax.__version__,
        "backend": jax.default_backend(),
        "devices": ", ".join(str(d) for d in jax.devices()),
        "processes": f"{jax.process_count()} (this is process {jax.process_index()})",
        "device memory": f"{_memory_gib():.3g} GiB available on {jax.local_devices()[0]}",
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
                                  "(see `python -c 'import jaxqp.app.fitconfig as c; print(c.__doc__)'`)"),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: [output] dir of the config)"),
):
    """Fit a model to measured data as a TOML configuration describes; write report.json, fit.png, fit.nc."""
    _compilation_cache()
    from .configfile import ConfigError
    from .fitconfig import run

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


@app.command("tasks")
def list_tasks(name: str = typer.Argument(None, help="a task: list its sections and parameters")):
    """The tasks of `jaxqp run` (with a name: its sections, parameters, units and defaults)."""
    from .runconfig import KINDS, SC_FLAGS, TASKS, Choice

    if name is None:
        for t, spec in TASKS.items():
            typer.echo(f"{t:<18s} inner grid {spec['inner'][0]:<13s} {spec['doc']}")
        return
    if name not in TASKS:
        typer.echo(f"unknown task {name!r}; the tasks: {', '.join(TASKS)}", err=True)
        raise typer.Exit(2)
    spec = TASKS[name]
    typer.echo(f"{name}: {spec['doc']}\n[grid] {spec['inner'][0]} ({spec['inner'][1]})"
               + "".join(f", {k} ({d})" for k, d in spec.get("extra", {}).items()))
    for sec, schema in spec["sections"].items():
        kinds = {"": schema} if isinstance(schema, dict) else {f" kind = {k!r}": s for k, s in KINDS[schema].items()}
        for label, sch in kinds.items():
            req = " (required)" if sec in spec["required"] else ""
            typer.echo(f"[{sec}]{label}{req}")
            if "delta0" in sch and sec != "units":
                default = str(SC_FLAGS["self_consistent"]).lower()
                typer.echo(f"  {'self_consistent':<16s} true | false, default {default}: Delta from the gap equation")
            for k, p in sch.items():
                if isinstance(p, Choice):
                    typer.echo(f"  {k:<16s} one of {list(p.values)}, default {p.default!r}: {p.doc}")
                    continue
                shape = ", shape parameter" if p.static else ("" if p.sweepable else ", not sweepable")
                default = "" if p.default is None else f", default {p.default!r}"
                typer.echo(f"  {k:<16s} {p.dim}{default}{shape}: {p.doc}")


@app.command("run")
def run_config(
    config: Path = typer.Argument(..., help="TOML file: task, device in physical units, grid, sweep, output "
                                  "(see `python -c 'import jaxqp.app.runconfig as c; print(c.__doc__)'`)"),
    out: Path = typer.Option(None, "--out", "-o", help="output folder (default: [output] dir of the config)"),
    check: bool = typer.Option(False, "--check", help="validate the configuration and print the plan; compute nothing"),
    overwrite: bool = typer.Option(False, "--overwrite", help="discard results of an earlier run in the folder"),
    chunk: int = typer.Option(None, "--chunk", help="sweep points per chunk (default: sized to the device memory)"),
):
    """Run (or resume) a sweep a TOML configuration describes; write result.nc (or result.zarr).

    Finished chunks are kept in OUT/chunks: after an interruption the same command resumes.
    """
    from .configfile import ConfigError
    from .runconfig import load

    try:
        cfg = load(config)
    except ConfigError as e:
        typer.echo(f"error in {config}:\n{e}", err=True)
        raise typer.Exit(2) from None
    _compilation_cache()
    from . import runner

    try:
        pl = runner.plan(cfg, chunk=chunk)
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{cfg.task}: {pl.describe()}")
    for note in cfg.notes:
        typer.echo(f"note: {note}")
    if check:
        return
    bar = runner.ConsoleProgress(config.stem)
    try:
        ds, path = runner.run(cfg, out=out, overwrite=overwrite, chunk=chunk, progress=bar)
    except runner.RunLocked as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(3) from None
    except runner.RunWriteError as e:
        typer.echo(f"error: {e.strerror}", err=True)
        raise typer.Exit(4) from None
    except ConfigError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None
    finally:
        bar.close()
    bad = int(ds.attrs["n_not_ok"])
    typer.echo(f"wrote {path.resolve()}")
    if bad:
        typer.echo(f"warning: {bad} of {pl.n_points} points did not converge (see the status variable)", err=True)


@app.command()
def bench(
    out: Path = typer.Option(Path("jaxqp-bench.json"), "--out", "-o", help="JSON file of the timings"),
    quick: bool = typer.Option(False, "--quick", help="small sizes only"),
):
    """Time the core solvers on this machine's default device against NumPy/SciPy; write JSON."""
    _compilation_cache()
    from .bench import run as run_bench

    res = run_bench(quick=quick)
    out.write_text(json.dumps(res, indent=1))
    for r in res["cases"]:
        ref = f", numpy {r['numpy_s']:.3g} s ({r['numpy_s'] / r['warm_s']:.3g}x)" if r.get("numpy_s") else ""
        typer.echo(f"{r['case']:<44s} {r['size']:<22s} first {r['first_s']:.3g} s, warm {r['warm_s']:.3g} s{ref}")
    typer.echo(f"wrote {out.resolve()}")


if __name__ == "__main__":  # pragma: no cover
    app()
