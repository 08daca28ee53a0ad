"""Input checks with messages that say what is wrong and how to fix it.

The checks run on concrete values only (plain Python numbers, NumPy arrays and
JAX arrays outside of tracing).  Inside ``jit``/``vmap``/``grad`` the values are
abstract and the checks are skipped: validate at the public boundary, before
tracing, which is where every public verb of jaxqp calls these helpers.

The compiled boundaries live here too, because they decide what a concrete value means: a concrete
zero of a depairing rate is static (the closed form), a traced one is not (`jit_known_zeros`,
`compiled_when_eager`).
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from .engine import RESULTS


def traced(tree) -> bool:
    """Whether any leaf of ``tree`` is a tracer (the value is being traced by ``jit``, ``grad``, ``vmap``)."""
    return any(isinstance(x, jax.core.Tracer) for x in jax.tree_util.tree_leaves(tree))


def concrete(x):
    """Return ``x`` as a NumPy array, or ``None`` if it is a tracer or None."""
    if x is None:
        return None
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return np.asarray(x)
    except Exception:  # pragma: no cover - exotic array types
        return None


def optional_array(x):
    """Field converter: ``None`` stays ``None``, anything else becomes a JAX array.

    A parameter stored as a Python float would be a static leaf for ``equinox.filter_jit``, and every
    new value would compile the solver again; an array leaf is traced.
    """
    return None if x is None else jnp.asarray(x)


def known_zero(x) -> bool:
    """Whether ``x`` is known to be zero when the program is traced: a concrete (not traced) value, all zero."""
    c = concrete(x)
    return c is not None and bool(np.all(c == 0))


def _frozen(x):
    names = [n for n in getattr(type(x), "STATIC_ZEROS", ()) if jnp.ndim(getattr(x, n)) == 0
             and not isinstance(getattr(x, n), float) and known_zero(getattr(x, n))]
    if not names:
        return x
    return eqx.tree_at(lambda m: [getattr(m, n) for n in names], x, [0.0] * len(names))


def freeze_known_zeros(tree):
    """``tree`` with the known-zero parameters that select a program's structure as Python ``0.0``.

    An equinox Module whose class lists field names in ``STATIC_ZEROS`` (e.g. the depairing rates of a
    `jaxqp.Superconductor`, which decide between the closed form and a Newton solve of the bulk
    equation) gets each such field that is a concrete scalar zero as the Python float ``0.0``: a static
    leaf for ``equinox.filter_jit`` and `known_zero` inside the trace, so the compiled program leaves
    out the branch that a zero makes exact.  Traced values (under ``grad``, ``vmap`` or a caller's
    ``jit``) and non-zero values are left as they are and take the general path.
    """
    tree = _frozen(tree)
    children, treedef = jax.tree_util.tree_flatten(tree, is_leaf=lambda y: y is not tree)
    if len(children) == 1 and children[0] is tree:  # a leaf
        return tree
    return jax.tree_util.tree_unflatten(treedef, [freeze_known_zeros(c) for c in children])


def jit_known_zeros(fn):
    """``equinox.filter_jit(fn)`` called on `freeze_known_zeros` of its arguments: one program for zero
    depairing (closed forms) and one for the general case, instead of the general one always."""
    jitted = eqx.filter_jit(fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        args, kwargs = freeze_known_zeros((args, kwargs))
        return jitted(*args, **kwargs)

    return call


def _traced_number(x):
    # a real scalar that is a concrete zero stays a static Python zero (`known_zero` sees it, as in an
    # eager call); any other real or complex scalar becomes an array, so that a new value does not
    # compile again.  Integers, flags and everything else are left as they are.
    if not (isinstance(x, float | complex)
            or (isinstance(x, jax.Array | np.ndarray) and x.ndim == 0 and jnp.issubdtype(x.dtype, jnp.inexact))):
        return x
    return 0.0 if not jnp.iscomplexobj(x) and known_zero(x) else jnp.asarray(x)


def compiled_when_eager(fn):
    """``fn`` as one compiled program where it is called with concrete inputs, and as written inside a
    caller's trace (``jit``, ``grad``, ``vmap``), whose program then contains it.

    Called eagerly, a function of many array operations would compile and dispatch each operation on
    its own (tens to hundreds of small programs per new shape).  The arguments follow
    `freeze_known_zeros`; a scalar argument that is a concrete zero becomes a static Python zero and
    any other scalar argument an array (``_traced_number``); every other non-array leaf (options,
    flags, sizes) is static, as in ``equinox.filter_jit``.  Only for pure functions that need no
    concrete value of an array argument (no input checks inside).
    """
    jitted = jit_known_zeros(fn)

    @functools.wraps(fn)
    def call(*args, **kwargs):
        if traced((args, kwargs)):
            return fn(*args, **kwargs)
        return jitted(*map(_traced_number, args), **{k: _traced_number(v) for k, v in kwargs.items()})

    return call


def check_finite(name: str, x, *, hint: str = "") -> None:
    a = concrete(x)
    if a is None or a.size == 0:
        return
    if not np.all(np.isfinite(a)):
        bad = a[~np.isfinite(a)].ravel()[0]
        raise ValueError(
            f"{name} must be finite, got {bad!r}"
            + (f" ({hint})" if hint else "")
            + ". Check for NaN/inf in the inputs."
        )


def check_nonnegative(name: str, x, *, hint: str = "") -> None:
    check_finite(name, x, hint=hint)
    a = concrete(x)
    if a is None or a.size == 0:
        return
    if np.any(a < 0):
        bad = a[a < 0].ravel()[0]
        raise ValueError(
            f"{name} must be >= 0, got {bad!r}" + (f": {hint}" if hint else ".")
        )


def check_positive(name: str, x, *, hint: str = "") -> None:
    check_finite(name, x, hint=hint)
    a = concrete(x)
    if a is None or a.size == 0:
        return
    if np.any(a <= 0):
        bad = a[a <= 0].ravel()[0]
        raise ValueError(
            f"{name} must be > 0, got {bad!r}" + (f": {hint}" if hint else ".")
        )


def check_range(name: str, x, lo=None, hi=None, *, hint: str = "") -> None:
    check_finite(name, x, hint=hint)
    a = concrete(x)
    if a is None or a.size == 0:
        return
    if lo is not None and np.any(a < lo):
        raise ValueError(
            f"{name} must be >= {lo}, got {a[a < lo].ravel()[0]!r}"
            + (f": {hint}" if hint else ".")
        )
    if hi is not None and np.any(a > hi):
        raise ValueError(
            f"{name} must be <= {hi}, got {a[a > hi].ravel()[0]!r}"
            + (f": {hint}" if hint else ".")
        )


def broadcast_shapes_or_raise(**named_shapes) -> tuple:
    """Broadcast the shapes of named arguments; raise naming them if impossible."""
    shapes = {k: tuple(np.shape(v)) for k, v in named_shapes.items() if v is not None}
    try:
        return tuple(np.broadcast_shapes(*shapes.values()))
    except ValueError:
        desc = ", ".join(f"{k}{list(s)}" for k, s in shapes.items())
        raise ValueError(
            f"inconsistent shapes: {desc} do not broadcast together. Give the "
            "arguments shapes that NumPy broadcasting can combine (e.g. add "
            "length-1 axes with x[:, None])."
        ) from None


def raise_if_not_converged(converged, what: str, where=None, result=None) -> None:
    """Raise a RuntimeError naming the failed points, if ``converged`` is concrete and not all True.

    Inside ``jit`` the flag is abstract and nothing is checked; the results then
    carry NaN at the failed points instead.  ``result``: the per-point
    `jaxqp.internal.engine.RESULTS` codes, which the message then counts by kind.
    """
    c = concrete(converged)
    if c is None or bool(c.all()):
        return
    n_bad = int((~c).sum())
    msg = f"{what} did not converge at {n_bad} of {c.size} points"
    w = concrete(where)
    if w is not None and w.shape == c.shape:
        msg += f" (first at {w[~c].ravel()[0]!r})"
    r = concrete(result)
    if r is not None:
        msg += f" ({RESULTS.describe(r)})"
    raise RuntimeError(
        msg + ". Per-point flags are in jaxqp.solve(...).converged and jaxqp.gap_branches(...).converged; "
        "a slightly larger Dynes Gamma usually helps. The solvers are meant to converge everywhere: "
        "please report the parameters."
    )
