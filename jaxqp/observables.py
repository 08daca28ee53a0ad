"""Observables built on solver output: symmetry decomposition of non-local conductance maps.

Per-position observables of a kinetic solution (charge imbalance, spin
accumulation, quasiparticle numbers, current profiles) are methods of
`jaxqp.KineticSolution`; contact currents are in `jaxqp.ContactCurrents`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _check_symmetric(values, name):
    v = np.asarray(values)
    if v.ndim != 1 or not np.allclose(v, -v[::-1], atol=1e-12 * max(1.0, np.max(np.abs(v)))):
        raise ValueError(f"{name} must be a 1-D grid symmetric about zero (v == -v[::-1]) for the "
                         "symmetry decomposition; build it with e.g. jnp.linspace(-a, a, n)")


def symmetry_decomposition(g, V_inj, I_s=None, *, inj_axis: int = 0, is_axis: int = -1) -> dict:
    r"""Decompose a non-local conductance by bias and supercurrent reversal (seed 001 Eqs. 16-19).

    $$
    g_a = \tfrac12[g(I_s) - g(-I_s)],\quad g_s = \tfrac12[g(I_s) + g(-I_s)],\\
    g_{sa} = \tfrac12[g_s(V) - g_s(-V)],\quad g_{ss} = \tfrac12[g_s(V) + g_s(-V)].
    $$

    Args:
        g: array with an injector-bias axis ``inj_axis`` (grid ``V_inj``) and,
            if ``I_s`` is given, a supercurrent (or phase-gradient) axis ``is_axis``.
        V_inj, I_s: the grids, each symmetric about zero.

    Returns:
        dict with ``g_s``, ``g_ss``, ``g_sa`` and, with ``I_s``, ``g_a`` (and
        ``g_as``, ``g_aa``, its even and odd parts in V_inj).
    """
    g = jnp.asarray(g)
    _check_symmetric(V_inj, "V_inj")
    out = {}
    if I_s is not None:
        _check_symmetric(I_s, "I_s")
        flipped = jnp.flip(g, axis=is_axis)
        g_s = 0.5 * (g + flipped)
        g_a = 0.5 * (g - flipped)
        out["g_a"] = g_a
        out["g_as"] = 0.5 * (g_a + jnp.flip(g_a, axis=inj_axis))
        out["g_aa"] = 0.5 * (g_a - jnp.flip(g_a, axis=inj_axis))
    else:
        g_s = g
    out["g_s"] = g_s
    fv = jnp.flip(g_s, axis=inj_axis)
    out["g_sa"] = 0.5 * (g_s - fv)
    out["g_ss"] = 0.5 * (g_s + fv)
    return out
