r"""Energy-coupled kinetic equations: inelastic collisions and a non-equilibrium gap.

With a collision integral the kinetic equation of a wire,

$$
\partial_x(\mathcal D\partial_x h + \mathcal J h) = \mathcal R h + I[h]
- \sum_c \delta(x - x_c) K_c (h_{e,c} - h),
$$

couples all energies at each position (``I`` acts on every distribution mode of
both spin sectors, see `jaxqp.kinetic.collisions`).  Optionally the pair
potential is unknown too, fixed by the non-equilibrium gap equation (seed 001
Eq. (8))

$$
\Delta = \frac{\lambda}{2}\int_{-\omega_D}^{\omega_D} dE\,
\tfrac12\textstyle\sum_s \mathrm{Re} f_s(E;\Delta)\, f_{L,s}(E, x_0),
$$

either with one ``Delta`` for the whole wire evaluated at the injector
(``where="injector"``, seed 001 Appendix B) or with a local ``Delta(x)`` at
every node (``where="profile"``; the spectra are then the bulk ones of the
local ``Delta``, valid when ``Delta`` varies slowly on the scale of xi).

The discrete residual ``F(h, Delta) = 0`` on the whole (E, x) grid is solved by
Newton's method.  Each Newton step solves ``J du = -F`` with GMRES, the
Jacobian applied matrix-free (``jax.linearize``) and preconditioned by the
elastic operator plus the out-scattering rate of the collisions (block
tridiagonal in x for every energy, factored once per step) and by the partial
derivative of the gap equation in ``Delta``.  The solution is differentiated
implicitly by the shared engine (`jaxqp.internal.engine.implicit_solve`, with the
same preconditioned GMRES for ``J`` and ``J^T``), so ``jax.jvp``, ``jax.jacfwd``
and ``jax.grad`` never unroll the iterations.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.scipy.sparse.linalg import gmres
from jax.typing import ArrayLike

from ..grids import EnergyGrid
from ..internal import engine
from ..internal import validation as val
from ..internal.blocktri import block_factor, factored_solve, transpose_blocks
from ..spectral.bulk import green_functions
from .coefficients import KineticCoefficients, coefficients, to_modes
from .collisions import PROCESSES, RelaxationTime, collision_integral, energy_collision_integral
from .solve import ContactCurrents, KineticSolution, as_wire, bias_array, check_wire, currents_from_fluxes
from .wire import (
    Wire,
    WireResponse,
    assemble,
    contact_drive,
    equilibrium_sectors,
    proximity_spectra,
    reservoir_extent,
    reservoir_sectors,
)


# ----------------------------------------------------------------- configuration
class GapEquation(eqx.Module):
    r"""Self-consistent ``Delta`` from the non-equilibrium ``f_L`` (seed 001 Eq. (8)).

    Attributes:
        cutoff: Debye energy ``omega_D`` (units of Delta0); the energy grid must reach it.
        coupling: ``lambda``; default ``1 / arcsinh(omega_D)`` (seed 001), which
            gives ``Delta(T=0) ~ 1`` up to the Dynes broadening and the real-axis
            cut-off (``lambda`` ``arccosh`` vs ``arcsinh``: 0.2% at ``omega_D = 10``).
        where: ``"injector"`` (one ``Delta`` from ``f_L`` at contact ``contact``)
            or ``"profile"`` (``Delta(x)`` at every node).
        contact: index of the contact whose node defines ``Delta`` for ``"injector"``.
        start: initial guess of ``Delta`` (the upper branch starts at 1).
    """

    cutoff: float = eqx.field(default=10.0, static=True)
    coupling: Array | None = eqx.field(default=None, converter=val.optional_array)
    where: str = eqx.field(default="injector", static=True)
    contact: int = eqx.field(default=0, static=True)
    start: ArrayLike = eqx.field(default=1.0, converter=jnp.asarray)

    def __check_init__(self):
        if self.where not in ("injector", "profile"):
            raise ValueError(f"GapEquation.where must be 'injector' or 'profile', got {self.where!r}")
        if not self.cutoff > 0:
            raise ValueError(f"the Debye cut-off must be positive, got {self.cutoff}")
        if self.coupling is not None:
            val.check_positive("coupling", self.coupling, hint="the BCS coupling lambda is > 0")
        val.check_positive("start", self.start,
                           hint="start the gap iteration at Delta > 0 (Delta = 0 is always a root)")

    def lam(self):
        return 1.0 / math.asinh(self.cutoff) if self.coupling is None else self.coupling


class NewtonOptions(eqx.Module):
    """Tolerances of the Newton-Krylov solver (all static).

    ``tol``: stop when the largest Newton update of ``f`` and ``Delta`` is below it;
    ``maxiter``: Newton iteration cap; ``gmres_tol``: relative GMRES tolerance;
    ``restart``: Krylov space size; ``gmres_restarts``: restarts per Newton step;
    ``max_gap_step``: cap on the change of ``Delta`` per step; ``res_tol``: the
    final residual (relative to the right-hand side) for ``converged``; ``forcing_max``: the
    loosest relative GMRES tolerance of a Newton step (inexact Newton: the tolerance follows the
    decrease of the residual, from ``forcing_max`` down to ``gmres_tol``; ``forcing_max =
    gmres_tol`` solves every step to ``gmres_tol``).
    """

    tol: float = eqx.field(default=1e-9, static=True)
    maxiter: int = eqx.field(default=25, static=True)
    gmres_tol: float = eqx.field(default=1e-9, static=True)
    restart: int = eqx.field(default=20, static=True)
    gmres_restarts: int = eqx.field(default=3, static=True)
    max_gap_step: float = eqx.field(default=0.2, static=True)
    res_tol: float = eqx.field(default=1e-7, static=True)
    forcing_max: float = eqx.field(default=1e-2, static=True)

    def __check_init__(self):
        if not 0 < self.forcing_max < 1:
            raise ValueError(f"NewtonOptions.forcing_max must lie in (0, 1) (a relative GMRES tolerance), "
                             f"got {self.forcing_max}")


def uniform_grid(e_max: float, spacing: float) -> EnergyGrid:
    """Uniform energy grid ``-e_max .. e_max`` with the given spacing: the finite-volume grid of the
    collision integrals.  Every node stands for the cell ``[E_i - dE/2, E_i + dE/2]``, so every weight
    is ``dE`` (the end cells included); this keeps the discrete energy balance exact."""
    n = int(round(2 * e_max / spacing)) + 1
    if n < 3:
        raise ValueError(f"spacing {spacing} is too coarse for |E| <= {e_max}")
    return _cell_grid(np.linspace(-(n - 1) / 2 * spacing, (n - 1) / 2 * spacing, n))


def _cell_grid(E: np.ndarray) -> EnergyGrid:
    d = float(E[1] - E[0])
    # NumPy on purpose: the uniform grid stays concrete inside jit (the collision kernels need its spacing)
    return EnergyGrid(points=np.asarray(E, float), weights=np.full(E.shape, d))  # type: ignore[arg-type]


def _check_uniform(grid: EnergyGrid) -> np.ndarray:
    E = np.asarray(val.concrete(grid.points))
    if E.ndim != 1 or E.size < 3:
        raise ValueError("collision integrals need a 1-D energy grid with at least 3 points")
    d = np.diff(E)
    if np.max(np.abs(d - d[0])) > 1e-9 * max(1.0, abs(d[0])):
        raise ValueError("collision integrals need a uniform energy grid (energy conservation maps grid points "
                         "to grid points); build one with jaxqp.kinetic.inelastic.uniform_grid(e_max, spacing)")
    return E


# ----------------------------------------------------------------- the discrete system
class _Params(eqx.Module):
    """Differentiable inputs of the residual (arrays); the static rest is closed over."""

    wire: Wire
    collisions: tuple
    gap: GapEquation | None
    V: Array


def _spectra(wire: Wire, E, delta, sub: int):
    """Cell-averaged spectral data at pair potential(s) ``delta`` (n_d,).

    Every spectral quantity (kinetic coefficients, DOS ``N = Re g_s`` and
    ``M = Re f_s``) is the average over the energy cell ``[E_i - dE/2, E_i + dE/2]``
    evaluated at ``sub`` midpoints: finite volumes in energy.  The coherence
    peaks (width Gamma) are much narrower than a practical grid spacing, and
    point sampling would make the discrete problem a jagged function of Delta
    and Gamma (Newton on the gap equation then fails); cell averages are smooth.
    With ``wire.spectra == "inhomogeneous"`` the spectra are the 1-D retarded solution of the
    wire (its contacts renormalise them) at the single Delta ``delta[0]``, ``n_d = n_x``.
    Returns ``co`` (n_E, n_d, 4, 4), the retarded ``g_s``, ``f_s`` (2, n_d, n_E), ``ok``.
    """
    m = wire.material
    q = wire.phase_gradient
    n = E.size
    d = float(E[1] - E[0])
    t = (np.arange(sub) + 0.5) / sub - 0.5
    Ef = (E[:, None] + d * t[None, :]).ravel()
    if wire.spectra == "inhomogeneous":  # the 1-D retarded solution at one Delta for the wire
        co, g, f, ok = proximity_spectra(eqx.tree_at(lambda w: w.material.delta, wire, delta[0]), jnp.asarray(Ef))
    else:
        z = jnp.asarray(Ef)[:, None] + 1j * m.gamma
        _, g, f, ok = green_functions(z, m.spectral_params(delta=delta[None, :], zeta=m.zeta + 0.5 * q**2))
        co = coefficients(g, f, delta[None, :], phase_gradient=q, zeta=m.zeta, b_so=m.b_so, b_sf=m.b_sf)
    avg = lambda a, ax: jnp.mean(a.reshape(a.shape[:ax] + (n, sub) + a.shape[ax + 1:]), axis=ax + 1)  # noqa: E731
    co = jax.tree.map(lambda a: avg(a, 0), co)
    G = jnp.moveaxis(avg(g, 1), 1, 2)  # (2, n_d, n_E), complex
    F = jnp.moveaxis(avg(f, 1), 1, 2)
    return co, G, F, jnp.all(ok)


class _System(eqx.Module):
    """The linear part ``A h_{i-1} + B h_i + C h_{i+1} = d`` and the spectral data at one Delta."""

    A: Array
    B: Array
    C: Array
    d: Array
    mask: Array  # volume of each node, 0 at reservoir rows
    G: Array  # (2, n_d, n_E): retarded g_s, f_s (complex)
    F: Array
    Ks: tuple  # contact kernels (n_E, 4, 4)
    hes: tuple  # electrode distributions (n_E, 4)
    co: KineticCoefficients
    ok: Array

    @property
    def N(self):
        return jnp.real(self.G)

    @property
    def M(self):
        return jnp.real(self.F)


def _system(p: _Params, cfg, delta) -> _System:
    return _with_contacts(_bulk_system(p.wire, cfg, delta), p.wire, cfg, p.V)


def _bulk_system(wire: Wire, cfg, delta) -> _System:
    """The system without the contacts: spectra, the assembled wire and its reservoir rows."""
    E, x = cfg.E, cfg.x
    co, G, F, ok = _spectra(wire, E, delta, cfg.sub)
    A, B, C, vol = assemble(co, x, wire.ends)
    n = x.shape[0]
    batch = B.shape[:-3]
    B = jnp.broadcast_to(B, batch + (n, 4, 4))
    d = jnp.zeros(batch + (n, 4))
    mask = vol
    if wire.ends[0] == "reservoir":
        d = d.at[:, 0].set(reservoir_sectors(wire, jnp.asarray(E), 0))
        mask = mask.at[0].set(0.0)
    if wire.ends[1] == "reservoir":
        d = d.at[:, n - 1].set(reservoir_sectors(wire, jnp.asarray(E), 1))
        mask = mask.at[n - 1].set(0.0)
    return _System(A=A, B=B, C=C, d=d, mask=mask, G=G, F=F, Ks=(), hes=(), co=co, ok=ok)


_bulk_system_jit = val.jit_known_zeros(_bulk_system)  # for eager callers: one program, not hundreds of operations


def _with_contacts(S: _System, wire: Wire, cfg, V) -> _System:
    """Add the tunnel contacts at biases ``V``: ``K_c`` on the diagonal blocks, ``K_c h_e`` on the right."""
    E, B, d, ok, co = jnp.asarray(cfg.E), S.B, S.d, S.ok, S.co
    Ks, hes = [], []
    for c, (contact, i) in enumerate(zip(wire.contacts, cfg.nodes, strict=False)):
        dos = co.dos[:, i if co.dos.shape[1] > 1 else 0, :]
        K, he, ok_c = contact_drive(contact, wire, E, V[c], dos)
        B = B.at[:, i].add(K)
        d = d.at[:, i].add(jnp.einsum("eij,ej->ei", K, he))
        Ks.append(K)
        hes.append(he)
        ok = ok & jnp.all(ok_c)
    return eqx.tree_at(lambda t: (t.B, t.d, t.ok, t.Ks, t.hes), S, (B, d, ok, tuple(Ks), tuple(hes)))


def _matvec(S: _System, h):
    zero = jnp.zeros_like(h[:, :1])
    mv = lambda M, u: jnp.einsum("exij,exj->exi", M, u)  # noqa: E731
    return mv(S.B, h) + mv(S.A, jnp.concatenate([zero, h[:, :-1]], 1)) + mv(S.C, jnp.concatenate([h[:, 1:], zero], 1))


def _collisions(p: _Params, S: _System, E, h, with_diagonal=False):
    """Sum of the collision integrals, (n_E, n_x, 4) in the sector basis (and the 4x4 diagonal blocks).

    Processes with ``modes="energy"`` take the fast path of the energy components alone.
    """
    hs = jnp.moveaxis(jnp.stack([h[..., 0:2], h[..., 2:4]]), 1, 2)  # (2, n_x, n_E, 2): (f_L, f_T) per sector
    tot = jnp.zeros_like(hs)
    blk = jnp.zeros(hs.shape + (2,))
    for proc in p.collisions:
        if proc.modes == "energy":
            if with_diagonal:
                I, dg = energy_collision_integral(proc, E, S.N, S.M, hs[..., 0], temperature=p.wire.temperature,
                                                  with_diagonal=True)
                blk = blk.at[..., 0, 0].add(jnp.broadcast_to(dg, I.shape))
            else:
                I = energy_collision_integral(proc, E, S.N, S.M, hs[..., 0], temperature=p.wire.temperature)
            tot = tot.at[..., 0].add(I)
            continue
        out = collision_integral(proc, E, S.G, S.F, hs, temperature=p.wire.temperature, with_diagonal=with_diagonal)
        if with_diagonal:
            tot, blk = tot + out[0], blk + jnp.broadcast_to(out[1], blk.shape)
        else:
            tot = tot + out
    full = jnp.concatenate([jnp.moveaxis(tot[0], 0, 1), jnp.moveaxis(tot[1], 0, 1)], -1)
    if not with_diagonal:
        return full
    z = jnp.zeros_like(blk[0])
    blocks = jnp.concatenate([jnp.concatenate([blk[0], z], -1), jnp.concatenate([z, blk[1]], -1)], -2)
    return full, jnp.moveaxis(blocks, 0, 1)


def _gap_map(p: _Params, cfg, S, h):
    """Right-hand side of the gap equation at the gap nodes, (n_d,)."""
    gap = p.gap
    assert gap is not None  # called only with a gap equation
    if cfg.gap_node is None:  # profile: all nodes
        fl = jnp.stack([h[..., 0].T, h[..., 2].T])  # (2, n_x, n_E)
    else:
        fl = jnp.stack([h[:, cfg.gap_node, 0], h[:, cfg.gap_node, 2]])[:, None, :]
    M = S.M if cfg.gap_node is None or S.M.shape[1] == 1 else S.M[:, cfg.gap_node:cfg.gap_node + 1]
    E = cfg.E
    d = E[1] - E[0]
    # the part of each cell [E - dE/2, E + dE/2] inside |E| <= omega_D
    inside = np.clip((gap.cutoff - (np.abs(E) - 0.5 * d)) / d, 0.0, 1.0)
    w = jnp.asarray(inside * d)
    return 0.25 * gap.lam() * jnp.sum(M * fl * w, axis=(0, -1))


def _residual(p: _Params, cfg, u):
    h, delta = u
    return _residual_at(p, cfg, _system(p, cfg, _delta_of(p, delta)), h, delta)


def _delta_of(p: _Params, delta):
    if p.gap is None:
        return jnp.reshape(jnp.asarray(p.wire.material.delta, float), (1,))
    return delta


# ----------------------------------------------------------------- block-tridiagonal factorisation
def _residual_at(p, cfg, S, h, delta, coll=None):
    """Residual with the system ``S`` already built at ``delta`` (and the collisions ``coll`` at ``h``
    where the caller has them)."""
    Fh = _matvec(S, h) - S.d
    if p.collisions:
        Fh = Fh + S.mask[None, :, None] * (_collisions(p, S, cfg.E, h) if coll is None else coll)
    if p.gap is None:
        return Fh, jnp.zeros_like(delta)
    return Fh, delta - _gap_map(p, cfg, S, h)


def _delta_columns(p, cfg, h, delta):
    """Derivatives of the residual in Delta at fixed ``h`` by coloured JVPs.

    One Delta for the wire: a single JVP.  A profile: ``Delta_j`` touches rows
    ``j-1, j, j+1`` only, so three colours (``j mod 3``) give all columns.
    Returns ``(apply, diag)``: ``apply(v)`` = ``dF_h/dDelta v`` and the diagonal
    ``dF_Delta/dDelta``.
    """
    nd = delta.shape[0]
    f = lambda dl: _residual(p, cfg, (h, dl))  # noqa: E731
    if nd == 1:
        _, (ch, cd) = jax.jvp(f, (delta,), (jnp.ones_like(delta),))
        return (lambda v: ch * v[0]), cd
    idx = np.arange(nd)
    # the residual once, its tangent map applied to the three colours
    _, lin = jax.linearize(f, delta)
    ch, cd = jax.vmap(lin)(jnp.asarray((idx[None, :] % 3 == np.arange(3)[:, None]).astype(delta.dtype)))
    diag = cd[idx % 3, idx]  # ch: (3, n_E, n_x, 4)

    def apply(v):
        out = jnp.zeros_like(ch[0])
        for shift in (-1, 0, 1):
            j = idx + shift
            valid = (j >= 0) & (j < nd)
            jc = np.clip(j, 0, nd - 1)
            colr = ch[jc % 3, :, idx, :]  # (n_x, n_E, 4): row r, column j = r + shift
            out = out + jnp.moveaxis(colr, 0, 1) * (v[jc] * valid)[None, :, None]
        return out

    return apply, diag


def _linearise(p, cfg, u, S=None):
    """Residual, Jacobian action, preconditioner (and that of ``J^T``) at ``u``; ``S``: the system at
    ``u``'s Delta when the caller has it (the Newton loop carries the accepted line-search trial's)."""
    h, delta = u
    if S is None:
        S = _system(p, cfg, _delta_of(p, delta))
    B = S.B
    if p.collisions:
        # one evaluation of the collisions gives the residual's share, the out-scattering blocks and the
        # linear map (the blocks' own tangent is never used)
        (coll, blocks), lin = jax.linearize(lambda hh: _collisions(p, S, cfg.E, hh, with_diagonal=True), h)
        B = B + S.mask[None, :, None, None] * blocks
        coll_lin = lambda v: lin(v)[0]  # noqa: E731
    else:
        coll, coll_lin = None, None
    F = _residual_at(p, cfg, S, h, delta, coll)
    if p.gap is None:
        col, dd = (lambda v: 0.0), jnp.ones_like(delta)
        gap_lin = lambda vh: jnp.zeros_like(delta)  # noqa: E731
    else:
        col, dd = _delta_columns(p, cfg, h, delta)
        _, gl = jax.linearize(lambda hh: _gap_map(p, cfg, S, hh), h)
        gap_lin = lambda vh: -gl(vh)  # noqa: E731

    def matvec(v):
        vh, vd = v
        out = _matvec(S, vh)
        if coll_lin is not None:
            out = out + S.mask[None, :, None] * coll_lin(vh)
        if p.gap is None:
            return out, jnp.zeros_like(vd)
        return out + col(vd), gap_lin(vh) + dd * vd

    ddp = jnp.where(jnp.abs(dd) < 1e-3, jnp.where(dd < 0, -1e-3, 1e-3), dd)
    fac = block_factor(S.A, B, S.C)
    if p.gap is not None and delta.shape[0] == 1:
        # one Delta: eliminate it exactly against the block-tridiagonal part (Schur complement
        # s = dF_D/dD - R P^-1 c, one more block solve per step), so that GMRES only has the collisions'
        # energy coupling left (about 10 % less time per Newton step on seed 001 Fig. 11(a))
        z = factored_solve(fac, col(jnp.ones_like(delta)))
        schur = dd + gap_lin(z)
        schur = jnp.where(jnp.abs(schur) < 1e-3, jnp.where(schur < 0, -1e-3, 1e-3), schur)

        def precond(v):
            yh = factored_solve(fac, v[0])
            yd = (v[1] - gap_lin(yh)) / schur
            return yh - z * yd[0], yd
    else:
        def precond(v):
            return factored_solve(fac, v[0]), v[1] / ddp

    def transposed_precond():
        """The preconditioner of ``J^T``, factored only where a transpose is solved (reverse mode)."""
        fac_t = block_factor(*transpose_blocks(S.A, B, S.C))
        return lambda v: (factored_solve(fac_t, v[0]), v[1] / ddp)

    return F, matvec, precond, transposed_precond, S


def _gmres(op, b, M, opts, tol=None):
    x, _ = gmres(op, b, M=M, tol=opts.gmres_tol if tol is None else tol, atol=0.0, restart=opts.restart,
                 maxiter=opts.gmres_restarts, solve_method="incremental")
    return x


def _norms(F):
    """The line search's two merit functions, the largest entry and the 2-norm (the Newton direction
    descends in both)."""
    return jnp.stack([jnp.maximum(jnp.max(jnp.abs(F[0])), jnp.max(jnp.abs(F[1]), initial=0.0)),
                      jnp.sqrt(jnp.sum(jnp.abs(F[0]) ** 2) + jnp.sum(jnp.abs(F[1]) ** 2))])


def _forcing(opts, norm, norm_prev, eta_prev):
    """Relative GMRES tolerance of a Newton step (Eisenstat and Walker, SIAM J. Sci. Comput. 17, 16
    (1996), choice 2 with gamma = 0.9, alpha = 2 and their safeguard): loose while the residual is large,
    tightening with its decrease, never below ``gmres_tol`` nor above ``forcing_max``."""
    eta = 0.9 * (norm / jnp.maximum(norm_prev, 1e-300)) ** 2
    guard = 0.9 * eta_prev**2
    eta = jnp.where(guard > 0.1, jnp.maximum(eta, guard), eta)
    eta = jnp.where(jnp.isfinite(norm_prev), eta, opts.forcing_max)  # first step
    return jnp.clip(eta, opts.gmres_tol, opts.forcing_max)


def _newton(p, u0, cfg, S0=None):
    """Newton-Krylov from ``u0``; ``S0``: the system at ``u0``'s Delta where the caller has it."""
    opts = cfg.opts

    def body(state):
        u, S, k, _, norm_prev, eta_prev = state
        F0, matvec, precond, _, _ = _linearise(p, cfg, u, S)
        n0 = _norms(F0)
        eta = _forcing(opts, n0[1], norm_prev, eta_prev)
        du = _gmres(matvec, jax.tree.map(jnp.negative, F0), precond, opts, eta)
        step = jnp.max(jnp.abs(du[1])) if p.gap is not None else jnp.asarray(0.0)
        s0 = jnp.minimum(1.0, opts.max_gap_step / jnp.maximum(step, 1e-300))

        def trial(s):
            dl = jnp.maximum(u[1] + s * du[1], 1e-6) if p.gap is not None else u[1]
            return (u[0] + s * du[0], dl)

        # backtracking: try s0, then halve the step while the residual grows (at most 5 times) in both the
        # largest entry and the 2-norm.  The largest entry alone rejects full steps that overshoot at a few
        # energies near the gap edge (where the spectra move fast with Delta) while they fix the rest: up
        # to 13 Newton steps per continuation point of seed 001 Fig. 11(a) instead of 5-6; the 2-norm
        # alone stalls on a pinned island's gap equation, which the largest entry follows.  The system at
        # the accepted trial is the next step's.
        def ls_cond(c):
            s, j, nrm, _ = c
            return (j == 0) | ((j < 6) & ~jnp.any(nrm <= n0 * (1.0 - 1e-4 * s)))

        def ls_body(c):
            s, j, _, _ = c
            s = jnp.where(j == 0, s, 0.5 * s)
            ut = trial(s)
            St = _system(p, cfg, _delta_of(p, ut[1]))
            return s, j + 1, _norms(_residual_at(p, cfg, St, ut[0], ut[1])), St

        s, _, _, S_new = lax.while_loop(ls_cond, ls_body, (s0, jnp.asarray(0), jnp.full(2, jnp.inf), S))
        u_new = trial(s)
        err = jnp.maximum(jnp.max(jnp.abs(u_new[0] - u[0])), jnp.max(jnp.abs(u_new[1] - u[1])))
        return u_new, S_new, k + 1, err, n0[1], eta

    def cond(state):
        _, _, k, err, _, _ = state
        return (k < opts.maxiter) & (err > opts.tol)

    inf = jnp.asarray(jnp.inf)
    if S0 is None:
        S0 = _system(p, cfg, _delta_of(p, u0[1]))
    init = (u0, S0, jnp.asarray(0), inf, inf, jnp.asarray(opts.forcing_max))
    u, S, k, err, _, _ = lax.while_loop(cond, body, init)
    Fh, Fd = _residual_at(p, cfg, S, u[0], u[1])
    drive = jnp.max(jnp.abs(S.d))
    scale = jnp.where(drive > 0, drive, 1.0)  # no drive (a closed wire with a bath): the absolute residual
    res = jnp.maximum(jnp.max(jnp.abs(Fh)) / scale, jnp.max(jnp.abs(Fd), initial=0.0))
    ok = (err <= opts.tol) & (res <= opts.res_tol) & jnp.isfinite(res) & jnp.all(jnp.isfinite(u[0])) & S.ok
    return u, ok, res, k


