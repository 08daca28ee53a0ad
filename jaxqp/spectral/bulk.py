r"""Homogeneous (0-D) spin-split superconductor: retarded Green's functions.

Equation (Maki-Fulde form, docs/theory.md section 2).  In terms of the
renormalised energies $v_\sigma = \Delta u_\sigma$ (with the usual
variable $u_\sigma = \coth\theta_\sigma$) and
$s_\sigma = \sqrt{\Delta^2 - v_\sigma^2}$,

$$
R_\sigma(v) = v_\sigma - \epsilon_\sigma - \zeta\,\frac{v_\sigma}{s_\sigma}
- b_{so}\,\frac{v_{-\sigma} - v_\sigma}{s_{-\sigma}}
- b_{sf}\Big[\frac{v_{-\sigma} + v_\sigma}{s_{-\sigma}} + \frac{v_\sigma}{s_\sigma}\Big] = 0,
\qquad \epsilon_\sigma = E + \sigma h + i\Gamma .
$$

The retarded branch of the square root is the one with
$\mathrm{Re}\,g_\sigma \ge 0$, where

$$
g_\sigma = \cosh\theta_\sigma = -i\,v_\sigma/s_\sigma, \qquad
f_\sigma = \sinh\theta_\sigma = -i\,\Delta/s_\sigma, \qquad
N_\sigma = \mathrm{Re}\,g_\sigma .
$$

Writing the equation for $v$ rather than $u$ keeps it regular at
Delta = 0 (normal state: g = 1, f = 0) and makes the linearised gap equation
the same code at Delta = 0.

Algorithm.  Newton's method with the analytic 2 x 2 complex Jacobian, on all
energies at once (array code, so ``vmap``/``jit`` and any batch shape work).
The retarded branch is kept by continuation in the imaginary part of the
energy: the solve starts at $E + i\eta_0$, where the large-energy
asymptote $v_\sigma \approx \epsilon_\sigma + i(\zeta + 3 b_{sf})$ is
accurate, and lowers $\eta$ geometrically (one Newton step per stage)
to the physical value, then iterates to convergence.  The whole path stays in
the upper half plane of energy, where the retarded function is analytic and
has a positive spectral weight, so no branch cut is crossed.  Elements that
fail the convergence test are re-solved along a finer path.  Without any of
zeta, b_so, b_sf the equation is linear (Dynes-BCS) and is solved exactly
with no iteration.

Differentiation.  The solution is differentiated by the implicit function
theorem (``jax.custom_jvp``): dv = -J^{-1} dR, with the same analytic
Jacobian; forward and reverse mode both work, with respect to the energy and
every parameter.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array, lax
from jax.custom_derivatives import SymbolicZero

from ..internal import config as _config
from ..internal import validation as val


class SpectralParams(NamedTuple):
    """The parameters of the homogeneous retarded equation, in units of Delta0.

    ``h`` spin splitting (Zeeman or exchange), ``delta`` pair potential, ``zeta`` orbital
    depairing, ``b_so`` / ``b_sf`` spin-orbit and spin-flip rates.  Each may be an array (they
    broadcast with the energies).  A material's view: `jaxqp.Superconductor.spectral_params`.
    """

    h: object = 0.0
    delta: object = 1.0
    zeta: object = 0.0
    b_so: object = 0.0
    b_sf: object = 0.0


class _Options(NamedTuple):
    rtol: float
    maxiter: int
    q: float
    q_fallback: float
    maxiter_fallback: int
    res_tol: float


def _default_options(rtol=None, maxiter=None) -> _Options:
    x64 = _config.x64_enabled()
    rtol = _config.default_rtol() if rtol is None else float(rtol)
    return _Options(
        rtol=rtol,
        maxiter=60 if maxiter is None else int(maxiter),
        q=0.15,
        q_fallback=0.5,
        maxiter_fallback=160 if maxiter is None else 3 * int(maxiter),
        res_tol=max(1e3 * rtol, 1e-9) if x64 else 1e-3,
    )


def _eta_floor() -> float:
    # the +i0 of the retarded function; negligible but it keeps E = +-Delta finite for Gamma = 0
    return 1e-12 if _config.x64_enabled() else 1e-6


# ----------------------------------------------------------------------------------------
# residual and Jacobian (elementwise, arrays of any common shape)


def _branch(v, delta):
    """Return (a, c) = (v/s, 1/s) on the retarded branch Re(g) = Im(v/s) >= 0."""
    s = jnp.sqrt(delta * delta - v * v)
    c = 1.0 / s
    a = v * c
    flip = jnp.imag(a) < 0
    return jnp.where(flip, -a, a), jnp.where(flip, -c, c)


def _residual(vu, vd, eu, ed, delta, zeta, bso, bsf):
    au, cu = _branch(vu, delta)
    ad, cd = _branch(vd, delta)
    ru = vu - eu - zeta * au - bso * (vd - vu) * cd - bsf * ((vd + vu) * cd + au)
    rd = vd - ed - zeta * ad - bso * (vu - vd) * cu - bsf * ((vu + vd) * cu + ad)
    return ru, rd


def _residual_and_jacobian(vu, vd, eu, ed, delta, zeta, bso, bsf):
    au, cu = _branch(vu, delta)
    ad, cd = _branch(vd, delta)
    ru = vu - eu - zeta * au - bso * (vd - vu) * cd - bsf * ((vd + vu) * cd + au)
    rd = vd - ed - zeta * ad - bso * (vu - vd) * cu - bsf * ((vu + vd) * cu + ad)
    d2 = delta * delta
    cu3 = cu * cu * cu
    cd3 = cd * cd * cd
    # d(v/s)/dv = Delta^2 / s^3,  d(1/s)/dv = v / s^3
    juu = 1.0 - zeta * d2 * cu3 + bso * cd - bsf * (cd + d2 * cu3)
    jdd = 1.0 - zeta * d2 * cd3 + bso * cu - bsf * (cu + d2 * cd3)
    jud = -bso * (cd + (vd - vu) * vd * cd3) - bsf * (cd + (vd + vu) * vd * cd3)
    jdu = -bso * (cu + (vu - vd) * vu * cu3) - bsf * (cu + (vu + vd) * vu * cu3)
    return (ru, rd), (juu, jud, jdu, jdd)


def _solve2(jac, ru, rd):
    juu, jud, jdu, jdd = jac
    det = juu * jdd - jud * jdu
    return (jdd * ru - jud * rd) / det, (juu * rd - jdu * ru) / det


# ----------------------------------------------------------------------------------------
# Newton with continuation in the imaginary part of the energy


def _relative_residual(vu, vd, eu, ed, delta, zeta, bso, bsf):
    ru, rd = _residual(vu, vd, eu, ed, delta, zeta, bso, bsf)
    scale = jnp.abs(eu) + jnp.abs(ed) + jnp.abs(vu) + jnp.abs(vd) + delta + zeta + bso + bsf
    r = (jnp.abs(ru) + jnp.abs(rd)) / scale
    return jnp.where(jnp.isfinite(r), r, jnp.inf)


def _solve_primal(z, h, delta, zeta, bso, bsf, opts: _Options):
    """Newton with continuation in Im(E); one loop, two passes.  Returns (v_up, v_dn, converged).

    Pass 0 follows the root from E + i*eta0 down to E with ratio ``q`` per
    stage (one Newton step per stage), then iterates to convergence.  Elements
    whose residual is then still too large are restarted in pass 1 along a
    finer path (ratio ``q_fallback``) from twice as high.
    """
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for x in (z, h, delta, zeta, bso, bsf)))
    cdtype = jnp.result_type(z, 1j)
    z = jnp.broadcast_to(z, shape).astype(cdtype) + 1j * _eta_floor()
    h, delta, zeta, bso, bsf = (jnp.broadcast_to(x, shape) for x in (h, delta, zeta, bso, bsf))
    eu = z + h
    ed = z - h
    args = (eu, ed, delta, zeta, bso, bsf)
    nonlinear = (zeta != 0) | (bso != 0) | (bsf != 0)
    # Start on the large-energy asymptote, high in the upper half plane.
    eta0 = 2.0 * (delta + jnp.abs(h) + zeta + bso + bsf + 0.5)
    eta0 = jnp.max(jnp.where(nonlinear, eta0, 0.0), initial=0.0)
    shift = 1j * (zeta + 3.0 * bsf)
    # the path need not go far below the smallest physical imaginary part (Gamma, Matsubara omega)
    im_min = jnp.min(jnp.where(nonlinear, jnp.imag(z), jnp.inf), initial=jnp.inf)
    eta_stop0 = jnp.clip(1e-3 * im_min, 1e-9, 1e-3)
    rdt = jnp.real(z).dtype
    tiny = jnp.finfo(rdt).tiny

    def start(eta):
        return eu + 1j * eta + shift, ed + 1j * eta + shift

    def cond(state):
        return state[-1] < 2

    def body(state):
        vu, vd, eta, eta_stop, q, k, err, active, phase = state
        eta = jnp.where(eta * q < eta_stop, 0.0, eta * q)
        ieta = 1j * eta
        (ru, rd), jac = _residual_and_jacobian(vu, vd, eu + ieta, ed + ieta, delta, zeta, bso, bsf)
        du, dd = _solve2(jac, ru, rd)
        scale = jnp.abs(vu) + jnp.abs(vd) + delta + tiny
        step = (jnp.abs(du) + jnp.abs(dd)) / scale
        step = jnp.where(active, jnp.where(jnp.isfinite(step), step, jnp.inf), 0.0)
        vu = jnp.where(active, vu - du, vu)
        vd = jnp.where(active, vd - dd, vd)
        err = jnp.max(step)
        k = k + 1
        cap = jnp.where(phase == 0, opts.maxiter, opts.maxiter_fallback)
        finished = (eta == 0) & ((err <= opts.rtol) | (k >= cap))

        def next_phase(_):
            bad = nonlinear & (_relative_residual(vu, vd, *args) > opts.res_tol)
            go = (phase == 0) & jnp.any(bad)
            su, sd = start(2.0 * eta0)
            return (
                jnp.where(go & bad, su, vu),
                jnp.where(go & bad, sd, vd),
                jnp.where(go, 2.0 * eta0, eta),
                jnp.where(go, jnp.asarray(1e-9, rdt), eta_stop),
                jnp.where(go, jnp.asarray(opts.q_fallback, rdt), q),
                jnp.where(go, 0, k),
                jnp.where(go, jnp.inf, err),
                jnp.where(go, bad, active),
                jnp.where(go, 1, 2),
            )

        def keep(_):
            return vu, vd, eta, eta_stop, q, k, err, active, phase

        return lax.cond(finished, next_phase, keep, None)

    def iterate(_):
        vu, vd = start(eta0)
        vu = jnp.where(nonlinear, vu, eu)  # linear elements are already solved
        vd = jnp.where(nonlinear, vd, ed)
        state = (
            vu, vd, eta0.astype(rdt), eta_stop0.astype(rdt), jnp.asarray(opts.q, rdt), jnp.asarray(0),
            jnp.asarray(jnp.inf, rdt), nonlinear, jnp.asarray(0),
        )
        state = lax.while_loop(cond, body, state)
        vu, vd = state[0], state[1]
        ok = ~nonlinear | (_relative_residual(vu, vd, *args) <= opts.res_tol)
        return vu, vd, ok

    # Dynes-BCS (no depairing, no spin mixing) is linear: v = E + sigma h + i Gamma exactly
    return lax.cond(jnp.any(nonlinear), iterate, lambda _: (eu, ed, jnp.ones(shape, bool)), None)


@functools.partial(jax.custom_jvp, nondiff_argnums=(6,))
def _core(z, h, delta, zeta, bso, bsf, opts):
    """Return ((vu, vd), (au, ad), (cu, cd), ok): v = Delta coth(theta), a = v/s, c = 1/s.

    ``ok`` (1.0 converged, 0.0 not) is a float so that it can ride along the
    custom derivative with a zero tangent.
    """
    vu, vd, ok = _solve_primal(z, h, delta, zeta, bso, bsf, opts)
    au, cu = _branch(vu, delta)
    ad, cd = _branch(vd, delta)
    return (vu, vd), (au, ad), (cu, cd), ok.astype(jnp.real(vu).dtype)


def _tangent(t):
    """None for a symbolically zero tangent, else the tangent."""
    return None if isinstance(t, SymbolicZero) else t


def _core_jvp(opts, primals, tangents):
    """Implicit differentiation: dv = -J^{-1} dR with analytic partial derivatives.

    Symbolically zero tangents (e.g. everything but the energy in dI/dV) are
    skipped.
    """
    z, h, delta, zeta, bso, bsf = primals
    dz, dh, ddelta, dzeta, dbso, dbsf = (_tangent(t) for t in tangents)
    # the primal through _core itself: an outer derivative (reverse over this forward one, e.g. the
    # gradient of a conductance) then uses this rule again instead of differentiating the Newton loop
    (vu, vd), _, _, okf = _core(z, h, delta, zeta, bso, bsf, opts)
    shape = vu.shape
    au, cu = _branch(vu, delta)
    ad, cd = _branch(vd, delta)
    cu3, cd3 = cu * cu * cu, cd * cd * cd
    d2 = delta * delta
    # Jacobian of R(v) at the solution (diagonal u/d, off-diagonal ud/du)
    juu = 1.0 - zeta * d2 * cu3 + bso * cd - bsf * (cd + d2 * cu3)
    jdd = 1.0 - zeta * d2 * cd3 + bso * cu - bsf * (cu + d2 * cd3)
    jud = -bso * (cd + (vd - vu) * vd * cd3) - bsf * (cd + (vd + vu) * vd * cd3)
    jdu = -bso * (cu + (vu - vd) * vu * cu3) - bsf * (cu + (vu + vd) * vu * cu3)
    # partial derivatives of R, contracted with the parameter tangents
    dau_dD, dad_dD = -delta * vu * cu3, -delta * vd * cd3
    dcu_dD, dcd_dD = -delta * cu3, -delta * cd3
    dRu = jnp.zeros(shape, vu.dtype)
    dRd = jnp.zeros(shape, vu.dtype)
    if dz is not None:
        dRu = dRu - dz
        dRd = dRd - dz
    if dh is not None:
        dRu = dRu - dh
        dRd = dRd + dh
    if dzeta is not None:
        dRu = dRu - dzeta * au
        dRd = dRd - dzeta * ad
    if dbso is not None:
        dRu = dRu - dbso * (vd - vu) * cd
        dRd = dRd - dbso * (vu - vd) * cu
    if dbsf is not None:
        dRu = dRu - dbsf * ((vd + vu) * cd + au)
        dRd = dRd - dbsf * ((vu + vd) * cu + ad)
    if ddelta is not None:
        dRu = dRu - (zeta * dau_dD + bso * (vd - vu) * dcd_dD + bsf * ((vd + vu) * dcd_dD + dau_dD)) * ddelta
        dRd = dRd - (zeta * dad_dD + bso * (vu - vd) * dcu_dD + bsf * ((vu + vd) * dcu_dD + dad_dD)) * ddelta
    det = juu * jdd - jud * jdu
    dvu = jnp.broadcast_to(-(jdd * dRu - jud * dRd) / det, shape)
    dvd = jnp.broadcast_to(-(juu * dRd - jdu * dRu) / det, shape)
    dau = d2 * cu3 * dvu
    dad = d2 * cd3 * dvd
    dcu = vu * cu3 * dvu
    dcd = vd * cd3 * dvd
    if ddelta is not None:
        dau, dad = dau + dau_dD * ddelta, dad + dad_dD * ddelta
        dcu, dcd = dcu + dcu_dD * ddelta, dcd + dcd_dD * ddelta
    bc = lambda x: jnp.broadcast_to(x, shape)  # noqa: E731
    primal = ((vu, vd), (au, ad), (cu, cd), okf)
    tangent = ((dvu, dvd), (bc(dau), bc(dad)), (bc(dcu), bc(dcd)), jnp.zeros_like(okf))
    return primal, tangent


_core.defjvp(_core_jvp, symbolic_zeros=True)


# ----------------------------------------------------------------------------------------
# public interface


class SpectralSolution(eqx.Module):
    """Retarded Green's functions of a homogeneous superconductor.

    Spin is the leading axis of every field: index 0 is spin up, 1 spin down.

    - ``energy``: the energies (broadcast to the batch shape).
    - ``v``: renormalised energies v = Delta coth(theta), shape (2, ...).
    - ``g``: normal component cosh(theta); ``dos`` = Re g.
    - ``f``: anomalous component sinh(theta).  The function written F in seed
      001 (Eq. 1) is ``1j * f``: Im F = Re f enters the gap equation, Re F = -Im f
      the charge relaxation.
    - ``converged``: bool per energy; ``residual``: relative residual per energy.
    """

    energy: Array
    v: Array
    g: Array
    f: Array
    converged: Array
    residual: Array

    @property
    def dos(self) -> Array:
        return jnp.real(self.g)

    @property
    def dos_total(self) -> Array:
        """(N_up + N_dn) / 2."""
        return 0.5 * (self.dos[0] + self.dos[1])


def _as_params(z, h, delta, zeta, b_so, b_sf):
    z = jnp.asarray(z)
    rdt = jnp.real(z).dtype if jnp.iscomplexobj(z) else jnp.result_type(z, 1.0)
    return z, tuple(jnp.asarray(x, dtype=rdt) for x in (h, delta, zeta, b_so, b_sf))


def _solved(z, params: tuple, options):
    """``(z, parameters as arrays, core variables)``.

    Where ``zeta``, ``b_so`` and ``b_sf`` are known zeros (concrete values, e.g.
    the Python zeros of the bulk gap of a material without pair breaking), the
    equation is linear, ``v = z + i eta_floor +- h``, and the closed form
    replaces the Newton solve and its derivative rule: a much smaller program,
    differentiable by plain autodiff.  Traced values take the general path.
    """
    opts = _default_options() if options is None else options
    linear = all(val.known_zero(x) for x in params[2:])
    z, args = _as_params(z, *params)
    if not linear:
        return z, args, _core(z, *args, opts)
    h, delta = args[0], args[1]
    shape = jnp.broadcast_shapes(jnp.shape(z), *(jnp.shape(a) for a in args))
    zf = jnp.broadcast_to(z, shape).astype(jnp.result_type(z, 1j)) + 1j * _eta_floor()
    vu, vd = zf + h, zf - h
    au, cu = _branch(vu, delta)
    ad, cd = _branch(vd, delta)
    return z, args, ((vu, vd), (au, ad), (cu, cd), jnp.ones(shape, jnp.real(vu).dtype))


def _parameters(h, delta, zeta, b_so, b_sf) -> tuple:
    """``(h, delta, zeta, b_so, b_sf)`` from a `SpectralParams` or the five numbers."""
    if isinstance(h, SpectralParams):
        if delta is not None:
            raise TypeError("give the parameters as one SpectralParams or as h, delta, zeta, b_so, b_sf, not both")
        return tuple(h)
    if delta is None:
        raise TypeError("the spectral solve needs delta (or a SpectralParams)")
    return h, delta, zeta, b_so, b_sf


def renormalized(z, h, delta=None, zeta=0.0, b_so=0.0, b_sf=0.0, *, options: _Options | None = None):
    """Core variables ``(v, v/s, 1/s, converged)``: the first three (2, ...), with
    s = sqrt(Delta^2 - v^2) retarded, and a converged flag (...) per energy.

    ``1/s`` is F/Delta, finite at Delta = 0 (the linearised gap equation uses it).
    """
    z, args, (v, a, c, ok) = _solved(z, _parameters(h, delta, zeta, b_so, b_sf), options)
    return jnp.stack(v), jnp.stack(a), jnp.stack(c), lax.stop_gradient(ok) > 0.5


@val.compiled_when_eager
def green_functions(z, h, delta=None, zeta=0.0, b_so=0.0, b_sf=0.0, *, options: _Options | None = None,
                    with_residual: bool = False):
    """Core: solve at complex energies ``z = E + i Gamma`` (Matsubara: ``z = i omega``).

    The parameters are a `SpectralParams` (``green_functions(z, sc.spectral_params())``) or the
    five numbers ``h, delta, zeta, b_so, b_sf`` in that order.

    Returns ``(v, g, f, converged)`` with spin as the leading axis of v, g, f and
    ``converged`` (bool) per energy, plus the relative residual per energy if
    ``with_residual``.  Pure and differentiable; no input checks (use
    `solve` for those).
    """
    z, args, (v, a, c, ok) = _solved(z, _parameters(h, delta, zeta, b_so, b_sf), options)
    v = jnp.stack(v)
    g = -1j * jnp.stack(a)
    f = -1j * args[1] * jnp.stack(c)
    ok = lax.stop_gradient(ok) > 0.5
    if not with_residual:
        return v, g, f, ok
    vs = lax.stop_gradient(v)
    zf = jnp.broadcast_to(z, v.shape[1:]) + 1j * _eta_floor()
    hb = jnp.broadcast_to(args[0], v.shape[1:])
    res = _relative_residual(vs[0], vs[1], zf + hb, zf - hb, *args[1:])
    return v, g, f, ok, lax.stop_gradient(res)


@val.jit_known_zeros
def _solve_jit(sc, E, options):
    E = jnp.asarray(E)
    z = E + 1j * sc.gamma
    v, g, f, ok, res = green_functions(z, sc.spectral_params(), options=options, with_residual=True)
    conv = ok & jnp.all(jnp.isfinite(g), axis=0) & jnp.all(jnp.isfinite(f), axis=0)
    return SpectralSolution(
        energy=jnp.broadcast_to(E, v.shape[1:]), v=v, g=g, f=f, converged=conv, residual=res
    )


def solve(sc, E, *, rtol: float | None = None, maxiter: int | None = None) -> SpectralSolution:
    r"""Solve the homogeneous spin-split Usadel (Maki-Fulde) equation.

    $$
    v_\sigma = E + \sigma h + i\Gamma + \zeta \frac{v_\sigma}{s_\sigma}
    + b_{so}\frac{v_{-\sigma}-v_\sigma}{s_{-\sigma}}
    + b_{sf}\Big[\frac{v_{-\sigma}+v_\sigma}{s_{-\sigma}} + \frac{v_\sigma}{s_\sigma}\Big]
    $$

    Args:
        sc: a `jaxqp.Superconductor` (fields may be arrays; they broadcast
            with ``E``).
        E: real energies in units of Delta0, any shape ``(...)``.
        rtol: relative step tolerance of Newton (default 1e-12 in float64).
        maxiter: iteration cap of the first pass (default 60).

    Returns:
        `SpectralSolution` with fields of shape ``(2, *batch)``,
        ``batch = broadcast(E.shape, sc.batch_shape())``, and per-energy
        ``converged`` and ``residual``.
    """
    val.check_finite("E", E, hint="energies must be real numbers in units of Delta0")
    val.broadcast_shapes_or_raise(
        E=E, delta=sc.delta, h=sc.h, zeta=sc.zeta, b_so=sc.b_so, b_sf=sc.b_sf, gamma=sc.gamma
    )
    if jnp.iscomplexobj(E):
        raise TypeError(
            "E must be real; the Dynes broadening is sc.gamma. For complex energies "
            "use jaxqp.spectral.green_functions(z, ...)."
        )
    return _solve_jit(sc, E, _default_options(rtol, maxiter))


def dos(sc, E) -> Array:
    """Spin-resolved density of states ``[N_up, N_dn]``, shape ``(2, *broadcast(E, sc))``.

    Normalised to 1 per spin in the normal state; N_up(E) = N_BCS(E + h).
    Raises if the solver did not converge at some energy (outside of ``jit``);
    `solve` returns per-energy flags instead.
    """
    s = solve(sc, E)
    val.raise_if_not_converged(s.converged, "the spectral solve", s.energy)
    return s.dos

