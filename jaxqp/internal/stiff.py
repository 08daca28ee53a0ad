"""Stiff time stepping that keeps the Jacobian from step to step, or builds it at every stage.

diffrax's singly diagonally implicit Runge-Kutta methods (``Kvaerno3/4/5``) solve every stage
``z - f(t, y_p + gamma dt z) = 0`` by a chord iteration, with the matrix ``I - gamma dt J`` built
(``J = df/dy``) and factored once per step.  For the kinetic equations the build is the expensive
part: ``n_a m + 3 m`` Jacobian-vector products per step (`jaxqp.internal.blocktri.probe_blocks`),
and the factorisation for large blocks.  Stiff codes (``LSODE``, ``RADAU5``, scipy's ``BDF``) keep
the Jacobian over many steps: a chord iteration converges to the same root with any matrix close enough to
the true one, so an old Jacobian costs a few more iterations, not accuracy.  `ReusedJacobian`
keeps ``J`` for the block-tridiagonal operators of `jaxqp.internal.blocktri`:

- ``J`` is probed at the start of a step and kept for up to ``max_age`` steps;
- ``I - gamma dt J`` is factored at every step, with the kept ``J`` and the step's ``dt`` (the
  factors of another ``dt`` are not kept: with ``dt`` 7 % off, the chord iteration of the kinetic
  equations diverges by diffrax's test, a contraction rate above 2 in its scaled max norm);
- a step whose stage iteration fails with a kept ``J`` is tried once more, at once, with a fresh
  one; only a failure with a fresh ``J`` goes back to the step-size controller (which then
  shortens the step), so a stale Jacobian never shortens the step;
- after such a retry the next ``b`` steps probe afresh without trying the kept ``J``, with ``b``
  doubled at every retry (up to ``max_age``) and reset to 1 when a kept ``J`` succeeds: where
  ``J`` changes quickly (spectra that follow a moving gap) the wasted attempts stay few.

`Kvaerno5EveryStage` is the other end: a fresh matrix at every stage, for Jacobians that change
within a step.

The Jacobian and factors are held out of differentiation (``stop_gradient``), as diffrax does
for its own; derivatives of the solution come from the stage equations themselves.
"""

from __future__ import annotations

from typing import ClassVar

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax import lax

from .blocktri import FactoredBlockSolver, expand_coupling, factor_blocks, probe_blocks


class Kvaerno5EveryStage(diffrax.Kvaerno5):
    """``diffrax.Kvaerno5`` that builds its stage matrix at every stage instead of once per step.

    For vector fields whose Jacobian changes a lot within a step even where the solution is smooth
    (spectra that follow a moving gap: the capacities at the gap edge change by a decade while the
    edge moves by a Dynes width). With the matrix of the step's second stage the chord iteration of
    the later stages diverges at the steps the error control asks for, and the step is cut fivefold;
    with a matrix per stage it converges there.
    """

    calculate_jacobian = diffrax.CalculateJacobian.every_stage


def _stage_diagonal(solver) -> float:
    """``gamma`` of a singly diagonally implicit tableau (all implicit diagonal entries equal)."""
    tab = getattr(solver, "tableau", None)
    diag = None if tab is None else np.asarray(tab.a_diagonal)
    nonzero = None if diag is None else np.unique(diag[diag != 0])
    if nonzero is None or nonzero.size != 1 or not hasattr(solver.root_finder, "linear_solver"):
        raise TypeError(f"ReusedJacobian needs a singly diagonally implicit diffrax solver whose root finder has a "
                        f"linear_solver (e.g. diffrax.Kvaerno5(root_finder=diffrax.VeryChord(...))); got "
                        f"{type(solver).__name__}")
    return float(nonzero[0])


