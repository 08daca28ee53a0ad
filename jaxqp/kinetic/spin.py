r"""Kinetic equations with general (non-collinear) spin structure on a `jaxqp.SpinWire`.

The Keldysh part of the 1-D Usadel equation of `jaxqp.spectral.spin` (docs/theory.md
section 18).  The distribution matrix has eight real modes,

$$
h = f_L + f_T\,\tau_3 + \mathbf f_{T3}\cdot\boldsymbol\sigma + \mathbf f_{L3}\cdot\tau_3\boldsymbol\sigma ,
\qquad g^K = g^R h - h g^A,\quad g^A = -\tau_3 (g^R)^\dagger \tau_3 ,
$$

in the spin-rotation covariant Nambu basis ``(psi_up, psi_dn, psi_dn^+, -psi_up^+)``
(``tau_3 = diag(1, 1, -1, -1)``, ``sigma_k`` acting on both Nambu blocks).  With a collinear
structure along z the modes ``(f_L, f_T, f_T3z, f_L3z)`` are those of `jaxqp.solve_kinetic`.

Discretisation: the finite volumes of the retarded solver.  The Keldysh component of the node
equation ``[g_i, W_i] = 0``,

$$
\sum_{j} \tfrac{G_{ij}}{2}\,[\check g_i, \check g_j']^K + [\check g_i, \tfrac12\check S_i]^K
+ [\check g_i, \check\Lambda_i]^K = 0 ,
$$

is linear in the node distributions; its projections ``(1/8) Re Tr[rho_a ...]`` on the eight
basis matrices ``rho_a`` are the eight kinetic equations of node ``i`` (the imaginary parts vanish
by the symmetry ``(g^K)^dagger = tau_3 g^K tau_3``).  ``g_j'`` is the neighbour carried by the
spin-orbit transport ``U`` (identity without a gauge field), ``S_i`` the tunnel term of a
spin-active end with an electrode, and ``Lambda_i`` (volume weighted) holds the exchange field
and spin mixing, the pair potential and the self-energies (orbital depairing, spin-orbit and
spin-flip scattering, transverse gauge components) with their Keldysh parts.  The energy term
``-i E tau_3`` drops out of every projection; the Dynes ``Gamma`` broadens the spectra only (as in
`jaxqp.kinetic.coefficients`).  Reservoir ends fix ``h`` (Dirichlet); vacuum ends carry no current.
Every energy is one block-tridiagonal system with 8x8 blocks, solved for all energies at once.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..geometry import Chain, SpinActive
from ..grids import EnergyGrid
from ..internal import validation as val
from ..internal.batching import map_in_chunks
from ..internal.blocktri import block_thomas
from ..internal.blocktri import mm_small as _mm
from ..materials import Superconductor
from ..spectral import spin as _spin
from ..spectral.spin import SpinDistribution, SpinSolution, SpinWire
from .coefficients import DIFFUSION_FLOOR

# ----------------------------------------------------------------- 4x4 basis (numpy: no backend at import)
_S2 = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
_I2 = np.eye(2, dtype=complex)
_TAU3 = np.kron(np.diag([1.0, -1.0]), _I2).astype(complex)
_SIG = np.stack([np.kron(_I2, s) for s in _S2])  # sigma_k on both Nambu blocks (3, 4, 4)
RHO = np.concatenate([np.eye(4, dtype=complex)[None], _TAU3[None], _SIG, _TAU3[None] @ _SIG])  # (8, 4, 4)
MODE_NAMES = ("f_L", "f_T", "f_T3x", "f_T3y", "f_T3z", "f_L3x", "f_L3y", "f_L3z")
COLLINEAR_MODES = (0, 1, 4, 7)  # (f_L, f_T, f_T3, f_L3) of jaxqp.solve_kinetic with the spin axis z
_T3SIGN = np.outer(np.diag(_TAU3).real, np.diag(_TAU3).real)  # tau_3 x tau_3 = x * _T3SIGN


def _pauli_sum(x):
    """``sum_k sigma_k x sigma_k = 2 Tr_spin(b) - b`` on each 2x2 spin block ``b`` of ``x`` ``(..., 4, 4)``."""
    y = x.reshape(x.shape[:-2] + (2, 2, 2, 2))  # (Nambu i, spin a, Nambu j, spin b)
    t = y[..., :, 0, :, 0] + y[..., :, 1, :, 1]
    eye = jnp.asarray(np.eye(2))
    return (2 * t[..., :, None, :, None] * eye[None, :, None, :]).reshape(x.shape) - x


def _dag(a):
    return jnp.conj(jnp.swapaxes(a, -1, -2))


def advanced(gR: Array) -> Array:
    """``g^A = -tau_3 (g^R)^dagger tau_3`` of 4x4 matrices ``(..., 4, 4)``."""
    return -_dag(gR) * _T3SIGN


def modes_of(h: Array) -> Array:
    """The eight modes ``(1/4) Tr[rho_a h]`` of distribution matrices ``(..., 4, 4)`` -> ``(..., 8)``."""
    return jnp.real(jnp.einsum("aij,...ji->...a", RHO, h)) / 4


def matrix_of(modes: Array) -> Array:
    """Distribution matrix ``sum_a modes_a rho_a`` ``(..., 4, 4)`` of modes ``(..., 8)``."""
    return jnp.einsum("...a,aij->...ij", jnp.asarray(modes).astype(complex), RHO)


def distribution_matrix(dist: SpinDistribution, E) -> Array:
    """Distribution matrix ``(n_E, 4, 4)`` of a reservoir or electrode (`jaxqp.SpinDistribution`)."""
    he, hh = dist.blocks(E)  # (2, 2, n_E) each
    z = jnp.zeros_like(he)
    top = jnp.concatenate([he, z], axis=1)
    bot = jnp.concatenate([z, hh], axis=1)
    return jnp.moveaxis(jnp.concatenate([top, bot], axis=0), -1, 0)


def _project(Y):
    """``(1/8) Re Tr[rho_a Y_c]`` for Y ``(..., 8_c, 4, 4)`` -> ``(..., 8_a, 8_c)``."""
    return jnp.real(jnp.einsum("aij,...cji->...ac", RHO, Y)) / 8


def _keldysh_basis(gR, gA, rho=RHO):
    """``g^K`` for ``h = rho_c``: ``(..., 8, 4, 4)``."""
    return _mm(gR[..., None, :, :], rho) - _mm(rho, gA[..., None, :, :])


def _comm_K(gR, gA, gK, XR, XA, XK):
    """Keldysh component of ``[g, X]``."""
    return _mm(gR, XK) + _mm(gK, XA) - _mm(XR, gK) - _mm(XK, gA)


def _blockdiag(x):
    """2x2 spin matrices ``(..., 2, 2)`` -> the same on both Nambu blocks ``(..., 4, 4)``."""
    z = jnp.zeros_like(x)
    return jnp.concatenate([jnp.concatenate([x, z], -1), jnp.concatenate([z, x], -1)], -2)


def _carry(U, x):
    """``U x U^dagger`` with U ``(n, 4, 4)`` and x ``(B, n, ..., 4, 4)`` (node axis 1)."""
    extra = (None,) * (x.ndim - 4)
    Ub = U[(None, slice(None)) + extra]
    return _mm(_mm(Ub, x), _dag(Ub))


def _polarise(pol: _spin.Polarised, x):
    """``S(x) = x + a {M, x} + b M x M`` (`jaxqp.spectral.spin.polarise` in 4x4 form, ``M = tau_3 m.sigma``) on
    the polarised links of x ``(B, n - 1, ..., 4, 4)``; the other links unchanged."""
    ms, a, b = pol.weights()
    M = jnp.asarray(_TAU3) @ _blockdiag(jnp.moveaxis(ms, -1, 0))  # (k, 4, 4)
    extra = (None,) * (x.ndim - 4)
    col = lambda v: v[(None, slice(None)) + extra + (None, None)]  # noqa: E731
    Mb = M[(None, slice(None)) + extra]
    idx = np.asarray(pol.links)
    y = x[:, idx]
    MY = _mm(Mb, y)
    return x.at[:, idx].set(y + col(a) * (MY + _mm(y, Mb)) + col(b) * _mm(MY, Mb))


class KineticOperator(eqx.Module):
    """The discrete kinetic equations of every energy: ``A h_{i-1} + B h_i + C h_{i+1} = d``.

    Blocks ``(n_E, n_x, 8, 8)`` (``A[:, 0]`` and ``C[:, -1]`` zero), right side ``(n_E, n_x, 8)``,
    and the link-current operator: the current from node i to i+1 (in the frame of node i) is
    ``own[:, i] h_i + next[:, i] h_{i+1}``, ``(n_E, n_x - 1, 8, 8)`` each.
    """

    A: Array
    B: Array
    C: Array
    d: Array
    own: Array
    next: Array


def _tunnel_terms(wire: SpinWire, E, dists) -> tuple:
    """``(index, node, (S^R, S^A, S^K) / 2)`` of every barrier with an electrode (`SpinWire.barriers`): the
    Keldysh parts of its tunnel term, each ``(n_E, 4, 4)``, with the electrode's distribution ``dists[index]``."""
    out = []
    for index, node, e in wire.barriers():
        if e.electrode is None:
            continue
        ge = _spin.electrode_blocks(e.electrode, e.magnetization, E, e.bias)
        geR = _spin.to_matrix(ge)  # (B, 4, 4)
        hE = distribution_matrix(dists[index], E)
        geK = _mm(geR, hE) - _mm(hE, advanced(geR))
        blocks = tuple(jnp.moveaxis(b, 0, -1) for b in (geK[:, :2, :2], geK[:, :2, 2:], geK[:, 2:, :2], geK[:, 2:, 2:]))
        c = 0.5 * wire.barrier_conductance(index) * e.conductance
        SR = c * _spin.to_matrix(_spin.transmission(ge, e.magnetization, e.polarization))
        SK = c * _spin.to_matrix(_spin.transmission(blocks, e.magnetization, e.polarization))
        out.append((index, node, (SR, advanced(SR), SK)))
    return tuple(out)