def _elastic_start(p, cfg, u0):
    """Initial iterate: the elastic solution at the initial Delta (one block-tridiagonal solve); where
    the elastic problem has none (a closed wire whose bath alone fixes the distribution), ``u0``.  With
    the system at that Delta, which Newton's first step needs."""
    h, delta = u0
    S = _system(p, cfg, _delta_of(p, delta))
    fac = block_factor(S.A, S.B, S.C)
    elastic = factored_solve(fac, S.d)
    return (jnp.where(jnp.all(jnp.isfinite(elastic)), elastic, h), delta), S


def _make_solver(cfg, warm: bool = False):
    """The implicitly differentiated root ``u*(p)`` for a fixed static configuration.

    ``warm``: Newton starts at ``u0`` (continuation); else at the elastic
    solution for ``Delta = u0[1]``.  The start carries no derivative.
    """
    opts = cfg.opts
    # a cold start hands its system on to Newton's first step (the spectra are computed once)
    start = (lambda p, u0: (u0, None)) if warm else (lambda p, u0: _elastic_start(p, cfg, u0))

    def primal(p, u0):
        first, S0 = start(p, u0)
        u, ok, res, k = _newton(p, first, cfg, S0)
        return u, (ok.astype(float), res, k)

    def linearise(u, p):
        _, matvec, precond, transposed_precond, _ = _linearise(p, cfg, u)
        def checked(mv, b, M):
            # the Newton loop checks its own residual; a derivative's GMRES is checked here, in the plain
            # (unpreconditioned) residual, against sqrt(gmres_tol)
            return engine.checked_solve(_gmres(mv, b, M, opts), mv, b, rtol=opts.gmres_tol ** 0.5,
                                        method="preconditioned GMRES of the kinetic Newton")

        return engine.LinearSystem(matvec=matvec, solve=lambda b: checked(matvec, b, precond),
                                   transpose_solve=lambda b, vecmat: checked(vecmat, b, transposed_precond()))

    def solve(p, u0):
        u, (ok, res, k) = engine.implicit_solve(primal, lambda u_, q: _residual(q, cfg, u_), linearise, p, u0)
        return u, ok, res, k

    return solve


