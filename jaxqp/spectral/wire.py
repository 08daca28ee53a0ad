r"""1-D inhomogeneous retarded Usadel equation: wires, chains of wires, interfaces, point contacts.

Equation (docs/theory.md section 11).  In each spin sector ``s`` (electrons of
spin ``s``, holes of spin ``-s``) the retarded function is the 2x2 Nambu matrix
``g = [[g, F], [-Ft, -g]]`` with ``g^2 - F Ft = 1``, and, in units of Delta0
and xi,

$$
\partial_x(\sigma\, g \partial_x g) = \frac{\sigma}{D}\,[\Lambda_s, g],\qquad
\Lambda_s = -i\epsilon_s \tau_3 - i\hat\Delta
+ \tfrac{\zeta + b_{sf}}{2}\tau_3 g_s \tau_3 + b_{so}\, g_{-s} + b_{sf}\,\tau_3 g_{-s}\tau_3,
$$

``epsilon_s = E + s h + i Gamma``, ``Delta-hat = [[0, Delta e^{i phi}], [-Delta e^{-i phi}, 0]]``
(the same equation as `jaxqp.spectral.bulk`, which is its uniform solution).
``sigma`` and ``D`` are the segment's conductance per length and diffusion
constant relative to the reference material.

Discretisation: finite volumes on a graph of nodes.  Neighbouring nodes ``i, j``
are joined by links of conductance ``G_ij`` (``sigma / dx`` inside a segment,
``G_B`` across a tunnel interface: Kupriyanov-Lukichev); the flux through a link
is ``G_ij [g_i, g_j] / 2``; a point tunnel contact of conductance ``kappa`` to an
electrode adds ``kappa [g_i, g_e] / 2``.  The node equation is

$$
M_i = \sum_j \tfrac{G_{ij}}{2}[g_i, g_j] + \tfrac{\kappa_i}{2}[g_i, g_e]
- V_i \tfrac{\sigma}{D}[\Lambda_i, g_i] = 0
$$

with ``V_i`` the node volume (a node shared by two segments at a transparent
interface collects both half cells).  Reservoir ends fix the node to the bulk
solution of the end segment (Dirichlet); vacuum ends have no link (zero flux).

Parametrisation: Riccati, ``g = N (1 + gamma gamma~)``, ``F = 2 N gamma``,
``Ft = 2 N gamma~``, ``N = 1 / (1 - gamma gamma~)``, which is bounded for the
retarded function.  The two independent equations are the off-diagonal parts of
``M_i`` in the eigenbasis of ``g_i`` (``P = [[1, gamma], [-gamma~, -1]]``), times
``1 - gamma gamma~``.  For the non-collinear (4x4) case the same projection holds
with 2x2 blocks ``gamma``: only the block size changes.

Algorithm: Newton on the whole position grid for each energy, with the
block-tridiagonal Jacobian found by ``3 k`` Jacobian-vector products
(`jaxqp.internal.blocktri.jacobian_blocks`) and solved by block Thomas (O(n_x)),
``vmap``-ped over energies.  The retarded branch is selected by continuation in
the imaginary part of the energy: the iteration starts at ``E + i eta0`` from
the local bulk solution and lowers ``eta`` geometrically (one Newton step per
stage) to zero, then iterates to convergence; a per-energy converged flag and
relative residual are returned, and a result code per energy.  The solution is
differentiated implicitly by the shared engine (`jaxqp.internal.engine`):
``dY = -J^{-1} dR``, with the same block solver, so
``jax.grad`` and ``jax.jvp`` go through it with respect to every parameter and
the energy.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from ..geometry import (  # noqa: F401
    Chain,
    Interface,
    Segment,
    TunnelContact,
    Wire,
    chain_from_wire,
    position_grid,
    unit_vector,
)
from ..internal import config as _config
from ..internal import engine
from ..internal import validation as val
from ..internal.blocktri import block_thomas as block_thomas_first
from ..internal.blocktri import block_thomas_last as block_thomas
from ..internal.blocktri import jacobian_blocks, transpose_blocks
from ..materials import Electrode, Superconductor
from .bulk import green_functions


# ----------------------------------------------------------------- discretisation
class Geometry(NamedTuple):
    """Static description of the node graph (NumPy arrays, hashable by id)."""

    x: np.ndarray  # (n,) node positions
    links: np.ndarray  # (n-1,) 1/dx inside segments, NaN across tunnel interfaces
    halves: tuple  # per segment: (node indices (m,), half-cell volumes left (m,), right (m,))
    segment_nodes: tuple  # per segment: node indices
    contact_nodes: tuple
    dirichlet: tuple  # (left, right) booleans


def _segment_grid(seg: Segment, x0: float, points, growth: float) -> np.ndarray:
    local = [p - x0 for p in points if x0 <= p <= x0 + seg.length]
    return x0 + position_grid(seg.length, local, seg.n_x, growth)


def discretize(chain: Chain) -> Geometry:
    """Node positions, link conductances and half-cell volumes of a chain."""
    pts = [float(c.position) for c in chain.contacts]
    xs: list = []
    links: list = []
    halves: list = []
    seg_nodes: list = []
    x0 = 0.0
    n = 0
    for k, seg in enumerate(chain.segments):
        xk = _segment_grid(seg, x0, pts, chain.growth)
        dx = np.diff(xk)
        transparent = k > 0 and chain.interfaces[k - 1].conductance is None
        if k == 0:
            idx = np.arange(len(xk))
            xs.extend(xk)
        elif transparent:
            idx = np.arange(n - 1, n - 1 + len(xk))  # first node shared with the previous segment
            xs.extend(xk[1:])
        else:
            idx = np.arange(n, n + len(xk))
            links.append(np.nan)  # tunnel link (Interface.conductance)
            xs.extend(xk)
        links.extend(1.0 / dx)  # times the segment's conductance per length
        n = len(xs)
        left = np.concatenate([[0.0], 0.5 * dx])
        right = np.concatenate([0.5 * dx, [0.0]])
        halves.append((idx, left, right))
        seg_nodes.append(idx)
        x0 += seg.length
    x = np.asarray(xs)
    contact_nodes = tuple(int(np.argmin(np.abs(x - p))) for p in pts)
    for p, i in zip(pts, contact_nodes, strict=False):
        if abs(x[i] - p) > 1e-9 * max(1.0, chain.length):
            raise ValueError(f"contact at x={p} is not on a node")  # pragma: no cover - grid keeps contacts
    return Geometry(x=x, links=np.asarray(links), halves=tuple(halves), segment_nodes=tuple(seg_nodes),
                    contact_nodes=contact_nodes,
                    dirichlet=(chain.ends[0] == "reservoir", chain.ends[1] == "reservoir"))


class NodeParams(eqx.Module):
    """Per-node coefficients of the discrete equation (all volume-weighted, ``V sigma / D`` times ...)."""

    mass: Array  # (n,) V sigma/D
    h: Array  # (n,) sum V sigma/D h
    gamma: Array  # (n,) sum V sigma/D Gamma
    delta: Array  # (n,) complex: sum V sigma/D Delta e^{i phi}
    delta_t: Array  # (n,) complex: sum V sigma/D Delta e^{-i phi}
    own: Array  # (n,) sum V sigma/D (zeta + b_sf)/2
    so: Array  # (n,) sum V sigma/D b_so
    sf: Array  # (n,) sum V sigma/D b_sf
    links: Array  # (n-1,)
    hvec: Array  # (3, n) sum V sigma/D h n_seg: the field along each segment's exchange_direction (spin solver)


def node_params(chain: Chain, geo: Geometry, delta_profile: Array | None = None) -> NodeParams:
    """Assemble the volume-weighted node coefficients (differentiable in every chain parameter).

    ``delta_profile`` (n,) replaces ``|Delta|`` on the nodes of self-consistent segments.
    """
    n = geo.x.shape[0]
    cdt = jnp.result_type(1j * jnp.zeros(()))
    acc = {k: jnp.zeros(n) for k in ("mass", "h", "gamma", "own", "so", "sf")}
    acc["delta"] = jnp.zeros(n, cdt)
    acc["delta_t"] = jnp.zeros(n, cdt)
    acc["hvec"] = jnp.zeros((3, n))
    x0 = 0.0
    for k, seg in enumerate(chain.segments):
        idx, left, right = geo.halves[k]
        m = seg.material
        w = (jnp.asarray(left) + jnp.asarray(right)) * seg.conductance / seg.diffusion
        xl = jnp.asarray(geo.x[idx]) - x0
        phi = seg.phase + seg.phase_gradient * xl
        d = m.delta * jnp.ones(len(idx))
        if seg.self_consistent and delta_profile is not None:
            d = jnp.asarray(delta_profile)[idx]
        acc["mass"] = acc["mass"].at[idx].add(w)
        acc["h"] = acc["h"].at[idx].add(w * m.h)
        direction = jnp.asarray(unit_vector(seg.exchange_direction, "exchange_direction"))
        acc["hvec"] = acc["hvec"].at[:, idx].add(w[None] * m.h * direction[:, None])
        acc["gamma"] = acc["gamma"].at[idx].add(w * m.gamma)
        acc["own"] = acc["own"].at[idx].add(w * 0.5 * (m.zeta + m.b_sf))
        acc["so"] = acc["so"].at[idx].add(w * m.b_so)
        acc["sf"] = acc["sf"].at[idx].add(w * m.b_sf)
        acc["delta"] = acc["delta"].at[idx].add(w * d * jnp.exp(1j * phi))
        acc["delta_t"] = acc["delta_t"].at[idx].add(w * d * jnp.exp(-1j * phi))
        x0 += seg.length
    pieces = []
    for k, seg in enumerate(chain.segments):
        if k > 0 and chain.interfaces[k - 1].conductance is not None:
            pieces.append(jnp.reshape(chain.interfaces[k - 1].conductance, (1,)))
        pieces.append(seg.conductance / jnp.asarray(np.diff(geo.x[geo.segment_nodes[k]])))
    links = jnp.concatenate(pieces)
    return NodeParams(links=links, **acc)


# ----------------------------------------------------------------- Nambu algebra (sector 2x2, component form)
# A 2x2 matrix is a tuple (m11, m12, m21, m22) of arrays: elementwise code, fast on any batch shape.
def _mul(a, b):
    return (a[0] * b[0] + a[1] * b[2], a[0] * b[1] + a[1] * b[3],
            a[2] * b[0] + a[3] * b[2], a[2] * b[1] + a[3] * b[3])


def _comm(a, b):
    return tuple(x - y for x, y in zip(_mul(a, b), _mul(b, a), strict=False))


def _t3_sandwich(a):
    return (a[0], -a[1], -a[2], a[3])


def riccati_to_gf(gam, gamt):
    """``(g, F, Ft)`` of the Riccati amplitudes (any batch shape)."""
    N = 1.0 / (1.0 - gam * gamt)
    return N * (1.0 + gam * gamt), 2 * N * gam, 2 * N * gamt


def _matrix(gam, gamt):
    g, F, Ft = riccati_to_gf(gam, gamt)
    return (g, F, -Ft, -g)


def riccati_from_gf(g, F, Ft):
    """Inverse of `riccati_to_gf`: ``gamma = F / (1 + g)``."""
    return F / (1.0 + g), Ft / (1.0 + g)


# ----------------------------------------------------------------- residual
class _Local(eqx.Module):
    """Everything the residual needs besides the unknowns; the batch (energy) axis is last.

    Layout: unknowns ``Y`` are ``(n, k, B)``.  With coupled sectors (spin-orbit
    or spin-flip scattering somewhere) ``k = 4`` (gamma+, gamma~+, gamma-,
    gamma~-) and ``B = n_E``; otherwise the sectors are independent, ``k = 2``
    and ``B = 2 n_E`` (sector-major), which halves the block size.
    """

    p: NodeParams
    z: Array  # (B,) complex energies
    sign: Array  # (B,) spin sector sign (decoupled layout) or ones
    ext: Array  # (n, S, 4, B): sum_c kappa_c g_e,c per node, sector view, matrix component
    target: Array  # (2, k, B) Dirichlet values at the two ends


def _views(Y, k):
    """Sector views [(gamma, gamma~, sign, other-view index)]."""
    if k == 4:
        return [(Y[:, 0], Y[:, 1], 1.0, 1), (Y[:, 2], Y[:, 3], -1.0, 0)]
    return [(Y[:, 0], Y[:, 1], None, None)]


def _sector_terms(Y, loc: _Local, eta):
    """Per sector view: ``(gamma, gamma~, W)`` with ``W = (W11, W12, W21, W22)``, and the views and matrices."""
    p = loc.p
    views = _views(Y, Y.shape[1])
    mats = [_matrix(v[0], v[1]) for v in views]
    Gl = jnp.concatenate([jnp.zeros(1), p.links])[:, None]
    Gr = jnp.concatenate([p.links, jnp.zeros(1)])[:, None]
    W = [_w_entries(loc, s, views, mats, eta, Gl, Gr) for s in range(len(views))]
    return views, mats, W, Gl, Gr


def _projected(views, W, loc: _Local, Y, dirichlet):
    """Residual (n, k, B) from the W entries; Dirichlet rows at reservoir ends."""
    out = []
    for (gam, gamt, _, _), (W11, W12, W21, W22) in zip(views, W, strict=False):
        d = W11 - W22
        out.append(W12 - gam * d - gam * gam * W21)
        out.append(W21 + gamt * d - gamt * gamt * W12)
    return dirichlet_rows(jnp.stack(out, 1), Y, loc.target, dirichlet)


def dirichlet_rows(R, Y, target, dirichlet):
    """Replace the end-node equations of reservoir ends by ``Y - target``."""
    n = Y.shape[0]
    if dirichlet[0]:
        R = R.at[0].set(Y[0] - target[0])
    if dirichlet[1]:
        R = R.at[n - 1].set(Y[n - 1] - target[1])
    return R


def dirichlet_blocks(A, Bm, C, dirichlet):
    """Jacobian blocks of `dirichlet_rows` (identity on reservoir end nodes) and of the open ends."""
    n, k, nb = Bm.shape[0], Bm.shape[1], Bm.shape[-1]
    A = A.at[0].set(0)
    C = C.at[n - 1].set(0)
    eye = jnp.broadcast_to(jnp.eye(k, dtype=Bm.dtype)[:, :, None], (k, k, nb))
    for side, node in ((0, 0), (1, n - 1)):
        if dirichlet[side]:
            A = A.at[node].set(0)
            C = C.at[node].set(0)
            Bm = Bm.at[node].set(eye)
    return A, Bm, C


def _residual(Y, loc: _Local, dirichlet, eta):
    """Projected node equations (n, k, B).

    The node equation is a single commutator, ``M_i = [g_i, W_i]`` with
    ``W_i = (G_l g_{i-1} + G_r g_{i+1} + X_i) / 2 + Lambda_i``; in the eigenbasis of
    ``g_i`` its off-diagonal entries are those of ``W_i`` (Riccati form):
    ``e1 = W12 - gamma (W11 - W22) - gamma^2 W21``, ``e2 = W21 + gamma~ (W11 - W22) - gamma~^2 W12``.
    """
    views, _, W, _, _ = _sector_terms(Y, loc, eta)
    return _projected(views, W, loc, Y, dirichlet)


def _scale(loc: _Local):
    """Per-node magnitude of the equation's terms (n, B), for the relative residual."""
    p = loc.p
    G = jnp.concatenate([jnp.zeros(1), p.links]) + jnp.concatenate([p.links, jnp.zeros(1)])
    ext = jnp.sum(jnp.abs(loc.ext), axis=(1, 2))
    base = G + jnp.abs(p.delta) + p.own + p.so + p.sf + 1e-300
    return base[:, None] + ext + p.mass[:, None] * (1.0 + jnp.abs(loc.z))


