"""A function over a long leading axis, evaluated in equal chunks: bounded working memory for large
grids, one compiled body for any length."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def map_in_chunks(fn, xs, chunk: int):
    """``fn`` on equal chunks of ``xs`` (a pytree whose leaves share the leading axis; the last chunk is
    padded with the last entry), its outputs (leading axis) joined again and cut to the input length.

    ``fn`` maps a chunk ``(chunk, ...)`` to outputs with the same leading axis; one chunk that holds
    everything is a plain call (no loop in the program).
    """
    n = jax.tree_util.tree_leaves(xs)[0].shape[0]
    chunk = max(1, chunk)
    if chunk >= n:
        return fn(xs)
    pad = (-n) % chunk

    def split(a):
        a = jnp.concatenate([a, jnp.broadcast_to(a[-1:], (pad,) + a.shape[1:])]) if pad else a
        return a.reshape((-1, chunk) + a.shape[1:])

    out = lax.map(fn, jax.tree_util.tree_map(split, xs))
    return jax.tree_util.tree_map(lambda a: a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])[:n], out)
