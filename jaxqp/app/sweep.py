"""Sharded bias sweeps over many devices with JAX's own sharding.

The contact currents of a wire at a batch of bias vectors are independent
given the wire's response, so the bias batch is split over a 1-D
`jax.sharding.Mesh` with `jax.shard_map`: every device solves the
wire once (the O(n_E n_x) part, repeated per device, which keeps the program
free of communication) and its share of the bias points.

Multi-host use: start every process with ``jax.distributed.initialize()``
(coordinator address, number of processes and process id from the cluster
environment, e.g. SLURM), then call `sharded_contact_currents` on every
process with the same arguments: ``jax.devices()`` then lists the devices of
all hosts, the mesh spans them, and the result is a global array whose rows
live on the devices that computed them (``jax.experimental.multihost_utils.
process_allgather`` brings it to every host).  On one machine, CPU devices can
be simulated with ``XLA_FLAGS=--xla_force_host_platform_device_count=N``.
"""

from __future__ import annotations

from functools import lru_cache

import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh

from ..geometry import Wire
from ..grids import EnergyGrid
from ..internal import sharding
from ..kinetic.solve import bias_array, check_wire, energy_grid_or_default, responses_core


def bias_mesh(devices=None) -> Mesh:
    """A 1-D mesh named ``"bias"`` over ``devices`` (default: every device of every process)."""
    return sharding.points_mesh(devices, "bias")


def sharded_contact_currents(wire: Wire, biases, *, grid: EnergyGrid | None = None, n_energy: int = 2001,
                             derivative: int | None = None, mesh: Mesh | None = None, chunk: int = 64) -> dict:
    """Contact currents (and d/dV of one contact's bias) for bias vectors ``(B, n_c)``, sharded over devices.

    Returns a dict of arrays with leading axis B: ``charge``, ``spin``, ``heat``
    (``(B, n_c)``), with ``derivative`` also ``dcharge``, ``dspin``, and ``ok``;
    the same numbers as `jaxqp.contact_currents`, computed on every
    device of ``mesh`` (default `bias_mesh`).  B is padded to a multiple of
    the device count; when it already is one, the results stay sharded over
    the mesh (otherwise removing the padding gathers them on every device).
    """
    wire = check_wire(wire)
    V = bias_array(wire, biases)
    if V.ndim != 2:
        raise ValueError(f"biases must have shape (B, n_c), got {V.shape}")
    mesh = bias_mesh() if mesh is None else mesh
    n_dev = mesh.devices.size
    B = V.shape[0]
    pad = (-B) % n_dev
    Vp = jnp.concatenate([V, jnp.broadcast_to(V[-1:], (pad, V.shape[1]))]) if pad else V
    grid = energy_grid_or_default(wire, grid, n_energy, float(np.max(np.abs(np.asarray(V)))))
    Vp = sharding.put(Vp, mesh)
    out = _sharded_core(mesh, chunk, derivative)(wire, grid, Vp)
    # slicing off padding gathers the rows onto every device; with B a multiple of the device count
    # the result stays sharded
    return {k: a[:B] for k, a in out.items()} if pad else out


@lru_cache(maxsize=64)
def _sharded_core(mesh: Mesh, chunk: int, derivative: int | None):
    """The jitted, shard_mapped core, built once per (mesh, chunk, derivative) so repeat calls reuse it."""

    def run(wire_, grid_, v):
        out = responses_core(wire_, grid_, v, chunk, None, derivative)
        out["ok"] = jnp.broadcast_to(out["ok"], v.shape[:1])
        return out

    return sharding.shard_points(run, mesh, n_replicated=2)