def _self_energy(loc: _spin.NodeTerms, x):
    """Volume-weighted self-energy map of 4x4 matrices ``x`` ``(B, n, ..., 4, 4)``: orbital depairing,
    spin-orbit and spin-flip scattering and the transverse gauge components (`jaxqp.spectral.spin`)."""
    extra = (None,) * (x.ndim - 4)
    col = lambda a: a[(None, slice(None)) + extra + (None, None)]  # noqa: E731
    t3xt3 = x * _T3SIGN
    out = jnp.zeros_like(x)
    for rate, term in ((loc.orb, lambda: t3xt3), (loc.so, lambda: _pauli_sum(x)), (loc.sf, lambda: _pauli_sum(t3xt3))):
        if rate is not None:  # None: a known zero, no term
            out = out + col(rate) * term()
    if loc.gauge is not None:
        for k in range(loc.gauge.across.shape[0]):
            a = _blockdiag(jnp.moveaxis(loc.gauge.across[k], -1, 0))[(None, slice(None)) + extra]  # (1, n, .., 4, 4)
            out = out + _mm(_mm(a, x), a)
    return out


def _constant_terms(loc: _spin.NodeTerms):
    """Volume-weighted exchange (with spin mixing) and pair-potential terms of Lambda, ``(n, 4, 4)``."""
    hs = jnp.einsum("kn,kij->nij", loc.hvec.astype(complex), jnp.asarray(_S2))
    eye = jnp.asarray(_I2)
    d = -1j * loc.delta[:, None, None] * eye
    dt = 1j * loc.delta_t[:, None, None] * eye
    return jnp.concatenate([jnp.concatenate([-1j * hs, d], -1), jnp.concatenate([dt, 1j * hs], -1)], -2)