# ----------------------------------------------------------------- the discrete system at one pair potential
class KineticSystem(eqx.Module):
    """The discrete (E, x) kinetic problem of a wire, with its spectra at one pair potential.

    Built by `kinetic_system`; used for time evolution (`jaxqp.kinetic.dynamics`).  The
    residual is the stationary one of `solve_inelastic`,
    ``F(h; V) = -(j_{i+1/2} - j_{i-1/2}) + vol (R h + I[h]) - K_c (h_e(V) - h)`` per node, in the
    sector basis ``(f_{L,+}, f_{T,+}, f_{L,-}, f_{T,-})``; reservoir rows read ``h - h_eq``.
    The spectra are those of ``delta`` (the wire's own ``Delta`` unless `at` moved them); with a
    `GapEquation`, `gap_rhs` is the right-hand side of the non-equilibrium gap equation.
    """

    wire: Wire
    collisions: tuple
    bulk: _System
    grid: EnergyGrid
    setup: _Setup = eqx.field(static=True)
    delta: Array
    gap: GapEquation | None = None

    @val.compiled_when_eager
    def residual(self, h, V):
        """``F(h; V)``, shape ``(n_E, n_x, 4)``, at contact biases ``V`` ``(n_c,)``."""
        p = _Params(wire=self.wire, collisions=self.collisions, gap=None, V=V)
        S = _with_contacts(self.bulk, self.wire, self.setup, V)
        return _residual_at(p, self.setup, S, h, jnp.zeros(1))[0]

    def at(self, delta) -> KineticSystem:
        """The same problem with the spectra of the pair potential ``delta``: ``(1,)`` (one value for the
        wire) or, with ``GapEquation(where="profile")``, ``(n_x,)`` (the local bulk spectra of each node)."""
        delta = jnp.reshape(jnp.asarray(delta, float), (-1,))
        return eqx.tree_at(lambda s: (s.bulk, s.delta), self, (_bulk_system(self.wire, self.setup, delta), delta))

    def density_of_states(self):
        """``N_s`` per sector component, ``(n_E, n_x, 4)`` (the same for ``L`` and ``T`` of a sector)."""
        return self._per_component(self.bulk.N)

    def anomalous(self):
        """``M_s = Re f_s`` per sector component, ``(n_E, n_x, 4)`` (the gap equation's kernel)."""
        return self._per_component(self.bulk.M)

    def gap_rhs(self, h):
        """The right-hand side of the gap equation at ``h`` with the spectra of ``delta``,
        ``(lambda / 4) sum_s int_{|E| < omega_D} dE Re f_s f_{L,s}``: at the injector's node, ``(1,)``
        (``GapEquation(where="injector")``), or at every node, ``(n_x,)`` (``where="profile"``).
        Linear in ``h``."""
        if self.gap is None:
            raise ValueError("this kinetic system has no gap equation: build it with kinetic_system(..., gap=...)")
        p = _Params(wire=self.wire, collisions=self.collisions, gap=self.gap, V=jnp.zeros(0))
        return _gap_map(p, self.setup, self.bulk, h)

    def _per_component(self, X):
        X = jnp.moveaxis(X, 0, -1)  # (n_d, n_E, 2)
        X = jnp.repeat(jnp.swapaxes(X, 0, 1), 2, axis=-1)  # (n_E, n_d, 4)
        return jnp.broadcast_to(X, (self.setup.E.size, self.setup.x.size, 4))

    @property
    def volume(self):
        """Node volumes, 0 at reservoir rows (their distribution is fixed)."""
        return self.bulk.mask

    def equilibrium(self):
        """The equilibrium distribution at the bath temperature, ``(n_E, n_x, 4)``."""
        heq = equilibrium_sectors(jnp.asarray(self.setup.E), self.wire.temperature)
        return jnp.broadcast_to(heq[:, None, :], (self.setup.E.size, self.setup.x.size, 4))


