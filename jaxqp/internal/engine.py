r"""The shared solver engine: result codes, linear systems and implicit differentiation.

Every iterative solver of jaxqp (the 1-D spectral Newton, the spin-general
wire and its self-consistent gap, the energy-coupled kinetic Newton, the bulk
gap equation and its critical temperature) finds a root ``y*(p)`` of a
residual ``R(y, p) = 0`` inside a ``lax.while_loop``.  None of them is
differentiated through its loop.  They all hand the loop to `implicit_solve`,
which gives the root the derivative of the implicit-function theorem,

$$
J\,\dot y = -\partial_p R\,\dot p,\qquad J = \partial_y R(y^*, p),
$$

in forward mode (``jax.jvp``, ``jax.jacfwd``) and in reverse mode
(``jax.grad``): the linear solve is a ``lax.custom_linear_solve`` that knows
its transpose, so JAX transposes it instead of unrolling anything.  A solver
only describes its Jacobian, as a `LinearSystem`:

- `LinearSystem` with a direct ``solve`` and ``transpose_solve`` (the
  block-Thomas factorisations of the 1-D solvers, a scalar division);
- `diagonal_system` for independent scalar roots (``J`` elementwise);
- `matrix_free_system` for a Jacobian known only through Jacobian-vector
  products: restarted GMRES from lineax, for ``J`` and (by JAX's transpose of
  the product) for ``J^T``.

The derivative rule calls the primal solve again through `implicit_solve`
itself, so the tangent is again differentiable: second derivatives (the
gradient of a conductance, a Gauss-Newton Hessian) use the same rule and never
unroll a loop.

Result codes (`RESULTS`) say per point why a solve stopped; `result_code`
builds them from the flags every solver already has.

An iterative linear solve inside a derivative (`matrix_free_system`, or a
solver's own Krylov method passed through `checked_solve`) that does not reach
its tolerance raises an error at run time instead of returning a wrong
derivative.

Imports: JAX, equinox, lineax and numpy only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax
from jax.flatten_util import ravel_pytree


# ----------------------------------------------------------------- result codes
class RESULTS:
    """Integer result codes of an iterative solve (per point, ``int32`` arrays)."""

    successful = 0
    max_steps_reached = 1
    nonfinite = 2
    residual_too_large = 3

    messages = {
        successful: "converged",
        max_steps_reached: "hit the iteration cap before the update met the tolerance",
        nonfinite: "produced a non-finite value (NaN or inf)",
        residual_too_large: "stopped with a residual above the tolerance",
    }

    @classmethod
    def describe(cls, codes) -> str:
        """One line that counts the points per failure kind, e.g. ``"3 hit the iteration cap ..."``."""
        codes = np.asarray(codes).ravel()
        parts = [f"{int(np.sum(codes == c))} {m}" for c, m in cls.messages.items()
                 if c != cls.successful and np.any(codes == c)]
        return "; ".join(parts) if parts else "all converged"


def result_code(*, converged, finite, capped) -> jax.Array:
    """Result code per point from the flags a solver has at its end.

    ``converged``: the point met every tolerance; ``finite``: its iterate and
    residual are finite; ``capped``: the loop stopped at its iteration cap.  A
    point that did not converge is ``nonfinite``, else ``max_steps_reached`` if
    the cap stopped it, else ``residual_too_large``.
    """
    converged, finite, capped = jnp.broadcast_arrays(jnp.asarray(converged), jnp.asarray(finite),
                                                     jnp.asarray(capped))
    failed = jnp.where(~finite, RESULTS.nonfinite,
                       jnp.where(capped, RESULTS.max_steps_reached, RESULTS.residual_too_large))
    return jnp.where(converged, RESULTS.successful, failed).astype(jnp.int32)


# ----------------------------------------------------------------- linear systems
class LinearSystem(NamedTuple):
    """The Jacobian ``J = dR/dy`` at a root, as the three maps implicit differentiation needs.

    Attributes:
        matvec: ``v -> J v`` (same pytree structure as the root).
        solve: ``b -> J^{-1} b``.
        transpose_solve: ``(b, vecmat) -> J^{-T} b``, where ``vecmat`` is ``v -> J^T v`` (JAX's
            transpose of ``matvec``, for solvers that need the product; direct solves ignore it).
    """

    matvec: Callable
    solve: Callable
    transpose_solve: Callable


def diagonal_system(diag) -> LinearSystem:
    """Independent scalar roots: ``J`` is the elementwise derivative ``diag`` (any shape)."""
    return LinearSystem(matvec=lambda v: diag * v, solve=lambda b: b / diag, transpose_solve=lambda b, _: b / diag)


_UNCONVERGED_DERIVATIVE = (
    "jaxqp: the iterative linear solve of an implicit derivative ({method}) stopped with a relative "
    "residual above {check:g}, so the derivative would be wrong. Raise the solver's Krylov options "
    "(restart, number of restarts, max_steps), or check that the solve itself converged at a regular "
    "point (its result codes).")


def checked_solve(x, matvec: Callable, b, *, rtol: float, method: str):
    """``x`` unchanged if ``|matvec(x) - b| <= rtol |b|`` (max norms over the pytree), else a run-time error.

    For an iterative solve inside a derivative rule, whose own stopping test
    may not be reported (``jax.scipy.sparse.linalg.gmres``) or may be on a
    preconditioned residual.  Costs one product.  Works under ``jit`` and
    ``vmap`` (one failed batch element raises), see `equinox.error_if`.
    """
    def norm(tree):
        return jnp.max(jnp.stack([jnp.max(jnp.abs(v), initial=0.0) for v in jax.tree.leaves(tree)]))

    rn, bn = norm(jax.tree.map(jnp.subtract, matvec(x), b)), norm(b)
    return eqx.error_if(x, ~(rn <= rtol * bn), _UNCONVERGED_DERIVATIVE.format(method=method, check=rtol))


def matrix_free_system(matvec: Callable, like, *, rtol: float = 1e-12, atol: float = 0.0, restart: int = 30,
                       max_steps: int = 200) -> LinearSystem:
    """A Jacobian known through its products only: ``J`` and ``J^T`` solved by lineax's restarted GMRES.

    ``like`` is an array with the structure of the root (its values are unused).
    Pass ``matvec`` linearised once (``jax.linearize``), not a ``jax.jvp``
    closure: GMRES applies it many times, and a JVP evaluates the residual
    again at every product.
    ``J^T`` is never formed: ``transpose_solve`` is used inside reverse mode,
    where JAX hands `implicit_solve` the transposed product.  A GMRES whose
    relative residual stays above ``sqrt(rtol)`` (iteration cap, stagnation,
    breakdown) raises at run time instead of returning a wrong derivative.
    """
    flat, unravel = ravel_pytree(like)
    n = flat.shape[0]
    solver = lx.GMRES(rtol=rtol, atol=atol, restart=min(restart, n), max_steps=max_steps)

    def gmres(mv, b):
        op = lx.FunctionLinearOperator(lambda v: ravel_pytree(mv(unravel(v)))[0],
                                       jax.ShapeDtypeStruct(flat.shape, flat.dtype))
        bf = ravel_pytree(b)[0]
        # lineax's own result code also flags stagnation near machine precision, where the
        # solution is already as good as it gets; the plain residual decides instead
        x = lx.linear_solve(op, bf, solver, throw=False).value
        value = checked_solve(x, op.mv, bf, rtol=rtol ** 0.5, method="lineax GMRES")
        return unravel(value)

    return LinearSystem(matvec=matvec, solve=lambda b: gmres(matvec, b), transpose_solve=lambda b, vm: gmres(vm, b))


# ----------------------------------------------------------------- implicit differentiation
def _zero_tangent(x):
    x = jnp.asarray(x)
    if jnp.issubdtype(x.dtype, jnp.inexact):
        return jnp.zeros_like(x)
    return np.zeros(x.shape, dtype=jax.dtypes.float0)


def implicit_solve(primal: Callable, residual: Callable, linearise: Callable, inputs, start) -> tuple[Any, Any]:
    """Root ``y*(inputs)`` of ``residual(y, inputs) = 0`` with implicit derivatives; ``(y*, aux)``.

    Args:
        primal: ``(inputs, start) -> (root, aux)``: the iterative solve (any
            loop; it is never differentiated).  ``aux`` (flags, residual norms,
            iteration counts) gets zero tangents.
        residual: ``(root, inputs) -> R`` with the root's pytree structure.
        linearise: ``(root, inputs) -> LinearSystem`` of ``dR/droot``.
        inputs: pytree of differentiable inputs (arrays).
        start: initial iterate; it carries no derivative.

    ``primal``, ``residual`` and ``linearise`` may close over static
    configuration only (never over traced arrays): pass arrays in ``inputs``.
    """
    return _implicit(primal, residual, linearise, inputs, start)


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _implicit(primal, residual, linearise, inputs, start):
    return primal(inputs, start)


@_implicit.defjvp
def _implicit_jvp(primal, residual, linearise, primals, tangents):
    inputs, start = primals
    dinputs, _ = tangents
    # the primal through the rule's own function: an outer derivative of this tangent (a second
    # derivative) uses the rule again instead of differentiating the loop
    root, aux = _implicit(primal, residual, linearise, inputs, lax.stop_gradient(start))
    _, dR = jax.jvp(lambda q: residual(root, q), (inputs,), (dinputs,))
    system = linearise(root, inputs)
    # one flat right-hand side: a constant leaf could not be transposed by custom_linear_solve
    flat, unravel = ravel_pytree(dR)
    wrap = lambda fn: (lambda v: ravel_pytree(fn(unravel(v)))[0])  # noqa: E731

    def transpose_solve(vecmat, b):
        return wrap(lambda c: system.transpose_solve(c, lambda v: unravel(vecmat(ravel_pytree(v)[0]))))(b)

    dy = lax.custom_linear_solve(wrap(system.matvec), flat, solve=lambda _, b: wrap(system.solve)(b),
                                 transpose_solve=transpose_solve)
    dy = jax.tree.map(jnp.negative, unravel(dy))
    return (root, aux), (dy, jax.tree.map(_zero_tangent, aux))

