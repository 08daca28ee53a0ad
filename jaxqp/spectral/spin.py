r"""1-D retarded Usadel equation with general (non-collinear) spin structure.

Equation (docs/theory.md section 14).  In the spin-rotation covariant Nambu
basis ``(psi_up, psi_dn, psi_dn^+, -psi_up^+)`` the retarded function is the
4x4 matrix ``g = [[g, F], [-Ft, -gt]]`` of 2x2 spin blocks with ``g^2 = 1``;
spin rotations act as ``sigma`` on both Nambu blocks.  In units of Delta0 and
xi (``D = 1``),

$$
\partial_x(\sigma\, g\partial_x g) = \sigma [\Lambda, g],\qquad
\Lambda = -i (E + i\Gamma)\tau_3 - i\tau_3\,\mathbf h\cdot\boldsymbol\sigma - i\hat\Delta
+ \tfrac{\zeta}{2}\tau_3 g\tau_3
+ \tfrac{b_{so}}{2}\sum_k \sigma_k g \sigma_k
+ \tfrac{b_{sf}}{2}\sum_k \sigma_k\tau_3 g\tau_3\sigma_k ,
$$

``Delta-hat = [[0, Delta e^{i phi}], [-Delta e^{-i phi}, 0]]`` (spin singlet:
proportional to the unit matrix in spin space in this basis) and ``h(x)`` an
exchange field of any direction, varying along the wire.  For ``h`` along z the
matrix is block diagonal in the spin sectors ``s = +1`` (components 1, 3) and
``s = -1`` (2, 4), and each sector is the equation of
`jaxqp.spectral.wire` with ``E + s h`` (tested).

Boundary conditions, at either end, are a matrix current into the wire:

* spin-active (magnetic-insulator or ferromagnetic-tunnel) interface with
  magnetisation ``m``, spin-mixing conductance ``G_phi``, tunnel conductance
  ``G_T`` and polarisation ``P`` towards an electrode ``g_e`` (``g_e = 0`` for
  an insulator), to first order in the transmissions,

  $$
  \pm L\, g\partial_x g = \frac{G_T}{2 G_N}\,[S(g_e), g]
  - \frac{i G_\phi}{2 G_N}\,[\tau_3\,\mathbf m\cdot\boldsymbol\sigma, g],\qquad
  S(g_e) = g_e + \frac{P}{1+\sqrt{1-P^2}}\{M, g_e\}
  + \frac{1-\sqrt{1-P^2}}{1+\sqrt{1-P^2}} M g_e M,
  $$

  ``M = tau_3 m.sigma``, ``G_N = sigma / L`` the normal-state conductance of
  the wire, ``+`` at the left end (x = 0) and ``-`` at the right (the form of
  J. A. Ouassou et al., Sci. Rep. 9, 12731 (2019), Methods, and its refs.
  53-56; with ``P = G_phi = 0`` it is Kupriyanov-Lukichev);
* a reservoir: the bulk solution of the end material (Dirichlet);
* vacuum: zero current.

Discretisation: finite volumes, exactly as `jaxqp.spectral.wire`: the
flux through a link is ``G_ij [g_i, g_j] / 2``, a boundary matrix current
enters the end node, and the node equation is the single commutator
``[g_i, W_i] = 0`` with ``W_i = sum_j G_ij g_j / 2 + S_i / 2 + V_i sigma Lambda_i``.
The spin-mixing term is then an exchange field ``G_phi m / 2`` concentrated on
the end node.

Parametrisation: Riccati, ``g = N (1 + gamma gamma~)``, ``F = 2 N gamma``,
``Ft = 2 N~ gamma~``, ``gt = N~ (1 + gamma~ gamma)``, ``N = (1 - gamma gamma~)^-1``,
``N~ = (1 - gamma~ gamma)^-1``, with 2x2 matrices ``gamma, gamma~``.  With the
left eigenvectors ``[1, gamma]``, ``[gamma~, 1]`` and right eigenvectors
``[gamma; -1]``, ``[1; -gamma~]`` of ``g`` (eigenvalues +1, -1), the node equation
is equivalent to the two 2x2 equations

$$
W_{12} - W_{11}\gamma + \gamma W_{22} - \gamma W_{21}\gamma = 0,\qquad
W_{21} + \tilde\gamma W_{11} - W_{22}\tilde\gamma - \tilde\gamma W_{12}\tilde\gamma = 0,
$$

eight complex unknowns per node.  Algorithm: Newton on the whole position grid
for each energy with the block-tridiagonal Jacobian (8x8 blocks, by coloured
Jacobian-vector products), block Thomas, continuation in Im(E) from the local
bulk solution, per-energy converged flag; implicit differentiation - all
shared with `jaxqp.spectral.wire`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array, lax
from jax.typing import ArrayLike

from .. import grids
from ..geometry import Chain, End, GaugeField, Segment, SpinActive, SpinContact, unit_vector
from ..internal import config as _config
from ..internal import engine
from ..internal import validation as val
from ..internal.batching import map_in_chunks
from ..internal.blocktri import jacobian_blocks
from ..internal.blocktri import mm_last as _mm
from ..materials import Electrode, Superconductor
from . import wire as _wire
from .bulk import green_functions

# Pauli matrices (3, 2, 2)
SIGMA = np.array([[[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex)
_EYE2 = np.eye(2, dtype=complex)


# ----------------------------------------------------------------- structures


class SpinNodes(eqx.Module):
    """Node data of a multi-segment `jaxqp.Chain` for the spin-general solvers (`SpinWire.from_chain`).

    The finite volumes of the collinear solver (`jaxqp.spectral.wire.discretize` and its volume-weighted
    `jaxqp.spectral.wire.NodeParams`): segments joined by transparent interfaces share a node (its half
    cells carry each segment's parameters), tunnel interfaces are links of conductance ``G_B``.  ``h``,
    ``delta`` and ``phase`` per node (mass-weighted means) serve the bulk solutions.
    """

    x: tuple = eqx.field(static=True)  # node positions (hashable: part of the compiled program's key)
    params: _wire.NodeParams
    h: Array  # (3, n)
    delta: Array
    phase: Array
    end_materials: tuple
    end_conductances: tuple
    mixing: Array  # (3, n) G_phi m / 2 of the spin-active interfaces' sides
    polarised: Polarised | None = None  # the spin-active interfaces' links (None: none)


class Polarised(eqx.Module):
    """Polarised links (spin-active `jaxqp.Interface` s with a polarisation, between segments): the
    neighbour across link ``links[k]`` enters a node's equation as ``S(g)`` (`polarise`) with the
    interface's magnetisation ``m[:, k]`` and polarisation ``P[k]``; every other link carries ``g``."""

    links: tuple = eqx.field(static=True)  # link indices (node l to l + 1)
    m: Array  # (3, k)
    P: Array  # (k,)

    def weights(self):
        """``(m.sigma (2, 2, k), a (k,), b (k,))`` of `polarise`."""
        return (_spin_vec(self.m),) + transmission_weights(self.P)


class SpinWire(eqx.Module):
    """A uniform superconducting (or normal, ``delta=0``) wire with general spin structure.

    The spin solver's own form of a one-segment `jaxqp.Chain`: every function that takes
    a `SpinWire` also takes such a chain (`SpinWire.from_chain`, `SpinWire.as_chain`).

    Attributes:
        material: `jaxqp.Superconductor` with the bulk parameters
            (``delta``, ``gamma``, ``zeta``, ``b_so``, ``b_sf``; its ``h`` is the
            magnitude of an exchange field along ``exchange_direction``).
        length: in units of xi (static).
        n_x: number of nodes, ends included (static).
        ends: ``(left, right)``, each ``"vacuum"``, ``"reservoir"`` or a
            `SpinActive` interface.
        exchange: optional exchange field per node, shape ``(n_x, 3)`` (units
            Delta0), replacing ``material.h * exchange_direction``: any
            direction, varying along the wire.
        exchange_direction: direction of ``material.h`` (static 3-vector).
        conductance: normal-state conductance per length relative to the
            reference (``sigma``).
        phase: phase of Delta, a scalar or one value per node ``(n_x,)`` (a
            phase gradient drives a charge supercurrent).
        spin_orbit: optional `jaxqp.GaugeField`: Rashba/Dresselhaus spin-orbit
            coupling as an SU(2) gauge field (covariant derivatives).
        contacts: `jaxqp.SpinContact` barriers on interior nodes (spin mixing and
            polarised tunnelling to an electrode, as at a `SpinActive` end).
    """

    material: Superconductor
    length: float = eqx.field(static=True)
    n_x: int = eqx.field(static=True)
    ends: tuple[End, End] = ("vacuum", "vacuum")
    exchange: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)
    exchange_direction: tuple = eqx.field(default=(0.0, 0.0, 1.0), static=True)
    conductance: ArrayLike = eqx.field(default=1.0, converter=jnp.asarray)
    phase: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    spin_orbit: GaugeField | None = None
    contacts: tuple = ()
    nodes: SpinNodes | None = None

    def __check_init__(self):
        if self.nodes is not None:
            if len(self.nodes.x) != self.n_x:
                raise ValueError(f"nodes describe {len(self.nodes.x)} nodes, n_x is {self.n_x}")
            if self.contacts or self.spin_orbit is not None or self.exchange is not None:
                raise ValueError("a multi-segment SpinWire takes no contacts, spin-orbit field or exchange profile "
                                 "of its own (give them per segment; contacts and gauge fields need one segment)")
        if self.spin_orbit is not None and not isinstance(self.spin_orbit, GaugeField):
            raise TypeError("spin_orbit must be a jaxqp.GaugeField (e.g. GaugeField.rashba(alpha)) or None")
        if not (isinstance(self.length, (int, float)) and self.length > 0):
            raise ValueError(f"length must be a positive number (units of xi), got {self.length!r}")
        if not (isinstance(self.n_x, int) and self.n_x >= 3):
            raise ValueError(f"n_x must be an integer >= 3, got {self.n_x!r}")
        if len(self.ends) != 2:
            raise ValueError("ends must be a pair (left, right)")
        for e in self.ends:
            if not (isinstance(e, SpinActive) or e in ("vacuum", "reservoir")):
                raise ValueError(f"an end must be 'vacuum', 'reservoir' or a SpinActive interface, got {e!r}")
        nodes = []
        for c in self.contacts:
            if not isinstance(c, SpinContact):
                raise TypeError(f"contacts must be jaxqp.SpinContact objects, got {type(c).__name__}")
            i = self._node_of(c.x)
            if not 0 < i < self.n_x - 1 or i in nodes:
                raise ValueError(f"the contact at x = {c.x} falls on node {i}: contacts need distinct interior "
                                 f"nodes 1..{self.n_x - 2} (put a barrier at an end as ends=(SpinActive(...), ...), "
                                 "or refine n_x)")
            nodes.append(i)
        if self.exchange is not None and jnp.shape(self.exchange) != (self.n_x, 3):
            raise ValueError(f"exchange must have shape (n_x, 3) = ({self.n_x}, 3), got {jnp.shape(self.exchange)}")
        val.check_positive("conductance", self.conductance, hint="sigma is the wire's conductance per length > 0")
        if jnp.ndim(self.phase) not in (0, 1) or (jnp.ndim(self.phase) == 1 and jnp.shape(self.phase)[0] != self.n_x):
            raise ValueError(f"phase must be a scalar or have shape (n_x,) = ({self.n_x},), "
                             f"got {jnp.shape(self.phase)}")

    @property
    def x(self) -> np.ndarray:
        if self.nodes is not None:
            return np.asarray(self.nodes.x)
        return np.linspace(0.0, self.length, self.n_x)

    def barrier_conductance(self, index: int):
        """``G_N = sigma / L``, the unit of a barrier's ``conductance`` and ``spin_mixing``: of the end
        segment for the ends (index 0, 1), of the wire for its contacts (index 2 + c)."""
        if self.nodes is not None and index < 2:
            return self.nodes.end_conductances[index]
        return self.conductance / self.length

    def _node_of(self, x) -> int:
        return int(round(x / self.length * (self.n_x - 1)))

    def barriers(self) -> tuple:
        """``(index, node, SpinActive)`` of every spin-active barrier: the ends (index 0, 1) and the contacts
        (index 2 + c), in the order of the kinetic solver's distributions."""
        out = [(side, (0, self.n_x - 1)[side], e) for side, e in enumerate(self.ends) if isinstance(e, SpinActive)]
        out += [(2 + k, self._node_of(c.x), c.barrier) for k, c in enumerate(self.contacts)]
        return tuple(out)

    def as_chain(self) -> Chain:
        """The same wire as a one-segment `jaxqp.Chain` (the shared 1-D description)."""
        if self.contacts:
            raise ValueError("a SpinWire with SpinContact barriers has no Chain form")
        if self.nodes is not None:
            raise ValueError("this SpinWire was built from a multi-segment Chain: use that chain")
        if jnp.ndim(self.phase):
            raise ValueError("a phase profile per node has no Chain form; give a scalar phase (or use SpinWire)")
        seg = Segment(self.material, self.length, n_x=self.n_x, conductance=self.conductance, phase=self.phase,
                      exchange=self.exchange, exchange_direction=self.exchange_direction, spin_orbit=self.spin_orbit)
        return Chain((seg,), ends=self.ends, growth=0.0)

    @classmethod
    def from_chain(cls, chain: Chain) -> SpinWire:
        """The spin solver's form of a `jaxqp.Chain`: one segment (uniform nodes, no point contacts), or
        several, joined by transparent or tunnel `jaxqp.Interface` s (`SpinNodes`; no contacts, exchange
        profiles or gauge fields).

        The node phases are ``phase + phase_gradient * x``.
        """
        if len(chain.segments) > 1:
            return cls._from_segments(chain)
        seg = chain.single_segment("the spin-general solvers", ("diffusion",),
                                   hint="; describe a varying field with Segment(exchange=...) of shape (n_x, 3)")
        if chain.contacts:
            raise ValueError("the spin-general solver has no point contacts; put a tunnel electrode at an end "
                             "as SpinActive(conductance=..., electrode=...)")
        grad = val.concrete(seg.phase_gradient)
        phase = seg.phase if grad is not None and np.all(grad == 0) else (
            seg.phase + seg.phase_gradient * jnp.linspace(0.0, seg.length, seg.n_x))
        return cls(seg.material, seg.length, seg.n_x, ends=chain.boundaries, exchange=seg.exchange,
                   exchange_direction=seg.exchange_direction, conductance=seg.conductance, phase=phase,
                   spin_orbit=seg.spin_orbit)

    @classmethod
    def _from_segments(cls, chain: Chain) -> SpinWire:
        if chain.contacts:
            raise ValueError("the spin-general solvers take point contacts on one-segment wires only "
                             "(SpinWire(contacts=(SpinContact(...),)))")
        if any(s.exchange is not None or s.spin_orbit is not None for s in chain.segments):
            raise ValueError("an exchange profile or a spin-orbit gauge field needs a one-segment wire in the "
                             "spin-general solvers; use exchange_direction per segment")
        geo = _wire.discretize(chain)
        n = geo.x.shape[0]
        p = _wire.node_params(chain, geo)
        ends = (chain.segments[0], chain.segments[-1])
        mixing = jnp.zeros((3, n))
        links, ms, Ps = [], [], []
        for k, face in enumerate(chain.interfaces):
            if face.spin_active:  # a tunnel link between the last node of segment k and the first of k + 1
                link = int(geo.segment_nodes[k + 1][0]) - 1
                q = face.mixing_sides()
                mixing = mixing.at[:, link].add(0.5 * q[0] * face.magnetization)
                mixing = mixing.at[:, link + 1].add(0.5 * q[1] * face.magnetization)
                if face.polarization is not None:
                    links.append(link)
                    ms.append(face.magnetization)
                    Ps.append(face.polarization)
        polarised = Polarised(links=tuple(links), m=jnp.stack(ms, 1), P=jnp.stack(Ps)) if links else None
        nodes = SpinNodes(x=tuple(float(v) for v in geo.x), params=p, h=p.hvec / p.mass,
                          delta=jnp.abs(p.delta) / p.mass, phase=jnp.angle(p.delta + 1e-300),
                          end_materials=tuple(s.material for s in ends),
                          end_conductances=tuple(s.conductance / s.length for s in ends), mixing=mixing,
                          polarised=polarised)
        return cls(chain.segments[0].material, float(chain.length), int(n), ends=chain.boundaries, nodes=nodes)

    def exchange_field(self) -> Array:
        """Exchange field on the nodes, ``(n_x, 3)``."""
        if self.exchange is not None:
            return jnp.asarray(self.exchange)
        n = jnp.asarray(unit_vector(self.exchange_direction, "exchange_direction"))
        return jnp.broadcast_to(self.material.h * n, (self.n_x, 3))