class ReusedJacobian(diffrax.AbstractImplicitSolver, diffrax.AbstractAdaptiveSolver):
    """``solver`` (an SDIRK/ESDIRK diffrax solver) with its Jacobian kept over many steps.

    The state is an array of shape ``(n_a, n, m)`` whose Jacobian is block-tridiagonal along axis 1
    with neighbour couplings diagonal in axis 0 (`jaxqp.internal.blocktri.probe_blocks`).

    Args:
        solver: e.g. ``diffrax.Kvaerno5(root_finder=diffrax.with_stepsize_controller_tols(
            diffrax.VeryChord)())``; its root finder's ``linear_solver`` is replaced at every step.
        max_age: steps after which the Jacobian is probed again even if the iteration converges.
    """

    solver: diffrax.AbstractImplicitSolver
    max_age: int = eqx.field(static=True, default=50)

    term_structure: ClassVar = diffrax.AbstractTerm

    @property
    def interpolation_cls(self):
        return self.solver.interpolation_cls

    @property
    def root_finder(self):
        return self.solver.root_finder

    @property
    def root_find_max_steps(self):
        return self.solver.root_find_max_steps

    def order(self, terms):
        return self.solver.order(terms)

    def error_order(self, terms):
        return self.solver.error_order(terms)

    def func(self, terms, t0, y0, args):
        return self.solver.func(terms, t0, y0, args)

    def init(self, terms, t0, t1, y0, args):
        _stage_diagonal(self.solver)
        na, n, m = y0.shape
        zero = jnp.zeros((n, na, m, m), y0.dtype)
        jac = (zero, jnp.zeros((n, na * m, na * m), y0.dtype), zero)
        # age = max_age: the first step probes; no steps to skip, back-off 1
        return self.solver.init(terms, t0, t1, y0, args), jac, jnp.asarray(self.max_age), jnp.asarray(0), \
            jnp.asarray(1)

    def step(self, terms, t0, t1, y0, args, solver_state, made_jump):
        gamma = _stage_diagonal(self.solver)
        inner, jac, age, skip, backoff = solver_state
        s = gamma * (t1 - t0)

        def probe():
            op = lx.linearise(lx.JacobianLinearOperator(lambda y, a: terms.vf(t0, y, a), y0, args))
            return lax.stop_gradient(probe_blocks(op))

        def attempt(carry, fresh):
            jac, _, _ = carry
            jac = lax.cond(fresh, probe, lambda: jac)
            A, B, C = jac
            blocks = (-s * expand_coupling(A), jnp.eye(B.shape[-1], dtype=B.dtype) - s * B, -s * expand_coupling(C))
            kept = lax.stop_gradient(factor_blocks(blocks, y0.shape))
            solver = eqx.tree_at(lambda r: r.root_finder.linear_solver, self.solver, FactoredBlockSolver(kept))
            return jac, solver.step(terms, t0, t1, y0, args, inner, made_jump), fresh

        # first with the kept Jacobian (unless it is old or backing off); a failure with a kept one is
        # tried again at once with a fresh one
        fresh0 = (age >= self.max_age) | (skip > 0)
        out0 = jax.eval_shape(lambda: self.solver.step(terms, t0, t1, y0, args, inner, made_jump))
        carry = (jac, jax.tree.map(lambda x: jnp.zeros(x.shape, x.dtype), out0), fresh0)

        def body(carry, i):
            failed = carry[1][-1] != diffrax.RESULTS.successful
            run = (i == 0) | (failed & ~carry[2])
            return lax.cond(run, lambda c: attempt(c, c[2] | (i > 0)), lambda c: c, carry), None

        (jac, out, fresh), _ = lax.scan(body, carry, jnp.arange(2))
        y1, y_error, dense_info, inner, result = out
        # a kept Jacobian that failed (and a fresh one that then succeeded): probe afresh for the next
        # `backoff` steps, doubling it each time this repeats; a kept one that succeeded resets it
        retried = fresh & ~fresh0
        kept_served = ~fresh0 & ~retried
        skip = jnp.where(retried, backoff, jnp.maximum(skip - 1, 0))
        backoff = jnp.where(retried, jnp.minimum(2 * backoff, self.max_age), jnp.where(kept_served, 1, backoff))
        age = jnp.where(fresh, 1, age + 1)
        return y1, y_error, dense_info, (inner, jac, age, skip, backoff), result
