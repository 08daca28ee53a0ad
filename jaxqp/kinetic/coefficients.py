r"""Spectral kinetic coefficients from the retarded Green's functions.

With a collinear spin structure (spin-splitting field along z), the 4x4
Nambu-spin problem splits into two spin *sectors* ``s = +1, -1``: sector ``s``
holds electrons of spin ``s`` and holes of spin ``-s``.  In each sector the
retarded function is a 2x2 Nambu matrix

$$
\check g^R_s = g_s \tau_3 + f_s\, i\tau_2,\qquad g_s^2 - f_s^2 = 1,
$$

with ``g_s = cosh(theta_s)``, ``f_s = sinh(theta_s)`` as returned by the bulk
solver (``N_s = Re g_s``), and ``g^A = -tau_3 (g^R)^dagger tau_3``.  The
distribution matrix of the sector is ``h_s = f_{L,s} + f_{T,s} tau_3`` with

$$
f_{L,s} = f_L + s f_{T3},\qquad f_{T,s} = f_T + s f_{L3}
$$

(see ``docs/theory.md`` section 10).  The Keldysh Usadel equation,
``d_x (g d_x g)^K = [Lambda, g]^K`` with ``Lambda = -i Delta i tau_2 + Sigma``,
projected on ``M = tau_0`` (L) and ``M = tau_3`` (T) with ``(1/4) Tr`` gives,
for the sector vector ``(f_{L,+}, f_{T,+}, f_{L,-}, f_{T,-})``,

$$
j = \mathcal D\, \partial_x h + \mathcal J\, h,\qquad \partial_x j = \mathcal R\, h ,
$$

with (all evaluated here by exact 2x2 matrix algebra, not by hand-expanded
formulas):

- ``D_kl = 1/4 Tr[M_k (M_l - g^R M_l g^A)]`` (e.g. ``D_L = (Re g)^2 - (Re f)^2``,
  ``D_T = (Re g)^2 + (Im f)^2``),
- ``J_kl = 1/4 Tr[M_k (C^R M_l - M_l C^A)]``, ``C = g d_x g`` in the local gauge
  with phase gradient ``q`` (supercurrent coupling, seed 001 Eqs. 9-10),
- ``R_kl = 1/4 Tr[M_k [Lambda, g]^K]`` with the pair potential (``R_T = -2 Delta Im f``),
  the orbital depairing self-energy ``(zeta/2) tau_3 g tau_3`` and spin
  relaxation ``b_so g_{-s} + b_sf (tau_3 g_{-s} tau_3 + tau_3 g_s tau_3 / 2)``,
  which couple the two sectors.

The self-energies are those that reproduce the retarded equation solved by
`jaxqp.spectral.bulk` (checked in the tests).  Dynes broadening enters the
spectral functions only, as in seed 001 Appendix B.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..internal import validation as val
from ..internal.blocktri import mm_small as _mm

# 2x2 Nambu matrices
# (numpy constants: importing jaxqp does not start an XLA backend)
_T0 = np.eye(2)
_T3 = np.array([[1.0, 0.0], [0.0, -1.0]])
_A = np.array([[0.0, 1.0], [-1.0, 0.0]])  # i tau_2
_T1 = np.array([[0.0, 1.0], [1.0, 0.0]])
_M = (_T0, _T3)  # projectors of the L and T components

# diffusion floor that keeps rows regular where there are no states (Gamma = 0 in the gap)
DIFFUSION_FLOOR = 1e-10


class KineticCoefficients(eqx.Module):
    """Coefficients of ``d_x (D d_x h + J h) = R h`` in the sector basis.

    ``h = (f_{L,+}, f_{T,+}, f_{L,-}, f_{T,-})``; every array has shape
    ``(..., n_x, 4, 4)`` where ``...`` are the energy (and batch) axes;
    ``n_x`` may be 1 for a uniform wire.  ``dos`` is ``(..., n_x, 2)``: Re g_s per
    sector, used by tunnel contacts.
    """

    D: Array
    J: Array
    R: Array
    dos: Array


_MS = np.stack(_M)  # (L, 2, 2): the projectors stacked on an axis of their own
_SIGN = np.array([1.0, -1.0])  # Tr(M_k X) = X_00 + sign_k X_11
_EYE = np.eye(2, dtype=bool)[:, None, :, None]  # sector blocks (s, ., t, .)


def _nambu(g, f):
    """``g tau_3 + f i tau_2`` for ``g``, ``f`` of shape ``(..., S)`` -> ``(..., S, 1, 2, 2)``."""
    return g[..., None, None, None] * _T3 + f[..., None, None, None] * _A


def _sandwich(X, m):
    return _mm(_mm(X, m), X)


def _other(X):
    """The other sector's ``X``: the sector axis of ``(..., S, L, 2, 2)`` reversed."""
    return jnp.flip(X, axis=-4)


