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


def _tr(a):
    return jnp.trace(a, axis1=-2, axis2=-1)


def _retarded(g, f):
    return g[..., None, None] * _T3 + f[..., None, None] * _A


def _advanced(g, f):
    return -(jnp.conj(g)[..., None, None] * _T3 + jnp.conj(f)[..., None, None] * _A)


def _keldysh(gR, gA, M):
    return _mm(gR, M) - _mm(M, gA)


def _comm_K(SR, SA, SK, gR, gA, gK):
    """Keldysh component of the commutator [Sigma, g]."""
    return _mm(SR, gK) + _mm(SK, gA) - _mm(gR, SK) - _mm(gK, SA)


def _sandwich(X, m):
    return _mm(_mm(X, m), X)


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
    """
    g = jnp.asarray(g)
    f = jnp.asarray(f)
    gR = [_retarded(g[s], f[s]) for s in range(2)]
    gA = [_advanced(g[s], f[s]) for s in range(2)]
    q = jnp.asarray(phase_gradient)[..., None, None]
    dg = jnp.zeros_like(g) if dg is None else jnp.asarray(dg)
    df = jnp.zeros_like(f) if df is None else jnp.asarray(df)
    dgR = [dg[s][..., None, None] * _T3 + df[s][..., None, None] * _A + 1j * q * f[s][..., None, None] * _T1
           for s in range(2)]
    dgA = [-(jnp.conj(dg[s])[..., None, None] * _T3 + jnp.conj(df[s])[..., None, None] * _A
             + 1j * q * jnp.conj(f[s])[..., None, None] * _T1) for s in range(2)]
    CR = [_mm(gR[s], dgR[s]) for s in range(2)]
    CA = [_mm(gA[s], dgA[s]) for s in range(2)]
    delta = jnp.asarray(delta)[..., None, None]
    zeta = jnp.asarray(zeta)[..., None, None]
    b_so = jnp.asarray(b_so)[..., None, None]
    b_sf = jnp.asarray(b_sf)[..., None, None]
    lam_delta = -1j * delta * _A

    def self_energy(s, which):
        """Sigma^{which} of sector s as (own-sector part, other-sector part)."""
        o = 1 - s
        mat = {"R": gR, "A": gA}
        own = 0.5 * (zeta + b_sf) * _sandwich(_T3, mat[which][s])
        other = b_so * mat[which][o] + b_sf * _sandwich(_T3, mat[which][o])
        return own, other

    blocks_D = [[None, None], [None, None]]
    blocks_J = [[None, None], [None, None]]
    blocks_R = [[None, None], [None, None]]
    zero = jnp.zeros(jnp.broadcast_shapes(gR[0].shape, gR[1].shape, delta.shape, q.shape)[:-2] + (2, 2))
    for s in range(2):
        o = 1 - s
        own_R, oth_R = self_energy(s, "R")
        own_A, oth_A = self_energy(s, "A")
        D = [[None, None], [None, None]]
        J = [[None, None], [None, None]]
        Rs = [[None, None], [None, None]]
        Ro = [[None, None], [None, None]]
        for l, Ml in enumerate(_M):
            gK = _keldysh(gR[s], gA[s], Ml)  # g^K of sector s for h_s = M_l
            dif = Ml - _mm(_mm(gR[s], Ml), gA[s])
            adv = _mm(CR[s], Ml) - _mm(Ml, CA[s])
            # own sector: Lambda = Delta term + own self-energy; Sigma^K from h_s itself
            own_K = 0.5 * (zeta + b_sf) * _sandwich(_T3, gK)
            own = (_comm_K(lam_delta + own_R, lam_delta + own_A, own_K, gR[s], gA[s], gK)
                   + _comm_K(oth_R, oth_A, jnp.zeros_like(gK), gR[s], gA[s], gK))
            # other sector: only its Keldysh self-energy carries h_o
            gK_o = _keldysh(gR[o], gA[o], Ml)
            oth_K = b_so * gK_o + b_sf * _sandwich(_T3, gK_o)
            cross = _comm_K(jnp.zeros_like(oth_R), jnp.zeros_like(oth_A), oth_K, gR[s], gA[s], jnp.zeros_like(gK))
            for k, Mk in enumerate(_M):
                D[k][l] = 0.25 * _tr(_mm(Mk, dif))
                J[k][l] = 0.25 * _tr(_mm(Mk, adv))
                Rs[k][l] = 0.25 * _tr(_mm(Mk, own))
                Ro[k][l] = 0.25 * _tr(_mm(Mk, cross))
        blocks_D[s][s] = _stack2(D)
        blocks_J[s][s] = _stack2(J)
        blocks_R[s][s] = _stack2(Rs)
        blocks_R[s][o] = _stack2(Ro)
        blocks_D[s][o] = zero
        blocks_J[s][o] = zero
    return _block4(blocks_D), _block4(blocks_J), _block4(blocks_R)


def _stack2(m):
    shape = jnp.broadcast_shapes(*(jnp.shape(x) for row in m for x in row))
    return jnp.real(jnp.stack([jnp.stack([jnp.broadcast_to(x, shape) for x in row], -1) for row in m], -2))


def _block4(b):
    shape = jnp.broadcast_shapes(*(x.shape for row in b for x in row))
    rows = [jnp.concatenate([jnp.broadcast_to(x, shape) for x in row], -1) for row in b]
    return jnp.concatenate(rows, -2)


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