def kinetic_operator(wire: SpinWire, sol: SpinSolution, dists, *, delta_profile=None,
                     floor: float = DIFFUSION_FLOOR, tunnel: tuple | None = None) -> KineticOperator:
    """The block-tridiagonal kinetic equations (`KineticOperator`) of a wire with its retarded solution.

    Args:
        wire: the `jaxqp.SpinWire` that ``sol`` solves.
        sol: its `jaxqp.SpinSolution` at the energies of the problem.
        dists: ``(left, right)`` `jaxqp.SpinDistribution` of each end's reservoir or electrode
            (``None`` for vacuum and insulating ends).
        delta_profile: |Delta| on the nodes, as given to the retarded solve.
        floor: diffusion floor added to every link (as `jaxqp.kinetic.coefficients.DIFFUSION_FLOOR`).
        tunnel: the barriers' terms (`_tunnel_terms`) where the caller has them already.
    """
    n = wire.n_x
    E = sol.energy
    loc, _ = _spin.node_terms(wire, E.astype(complex), delta_profile, boundary=False)
    gR = sol.retarded()  # (B, n, 4, 4)
    gA = advanced(gR)
    gK = _keldysh_basis(gR, gA)  # (B, n, 8, 4, 4)
    Gl = loc.links  # (n - 1,)
    eye8 = jnp.eye(8)

    def link(i_sl, j_sl, U, G):
        """Coefficients of the link current from nodes i_sl to their neighbours j_sl (carried by U)."""
        gRj, gAj, gKj = gR[:, j_sl], gA[:, j_sl], gK[:, j_sl]
        if U is not None:
            gRj, gAj, gKj = _carry(U, gRj), _carry(U, gAj), _carry(U, gKj)
        if loc.polarised is not None:
            gRj, gAj, gKj = (_polarise(loc.polarised, y) for y in (gRj, gAj, gKj))
        gRi, gAi, gKi = gR[:, i_sl, None], gA[:, i_sl, None], gK[:, i_sl]
        half = 0.5 * G[None, :, None, None, None]
        fl = floor * G[None, :, None, None] * eye8
        own = _project(half * (_mm(gKi, gAj[:, :, None]) - _mm(gRj[:, :, None], gKi))) - fl
        nxt = _project(half * (_mm(gRi, gKj) - _mm(gKj, gAi))) + fl
        return own, nxt

    U_right = U_left = None
    if loc.gauge is not None:
        U_right = _blockdiag(jnp.moveaxis(loc.gauge.right[:, :, :-1], -1, 0))
        U_left = _blockdiag(jnp.moveaxis(loc.gauge.left[:, :, 1:], -1, 0))
    own_r, next_r = link(slice(0, n - 1), slice(1, n), U_right, Gl)  # link i -> i + 1 seen from i
    own_l, prev_l = link(slice(1, n), slice(0, n - 1), U_left, Gl)  # link i -> i - 1 seen from i
    zero = jnp.zeros_like(own_r[:, :1])
    # local terms: [g, Lambda]^K with Lambda = constant + self-energy, and the tunnel terms of the ends
    C0 = _constant_terms(loc)[None, :, None]  # (1, n, 1, 4, 4)
    XR = C0 + _self_energy(loc, gR)[:, :, None]
    XA = C0 + _self_energy(loc, gA)[:, :, None]
    XK = _self_energy(loc, gK)
    SR, SA, SK = (jnp.zeros(gR.shape, complex) for _ in range(3))
    for _, node, (r, a, k) in _tunnel_terms(wire, E, dists) if tunnel is None else tunnel:
        SR, SA, SK = SR.at[:, node].add(r), SA.at[:, node].add(a), SK.at[:, node].add(k)
    local = _project(_comm_K(gR[:, :, None], gA[:, :, None], gK, XR + SR[:, :, None], XA + SA[:, :, None], XK))
    src = jnp.real(jnp.einsum("aij,bnji->bna", RHO, _mm(gR, SK) - _mm(SK, gA))) / 8  # (B, n, 8): the electrodes' drive
    Bm = local + jnp.concatenate([own_r, zero], 1) + jnp.concatenate([zero, own_l], 1)
    Am = jnp.concatenate([zero, prev_l], 1)
    Cm = jnp.concatenate([next_r, zero], 1)
    d = -src
    eye = jnp.broadcast_to(eye8, Bm.shape[:1] + (8, 8))
    for side, node in ((0, 0), (1, n - 1)):
        if wire.ends[side] == "reservoir":
            Bm = Bm.at[:, node].set(eye)
            Am = Am.at[:, node].set(0.0)
            Cm = Cm.at[:, node].set(0.0)
            d = d.at[:, node].set(modes_of(distribution_matrix(dists[side], E)))
    return KineticOperator(A=Am, B=Bm, C=Cm, d=d, own=own_r, next=next_r)


