r"""Tunnel currents between two electrodes: charge, spin, heat, conductances.

Spin-resolved current from the left electrode (bias V) to the right one, in
units of G_T Delta0 / e (docs/theory.md section 6, seed 004 Eq. 2):

$$
I_\sigma = \frac{1 + \sigma P}{2}\int dE\, N_{L\sigma}(E - V)\, N_{R\sigma}(E)\,
[f_{L\sigma}(E - V) - f_{R\sigma}(E)],
$$

with P the spin polarisation of the barrier (0 by default).  Heat leaving the
left electrode (units G_T Delta0^2 / e^2) weights the integrand by the energy
measured from the left chemical potential, E - V; heat entering the right one
is Q_L + V I (energy conservation).  Conductances dI/dV are forward-mode
derivatives of the same integrals with respect to V.

Every call broadcasts the electrodes' parameters, V and the temperatures
against each other.  Two quadrature paths (docs/theory.md, "Energy quadrature"):

- **Shared spectra** (one electrode a normal metal in equilibrium, the bias
  varying along axes where nothing else does): the superconductor's spectrum
  is solved once per parameter set on one grid for all biases
  (`jaxqp.grids.smooth`: refined at its coherence peaks, uniform enough
  in between for the Fermi edge of the normal electrode at any bias), and the
  currents at every bias are one dense product with the normal electrode's
  occupations.  This is the path of NIS curves, spin-split NIS maps and fits.
- **Per-bias grids** (both electrodes superconducting, custom distributions,
  or a bias that changes together with the parameters): the coherence peaks
  of the left electrode move with the bias, so each point gets its own grid
  refined at both electrodes' peaks and Fermi edges (`jaxqp.grids.smooth`).

In both the nodes are functions of the parameters (no ``stop_gradient``), so
autodiff derivatives are derivatives of the computed currents.  Batches are
processed in chunks (``chunk_size``) so that maps of any size fit in memory.
"""

from __future__ import annotations

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax

from . import distributions
from .grids import EnergyGrid, check_resolution, smooth
from .internal import validation as val
from .materials import NormalMetal


class SpinCurrents(NamedTuple):
    """Spin-resolved pair ``(up, dn)``; unpacks as a tuple."""

    up: Array
    dn: Array

    @property
    def charge(self) -> Array:
        """up + dn."""
        return self.up + self.dn

    @property
    def spin(self) -> Array:
        """up - dn."""
        return self.up - self.dn


_T_FLOOR = 1e-6  # k_B T below this counts as this: keeps the Fermi-edge (delta) term of dI/dV at T = 0
_THERMAL_WINDOW = 40.0  # Fermi factors differ from 0/1 by < exp(-40) beyond this many k_B T
_CUSTOM_WINDOW = 8.0  # energy window (units of Delta0) around the biases for custom distributions
_WINDOW_QUANTUM = 0.125  # integration windows are rounded outward to multiples of this (units of Delta0)


def _per_point_fields(el) -> tuple:
    """The electrode's fields that vary over a batch: not None, and not a known zero (a Python float,
    `jaxqp.internal.validation.freeze_known_zeros`), which stays static."""
    return tuple(k for k in el._batch_fields if getattr(el, k) is not None and not isinstance(getattr(el, k), float))


def _rebuild(electrode, values):
    return eqx.tree_at(lambda e: [getattr(e, k) for k in values], electrode, list(values.values()))


_PER_BIAS_FRACTION = 0.8  # per-bias grids: every sharp feature is a centre, little uniform background


def _lattice(lo, hi):
    """The bias extent [lo, hi] rounded outward to the lattice (k - 1/3) * ``_WINDOW_QUANTUM``: locally
    constant in the biases (no gradient), and it moves only when a bias crosses a lattice point,
    never at round numbers.  Margins added to it (thermal, with gradient) keep the window smooth in
    the temperatures."""
    xp = jnp if isinstance(lo, jax.Array) else np
    if xp is jnp:
        lo, hi = lax.stop_gradient(lo), lax.stop_gradient(hi)
    q, o = _WINDOW_QUANTUM, 1.0 / 3.0
    return (xp.floor(lo / q - o) + o) * q, (xp.ceil(hi / q + o) - o) * q


