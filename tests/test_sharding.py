"""A bias map sharded over 4 simulated CPU devices equals the unsharded one, and really is sharded."""

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
    import jaxqp as qp
    from jaxqp.kinetic.wire import TunnelContact, default_energy_grid
    from jaxqp.kinetic.solve import responses_jit
    from jaxqp.app.sweep import sharded_contact_currents
    assert jax.device_count() == 4, jax.devices()
    w = qp.Wire(qp.Superconductor(delta=1.0, gamma=1e-2, h=0.1), 20.0,
                (TunnelContact(8.0, 0.3, qp.NormalMetal(temperature=0.08)),
                 TunnelContact(11.0, 0.2, qp.NormalMetal(temperature=0.08))), temperature=0.08, n_x=40)
    grid = default_energy_grid(w, 2.0, 201)
    Vi, Vd = jnp.linspace(-2, 2, 8), jnp.array([0.0, 0.3])
    ref = qp.nonlocal_conductance(w, Vi, Vd, grid=grid)
    scale = float(jnp.max(jnp.abs(ref.g_nl)))
    VV = jnp.stack(jnp.broadcast_arrays(Vi[:, None], Vd[None, :]), -1).reshape(-1, 2)  # (16, n_c)
    mesh = Mesh(np.asarray(jax.devices()), ("bias",))

    def check(dq, what):
        g = -dq[:, 1].reshape(8, 2)
        err = float(jnp.max(jnp.abs(g - ref.g_nl)))
        assert err <= 1e-12 * scale, (what, err)
        # a replicated array also lives on 4 devices: check that each holds a quarter of the rows
        assert not dq.sharding.is_fully_replicated, (what, dq.sharding)
        shards = dq.addressable_shards
        assert len({s.device for s in shards}) == 4, (what, dq.sharding)
        assert all(s.data.shape == (4, 2) for s in shards), (what, [s.data.shape for s in shards])

    # 1) the jitted core with the bias batch placed on the mesh: GSPMD partitions the vmapped batch axis.
    # chunk >= B (one chunk) matters: with several chunks the sharded axis becomes the lax.map loop axis
    # and the result comes back replicated (every device computes everything); sweep.py uses shard_map.
    out = responses_jit(w, grid, jax.device_put(VV, NamedSharding(mesh, P("bias", None))), 16, None, 0)
    check(out["dcharge"], "core")
    # 2) the public helper (shard_map)
    out = sharded_contact_currents(w, VV, grid=grid, derivative=0, mesh=mesh)
    check(out["dcharge"], "helper")
    assert bool(jnp.all(out["ok"]))
    print("OK")
""")


def test_sharded_map_equals_unsharded_and_is_sharded(host_devices_env):
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=host_devices_env(4), capture_output=True, text=True,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK" in res.stdout
