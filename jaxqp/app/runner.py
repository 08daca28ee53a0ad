"""Sweeps that never lose work: ``jaxqp run CONFIG``.

The outer grid of a configuration (`jaxqp.app.runconfig`) is flattened and cut
into chunks of a fixed number of points, sized to the device memory (or as
the configuration says).  Each chunk is one call of the task's jit-compiled
function (compiled once: the last chunk is padded to the same shape), sharded
over the local devices with `jax.shard_map`, and written to
``<out>/chunks/NNNNNN.npz`` (atomically: a temporary file, then a rename) as
soon as it finishes.  A sweep that is killed resumes, with the same command,
from the chunks on disk; the final dataset is identical to an uninterrupted
run.  Every point carries a ``status`` (`jaxqp.app.tasks.STATUS`):
non-converged points are kept and labelled, never dropped.

One run at a time writes into a folder: a second one is refused while the
first holds ``<out>/.lock``.  A finished folder holding a different
configuration is refused too (``overwrite=True`` starts afresh).

Many hosts: start one process per host with ``jax.distributed.initialize()``
before calling `run` (same configuration everywhere).  Each chunk belongs to
one process (chunk i to process i mod P), which computes it on its own devices
(its points sharded over them) and writes its file; nothing is computed twice
and no chunk waits for another host.  Process 0 assembles the result once every
process has written its share.  A run with a killed process is resumed by
starting all processes again: each computes only its chunks that are missing.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from jax.sharding import Mesh

from ..internal import sharding
from ..internal.config import VERSION as __version__
from ..units import Units
from .configfile import ConfigError
from .runconfig import RunConfig
from .tasks import PENDING, STATUS, TASKS

_MANIFEST = "manifest.json"


class RunLocked(RuntimeError):
    """Another run is writing into the same output folder."""


class RunWriteError(OSError):
    """The output folder cannot be written (full disk, read-only or removed folder); the chunks already
    written are kept, and the same command resumes once the folder is writable again."""


# ------------------------------------------------------------------------------- planning
def available_memory() -> float:
    """Bytes of memory of one local device (GPU: its limit; CPU: available host memory)."""
    dev = jax.local_devices()[0]
    try:
        stats = dev.memory_stats()
        if stats and stats.get("bytes_limit"):
            return float(stats["bytes_limit"] - stats.get("bytes_in_use", 0))
    except Exception:  # pragma: no cover - backends without memory stats
        pass
    return _host_memory()


def _host_memory() -> float:
    """Bytes of host memory available now."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:  # pragma: no cover
        pass
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")) / 2


@dataclasses.dataclass(frozen=True)
class Plan:
    n_points: int
    chunk: int
    n_chunks: int
    n_devices: int
    bytes_per_point: float
    memory_budget: float
    result_bytes: float

    def describe(self) -> str:
        gib = 2.0**30
        procs = f" in each of {jax.process_count()} processes" if jax.process_count() > 1 else ""
        return (f"{self.n_points} sweep points in {self.n_chunks} chunks of {self.chunk} on {self.n_devices} "
                f"device(s){procs}; about {self.bytes_per_point / 2**20:.3g} MiB working memory per point "
                f"(budget {self.memory_budget / gib:.3g} GiB per device), result {self.result_bytes / gib:.3g} GiB")


def _out_size(cfg: RunConfig) -> int:
    """Floats per sweep point in the result."""
    stored = TASKS[cfg.task].stored_per_point
    return int(stored(cfg)) if stored is not None else 8 * cfg.inner_reduced.size + 8