def _centers_widths(pairs):
    """Stack (center, width) arrays of shape (c, 1) into (c, K) arrays."""
    cs = jnp.concatenate(jnp.broadcast_arrays(*[c for c, _ in pairs]), axis=-1)
    ws = jnp.concatenate(jnp.broadcast_arrays(*[w for _, w in pairs]), axis=-1)
    return cs, ws


def _grid_for_chunk(left, right, V, TL, TR, n):
    """Adaptive grids (right-electrode frame), one per batch point.

    All arguments carry a trailing length-1 axis; the grid has shape (c, n).
    """
    cl, wl = left.singular_points()
    cr, wr = right.singular_points()
    tl, tr = TL, TR
    pairs = [(c + V, wl) for c in cl] + [(c, wr) for c in cr] + [(V, tl), (jnp.zeros_like(V), tr)]
    centers, widths = _centers_widths(pairs)
    margin = _THERMAL_WINDOW * jnp.maximum(tl, tr)
    if left.distribution is not None or right.distribution is not None:
        margin = jnp.maximum(margin, _CUSTOM_WINDOW)
    lo, hi = _lattice(jnp.minimum(V, 0.0), jnp.maximum(V, 0.0))
    lo, hi = lo - margin, hi + margin
    # nodes follow the parameters smoothly: autodiff gives the derivative of the computed integral
    return smooth(centers, widths, lo[..., 0], hi[..., 0], n, fraction=_PER_BIAS_FRACTION)


def _integrand(left, right, V, TL, TR, P, E):
    """Spin-resolved current density (2, c, n) on energies E (c, n), right frame, and a
    per-point flag (c,) that both spectral solves converged on every node."""
    NL, okL = left.spectral(E - V)
    NR, okR = right.spectral(E)
    fL = left.occupation(E - V, TL)
    fR = right.occupation(E, TR)
    sw = 0.5 * (1.0 + P * jnp.array([1.0, -1.0]).reshape(2, 1, 1))
    ok = jnp.all(okL & okR, axis=-1)
    return sw * NL * NR * (fL - fR), lax.stop_gradient(ok)


def _flag(out: dict, ok) -> dict:
    """NaN where a spectral solve failed (never a plausible-looking wrong number), plus the flag;
    ``ok`` has the shape of the outputs without their trailing spin axis."""
    out = {k: jnp.where(ok[..., None], v, jnp.nan) for k, v in out.items()}
    out["ok"] = ok
    return out


def _point_quantities(left, right, V, TL, TR, P, n, grid, what):
    """Currents etc. for a chunk of batch points; arguments carry a trailing length-1 axis."""
    if grid is None:
        grid = _grid_for_chunk(left, right, V, TL, TR, n)
    E = jnp.broadcast_to(grid.points, V.shape[:-1] + grid.points.shape[-1:])

    def integrate(x):
        return jnp.sum(grid.weights * x, axis=-1).T  # (c, 2)

    def currents(V):
        dens, ok = _integrand(left, right, V, TL, TR, P, E)
        out = {"I": integrate(dens)}
        if "Q" in what:
            out["Q"] = integrate(dens * (E - V))
        return out, ok

    return _flag(*_with_conductances(currents, V, what))


def _with_conductances(currents, V, what):
    """``currents(V) -> (dict with "I"[, "Q"], aux)``, plus ``"G"`` = dI/dV and ``"GQ"`` = dQ/dV by forward
    mode along all biases at once where ``what`` asks for them."""
    if "G" not in what and "GQ" not in what:
        return currents(V)
    out, dout, aux = jax.jvp(currents, (V,), (jnp.ones_like(V),), has_aux=True)
    out = dict(out, G=dout["I"])
    if "Q" in dout:
        out["GQ"] = dout["Q"]
    return out, aux