class Options(NamedTuple):
    """Newton options.

    ``rtol``: largest Newton update accepted as converged; ``res_tol``: largest
    relative residual accepted; ``maxiter``: iteration cap; ``eta0``, ``ratio``,
    ``eta_min``: continuation path ``eta0 * ratio^k`` in the imaginary part of
    the energy (set to 0 below ``eta_min``); ``stage_tol``: a stage lowers eta
    only once its Newton update is below this; ``max_step``: cap on the size of
    one update (damping).
    """

    rtol: float = 1e-8  # Newton converges quadratically: the update after this one is ~1e-16
    maxiter: int = 120
    eta0: float = 4.0
    ratio: float = 0.3
    eta_min: float = 1e-7
    res_tol: float = 1e-8
    stage_tol: float = 0.05
    max_step: float = 0.3


def default_options() -> Options:
    if _config.x64_enabled():
        return Options()
    return Options(rtol=1e-5, res_tol=1e-4)


def _dmatrix(gam, gamt):
    """Derivatives of (g, F, Ft) with respect to gamma and gamma~: two triples."""
    D2 = 1.0 / (1.0 - gam * gamt) ** 2
    return (2 * gamt * D2, 2 * D2, 2 * gamt * gamt * D2), (2 * gam * D2, 2 * gam * gam * D2, 2 * D2)