def kinetic_system(wire: Wire, collisions: Sequence = (), *, grid: EnergyGrid, subdivision: int = 8,
                   gap: GapEquation | None = None) -> KineticSystem:
    """The discrete kinetic problem of ``wire`` with ``collisions`` on the uniform ``grid``, with the
    spectra of ``wire.material.delta`` (and, with ``gap``, the gap equation's right-hand side)."""
    wire = as_wire(wire)
    grid = _cell_grid(_check_uniform(grid))
    st = inelastic_setup(wire, grid, tuple(collisions), gap, None, subdivision, stationary=False)
    delta = jnp.reshape(jnp.asarray(wire.material.delta, float), (1,))
    if gap is not None and gap.where == "profile":  # Delta(x): one value per node, the local bulk spectra
        delta = jnp.broadcast_to(delta, (st.x.size,))
    bulk = _bulk_system_jit(wire, st, delta)
    return KineticSystem(wire=wire, collisions=tuple(collisions), bulk=bulk, grid=grid, setup=st, delta=delta,
                         gap=gap)


# ----------------------------------------------------------------- public API
class InelasticSolution(eqx.Module):
    """Solution of the energy-coupled kinetic problem at one set of biases.

    Attributes:
        kinetic: a `jaxqp.KineticSolution` (modes, sectors, dos, fluxes,
            currents and every observable method of the elastic solution).
        delta: the pair potential: ``(1,)`` (uniform), ``(n_x,)`` (profile).
        converged: Newton converged (update below ``tol``, residual below ``res_tol``).
        residual: final relative residual; ``iterations``: Newton steps.
        spectral: ``(N, M)`` each ``(2, n_d, n_E)``: DOS and ``Re f`` per sector.
    """

    kinetic: KineticSolution
    delta: Array
    converged: Array
    residual: Array
    iterations: Array
    spectral: tuple

    @property
    def modes(self):
        return self.kinetic.modes

    @property
    def currents(self):
        return self.kinetic.currents


