r"""Energy grids with quadrature weights, dense at sharp spectral features.

The adaptive grid places nodes uniformly in the variable

$$
\Phi(E) = \sum_k \operatorname{arcsinh}\frac{E - c_k}{w_k}\quad\text{(piecewise)},
$$

so that the spacing near a feature at $c_k$ of width $w_k$ is
$\Delta\Phi\,\sqrt{w_k^2 + (E-c_k)^2}$: a coherence peak broadened by
Gamma is sampled with a fixed number of nodes per Gamma, a Fermi step of
width T with a fixed number per T, whatever their positions.  Between two
consecutive features the map is $E = c + w\sinh(\Phi - \Phi_c)$ from each
side, joined where the two node densities are equal, so $E(\Phi)$ is
continuously differentiable.  Integrals use the trapezoidal rule in
$\Phi$ (weights $\Delta\Phi\,dE/d\Phi$), accurate to
$O(\Delta\Phi^2)$ for integrands smooth on the scale of the widths.

Grids are built inside ``jit`` from traced feature positions (e.g. a
self-consistent gap), with a static number of nodes, so a map over
parameters builds one grid per map point in one vectorised call.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from .internal import validation as val
from .internal.roots import bracketed_newton


class EnergyGrid(eqx.Module):
    """Energy nodes and quadrature weights, shape ``(..., n)`` each.

    ``grid.integrate(values)`` is ``sum(weights * values, axis=-1)``.
    """

    points: Array
    weights: Array

    @property
    def n(self) -> int:
        return self.points.shape[-1]

    def integrate(self, values: Array) -> Array:
        return jnp.sum(self.weights * values, axis=-1)


def uniform(e_min, e_max, n: int) -> EnergyGrid:
    """Uniform grid on ``[e_min, e_max]`` with trapezoidal weights (``n >= 2``)."""
    if n < 2:
        raise ValueError(f"a grid needs at least 2 points, got n={n}")
    return _uniform(e_min, e_max, n)


@functools.partial(jax.jit, static_argnames="n")
def _uniform(e_min, e_max, n: int) -> EnergyGrid:
    """Core of `uniform`: one small program instead of some ten single operations, each compiled on
    first use."""
    e_min = jnp.asarray(e_min)
    e_max = jnp.asarray(e_max)
    t = jnp.linspace(0.0, 1.0, n)
    pts = e_min[..., None] + (e_max - e_min)[..., None] * t
    dx = (e_max - e_min)[..., None] / (n - 1)
    w = jnp.full(t.shape, 1.0).at[0].set(0.5).at[-1].set(0.5)
    return EnergyGrid(points=pts, weights=dx * w)


@functools.partial(jax.jit, static_argnames="n")
def _adaptive(centers, widths, e_min, e_max, n: int) -> EnergyGrid:
    """Vectorised core; centers/widths (..., K), e_min/e_max (...).

    Jitted: called with concrete values (a default grid built before a solve), it is one
    small program instead of some forty single operations, each compiled on first use.
    """
    centers = jnp.asarray(centers)
    dtype = jnp.result_type(centers, 1.0)
    batch = jnp.broadcast_shapes(centers.shape[:-1], jnp.shape(e_min), jnp.shape(e_max),
                                 jnp.shape(widths)[:-1] if jnp.ndim(widths) else ())
    e_min = jnp.broadcast_to(jnp.asarray(e_min, dtype), batch)[..., None]
    e_max = jnp.broadcast_to(jnp.asarray(e_max, dtype), batch)[..., None]
    span = e_max - e_min
    c = jnp.clip(jnp.broadcast_to(centers, batch + centers.shape[-1:]), e_min, e_max)
    w = jnp.broadcast_to(jnp.asarray(widths, dtype), c.shape)
    order = jnp.argsort(c, axis=-1)
    c = jnp.take_along_axis(c, order, axis=-1)
    w = jnp.take_along_axis(w, order, axis=-1)
    # Coincident features share the smallest width, and every width is capped at
    # 0.7 x the distance to the nearest distinct neighbour (or domain end): then
    # the sinh maps of two neighbours always meet inside their segment and
    # E(Phi) is continuously differentiable, which keeps the trapezoidal rule
    # second order (features closer than their widths would otherwise leave a
    # kink that makes the error oscillate with n).
    diff = c[..., :, None] - c[..., None, :]  # (..., K, K): c_j - c_i
    same = diff == 0
    w = jnp.min(jnp.where(same, w[..., None, :], jnp.inf), axis=-1)
    big = jnp.asarray(jnp.inf, dtype)
    d_left = jnp.min(jnp.where(diff > 0, diff, big), axis=-1)
    d_left = jnp.minimum(d_left, c - e_min)
    d_right = jnp.min(jnp.where(diff < 0, -diff, big), axis=-1)
    d_right = jnp.minimum(d_right, e_max - c)
    cap = 0.7 * jnp.minimum(d_left, d_right)
    w = jnp.clip(jnp.minimum(w, jnp.where(cap > 0, cap, w)), 1e-12 * span, span)
    # breakpoints: domain ends (no clustering there) and the features
    x = jnp.concatenate([e_min, c, e_max], axis=-1)
    wx = jnp.concatenate([span, w, span], axis=-1)
    x0, x1 = x[..., :-1], x[..., 1:]
    wl, wr = wx[..., :-1], wx[..., 1:]
    L = x1 - x0
    # split point where the two sinh maps have equal node density
    safe_L = jnp.where(L > 0, L, 1.0)
    m = 0.5 * (x0 + x1) + (wr**2 - wl**2) / (2.0 * safe_L)
    m = jnp.clip(m, x0, x1)
    len_l = jnp.arcsinh((m - x0) / wl)
    len_r = jnp.arcsinh((x1 - m) / wr)
    # pieces alternate: left half anchored at x0 (Phi_anchor = start),
    # right half anchored at x1 (Phi_anchor = end)
    plen = jnp.stack([len_l, len_r], axis=-1).reshape(*len_l.shape[:-1], -1)
    anchor = jnp.stack([x0, x1], axis=-1).reshape(plen.shape)
    pw = jnp.stack([wl, wr], axis=-1).reshape(plen.shape)
    cum = jnp.cumsum(plen, axis=-1)
    start = cum - plen
    phi_anchor = jnp.stack(
        [start[..., 0::2], cum[..., 1::2]], axis=-1
    ).reshape(plen.shape)
    total = cum[..., -1:]
    t = jnp.linspace(0.0, 1.0, n, dtype=dtype)
    phi = total * t  # (..., n)

    # piece of each node: number of piece ends strictly below it (phi > 0 skips
    # zero-length pieces at the start)
    phis = jnp.maximum(phi, 1e-13 * total)
    idx = jnp.sum(cum[..., None, :-1] < phis[..., :, None], axis=-1)
    a = jnp.take_along_axis(anchor, idx, axis=-1)
    ww = jnp.take_along_axis(pw, idx, axis=-1)
    pa = jnp.take_along_axis(phi_anchor, idx, axis=-1)
    ex = jnp.exp(phi - pa)
    iex = 1.0 / ex
    pts = a + ww * 0.5 * (ex - iex)
    dE = ww * 0.5 * (ex + iex)
    dphi = total / (n - 1)
    trap = jnp.ones((n,), dtype).at[0].set(0.5).at[-1].set(0.5)
    pts = jnp.clip(pts, e_min, e_max)
    return EnergyGrid(points=pts, weights=dphi * dE * trap)


def adaptive(centers, widths, e_min, e_max, n: int = 2001) -> EnergyGrid:
    r"""Grid on ``[e_min, e_max]`` refined at ``centers`` to resolve ``widths``.

    Args:
        centers: positions of sharp features, shape ``(..., K)`` (coherence
            peaks at E = -sigma h +- Delta, chemical potentials, ...).
        widths: their widths, broadcastable to ``centers`` (Dynes Gamma, k_B T).
        e_min, e_max: the integration range, shape ``(...)``.
        n: number of nodes (static).

    Returns:
        `EnergyGrid` with ``points``/``weights`` of shape ``(..., n)``.
    """
    if n < 3:
        raise ValueError(f"an adaptive grid needs n >= 3 nodes, got n={n}")
    val.check_finite("centers", centers)
    val.check_positive("widths", widths, hint="a feature width must be > 0 (use e.g. max(Gamma, 1e-6))")
    emin_c, emax_c = val.concrete(e_min), val.concrete(e_max)
    if emin_c is not None and emax_c is not None and np.any(emax_c <= emin_c):
        raise ValueError(f"empty energy range: e_max={emax_c} must exceed e_min={emin_c}")
    return _adaptive(centers, widths, e_min, e_max, n)


@functools.partial(jax.jit, static_argnames="n")
def merged_grid(centers, widths, e_max, n: int) -> EnergyGrid:
    """``n // 2`` nodes clustered at ``centers`` (sinh maps resolving ``widths``) merged with
    ``n - n // 2`` uniform nodes on ``[-e_max, e_max]``; trapezoidal weights on the merged nodes.

    Traceable: the centres may be traced values (fit parameters).  The nodes are continuous,
    piecewise smooth functions of them and carry their gradient, so autodiff derivatives of a
    quadrature on this grid are derivatives of the computed integral.
    """
    n_a = n // 2
    refined = _adaptive(jnp.asarray(centers), widths, -e_max, e_max, n_a).points
    # half the nodes uniform: Fermi edges of biased electrodes sit anywhere in the range
    pts = jnp.sort(jnp.concatenate([refined, jnp.linspace(-e_max, e_max, n - n_a)]))
    dE = jnp.diff(pts)
    wts = 0.5 * (jnp.concatenate([dE, jnp.zeros(1)]) + jnp.concatenate([jnp.zeros(1), dE]))
    return EnergyGrid(points=pts, weights=wts)


def check_resolution(grid: EnergyGrid, centers, widths, *, factor: float = 1.0, what: str = "energy grid") -> None:
    """Raise if the grid spacing at any feature exceeds ``factor * width``.

    Only concrete (non-traced) grids are checked.
    """
    pts = val.concrete(grid.points)
    c = val.concrete(centers)
    w = val.concrete(widths)
    if pts is None or c is None or w is None:
        return
    pts = np.sort(np.asarray(pts, float).reshape(-1, pts.shape[-1]), axis=-1)
    c = np.broadcast_to(np.asarray(c, float), np.broadcast_shapes(np.shape(c), np.shape(w)))
    w = np.broadcast_to(np.asarray(w, float), c.shape)
    for row in pts:
        if row.size < 2:
            raise ValueError(f"{what} has fewer than 2 points")
        lo, hi = row[0], row[-1]
        for ck, wk in zip(c.ravel(), w.ravel(), strict=False):
            if not (lo < ck < hi):
                continue
            i = np.clip(np.searchsorted(row, ck), 1, row.size - 1)
            spacing = row[i] - row[i - 1]
            if spacing > factor * wk:
                raise ValueError(
                    f"{what} too coarse: spacing {spacing:.3g} near the feature at "
                    f"E = {ck:.6g} exceeds its width {wk:.3g} (Dynes Gamma or k_B T). "
                    "Integrals over it would be wrong. Use jaxqp.grids.adaptive(...) "
                    "(the default), more points, or a larger broadening."
                )


@jax.custom_jvp
def _asinh_and_root(u):
    """``(asinh(u), sqrt(1 + u^2))`` with one square root, accurate for every ``u`` (log1p form)."""
    a = jnp.abs(u)
    r = jnp.sqrt(1.0 + a * a)
    return jnp.sign(u) * jnp.log1p(a + a * a / (1.0 + r)), r


@_asinh_and_root.defjvp
def _asinh_and_root_jvp(primals, tangents):
    (u,), (du,) = primals, tangents
    t, r = _asinh_and_root(u)
    return (t, r), (du / r, u * du / r)


def _smooth_phi(E, lo, hi, centers, widths, fraction):
    """The node-counting map Phi(E) = A (E - lo) + B sum_k [asinh((E - c_k)/w_k) - asinh((lo - c_k)/w_k)]
    and its derivative rho = dPhi/dE, normalised so that Phi(hi) - Phi(lo) = 1; arrays (..., n) and (..., K)."""
    span = hi - lo
    t_lo = jnp.arcsinh((lo[..., None] - centers) / widths)
    t_hi = jnp.arcsinh((hi[..., None] - centers) / widths)
    A = (1.0 - fraction) / span
    B = fraction / jnp.sum(t_hi - t_lo, axis=-1)
    u = (E[..., :, None] - centers[..., None, :]) / widths[..., None, :]
    t, r = _asinh_and_root(u)
    phi = A[..., None] * (E - lo[..., None]) + B[..., None] * (jnp.sum(t, axis=-1) - jnp.sum(t_lo, axis=-1)[..., None])
    rho = A[..., None] + B[..., None] * jnp.sum(1.0 / (widths[..., None, :] * r), axis=-1)
    return phi, rho


def _smooth_bracket(target, lo, hi, centers, widths, fraction, n):
    """Bracket and first guess of the nodes Phi(E) = target, from Phi on two tables that span [lo, hi]:
    a uniform one and the asinh-spaced rows at every feature (sorted together; the uniform one is
    sorted already).  Each is searched; the tighter of the two brackets is inverted by linear
    interpolation.  Returns (a, b, E) of shape (..., n) with Phi(a) <= target <= Phi(b)."""
    K = centers.shape[-1]
    m = max(8, -(-n // K) // 2 + 2)
    s = jnp.linspace(0.0, 1.0, m, dtype=target.dtype)
    t_lo = jnp.arcsinh((lo[..., None] - centers) / widths)
    t_hi = jnp.arcsinh((hi[..., None] - centers) / widths)
    rows = centers[..., None] + widths[..., None] * jnp.sinh(t_lo[..., None] + (t_hi - t_lo)[..., None] * s)
    uniform = lo[..., None] + (hi - lo)[..., None] * jnp.linspace(0.0, 1.0, n, dtype=target.dtype)
    features = jnp.sort(rows.reshape(rows.shape[:-2] + (-1,)), axis=-1)

    def flat(x):
        return x.reshape((-1,) + x.shape[-1:])

    def bracket(table):
        phi = _smooth_phi(table, lo, hi, centers, widths, fraction)[0]
        i = jax.vmap(lambda p, t: jnp.searchsorted(p, t, side="right"))(flat(phi), flat(target)).reshape(target.shape)
        i = jnp.clip(i, 1, table.shape[-1] - 1)
        return [jnp.take_along_axis(x, j, axis=-1) for x in (table, phi) for j in (i - 1, i)]

    a1, b1, pa1, pb1 = bracket(uniform)
    a2, b2, pa2, pb2 = bracket(features)
    lower, upper = a2 > a1, b2 < b1
    a, pa = jnp.where(lower, a2, a1), jnp.where(lower, pa2, pa1)
    b, pb = jnp.where(upper, b2, b1), jnp.where(upper, pb2, pb1)
    E = a + (b - a) * jnp.clip((target - pa) / jnp.where(pb > pa, pb - pa, 1.0), 0.0, 1.0)
    return a, b, E


_SMOOTH_TOL = 1e-12  # Newton step, relative to the range, at which the node search stops
_SMOOTH_MAX_ITER = 64  # Newton-bisection steps at most (bisection alone gains 2^-64 of the bracket)


@val.compiled_when_eager
def smooth(centers, widths, e_min, e_max, n: int, *, fraction: float = 0.5) -> EnergyGrid:
    r"""Grid whose nodes and weights are smooth functions of the features (differentiable quadrature).

    The nodes are equispaced in

    $$
    \Phi(E) = A\,(E - E_{\min}) + B\sum_k \operatorname{arcsinh}\frac{E - c_k}{w_k},
    $$

    a uniform background (``1 - fraction`` of the nodes, spacing
    ``(e_max - e_min)/((1 - fraction)(n - 1))``, which resolves Fermi edges anywhere in the range)
    plus ``fraction`` of the nodes clustered at every feature ``c_k`` with a spacing proportional to
    ``sqrt(w_k^2 + (E - c_k)^2)``.  The weights are the trapezoidal rule in Phi,
    $\Delta\Phi / \Phi'(E_i)$.  The map is analytic in the nodes' parameters, so a quadrature on
    this grid is a smooth function of the features and its autodiff derivative is the derivative of
    the computed integral: the nodes are found without gradient (Phi tabulated at points that follow
    the node density, inverted by interpolation, refined by Newton's method), and one more Newton
    step at the solution carries the exact first derivatives (implicit function theorem).

    Args:
        centers, widths: features, shape ``(..., K)`` (broadcast together); widths > 0.
        e_min, e_max: the range, shape ``(...)``.
        n: number of nodes (static).
        fraction: share of the nodes spent on the features (0 < fraction < 1).
    """
    centers = jnp.asarray(centers)
    dtype = jnp.result_type(centers, 1.0)
    widths = jnp.asarray(widths, dtype)
    batch = jnp.broadcast_shapes(centers.shape[:-1], widths.shape[:-1], jnp.shape(e_min), jnp.shape(e_max))
    K = jnp.broadcast_shapes(centers.shape[-1:], widths.shape[-1:])
    c = jnp.broadcast_to(centers, batch + K)
    w = jnp.broadcast_to(widths, batch + K)
    lo = jnp.broadcast_to(jnp.asarray(e_min, dtype), batch)
    hi = jnp.broadcast_to(jnp.asarray(e_max, dtype), batch)
    target = jnp.linspace(0.0, 1.0, n, dtype=dtype)
    target = jnp.broadcast_to(target, batch + (n,))

    cs, ws, los, his = (lax.stop_gradient(v) for v in (c, w, lo, hi))
    a, b, E0 = _smooth_bracket(lax.stop_gradient(target), los, his, cs, ws, fraction, n)

    goal = lax.stop_gradient(target)

    def residual(E):  # Phi(E) - target and Phi'(E): increasing, negative at a, positive at b
        phi, rho = _smooth_phi(E, los, his, cs, ws, fraction)
        return phi - goal, rho

    one = jnp.ones_like(E0)
    E0 = lax.stop_gradient(bracketed_newton(residual, a, b, -one, one, rtol=_SMOOTH_TOL, maxiter=_SMOOTH_MAX_ITER,
                                            x0=E0, scale=(his - los)[..., None])[0])
    phi, rho = _smooth_phi(E0, lo, hi, c, w, fraction)
    E = E0 - (phi - target) / rho  # one Newton step: exact first derivatives of the nodes
    _, rho = _smooth_phi(E, lo, hi, c, w, fraction)
    trap = jnp.ones((n,), dtype).at[0].set(0.5).at[-1].set(0.5)
    return EnergyGrid(points=E, weights=trap / ((n - 1) * rho))