def as_spin_wire(wire) -> SpinWire:
    """The `SpinWire` of a `SpinWire` or a one-segment `jaxqp.Chain` (`SpinWire.from_chain`)."""
    if isinstance(wire, Chain):
        wire = SpinWire.from_chain(wire)
    if not isinstance(wire, SpinWire):
        raise TypeError(f"expected a jaxqp.Chain (one segment) or a jaxqp.SpinWire, got {type(wire).__name__}")
    return wire


# ----------------------------------------------------------------- 2x2 algebra, batch last: arrays (2, 2, ...)
def _inv2(a):
    det = a[0, 0] * a[1, 1] - a[0, 1] * a[1, 0]
    return jnp.stack([jnp.stack([a[1, 1], -a[0, 1]]), jnp.stack([-a[1, 0], a[0, 0]])]) / det


def _eye_like(a):
    return jnp.broadcast_to(jnp.asarray(_EYE2).reshape((2, 2) + (1,) * (a.ndim - 2)), a.shape).astype(a.dtype)


def _spin_vec(v):
    """``v . sigma`` for v (3, ...) -> (2, 2, ...)."""
    s = jnp.asarray(SIGMA)
    return sum(v[k][None, None] * s[k].reshape((2, 2) + (1,) * (v.ndim - 1)) for k in range(3))


def blocks_from_riccati(gam, gamt):
    """4x4 retarded function as 2x2 blocks ``(g11, g12, g21, g22)`` from Riccati matrices (2, 2, ...)."""
    one = _eye_like(gam)
    N = _inv2(one - _mm(gam, gamt))
    Nt = _inv2(one - _mm(gamt, gam))
    return (2 * N - one, 2 * _mm(N, gam), -2 * _mm(Nt, gamt), one - 2 * Nt)


def _block_mm(a, b):
    return (_mm(a[0], b[0]) + _mm(a[1], b[2]), _mm(a[0], b[1]) + _mm(a[1], b[3]),
            _mm(a[2], b[0]) + _mm(a[3], b[2]), _mm(a[2], b[1]) + _mm(a[3], b[3]))


def _pauli_sum(x):
    """``sum_k sigma_k x sigma_k = 2 Tr(x) - x`` for a 2x2 block."""
    tr = x[0, 0] + x[1, 1]
    return 2 * tr[None, None] * _eye_like(x) - x


def to_matrix(b):
    """2x2 blocks (each (2, 2, ...)) -> 4x4 matrices (..., 4, 4)."""
    top = jnp.concatenate([b[0], b[1]], axis=1)
    bot = jnp.concatenate([b[2], b[3]], axis=1)
    m = jnp.concatenate([top, bot], axis=0)  # (4, 4, ...)
    return jnp.moveaxis(jnp.moveaxis(m, 0, -1), 0, -1)