class _Setup(eqx.Module):
    Et: tuple = eqx.field(static=True)
    xt: tuple = eqx.field(static=True)
    nodes: tuple = eqx.field(static=True)
    gap_node: int | None = eqx.field(static=True)
    opts: NewtonOptions = eqx.field(static=True)
    sub: int = eqx.field(static=True)

    @property
    def E(self) -> np.ndarray:
        return np.asarray(self.Et)

    @property
    def x(self) -> np.ndarray:
        return np.asarray(self.xt)

    @property
    def weights(self) -> np.ndarray:
        E = self.E
        return np.full(E.size, E[1] - E[0])


def _bath_fixes_every_mode(collisions) -> bool:
    """A `RelaxationTime` toward the bath on every mode (no conserved quantity, a rate not known to
    be zero): it alone fixes the stationary distribution of a closed wire (the bath's equilibrium)."""
    return any(isinstance(c, RelaxationTime) and not c.conserve and c.modes == "all" and not val.known_zero(c.rate)
               for c in collisions)


def inelastic_setup(wire, grid, collisions, gap, options, subdivision, *, stationary: bool = True):
    check_wire(wire, stationary=stationary and not _bath_fixes_every_mode(collisions))
    if wire.spectra != "uniform" and gap is not None and gap.where == "profile":
        raise NotImplementedError("a gap profile Delta(x) uses the local bulk spectra of each node; with "
                                  "spectra='inhomogeneous' use GapEquation(where='injector') (one Delta for the wire)")
    for c in collisions:
        if not isinstance(c, PROCESSES):
            raise TypeError(f"collisions must be instances of {', '.join(p.__name__ for p in PROCESSES)}; "
                            f"got {type(c).__name__}")
    E = _check_uniform(grid)
    if int(subdivision) < 1:
        raise ValueError(f"subdivision must be a positive integer, got {subdivision}")
    if gap is not None:
        if not isinstance(gap, GapEquation):
            raise TypeError(f"gap must be a GapEquation, got {type(gap).__name__}")
        if E[-1] < gap.cutoff - 1e-9 or E[0] > -gap.cutoff + 1e-9:
            raise ValueError(f"the energy grid [{E[0]:.4g}, {E[-1]:.4g}] does not reach the Debye cut-off "
                             f"omega_D = {gap.cutoff}: extend it (uniform_grid(e_max=omega_D, spacing))")
        if gap.where == "injector" and not 0 <= gap.contact < len(wire.contacts):
            raise ValueError(f"GapEquation.contact={gap.contact} but the wire has {len(wire.contacts)} contacts")
    x = np.asarray(wire.x)
    nodes = wire.contact_nodes
    gap_node = None
    if gap is not None and gap.where == "injector":
        gap_node = nodes[gap.contact]
    opts = NewtonOptions() if options is None else options
    return _Setup(Et=tuple(E.tolist()), xt=tuple(x.tolist()), nodes=nodes, gap_node=gap_node, opts=opts,
                  sub=int(subdivision))


