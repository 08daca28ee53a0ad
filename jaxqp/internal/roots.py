"""Vectorised scalar root finding on brackets.

``bracketed_newton`` refines many independent brackets [a, b] with
f(a) f(b) < 0 at once: a Newton step when it stays inside the current
bracket, bisection otherwise, the bracket shrinking on every step.  It needs
``f_and_df(x) -> (f, df/dx)`` (typically from ``jax.jvp``).  Loop control is
a ``lax.while_loop`` with a relative step tolerance and an iteration cap; the
result carries a converged flag per bracket.  Differentiate through the
root with `newton_polish` (one differentiable Newton step at the
converged root gives exactly the implicit-function-theorem derivative).
"""

from __future__ import annotations

import jax.numpy as jnp
from jax import lax


def bracketed_newton(f_and_df, a, b, fa, fb, *, rtol=None, maxiter=60, active=None, x0=None, scale=None):
    """Return ``(root, converged, dfdx_at_root)``; all arrays of the brackets' shape.

    ``active`` (bool, the brackets' shape) marks the brackets to refine; the others (placeholders
    where no sign change was found) cost no iterations and come back with ``converged`` False.
    ``rtol`` defaults to 1e-13 in float64 and 1e-6 in float32 (a few units in the last place).
    ``x0`` is the first iterate (default: the regula falsi point of the bracket); only the signs of
    ``fa`` and ``fb`` are used when it is given.  A bracket has converged when the last step is at
    most ``rtol * scale`` (default ``scale = 1 + |x|``).  A Newton step that lands on an end of the
    bracket is taken (it is a point of the bracket); one that leaves it is replaced by bisection.
    """
    a, b, fa, fb = jnp.broadcast_arrays(a, b, fa, fb)
    active = jnp.ones(a.shape, bool) if active is None else jnp.broadcast_to(active, a.shape)
    if rtol is None:
        rtol = 1e-13 if jnp.finfo(jnp.result_type(a)).bits == 64 else 1e-6

    def body(state):
        a, b, fa, x, k, done, _ = state
        fx, dfx = f_and_df(x)
        same = jnp.sign(fx) == jnp.sign(fa)
        a_new = jnp.where(same, x, a)
        fa_new = jnp.where(same, fx, fa)
        b_new = jnp.where(same, b, x)
        exact = fx == 0  # x is a root: keep it (the bracket has collapsed onto it)
        xn = x - fx / dfx
        lo, hi = jnp.minimum(a_new, b_new), jnp.maximum(a_new, b_new)
        inside = (xn >= lo) & (xn <= hi) & jnp.isfinite(xn)
        xn = jnp.where(exact, x, jnp.where(inside, xn, 0.5 * (a_new + b_new)))
        tol = rtol * (1.0 + jnp.abs(x)) if scale is None else rtol * scale
        conv = (jnp.abs(xn - x) <= tol) | exact
        return (
            jnp.where(done, a, a_new),
            jnp.where(done, b, b_new),
            jnp.where(done, fa, fa_new),
            jnp.where(done, x, xn),
            k + 1,
            done | conv,
            jnp.where(done, state[6], dfx),
        )

    def cond(state):
        return (state[4] < maxiter) & ~jnp.all(state[5])

    if x0 is None:
        x0 = a - fa * (b - a) / (fb - fa)  # regula falsi start
        x0 = jnp.where(jnp.isfinite(x0) & (x0 > jnp.minimum(a, b)) & (x0 < jnp.maximum(a, b)), x0, 0.5 * (a + b))
    else:
        x0 = jnp.broadcast_to(x0, a.shape)
    if scale is not None:
        scale = jnp.broadcast_to(scale, a.shape)
    state = (a, b, fa, x0, jnp.asarray(0), ~active, jnp.full(a.shape, jnp.nan, a.dtype))
    _, _, _, x, _, done, dfx = lax.while_loop(cond, body, state)
    return x, done & active, dfx


def first_sign_changes(values, count: int):
    """Indices i (along the last axis) where values[i] and values[i+1] differ in sign.

    Returns ``(idx, found)`` of shape ``(..., count)``: the first ``count``
    sign changes, ``found`` False (and idx 0) for missing ones.
    """
    v0, v1 = values[..., :-1], values[..., 1:]
    change = (jnp.sign(v0) * jnp.sign(v1) < 0) & jnp.isfinite(v0) & jnp.isfinite(v1)
    n = change.shape[-1]
    pos = jnp.arange(n)
    # rank of each change among the changes before it
    rank = jnp.cumsum(change, axis=-1) - 1
    slots = jnp.arange(count)
    hit = change[..., None, :] & (rank[..., None, :] == slots[:, None])
    found = jnp.any(hit, axis=-1)
    idx = jnp.sum(jnp.where(hit, pos, 0), axis=-1)
    return idx, found


def newton_polish(root, f, dfdx):
    """One differentiable Newton step at a converged root: value unchanged, gradient implicit.

    ``root`` and ``dfdx`` must carry no gradient (stop_gradient); ``f`` is the
    function value at ``root`` computed differentiably in the parameters.
    """
    return root - f / dfdx