class SpinKineticSolution(eqx.Module):
    r"""Distributions and currents of the general-spin kinetic equations.

    Attributes:
        energy: ``(n_E,)``; ``x``: node positions ``(n_x,)``.
        modes: the eight modes ``(n_E, n_x, 8)`` ordered as `MODE_NAMES`.
        spectral_current: ``(1/8) Re Tr[rho_a J^K]`` on the links ``(n_E, n_x - 1, 8)``, the matrix
            current ``J^K ~ sigma (g d_x g)^K`` from node i to i + 1 (in the spin frame of node i).
        charge_current: ``(1/2) int dE j_T`` per link ``(n_x - 1,)``; ``spin_current``:
            ``(1/2) int dE j_T3`` ``(n_x - 1, 3)``; ``heat_current``: ``(1/2) int dE E j_L``;
            the same sign and units as `jaxqp.spectral.spin.observables` (whose integrals run over
            positive energies).
        charge_potential: ``(1/2) int dE (1/8) Re Tr g^K`` per node (``V`` of a normal reservoir at
            ``SpinDistribution(voltage=V)``); ``spin_accumulation``: ``(1/2) int dE (1/8) Re Tr[tau_3
            sigma_k g^K]`` ``(n_x, 3)`` (``V_s`` along the axis in the normal state).
        barrier_charge, barrier_spin: charge ``(n_t,)`` and spin ``(n_t, 3)`` currents into the wire through
            every barrier with an electrode, in the order of `jaxqp.SpinWire.barriers` (left end, right end,
            contacts), with the sign of the matrix current: in the normal state a left-end barrier's current
            equals that of the first link, a right-end barrier's minus that of the last one.
        converged: per energy, of the retarded solution.
    """

    energy: Array
    x: Array
    modes: Array
    spectral_current: Array
    charge_current: Array
    spin_current: Array
    heat_current: Array
    charge_potential: Array
    spin_accumulation: Array
    barrier_charge: Array
    barrier_spin: Array
    converged: Array


