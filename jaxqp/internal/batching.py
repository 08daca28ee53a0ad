"""A function over a long leading axis, evaluated in equal chunks: bounded working memory for large
grids, one compiled body for any length; and an elementwise function on batches padded to a few
sizes, so that one compiled program serves many shapes."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .validation import traced


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


def bucket_size(n: int) -> int:
    """The smallest of 0, 1, 2, 3, 4, 6, 8, 12, 16, 24, ... (``2**k`` and ``3 * 2**k``) that holds ``n``:
    padding wastes at most a third of a batch."""
    if n <= 2:
        return n
    p = 1 << (n - 1).bit_length()
    return 3 * p // 4 if 3 * p // 4 >= n else p


def on_buckets(fn, *arrays):
    """``fn(*flat)`` of inputs that broadcast together and are independent per element: the broadcast
    inputs are flattened and padded (the last entry repeated) to `bucket_size`, so that one compiled
    ``fn`` serves every shape whose size falls in the same bucket, and its outputs (leading axis the
    batch, then any trailing axes) are cut and shaped back.  Concrete inputs and outputs are prepared
    and cut in NumPy (nothing to compile); inside a trace the same steps are traced."""
    shape = tuple(np.broadcast_shapes(*(np.shape(a) for a in arrays)))
    n = math.prod(shape)
    size = bucket_size(n)
    concrete = not traced(arrays)
    xp = np if concrete else jnp

    def flat(a):
        a = xp.reshape(xp.broadcast_to(xp.asarray(a, dtype=float), shape), (n,))
        return xp.concatenate([a, xp.broadcast_to(a[-1:], (size - n,))]) if size > n else a

    def cut(o):
        if concrete:  # in NumPy and back: no program of its own for each shape
            return jnp.asarray(np.asarray(o)[:n].reshape(shape + o.shape[1:]))
        return o[:n].reshape(shape + o.shape[1:])

    return jax.tree_util.tree_map(cut, fn(*(flat(a) for a in arrays)))