def _auto_chunk(n_points: int, n_energy: int) -> int:
    # keep roughly 2**22 energy nodes in flight (a few hundred MB of temporaries)
    return int(max(1, min(n_points, (1 << 22) // max(n_energy, 1))))


@val.jit_known_zeros
def _batched(point_fn, left, right, V, TL, TR, P, n, grid, what, chunk):
    """Evaluate ``point_fn`` over the broadcast batch, ``chunk`` points at a time.

    Chunks are plain arrays with a leading chunk axis and a trailing length-1
    axis (no ``vmap``), so the spectral solver sees one array per chunk and
    skips its Newton loop where the DOS is closed-form.
    """
    shape = tuple(jnp.broadcast_shapes(
        left.batch_shape(), right.batch_shape(), jnp.shape(V), jnp.shape(TL), jnp.shape(TR), jnp.shape(P)
    ))
    size = int(np.prod(shape)) if shape else 1
    chunk = max(1, min(chunk, size))
    nchunk = -(-size // chunk)
    pad = nchunk * chunk - size

    def prep(x, trailing=()):
        flat = jnp.broadcast_to(x, shape + trailing).reshape((size,) + trailing)
        if pad:
            flat = jnp.concatenate([flat, jnp.repeat(flat[-1:], pad, axis=0)], axis=0)
        return flat.reshape((nchunk, chunk) + (trailing or (1,)))

    def fields(el):
        return {k: prep(getattr(el, k)) for k in _per_point_fields(el)}

    xs = (fields(left), fields(right), prep(V), prep(TL), prep(TR), prep(P))
    common = grid is not None and grid.points.ndim == 1
    if grid is not None and not common:
        m = grid.points.shape[-1:]
        xs = xs + (EnergyGrid(prep(grid.points, m), prep(grid.weights, m)),)

    def one(args):
        pl, pr, v, tl, tr, p = args[:6]
        g = grid if common else (args[6] if len(args) > 6 else None)
        return point_fn(_rebuild(left, pl), _rebuild(right, pr), v, tl, tr, p, n, g, what)

    out = lax.map(one, xs)
    return {k: v.reshape((nchunk * chunk,) + v.shape[2:])[:size].reshape(shape + v.shape[2:])
            for k, v in out.items()}


def _prepare(left, right, V, T_left, T_right, polarization, grid, n_energy):
    V = (left.bias - right.bias) if V is None else jnp.asarray(V)
    val.check_finite("V", V, hint="bias voltages are in units of Delta0/e")
    TL = left.temperature if T_left is None else jnp.asarray(T_left)
    TR = right.temperature if T_right is None else jnp.asarray(T_right)
    for name, T, el in (("T_left", TL, left), ("T_right", TR, right)):
        if T is None:
            if el.distribution is None:
                raise ValueError(
                    f"{name} is missing: pass {name}=... or give the electrode a temperature "
                    f"({type(el).__name__}(..., temperature=...))."
                )
        else:
            val.check_nonnegative(name, T, hint="temperatures are k_B T / Delta0")
    # T = 0 is evaluated at k_B T = 1e-6 Delta0: the same currents to O(1e-6), and the
    # conductance keeps the Fermi-edge term N_L(0) N_R(V) that a hard step would drop
    TL = jnp.maximum(jnp.asarray(0.0) if TL is None else TL, _T_FLOOR)
    TR = jnp.maximum(jnp.asarray(0.0) if TR is None else TR, _T_FLOOR)
    val.check_range("polarization", polarization, -1.0, 1.0, hint="a barrier polarisation lies in [-1, 1]")
    if n_energy < 16:
        raise ValueError(f"n_energy={n_energy} is too small; use at least a few hundred nodes")
    shape = val.broadcast_shapes_or_raise(
        V=V, T_left=TL, T_right=TR, polarization=polarization,
        left=np.empty(left.batch_shape()), right=np.empty(right.batch_shape()),
    )
    if grid is not None:
        if not isinstance(grid, EnergyGrid):
            raise TypeError("grid must be a jaxqp.grids.EnergyGrid (points and weights)")
        _check_user_grid(grid, left, right, V, TL, TR)
    return V, TL, TR, jnp.asarray(polarization, dtype=jnp.result_type(float)), shape


def _check_user_grid(grid, left, right, V, TL, TR):
    """Check a concrete, common user grid against the electrodes' sharp features."""
    cl, wl = left.singular_points()
    cr, wr = right.singular_points()
    Vc = val.concrete(V)
    if Vc is None or grid.points.ndim != 1 or not (cl or cr):
        return
    cs = [val.concrete(c) for c in cl] + [val.concrete(c) for c in cr]
    ws = [val.concrete(wl)] * len(cl) + [val.concrete(wr)] * len(cr)
    if any(x is None for x in cs + ws):
        return  # traced parameters: nothing to check here
    shifts = [Vc] * len(cl) + [0.0] * len(cr)
    c = np.concatenate([np.ravel(np.asarray(ci) + sh) for ci, sh in zip(cs, shifts, strict=False)])
    w = np.concatenate([np.ravel(np.broadcast_to(wi, np.broadcast_shapes(np.shape(ci), np.shape(sh))))
                        for ci, wi, sh in zip(cs, ws, shifts, strict=False)])
    check_resolution(grid, c, w, factor=2.0, what="the energy grid passed to the junction")


# ----------------------------------------------------------------------------- shared spectra
_SHARED_NODES = 1 << 19  # (bias, energy) pairs in flight in the shared path: a kernel block of 4 MiB stays in cache


def shared_layout(left, right, V, T_left, T_right, polarization, shape) -> tuple | None:
    """Where one spectrum can serve many biases: ``(bias_axes, left_is_normal, spin_split)``, or None
    (``spin_split``: the normal electrode's spin bias may be nonzero).

    The shared path needs exactly one electrode to be a `jaxqp.NormalMetal` with a flat DOS,
    both in equilibrium (no custom ``distribution``), and a bias that varies along axes where no
    other input does (``V`` a curve, or the bias axis of a map).  Otherwise the per-bias path runs.
    """
    normal = [isinstance(e, NormalMetal) for e in (left, right)]
    if sum(normal) == 0 or left.distribution is not None or right.distribution is not None:
        return None
    r = len(shape)

    def pad(sh):
        return (1,) * (r - len(sh)) + tuple(sh)

    others = [pad(left.batch_shape()), pad(right.batch_shape()), pad(jnp.shape(T_left)), pad(jnp.shape(T_right)),
              pad(jnp.shape(polarization))]
    vs = pad(jnp.shape(V))
    axes = tuple(a for a in range(r) if vs[a] > 1 and all(o[a] == 1 for o in others))
    nm_vs = val.concrete((left if normal[0] else right).spin_bias)
    spin_split = nm_vs is None or bool(np.any(nm_vs != 0))
    return (axes, normal[0], spin_split) if axes else None


_FEATURE_FRACTION = 0.5  # share of the shared grid's nodes clustered at the spectral features
_RESOLVE = 1.5  # concrete calls: largest background spacing, in units of k_B T of the normal electrode (error < 1e-6)
_FLAG = 4.0  # traced calls (fits): a spacing above this many k_B T is flagged (error > 1e-3)


def background_spacing(lo, hi, n: int):
    """Uniform-background spacing of the shared grid on [lo, hi] with ``n`` nodes."""
    return (hi - lo) / ((1.0 - _FEATURE_FRACTION) * (n - 1))


def _window(edge_min, edge_max, T_nm, T_sc, spin_bias):
    """Energy window of the shared grid (superconductor frame): the bias extent on the lattice of
    `_lattice` (locally constant in the biases) plus a thermal margin smooth in T and V_s."""
    xp = jnp if isinstance(edge_min, jax.Array) else np
    margin = _THERMAL_WINDOW * xp.maximum(T_nm, T_sc) + xp.sqrt(spin_bias**2 + 1e-4)  # smooth in V_s
    lo, hi = _lattice(xp.minimum(edge_min, 0.0), xp.maximum(edge_max, 0.0))
    return lo - margin, hi + margin


def _shared_quantities(left, right, V, TL, TR, P, n, what, left_normal, spin_split, block):
    """Currents at ``m`` biases from one spectrum per parameter set.

    Fields, TL, TR, P carry shape (c, 1); V is (c, m).  Energies are in the frame of the
    superconducting (non-flat) electrode: the normal one's Fermi edge sits at +V (left normal) or
    -V (right normal).  Returns arrays (c, m, 2) and the flag (c, m).
    """
    sc, nm = (right, left) if left_normal else (left, right)
    T_sc, T_nm = (TR, TL) if left_normal else (TL, TR)
    edge = V if left_normal else -V
    cs, w_sc = sc.singular_points()
    centers = jnp.concatenate(jnp.broadcast_arrays(*cs, jnp.zeros_like(T_sc)), axis=-1)
    widths = jnp.concatenate(jnp.broadcast_arrays(*([w_sc] * len(cs)), T_sc), axis=-1)
    lo, hi = _window(jnp.min(edge, axis=-1, keepdims=True), jnp.max(edge, axis=-1, keepdims=True), T_nm, T_sc,
                     nm.spin_bias)
    grid = smooth(centers, widths, lo[..., 0], hi[..., 0], n, fraction=_FEATURE_FRACTION)
    E = grid.points  # (c, n)
    N, ok = sc.spectral(E)  # (2, c, n), once for all biases
    # the uniform background must resolve the normal electrode's Fermi edge (trapezoid error
    # ~ exp(-2 pi^2 T / spacing)); an unresolved one is flagged, never returned as a number
    ok = ok & (background_spacing(lo, hi, n) <= _FLAG * T_nm)
    # every bias is a sum against the normal electrode's Fermi function (distributions.fermi_sums):
    # S_s(V) = sum_j a_sj f((E_j - u_s(V))/T) with u_s = +-V + sigma V_s, one kernel for all biases
    sw = 0.5 * (1.0 + jnp.array([1.0, -1.0])[:, None] * P[:, 0])  # (2, c): barrier spin filter
    a = sw[..., None] * grid.weights * N  # (2, c, n): spin-weighted spectral weights
    f_sc = sc.occupation(E, T_sc)  # (2, c, n)
    rhs = [a, a * E] if "Q" in what else [a]
    B = jnp.stack(rhs, axis=-1).transpose(1, 0, 2, 3)  # (c, 2, n, r)
    sc_I = jnp.sum(a * f_sc, axis=-1)  # (2, c)
    sc_Q = jnp.sum(a * f_sc * E, axis=-1) if "Q" in what else None
    vs = nm.spin_bias.reshape(-1, 1, 1) * jnp.array([1.0, -1.0])[:, None] if spin_split else 0.0
    T = T_nm[:, 0]

    def currents(Vb):  # (c, k) biases -> dict of (2, c, k)
        u = (Vb if left_normal else -Vb)[:, None, :] + vs  # (c, 1 or 2, k)
        sums = distributions.fermi_sums(0, E, B, u, T).transpose(3, 1, 0, 2)  # (r, 2, c, k)
        Vs = Vb[None]
        if left_normal:  # f_nm(E - V) - f_sc(E), heat at e_left = E - V
            out = {"I": sums[0] - sc_I[..., None]}
            if "Q" in what:
                out["Q"] = sums[1] - Vs * sums[0] - (sc_Q[..., None] - Vs * sc_I[..., None])
        else:  # f_sc(E) - f_nm(E + V), heat at e_left = E
            out = {"I": sc_I[..., None] - sums[0]}
            if "Q" in what:
                out["Q"] = sc_Q[..., None] - sums[1]
        return out, ()

    def one_block(Vb):
        return _with_conductances(currents, Vb, what)[0]

    c, m = V.shape
    k = -(-m // block)
    Vp = jnp.concatenate([V, jnp.repeat(V[:, -1:], k * block - m, axis=1)], axis=1) if k * block > m else V
    blocks = lax.map(one_block, Vp.reshape(c, k, block).transpose(1, 0, 2))  # dict of (k, 2, c, block)
    out = {key: jnp.moveaxis(v, 0, 2).reshape(2, c, k * block)[:, :, :m].transpose(1, 2, 0)
           for key, v in blocks.items()}
    ok = jnp.broadcast_to(jnp.all(ok, axis=-1)[:, None], (c, m))
    return _flag(out, lax.stop_gradient(ok))


@val.jit_known_zeros
def _batched_shared(left, right, V, TL, TR, P, n, what, layout, shape, chunk_sets):
    """The shared path over the broadcast batch: parameter sets in chunks, all biases of a set at once."""
    bias_axes, left_normal, spin_split = layout
    r = len(shape)
    perm = tuple(a for a in range(r) if a not in bias_axes) + tuple(bias_axes)
    set_shape = tuple(shape[a] for a in perm[: r - len(bias_axes)])
    n_sets = int(np.prod(set_shape)) if set_shape else 1
    m = int(np.prod([shape[a] for a in bias_axes]))
    chunk = max(1, min(chunk_sets, n_sets))
    nchunk = -(-n_sets // chunk)
    pad = nchunk * chunk - n_sets

    def prep(x, per_bias=False):
        flat = jnp.transpose(jnp.broadcast_to(x, shape), perm).reshape(n_sets, m)
        flat = flat if per_bias else flat[:, :1]
        if pad:
            flat = jnp.concatenate([flat, jnp.repeat(flat[-1:], pad, axis=0)], axis=0)
        return flat.reshape((nchunk, chunk) + flat.shape[1:])

    def fields(el):
        return {k: prep(getattr(el, k)) for k in _per_point_fields(el)}

    xs = (fields(left), fields(right), prep(V, True), prep(TL), prep(TR), prep(P))
    most = int(max(1, min(m, _SHARED_NODES // max(chunk * n, 1))))
    block = -(-m // -(-m // most))  # equal blocks of at most `most` biases (least padding)

    def one(args):
        pl, pr, v, tl, tr, p = args
        return _shared_quantities(_rebuild(left, pl), _rebuild(right, pr), v, tl, tr, p, n, what, left_normal,
                                  spin_split, block)

    out = lax.map(one, xs)
    inv = tuple(int(i) for i in np.argsort(perm))

    def back(v):
        v = v.reshape((nchunk * chunk,) + v.shape[2:])[:n_sets]
        v = v.reshape(set_shape + tuple(shape[a] for a in bias_axes) + v.shape[2:])
        return jnp.transpose(v, inv + tuple(range(r, v.ndim)))

    return {k: back(v) for k, v in out.items()}


def _resolved(left, right, V, TL, TR, n, left_normal) -> bool:
    """Whether the shared grid resolves the normal electrode's Fermi edge (True when not concrete)."""
    nm = left if left_normal else right
    Vc, TLc, TRc = (val.concrete(a) for a in (V, TL, TR))
    vs = val.concrete(nm.spin_bias)
    if any(a is None for a in (Vc, TLc, TRc, vs)):
        return True
    edge = Vc if left_normal else -Vc
    T_nm, T_sc = (TLc, TRc) if left_normal else (TRc, TLc)
    lo, hi = _window(np.min(edge), np.max(edge), np.max(T_nm), np.max(T_sc), np.max(np.abs(vs)))
    return bool(background_spacing(lo, hi, n) <= _RESOLVE * np.min(T_nm))


QUADRATURES = ("auto", "shared", "per_bias")


def evaluate(left, right, V, T_left, T_right, polarization, *, n_energy: int, what: tuple,
             chunk_size: int | None = None) -> dict:
    """Spin-resolved outputs on a broadcast batch, for use inside ``jit`` (no checks, flags instead of errors).

    ``what`` names the outputs: ``"I"``, ``"Q"``, ``"G"`` (dI/dV), ``"GQ"`` (dQ/dV); each comes back with a
    trailing spin axis (up, dn), plus ``"ok"`` (the spectral solves converged and the grid resolves
    the Fermi edges; NaN elsewhere).  The shared-spectrum path is taken wherever its layout applies.
    """
    P = jnp.asarray(polarization, dtype=jnp.result_type(float))
    TL, TR = jnp.maximum(T_left, _T_FLOOR), jnp.maximum(T_right, _T_FLOOR)
    shape = tuple(jnp.broadcast_shapes(left.batch_shape(), right.batch_shape(), jnp.shape(V), jnp.shape(TL),
                                       jnp.shape(TR), jnp.shape(P)))
    layout = shared_layout(left, right, V, TL, TR, P, shape)
    return _dispatch(left, right, V, TL, TR, P, shape, n_energy, None, what, chunk_size, _point_quantities, layout)


def _dispatch(left, right, V, TL, TR, P, shape, n_energy, grid, what, chunk_size, point_fn, layout) -> dict:
    """The shared path where ``layout`` says so, else ``point_fn`` per batch point; chunk sizes keep
    about ``_SHARED_NODES`` (bias, energy) pairs in flight."""
    size = int(np.prod(shape)) if shape else 1
    if layout is not None:
        m = int(np.prod([shape[a] for a in layout[0]]))
        chunk = chunk_size or max(1, min(size // m, _SHARED_NODES // (m * n_energy)))
        return _batched_shared(left, right, V, TL, TR, P, n_energy, what, layout, tuple(shape), chunk)
    chunk = chunk_size or _auto_chunk(size, n_energy if grid is None else grid.points.shape[-1])
    return _batched(point_fn, left, right, V, TL, TR, P, n_energy, grid, what, chunk)


def _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, what,
         point_fn=_point_quantities, quadrature: str = "auto"):
    if quadrature not in QUADRATURES:
        raise ValueError(f"quadrature must be one of {QUADRATURES}, got {quadrature!r}")
    V, TL, TR, P, shape = _prepare(left, right, V, T_left, T_right, polarization, grid, n_energy)
    layout = shared_layout(left, right, V, TL, TR, P, shape) if (quadrature != "per_bias" and grid is None
                                                               and point_fn is _point_quantities) else None
    if quadrature == "shared" and layout is None:
        raise ValueError("quadrature='shared' needs one normal-metal electrode in equilibrium, no user grid, and a "
                         "bias that varies along axes where no other input does; use 'auto' or 'per_bias'")
    if layout is not None and not _resolved(left, right, V, TL, TR, n_energy, layout[1]):
        if quadrature == "shared":
            raise ValueError(f"the shared energy grid of n_energy={n_energy} nodes does not resolve the Fermi edge "
                             "of the normal electrode (background spacing > 1.5 k_B T): raise n_energy or use "
                             "quadrature='per_bias'")
        layout = None  # a concrete normal electrode too cold for the shared background: per-bias grids
    out = _dispatch(left, right, V, TL, TR, P, shape, n_energy, grid, what, chunk_size, point_fn, layout)
    val.raise_if_not_converged(out.pop("ok"), "the spectral solve of an electrode", jnp.broadcast_to(V, shape))
    return out


_DOC_ARGS = """
    Args:
        left, right: electrodes (`jaxqp.NormalMetal`,
            `jaxqp.Superconductor`); their fields may be arrays.
        V: bias of ``left`` relative to ``right`` in units of Delta0/e; default
            ``left.bias - right.bias``.
        T_left, T_right: k_B T / Delta0; default the electrodes' ``temperature``.
        polarization: spin polarisation P of the barrier, G_sigma = G_T (1 + sigma P)/2.
        grid: optional `jaxqp.grids.EnergyGrid` (right-electrode frame),
            checked against the broadening; default an adaptive grid per point.
        n_energy: nodes of the default adaptive grid.
        chunk_size: batch points computed at once (default: automatic).
        quadrature: ``"auto"`` (shared spectra where possible, see the module docstring),
            ``"shared"`` (required; an error where it cannot apply) or ``"per_bias"``.

    All of V, the temperatures, P and the electrode fields broadcast together;
    the results have the broadcast shape.
"""


def tunnel_current(left, right, V=None, T_left=None, T_right=None, *, polarization=0.0,
                   grid: EnergyGrid | None = None, n_energy: int = 2001, chunk_size: int | None = None,
                   quadrature: str = "auto") -> SpinCurrents:
    r"""Spin-resolved tunnel current ``(I_up, I_dn)`` from ``left`` to ``right``.

    $$
    I_\sigma = \frac{1+\sigma P}{2}\int dE\, N_{L\sigma}(E-V) N_{R\sigma}(E)
    [f_{L\sigma}(E-V) - f_{R\sigma}(E)]
    $$

    in units of G_T Delta0/e.  ``.charge`` and ``.spin`` give I_up +- I_dn.
    """
    out = _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, ("I",),
               quadrature=quadrature)
    return SpinCurrents(out["I"][..., 0], out["I"][..., 1])


def heat_current(left, right, V=None, T_left=None, T_right=None, *, polarization=0.0,
                 grid: EnergyGrid | None = None, n_energy: int = 2001, chunk_size: int | None = None,
                 quadrature: str = "auto") -> SpinCurrents:
    r"""Spin-resolved heat current leaving ``left``, units G_T Delta0^2/e^2.

    $$
    \dot Q_{L\sigma} = \frac{1+\sigma P}{2}\int dE\,(E-V)\,N_{L\sigma}(E-V) N_{R\sigma}(E)
    [f_{L\sigma}(E-V) - f_{R\sigma}(E)]
    $$

    The heat entering ``right`` is ``Q_L + V * I`` (Joule heat).
    """
    out = _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, ("I", "Q"),
               quadrature=quadrature)
    return SpinCurrents(out["Q"][..., 0], out["Q"][..., 1])


def differential_conductance(left, right, V=None, T_left=None, T_right=None, *, polarization=0.0,
                             grid: EnergyGrid | None = None, n_energy: int = 2001,
                             chunk_size: int | None = None, quadrature: str = "auto") -> SpinCurrents:
    """Spin-resolved dI/dV (units of G_T) by forward-mode autodiff over V."""
    out = _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, ("G",),
               quadrature=quadrature)
    return SpinCurrents(out["G"][..., 0], out["G"][..., 1])


def current_and_conductance(left, right, V=None, T_left=None, T_right=None, *, polarization=0.0,
                            grid: EnergyGrid | None = None, n_energy: int = 2001,
                            chunk_size: int | None = None,
                            quadrature: str = "auto") -> tuple[SpinCurrents, SpinCurrents]:
    """``(I, dI/dV)`` in one pass (what Newton iterations on the bias need)."""
    out = _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, ("I", "G"),
               quadrature=quadrature)
    return SpinCurrents(out["I"][..., 0], out["I"][..., 1]), SpinCurrents(out["G"][..., 0], out["G"][..., 1])


def junction_response(left, right, V=None, T_left=None, T_right=None, *, polarization=0.0,
                      grid: EnergyGrid | None = None, n_energy: int = 2001,
                      chunk_size: int | None = None, quadrature: str = "auto") -> dict:
    """Currents, heat currents and their V-derivatives in one pass.

    Returns a dict of `SpinCurrents`: ``current``, ``heat``,
    ``conductance`` (dI/dV), ``heat_conductance`` (dQ_L/dV).
    """
    out = _run(left, right, V, T_left, T_right, polarization, grid, n_energy, chunk_size, ("I", "Q", "G", "GQ"),
               quadrature=quadrature)

    def pair(k):
        return SpinCurrents(out[k][..., 0], out[k][..., 1])

    return {"current": pair("I"), "heat": pair("Q"), "conductance": pair("G"), "heat_conductance": pair("GQ")}


for _f in (tunnel_current, heat_current, differential_conductance, current_and_conductance, junction_response):
    _f.__doc__ = (_f.__doc__ or "") + _DOC_ARGS


def _point_qp_detector(detector, sample, V, _TD, TS, _P, n, grid, what):
    if grid is None:
        cd, wd = detector.singular_points()
        cs, ws = sample.singular_points()
        ts = TS
        pairs = [(c + V, wd) for c in cd] + [(c, ws) for c in cs] + [(jnp.zeros_like(V), ts)]
        centers, widths = _centers_widths(pairs)
        reach = jnp.max(jnp.abs(jnp.concatenate(jnp.broadcast_arrays(*cs), axis=-1)), axis=-1, keepdims=True) \
            if cs else jnp.zeros_like(V)
        margin = reach + _THERMAL_WINDOW * ts + 0.5
        if sample.distribution is not None:
            margin = jnp.maximum(margin, _CUSTOM_WINDOW)
        grid = smooth(centers, widths, -margin[..., 0], margin[..., 0], n, fraction=_PER_BIAS_FRACTION)
    E = jnp.broadcast_to(grid.points, V.shape[:-1] + grid.points.shape[-1:])
    Ns, ok_s = sample.spectral(E)
    qp = Ns * ((E < 0).astype(E.dtype) - sample.occupation(E, TS))

    def counted(V):
        Nd, ok_d = detector.spectral(E - V)
        return jnp.sum(grid.weights * 0.5 * Nd * qp, axis=-1).T, lax.stop_gradient(ok_d)

    (_, ok_d), (dG, _) = jax.jvp(counted, (V,), (jnp.ones_like(V),))
    return _flag({"G": dG}, jnp.all(ok_s & ok_d, axis=-1))


def quasiparticle_detector_conductance(sample, detector, V, T_sample=None, *, n_energy: int = 4001,
                                       chunk_size: int | None = None) -> SpinCurrents:
    r"""Quasiparticle spectroscopy with a cold superconducting detector (seed 000 Eq. 3).

    For k_B T_det << Delta_det and |V| < Delta + Delta_det the detector
    conductance counts the quasiparticles of the sample,

    $$
    G_\sigma(V) = \frac{1}{2}\int dE\, \partial_V N_{{\rm det},\sigma}(E - V)\,
    N_\sigma(E)\,[\theta(-E) - f_\sigma(E)],
    $$

    (electron-like quasiparticles f at E > 0, hole-like 1 - f at E < 0), with
    the detector biased by V relative to the sample, units of G_T.  It is the
    T_det -> 0 limit of `differential_conductance` (detector as ``left``)
    below the sum-gap threshold |V| < Delta + Delta_det; above it use the full
    expression.
    """
    out = _run(detector, sample, V, 0.0, T_sample, 0.0, None, n_energy, chunk_size, ("G",),
               point_fn=_point_qp_detector)
    return SpinCurrents(out["G"][..., 0], out["G"][..., 1])