def _check_drive(wire: SpinWire, dists):
    n_c = len(wire.contacts)
    if len(dists) != 2 + n_c:
        raise ValueError(f"distributions must give (left, right{', then one per contact' if n_c else ''}): "
                         f"{2 + n_c} SpinDistribution or None, got {len(dists)}")
    barriers = {index: e for index, _, e in wire.barriers()}
    driven = False
    for index, d in enumerate(dists):
        name = ("the left end", "the right end")[index] if index < 2 else f"contact {index - 2}"
        e = barriers.get(index, wire.ends[index] if index < 2 else None)
        needs = e == "reservoir" or (isinstance(e, SpinActive) and e.electrode is not None)
        if needs and not isinstance(d, SpinDistribution):
            raise ValueError(f"{name} is a reservoir or an electrode behind a spin-active barrier: give its "
                             f"state as a jaxqp.SpinDistribution(temperature, spin_voltage, axis, voltage), got {d!r}")
        if not needs and d is not None:
            raise ValueError(f"{name} is {'vacuum' if e == 'vacuum' else 'an insulating spin-active barrier'} "
                             "and exchanges no particles: its distribution must be None")
        if needs and isinstance(e, SpinActive) and e.electrode is not None:
            for b in (e.electrode.bias, e.bias):
                b, v = val.concrete(b), val.concrete(d.voltage)
                if b is not None and np.any(b != 0) and v is not None and np.any(b != -v):
                    raise ValueError(f"the electrode of {name} has a bias {b} of its own: the kinetic solver takes "
                                     "the voltage from its SpinDistribution (voltage = -bias); leave the bias unset")
        if needs and isinstance(e, SpinActive) and isinstance(e.electrode, Superconductor):
            vs = val.concrete(d.spin_voltage)
            if vs is None or np.any(vs != 0):
                raise ValueError(f"the electrode of {name} is a superconductor: its distribution must be at zero spin "
                                 "voltage (a spin-split condensate has no stationary state at a spin bias here); use a "
                                 "NormalMetal electrode to inject spin")
        driven = driven or needs
    if not driven:
        raise ValueError("the wire has no reservoir and no electrode, so its distribution is undetermined; "
                         "make an end 'reservoir' or give a SpinActive barrier a conductance and an electrode")