# ----------------------------------------------------------------- residual
class NodeTerms(eqx.Module):
    """Node coefficients of a `SpinWire` (volume weighted, energies last): the terms of the node
    equation ``[g_i, W_i] = 0`` (module docstring), shared by the retarded residual and the Keldysh
    (kinetic) equation of `jaxqp.kinetic.spin`."""

    mass: Array  # (n,) V sigma
    hvec: Array  # (3, n) V sigma h + boundary G_phi m / 2
    gamma: Array  # (n,) V sigma Gamma
    delta: Array  # (n,) complex V sigma Delta e^{i phi}
    delta_t: Array  # (n,) complex V sigma Delta e^{-i phi}
    orb: Array | None  # (n,) V sigma zeta / 2; None: a known zero (no term in the program)
    so: Array | None  # (n,) V sigma b_so / 2
    sf: Array | None  # (n,) V sigma b_sf / 2
    links: Array  # (n-1,)
    z: Array  # (B,) complex energies
    ext: Array  # (4 blocks, 2, 2, n, B): G_T S(g_e) per node
    target: Array  # (2, 8, B) Dirichlet values
    gauge: _Gauge | None = None  # spin-orbit gauge field (None: none)
    polarised: Polarised | None = None  # polarised links of spin-active interfaces (None: none)


class _Gauge(eqx.Module):
    """A spin-orbit gauge field on the nodes: link transports and the transverse components."""

    right: Array  # (2, 2, n): U_i = exp(-i A_0 dx) carries g_{i+1} to node i (identity at the last node)
    left: Array  # (2, 2, n): U_{i-1}^dagger carries g_{i-1} to node i (identity at the first node)
    across: Array  # (2, 2, 2, n): sqrt(V sigma) A_k, k = 1, 2 transverse


def _su2_exp(a, t):
    """``exp(-i t a.sigma)`` for a 3-vector ``a`` and lengths ``t`` (m,): (2, 2, m)."""
    norm = jnp.sqrt(jnp.sum(a ** 2) + 1e-300)
    th = norm * t
    unit = jnp.einsum("a,aij->ij", a / norm, jnp.asarray(SIGMA))
    return jnp.cos(th) * jnp.asarray(_EYE2)[:, :, None] - 1j * jnp.sin(th) * unit[:, :, None]


def _gauge(field: GaugeField, mass, dx: float, uniform: bool = False) -> _Gauge:
    """The field on the nodes; ``uniform``: every component acts as a transverse one (a solution that
    does not vary in any direction: the bulk of the end material, `_uniform_targets`)."""
    n = mass.shape[0]
    A = jnp.asarray(field.components)
    U = _su2_exp(A[0], jnp.full(n - 1, dx))  # (2, 2, n-1)
    eye = jnp.asarray(_EYE2)[:, :, None]
    if uniform:
        U = jnp.broadcast_to(eye, U.shape).astype(U.dtype)
    right = jnp.concatenate([U, eye], axis=2)
    left = jnp.concatenate([eye, jnp.conj(jnp.swapaxes(U, 0, 1))], axis=2)
    rows = A if uniform else A[1:]
    across = jnp.einsum("ka,aij->kij", rows, jnp.asarray(SIGMA))[..., None] * jnp.sqrt(mass)[None, None, None, :]
    return _Gauge(right=right, left=left, across=across)


def _carry(U, x):
    """``U x U^dagger`` per node: U (2, 2, n), x (2, 2, n, ...)."""
    extra = (None,) * (x.ndim - 3)
    Ux = jnp.einsum("abn...,bcn...->acn...", U[(...,) + extra], x)
    return jnp.einsum("abn...,cbn...->acn...", Ux, jnp.conj(U)[(...,) + extra])


def _sandwich(across, x):
    """``sum_k A_k x A_k`` (volume weighted): across (2_k, 2, 2, n), x (2, 2, n, ...)."""
    extra = (None,) * (x.ndim - 3)
    out = 0
    for k in range(across.shape[0]):
        a = across[k][(...,) + extra]
        out = out + jnp.einsum("abn...,bcn...->acn...", jnp.einsum("abn...,bcn...->acn...", a, x), a)
    return out


def _unpack(Y):
    """(n, 8, B) -> gamma, gamma~ as (2, 2, n, B)."""
    n, _, B = Y.shape
    gam = jnp.moveaxis(Y[:, :4].reshape(n, 2, 2, B), 0, 2)
    gamt = jnp.moveaxis(Y[:, 4:].reshape(n, 2, 2, B), 0, 2)
    return gam, gamt


def _pack(gam, gamt):
    n, B = gam.shape[2], gam.shape[3]
    a = jnp.moveaxis(gam, 2, 0).reshape(n, 4, B)
    b = jnp.moveaxis(gamt, 2, 0).reshape(n, 4, B)
    return jnp.concatenate([a, b], axis=1)


def _w_blocks(gam, gamt, loc: NodeTerms, eta):
    g = blocks_from_riccati(gam, gamt)
    col = lambda a: a[None, None, :, None]  # noqa: E731  (n,) -> (1, 1, n, 1)
    Gl = jnp.concatenate([jnp.zeros(1), loc.links])
    Gr = jnp.concatenate([loc.links, jnp.zeros(1)])

    shift = lambda x, k: jnp.concatenate([jnp.zeros_like(x[:, :, :1]), x[:, :, :-1]], 2) if k == 1 \
        else jnp.concatenate([x[:, :, 1:], jnp.zeros_like(x[:, :, :1])], 2)  # noqa: E731
    left, right = _links(loc, tuple(shift(b, 1) for b in g), tuple(shift(b, -1) for b in g))
    nb = [0.5 * (col(Gl) * a + col(Gr) * b) for a, b in zip(left, right, strict=True)]
    if loc.gauge is not None:  # covariant: plus sum_k A_k x A_k
        nb = [v + _sandwich(loc.gauge.across, b) for v, b in zip(nb, g, strict=True)]

    one = _eye_like(gam)
    eps = col(loc.mass) * (loc.z + 1j * eta)[None, None, None, :] + 1j * col(loc.gamma)
    hs = _spin_vec(loc.hvec[..., None])  # (2, 2, n, 1)
    s11, s12, s21, s22 = _scattering(loc, g, col)
    W11 = nb[0] + 0.5 * loc.ext[0] - 1j * (eps * one + hs) + s11
    W22 = nb[3] + 0.5 * loc.ext[3] + 1j * (eps * one + hs) + s22
    W12 = nb[1] + 0.5 * loc.ext[1] - 1j * col(loc.delta) * one + s12
    W21 = nb[2] + 0.5 * loc.ext[2] + 1j * col(loc.delta_t) * one + s21
    return W11, W12, W21, W22


_BLOCK_SIGN = (1.0, -1.0, -1.0, 1.0)  # of the blocks 11, 12, 21, 22 in the scattering terms


def _scattering(loc: NodeTerms, blocks, col) -> list:
    """The self-energy terms ``s orb x + (so + s sf) P(x)`` (``P`` = `_pauli_sum`) of the four blocks ``x``,
    ``s = +1`` on the diagonal blocks and ``-1`` off it; only the rates the material has (a rate of ``None``
    is a known zero and leaves its term out of the program), ``0.0`` for none."""
    out = []
    for s, x in zip(_BLOCK_SIGN, blocks, strict=True):
        term = 0.0 if loc.orb is None else s * col(loc.orb) * x
        mixing = [w * col(c) for c, w in ((loc.so, 1.0), (loc.sf, s)) if c is not None]
        out.append(term + sum(mixing) * _pauli_sum(x) if mixing else term)
    return out


def _links(loc: NodeTerms, left, right):
    """The neighbours' blocks (4 blocks each, (2, 2, n, ...)) as they enter a node's link terms: carried by
    the gauge transport and through the polarised links (``S(g)``) of spin-active interfaces."""
    if loc.gauge is not None:
        left = tuple(_carry(loc.gauge.left, b) for b in left)
        right = tuple(_carry(loc.gauge.right, b) for b in right)
    if loc.polarised is not None:  # only on the interface links: node l + 1 sees node l across link l, and back
        extra = (None,) * (left[0].ndim - 3)
        ms, a, b = (w[(...,) + extra] for w in loc.polarised.weights())
        idx = np.asarray(loc.polarised.links)

        def across(blocks, nodes):
            out = polarise(tuple(x[:, :, nodes] for x in blocks), ms, a, b)
            return tuple(x.at[:, :, nodes].set(o) for x, o in zip(blocks, out, strict=True))

        left, right = across(left, idx + 1), across(right, idx)
    return left, right


def _project(gam, gamt, W):
    """The two 2x2 equations of the node commutator ``[g, W] = 0`` (module docstring)."""
    W11, W12, W21, W22 = W
    e1 = W12 - _mm(W11, gam) + _mm(gam, W22) - _mm(_mm(gam, W21), gam)
    e2 = W21 + _mm(gamt, W11) - _mm(W22, gamt) - _mm(_mm(gamt, W12), gamt)
    return e1, e2


def _residual(Y, loc: NodeTerms, dirichlet, eta):
    """Projected node equations (n, 8, B) (module docstring)."""
    gam, gamt = _unpack(Y)
    e1, e2 = _project(gam, gamt, _w_blocks(gam, gamt, loc, eta))
    return _wire.dirichlet_rows(_pack(e1, e2), Y, loc.target, dirichlet)


def _jvp_blocks(Y, loc, dirichlet, eta):
    """Jacobian blocks by coloured Jacobian-vector products (reference for `_blocks`)."""
    return jacobian_blocks(lambda y: _residual(y, loc, dirichlet, eta), Y, Y.shape[-1], vectorize=True)