def _analytic_blocks(Y, loc: _Local, dirichlet, eta):
    """Residual and analytic block diagonals (A, B, C), each (n, k, k, B), of its Jacobian.

    Equal to `jaxqp.internal.blocktri.jacobian_blocks` of `_residual`
    (tested); about three times cheaper.
    """
    p = loc.p
    n, k, nb = Y.shape
    views, mats, Ws, Gl, Gr = _sector_terms(Y, loc, eta)
    R = _projected(views, Ws, loc, Y, dirichlet)
    col = lambda a: a[:, None]  # noqa: E731
    zero = jnp.zeros((n, nb), Y.dtype)
    A = [[zero] * k for _ in range(k)]
    Bm = [[zero] * k for _ in range(k)]
    C = [[zero] * k for _ in range(k)]
    own = col(p.own)
    for s, (gam, gamt, _sign, other) in enumerate(views):
        # explicit dependence on gamma, gamma~ of the node itself
        W = Ws[s]
        dW = W[0] - W[3]
        r1, r2 = 2 * s, 2 * s + 1
        Bm[r1][r1] = Bm[r1][r1] - dW - 2 * gam * W[2]
        Bm[r2][r2] = Bm[r2][r2] + dW - 2 * gamt * W[1]
        # own-sector self-energy
        for c, dm in enumerate(_dmatrix(gam, gamt)):
            dg, dF, dFt = dm
            Bm[r1][2 * s + c] = Bm[r1][2 * s + c] - own * (dF + 2 * gam * dg + gam * gam * dFt)
            Bm[r2][2 * s + c] = Bm[r2][2 * s + c] + own * (dFt + 2 * gamt * dg + gamt * gamt * dF)
        # other sector (spin-orbit and spin-flip)
        if other is not None:
            go_gam, go_gamt = views[other][0], views[other][1]
            so, sf = col(p.so), col(p.sf)
            for c, dm in enumerate(_dmatrix(go_gam, go_gamt)):
                dg, dF, dFt = dm
                Bm[r1][2 * other + c] = Bm[r1][2 * other + c] + (
                    (so - sf) * dF - 2 * gam * (so + sf) * dg + gam * gam * (so - sf) * dFt)
                Bm[r2][2 * other + c] = Bm[r2][2 * other + c] + (
                    -(so - sf) * dFt + 2 * gamt * (so + sf) * dg - gamt * gamt * (so - sf) * dF)
        # neighbours: W gains G/2 d g_j
        for c, dm in enumerate(_dmatrix(gam, gamt)):
            dg, dF, dFt = dm
            for blocks, G, sh in ((A, Gl, 1), (C, Gr, -1)):
                dg_j, dF_j, dFt_j = (jnp.roll(x, sh, axis=0) for x in (dg, dF, dFt))
                blocks[r1][2 * s + c] = 0.5 * G * (dF_j - 2 * gam * dg_j + gam * gam * dFt_j)
                blocks[r2][2 * s + c] = 0.5 * G * (-dFt_j + 2 * gamt * dg_j - gamt * gamt * dF_j)
    st = lambda m: jnp.stack([jnp.stack(row, 1) for row in m], 1)  # noqa: E731  (n, k, k, B)
    A, Bm, C = dirichlet_blocks(st(A), st(Bm), st(C), dirichlet)
    return R, A, Bm, C