def _barrier_path(index: int):
    """Where barrier ``index`` (`jaxqp.SpinWire.barriers`) sits in the wire: an end or a contact."""
    if index < 2:
        return lambda w: w.ends[index]
    return lambda w: w.contacts[index - 2].barrier


def biased_wire(wire: SpinWire, dists) -> SpinWire:
    """The wire with every superconducting electrode at the bias of its distribution
    (`jaxqp.SpinActive.bias` ``= -voltage``), so that its retarded function is the time-averaged one
    (`jaxqp.spectral.spin.electrode_blocks`); a voltage known to be zero leaves the electrode at rest
    (its anomalous blocks included)."""
    for index, _, e in wire.barriers():
        if not isinstance(e.electrode, Superconductor) or dists[index] is None:
            continue
        v = dists[index].voltage
        c = val.concrete(v)
        if c is not None and np.all(c == 0):
            continue
        e = eqx.tree_at(lambda b: b.bias, e, -jnp.asarray(v), is_leaf=lambda x: x is None)
        wire = eqx.tree_at(_barrier_path(index), wire, e)
    return wire


def _modes(op: KineticOperator) -> Array:
    """The modes ``(n_E, n_x, 8)`` that solve the equations of `kinetic_operator`."""
    return block_thomas(op.A, op.B, op.C, op.d[..., None])[..., 0]


def _keldysh(sol: SpinSolution, h) -> Array:
    """``g^K = g^R h - h g^A`` ``(n_E, n_x, 4, 4)`` from the modes ``h``."""
    gR = sol.retarded()
    H = matrix_of(h)
    return _mm(gR, H) - _mm(H, advanced(gR))


def _per_energy(wire, sol: SpinSolution, dists, delta_profile, floor):
    """Modes, link currents, barrier currents and accumulation integrands of the energies of ``sol``."""
    tunnel = _tunnel_terms(wire, sol.energy, dists)
    op = kinetic_operator(wire, sol, dists, delta_profile=delta_profile, floor=floor, tunnel=tunnel)
    h = _modes(op)  # (B, n, 8)
    j = jnp.einsum("bnac,bnc->bna", op.own, h[:, :-1]) + jnp.einsum("bnac,bnc->bna", op.next, h[:, 1:])
    E = sol.energy
    gK = _keldysh(sol, h)
    gR = sol.retarded()
    gA = advanced(gR)
    terminals = []
    for _, node, (SR, SA, SK) in tunnel:
        # current into the wire through the barrier: minus its term in the node's equations
        y = -_comm_K(gR[:, node], gA[:, node], gK[:, node], SR, SA, SK)
        terminals.append(jnp.real(jnp.einsum("aij,bji->ba", RHO, y)) / 8)
    tj = jnp.stack(terminals, 1) if terminals else jnp.zeros(E.shape + (0, 8))  # (B, n_t, 8)
    t3 = jnp.asarray(_TAU3)
    pot = jnp.real(jnp.trace(gK, axis1=-2, axis2=-1)) / 8
    acc = jnp.real(jnp.einsum("kij,bnji->bnk", t3 @ jnp.asarray(_SIG), gK)) / 8
    return h, j, tj, pot, acc