def _initial(wire, st: _Setup, gap):
    n_x = st.x.shape[0]
    h0 = jnp.broadcast_to(equilibrium_sectors(jnp.asarray(st.E), wire.temperature)[:, None, :], (st.E.size, n_x, 4))
    if gap is None:
        d0 = jnp.zeros(1)
    else:
        nd = 1 if gap.where == "injector" else n_x
        d0 = jnp.full((nd,), 1.0) * gap.start
    return (h0, d0)


def _package(p: _Params, st: _Setup, grid: EnergyGrid, u, ok, res, k) -> InelasticSolution:
    wire, V = p.wire, p.V
    h, delta = u
    S = _system(p, st, _delta_of(p, delta))
    fluxes = jnp.stack([jnp.einsum("eij,ej->ei", K, he - h[:, i])
                        for K, he, i in zip(S.Ks, S.hes, st.nodes, strict=False)], 1) if S.Ks else jnp.zeros(
        (st.E.size, 0, 4))
    charge, spin, heat = currents_from_fluxes(fluxes, grid)
    n_x = st.x.shape[0]
    dos = jnp.broadcast_to(jnp.moveaxis(S.N, 0, -1).transpose(1, 0, 2), (st.E.size, n_x, 2))
    conv = (ok > 0.5) & S.ok
    cur = ContactCurrents(charge=charge, spin=spin, heat=heat, biases=V, converged=conv)
    idx = jnp.asarray(st.nodes, int)
    resp = WireResponse(energy=grid, x=jnp.asarray(st.x), h0=h, Z=jnp.zeros(h.shape + (0,)),
                        S=jnp.zeros(st.E.shape + (0, 0)), h0c=h[:, idx], dos=dos[:, idx], coefficients=S.co,
                        volume=S.mask, converged=S.ok, nodes=st.nodes, ends=wire.ends)
    kin = KineticSolution(energy=grid, x=jnp.asarray(st.x), modes=to_modes(h), sectors=h, dos=dos, fluxes=fluxes,
                          currents=cur, converged=conv, temperature=jnp.asarray(wire.temperature), response=resp)
    return InelasticSolution(kinetic=kin, delta=_delta_of(p, delta), converged=conv, residual=res, iterations=k,
                             spectral=(S.N, S.M))