def _w_entries(loc, s, views, mats, eta, Gl, Gr):
    """(W11, W12, W21, W22) of sector view s (see `_residual`)."""
    p = loc.p
    col = lambda a: a[:, None]  # noqa: E731
    gam, gamt, sign, other = views[s]
    g = mats[s]
    shift_l = [jnp.concatenate([jnp.zeros_like(c[:1]), c[:-1]], 0) for c in g]
    shift_r = [jnp.concatenate([c[1:], jnp.zeros_like(c[:1])], 0) for c in g]
    S = [0.5 * (Gl * a + Gr * b + loc.ext[:, s, i]) for i, (a, b) in enumerate(zip(shift_l, shift_r, strict=False))]
    sg = loc.sign if sign is None else sign
    eps = col(p.mass) * (loc.z + 1j * eta) + col(p.h) * sg + 1j * col(p.gamma)
    own = col(p.own)
    # W = S + Lambda;  Lambda = -i eps tau3 - i Delta-hat + own tau3 g tau3 + so g_o + sf tau3 g_o tau3
    W11 = S[0] - 1j * eps + own * g[0]
    W22 = S[3] + 1j * eps + own * g[3]
    W12 = S[1] - 1j * col(p.delta) - own * g[1]
    W21 = S[2] + 1j * col(p.delta_t) - own * g[2]
    if other is not None:
        go = mats[other]
        so, sf = col(p.so), col(p.sf)
        W11 = W11 + (so + sf) * go[0]
        W22 = W22 + (so + sf) * go[3]
        W12 = W12 + (so - sf) * go[1]
        W21 = W21 + (so - sf) * go[2]
    return W11, W12, W21, W22


def _newton_blocks(Y, loc, dirichlet, eta):
    return _analytic_blocks(Y, loc, dirichlet, eta)


def _jvp_blocks(Y, loc, dirichlet, eta):
    """Jacobian blocks by coloured Jacobian-vector products (reference for the analytic ones)."""
    return jacobian_blocks(lambda y: _residual(y, loc, dirichlet, eta), Y, Y.shape[-1])


class NewtonModel(NamedTuple):
    """The equations a Newton solve works on: ``residual(Y, loc, dirichlet, eta)`` (n, k, B),
    ``blocks(Y, loc, dirichlet, eta)`` -> (R, A, B, C) of its block-tridiagonal Jacobian, and
    ``scale(loc)`` (n, B), the magnitude of the terms (for the relative residual).
    Module-level functions only (the model is a static argument).

    ``batch_first``: solve with the batch-first block Thomas (one pivoted elimination per
    block) instead of the batch-last one (unrolled over the block entries).  The unrolled
    form is several times faster for the 2x2 and 4x4 blocks of the collinear equation; for
    8x8 blocks it compiles twice as long and is no faster (measured on the spin solver).
    """

    residual: Callable
    blocks: Callable
    scale: Callable
    batch_first: bool = False


def _block_solve(model: NewtonModel, A, Bm, C, b):
    """``J x = b`` for blocks (n, k, k, B) and b (n, k, B), in the model's layout."""
    if not model.batch_first:
        return block_thomas(A, Bm, C, b[:, :, None, :])[:, :, 0, :]
    mv = lambda x: jnp.moveaxis(x, -1, 0)  # noqa: E731  batch to the front
    return jnp.moveaxis(block_thomas_first(mv(A), mv(Bm), mv(C), mv(b)[..., None])[..., 0], 0, -1)


_COLLINEAR = NewtonModel(_residual, _newton_blocks, _scale)


