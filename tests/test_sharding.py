"""A bias map sharded over 4 simulated CPU devices equals the unsharded one."""

import os
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import jax, jax.numpy as jnp, numpy as np
    import jaxqp as qp
    from jaxqp.kinetic.wire import TunnelContact, default_energy_grid
    from jaxqp.sweep import sharded_contact_currents, bias_mesh
    assert jax.device_count() == 4, jax.devices()
    w = qp.Wire(qp.Superconductor(delta=1.0, gamma=1e-2, h=0.1), 20.0,
                (TunnelContact(8.0, 0.3, qp.NormalMetal(temperature=0.08)),
                 TunnelContact(11.0, 0.2, qp.NormalMetal(temperature=0.08))), temperature=0.08, n_x=40)
    grid = default_energy_grid(w, 2.0, 301)
    Vi = jnp.linspace(-2, 2, 9)
    ref = qp.nonlocal_conductance(w, Vi, jnp.array([0.0, 0.3]), grid=grid)
    VV = jnp.stack(jnp.broadcast_arrays(Vi[:, None], jnp.array([0.0, 0.3])[None, :]), -1).reshape(-1, 2)
    out = sharded_contact_currents(w, VV, grid=grid, derivative=0, mesh=bias_mesh())
    g = -out["dcharge"][:, 1].reshape(9, 2)
    assert len(out["dcharge"].sharding.device_set) == 4, out["dcharge"].sharding
    err = float(jnp.max(jnp.abs(g - ref.g_nl)))
    assert err < 1e-12 * float(jnp.max(jnp.abs(ref.g_nl))), err
    assert bool(jnp.all(out["ok"]))
    print("OK", err)
""")


def test_sharded_map_equals_unsharded():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    res = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "OK" in res.stdout