def _core(wire, collisions, gap, V, st: _Setup, grid: EnergyGrid):
    p = _Params(wire=wire, collisions=tuple(collisions), gap=gap, V=V)
    u, ok, res, k = _make_solver(st)(p, _initial(wire, st, gap))
    return _package(p, st, grid, u, ok, res, k)


_core_jit = val.jit_known_zeros(_core)


def solve_inelastic(wire: Wire, collisions: Sequence = (), biases=None, *, grid: EnergyGrid | None = None,
                    spacing: float = 0.025, e_max: float | None = None, gap: GapEquation | None = None,
                    options: NewtonOptions | None = None, subdivision: int = 8,
                    throw: bool = True) -> InelasticSolution:
    r"""Solve the kinetic equations of a wire with inelastic collisions and, optionally, a self-consistent gap.

    Args:
        wire: the `jaxqp.Wire` (uniform or inhomogeneous spectra); with ``gap`` its
            ``material.delta`` is replaced by the self-consistent one.
        collisions: processes from `jaxqp.kinetic.collisions`
            (`ElectronElectron`, `ElectronPhonon`, `RelaxationTime`);
            empty: the elastic problem (same answer as `jaxqp.solve_kinetic`).
        biases: contact biases ``(n_c,)`` (default: the electrodes' own).
        grid: a uniform `jaxqp.EnergyGrid`; default ``uniform_grid(e_max, spacing)``
            with ``e_max`` = the gap cut-off, or ``max|V| + 2 + 30 T``.
        gap: a `GapEquation` for the non-equilibrium self-consistent ``Delta``.
        options: `NewtonOptions`.
        subdivision: midpoints per energy cell for the cell averages of the
            spectral functions (finite volumes in energy; 1 = point sampling,
            the discretisation of `jaxqp.solve_kinetic`).  Keep
            ``spacing / subdivision`` below the Dynes Gamma.
        throw: raise if Newton did not converge (else read ``converged``).

    Differentiable (forward and reverse mode) in every array of ``wire``,
    ``collisions``, ``gap`` and ``biases`` by implicit differentiation.
    """
    wire = check_wire(wire, stationary=False)  # closed wires: inelastic_setup (it knows the collisions)
    V = bias_array(wire, biases)
    grid = _default_grid(wire, grid, spacing, e_max, gap, V)
    st = inelastic_setup(wire, grid, tuple(collisions), gap, options, subdivision)
    sol = _core_jit(wire, tuple(collisions), gap, V, st, grid)
    if throw:
        val.raise_if_not_converged(sol.converged, "the inelastic kinetic solve (Newton-Krylov)")
    return sol


def _default_grid(wire, grid, spacing, e_max, gap, V):
    if grid is not None:
        return _cell_grid(_check_uniform(grid))
    if e_max is None:
        vmax = float(np.max(np.abs(np.asarray(V)))) if np.size(V) else 0.0
        v_res, t_res = reservoir_extent(wire)
        t_max = max([float(np.max(np.asarray(wire.temperature)))] + [float(np.max(t)) for t in t_res])
        e_max = gap.cutoff if gap is not None else max(vmax, v_res) + 2.0 + 30.0 * t_max
    return uniform_grid(e_max, spacing)


def _prepare_batch(wire, collisions, biases, grid, spacing, e_max, gap, options, subdivision):
    Vs = jnp.atleast_2d(jnp.asarray(biases, float))
    if Vs.shape[-1] != len(wire.contacts):
        raise ValueError(f"biases must have shape (n_b, {len(wire.contacts)}) (one column per contact), "
                         f"got {Vs.shape}")
    grid = _default_grid(wire, grid, spacing, e_max, gap, Vs)
    return Vs, grid, inelastic_setup(wire, grid, tuple(collisions), gap, options, subdivision)


# ----------------------------------------------------------------- bias sweeps with continuation
class GapSweep(eqx.Module):
    """A bias sweep of the non-equilibrium problem with continuation (`gap_sweep`).

    Attributes:
        biases: ``(n_b, n_c)``.
        up: `InelasticSolution` with a leading bias axis, sweeping up
            from the first bias point (started at ``gap.start``).
        down: the same sweeping back down from the last point (``None`` unless requested).
        bistable: ``(n_b,)`` both sweeps converged to different Delta (hysteresis).
    """

    biases: Array
    up: InelasticSolution
    down: InelasticSolution | None
    bistable: Array | None

    @property
    def delta(self):
        return self.up.delta[:, 0] if self.up.delta.shape[-1] == 1 else self.up.delta

    @property
    def converged(self):
        return self.up.converged


def _sweep_core(wire, collisions, gap, Vs, st, grid):
    solve = _make_solver(st, warm=True)
    p0 = _Params(wire=wire, collisions=tuple(collisions), gap=gap, V=Vs[0])
    u0, _ = _elastic_start(p0, st, _initial(wire, st, gap))

    def step(u, V):
        p = _Params(wire=wire, collisions=tuple(collisions), gap=gap, V=V)
        starts = (u, _elastic_start(lax.stop_gradient(p), st, _initial(wire, st, gap))[0])

        # try the continuation start; where it fails, retry from the elastic solution at the starting Delta
        def attempt(i, out):
            u_i = jax.tree.map(lambda a, b: jnp.where(i == 0, a, b), *starts)
            return lax.cond(out[1] > 0.5, lambda: out, lambda: solve(p, u_i))

        none = (u, jnp.asarray(0.0), jnp.asarray(jnp.inf), jnp.asarray(0))
        un, ok, res, k = lax.fori_loop(0, 2, attempt, none)
        u_next = jax.tree.map(lambda a, b: jnp.where(ok > 0.5, a, b), lax.stop_gradient(un), u)
        return u_next, _package(p, st, grid, un, ok, res, k)

    _, out = lax.scan(step, u0, Vs)
    return out