def _pair_and_self_energy(gX, delta, zeta, b_so, b_sf):
    """``-i Delta i tau_2 + Sigma^X`` of every sector (``X`` = R or A) from ``g^X`` ``(..., S, ., 2, 2)``:
    the orbital depairing and spin flips within the sector, ``(zeta + b_sf)/2 tau_3 g_s tau_3``, and the
    spin relaxation from the other one, ``b_so g_{-s} + b_sf tau_3 g_{-s} tau_3``."""
    return (-1j * delta * _A + 0.5 * (zeta + b_sf) * _sandwich(_T3, gX) + b_so * _other(gX)
            + b_sf * _sandwich(_T3, _other(gX)))


def _project(X):
    """``(1/4) Re Tr(M_k X_l)`` of ``X`` ``(..., S, L, 2, 2)`` as ``(..., S, K, L)``."""
    d0, d1 = X[..., 0, 0], X[..., 1, 1]  # (..., S, L)
    return 0.25 * jnp.real(d0[..., None, :] + _SIGN[:, None] * d1[..., None, :])


def _sector_blocks(own, other, batch):
    """``(..., S, K, L)`` blocks on the sector diagonal (``own``) and off it (``other``) -> ``(..., 4, 4)``."""
    x = own[..., :, :, None, :]
    out = jnp.where(_EYE, x, 0.0) if other is None else jnp.where(_EYE, x, other[..., :, :, None, :])
    return jnp.broadcast_to(out, batch + (2, 2, 2, 2)).reshape(batch + (4, 4))


@val.compiled_when_eager
def sector_coefficients(g, f, delta, *, dg=None, df=None, phase_gradient=0.0, zeta=0.0, b_so=0.0, b_sf=0.0):
    """Kinetic coefficients from sector Green's functions.

    Args:
        g, f: ``(2, ...)`` complex, sectors ``s = +1, -1`` (spin up, spin down
            electrons) on the leading axis; ``...`` broadcasts with the others.
        delta: pair potential |Delta| (real gauge).
        dg, df: position derivatives of g and f (``None``: uniform).
        phase_gradient: ``q = d_x phi`` of the order parameter (supercurrent).
        zeta: orbital depairing (not including ``q^2/2``, which the explicit
            phase gradient supplies).
        b_so, b_sf: spin-orbit and spin-flip scattering energies.

    Returns:
        ``(D, J, R)`` with shape ``(..., 4, 4)`` each, real.

    The 2x2 algebra runs on stacked axes ``(..., S, L, 2, 2)``: sector ``s``, projector ``M_l``
    (``tau_0``, ``tau_3``) of the distribution ``h_s = M_l``; the other sector is the sector axis
    reversed.
    """
    g = jnp.moveaxis(jnp.asarray(g), 0, -1)  # (..., S)
    f = jnp.moveaxis(jnp.asarray(f), 0, -1)
    dg = jnp.zeros_like(g) if dg is None else jnp.moveaxis(jnp.asarray(dg), 0, -1)
    df = jnp.zeros_like(f) if df is None else jnp.moveaxis(jnp.asarray(df), 0, -1)
    q, delta, zeta, b_so, b_sf = (jnp.asarray(a)[..., None, None, None, None]
                                  for a in (phase_gradient, delta, zeta, b_so, b_sf))
    batch = jnp.broadcast_shapes(g.shape[:-1], f.shape[:-1], dg.shape[:-1], df.shape[:-1], q.shape[:-4],
                                 delta.shape[:-4], zeta.shape[:-4], b_so.shape[:-4], b_sf.shape[:-4])
    gR = _nambu(g, f)  # (..., S, 1, 2, 2)
    gA = -_nambu(jnp.conj(g), jnp.conj(f))
    t1 = 1j * q * _T1
    CR = _mm(gR, _nambu(dg, df) + t1 * f[..., None, None, None])  # g d_x g in the local gauge
    CA = _mm(gA, -(_nambu(jnp.conj(dg), jnp.conj(df)) + t1 * jnp.conj(f)[..., None, None, None]))

    SR, SA = (_pair_and_self_energy(gX, delta, zeta, b_so, b_sf) for gX in (gR, gA))
    gK = _mm(gR, _MS) - _mm(_MS, gA)  # g^K of sector s for h_s = M_l: (..., S, L, 2, 2)
    dif = _MS - _mm(_mm(gR, _MS), gA)
    adv = _mm(CR, _MS) - _mm(_MS, CA)
    # [Lambda, g]^K: own sector (Sigma^K from h_s itself), and the other sector's Keldysh self-energy
    own_K = 0.5 * (zeta + b_sf) * _sandwich(_T3, gK)
    own = _mm(SR, gK) + _mm(own_K, gA) - _mm(gR, own_K) - _mm(gK, SA)
    oth_K = b_so * _other(gK) + b_sf * _sandwich(_T3, _other(gK))
    cross = _mm(oth_K, gA) - _mm(gR, oth_K)
    D = _sector_blocks(_project(dif), None, batch)
    J = _sector_blocks(_project(adv), None, batch)
    R = _sector_blocks(_project(own), _project(cross), batch)
    return D, J, R