def _energy_leaves(sol: SpinSolution) -> tuple:
    return (sol.energy, sol.gamma, sol.gamma_t, sol.converged)


@val.jit_known_zeros
def _solve_jit(wire, sol, dists, weights, delta_profile, floor):
    def batch(leaves):
        e, g, gt, ok = leaves
        part = SpinSolution(energy=e, x=sol.x, gamma=g, gamma_t=gt, converged=ok, residual=ok, iterations=ok,
                            links=sol.links, transport=sol.transport)
        return _per_energy(wire, part, dists, delta_profile, floor)

    E = sol.energy
    h, j, tj, pot, acc = map_in_chunks(batch, _energy_leaves(sol), _spin.energy_chunk(wire.n_x, E.shape[0]))
    w = 0.5 * jnp.asarray(weights)
    return SpinKineticSolution(
        energy=E, x=sol.x, modes=h, spectral_current=j,
        charge_current=jnp.einsum("b,bn->n", w, j[..., 1]), spin_current=jnp.einsum("b,bnk->nk", w, j[..., 2:5]),
        heat_current=jnp.einsum("b,bn->n", w * E, j[..., 0]), charge_potential=jnp.einsum("b,bn->n", w, pot),
        spin_accumulation=jnp.einsum("b,bnk->nk", w, acc), barrier_charge=jnp.einsum("b,bt->t", w, tj[..., 1]),
        barrier_spin=jnp.einsum("b,btk->tk", w, tj[..., 2:5]), converged=sol.converged)


def solve_spin_kinetic(wire: SpinWire | Chain, grid: EnergyGrid, distributions, *, spectra: SpinSolution | None = None,
                       delta_profile=None, options=None, throw: bool = True) -> SpinKineticSolution:
    r"""Solve the kinetic equations with general spin structure: eight distribution modes along the wire.

    $$
    \partial_x\,\mathrm{Tr}\,\rho_a\,\sigma(\check g\partial_x\check g)^K
    = \mathrm{Tr}\,\rho_a\,\sigma[\check\Lambda, \check g]^K ,\qquad a = 1..8
    $$

    (module docstring; docs/theory.md section 18), with reservoir ends at their own voltage, spin
    voltage (any axis) and temperature, vacuum ends, and spin-active ends (spin mixing, and
    polarised tunnelling to a normal electrode at a voltage and spin voltage, or to a superconducting one at
    a voltage, time-averaged: `biased_wire`).

    Args:
        wire: `jaxqp.SpinWire` or a one-segment `jaxqp.Chain`.
        grid: `jaxqp.EnergyGrid` over both signs of the energy (the currents are half its integrals);
            it must resolve the reservoirs' Fermi edges.
        distributions: ``(left, right, *contacts)``: the `jaxqp.SpinDistribution` of each reservoir end
            or electrode (ends, then the wire's `jaxqp.SpinContact` barriers), ``None`` for vacuum and
            insulating ones.
        spectra: the retarded solution at ``grid.points`` (default: `jaxqp.solve_spin`).
        delta_profile: |Delta| on the nodes ``(n_x,)``.
        options: Newton options of the retarded solve.
        throw: raise if the retarded solve did not converge at an energy.

    Returns:
        `SpinKineticSolution`.
    """
    wire = _spin.as_spin_wire(wire)
    if not isinstance(grid, EnergyGrid):
        raise TypeError("grid must be a jaxqp.EnergyGrid (points and quadrature weights), e.g. "
                        "jaxqp.grids.uniform(-e_max, e_max, n)")
    dists = tuple(distributions)
    _check_drive(wire, dists)
    wire = biased_wire(wire, dists)
    if spectra is None:
        spectra = _spin.solve_spin(wire, grid.points, delta_profile=delta_profile, options=options, throw=throw)
    elif spectra.gamma.shape[:2] != (grid.n, wire.n_x):
        raise ValueError(f"spectra must be the wire's solution at the grid's {grid.n} energies and {wire.n_x} nodes, "
                         f"got shape {spectra.gamma.shape[:2]}")
    return _solve_jit(wire, spectra, dists, grid.weights, delta_profile, DIFFUSION_FLOOR)


