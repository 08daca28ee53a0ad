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

The spectra are those of the wire's ``Delta``, of a prescribed ``Delta(t)`` or of a self-consistent one
that solves the gap equation at every instant (``gap=``), with which the
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
import optimistix as optx
from jax import Array, lax

from ..grids import EnergyGrid
from ..internal import validation as val
from ..internal.blocktri import BlockTridiagonalSolver, BorderedBlockTridiagonalSolver
from ..internal.roots import bracketed_newton, newton_polish
from ..internal.stiff import Kvaerno5EveryStage, ReusedJacobian
from .coefficients import to_modes
from .inelastic import GapEquation, KineticSystem, kinetic_system
from .solve import bias_array
from .wire import Wire


class DynamicsSolution(eqx.Module):
    """Distributions on a time grid and the totals the collisions may conserve.

    Attributes:
        times: ``(n_t,)`` in units of ``hbar / Delta0``.
        sectors: ``(n_t, n_E, n_x, 4)`` in the sector basis; ``modes`` gives (f_L, f_T, f_T3, f_L3).
        delta: ``(n_t, 1)``: the pair potential at the save times (fixed, prescribed or adiabatic);
            ``(n_t, n_x)`` with ``GapEquation(where="profile")``.
        gap_residual: ``(n_t,)``: with an adiabatic gap, ``|Delta - rhs of the gap equation|`` at the
            save times (how closely ``Delta(t)`` kept to the gap equation); zero otherwise.
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
    gap_residual: Array
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


def default_solver(moving_gap: bool = False, adiabatic_gap: bool = False) -> diffrax.AbstractSolver:
    """``Kvaerno5`` whose stage equations are solved with the block-tridiagonal structure of the wire.

    The Jacobian of the kinetic equations couples a node to its neighbours (diffusion) and all
    energies at one node (collisions): it is probed by Jacobian-vector products
    (`jaxqp.internal.blocktri.probe_blocks`) and factored by block Thomas, instead of a dense LU of
    the whole system.  With fixed spectra it is kept over many steps
    (`jaxqp.internal.stiff.ReusedJacobian`); with spectra that follow a moving gap
    (``moving_gap=True``) it changes within a step, and it is probed at every stage
    (`jaxqp.internal.stiff.Kvaerno5EveryStage`).  With ``adiabatic_gap`` the state also carries
    the pair potential and its rate, coupled to every node, and
    `jaxqp.internal.blocktri.BorderedBlockTridiagonalSolver` eliminates them (Schur complement).
    """
    if adiabatic_gap:
        root = diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=BorderedBlockTridiagonalSolver())
        return Kvaerno5EveryStage(root_finder=root)
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
    return u, w, s, ds


_RATE_LAG = 1e-6  # an adiabatic gap's rate follows the gap equation's within this time (hbar / Delta0)
_GAP_PULL = 1e-2  # and a drift off the gap equation decays within this one


def _adiabatic_rates(system: KineticSystem, h, delta, V, floor):
    """``u``, ``w`` of `_parts` and the rate ``d_t Delta`` that keeps ``G = Delta - Lambda(h; Delta)`` at
    zero: ``d_t G = d_t Delta (1 - d_Delta Lambda + Lambda(w)) - Lambda(u)`` (``d_t h = u - w d_t Delta``,
    ``Lambda`` linear in ``h``), set to ``-G / _GAP_PULL`` so that a drift decays."""
    u, w, s, ds = _parts(system, h, delta, V, floor)
    # d_Delta Lambda at fixed h: the gap map of the spectra's derivative (linear in the spectra)
    dlam = eqx.tree_at(lambda q: q.bulk, s, ds.bulk).gap_rhs(h)
    pull = (s.gap_rhs(h) - delta) / _GAP_PULL
    return u, w, (s.gap_rhs(u) + pull) / (1.0 - dlam + s.gap_rhs(w))


@val.jit_known_zeros  # zero depairing: the closed-form spectra
def _integrate(system: KineticSystem, times, h0, d0, bias: Callable, gap: Callable | None, opts: _Options):
    active = (system.volume > 0)[None, :, None]
    adiabatic = system.gap is not None
    norm: Callable = optx.rms_norm  # diffrax's default
    if adiabatic:
        # state (h, z), z = (Delta, r): d_t Delta = r, and r relaxes to the gap equation's rate within
        # _RATE_LAG, which keeps the Jacobian block tridiagonal in h with a border of two (2 n_x for a profile)
        nd = system.delta.shape[0]  # 1, or n_x for a profile

        def rhs(t, y, args):
            h, z = y
            u, w, target = _adiabatic_rates(system, h, z[:nd], bias(t), opts.floor)
            return u - jnp.reshape(z[nd:], (1, -1, 1)) * w, jnp.concatenate([z[nd:], (target - z[nd:]) / _RATE_LAG])

        y0 = (h0, jnp.concatenate([d0, _adiabatic_rates(system, h0, d0, bias(0.0), opts.floor)[2]]))

        def _norm(e):  # error control on h and Delta (the lagged rate is a fast, slaved variable)
            return optx.rms_norm((e[0], e[1][:nd]))

        norm = _norm
    elif gap is not None:
        def rhs(t, h, args):
            delta, dd = jax.jvp(lambda tt: jnp.reshape(gap(tt), (1,)), (t,), (jnp.ones_like(t),))
            u, w, _, _ = _parts(system, h, delta, bias(t), opts.floor)
            return u - dd * w

        y0 = h0
    else:
        cap = _capacity(system, opts.floor)
        safe = jnp.where(active, cap, 1.0)

        def rhs(t, h, args):
            F = system.residual(h, bias(t))
            return jnp.where(active, -F / safe, 0.0)

        y0 = h0

    t1 = times[-1]
    ctl = diffrax.PIDController(rtol=opts.rtol, atol=opts.atol, norm=norm)
    # diffrax calls the vector field at several places of its step (stages, error estimate, Jacobian
    # probe); as a compiled function it is traced once and its jaxpr reused (tracing 23 -> 11 s)
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(jax.jit(rhs)), opts.solver, t0=0.0, t1=t1, dt0=1e-6 * t1, y0=y0,
        saveat=diffrax.SaveAt(ts=times), stepsize_controller=ctl, max_steps=opts.max_steps, throw=False)
    res = jnp.zeros(times.shape)
    if adiabatic:
        hs, deltas = sol.ys[0], sol.ys[1][:, :nd]
        res = jax.vmap(lambda h, d: jnp.max(jnp.abs(d - system.at(d).gap_rhs(h))))(hs, deltas)
    elif gap is None:
        hs, deltas = sol.ys, jnp.broadcast_to(system.delta, (times.shape[0], 1))
    else:
        hs, deltas = sol.ys, jax.vmap(lambda t: jnp.reshape(gap(t), (1,)))(times)
    if adiabatic or gap is not None:
        cap = jax.vmap(lambda d: _capacity(system.at(d), opts.floor))(deltas)
    else:
        cap = _capacity(system, opts.floor)
    energy, charge, spin = _totals(system, cap, hs)
    ok = sol.result == diffrax.RESULTS.successful
    return hs, deltas, res, energy, charge, spin, ok, sol.stats["num_accepted_steps"]


@val.jit_known_zeros  # zero depairing: the closed-form spectra
def _initial_gap(system: KineticSystem, h0):
    """The self-consistent pair potential of the distribution ``h0``: bracketed Newton from
    ``GapEquation.start``, differentiable by one Newton step at the root (`newton_polish`)."""
    gap = system.gap
    assert gap is not None  # called only with a gap equation

    def G(d, system=system, h0=h0):
        return d - system.at(d).gap_rhs(h0)

    # the search carries no derivative (one Newton step at the root gives the implicit one)
    frozen = jax.tree.map(lambda a: lax.stop_gradient(a) if eqx.is_inexact_array(a) else a, (system, h0))

    def f_and_df(d):
        return jax.jvp(lambda dd: G(dd, *frozen), (d,), (jnp.ones_like(d),))

    nd = system.delta.shape  # (1,), or (n_x,) for a profile (each node's equation has its own Delta only)
    lo, hi = jnp.full(nd, 1e-6), jnp.full(nd, float(gap.cutoff))
    flo, fhi = G(lo, *frozen), G(hi, *frozen)
    sign_change = (flo < 0) & (fhi > 0)
    x0 = jnp.clip(jnp.broadcast_to(gap.start, nd), 2e-6, 0.5 * gap.cutoff)
    root, ok, dg = bracketed_newton(f_and_df, lo, hi, flo, fhi, x0=x0, active=sign_change)
    return newton_polish(root, G(root), lax.stop_gradient(dg)), ok & sign_change


def solve_dynamics(wire: Wire, collisions: Sequence = (), times=None, *, grid: EnergyGrid, bias=None,
                   initial=None, gap: GapEquation | Callable | None = None, subdivision: int = 8,
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
        gap: the pair potential in time: ``None`` (the wire's ``Delta``, fixed), a function
            ``t -> Delta`` (prescribed, one value for the wire, differentiable in ``t``, e.g. a gap
            suppressed by a pulse) or a `jaxqp.kinetic.inelastic.GapEquation` (self-consistent
            and adiabatic: ``Delta(t)`` solves the non-equilibrium gap equation with the
            distribution of every instant, from its root for ``initial``; ``gap_residual`` says how
            closely), at the injector (one value for the wire) or, with ``where="profile"``, at
            every node (``Delta(x, t)``, the local bulk spectra of each node).  The spectra follow
            ``Delta(t)``, and the energy modes flow with it (``N d_t f_L + (d_t Delta) Re f d_E f_L``;
            see the theory notes).
        rtol, atol: error tolerances of the adaptive step; ``max_steps``: step cap.
        capacity_floor: the smallest density of states used as capacity.
        solver: a diffrax solver (default `default_solver` for the kind of ``gap``: ``Kvaerno5``,
            implicit, stiffly accurate, with block-tridiagonal stage solves).
        throw: raise if the integration stopped early (else read ``converged``).

    Returns a `DynamicsSolution`.  Pure JAX: differentiable in the arrays of ``wire``,
    ``collisions`` and ``initial`` by diffrax's adjoint.
    """
    equation = gap if isinstance(gap, GapEquation) else None
    adiabatic = equation is not None
    if gap is not None and not adiabatic and not callable(gap):
        raise TypeError(f"gap must be None, a GapEquation or a function t -> Delta, got {type(gap).__name__}")
    system = kinetic_system(wire, collisions, grid=grid, subdivision=subdivision, gap=equation)
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
    gap_fn: Callable | None = None
    if gap is not None and not isinstance(gap, GapEquation):
        gap_fn = gap
        d0 = np.asarray(gap_fn(0.0), dtype=np.float64)
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
    d0 = None
    if adiabatic:
        d0, found = _initial_gap(system, h0)
        if not bool(jnp.all(found)):
            raise ValueError("the gap equation has no superconducting solution for the initial distribution: the "
                             "adiabatic gap cannot start from a normal state. Inject fewer quasiparticles, or give "
                             "the gap as a function of time")
    opts = _Options(rtol=float(rtol), atol=float(atol), max_steps=int(max_steps), floor=float(capacity_floor),
                    solver=default_solver(gap_fn is not None, adiabatic) if solver is None else solver)
    hs, deltas, res, energy, charge, spin, ok, steps = _integrate(system, ts, h0, d0, bias_fn, gap_fn, opts)
    out = DynamicsSolution(times=ts, sectors=hs, x=jnp.asarray(system.setup.x), grid=system.grid, delta=deltas,
                           gap_residual=res, energy=energy, charge=charge, spin=spin, converged=ok,
                           result=ok.astype(int), steps=steps)
    if throw and not bool(ok):
        hint = (" With an adiabatic gap: where the gap equation folds (d Delta/dt diverges) the gap collapses and "
                "the adiabatic picture ends.") if adiabatic else ""
        raise RuntimeError(f"the time integration stopped before t = {tn[-1]:g} after {int(steps)} steps; raise "
                           "max_steps, loosen rtol/atol, or check the drive (a sudden bias(t) or gap(t) needs small "
                           "steps)." + hint)
    return out


class _Constant(eqx.Module):
    V: Array

    def __call__(self, t):
        return self.V