@val.compiled_when_eager
def coefficients(g, f, delta, *, dg=None, df=None, phase_gradient=0.0, zeta=0.0, b_so=0.0, b_sf=0.0,
                 floor: float = DIFFUSION_FLOOR) -> KineticCoefficients:
    """`sector_coefficients` packed as `KineticCoefficients`, with the diffusion floor."""
    D, J, R = sector_coefficients(g, f, delta, dg=dg, df=df, phase_gradient=phase_gradient, zeta=zeta,
                                  b_so=b_so, b_sf=b_sf)
    D = D + floor * jnp.eye(4)
    dos = jnp.moveaxis(jnp.real(jnp.asarray(g)), 0, -1)
    return KineticCoefficients(D=D, J=J, R=R, dos=dos)


# ---------------------------------------------------------------- mode bases
# sector vector (L+, T+, L-, T-)  <->  modes (f_L, f_T, f_T3, f_L3)
# L+- = f_L +- f_T3, T+- = f_T +- f_L3
MODES_TO_SECTORS = np.array([
    [1.0, 0.0, 1.0, 0.0],
    [0.0, 1.0, 0.0, 1.0],
    [1.0, 0.0, -1.0, 0.0],
    [0.0, 1.0, 0.0, -1.0],
])
SECTORS_TO_MODES = np.linalg.inv(MODES_TO_SECTORS)
MODE_NAMES = ("f_L", "f_T", "f_T3", "f_L3")


def to_modes(h):
    """Sector vector ``(..., 4)`` -> modes ``(..., 4)`` ordered (f_L, f_T, f_T3, f_L3)."""
    return jnp.einsum("ij,...j->...i", SECTORS_TO_MODES, h)


def to_sectors(m):
    """Modes ``(..., 4)`` (f_L, f_T, f_T3, f_L3) -> sector vector (L+, T+, L-, T-)."""
    return jnp.einsum("ij,...j->...i", MODES_TO_SECTORS, m)


def sectors_from_occupations(f_up, f_dn, f_up_neg, f_dn_neg):
    """Sector vector ``(..., 4)`` from spin-resolved occupations at +E and -E.

    Sector ``s``: ``h11 = 1 - 2 f_s(E)`` (electron, spin s), ``h22 = 2 f_{-s}(-E) - 1``
    (hole, spin -s); ``L = (h11 + h22)/2``, ``T = (h11 - h22)/2``.
    """
    h11p, h22p = 1.0 - 2.0 * f_up, 2.0 * f_dn_neg - 1.0
    h11m, h22m = 1.0 - 2.0 * f_dn, 2.0 * f_up_neg - 1.0
    return jnp.stack([0.5 * (h11p + h22p), 0.5 * (h11p - h22p), 0.5 * (h11m + h22m), 0.5 * (h11m - h22m)], -1)


def occupations_from_sectors(h):
    """Spin-resolved occupations ``(2, ...)`` [f_up(E), f_dn(E)] from the sector vector."""
    f_up = 0.5 * (1.0 - (h[..., 0] + h[..., 1]))
    f_dn = 0.5 * (1.0 - (h[..., 2] + h[..., 3]))
    return jnp.stack([f_up, f_dn])