def _solve_primal(loc, Y0, dirichlet, opts: Options, model: NewtonModel, eta0=None):
    """Newton with continuation in Im(E) from ``eta0`` (default ``opts.eta0``).  Returns (Y, converged,
    relative residual, iterations) per column."""
    rdt = jnp.real(Y0).dtype
    B = Y0.shape[-1]
    scale = model.scale(loc)[:, None, :]

    def body(state):
        Y, eta, k, err = state
        R, A, Bm, C = model.blocks(Y, loc, dirichlet, eta)
        dY = _block_solve(model, A, Bm, C, R)
        size = jnp.max(jnp.abs(dY), axis=(0, 1))
        size = jnp.where(jnp.isfinite(size), size, jnp.inf)
        damp = jnp.minimum(1.0, opts.max_step / jnp.maximum(size, 1e-300))
        Ynew = Y - damp * dY
        ok = jnp.all(jnp.isfinite(Ynew), axis=(0, 1)) & jnp.isfinite(size)
        Y = jnp.where(ok, Ynew, Y)
        err = jnp.where(ok, size, jnp.inf)
        lower = err < opts.stage_tol
        nxt = jnp.where(eta * opts.ratio < opts.eta_min, 0.0, eta * opts.ratio)
        eta = jnp.where(lower, nxt, eta)
        return Y, eta, k + 1, err

    def cond(state):
        _, eta, k, err = state
        return (k < opts.maxiter) & jnp.any((eta > 0) | (err > opts.rtol))

    state = (Y0, jnp.full(B, opts.eta0 if eta0 is None else eta0, rdt), jnp.asarray(0), jnp.full(B, jnp.inf, rdt))
    Y, _, k, err = lax.while_loop(cond, body, state)
    res = jnp.max(jnp.abs(model.residual(Y, loc, dirichlet, 0.0)) / scale, axis=(0, 1))
    ok = (res <= opts.res_tol) & jnp.isfinite(res) & jnp.all(jnp.isfinite(Y), axis=(0, 1))
    return Y, ok, res, jnp.broadcast_to(k, (B,))


def _block_matvec(A, Bm, C, v):
    """``J v`` for block-tridiagonal J (blocks (n, k, k, B)) and v (n, k, B)."""
    mv = lambda M, u: jnp.einsum("nijb,njb->nib", M, u)  # noqa: E731
    zero = jnp.zeros_like(v[:1])
    return mv(Bm, v) + mv(A, jnp.concatenate([zero, v[:-1]], 0)) + mv(C, jnp.concatenate([v[1:], zero], 0))


def newton_solve(loc, Y0, dirichlet, opts, model: NewtonModel, eta0=None):
    """Newton solve of ``model`` at the node coefficients ``loc`` from ``Y0``: ``(Y, ok, res, k)`` per column.

    The continuation starts at ``Im(E) = eta0``: ``opts.eta0`` by default, or a traced value (``0``
    for a warm start), so that one program solves both cold and warm.

    ``Y`` is differentiable in ``loc`` (forward and reverse mode) by implicit
    differentiation (`jaxqp.internal.engine.implicit_solve`): ``J dY = -dR`` with the
    block-tridiagonal Jacobian at the solution, solved by block Thomas for J and
    for J^T.  ``Y0`` carries no derivative.
    """

    def primal(loc_, start):
        Y, ok, res, k = _solve_primal(loc_, start[0], dirichlet, opts, model, start[1])
        return Y, (ok.astype(jnp.real(Y).dtype), res, k)

    def residual(Y, loc_):
        return model.residual(Y, loc_, dirichlet, 0.0)

    def linearise(Y, loc_):
        _, A, Bm, C = model.blocks(Y, loc_, dirichlet, 0.0)
        return engine.LinearSystem(
            matvec=lambda v: _block_matvec(A, Bm, C, v),
            solve=lambda b: _block_solve(model, A, Bm, C, b),
            # transposed blocks only where a transpose is solved (reverse mode)
            transpose_solve=lambda b, _: _block_solve(
                model, *transpose_blocks(A, Bm, C, node_axis=0, block_axes=(1, 2)), b))

    Y, (ok, res, k) = engine.implicit_solve(primal, residual, linearise, loc, (Y0, eta0))
    return Y, ok, res, k


# ----------------------------------------------------------------- assembly of one batch of energies
def _electrode_gf(el: Electrode, z):
    """Sector ``(g, F, Ft)`` each (2, n_E) of a contact electrode (real gauge, phase 0)."""
    if isinstance(el, Superconductor):
        _, g, f, _ = green_functions(z + 1j * el.gamma, el.spectral_params())
        return g, f, f
    one = jnp.ones((2,) + z.shape, jnp.result_type(z, 1j))
    return one, 0 * one, 0 * one


def _bulk_riccati(z, seg: Segment, delta, phi):
    """Riccati amplitudes (2 sectors, 2, n_E) of the bulk of a segment's material."""
    m = seg.material
    _, g, f, _ = green_functions(z + 1j * m.gamma,
                                 m.spectral_params(delta=delta, zeta=m.zeta + 0.5 * seg.phase_gradient ** 2))
    gam, gamt = riccati_from_gf(g, f * jnp.exp(1j * phi), f * jnp.exp(-1j * phi))
    return jnp.stack([gam, gamt], 1)


def _node_bulk_guess(p: NodeParams, z, linear: bool = False):
    """Local bulk solution of every node at complex energies z (initial guess), (n, 2 sectors, 2, n_E).

    ``linear``: no segment has depairing (known zeros, `jaxqp.internal.validation.freeze_known_zeros`):
    the closed form, no Newton loop in the program."""
    m = p.mass[:, None]
    d = (p.delta / p.mass)[:, None]
    dt = (p.delta_t / p.mass)[:, None]
    amp = jnp.sqrt(d * dt)
    amp = jnp.where(jnp.real(amp) < 0, -amp, amp)
    a = jnp.abs(amp)
    safe = jnp.where(a > 0, a, 1.0)
    pair_breaking = (0.0, 0.0, 0.0) if linear else ((2 * p.own - p.sf)[:, None] / m, p.so[:, None] / m,
                                                     p.sf[:, None] / m)
    _, g, f, _ = green_functions(z[None, :] + 1j * p.gamma[:, None] / m, p.h[:, None] / m, a + 0 * z.real,
                                 *pair_breaking)
    gam, gamt = riccati_from_gf(g, f * jnp.where(a > 0, d / safe, 1.0), f * jnp.where(a > 0, dt / safe, 1.0))
    return jnp.moveaxis(jnp.stack([gam, gamt], 1), 2, 0)  # (n, 2 sectors, 2, n_E)


