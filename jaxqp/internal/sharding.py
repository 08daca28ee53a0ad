"""One way to spread independent points (biases, sweep points) over devices and hosts.

Both the bias sweeps of `jaxqp.app.sweep` and the chunked runs of `jaxqp.app.runner` use these:
a 1-D `jax.sharding.Mesh` (every device of every process for the sweeps, the process's own
devices for a run's chunks), `jax.shard_map` over its one axis, inputs placed with `put` (each
process contributes its own rows when the mesh spans several) and results brought back with
`gather`.  On several hosts call ``jax.distributed.initialize()`` first; nothing else changes.
"""

from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P


def points_mesh(devices=None, axis: str = "points") -> Mesh:
    """A 1-D mesh named ``axis`` over ``devices`` (default: every device of every process)."""
    devs = np.asarray(jax.devices() if devices is None else devices)
    return Mesh(devs.reshape(-1), (axis,))


def axis_name(mesh: Mesh) -> str:
    if len(mesh.axis_names) != 1:
        raise ValueError(f"expected a 1-D mesh, got axes {mesh.axis_names}")
    return mesh.axis_names[0]


def shard_points(fn, mesh: Mesh, n_replicated: int = 0):
    """``jit(shard_map(fn))``: the last argument is split along its leading axis over the mesh, the
    ``n_replicated`` arguments before it are the same on every device; outputs are split like the
    points."""
    name = axis_name(mesh)
    specs = (P(),) * n_replicated + (P(name),)
    return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=specs, out_specs=P(name), check_vma=False))


def put(x, mesh: Mesh):
    """Place ``x`` split along its leading axis over the mesh (host memory on several processes)."""
    sharding = NamedSharding(mesh, P(axis_name(mesh)))
    if jax.process_count() == 1 or all(d.process_index == jax.process_index() for d in mesh.devices.flat):
        return jax.device_put(x, sharding)
    x = np.asarray(x)
    return jax.make_array_from_callback(x.shape, sharding, lambda idx: x[idx])


def gather(out: dict) -> dict:
    """NumPy copies of sharded results, gathered from every process."""
    if jax.process_count() == 1 or all(v.is_fully_addressable for v in out.values()):
        return {k: np.asarray(v) for k, v in out.items()}
    from jax.experimental import multihost_utils

    return {k: np.asarray(multihost_utils.process_allgather(v, tiled=True)) for k, v in out.items()}