# ----------------------------------------------------------------- self-consistent Delta(x) out of equilibrium
class KineticPairing(eqx.Module):
    r"""The kinetic equations as the source of the gap equation: at every Delta(x) the distributions are
    solved again (`kinetic_operator`) and the pair amplitude is

    $$
    P(x) = \tfrac12 \int_{-\omega_c}^{\omega_c} dE\; \tfrac18\,[\mathrm{Tr}\,F^K
    - \overline{\mathrm{Tr}\,\tilde F^K}](E, x)
    $$

    (the anomalous blocks of ``g^K``; half the full-grid integral, which is the positive-energy
    integral of `jaxqp.spectral.spin.SpinObservables.pair_amplitude` for an even integrand).
    ``distributions``: as for `solve_spin_kinetic`.
    """

    distributions: tuple
    full_energy_grid = True

    def pair_amplitude(self, wire: SpinWire, sol: SpinSolution, weights, delta_profile) -> Array:
        op = kinetic_operator(wire, sol, self.distributions, delta_profile=delta_profile)
        gK = _keldysh(sol, _modes(op))
        tr = lambda m: m[..., 0, 0] + m[..., 1, 1]  # noqa: E731
        pair = (tr(gK[..., :2, 2:]) - jnp.conj(tr(gK[..., 2:, :2]))) / 8
        return 0.5 * jnp.einsum("b,bn->n", jnp.asarray(weights), pair)


def symmetric_grid(grid: EnergyGrid) -> EnergyGrid:
    """A grid on ``[-omega_c, omega_c]`` mirrored from one on ``[0, omega_c]`` that starts at E = 0
    (e.g. `jaxqp.devices.spin_supercurrent.energy_grid`): half its integral of an even integrand is the
    positive grid's integral exactly."""
    p, w = jnp.asarray(grid.points), jnp.asarray(grid.weights)
    first = val.concrete(p[0])
    if first is not None and first != 0.0:
        raise ValueError(f"the positive grid must start at E = 0 to be mirrored, got {float(first):.3g}")
    return EnergyGrid(points=jnp.concatenate([-p[:0:-1], p]),
                      weights=jnp.concatenate([w[:0:-1], 2 * w[:1], w[1:]]))


def self_consistent_gap(wire: SpinWire | Chain, grid: EnergyGrid, distributions, **options) -> _spin.GapSolution:
    r"""Self-consistent Delta(x) with the distributions of the kinetic equations (out of equilibrium).

    $$
    \Delta(x) = \frac{1}{\mathrm{arccosh}\,\omega_c}\,\tfrac12\int_{-\omega_c}^{\omega_c} dE\;
    \tfrac18\,\mathrm{Re}\,[\mathrm{Tr}\,F^K - \overline{\mathrm{Tr}\,\tilde F^K}](E, x)
    $$

    with ``g^K`` from `solve_spin_kinetic` at the current Delta(x): the iteration, convergence flags and
    implicit differentiation (forward and reverse mode) of `jaxqp.spectral.spin.self_consistent_gap`,
    whose keyword ``options`` (``start``, ``tol``, ``max_steps``, ``method``, ``memory``, ``options``) this
    takes.  ``grid`` covers ``[-omega_c, omega_c]`` (`symmetric_grid`), ``omega_c >= 5``.  The
    kinetic solution at the result: ``solve_spin_kinetic(wire, grid, distributions,
    spectra=gap.solution, delta_profile=gap.delta)``.
    """
    wire = _spin.as_spin_wire(wire)
    dists = tuple(distributions)
    _check_drive(wire, dists)
    return _spin.self_consistent_gap(biased_wire(wire, dists), KineticPairing(dists), grid, **options)
