r"""Self-consistent pair potential in equilibrium: gap equation, branches, Tc.

Gap equation (docs/theory.md section 3), Matsubara form, Delta0 = 1:

$$
\mathcal G(\Delta, T) = 2\pi T\sum_{n\ge 0}\Big[\mathrm{Re}\,\frac{F_\uparrow + F_\downarrow}{2\Delta}
- \frac{1}{\sqrt{\omega_n^2+1}}\Big] + C(T) = 0,\qquad \omega_n = \pi T(2n+1),
$$

with $F_\sigma/\Delta = 1/\sqrt{\Delta^2 - v_\sigma^2}$ the anomalous
function of `jaxqp.spectral.bulk` at the imaginary energy
$E = i\omega_n$ (it stays finite as Delta -> 0, which gives the
linearised equation), and

$$
C(T) = -2\int_0^\infty \frac{dt}{e^{\cosh t / T} + 1}
$$

the finite-temperature remainder of the BCS reference sum (C(0) = 0).  This
is the weak-coupling limit omega_D -> infinity with the coupling fixed by
Delta(T = 0) = 1 in the BCS case.  With a Debye cutoff (coupling
lambda = 1/arcsinh(omega_D), again Delta(0) = 1 in BCS) the Matsubara sum stops
at omega_D; the part above omega_D is subtracted as an integral, which keeps
the equation smooth in T:
$\mathcal G_D = \mathcal G - \int_{\omega_D}^\infty d\omega\,[\dots]$.

Numerics: the first 128 Matsubara terms exactly, the rest as an integral
(midpoint rule, error O((2 pi T)^2 s'/24), below 1e-6 here), on a mapped
Gauss-Legendre grid that also covers T = 0.

Branches: the free energy relative to the normal state is
$\Omega(\Delta)-\Omega_N = -2 N_0 \int_0^\Delta \Delta' \mathcal G(\Delta') d\Delta'$
(the gap equation is $\partial_\Delta\Omega = 0$).  All roots of the gap
equation on (0, 1.02] are found by a scan and refined by safeguarded
Newton; the thermodynamically stable state is the one of lowest free energy,
the normal state included (Chandrasekhar-Clogston transition at
h = 1/sqrt(2) for T -> 0).  ``gap`` returns it and is differentiated by the
implicit function theorem, dDelta = -(dG/dp) dp / (dG/dDelta).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from .internal import engine
from .internal import validation as val
from .internal.batching import on_buckets
from .internal.roots import bracketed_newton, first_sign_changes
from .spectral.bulk import renormalized

EULER_GAMMA = 0.5772156649015329
TC0 = float(np.exp(EULER_GAMMA) / np.pi)  #: weak-coupling k_B Tc / Delta0 = e^gamma / pi

_N_MATSUBARA = 128
_N_TAIL = 64
_N_SCAN = 40
_N_BRANCH = 3
_N_FREE = 32
_DELTA_MAX = 1.02

_gl_x, _gl_w = np.polynomial.legendre.leggauss(_N_TAIL)
_GL_U = (_gl_x + 1.0) / 2.0
_GL_WU = _gl_w / 2.0
_fe_x, _fe_w = np.polynomial.legendre.leggauss(_N_FREE)
_FE_U = (_fe_x + 1.0) / 2.0
_FE_W = _fe_w / 2.0
_c_x, _c_w = np.polynomial.legendre.leggauss(64)


class _Params(NamedTuple):
    h: Array
    zeta: Array | float  # a Python 0.0 marks a known zero (GapKind.pair_breaking False)
    b_so: Array | float
    b_sf: Array | float
    gamma: Array
    omega_D: Array  # +inf for the weak-coupling limit


class GapKind(NamedTuple):
    """Static facts of a gap problem, fixed when the program is traced.

    ``debye``: a finite Debye cutoff (else the weak-coupling limit).
    ``pair_breaking``: zeta, b_so or b_sf may be nonzero.  When they are known
    zeros (concrete values, not traced), the Matsubara Green functions take
    the closed form of the bulk solver instead of its Newton solve.
    """

    debye: bool
    pair_breaking: bool = True


def _without_pair_breaking(p: _Params) -> _Params:
    """``p`` with Python zeros for zeta, b_so and b_sf (the bulk solver's closed form)."""
    return p._replace(zeta=0.0, b_so=0.0, b_sf=0.0)


def _expand(p: _Params) -> _Params:
    """A trailing axis on every array parameter (Python zeros stay as they are)."""
    return _Params._make(x if isinstance(x, float) else x[..., None] for x in p)


def _pair_over_delta(omega, delta, p: _Params):
    """Re (F_up + F_dn) / (2 Delta) at Matsubara energy i*omega (omega > 0)."""
    z = 1j * (omega + p.gamma)
    _, _, c, ok = renormalized(z, p.h, delta, p.zeta, p.b_so, p.b_sf)
    # F/Delta = 1/s, regular at Delta = 0; NaN where the spectral solve failed
    return jnp.where(ok, jnp.real(0.5 * (c[0] + c[1])), jnp.nan)


def _summand(omega, delta, p):
    return _pair_over_delta(omega, delta, p) - 1.0 / jnp.sqrt(omega * omega + 1.0)


def _tail_nodes(start, scale):
    """Nodes and weights of int_start^inf d omega, omega = start + scale (u/(1-u))^2."""
    u = jnp.asarray(_GL_U)
    r = u / (1.0 - u)
    om = start[..., None] + scale[..., None] * r * r
    w = scale[..., None] * 2.0 * r / (1.0 - u) ** 2 * _GL_WU
    return om, w


def _thermal_remainder(T):
    """C(T) = -2 int_0^inf dt / (exp(cosh t / T) + 1)."""
    T = jnp.asarray(T)
    pos = T > 0
    Ts = jnp.where(pos, T, 1.0)
    tmax = jnp.arccosh(1.0 + 50.0 * Ts) + 1.0
    t = (jnp.asarray(_c_x) + 1.0)[..., :] * 0.5 * tmax[..., None]
    x = jnp.cosh(t) / Ts[..., None]
    integrand = jnp.exp(-x) / (1.0 + jnp.exp(-x))
    val = -2.0 * jnp.sum(integrand * jnp.asarray(_c_w), axis=-1) * 0.5 * tmax
    return jnp.where(pos, val, 0.0)


def _gap_function(delta, T, p: _Params, kind: GapKind):
    """The gap equation G(Delta, T); arrays broadcast.  Differentiable.

    All Matsubara nodes (exact terms, the integral above them and, with a
    Debye cutoff, the subtracted integral above omega_D) go through one
    spectral solve.
    """
    delta = jnp.asarray(delta)
    T = jnp.asarray(T)
    shape = jnp.broadcast_shapes(delta.shape, T.shape, *(jnp.shape(x) for x in p))
    delta = jnp.broadcast_to(delta, shape)
    T = jnp.broadcast_to(T, shape)
    p = _Params(*(jnp.broadcast_to(x, shape) for x in p))
    if not kind.pair_breaking:
        p = _without_pair_breaking(p)
    n = jnp.arange(_N_MATSUBARA)
    omega = [jnp.pi * T[..., None] * (2 * n + 1)]
    weight = [jnp.broadcast_to(2.0 * jnp.pi * T[..., None], omega[0].shape)]
    scale = 1.0 + jnp.abs(p.h) + p.zeta + 3.0 * p.b_sf + p.gamma + delta
    om, w = _tail_nodes(2.0 * jnp.pi * T * _N_MATSUBARA, scale)
    omega.append(om)
    weight.append(w)
    if kind.debye:
        wd = jnp.where(jnp.isfinite(p.omega_D), p.omega_D, 1.0)
        om, w = _tail_nodes(wd, jnp.maximum(scale, wd))
        omega.append(om)
        weight.append(-w)
    nodes, weights = jnp.concatenate(omega, axis=-1), jnp.concatenate(weight, axis=-1)
    pb = _expand(p)
    return jnp.sum(weights * _summand(nodes, delta[..., None], pb), axis=-1) + _thermal_remainder(T)


def gap_equation(delta, T, h=0.0, zeta=0.0, b_so=0.0, b_sf=0.0, gamma=0.0, omega_D=None) -> Array:
    r"""Value of the gap equation $\mathcal G(\Delta, T)$; zero at a self-consistent Delta.

    Positive where the normal state (Delta -> 0) is unstable.  ``omega_D=None``
    is the weak-coupling limit; a number applies the Debye cutoff of seed 001
    Appendix B (coupling 1/arcsinh(omega_D)).
    """
    p, kind = gap_params(h, zeta, b_so, b_sf, gamma, omega_D)
    return _gap_function_jit(jnp.asarray(delta, float), jnp.asarray(T, float), p, kind)


_gap_function_jit = jax.jit(_gap_function, static_argnums=(3,))


def gap_params(h, zeta, b_so, b_sf, gamma, omega_D) -> tuple[_Params, GapKind]:
    """The parameters as arrays, and the static `GapKind` of the problem."""
    f = lambda x: jnp.asarray(x, dtype=float)  # noqa: E731
    wd = f(jnp.inf if omega_D is None else omega_D)
    kind = GapKind(debye=omega_D is not None, pair_breaking=not all(val.known_zero(x) for x in (zeta, b_so, b_sf)))
    return _Params(f(h), f(zeta), f(b_so), f(b_sf), f(gamma), wd), kind


# ----------------------------------------------------------------------------------------
# roots of the gap equation


def _refine(a, b, Ga, Gb, T, p, kind, active):
    """Roots of G(Delta) on the ``active`` brackets [a, b]; returns (Delta, converged, dG/dDelta)."""

    def G_and_dG(x):
        return jax.jvp(lambda d: _gap_function(d, T, p, kind), (x,), (jnp.ones_like(x),))

    return bracketed_newton(G_and_dG, a, b, Ga, Gb, active=active)


def _free_energy(delta, T, p, kind):
    """Omega(Delta) - Omega_N in units of N0 Delta0^2: -2 int_0^Delta d' G(d') dd'."""
    # split at d' = |h| where G has a square-root kink at low temperature
    k = jnp.clip(jnp.abs(p.h), 0.0, delta)
    u = jnp.asarray(_FE_U)
    w = jnp.asarray(_FE_W)

    d = jnp.concatenate([k[..., None] * u, k[..., None] + (delta - k)[..., None] * u], axis=-1)
    wd = jnp.concatenate([k[..., None] * w, (delta - k)[..., None] * w], axis=-1)
    pb = _expand(p)
    G = _gap_function(d, T[..., None], pb, kind)
    return -2.0 * jnp.sum(d * G * wd, axis=-1)


class GapBranches(eqx.Module):
    """All solutions of the gap equation at given (T, h, ...), shape ``(..., 3)``.

    - ``delta``: superconducting solutions (NaN where ``valid`` is False), sorted
      by size; the normal state Delta = 0 is always a solution and is not listed.
    - ``valid``: which entries are solutions.
    - ``locally_stable``: dG/dDelta < 0 (a free-energy minimum).
    - ``free_energy``: Omega - Omega_N in units of N0 Delta0^2 (N0 per spin).
    - ``converged``: the root refinement met its tolerance.
    - ``stable``: the thermodynamically stable Delta (0 if the normal state wins).
    - ``gap_equation_at_zero``: G(0, T); > 0 means the normal state is unstable.
    """

    delta: Array
    valid: Array
    locally_stable: Array
    free_energy: Array
    converged: Array
    stable: Array
    gap_equation_at_zero: Array


def _branches(T, p: _Params, kind: GapKind, all_free_energies: bool = True) -> GapBranches:
    shape = jnp.broadcast_shapes(jnp.shape(T), *(jnp.shape(x) for x in p))
    T = jnp.broadcast_to(T, shape)
    p = _Params(*(jnp.broadcast_to(x, shape) for x in p))
    s = jnp.linspace(0.0, 1.0, _N_SCAN)
    grid = _DELTA_MAX * s**1.5  # includes Delta = 0, denser at small Delta (near Tc)
    pb = _expand(p)
    Gs = _gap_function(grid, T[..., None], pb, kind)  # (..., K)
    i0, valid = first_sign_changes(Gs, _N_BRANCH)
    a = jnp.take(grid, i0)
    b = jnp.take(grid, i0 + 1)
    Ga = jnp.take_along_axis(Gs, i0, axis=-1)
    Gb = jnp.take_along_axis(Gs, i0 + 1, axis=-1)
    # regular brackets for unused slots (keeps the arithmetic finite)
    a = jnp.where(valid, a, 0.5)
    b = jnp.where(valid, b, 0.6)
    Ga = jnp.where(valid, Ga, 1.0)
    Gb = jnp.where(valid, Gb, -1.0)
    Tb = T[..., None]
    # Delta = 0 exactly is the normal state, not a superconducting branch
    x, conv, dG = _refine(a, b, Ga, Gb, Tb, pb, kind, valid)
    valid = valid & (x > 0)
    local = valid & (dG < 0)
    # the free energy decides only where the normal state is locally stable too
    # (G(0) < 0) or several branches compete; skip it when no point needs it
    need = (Gs[..., 0] <= 0) | (jnp.sum(local, axis=-1) > 1)
    if not all_free_energies:
        need_any = jnp.any(need & jnp.any(local, axis=-1))
    else:
        need_any = jnp.asarray(True)
    fe = lax.cond(
        need_any,
        lambda _: _free_energy(jnp.where(valid, x, 0.0), Tb, pb, kind),
        lambda _: jnp.where(local, -jnp.inf, 0.0) * jnp.ones_like(x),
        None,
    )
    fe = jnp.where(valid, fe, jnp.nan)
    cand = jnp.where(local, fe, jnp.inf)
    best = jnp.argmin(cand, axis=-1)
    best_fe = jnp.take_along_axis(cand, best[..., None], axis=-1)[..., 0]
    best_delta = jnp.take_along_axis(x, best[..., None], axis=-1)[..., 0]
    stable = jnp.where(best_fe < 0.0, best_delta, 0.0)
    # a failed spectral solve (NaN in G) or root refinement makes the answer NaN, and gap()
    # raises on it: never a plausible-looking wrong gap
    ok = jnp.all(jnp.isfinite(Gs), axis=-1) & jnp.all(conv | ~valid, axis=-1)
    stable = jnp.where(ok, stable, jnp.nan)
    return GapBranches(
        delta=jnp.where(valid, x, jnp.nan),
        valid=valid,
        locally_stable=local,
        free_energy=fe,
        converged=conv | ~valid,
        stable=stable,
        gap_equation_at_zero=Gs[..., 0],
    )


def _finite_cutoff(p):
    """``p`` with no tangent through an infinite Debye cutoff (the weak-coupling limit)."""
    return p._replace(omega_D=jnp.where(jnp.isfinite(p.omega_D), p.omega_D, lax.stop_gradient(p.omega_D)))


def _scalar_root(primal, residual, inputs):
    """A root per element with implicit derivatives (the shared engine, elementwise Jacobian)."""

    def linearise(x, q):
        return engine.diagonal_system(jax.jvp(lambda y: residual(y, q), (x,), (jnp.ones_like(x),))[1])

    return engine.implicit_solve(lambda q, _: (primal(q), None), residual, linearise, inputs, None)[0]


def _stable_gap(T, p, kind):
    """The stable branch; implicit derivative ``-dG/dp / dG/dDelta`` on the superconducting branch, 0 off it."""

    def residual(d, q):
        T_, p_ = q
        sc = d > 0
        return jnp.where(sc, _gap_function(jnp.where(sc, d, 0.5), T_, _finite_cutoff(p_), kind), d)

    return _scalar_root(lambda q: _branches(q[0], q[1], kind, all_free_energies=False).stable, residual, (T, p))


@functools.partial(jax.jit, static_argnums=(2,))
def gap_jit(T, p, kind):
    return _stable_gap(T, p, kind)


@functools.partial(jax.jit, static_argnums=(2,))
def _branches_jit(T, p, kind):
    return _branches(T, p, kind)


def _check(T, h, zeta, b_so, b_sf, gamma, omega_D):
    val.check_nonnegative("T", T, hint="T is k_B T / Delta0; the weak-coupling Tc is 0.567")
    val.check_finite("h", h)
    val.check_nonnegative("zeta", zeta, hint="the depairing energy is >= 0")
    val.check_nonnegative("b_so", b_so)
    val.check_nonnegative("b_sf", b_sf)
    val.check_nonnegative("gamma", gamma)
    if omega_D is not None:
        val.check_positive("omega_D", omega_D, hint="the Debye energy must be > 0 (e.g. 10 as in seed 001)")
        c = val.concrete(omega_D)
        if c is not None and np.any(c < 2.0):
            raise ValueError(
                f"omega_D = {c.min()} is too small for a gap of order Delta0; use omega_D >= 2 "
                "(or omega_D=None for the weak-coupling limit)"
            )
    val.broadcast_shapes_or_raise(T=T, h=h, zeta=zeta, b_so=b_so, b_sf=b_sf, gamma=gamma, omega_D=omega_D)


def gap(T, h=0.0, zeta=0.0, b_so=0.0, b_sf=0.0, gamma=0.0, *, omega_D=None) -> Array:
    r"""Self-consistent, thermodynamically stable pair potential Delta(T) / Delta0.

    $$
    \mathcal G(\Delta, T; h, \zeta, b_{so}, b_{sf}, \Gamma) = 0
    $$

    Args:
        T: k_B T / Delta0, >= 0 (T = 0 allowed), any shape.
        h, zeta, b_so, b_sf, gamma: spin splitting, orbital depairing,
            spin-orbit and spin-flip scattering energies, Dynes broadening
            (units of Delta0), broadcast with T.
        omega_D: None for the weak-coupling limit (Delta(0) = 1 in BCS), or the
            Debye energy for the cutoff variant of seed 001 Appendix B.

    Returns:
        Delta with the broadcast shape; 0 where the normal state is stable.
        Differentiable in every argument by implicit differentiation.  Use
        `gap_branches` for all solutions, their free energies and
        convergence flags.
    """
    _check(T, h, zeta, b_so, b_sf, gamma, omega_D)
    p, kind = gap_params(h, zeta, b_so, b_sf, gamma, omega_D)
    out = on_buckets(lambda t, *q: gap_jit(t, _Params(*q), kind), T, *p)
    val.raise_if_not_converged(jnp.isfinite(out), "the gap equation",
                               jnp.broadcast_to(jnp.asarray(T, float), out.shape))
    return out


def gap_branches(T, h=0.0, zeta=0.0, b_so=0.0, b_sf=0.0, gamma=0.0, *, omega_D=None) -> GapBranches:
    """Every solution of the gap equation, with stability and free energy; see `GapBranches`."""
    _check(T, h, zeta, b_so, b_sf, gamma, omega_D)
    p, kind = gap_params(h, zeta, b_so, b_sf, gamma, omega_D)
    return on_buckets(lambda t, *q: _branches_jit(t, _Params(*q), kind), T, *p)


# ----------------------------------------------------------------------------------------
# critical temperature


def _tc_core(p: _Params, kind: GapKind, n_scan: int = 48):
    shape = tuple(jnp.broadcast_shapes(*(jnp.shape(x) for x in p)))
    p = _Params(*(jnp.broadcast_to(x, shape) for x in p))
    pb = _expand(p)
    Ts = TC0 * 1.02 * jnp.linspace(1.0 / n_scan, 1.0, n_scan)
    G0 = _gap_function(jnp.zeros(()), Ts, pb, kind)  # (..., n_scan)
    pos = G0 > 0
    # highest temperature at which the normal state is still unstable
    last = n_scan - 1 - jnp.argmax(pos[..., ::-1], axis=-1)
    any_pos = jnp.any(pos, axis=-1)
    lo = jnp.take(Ts, jnp.clip(last, 0, n_scan - 1))
    hi = jnp.take(Ts, jnp.clip(last + 1, 0, n_scan - 1))
    Glo = jnp.take_along_axis(G0, jnp.clip(last, 0, n_scan - 1)[..., None], axis=-1)[..., 0]
    Ghi = jnp.take_along_axis(G0, jnp.clip(last + 1, 0, n_scan - 1)[..., None], axis=-1)[..., 0]
    ok = any_pos & (last < n_scan - 1)

    def G_T(t):
        return jax.jvp(lambda x: _gap_function(jnp.zeros(()), x, p, kind), (t,), (jnp.ones_like(t),))

    a = jnp.where(ok, lo, 0.3)
    b = jnp.where(ok, hi, 0.4)
    x, _, _ = bracketed_newton(G_T, a, b, jnp.where(ok, Glo, 1.0), jnp.where(ok, Ghi, -1.0), active=ok)
    tc = jnp.where(ok, x, jnp.where(any_pos, jnp.inf, 0.0))
    return tc


def _tc(p, kind):
    """Tc with the implicit derivative ``-dG/dp / dG/dT`` of the linearised gap equation (0 where Tc is 0 or inf)."""

    def residual(t, q):
        ok = jnp.isfinite(t) & (t > 0)
        return jnp.where(ok, _gap_function(jnp.zeros(()), jnp.where(ok, t, 0.3), _finite_cutoff(q), kind), t)

    return _scalar_root(lambda q: _tc_core(q, kind), residual, p)


@functools.partial(jax.jit, static_argnums=(1,))
def _tc_jit(p, kind):
    return _tc(p, kind)


def tc(h=0.0, zeta=0.0, b_so=0.0, b_sf=0.0, gamma=0.0, *, omega_D=None) -> Array:
    r"""Critical temperature k_B Tc / Delta0 of the second-order transition.

    The highest T at which the linearised gap equation $\mathcal G(0, T) = 0$
    holds (0 if superconductivity never nucleates continuously).  Weak
    coupling, h = 0: Tc = e^gamma/pi = 0.5669.  Where the transition is first
    order (large h at low T), the thermodynamic transition lies elsewhere: use
    `gap` (stable branch) to locate it.  Differentiable.
    """
    _check(0.0, h, zeta, b_so, b_sf, gamma, omega_D)
    p, kind = gap_params(h, zeta, b_so, b_sf, gamma, omega_D)
    return on_buckets(lambda *q: _tc_jit(_Params(*q), kind), *p)