def _unit_directions(dtype):
    """dgamma, dgamma~ of the 8 unit directions, each (2, 2, 1, 1, 8)."""
    d = np.zeros((2, 2, 2, 8), complex)  # (which, i, j, direction)
    for a in range(8):
        d[a // 4, (a % 4) // 2, a % 2, a] = 1.0
    d = jnp.asarray(d, dtype)[:, :, :, None, None, :]
    return d[0], d[1]


def _unit_dg(gam, gamt):
    """Derivatives of the blocks of g along the 8 unit directions, each (2, 2, ..., 8).

    Along ``dgamma = E_ij`` every block derivative is an outer product of a column and a row:
    ``dg = 2 N_:i (gamma~ N)_j:``, ``dF = 2 N_:i N~_j:``, ``d(-Ft) = -2 (N~ gamma~)_:i (N~ gamma~)_j:``,
    ``d(-gt) = -2 (N~ gamma~)_:i N~_j:``; along ``dgamma~ = E_ij``: ``dg = 2 (N gamma)_:i N_j:``,
    ``dF = 2 (N gamma)_:i (N gamma)_j:``, ``d(-Ft) = -2 N~_:i N_j:``, ``d(-gt) = -2 N~_:i (gamma N~)_j:``
    (with ``1 + gamma~ N gamma = N~`` and ``1 + gamma N~ gamma~ = N``).
    """
    one = _eye_like(gam)
    N = _inv2(one - _mm(gam, gamt))
    Nt = _inv2(one - _mm(gamt, gam))
    gN, Ng = _mm(gamt, N), _mm(N, gam)  # gamma~ N, N gamma
    Ntg, gNt = _mm(Nt, gamt), _mm(gam, Nt)  # N~ gamma~, gamma N~

    def outer(col, row):  # [..., d] = col[:, i_d] (x) row[j_d, :] for the 4 directions d = (i_d, j_d)
        c = jnp.moveaxis(col[:, _DIR_I], 1, -1)  # (2, ..., 4)
        r = jnp.moveaxis(row[_DIR_J], 0, -1)  # (2, ..., 4)
        return c[:, None] * r[None, :]

    along_g = (outer(N, gN), outer(N, Nt), -outer(Ntg, Ntg), -outer(Ntg, Nt))  # dgamma = E_ij
    along_gt = (outer(Ng, N), outer(Ng, Ng), -outer(Nt, N), -outer(Nt, gNt))  # dgamma~ = E_ij
    return tuple(2 * jnp.concatenate([a, b], -1) for a, b in zip(along_g, along_gt, strict=True))


_DIR_I = np.array([0, 0, 1, 1])  # row and column of the unit matrix E_ij of direction d = 2 i + j
_DIR_J = np.array([0, 1, 0, 1])


def _blocks(Y, loc: NodeTerms, dirichlet, eta):
    """Residual and analytic block diagonals (A, B, C), each (n, 8, 8, B), of its Jacobian.

    Equal to `_jvp_blocks` (tested) and several times cheaper: the
    derivative of ``g`` along the 8 unit directions is formed once per node and
    the projection is linear in ``W``.
    """
    gam, gamt = _unpack(Y)
    W = _w_blocks(gam, gamt, loc, eta)
    R = _wire.dirichlet_rows(_pack(*_project(gam, gamt, W)), Y, loc.target, dirichlet)
    x = lambda a: a[..., None]  # noqa: E731  trailing direction axis
    g_, gt_ = x(gam), x(gamt)
    W11, W12, W21, W22 = (x(w) for w in W)
    dg, dgt = _unit_directions(Y.dtype)
    dG = _unit_dg(gam, gamt)
    proj = lambda *d: _project(g_, gt_, d)  # noqa: E731  linear in W: the same projection of dW

    def as_block(e1, e2):  # (2, 2, n, B, 8) x 2 -> (n, 8, 8, B)
        out = jnp.concatenate([e1.reshape((4,) + e1.shape[2:]), e2.reshape((4,) + e2.shape[2:])], 0)
        return jnp.moveaxis(jnp.moveaxis(out, 0, 1), -1, 2)  # (n, 8_out, 8_in, B)

    col = lambda a: a[None, None, :, None, None]  # noqa: E731
    dW = _scattering(loc, dG, col)  # the node's own terms of W that depend on g
    if loc.gauge is not None:
        dW = [w + _sandwich(loc.gauge.across, d) for w, d in zip(dW, dG, strict=True)]
    e1, e2 = (0.0, 0.0) if all(isinstance(w, float) for w in dW) else proj(*dW)
    e1 = e1 - _mm(W11, dg) + _mm(dg, W22) - _mm(_mm(dg, W21), g_) - _mm(_mm(g_, W21), dg)
    e2 = e2 + _mm(dgt, W11) - _mm(W22, dgt) - _mm(_mm(dgt, W12), gt_) - _mm(_mm(gt_, W12), dgt)
    Bm = as_block(e1, e2)
    # neighbours: W_i gains G/2 dg_j; the projection uses the node's own gamma
    shift = lambda a, k: jnp.roll(a, k, axis=2)  # noqa: E731
    Gl = jnp.concatenate([jnp.zeros(1), loc.links])
    Gr = jnp.concatenate([loc.links, jnp.zeros(1)])
    left, right = _links(loc, tuple(shift(d, 1) for d in dG), tuple(shift(d, -1) for d in dG))
    A = as_block(*proj(*(0.5 * col(Gl) * d for d in left)))
    C = as_block(*proj(*(0.5 * col(Gr) * d for d in right)))
    A, Bm, C = _wire.dirichlet_blocks(A, Bm, C, dirichlet)
    return R, A, Bm, C


def _scale(loc: NodeTerms):
    G = jnp.concatenate([jnp.zeros(1), loc.links]) + jnp.concatenate([loc.links, jnp.zeros(1)])
    ext = jnp.sum(jnp.abs(loc.ext), axis=(0, 1, 2))
    rates = sum(w * x for w, x in ((1, loc.orb), (2, loc.so), (2, loc.sf)) if x is not None)
    base = G + jnp.abs(loc.delta) + jnp.sqrt(jnp.sum(loc.hvec ** 2, 0)) + rates + 1e-300
    if loc.gauge is not None:
        base = base + jnp.sum(jnp.abs(loc.gauge.across) ** 2, axis=(0, 1, 2))
    return base[:, None] + ext + loc.mass[:, None] * (1.0 + jnp.abs(loc.z))


_MODEL = _wire.NewtonModel(_residual, _blocks, _scale, batch_first=True)


# ----------------------------------------------------------------- bulk solutions (guess, reservoirs, electrodes)
def _projectors(hvec):
    """Spin projectors ``(1 + s n.sigma)/2`` for s = +1, -1 along ``hvec`` (3, ...) (z if hvec = 0)."""
    mag = jnp.sqrt(jnp.sum(hvec ** 2, 0))
    safe = jnp.where(mag > 0, mag, 1.0)
    n = jnp.where(mag > 0, hvec / safe, jnp.asarray([0.0, 0.0, 1.0]).reshape((3,) + (1,) * (hvec.ndim - 1)))
    ns = _spin_vec(n)
    one = _eye_like(ns)
    return mag, ((one + ns) / 2, (one - ns) / 2)


def _bulk_blocks(z, hvec, delta, phase, gamma, zeta=0.0, b_so=0.0, b_sf=0.0):
    """Bulk 4x4 blocks and Riccati matrices at energies z (B,) for per-node parameters (n,) -> (2, 2, n, B).

    ``zeta``, ``b_so``, ``b_sf`` left at Python zeros take the bulk solver's closed form (no Newton
    loop in the program).
    """
    mag, P = _projectors(hvec)
    zz = z[None, :] + 1j * gamma[:, None]
    col = lambda x: x if isinstance(x, float) else x[:, None]  # noqa: E731
    _, g, f, _ = green_functions(zz, mag[:, None], delta[:, None] + 0 * zz.real, col(zeta), col(b_so),
                                 col(b_sf))  # (2 sectors, n, B)
    ph = jnp.exp(1j * phase)[:, None]
    gam_s, gamt_s = _wire.riccati_from_gf(g, f * ph, f / ph)
    Pb = [p[..., None] for p in P]  # (2, 2, n, 1)
    gam = sum(gam_s[s][None, None] * Pb[s] for s in range(2))
    gamt = sum(gamt_s[s][None, None] * Pb[s] for s in range(2))
    return gam, gamt


def _one_node(m: Superconductor) -> tuple:
    """``zeta, b_so, b_sf`` of a material as one node's values for `_bulk_blocks` (known zeros stay Python
    floats: the closed form)."""
    return tuple(x if isinstance(x, float) else jnp.reshape(x, (1,)) for x in (m.zeta, m.b_so, m.b_sf))


def electrode_blocks(el: Electrode, m, z, bias=None):
    """Retarded blocks of an electrode's 4x4 function (spin axis m), each (2, 2, B).

    A superconducting electrode at a ``bias`` (`jaxqp.SpinActive.bias`, its electrochemical potential;
    ``None``: at rest) enters through its time average: the electron block at ``E - bias``, the hole
    block at ``E + bias``, and no anomalous blocks (they oscillate at the Josephson frequency
    ``2 bias``, so their stationary part vanishes)."""
    B = z.shape[0]
    if isinstance(el, Superconductor):
        hv = jnp.asarray(m)[:, None] * el.h

        def bulk(zz):
            gam, gamt = _bulk_blocks(zz, hv, jnp.reshape(el.delta, (1,)), jnp.zeros(1), jnp.reshape(el.gamma, (1,)),
                                     *_one_node(el))
            return tuple(b[:, :, 0] for b in blocks_from_riccati(gam, gamt))

        if bias is None:
            return bulk(z)
        e, h = bulk(z - bias), bulk(z + bias)
        return (e[0], 0 * e[1], 0 * e[2], h[3])
    one = jnp.broadcast_to(jnp.asarray(_EYE2)[:, :, None], (2, 2, B))
    return (one, 0 * one, 0 * one, -one)


def polarise(x, ms, a, b):
    """``S(x) = x + a {M, x} + b M x M`` with ``M = tau_3 m.sigma`` on 2x2 blocks ``x`` (4 blocks, each (2, 2, ...));
    ``ms = m.sigma`` (2, 2, ...) and ``a``, ``b`` broadcast against the blocks' batch."""
    rows, cols = (1, 1, -1, -1), (1, -1, 1, -1)  # the sign of M on the row and the column block
    out = []
    for k in range(4):
        mx = _mm(ms, x[k])
        out.append(x[k] + a * (rows[k] * mx + cols[k] * _mm(x[k], ms)) + b * (rows[k] * cols[k]) * _mm(mx, ms))
    return tuple(out)


def transmission_weights(P):
    """``(a, b) = (P, 1 - sqrt(1 - P^2)) / (1 + sqrt(1 - P^2))``: the weights of ``{M, g}`` and ``M g M`` in
    the spin-active transmission ``S`` (module docstring)."""
    r = jnp.sqrt(1 - P ** 2)
    return P / (1 + r), (1 - r) / (1 + r)


def transmission(ge, m, P):
    """``S(g_e)`` of the module docstring, blocks (2, 2, B)."""
    ms = _spin_vec(jnp.asarray(m)[:, None])  # (2, 2, 1)
    return polarise(ge, ms, *transmission_weights(P))


class _Nodes(NamedTuple):
    mass: Array
    h: Array  # (3, n) exchange field (not volume weighted)
    hb: Array  # (3, n) boundary term G_phi m / 2
    delta: Array  # (n,) |Delta|
    phase: Array


def _node_data(wire: SpinWire, delta_profile):
    n = wire.n_x
    hb = jnp.zeros((3, n))
    for index, node, e in wire.barriers():
        hb = hb.at[:, node].add(0.5 * wire.barrier_conductance(index) * e.spin_mixing * jnp.asarray(e.magnetization))
    if wire.nodes is not None:
        if delta_profile is not None:
            raise ValueError("a Delta profile needs a one-segment wire in the spin-general solvers")
        nb = wire.nodes
        return _Nodes(mass=nb.params.mass, h=nb.h, hb=hb + nb.mixing, delta=nb.delta, phase=nb.phase)
    dx = wire.length / (n - 1)
    vol = np.full(n, dx)
    vol[0] = vol[-1] = dx / 2
    mass = jnp.asarray(vol) * wire.conductance
    h = jnp.asarray(wire.exchange_field()).T
    d = wire.material.delta * jnp.ones(n) if delta_profile is None else jnp.asarray(delta_profile)
    return _Nodes(mass=mass, h=h, hb=hb, delta=jnp.asarray(d), phase=jnp.asarray(wire.phase * jnp.ones(n)))


def node_terms(wire: SpinWire, z, delta_profile, uniform: bool = False, boundary: bool = True):
    """`NodeTerms` of the wire at energies ``z`` (B,), with the Dirichlet targets of reservoir ends, and the
    node data; the bulk guess at z + i eta0 is made by the caller.  ``boundary=False`` leaves the
    electrodes' tunnel terms and the reservoirs' targets at zero (callers with their own, such as the
    kinetic equations: no bulk solve in their programs).

    With a gauge field the targets of reservoir ends are left for `_uniform_targets` (no closed form);
    ``uniform``: every component of the field acts as a transverse one."""
    m = wire.material
    nd = _node_data(wire, delta_profile)
    n = wire.n_x
    B = z.shape[0]
    cdt = jnp.result_type(z, 1j)
    mass = nd.mass
    dcomplex = nd.delta * jnp.exp(1j * nd.phase)
    ext = jnp.zeros((4, 2, 2, n, B), cdt)
    target = jnp.zeros((2, 8, B), cdt)
    for index, node, e in wire.barriers() if boundary else ():
        if e.electrode is not None:
            ge = electrode_blocks(e.electrode, e.magnetization, z, e.bias)
            S = transmission(ge, e.magnetization, e.polarization)
            ext = ext.at[:, :, :, node].add(wire.barrier_conductance(index) * e.conductance * jnp.stack(S))
    for side, node in ((0, 0), (1, n - 1)) if boundary else ():
        e = wire.ends[side]
        me = m if wire.nodes is None else wire.nodes.end_materials[side]
        if e == "reservoir" and wire.spin_orbit is None:
            gam, gamt = _bulk_blocks(z, nd.h[:, node:node + 1], nd.delta[node:node + 1], nd.phase[node:node + 1],
                                     jnp.reshape(me.gamma, (1,)), *_one_node(me))
            target = target.at[side].set(_pack(gam, gamt)[0])
    if wire.nodes is not None:  # the collinear solver's weights: own = (zeta + b_sf)/2, so = b_so, sf = b_sf
        p = wire.nodes.params
        return NodeTerms(mass=mass, hvec=p.hvec + nd.hb, gamma=p.gamma, delta=p.delta, delta_t=p.delta_t,
                         orb=p.own - p.sf / 2, so=p.so / 2, sf=p.sf / 2, links=p.links, z=z.astype(cdt), ext=ext,
                         target=target, polarised=wire.nodes.polarised), nd
    links = jnp.full(n - 1, wire.conductance * (n - 1) / wire.length)
    gauge = None if wire.spin_orbit is None else _gauge(wire.spin_orbit, mass, wire.length / (n - 1), uniform)
    return NodeTerms(mass=mass, hvec=mass * nd.h + nd.hb, gamma=mass * m.gamma, delta=mass * dcomplex,
                      delta_t=mass * nd.delta * jnp.exp(-1j * nd.phase),
                      orb=_rate(mass, m.zeta), so=_rate(mass, m.b_so), sf=_rate(mass, m.b_sf), links=links,
                      z=z.astype(cdt), ext=ext, target=target, gauge=gauge), nd


def _rate(mass, rate):
    """The volume-weighted half rate of a scattering term; ``None`` (no term) for a known zero."""
    return None if val.known_zero(rate) else mass * rate / 2


def _guess(wire: SpinWire, nd: _Nodes, z):
    """Local bulk solution at ``z = E + i eta0`` without pair breaking (the closed form): the start of
    the continuation, whose first stage iterates until its update is small, so zeta, b_so and b_sf
    enter there; a Newton loop for the guess alone would only lengthen the program."""
    gamma = (wire.material.gamma * jnp.ones(wire.n_x) if wire.nodes is None
             else wire.nodes.params.gamma / wire.nodes.params.mass)
    gam, gamt = _bulk_blocks(z, nd.h, nd.delta, nd.phase, gamma)
    Y = _pack(gam, gamt)
    return jnp.where(jnp.isfinite(Y), Y, 0.0)


def _ends_dirichlet(wire):
    return (wire.ends[0] == "reservoir", wire.ends[1] == "reservoir")


def _solve_core(wire: SpinWire, E, delta_profile, opts: _wire.Options, Y0=None, cold=None):
    """Solve at real or complex energies E (B,); Y (n, 8, B) and flags.  ``Y0`` (n, 8, B) warm start.

    ``cold``: a traced flag that chooses inside one program between the cold start (from the local
    bulk guess, continuation from ``E + i opts.eta0``) and the warm start (from ``Y0``, at ``eta = 0``).
    """
    z = jnp.asarray(E).astype(jnp.result_type(E, 1j))
    loc, nd = node_terms(wire, z, delta_profile)
    dirichlet = _ends_dirichlet(wire)
    ok_ends = True
    if wire.spin_orbit is not None and any(dirichlet):
        sides = [side for side in (0, 1) if dirichlet[side]]
        t, ok_ends = _uniform_targets(wire, nd, [(0, wire.n_x - 1)[side] for side in sides], z, opts)
        loc = eqx.tree_at(lambda lc: lc.target, loc, loc.target.at[np.asarray(sides)].set(t))
    eta0 = None
    if Y0 is None or cold is not None:
        guess = lax.stop_gradient(_guess(wire, nd, z + 1j * opts.eta0)).astype(z.dtype)
        if Y0 is None:
            Y0 = guess
        else:
            Y0, eta0 = jnp.where(cold, guess, Y0), jnp.where(cold, opts.eta0, 0.0)
    for side, node in ((0, 0), (1, wire.n_x - 1)):
        if dirichlet[side]:
            Y0 = Y0.at[node].set(lax.stop_gradient(loc.target[side]))
    Y, ok, res, k = _wire.newton_solve(loc, Y0, dirichlet, opts, _MODEL, eta0)
    return Y, (ok > 0.5) & ok_ends, res, k, loc


def _uniform_targets(wire: SpinWire, nd: _Nodes, nodes: list, z, opts: _wire.Options):
    """The bulk solutions of the end material at ``nodes`` with a gauge field,
    ``[Lambda + sum_k A_k g A_k, g] = 0`` over all three components (a film that does not vary in any
    direction), which have no closed form: the uniform solutions of three decoupled nodes per end with
    vacuum ends, on which the neighbour terms cancel, in one Newton solve.
    Returns the unknowns (len(nodes), 8, B) and the per-energy converged flags."""
    idx = np.repeat(np.asarray(nodes), 3)
    aux = SpinWire(wire.material, wire.length, idx.size, exchange=nd.h[:, idx].T, phase=nd.phase[idx],
                   spin_orbit=wire.spin_orbit)
    loc, nd_aux = node_terms(aux, z, nd.delta[idx], uniform=True)
    cut = np.arange(1, idx.size) % 3 != 0  # no link between the triples of different ends
    loc = eqx.tree_at(lambda lc: lc.links, loc, loc.links * cut)
    Y0 = lax.stop_gradient(_guess(aux, nd_aux, z + 1j * opts.eta0)).astype(z.dtype)
    Y, ok, _, _ = _wire.newton_solve(loc, Y0, (False, False), opts, _MODEL)
    return Y[1::3], ok > 0.5


# ----------------------------------------------------------------- results
class SpinSolution(eqx.Module):
    """Retarded functions of a `SpinWire` on its nodes.

    ``gamma``, ``gamma_t``: Riccati matrices ``(n_E, n_x, 2, 2)``; ``energy``
    ``(n_E,)``; ``x`` ``(n_x,)``; ``converged``, ``residual``, ``iterations``
    and ``result`` (the `jaxqp.internal.engine.RESULTS` code) per energy;
    ``links`` the link conductances; ``transport`` ``(2, 2, n_x - 1)`` the spin
    rotations ``exp(-i A dx)`` that carry node i + 1 to node i (a spin-orbit
    gauge field; ``None`` without one).
    """

    energy: Array
    x: Array
    gamma: Array
    gamma_t: Array
    converged: Array
    residual: Array
    iterations: Array
    links: Array
    result: Array | None = None  # (n_E,) jaxqp.internal.engine.RESULTS code per energy
    transport: Array | None = None

    @val.compiled_when_eager
    def blocks(self):
        """2x2 blocks ``(g, F, -Ft, -gt)`` of the retarded function, each ``(2, 2, n_E, n_x)``."""
        gam = jnp.moveaxis(jnp.moveaxis(self.gamma, -2, 0), -1, 1)
        gamt = jnp.moveaxis(jnp.moveaxis(self.gamma_t, -2, 0), -1, 1)
        return blocks_from_riccati(gam, gamt)

    def at_energies(self, index) -> SpinSolution:
        """The solution at some of its energies (``index``: a slice or integer array into ``energy``)."""
        per_energy = ("energy", "gamma", "gamma_t", "converged", "residual", "iterations", "result")
        return eqx.tree_at(lambda s: [getattr(s, k) for k in per_energy if getattr(s, k) is not None], self,
                           [getattr(self, k)[index] for k in per_energy if getattr(self, k) is not None])

    @val.compiled_when_eager
    def retarded(self) -> Array:
        """4x4 retarded function ``(n_E, n_x, 4, 4)``."""
        return to_matrix(self.blocks())

    @val.compiled_when_eager
    def dos(self) -> Array:
        """Density of states per spin, averaged over spin, ``Re Tr g / 2`` ``(n_E, n_x)``."""
        g = self.blocks()[0]
        return 0.5 * jnp.real(g[0, 0] + g[1, 1])

    @val.compiled_when_eager
    def spin_dos(self) -> Array:
        """Spin-resolved DOS along each axis: ``N_{k,s} = Re Tr[(1 + s sigma_k) g] / 2``, ``(3, 2, n_E, n_x)``.

        ``[k, 0]`` is spin parallel to axis k (x, y, z), ``[k, 1]`` antiparallel;
        with an exchange field ``h`` along z, ``N_{z,+}(E) = N_BCS(E + h)``.
        """
        g = self.blocks()[0]
        n0 = 0.5 * jnp.real(g[0, 0] + g[1, 1])
        nk = jnp.stack([0.5 * jnp.real(jnp.einsum("ij,ji...->...", SIGMA[k], g)) for k in range(3)])
        return jnp.stack([n0 + nk, n0 - nk], 1)


# ----------------------------------------------------------------- public verbs
def default_options() -> _wire.Options:
    """The 1-D solver's options with a faster continuation path (``ratio=0.05``).

    The 8x8 Newton of the spin-general wire iterates its whole batch until the last energy has
    converged: 21 to 27 iterations with the collinear path's ratio 0.3, 11 to 20 with 0.05, and the
    solutions agree to the Newton tolerance (1e-8 at Gamma = 1e-6, else 5e-12) on seed 003 wires
    (Gamma = 1e-4; spin mixing 2 with Gamma = 1e-6), an exchange field with spin-orbit scattering and
    a vacuum end, depairing with two magnetisations, strong pair breaking with a reservoir end, and
    a 6 xi wire between a reservoir and a strongly spin-active end.  A stage lowers eta only once
    its Newton update is small, so a hard energy takes more steps at a stage instead of jumping
    branches.
    """
    return _wire.default_options()._replace(ratio=0.05)


ENERGY_NODES_PER_BATCH = 1 << 16  # energies x nodes of one Newton batch: about 30 kB of temporaries each


def energy_chunk(n_x: int, n_energy: int) -> int:
    """Energies solved in one batch (`ENERGY_NODES_PER_BATCH` energy-nodes): larger problems run as a loop
    over equal chunks of energies (`lax.map`), which bounds the memory and keeps the batch in cache."""
    return max(1, min(n_energy, ENERGY_NODES_PER_BATCH // n_x))


@val.jit_known_zeros
def _solve_jit(wire, E, delta_profile, opts):
    def batch(e):
        Y, ok, res, k, _ = _solve_core(wire, e, delta_profile, opts)
        return jnp.moveaxis(Y, -1, 0), ok, res, k  # (B, n, 8)

    Yb, ok, res, k = map_in_chunks(batch, E, energy_chunk(wire.n_x, E.shape[0]))
    loc, _ = node_terms(wire, E[:1].astype(jnp.result_type(E, 1j)), delta_profile, boundary=False)
    n = wire.n_x
    return SpinSolution(energy=jnp.real(E), x=jnp.asarray(wire.x), gamma=Yb[:, :, :4].reshape(-1, n, 2, 2),
                        gamma_t=Yb[:, :, 4:].reshape(-1, n, 2, 2), converged=ok, residual=res, iterations=k,
                        links=loc.links, result=_wire.result_codes(ok, res, k, opts),
                        transport=None if loc.gauge is None else loc.gauge.right[:, :, :-1])


def solve_spin(wire: SpinWire, E, *, delta_profile=None, options: _wire.Options | None = None,
               throw: bool = True) -> SpinSolution:
    r"""Solve the retarded Usadel equation with general spin structure on a `SpinWire`.

    $$
    \partial_x(\sigma g\partial_x g) = \sigma[\Lambda, g]
    $$

    (module docstring and docs/theory.md section 14).

    Args:
        wire: a one-segment `jaxqp.Chain` (ends: reservoir, vacuum or
            `SpinActive`; the segment's ``exchange_direction`` or ``exchange``
            profile) or a `SpinWire`.
        E: real energies ``(n_E,)`` (the material's Dynes ``gamma`` broadens them).
        delta_profile: ``(n_x,)`` |Delta| on the nodes (e.g. from
            `jaxqp.devices.spin_supercurrent.self_consistent`).
        options: Newton options (`jaxqp.spectral.wire.Options`).
        throw: raise if an energy did not converge (outside ``jit``).

    Returns:
        `SpinSolution`.
    """
    wire = as_spin_wire(wire)
    E = _wire.check_energy(E)
    if delta_profile is not None and jnp.shape(delta_profile) != (wire.n_x,):
        raise ValueError(f"delta_profile must have one value per node, shape ({wire.n_x},), "
                         f"got {jnp.shape(delta_profile)}")
    opts = default_options() if options is None else options
    sol = _solve_jit(wire, E, delta_profile, opts)
    if throw:
        val.raise_if_not_converged(sol.converged, "the 1-D spin-general Usadel solve", jnp.real(E), sol.result)
    return sol


# ----------------------------------------------------------------- Keldysh part with a prescribed distribution
class SpinDistribution(eqx.Module):
    r"""Position-independent distribution ``h = h0 + h_T tau_3 + ...`` of reservoirs at voltage ``V``
    and spin voltage ``V_s`` along ``axis`` (seed 003, Eqs. (2)-(3)).

    Electron-block entries ``sum_s f(+1, s) P_s`` and hole-block entries
    ``sum_s f(-1, -s) P_s`` with ``f(c, s) = tanh((E + c V + c s V_s) / 2T)`` and
    ``P_s = (1 + s axis.sigma)/2``.  For ``V = 0``: ``h = h0 + h_s axis.sigma``
    with ``h0 = [tanh((E+V_s)/2T) + tanh((E-V_s)/2T)]/2`` and
    ``h_s = [tanh((E+V_s)/2T) - tanh((E-V_s)/2T)]/2``.
    """

    temperature: ArrayLike = eqx.field(converter=jnp.asarray)
    spin_voltage: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    axis: ArrayLike = eqx.field(default=(0.0, 0.0, 1.0), converter=jnp.asarray)
    voltage: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)

    def __init__(self, temperature, spin_voltage=0.0, axis=(0.0, 0.0, 1.0), voltage=0.0):
        self.temperature = jnp.asarray(temperature)
        self.spin_voltage = jnp.asarray(spin_voltage)
        self.axis = jnp.asarray(unit_vector(axis, "axis"))
        self.voltage = jnp.asarray(voltage)

    def __check_init__(self):
        val.check_positive("temperature", self.temperature, hint="use a small T (e.g. 1e-3) for T -> 0")
        val.check_finite("spin_voltage", self.spin_voltage)
        val.check_finite("voltage", self.voltage)

    def blocks(self, E):
        """Electron and hole blocks of ``h`` at energies E (B,): each (2, 2, B)."""
        E = jnp.asarray(E)
        T, V, Vs = self.temperature, self.voltage, self.spin_voltage
        f = lambda c, s: jnp.tanh((E + c * V + c * s * Vs) / (2 * T))  # noqa: E731
        ns = _spin_vec(self.axis[:, None])  # (2, 2, 1)
        one = jnp.asarray(_EYE2)[:, :, None]
        P = ((one + ns) / 2, (one - ns) / 2)
        he = f(1, 1)[None, None] * P[0] + f(1, -1)[None, None] * P[1]
        hh = f(-1, -1)[None, None] * P[0] + f(-1, 1)[None, None] * P[1]
        return he, hh

    # the gap equation's source (`self_consistent_gap`): a prescribed distribution on a positive-energy
    # grid; `jaxqp.kinetic.spin.KineticPairing` is the other source, from the kinetic equations
    full_energy_grid = False

    def pair_amplitude(self, wire: SpinWire, sol: SpinSolution, weights, delta_profile) -> Array:
        """Pair amplitude per node (`SpinObservables.pair_amplitude`) of ``sol`` with this distribution."""
        return observables(sol, self, weights).pair_amplitude


def _advanced(b):
    """Blocks of ``g^A = -tau_3 (g^R)^dagger tau_3`` from those of ``g^R``."""
    dag = lambda x: jnp.conj(jnp.swapaxes(x, 0, 1))  # noqa: E731
    return (-dag(b[0]), dag(b[2]), dag(b[1]), -dag(b[3]))


def _keldysh(bR, bA, he, hh):
    """``g^K = g^R h - h g^A`` (blocks), h = diag(he, hh)."""
    return (_mm(bR[0], he) - _mm(he, bA[0]), _mm(bR[1], hh) - _mm(he, bA[1]),
            _mm(bR[2], he) - _mm(hh, bA[2]), _mm(bR[3], hh) - _mm(hh, bA[3]))


def _trace(x):
    return x[0, 0] + x[1, 1]


def _trace_sigma(x, k):
    s = SIGMA[k]
    return sum(s[j, i] * x[i, j] for i in range(2) for j in range(2))


class SpinObservables(eqx.Module):
    r"""Energy-integrated observables of a `SpinSolution` with a prescribed distribution.

    Currents (on the links, ``(n_x - 1, 4)``: charge, spin x, y, z):

    $$
    J_a = \int_0^{E_{max}} dE\; \frac{1}{8}\,\mathrm{Re\,Tr}\,[\Omega_a\, \check J^K(E)],\qquad
    \check J^K = \check J^R h - h \check J^A,\quad \check J^R = \tfrac{G_{i,i+1}}{2}[g_i, g_{i+1}]
    \approx \sigma g\partial_x g,
    $$

    ``Omega = (tau_3, sigma_x, sigma_y, sigma_z)``.  Spin accumulation per node
    ``(n_x, 3)``: ``int dE Re Tr[tau_3 sigma_k g^K] / 8`` (equal to
    ``V_s axis`` in the normal state).  Pair amplitude per node (complex):
    ``P = int dE (Tr F^K - conj Tr Ft^K) / 8`` with ``F^K, Ft^K`` the
    anomalous blocks of ``g^K`` (the right side of the gap equation).
    The integrals run over the solution's (positive) energies with the given
    quadrature weights; the integrands are even in E (tested), so the full
    integral over all energies is twice these.
    """

    current: Array
    spin_accumulation: Array
    pair_amplitude: Array
    spectral_current: Array


@val.compiled_when_eager
def observables(sol: SpinSolution, dist: SpinDistribution, weights) -> SpinObservables:
    """Currents, spin accumulation and pair amplitude (`SpinObservables`) on the grid ``weights``."""
    w = jnp.asarray(weights)
    bR = sol.blocks()  # each (2, 2, E, x)
    bA = _advanced(bR)
    he, hh = dist.blocks(sol.energy)
    he, hh = he[:, :, :, None], hh[:, :, :, None]
    bK = _keldysh(bR, bA, he, hh)
    # link currents
    Gl = sol.links[None, :]
    left = tuple(b[..., :-1] for b in bR)
    right = tuple(b[..., 1:] for b in bR)
    if sol.transport is not None:  # covariant: g_{i+1} carried to node i
        U = sol.transport[:, :, None, :]
        right = tuple(jnp.einsum("abex,bcex,dcex->adex", U, b, jnp.conj(U)) for b in right)
    LR, RL = _block_mm(left, right), _block_mm(right, left)
    JR = tuple(0.5 * Gl * (a - b) for a, b in zip(LR, RL, strict=False))
    JA = _advanced(JR)
    JK = _keldysh(JR, JA, he, hh)
    charge = _trace(JK[0]) - _trace(JK[3])
    spin = [_trace_sigma(JK[0], k) + _trace_sigma(JK[3], k) for k in range(3)]
    j = jnp.real(jnp.stack([charge] + spin, -1)) / 8  # (E, links, 4)
    acc = jnp.real(jnp.stack([_trace_sigma(bK[0], k) - _trace_sigma(bK[3], k) for k in range(3)], -1)) / 8
    pair = (_trace(bK[1]) - jnp.conj(_trace(bK[2]))) / 8
    return SpinObservables(current=jnp.einsum("e,e...->...", w, j), spin_accumulation=jnp.einsum("e,e...->...", w, acc),
                           pair_amplitude=jnp.einsum("e,e...->...", w, pair), spectral_current=j)


# ------------------------------------------------------- self-consistent Delta(x) with a prescribed distribution
def coupling_log(omega_c) -> Array:
    """``1 / (N0 lambda) = arccosh(omega_c)``: the weak-coupling constant for which the bulk BCS gap at
    T = 0 is Delta0 = 1 with the sharp energy cutoff ``omega_c``."""
    return jnp.arccosh(jnp.asarray(omega_c))


class GapSolution(eqx.Module):
    """Self-consistent Delta(x) (real, in the gauge of the wire's phase) and the spectral solution at it.

    ``converged``: the Newton iteration met ``tol`` and every energy of the
    final spectral solve converged; ``residual``: ``max |F(Delta) - Delta|``;
    ``imag``: largest ``|Im|`` of the pair amplitude in that gauge (a
    diagnostic: zero by symmetry for a real-gauge problem).
    """

    delta: Array
    solution: SpinSolution
    converged: Array
    residual: Array
    steps: Array
    imag: Array


def _gap_map(wire, dist, points, weights, d, Y0, opts, cold=None):
    Y, ok, _, _, loc = _solve_core(wire, points, d, opts, Y0=Y0, cold=cold)
    Yb = jnp.moveaxis(Y, -1, 0)
    n = wire.n_x
    sol = SpinSolution(energy=jnp.real(points), x=jnp.asarray(wire.x), gamma=Yb[:, :, :4].reshape(-1, n, 2, 2),
                       gamma_t=Yb[:, :, 4:].reshape(-1, n, 2, 2), converged=ok, residual=jnp.zeros_like(points),
                       iterations=jnp.zeros(points.shape, int), links=loc.links)
    pair = dist.pair_amplitude(wire, sol, weights, d) * jnp.exp(-1j * wire.phase * jnp.ones(n))
    new = jnp.real(pair) / coupling_log(points[-1])
    return new, (Y, ok, jnp.max(jnp.abs(jnp.imag(pair))) / coupling_log(points[-1]), sol)


def _linearised_gap_map(wire, dist, points, weights, d, Y0, opts, cold=None):
    """``F(d)``, its tangent map ``t -> (dF/dd) t`` and the aux outputs of `_gap_map`, from one spectral
    solve started at Y0 (`_solve_core`)."""
    return jax.linearize(lambda x: _gap_map(wire, dist, points, weights, x, Y0, opts, cold), d, has_aux=True)


def _linear_gain(wire, dist, points, weights, d, Y0, opts, cold=None):
    """``F(d)`` and its Jacobian ``dF/dd`` (n, n) at d: the tangent map applied to the n unit vectors."""
    Fd, lin, aux = _linearised_gap_map(wire, dist, points, weights, d, Y0, opts, cold)
    J = jax.vmap(lin, out_axes=1)(jnp.eye(d.shape[0], dtype=d.dtype))
    return Fd, J, aux


@val.jit_known_zeros
def _self_consistent(wire, dist, points, weights, start, tol, max_steps, opts, method, memory):
    n = wire.n_x
    warm = opts._replace(eta0=0.0)
    points = jnp.asarray(points)
    # one spectral solve in the loop: the first step's is cold (continuation from E + i eta0, from the
    # local bulk guess), the later ones start warm from the last solution
    Y0 = jnp.zeros((n, 8, points.shape[0]), jnp.result_type(points, 1j))

    def newton(state):
        d, Y, k, err, _, hist = state
        Fd, J, (Ynew, ok, _, _) = _linear_gain(wire, dist, points, weights, d, Y, opts, k == 0)
        r = Fd - d
        step = jnp.linalg.solve(J - jnp.eye(n), -r)
        return r, step, Ynew, ok, hist

    def anderson(state):
        # Anderson acceleration (type II, Walker & Ni 2011) of the fixed-point map: one spectral solve
        # per step, history of the last `memory` differences
        d, Y, k, err, _, (dX, dR, r_prev, d_prev) = state
        Fd, (Ynew, ok, _, _) = _gap_map(wire, dist, points, weights, d, Y, opts, k == 0)
        r = Fd - d
        slot = k % memory
        have = k > 0
        dX = jnp.where(have, dX.at[:, slot].set(d - d_prev), dX)
        dR = jnp.where(have, dR.at[:, slot].set(r - r_prev), dR)
        used = (jnp.arange(memory) < k).astype(d.dtype)
        G = dR.T @ dR + jnp.diag(1e-14 * (1.0 + jnp.trace(dR.T @ dR)) + (1.0 - used))
        coef = jnp.linalg.solve(G, dR.T @ r) * used
        step = r - (dX + dR) @ coef
        return r, step, Ynew, ok, (dX, dR, r, d)

    def body(state):
        d, Y, k = state[0], state[1], state[2]
        r, step, Ynew, ok, hist = (newton if method == "newton" else anderson)(state)
        size = jnp.max(jnp.abs(step))
        step = step * jnp.minimum(1.0, 0.5 / jnp.maximum(size, 1e-300))
        # never more than halve a node value in one step: Delta = 0 is always a root, and an undamped
        # step from the superconducting branch can land on it
        dn = jnp.maximum(d + step, 0.5 * d)
        good = jnp.all(ok) & jnp.all(jnp.isfinite(dn))
        # the first (cold) solve is kept even where an energy did not converge: the next steps start
        # warm from it
        return (jnp.where(good, dn, d), jnp.where(good | (k == 0), Ynew, Y), k + 1,
                jnp.where(good, jnp.max(jnp.abs(r)), jnp.inf), jnp.max(jnp.abs(step)), hist)

    def cond(state):
        _, _, k, err, size, _ = state
        return (k < max_steps) & ((err > tol) | (size > tol))

    z = jnp.zeros((n, memory))
    hist = (z, z, jnp.zeros(n), jnp.zeros(n))
    state = (lax.stop_gradient(start), Y0, jnp.asarray(0), jnp.asarray(jnp.inf), jnp.asarray(jnp.inf), hist)
    d, Y, k, _, _, _ = lax.while_loop(cond, body, state)
    d = lax.stop_gradient(d)
    Ys = lax.stop_gradient(Y)

    # implicit differentiation at the fixed point d = F(d; parameters): (J - 1) dd = -dF by GMRES on
    # Jacobian-vector products through the spectral solve (memory O(n_x)); reverse mode by its transpose
    diff, static = eqx.partition((wire, dist, points, weights, Ys), eqx.is_inexact_array)

    def resid(x, inputs):
        w, di, pts, wts, Y_ = eqx.combine(inputs, static)
        return _gap_map(w, di, pts, wts, x, Y_, warm)[0] - x

    def linearise(x, inputs):
        # linearised once: each GMRES product applies the tangent map, without solving again
        _, tangent = jax.linearize(lambda y: resid(y, inputs), x)
        return engine.matrix_free_system(tangent, x, restart=min(n, 30), max_steps=20 * min(n, 30))

    d, _ = engine.implicit_solve(lambda inputs, start: (start, None), resid, linearise, diff, d)
    Fd, (Yf, ok, imag, sol) = _gap_map(wire, dist, points, weights, d, Ys, warm)
    res = jnp.max(jnp.abs(Fd - d))
    conv = (res <= 10 * tol) & jnp.all(ok)
    return GapSolution(delta=d, solution=sol, converged=conv, residual=res, steps=k, imag=imag)


class PairingSource(Protocol):
    """What `self_consistent_gap` takes as its distribution: `SpinDistribution` (prescribed) or
    `jaxqp.kinetic.spin.KineticPairing` (the kinetic equations)."""

    full_energy_grid: bool

    def pair_amplitude(self, wire: SpinWire, sol: SpinSolution, weights, delta_profile) -> Array: ...


def self_consistent_gap(wire: SpinWire, distribution: PairingSource, grid, *, start=None, tol: float | None = None,
                        max_steps: int = 60, method: str = "anderson", memory: int = 5,
                        options: _wire.Options | None = None) -> GapSolution:
    r"""Self-consistent Delta(x) of a `SpinWire` with a prescribed, position-independent distribution.

    $$
    \Delta(x) = \frac{1}{\mathrm{arccosh}\,\omega_c}\int_0^{\omega_c} dE\;
    \tfrac18\,\mathrm{Re}\,[\mathrm{Tr}\,F^K - \overline{\mathrm{Tr}\,\tilde F^K}](E, x),
    $$

    ``omega_c`` the last grid energy (the cutoff; the coupling makes the bulk
    BCS gap at T = 0 equal to 1).  With ``h = h0 + h_s.sigma`` the right side
    is ``int Re[f_s h0 + f_t.h_s]``: singlet pairs weighted by the energy mode
    and triplets along the spin voltage by the spin mode.  Each iteration
    warm-starts the spectral solve from the previous one.  ``method``:
    ``"anderson"`` (default): Anderson-accelerated fixed-point iteration, one
    spectral solve per step, memory O(n_x); ``"newton"``: Newton's method on
    the node values with the Jacobian by n_x forward-mode derivatives of one
    spectral solve (fewer steps; converges to the branch nearest to
    ``start``, stable or not; memory O(n_x^2 n_E)).  Forward-mode derivatives
    (``jax.jvp``, ``jax.jacfwd``, hence fits) go through the solution by
    implicit differentiation (`jaxqp.internal.engine.implicit_solve`, GMRES on
    Jacobian-vector products), and so does reverse mode (``jax.grad``), by the
    transposed products.

    Args:
        wire: `SpinWire`; its ``material.delta`` is the start if ``start`` is None.
        distribution: `SpinDistribution` (prescribed), or `jaxqp.kinetic.spin.KineticPairing` (the
            distributions of the kinetic equations, recomputed at every Delta; use
            `jaxqp.kinetic.spin.self_consistent_gap`).
        grid: `jaxqp.grids.EnergyGrid` on ``[0, omega_c]`` (positive energies); on
            ``[-omega_c, omega_c]`` for the kinetic distributions.
        start: initial Delta on the nodes ``(n_x,)``.
        tol: on ``max |F(Delta) - Delta|`` and on the Newton step (default 1e-8 in float64, 1e-5 in
            float32, where the gap functional is not computed more accurately than that).
        max_steps: iteration cap.
        method: ``"anderson"`` or ``"newton"``.
        memory: Anderson history length.

    Returns:
        `GapSolution` (``converged`` False if the cap was hit: never a silent result).
    """
    wire = as_spin_wire(wire)
    pts = val.concrete(grid.points)  # None inside jit (a grid that moves with swept parameters)
    if getattr(distribution, "full_energy_grid", False):
        if pts is not None and (pts.ndim != 1 or not np.all(np.diff(pts) > 0) or pts[0] > -pts[-1] * (1 - 1e-12)):
            raise ValueError("grid must be a 1-D increasing energy grid on [-omega_c, omega_c] (both signs: the "
                             "kinetic distributions are not symmetric in E); see jaxqp.kinetic.spin.symmetric_grid")
    elif pts is not None and (pts.ndim != 1 or pts[0] < 0 or not np.all(np.diff(pts) > 0)):
        raise ValueError("grid must be a 1-D increasing energy grid on [0, omega_c] (positive energies)")
    if pts is not None and pts[-1] < 5.0:
        raise ValueError(f"the energy grid must reach the cutoff omega_c >= 5 Delta0, got {pts[-1]:.3g}")
    if start is None:
        start = wire.material.delta * jnp.ones(wire.n_x)
    start = jnp.asarray(start, float)
    if start.shape != (wire.n_x,):
        raise ValueError(f"start must have shape ({wire.n_x},), got {start.shape}")
    if method not in ("anderson", "newton"):
        raise ValueError(f"method must be 'anderson' or 'newton', got {method!r}")
    opts = default_options() if options is None else options
    if tol is None:
        tol = 1e-8 if _config.x64_enabled() else 1e-5
    out = _self_consistent(wire, distribution, grid.points, grid.weights, start, tol, max_steps, opts, method,
                           int(memory))
    return _check_gap_edges(out, grid, wire.material.gamma)


def _check_gap_edges(out: GapSolution, grid, gamma) -> GapSolution:
    """Mark the solution not converged (with a warning) if the grid does not resolve its gap edges.

    The integrable singularity at E = Delta(x) is broadened by the Dynes Gamma only; a grid coarser
    than Gamma there mis-integrates the gap equation (and can create spurious solutions).
    """
    d = val.concrete(out.delta)
    g = val.concrete(gamma)
    if d is None or g is None:
        return out
    d = np.asarray(d)
    d = d[d > 1e-3]
    if d.size == 0:
        return out
    try:
        grids.check_resolution(grid, np.array([d.min(), d.max()]), float(np.max(g)), factor=2.0,
                               what="energy grid for the self-consistent gap")
    except ValueError as err:
        import warnings

        warnings.warn(f"{err} The gap edges lie in [{d.min():.4g}, {d.max():.4g}]: refine the grid there "
                      "(e.g. grids.adaptive with centers at the gap values); the result is marked not converged.",
                      stacklevel=3)
        out = eqx.tree_at(lambda r: r.converged, out, jnp.asarray(False))
    return out


@val.jit_known_zeros
def _normal_gain(wire, dist, points, weights, opts, iterations):
    n = wire.n_x
    # the solve at Delta = 0 from the cold start, with its tangent map (implicit differentiation)
    _, lin, _ = _linearised_gap_map(wire, dist, points, weights, jnp.zeros(n), None, opts)

    # power iteration: the linearised gap map at Delta = 0 is a positive (Cooper) kernel whose largest
    # eigenvalue belongs to a nodeless mode; memory O(n_x), one tangent solve per step
    def body(_, v):
        w = lin(v)
        return w / jnp.linalg.norm(w)

    v = lax.fori_loop(0, iterations, body, jnp.ones(n) / jnp.sqrt(n))
    return jnp.vdot(v, lin(v)).real


def normal_state_gain(wire: SpinWire, distribution: SpinDistribution, grid, *, iterations: int = 30,
                      options: _wire.Options | None = None) -> Array:
    """Largest eigenvalue of the linearised gap map at Delta = 0.

    Below 1 the normal state is locally stable (a small Delta decays); above 1
    superconductivity nucleates.  With a superconducting solution present, a
    gain below 1 marks the bistable region.  Power iteration (``iterations``
    Jacobian-vector products through the spectral solve at Delta = 0).
    """
    wire = as_spin_wire(wire)
    opts = default_options() if options is None else options
    return _normal_gain(wire, distribution, grid.points, grid.weights, opts, int(iterations))
