r"""Time-resolved kinetics: the distributions of a wire after a bias step, a pulse or an injected population.

With the time derivative the kinetic equations of `jaxqp.kinetic.inelastic` read, per node ``i``
and sector component (quasi-static spectra),

$$
\mathrm{vol}_i\, N_s(E, x_i)\, \partial_t h = -F(h; V(t)),
$$

where ``F`` is the stationary residual (diffusion, spectral terms, contacts at the biases
``V(t)``, collisions) and ``N_s`` the density of states of the sector: the time-derivative term
``(1/4) Tr[M_k {tau_3, d_t g^K}] / 2`` of the Usadel equation is ``N_s d_t f_{L,s}`` and
``N_s d_t f_{T,s}``.  Reservoir rows stay at equilibrium.  The system is stiff (diffusion across
the nodes, fast sub-gap modes), so it is integrated by an implicit, adaptive diffrax solver
(``Kvaerno5`` by default, error control by ``PIDController``).  The long-time limit is the
stationary solution of `jaxqp.kinetic.inelastic.solve_inelastic`.

The spectra are those of the wire's ``Delta``, or of a prescribed ``Delta(t)`` (``gap=``), with which the
energy modes flow in energy: ``N_s d_t f_{L,s} + (d_t Delta) M_s d_E f_{L,s}`` with ``M_s = Re f_s``
(first order in ``d_t``; the charge modes ``d_t (N_s f_{T,s})``).  States with ``N_s`` below ``capacity_floor`` are
integrated with that capacity (they hold no quasiparticles: their distribution follows the others
almost instantly).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..grids import EnergyGrid
from ..internal import validation as val
from ..internal.blocktri import BlockTridiagonalSolver
from ..internal.stiff import Kvaerno5EveryStage, ReusedJacobian
from .coefficients import to_modes
from .inelastic import KineticSystem, kinetic_system
from .solve import bias_array
from .wire import Wire


class DynamicsSolution(eqx.Module):
    """Distributions on a time grid and the totals the collisions may conserve.

    Attributes:
        times: ``(n_t,)`` in units of ``hbar / Delta0``.
        sectors: ``(n_t, n_E, n_x, 4)`` in the sector basis; ``modes`` gives (f_L, f_T, f_T3, f_L3).
        delta: ``(n_t, 1)``: the pair potential at the save times (fixed or prescribed).
        energy, charge, spin: ``(n_t,)`` totals over the wire,
            ``-(1/2) sum_s int dx dE C_s E f_{L,s}`` (quasiparticle energy),
            ``-(1/2) sum_s int dx dE C_s f_{T,s}`` (electron number; in a superconductor the
            quasiparticle charge) and ``-(1/2) sum_s s int dx dE C_s f_{L,s}`` (spin), with the
            capacity ``C_s = max(N_s, capacity_floor)`` of the integration at the save time, up to constants.
        converged: the integration reached the last time; ``result``: diffrax's result code;
        steps: accepted steps.
    """

    times: Array
    sectors: Array
    x: Array
    grid: EnergyGrid
    delta: Array
    energy: Array
    charge: Array
    spin: Array
    converged: Array
    result: Array
    steps: Array

    @property
    def modes(self):
        return to_modes(self.sectors)


def _capacity(system: KineticSystem, floor: float):
    return system.volume[None, :, None] * jnp.maximum(system.density_of_states(), floor)


def _totals(system: KineticSystem, cap, h):
    E = jnp.asarray(system.grid.points)
    dE = E[1] - E[0]
    c = cap * h  # (..., n_E, n_x, 4)
    L = c[..., 0] + c[..., 2]
    energy = -0.5 * jnp.sum(E[:, None] * L, axis=(-2, -1)) * dE
    charge = -0.5 * jnp.sum(c[..., 1] + c[..., 3], axis=(-2, -1)) * dE
    spin = -0.5 * jnp.sum(c[..., 0] - c[..., 2], axis=(-2, -1)) * dE
    return energy, charge, spin


def default_solver(moving_gap: bool = False) -> diffrax.AbstractSolver:
    """``Kvaerno5`` whose stage equations are solved with the block-tridiagonal structure of the wire.

    The Jacobian of the kinetic equations couples a node to its neighbours (diffusion) and all
    energies at one node (collisions): it is probed by Jacobian-vector products
    (`jaxqp.internal.blocktri.probe_blocks`) and factored by block Thomas, instead of a dense LU of
    the whole system.  With fixed spectra it is kept over many steps
    (`jaxqp.internal.stiff.ReusedJacobian`); with spectra that follow a moving gap
    (``moving_gap=True``) it changes within a step, and it is probed at every stage
    (`jaxqp.internal.stiff.Kvaerno5EveryStage`).
    """
    root = diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=BlockTridiagonalSolver())
    if moving_gap:
        return Kvaerno5EveryStage(root_finder=root)
    return ReusedJacobian(diffrax.Kvaerno5(root_finder=root))


class _Options(eqx.Module):
    rtol: float = eqx.field(static=True)
    atol: float = eqx.field(static=True)
    max_steps: int = eqx.field(static=True)
    floor: float = eqx.field(static=True)
    solver: diffrax.AbstractSolver = eqx.field(static=True)


def _parts(system: KineticSystem, h, delta, V, floor):
    """At ``(h, Delta)``: ``u = -F / C`` and the change ``w`` of ``d_t h`` per unit ``d_t Delta``
    (``d_t h = u - w d_t Delta``).  One evaluation of the spectra gives the system and its derivative."""
    s, ds = jax.jvp(system.at, (delta,), (jnp.ones_like(delta),))
    N, M, dN = s.density_of_states(), s.anomalous(), ds.density_of_states()
    dN = jnp.where(N > floor, dN, 0.0)  # the derivative of the capacity max(N, floor)
    vol = system.volume[None, :, None]
    active = vol > 0
    C = jnp.where(active, vol * jnp.maximum(N, floor), 1.0)
    u = jnp.where(active, -s.residual(h, V) / C, 0.0)
    # f_L: N d_t f_L + d_t Delta M d_E f_L (central differences, one-sided at the grid's ends);
    # f_T: d_t (N f_T) = N d_t f_T + d_t Delta (dN/dDelta) f_T
    L = jnp.asarray([1.0, 0.0, 1.0, 0.0])
    dE = float(system.setup.E[1] - system.setup.E[0])
    w = jnp.where(active, vol * ((1.0 - L) * dN * h + L * M * jnp.gradient(h, dE, axis=0)) / C, 0.0)
    return u, w


@eqx.filter_jit
def _integrate(system: KineticSystem, times, h0, bias: Callable, gap: Callable | None, opts: _Options):
    active = (system.volume > 0)[None, :, None]
    if gap is None:
        cap = _capacity(system, opts.floor)
        safe = jnp.where(active, cap, 1.0)

        def rhs(t, h, args):
            F = system.residual(h, bias(t))
            return jnp.where(active, -F / safe, 0.0)
    else:
        def rhs(t, h, args):
            delta, dd = jax.jvp(lambda tt: jnp.reshape(gap(tt), (1,)), (t,), (jnp.ones_like(t),))
            u, w = _parts(system, h, delta, bias(t), opts.floor)
            return u - dd * w

    t1 = times[-1]
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(rhs), opts.solver, t0=0.0, t1=t1, dt0=1e-6 * t1, y0=h0,
        saveat=diffrax.SaveAt(ts=times), stepsize_controller=diffrax.PIDController(rtol=opts.rtol, atol=opts.atol),
        max_steps=opts.max_steps, throw=False)
    if gap is None:
        deltas = jnp.broadcast_to(system.delta, (times.shape[0], 1))
        cap = _capacity(system, opts.floor)
    else:
        deltas = jax.vmap(lambda t: jnp.reshape(gap(t), (1,)))(times)
        cap = jax.vmap(lambda d: _capacity(system.at(d), opts.floor))(deltas)
    energy, charge, spin = _totals(system, cap, sol.ys)
    ok = sol.result == diffrax.RESULTS.successful
    return sol.ys, deltas, energy, charge, spin, ok, sol.stats["num_accepted_steps"]


def solve_dynamics(wire: Wire, collisions: Sequence = (), times=None, *, grid: EnergyGrid, bias=None,
                   initial=None, gap: Callable | None = None, subdivision: int = 8,
                   rtol: float = 1e-8, atol: float = 1e-10, max_steps: int = 100_000, capacity_floor: float = 1e-3,
                   solver: diffrax.AbstractSolver | None = None, throw: bool = True) -> DynamicsSolution:
    r"""Evolve the distributions of ``wire`` in time from ``t = 0``.

    Args:
        wire: the `jaxqp.Wire` (uniform or inhomogeneous spectra).
        collisions: processes from `jaxqp.kinetic.collisions`.
        times: increasing times ``>= 0`` (units of ``hbar / Delta0``) at which to save.
        grid: a uniform energy grid (`jaxqp.kinetic.inelastic.uniform_grid`).
        bias: contact biases for ``t > 0``: ``None`` (the electrodes' own), an array ``(n_c,)``
            (a bias step at ``t = 0``) or a function ``t -> (n_c,)`` (a pulse).
        initial: the distribution at ``t = 0`` in the sector basis, ``(n_E, n_x, 4)`` (an injected
            population, or a stationary solution's ``kinetic.sectors``); default: equilibrium at
            the bath temperature.  Reservoir rows are set to equilibrium.
        gap: the pair potential in time: ``None`` (the wire's ``Delta``, fixed) or a function
            ``t -> Delta`` (prescribed, one value for the wire, differentiable in ``t``, e.g. a gap
            suppressed by a pulse).  The spectra follow ``Delta(t)``, and the energy modes flow with
            it (``N d_t f_L + (d_t Delta) Re f d_E f_L``; see the theory notes).
        rtol, atol: error tolerances of the adaptive step; ``max_steps``: step cap.
        capacity_floor: the smallest density of states used as capacity.
        solver: a diffrax solver (default ``default_solver(moving_gap=gap is not None)``: ``Kvaerno5``,
            implicit, stiffly accurate, with block-tridiagonal stage solves).
        throw: raise if the integration stopped early (else read ``converged``).

    Returns a `DynamicsSolution`.  Pure JAX: differentiable in the arrays of ``wire``,
    ``collisions`` and ``initial`` by diffrax's adjoint.
    """
    if gap is not None and not callable(gap):
        raise TypeError(f"gap must be None or a function t -> Delta, got {type(gap).__name__}")
    system = kinetic_system(wire, collisions, grid=grid, subdivision=subdivision)
    if times is None:
        raise ValueError("give the save times, e.g. times=jnp.linspace(0, 100, 11) (units of hbar / Delta0)")
    ts = jnp.asarray(times, float)
    tn = np.asarray(ts)
    if tn.ndim != 1 or tn.size < 1 or np.any(tn < 0) or np.any(np.diff(tn) <= 0) or tn[-1] <= 0:
        raise ValueError(f"times must be a 1-D increasing array of times >= 0 ending after 0, got {tn}")
    if callable(bias):
        bias_fn = bias
        v0 = jnp.asarray(bias(0.0), float)
        if v0.shape != (len(system.wire.contacts),):
            raise ValueError(f"bias(t) must return one bias per contact, shape ({len(system.wire.contacts)},), "
                             f"got {v0.shape}")
    else:
        V = bias_array(system.wire, bias)
        bias_fn = _Constant(V)
    if gap is not None:
        d0 = np.asarray(gap(0.0), float)
        if d0.size != 1 or not np.all(np.isfinite(d0)) or np.any(d0 < 0):
            raise ValueError(f"gap(t) must return one pair potential >= 0 for the wire, got {d0!r} at t = 0")
    shape = (system.setup.E.size, system.setup.x.size, 4)
    if initial is None:
        h0 = system.equilibrium()
    else:
        h0 = jnp.asarray(initial, float)
        if h0.shape != shape:
            raise ValueError(f"initial must be the sector distribution of shape {shape} (n_E, n_x, 4), got {h0.shape}")
    h0 = jnp.where((system.volume > 0)[None, :, None], h0, system.bulk.d)  # reservoir rows: the reservoirs
    val.check_positive("capacity_floor", capacity_floor, hint="a small positive density of states, e.g. 1e-3")
    opts = _Options(rtol=float(rtol), atol=float(atol), max_steps=int(max_steps), floor=float(capacity_floor),
                    solver=default_solver(gap is not None) if solver is None else solver)
    hs, deltas, energy, charge, spin, ok, steps = _integrate(system, ts, h0, bias_fn, gap, opts)
    out = DynamicsSolution(times=ts, sectors=hs, x=jnp.asarray(system.setup.x), grid=system.grid, delta=deltas,
                           energy=energy, charge=charge, spin=spin, converged=ok, result=ok.astype(int), steps=steps)
    if throw and not bool(ok):
        raise RuntimeError(f"the time integration stopped before t = {tn[-1]:g} after {int(steps)} steps; raise "
                           "max_steps, loosen rtol/atol, or check the drive (a sudden bias(t) or gap(t) needs small "
                           "steps)")
    return out


class _Constant(eqx.Module):
    V: Array

    def __call__(self, t):
        return self.V