def plan(cfg: RunConfig, chunk: int | None = None, memory: float | None = None) -> Plan:
    """Chunking of a sweep; raises `ConfigError` if it cannot fit in memory or on disk."""
    task = TASKS[cfg.task]
    n_dev = jax.local_device_count()  # a chunk runs on the devices of one process
    per_point = float(task.bytes_per_point(cfg))
    budget = memory or cfg.memory_bytes or 0.5 * available_memory()
    if per_point > budget:
        raise ConfigError(
            f"one sweep point needs about {per_point / 2**30:.3g} GiB of working memory "
            f"({cfg.inner_reduced.size} {cfg.inner_name} points x {cfg.n_energy} energies), more than the "
            f"{budget / 2**30:.3g} GiB available per device: use fewer {cfg.inner_name} points or a smaller "
            "grid.n_energy (or raise output.memory if more is really free)")
    result = float(cfg.n_points) * _out_size(cfg) * 8.0
    host = _host_memory()
    if result > 0.8 * host:
        raise ConfigError(
            f"the result would take {result / 2**30:.3g} GiB, more than the {host / 2**30:.3g} GiB of memory "
            "available to assemble it: sweep fewer points or split the sweep into several configurations")
    chunk = chunk or cfg.chunk
    if chunk is None:
        per_dev = int(max(1, min(budget // per_point, 4096)))
        chunk = per_dev * n_dev
        # about 10 chunks on long sweeps, so that an interruption loses little, but not chunks so
        # small that writing them (or the loss of vectorisation) costs more than computing them
        chunk = min(chunk, max(8 * n_dev, -(-cfg.n_points // 10)))
    chunk = int(min(chunk, max(cfg.n_points, 1)))
    chunk = -(-chunk // n_dev) * n_dev  # a multiple of the process's device count
    return Plan(cfg.n_points, chunk, -(-cfg.n_points // chunk), n_dev, per_point, budget, result)


# ------------------------------------------------------------------------------- execution
_COMPILED: dict = {}


def _compiled(cfg: RunConfig, mesh: Mesh):
    """The task's chunk function, shard_mapped over the points axis and jitted (one compilation per
    configuration and mesh; kept for later runs of the same configuration in this process)."""
    key = (cfg.fingerprint(), tuple(d.id for d in mesh.devices.flat), jax.process_count())
    if key not in _COMPILED:
        if len(_COMPILED) > 16:
            _COMPILED.clear()
        _COMPILED[key] = _build(cfg, mesh)
    return _COMPILED[key]


def _build(cfg: RunConfig, mesh: Mesh):
    fn = TASKS[cfg.task].make(cfg)
    inner = jnp.asarray(cfg.inner_reduced)

    def body(p):
        return fn(p, inner)

    return sharding.shard_points(body, mesh)


class _Lock:
    """An exclusive lock on ``<out>/.lock`` (fcntl; released when the process dies)."""

    def __init__(self, folder: Path):
        self.path = folder / ".lock"
        self.fh = None

    def __enter__(self):
        self.fh = open(self.path, "a+")
        try:
            fcntl.flock(self.fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.fh.seek(0)
            who = self.fh.read().strip() or "another process"
            self.fh.close()
            raise RunLocked(f"another jaxqp run ({who}) is writing into {self.path.parent}; wait for it to finish "
                            "or choose another output folder") from None
        self.fh.seek(0)
        self.fh.truncate()
        self.fh.write(f"pid {os.getpid()} on {socket.gethostname()}")
        self.fh.flush()
        return self

    def __exit__(self, *exc):
        fcntl.flock(self.fh, fcntl.LOCK_UN)
        self.fh.close()


def _atomic_savez(path: Path, arrays: dict):
    """Write a chunk to a temporary file and move it into place: a chunk file is whole or absent.  A write
    that fails (full disk, read-only folder) leaves no partial file and raises `RunWriteError`."""
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        done = len(list(path.parent.glob("*.npz")))
        raise RunWriteError(e.errno, f"cannot write {path.name} into {path.parent} ({e.strerror or e}); the {done} "
                                     "chunks written so far are kept: make room (or make the folder writable) and run "
                                     "the same command again to resume") from None


def _load_chunk(path: Path):
    try:
        with np.load(path) as z:
            return {k: z[k] for k in z.files}
    except Exception:  # a chunk cut short by a crash: compute it again
        return None


def _chunk_ok(path: Path) -> bool:
    """Whether a finished chunk file is there: its zip index must read (an archive cut short has none; it is
    removed, to be recomputed). The arrays themselves are read once, when the result is assembled."""
    if not path.exists():
        return False
    try:
        with np.load(path) as z:
            if z.files:
                return True
    except Exception:
        pass
    path.unlink(missing_ok=True)
    return False


def _write_json(path: Path, obj):
    tmp = path.with_name(path.name + f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    os.replace(tmp, path)


def _prepare_folder(cfg: RunConfig, out: Path, pl: Plan, overwrite: bool) -> Plan:
    """Check or write the manifest; the chunk size of an interrupted run is kept on resume."""
    man = out / _MANIFEST
    if man.exists() and not overwrite:
        try:
            m = json.loads(man.read_text())
        except json.JSONDecodeError:
            m = None
        if m is not None:
            if m.get("fingerprint") != cfg.fingerprint():
                raise ConfigError(f"{out} holds the results of a different configuration; choose another output "
                                  "folder, or pass --overwrite to replace them")
            if m.get("chunk") != pl.chunk:
                pl = plan(cfg, chunk=int(m["chunk"]))
            return pl
    if overwrite:
        shutil.rmtree(out / "chunks", ignore_errors=True)
        for f in out.glob("result.*"):
            shutil.rmtree(f) if f.is_dir() else f.unlink()
    (out / "chunks").mkdir(parents=True, exist_ok=True)
    _write_json(man, {"fingerprint": cfg.fingerprint(), "chunk": pl.chunk, "n_points": pl.n_points,
                      "n_chunks": pl.n_chunks, "task": cfg.task, "jaxqp_version": __version__,
                      "config": cfg.raw})
    return pl


def run(cfg: RunConfig, *, out: Path | None = None, overwrite: bool = False, chunk: int | None = None,
        progress: Callable[[int, int, int, int], None] | None = None, max_chunks: int | None = None):
    """Run (or resume) a sweep; returns ``(dataset, path)`` (``dataset`` None if stopped by ``max_chunks``).

    ``progress(done_points, total_points, chunks_done, chunks_total)`` is called after each chunk.
    """
    out = Path(out) if out is not None else cfg.out_dir
    if cfg.static_runs:
        return _run_static(cfg, out, overwrite, chunk, progress, max_chunks)
    pl = plan(cfg, chunk=chunk)
    writer = jax.process_index() == 0
    out.mkdir(parents=True, exist_ok=True)
    lock = _Lock(out) if writer else None
    if lock:
        lock.__enter__()
    try:
        if writer:
            pl = _prepare_folder(cfg, out, pl, overwrite)
        cdir = out / "chunks"
        done = np.array([_chunk_ok(cdir / f"{i:06d}.npz") for i in range(pl.n_chunks)])
        if jax.process_count() > 1:
            from jax.experimental import multihost_utils

            done = np.asarray(multihost_utils.broadcast_one_to_all(done))
            pl = dataclasses.replace(pl, chunk=int(multihost_utils.broadcast_one_to_all(np.int64(pl.chunk))))
            pl = dataclasses.replace(pl, n_chunks=-(-pl.n_points // pl.chunk))
        # each chunk belongs to one process (chunk i to process i mod P), which computes it on its own
        # devices and writes it; process 0 assembles the result once every process has written its share
        n_proc, me = jax.process_count(), jax.process_index()
        mesh = sharding.points_mesh(jax.local_devices())
        fn = None
        n_done = int(done.sum())
        if progress:
            progress(min(n_done * pl.chunk, pl.n_points), pl.n_points, n_done, pl.n_chunks)
        computed = 0
        for i in range(pl.n_chunks):
            if done[i] or i % n_proc != me:
                continue
            if max_chunks is not None and computed >= max_chunks:
                return None, out
            if fn is None:
                fn = _compiled(cfg, mesh)
            idx = np.arange(i * pl.chunk, (i + 1) * pl.chunk)
            n_real = int(np.sum(idx < pl.n_points))
            idx = np.minimum(idx, pl.n_points - 1)  # pad with the last point: one shape, one compilation
            params = {k: sharding.put(v, mesh) for k, v in cfg.point_params(idx).items()}
            res = sharding.gather(fn(params))
            _atomic_savez(cdir / f"{i:06d}.npz", {k: v[:n_real] for k, v in res.items()})
            computed += 1
            n_done += 1
            if progress:
                progress(min(n_done * pl.chunk, pl.n_points), pl.n_points, n_done, pl.n_chunks)
        if n_proc > 1:
            from jax.experimental import multihost_utils

            multihost_utils.sync_global_devices("jaxqp run: every chunk written")
        if writer:
            ds = assemble(cfg, out, pl)
            return ds, save(ds, out, cfg.format)
        return None, out
    finally:
        if lock:
            lock.__exit__(None, None, None)


def _static_folder(out: Path, combo: tuple) -> Path:
    return out / "static" / "-".join(f"{i:03d}" for i in combo)


def _run_static(cfg: RunConfig, out: Path, overwrite, chunk, progress, max_chunks):
    """A sweep over shape parameters: one sub-run per combination of their values (each compiles its own
    solver, resumes on its own and keeps its chunks in ``<out>/static/<i>-<j>/``), then one dataset."""
    out.mkdir(parents=True, exist_ok=True)
    with _Lock(out):
        man = out / _MANIFEST
        if man.exists() and not overwrite:
            try:
                old = json.loads(man.read_text()).get("fingerprint")
            except json.JSONDecodeError:
                old = None
            if old not in (None, cfg.fingerprint()):
                raise ConfigError(f"{out} holds the results of a different configuration; choose another output "
                                  "folder, or pass --overwrite to replace them")
        if overwrite:
            shutil.rmtree(out / "static", ignore_errors=True)
            for f in out.glob("result.*"):
                shutil.rmtree(f) if f.is_dir() else f.unlink()
        _write_json(man, {"fingerprint": cfg.fingerprint(), "static": True, "task": cfg.task,
                          "jaxqp_version": __version__, "config": cfg.raw})
    parts = []
    for combo, sub in cfg.static_runs:
        ds, _ = run(sub, out=_static_folder(out, combo), overwrite=overwrite, chunk=chunk, progress=progress,
                    max_chunks=max_chunks)
        if ds is None:
            return None, out
        parts.append((combo, ds))
    ds = combine_static(cfg, parts)
    if jax.process_index() == 0:
        return ds, save(ds, out, cfg.format)
    return None, out


def combine_static(cfg: RunConfig, parts: list) -> xr.Dataset:
    """One dataset from the sub-runs of the static axes (outermost dimensions, in their order)."""
    stat = cfg.static_axes
    shape = tuple(len(a.reduced) for a in stat)
    grid = np.empty(shape, dtype=object)
    for combo, ds in parts:
        grid[combo] = ds.drop_attrs(deep=False)
    combined = xr.combine_nested(grid.tolist(), concat_dim=[a.name for a in stat], combine_attrs="drop")
    coords = {}
    for a in stat:
        g = 2.0
        si, unit = (a.si, a.unit) if a.unit not in ("Delta0", "Tc", "xi") else _si(a.dim, a.reduced, cfg, g)
        coords[a.name] = (a.name, si, {"units": unit, "long_name": a.key, "parameter": a.key})
        coords[f"{a.name}_reduced"] = (a.name, a.reduced, {"units": _REDUCED_UNITS[a.dim],
                                                           "long_name": f"{a.key} in jaxqp units"})
    combined = combined.assign_coords(coords)
    first = parts[0][1]
    combined.attrs.update(first.attrs)
    combined.attrs.update(config=json.dumps(cfg.raw, sort_keys=True, default=str),
                          n_not_ok=int(np.sum(combined.status.values != 0)))
    return combined


# ------------------------------------------------------------------------------- results
def _si(dim: str, reduced: np.ndarray, cfg: RunConfig, g: float = 2.0):
    """jaxqp units -> (SI values, SI unit) of a coordinate."""
    u = Units(cfg.delta0_ueV, g=g)
    if dim == "energy":
        return u.energy_ueV(reduced) * 1e-6, "eV"
    if dim == "voltage":
        return u.voltage_volt(reduced), "V"
    if dim == "temperature":
        return u.temperature_K(reduced), "K"
    if dim == "field":
        return u.field_T(reduced), "T"
    if dim == "length" and cfg.xi_nm is not None:
        return reduced * cfg.xi_nm * 1e-9, "m"
    return reduced, {"length": "xi"}.get(dim, "1")


_REDUCED_UNITS = {"energy": "Delta0", "voltage": "Delta0/e", "temperature": "Delta0/k_B", "field": "Delta0 (h)",
                  "length": "xi", "1": "1"}
#: factor from jaxqp units to SI of an output, given Delta0 (ueV) and the junction's G_T (S) or the wire's
#: R_xi (Ohm); None where that is not given
_SI_FACTOR = {
    "current": lambda d0, G: None if G is None else G * d0 * 1e-6,
    "conductance": lambda d0, G: G,
    "heat": lambda d0, G: None if G is None else G * (d0 * 1e-6) ** 2,
    "energy": lambda d0, G: d0 * 1e-6,
    "wire_I": lambda d0, R: None if R is None else d0 * 1e-6 / R,
    "wire_G": lambda d0, R: None if R is None else 1.0 / R,
}


def assemble(cfg: RunConfig, out: Path, pl: Plan, *, partial: bool = False) -> xr.Dataset:
    """The labelled dataset from the chunk files (all must exist).

    ``partial=True``: the chunks finished so far, the other points NaN with status
    ``not_computed_yet``; it only reads (a run may be writing into the folder at the same time).
    """
    task = TASKS[cfg.task]
    parts = []
    for i in range(pl.n_chunks):
        path = out / "chunks" / f"{i:06d}.npz"
        c = _load_chunk(path)
        if c is None and not partial:
            path.unlink(missing_ok=True)  # so that the next run computes it again
            raise RuntimeError(f"chunk {i} of {out} is missing or unreadable; run the same command again to "
                               "compute it")
        parts.append(c)
    like = next((p for p in parts if p is not None), None)
    if like is None:
        raise FileNotFoundError(f"no finished chunks in {out} yet; open it again when the run has written some")
    n_rows = lambda i: min(pl.chunk, pl.n_points - i * pl.chunk)  # noqa: E731
    for i, p in enumerate(parts):
        if p is None:  # not computed yet
            parts[i] = {k: _pending(k, (n_rows(i),) + v.shape[1:], v.dtype) for k, v in like.items()}
    arrays = {k: np.concatenate([p[k] for p in parts])[: pl.n_points] for k in parts[0]}
    shape = cfg.shape
    dims = cfg.dims
    coords = {}
    for a in cfg.axes:
        g = cfg.sections[a.key.split(".")[0]]["params"].get("g", 2.0)
        si, unit = (a.si, a.unit) if a.unit not in ("Delta0", "Tc", "xi") else _si(a.dim, a.reduced, cfg, g)
        coords[a.name] = (a.dim_name, si, {"units": unit, "long_name": a.key, "parameter": a.key})
        coords[f"{a.name}_reduced"] = (a.dim_name, a.reduced, {"units": _REDUCED_UNITS[a.dim],
                                                               "long_name": f"{a.key} in jaxqp units"})
    for grp in {a.group for a in cfg.axes if a.group}:
        coords[grp] = (grp, np.arange(len(next(a for a in cfg.axes if a.group == grp).reduced)),
                       {"long_name": f"index of the zipped sweep {grp!r}"})
    inner_dim = "energy" if cfg.inner_name == "energy" else "voltage"
    si, unit = ((cfg.inner_si, cfg.inner_unit) if cfg.inner_unit not in ("Delta0",)
                else _si(inner_dim, cfg.inner_reduced, cfg))
    coords[cfg.inner_name] = (cfg.inner_name, si, {"units": unit})
    coords[f"{cfg.inner_name}_reduced"] = (cfg.inner_name, cfg.inner_reduced, {"units": _REDUCED_UNITS[inner_dim]})
    for k, (si_k, unit_k, red_k) in cfg.extra.items():  # further inner axes (all voltages)
        si, unit = (si_k, unit_k) if unit_k != "Delta0" else _si("voltage", red_k, cfg)
        coords[k] = (k, si, {"units": unit})
        coords[f"{k}_reduced"] = (k, red_k, {"units": _REDUCED_UNITS["voltage"]})
    G = cfg.sections.get("barrier", {}).get("params", {}).get("conductance")
    R = next((cfg.sections[s]["params"]["resistance_xi"] for s in ("wire", "link")
              if "resistance_xi" in cfg.sections.get(s, {}).get("params", {})), None)
    data_vars = {}
    for k, v in arrays.items():
        if k == "status":
            continue
        o = task.outputs[k]
        vd = dims + tuple(cfg.inner_name if d in ("energy", "bias", "V_inj") else d for d in o.dims)
        data_vars[k] = (vd, v.reshape(shape + v.shape[1:]), {"units": o.units, "long_name": o.long_name})
        if o.si is not None:
            name, u, kind = o.si
            factor = _SI_FACTOR[kind](cfg.delta0_ueV, R if kind.startswith("wire") else G)
            if factor is not None:
                data_vars[name] = (vd, v.reshape(shape + v.shape[1:]) * factor, {"units": u, "long_name": o.long_name})
    status = arrays["status"].reshape(shape).astype(np.int8)
    data_vars["status"] = (dims, status, {"flag_values": np.array(sorted(STATUS), np.int8),
                                          "flag_meanings": " ".join(STATUS[k] for k in sorted(STATUS)),
                                          "long_name": "status of the sweep point"})
    ds = xr.Dataset(data_vars, coords)
    ds.attrs.update(title=cfg.title, task=cfg.task, jaxqp_version=__version__,
                    config=json.dumps(cfg.raw, sort_keys=True, default=str), delta0_ueV=cfg.delta0_ueV,
                    n_not_ok=int(np.sum(status != 0)))
    return ds


def save(ds: xr.Dataset, out: Path, fmt: str = "netcdf") -> Path:
    """Write ``result.nc`` (h5netcdf) or ``result.zarr`` atomically."""
    if fmt == "zarr":
        path = out / "result.zarr"
        tmp = out / f"result.zarr.{os.getpid()}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        ds.to_zarr(tmp, mode="w", consolidated=False)  # (consolidated metadata is not in Zarr format 3)
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
        return path
    from ..io import save as save_nc

    return save_nc(ds, out / "result.nc")


def open_result(path, *, partial: bool = False) -> xr.Dataset:
    """Load ``result.nc`` / ``result.zarr`` (or the folder holding one) into memory.

    ``partial=True`` on a run folder whose run is still going (or was interrupted): the dataset of the
    chunks finished so far, the other points NaN with status ``not_computed_yet`` (4); a finished
    run's result as it is.  Any number of readers may do this while the run writes: they only read
    whole files (chunks and results are written to a temporary name and renamed into place).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path.resolve()} does not exist: `jaxqp run CONFIG.toml` writes its result to "
                                "CONFIG-run/ next to the configuration file (or to its [output] dir)")
    if partial and path.is_dir() and path.suffix != ".zarr" and not any(
            (path / r).exists() for r in ("result.nc", "result.zarr")):
        return _partial_result(path)
    if path.is_dir() and path.suffix != ".zarr":
        cands = [p for p in (path / "result.nc", path / "result.zarr") if p.exists()]
        if not cands:
            done = len(list((path / "chunks").glob("*.npz"))) if (path / "chunks").is_dir() else 0
            raise FileNotFoundError(f"no result.nc or result.zarr in {path.resolve()}"
                                    + (f" ({done} finished chunks: run the same `jaxqp run` command again to "
                                       "finish and assemble it)" if done else ""))
        path = cands[0]
    if path.suffix == ".zarr":
        with xr.open_zarr(path, consolidated=False) as ds:
            return ds.load()
    from ..io import load

    return load(path)


def _pending(name, shape: tuple, dtype) -> np.ndarray:
    """Placeholder values of points not computed yet: status ``not_computed_yet``, NaN elsewhere."""
    if name == "status":
        return np.full(shape, PENDING, dtype)
    return np.full(shape, np.nan, np.result_type(dtype, np.float32))


def _partial_result(out: Path) -> xr.Dataset:
    from .runconfig import from_dict

    try:
        m = json.loads((out / _MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        raise FileNotFoundError(f"{out.resolve()} is not a `jaxqp run` folder (no readable {_MANIFEST})") from None
    cfg = from_dict(m["config"], base=out)
    if cfg.static_runs:  # the sub-runs of the shape parameters, each as far as it got
        parts: list[tuple[tuple, xr.Dataset | None]] = []
        for combo, _ in cfg.static_runs:
            try:
                parts.append((combo, open_result(_static_folder(out, combo), partial=True)))
            except FileNotFoundError:
                parts.append((combo, None))
        like = next((ds for _, ds in parts if ds is not None), None)
        if like is None:
            raise FileNotFoundError(f"no finished chunks in {out} yet; open it again when the run has written some")
        pending = like.copy(data={k: _pending(k, v.shape, v.dtype) for k, v in like.data_vars.items()})
        return combine_static(cfg, [(c, ds if ds is not None else pending) for c, ds in parts])
    return assemble(cfg, out, plan(cfg, chunk=int(m["chunk"])), partial=True)


# ------------------------------------------------------------------------------- progress
class ConsoleProgress:
    """A progress bar with rate and time left (rich on a terminal, plain lines otherwise)."""

    def __init__(self, label: str = "sweep", stream=None):
        self.stream = stream or sys.stderr
        self.label = label
        self.t0 = None
        self.start_points = 0
        self.bar = None

    def __call__(self, done, total, chunks_done, chunks_total):
        now = time.perf_counter()
        if self.t0 is None:
            self.t0, self.start_points = now, done
            if self.stream.isatty():
                from rich.progress import (
                    BarColumn,
                    MofNCompleteColumn,
                    Progress,
                    TextColumn,
                    TimeElapsedColumn,
                    TimeRemainingColumn,
                )

                self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), TimeRemainingColumn())
                self.bar.start()
                self.task = self.bar.add_task(self.label, total=total, completed=done, rate="")
            elif done:
                print(f"{self.label}: resuming, {done}/{total} points already on disk", file=self.stream)
            return
        dt = now - self.t0
        rate = (done - self.start_points) / dt if dt > 0 else float("nan")
        left = (total - done) / rate if rate > 0 else float("nan")
        if self.bar is not None:
            self.bar.update(self.task, completed=done, rate=f"{rate:.3g} pts/s")
            if done >= total:
                self.bar.stop()
        else:
            print(f"{self.label}: chunk {chunks_done}/{chunks_total}, {done}/{total} points, {rate:.3g} points/s, "
                  f"{left:.0f} s left", file=self.stream, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.stop()