def _to_layout(X, coupled):
    """(..., 2 sectors, c, n_E) -> coupled (..., 2c, n_E) or decoupled (..., c, 2 n_E)."""
    if coupled:
        return X.reshape(X.shape[:-3] + (-1, X.shape[-1]))
    return jnp.concatenate([X[..., 0, :, :], X[..., 1, :, :]], -1)


def _from_layout(Y, coupled, n_E):
    """Inverse of `_to_layout` for the unknowns: (..., 2 sectors, 2, n_E)."""
    if coupled:
        return Y.reshape(Y.shape[:-2] + (2, 2, n_E))
    return jnp.stack([Y[..., :n_E], Y[..., n_E:]], -3)


def _solve_energies(z, p: NodeParams, chain: Chain, geo: Geometry, delta_profile, coupled, opts: Options):
    n = geo.x.shape[0]
    nE = z.shape[0]
    cdt = jnp.result_type(z, 1j)
    ext = jnp.zeros((n, 2, 4, nE), cdt)
    for c, i in zip(chain.contacts, geo.contact_nodes, strict=False):
        g, F, Ft = _electrode_gf(c.electrode, z)
        ext = ext.at[i].add(c.kappa * jnp.stack([g, F, -Ft, -g], 1))
    target = jnp.zeros((2, 2, 2, nE), cdt)
    ends = ((0, 0, chain.segments[0], 0.0), (1, n - 1, chain.segments[-1], chain.segments[-1].length))
    for side, node, seg, xloc in ends:
        if geo.dirichlet[side]:
            d = seg.material.delta
            if seg.self_consistent and delta_profile is not None:
                d = jnp.asarray(delta_profile)[node]
            target = target.at[side].set(_bulk_riccati(z, seg, d, seg.phase + seg.phase_gradient * xloc))
    if coupled:
        ext_l = ext
        sign = jnp.ones(nE)
        zz = z
    else:
        ext_l = jnp.concatenate([ext[:, 0], ext[:, 1]], -1)[:, None]
        sign = jnp.concatenate([jnp.ones(nE), -jnp.ones(nE)])
        zz = jnp.concatenate([z, z])
    loc = _Local(p=p, z=zz, sign=sign, ext=ext_l, target=_to_layout(target, coupled))
    linear = all(val.known_zero(getattr(seg.material, k)) for seg in chain.segments for k in seg.material.STATIC_ZEROS)
    Y0 = lax.stop_gradient(_to_layout(_node_bulk_guess(p, z + 1j * opts.eta0, linear), coupled))
    Y0 = jnp.where(jnp.isfinite(Y0), Y0, 0.0).astype(cdt)
    for side, node in ((0, 0), (1, n - 1)):
        if geo.dirichlet[side]:
            Y0 = Y0.at[node].set(lax.stop_gradient(loc.target[side]))
    Y, ok, res, k = newton_solve(loc, Y0, geo.dirichlet, opts, _COLLINEAR)
    Y = _from_layout(Y, coupled, nE)  # (n, 2, 2, n_E)
    if not coupled:
        ok = jnp.minimum(ok[:nE], ok[nE:])
        res = jnp.maximum(res[:nE], res[nE:])
        k = k[:nE]
    return jnp.moveaxis(Y, -1, 0), ok > 0.5, res, k


# ----------------------------------------------------------------- results
class ProximitySolution(eqx.Module):
    """Retarded Green's functions on the nodes of a chain or wire.

    Arrays have shape ``(n_E, n_x, 2)`` with the spin sector last (``s = +1, -1``).
    ``F`` and ``Ft`` are the anomalous functions in the gauge of the input phases;
    ``f`` is their gauge-invariant combination ``sqrt(F Ft)`` (the ``sinh theta``
    of the real gauge).  ``converged``, ``residual``, ``iterations`` and
    ``result`` (the `jaxqp.internal.engine.RESULTS` code: why a point stopped) are
    per energy.
    """

    energy: Array
    x: Array
    gamma: Array  # (n_E, n_x, 2, 2) Riccati amplitudes (gamma, gamma~) per sector
    converged: Array  # (n_E,)
    residual: Array  # (n_E,)
    iterations: Array  # (n_E,)
    links: Array  # (n_x - 1,)
    result: Array | None = None  # (n_E,) jaxqp.internal.engine.RESULTS code per energy

    def _parts(self):
        return riccati_to_gf(self.gamma[..., 0], self.gamma[..., 1])

    @property
    def g(self) -> Array:
        return self._parts()[0]

    @property
    def F(self) -> Array:
        return self._parts()[1]

    @property
    def Ft(self) -> Array:
        return self._parts()[2]

    @property
    def f(self) -> Array:
        g, F, Ft = self._parts()
        r = jnp.sqrt(F * Ft)
        # branch continuous with the arithmetic mean (the real-gauge f when the phase is zero)
        return jnp.where(jnp.real(jnp.conj(r) * 0.5 * (F + Ft)) < 0, -r, r)

    @property
    def dos(self) -> Array:
        """Spin-resolved density of states ``Re g`` (n_E, n_x, 2)."""
        return jnp.real(self.g)

    def spectral_current(self) -> Array:
        r"""``j(E) = sum_s Tr tau_3 G_l [g_i, g_{i+1}] / 2`` on every link (n_E, n_x - 1), complex.

        The equilibrium charge current is ``I = (1/8) int dE tanh(E/2T) Re j(E)``
        (units Delta0 / (e R_xi)); at Matsubara energies see `josephson_current`.
        """
        g, F, Ft = self._parts()
        m = (g, F, -Ft, -g)
        c = _comm(tuple(a[:, :-1] for a in m), tuple(a[:, 1:] for a in m))
        return jnp.sum(0.5 * self.links[:, None] * (c[0] - c[3]), axis=-1)