_sweep_jit = val.jit_known_zeros(_sweep_core)


def gap_sweep(wire: Wire, collisions: Sequence, biases, *, gap: GapEquation | None = None,
              grid: EnergyGrid | None = None, spacing: float = 0.025, e_max: float | None = None,
              options: NewtonOptions | None = None, subdivision: int = 8, both_directions: bool = False,
              branch_tol: float = 1e-4) -> GapSweep:
    """Sweep the biases ``(n_b, n_c)`` with continuation (each point starts from the previous solution).

    This is how a bias is swept in an experiment, and it makes each point a
    few Newton steps.  With ``both_directions`` the sweep is repeated from the
    last point back to the first; points where the two converged sweeps
    disagree on Delta by more than ``branch_tol`` are flagged ``bistable``.
    A point where continuation fails is retried from the elastic solution;
    points that still fail are flagged (``converged``), never hidden, and the
    sweep goes on from the last converged solution.
    """
    wire = check_wire(wire, stationary=False)  # closed wires: inelastic_setup (it knows the collisions)
    Vs, grid, st = _prepare_batch(wire, collisions, biases, grid, spacing, e_max, gap, options, subdivision)
    up = _sweep_jit(wire, tuple(collisions), gap, Vs, st, grid)
    down = bistable = None
    if both_directions:
        down = _sweep_jit(wire, tuple(collisions), gap, Vs[::-1], st, grid)
        down = jax.tree.map(lambda a: a[::-1], down)
        diff = jnp.max(jnp.abs(up.delta - down.delta), axis=-1)
        bistable = up.converged & down.converged & (diff > branch_tol)
    return GapSweep(biases=Vs, up=up, down=down, bistable=bistable)


def detector_currents(sol: InelasticSolution, wire: Wire, detector: int, V_det):
    r"""Charge current from the wire into contact ``detector`` at biases ``V_det`` (n_d,), split in two.

    Returns ``(I_N, I_S)``: ``I_N`` is the part driven by the detector's own
    distribution (``~ int N(E; Delta) f_T^N(V_det)``), which depends on the
    injector only through the spectrum; ``I_S`` is the part driven by the
    wire's distribution at the detector (charge imbalance).  The detector's
    back-action at ``V_det != 0`` is neglected (seed 001 Appendix B).
    Works on one solution (no leading bias axis).
    """

    E = sol.kinetic.energy.points
    i = sol.kinetic.response.nodes[detector]
    c = wire.contacts[detector]
    dos = sol.kinetic.dos[:, i, :]
    h = sol.kinetic.sectors[:, i, :]

    def one(v):
        K, he, _ = contact_drive(c, wire, E, v, dos)
        sN = jnp.einsum("eij,ej->ei", K, he)[:, None, :]
        sS = -jnp.einsum("eij,ej->ei", K, h)[:, None, :]
        return -currents_from_fluxes(sN, sol.kinetic.energy)[0][0], -currents_from_fluxes(sS, sol.kinetic.energy)[0][0]

    return jax.vmap(one)(jnp.atleast_1d(jnp.asarray(V_det, float)))


class NonlocalGapMap(eqx.Module):
    r"""Non-local conductance of a self-consistent, inelastic sweep (seed 001 Figs. 11-12).

    ``g_nl = dI_det / dV_inj`` (exact, by implicit differentiation), ``g_sa``:
    its part from the Delta modulation of the detector DOS (odd in ``V_inj``
    and ``V_det``), ``g_ss``: the charge-imbalance part.  Shapes
    ``(n_inj, n_det)``; ``delta`` ``(n_inj,)``; currents in ``Delta0/(e R_xi)``,
    conductances in ``1/R_xi``.
    """

    V_inj: Array
    V_det: Array
    delta: Array
    d_delta: Array
    converged: Array
    I_det: Array
    g_nl: Array
    g_sa: Array
    g_ss: Array
    sweep: GapSweep


def map_core(wire, collisions, gap, Vs, st, grid, V_det, injector, detector):
    def f(Vi):
        Vfull = jnp.zeros((Vi.shape[0], len(wire.contacts))).at[:, injector].set(Vi)
        out = _sweep_core(wire, collisions, gap, Vfull, st, grid)
        IN, IS = jax.vmap(lambda s: detector_currents(s, wire, detector, V_det))(out)
        return (IN, IS, out.delta[:, 0]), out

    (IN, IS, dl), (dIN, dIS, ddl), out = jax.jvp(f, (Vs,), (jnp.ones_like(Vs),), has_aux=True)
    return IN + IS, dIN + dIS, dIN, dIS, dl, ddl, out


map_jit = val.jit_known_zeros(map_core)


def nonlocal_gap_map(wire: Wire, collisions: Sequence, V_inj, V_det, *, gap: GapEquation, injector: int = 0,
                     detector: int = 1, grid: EnergyGrid | None = None, spacing: float = 0.025,
                     options: NewtonOptions | None = None, subdivision: int = 8) -> NonlocalGapMap:
    """Self-consistent ``Delta(V_inj)`` with collisions and the non-local conductance map ``g(V_inj, V_det)``.

    The injector bias is swept upwards with continuation (other contacts at
    zero bias); ``g_nl`` is the exact derivative of the detector current along
    the solution branch (implicit differentiation through Newton, no finite
    differences).  The detector's bias enters only its own current (seed 001).
    """
    wire = check_wire(wire, stationary=False)  # closed wires: inelastic_setup (it knows the collisions)
    Vi = jnp.atleast_1d(jnp.asarray(V_inj, float))
    Vd = jnp.atleast_1d(jnp.asarray(V_det, float))
    if gap.where != "injector":
        raise ValueError("nonlocal_gap_map uses one Delta for the wire: GapEquation(where='injector')")
    grid = _default_grid(wire, grid, spacing, None, gap, Vi)
    st = inelastic_setup(wire, grid, tuple(collisions), gap, options, subdivision)
    I, g, gN, gS, dl, ddl, out = map_jit(wire, tuple(collisions), gap, Vi, st, grid, Vd, injector, detector)
    sweep = GapSweep(biases=jnp.zeros((Vi.shape[0], len(wire.contacts))).at[:, injector].set(Vi), up=out,
                     down=None, bistable=None)
    return NonlocalGapMap(V_inj=Vi, V_det=Vd, delta=dl, d_delta=ddl, converged=out.converged, I_det=I, g_nl=g,
                          g_sa=gN, g_ss=gS, sweep=sweep)