# ----------------------------------------------------------------- public verbs
def check_energy(E):
    E = jnp.asarray(E)
    if E.ndim > 1:
        raise ValueError(f"E must be a scalar or 1-D array of energies, got shape {E.shape}")
    val.check_finite("E", E)
    return jnp.atleast_1d(E)


@val.jit_known_zeros
def _solve_jit(chain, E, delta_profile, geo_key, coupled, opts):
    geo = _GEOMETRIES[geo_key]
    p = node_params(chain, geo, delta_profile)
    z = E.astype(jnp.result_type(E, 1j))
    Y, ok, res, k = _solve_energies(z, p, chain, geo, delta_profile, coupled, opts)
    return ProximitySolution(energy=E, x=jnp.asarray(geo.x), gamma=Y, converged=ok, residual=res, iterations=k,
                             links=p.links, result=result_codes(ok, res, k, opts))


def result_codes(ok, res, k, opts: Options):
    """`jaxqp.internal.engine.RESULTS` code per energy of a Newton solve."""
    return engine.result_code(converged=ok, finite=jnp.isfinite(res), capped=k >= opts.maxiter)


_GEOMETRIES: dict = {}


def _geometry_key(chain: Chain):
    """Cache the static node graph of a chain; the key is hashable and static for jit."""
    key = (tuple((s.length, s.n_x) for s in chain.segments),
           tuple(i.conductance is None for i in chain.interfaces),
           tuple(float(c.position) for c in chain.contacts), chain.ends, chain.growth)
    if key not in _GEOMETRIES:
        _GEOMETRIES[key] = discretize(chain)
    return key


def _coupled(chain: Chain) -> bool:
    """Whether spin-orbit or spin-flip scattering couples the two spin sectors (True if unknown)."""
    for seg in chain.segments:
        for v in (seg.material.b_so, seg.material.b_sf):
            c = val.concrete(v)
            if c is None or np.any(c != 0):
                return True
    return False


def _as_chain(structure) -> Chain:
    if isinstance(structure, Wire):
        return chain_from_wire(structure)
    if isinstance(structure, Segment):
        structure = Chain((structure,))
    if not isinstance(structure, Chain):
        raise TypeError(f"expected a jaxqp.Chain, Segment or Wire, got {type(structure).__name__}")
    if not structure.is_collinear():
        raise ValueError("this chain has a spin-active end or interface, a non-uniform exchange field or a spin-orbit "
                         "gauge field, which the collinear solver lacks: solve it with jaxqp.solve_spin(chain, E)")
    return structure


def solve_proximity(structure, E, *, delta_profile=None, options: Options | None = None,
                    throw: bool = True) -> ProximitySolution:
    r"""Solve the retarded Usadel equation along a chain of wires (or a kinetic `jaxqp.Wire`).

    $$
    \partial_x(\sigma g\partial_x g) = \tfrac{\sigma}{D}[\Lambda_s, g]
    $$

    with Kupriyanov-Lukichev tunnel interfaces, transparent interfaces, point
    tunnel contacts, reservoir and vacuum ends (module docstring and
    docs/theory.md section 11).

    Args:
        structure: `Chain`, `Segment` or `jaxqp.Wire`.
        E: energies, shape ``(n_E,)`` (real: retarded functions; complex: e.g.
            Matsubara ``i omega``).
        delta_profile: ``(n_x,)`` |Delta| on the nodes of self-consistent
            segments (from `self_consistent_gap`).
        options: `Options` (tolerances, iteration cap, continuation).
        throw: raise if any energy did not converge (outside ``jit``).

    Returns:
        `ProximitySolution` with ``g, F, Ft, f, dos`` of shape
        ``(n_E, n_x, 2)``, positions ``x``, and per-energy ``converged``.
    """
    chain = _as_chain(structure)
    E = check_energy(E)
    key = _geometry_key(chain)
    geo = _GEOMETRIES[key]
    if delta_profile is not None and jnp.shape(delta_profile) != geo.x.shape:
        raise ValueError(f"delta_profile must have one value per node, shape {geo.x.shape}, "
                         f"got {jnp.shape(delta_profile)}")
    opts = default_options() if options is None else options
    sol = _solve_jit(chain, E, delta_profile, key, _coupled(chain), opts)
    if throw:
        val.raise_if_not_converged(sol.converged, "the 1-D Usadel solve", jnp.real(E), sol.result)
    return sol


# ----------------------------------------------------------------- equilibrium currents and self-consistency
def matsubara_frequencies(T, omega_max: float = 40.0, n: int | None = None) -> np.ndarray:
    """Positive fermionic Matsubara frequencies ``pi T (2 m + 1)`` up to ``omega_max`` (or ``n`` of them)."""
    T = float(T)
    if not T > 0:
        raise ValueError(f"Matsubara sums need a temperature > 0, got T={T}; use a small T (e.g. 1e-3) for T -> 0")
    if n is None:
        n = max(8, int(np.ceil((omega_max / (np.pi * T) - 1.0) / 2.0)))
    return np.pi * T * (2 * np.arange(n) + 1)


class JosephsonCurrent(eqx.Module):
    """Equilibrium supercurrent of a chain (units Delta0 / (e R_xi)).

    ``profile`` is the current through every link (conserved where Delta is
    zero or self-consistent), ``current`` its mean over the links, ``x`` the
    link midpoints, ``converged`` whether every Matsubara solve converged.
    """

    current: Array
    profile: Array
    x: Array
    converged: Array


def josephson_current(structure, *, temperature=None, omega_max: float = 40.0, n_matsubara: int | None = None,
                      delta_profile=None, options: Options | None = None) -> JosephsonCurrent:
    r"""Equilibrium supercurrent by a Matsubara sum.

    $$
    I = \frac{1}{8}\int dE\,\tanh\frac{E}{2T}\,\mathrm{Re}\,j(E)
    = \frac{\pi T}{2}\sum_{\omega_n > 0} \mathrm{Re}\,[\,i\, j(i\omega_n)],
    \qquad j = \sum_s \mathrm{Tr}\,\tau_3\,\tfrac{G_l}{2}[g_i, g_{i+1}],
    $$

    (the contour of the real-energy integral closed in the upper half plane);
    the sum runs to ``omega_max`` and the tail is added assuming ``j ~ 1/omega^2``.
    A positive current flows towards +x.  Under ``jit`` or ``vmap`` (a traced
    temperature) give ``n_matsubara``: the number of frequencies is then fixed
    and the sum runs to ``(2 n_matsubara - 1) pi T``; a solve that did not
    converge shows as ``converged=False``.
    """
    chain = _as_chain(structure)
    T = chain.temperature if temperature is None else temperature
    Tc = val.concrete(T)
    if Tc is None:
        if n_matsubara is None:
            raise ValueError("a traced temperature (inside jit or vmap) needs a fixed number of Matsubara "
                             "frequencies: pass n_matsubara")
        w = jnp.pi * T * (2 * jnp.arange(int(n_matsubara)) + 1)
        sol = solve_proximity(chain, 1j * w, delta_profile=delta_profile, options=options, throw=False)
        return _matsubara_current(sol, T, w[-1])
    w = matsubara_frequencies(float(Tc), omega_max, n_matsubara)
    sol = solve_proximity(chain, 1j * jnp.asarray(w), delta_profile=delta_profile, options=options)
    return _matsubara_current(sol, float(Tc), w[-1])


@jax.jit
def _matsubara_current(sol: ProximitySolution, T, omega_last) -> JosephsonCurrent:
    """The Matsubara sum of `josephson_current` with its ``1/omega^2`` tail (one program)."""
    j = sol.spectral_current()  # (n_w, n_l)
    terms = 0.5 * jnp.pi * T * jnp.real(1j * j)
    tail = terms[-1] * omega_last / (2.0 * jnp.pi * T)  # sum_{m>N} c/omega_m^2 ~ c/(2 pi T omega_N)
    profile = jnp.sum(terms, axis=0) + tail
    x = 0.5 * (sol.x[1:] + sol.x[:-1])
    return JosephsonCurrent(current=jnp.mean(profile), profile=profile, x=x, converged=jnp.all(sol.converged))


class GapProfile(eqx.Module):
    """Self-consistent |Delta| on the nodes (zero outside self-consistent segments)."""

    x: Array
    delta: Array
    converged: Array
    steps: Array


def self_consistent_gap(structure, *, temperature=None, omega_max: float = 30.0, n_matsubara: int | None = None,
                        rtol: float = 1e-6, max_steps: int = 300, options: Options | None = None,
                        throw: bool = True) -> GapProfile:
    r"""Equilibrium Delta(x) on the self-consistent segments of a chain (weak coupling).

    On every node of a self-consistent segment with bulk zero-temperature gap
    ``Delta_s`` (``material.delta``, so that ``T_c = Delta_s e^gamma / pi``),

    $$
    \Delta(x) \ln\frac{T_c}{T} = 2\pi T \sum_{\omega_n>0}
    \Big[\frac{\Delta(x)}{\omega_n} - \mathrm{Re}\,\overline{F}(i\omega_n, x)\Big],
    $$

    with ``F-bar`` the pair amplitude ``i F e^{-i phi}`` averaged over the two
    spin sectors (the gap equation of `jaxqp.gap`, here with the 1-D
    solution).  Solved by fixed-point iteration
    ``Delta <- 2 pi T sum F / (2 pi T sum 1/omega_n - ln(T_c/T))`` (plus the
    ``Delta^3 / (4 omega_max^2)`` tail of the sum) with
    ``optimistix.fixed_point``; ``jax.grad`` goes through the solution by
    implicit differentiation (no unrolled loop).
    """
    import optimistix as optx

    chain = _as_chain(structure)
    T = float(np.asarray(chain.temperature if temperature is None else temperature))
    geo = _GEOMETRIES[_geometry_key(chain)]
    n = geo.x.shape[0]
    mask = np.zeros(n, bool)
    tc = jnp.zeros(n)
    phase = jnp.zeros(n)
    x0 = 0.0
    for k, seg in enumerate(chain.segments):
        idx = geo.segment_nodes[k]
        if seg.self_consistent:
            mask[idx] = True
            tc = tc.at[idx].set(seg.material.delta * np.exp(np.euler_gamma) / np.pi)
            phase = phase.at[idx].set(seg.phase + seg.phase_gradient * (jnp.asarray(geo.x[idx]) - x0))
        x0 += seg.length
    if not mask.any():
        raise ValueError("no segment has self_consistent=True; mark the superconducting segments to solve for")
    w = matsubara_frequencies(T, omega_max, n_matsubara)
    z = 1j * jnp.asarray(w)
    denom = 2 * np.pi * T * np.sum(1.0 / w) - jnp.log(jnp.where(mask, tc, 1.0) / T)
    mask_j = jnp.asarray(mask)
    opts = default_options() if options is None else options
    key = _geometry_key(chain)
    coupled = _coupled(chain)

    w_edge = w[-1] + np.pi * T

    def update(delta, _):
        sol = _solve_jit(chain, z, delta, key, coupled, opts)
        pair = jnp.real(1j * jnp.mean(sol.F, axis=-1) * jnp.exp(-1j * phase))  # (n_w, n)
        # terms above omega_max: sum (Delta/omega - F) ~ Delta^3 / (4 omega_max^2)
        new = (2 * np.pi * T * jnp.sum(pair, axis=0) - delta ** 3 / (4 * w_edge ** 2)) / denom
        return jnp.where(mask_j, jnp.maximum(new, 0.0), 0.0)

    start = jnp.where(mask_j, jnp.maximum(tc * np.pi / np.exp(np.euler_gamma), 1e-3), 0.0)
    solver: optx.AbstractFixedPointSolver = optx.FixedPointIteration(rtol=rtol, atol=1e-9)
    fp: optx.Solution = optx.fixed_point(update, solver, start, max_steps=max_steps, throw=False)
    ok = jnp.asarray(fp.result == optx.RESULTS.successful)
    if throw:
        val.raise_if_not_converged(ok, "the self-consistent Delta(x) iteration")
    return GapProfile(x=jnp.asarray(geo.x), delta=fp.value, converged=ok, steps=fp.stats["num_steps"])
