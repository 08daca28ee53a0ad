"""1-D device geometry shared by every solver: wires, chains of segments, interfaces and contacts.

- `Chain`: `Segment` objects joined by `Interface` objects (transparent or
  tunnel), with point `TunnelContact` objects and end conditions (reservoir, vacuum
  or a `SpinActive` interface).  Every 1-D solver takes a chain: the proximity
  solver any chain, the spin-general solver and the kinetic solvers a one-segment
  chain.
- `Wire`: one uniform wire with point tunnel contacts and reservoir or vacuum ends,
  the kinetic solvers' form of a one-segment chain (`Wire.as_chain`,
  `Wire.from_chain`).
- `SpinActive`: a spin-active end (magnetic insulator or spin-polarised barrier).
- `Reservoir`: a reservoir end at its own potential and temperature.
- `position_grid`: the non-uniform position nodes, graded around contacts.

Lengths are in units of the coherence length xi, conductances in units of 1 / R_xi (the wire's
normal-state resistance over one xi).

Imports: ``materials`` and ``internal`` only.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from .internal import validation as val
from .materials import Electrode, NormalMetal, Superconductor

_ENDS = ("reservoir", "vacuum")


def unit_vector(v, what: str) -> np.ndarray:
    """``v`` as a normalised 3-vector (numpy), or a ValueError that names ``what``.

    A traced ``v`` (inside ``jit`` or ``vmap``: a direction that is swept) is normalised as a JAX array.
    """
    if val.concrete(v) is None and v is not None and not isinstance(v, (tuple, list)):
        if jnp.shape(v) != (3,):
            raise ValueError(f"{what} must be a 3-vector (x, y, z), got shape {jnp.shape(v)}")
        return v / jnp.linalg.norm(v)
    v = np.asarray(v, dtype=float)
    if v.shape != (3,):
        raise ValueError(f"{what} must be a 3-vector (x, y, z), got shape {v.shape}")
    n = np.linalg.norm(v)
    if not n > 0:
        raise ValueError(f"{what} must be a non-zero 3-vector, got {v.tolist()}")
    return v / n


class SpinActive(eqx.Module):
    """Spin-active end of a wire: a magnetic insulator or a spin-polarised tunnel barrier.

    An end of a `Chain` (and of `jaxqp.SpinWire`); only the spin-general solver
    (`jaxqp.solve_spin`) has the spin-mixing term.

    Attributes:
        spin_mixing: ``G_phi / G_N``, the spin-dependent interfacial phase shifts
            (spin-mixing conductance) relative to the wire's normal-state
            conductance ``G_N = sigma / L`` (differentiable).
        magnetization: direction of the interface magnetisation (3-vector,
            normalised; a leaf, so that changing it reuses the compiled solver).
        conductance: ``G_T / G_N`` tunnel conductance to ``electrode`` (0 for a
            magnetic insulator; differentiable).
        polarization: spin polarisation ``P`` of the tunnel conductance, ``|P| < 1``.
        electrode: `jaxqp.Superconductor` or `jaxqp.NormalMetal`
            behind the barrier (its exchange field points along
            ``magnetization``), or ``None`` for an insulator.
        bias: electrochemical potential (Delta0 / e) of a superconducting electrode at a bias, whose
            time average enters (`jaxqp.spectral.spin.electrode_blocks`); ``None``: at rest.
            `jaxqp.solve_spin_kinetic` sets it from the electrode's distribution (``-voltage``).
    """

    spin_mixing: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    magnetization: ArrayLike = eqx.field(default=(0.0, 0.0, 1.0), converter=jnp.asarray)
    conductance: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    polarization: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    electrode: Electrode | None = None
    bias: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)

    def __init__(self, spin_mixing=0.0, magnetization=(0.0, 0.0, 1.0), conductance=0.0, polarization=0.0,
                 electrode=None, bias=None):
        self.spin_mixing = jnp.asarray(spin_mixing)
        self.magnetization = jnp.asarray(unit_vector(magnetization, "magnetization"))
        self.conductance = jnp.asarray(conductance)
        self.polarization = jnp.asarray(polarization)
        self.electrode = electrode
        self.bias = val.optional_array(bias)

    def __check_init__(self):
        val.check_finite("spin_mixing", self.spin_mixing)
        val.check_nonnegative("conductance", self.conductance, hint="a tunnel conductance G_T/G_N is >= 0")
        p = val.concrete(self.polarization)
        if p is not None and np.any(np.abs(p) >= 1):
            raise ValueError(f"polarization must satisfy |P| < 1, got {p}")
        c = val.concrete(self.conductance)
        if self.bias is not None:
            val.check_finite("bias", self.bias)
        if self.bias is not None and not isinstance(self.electrode, Superconductor):
            raise ValueError("only a superconducting electrode takes a bias in the retarded equation (a normal "
                             "metal's function does not depend on it): leave bias=None")
        if self.electrode is None and c is not None and np.any(c != 0):
            raise ValueError("a tunnel conductance needs an electrode: pass electrode=jaxqp.NormalMetal() or a "
                             "Superconductor, or set conductance=0 for a magnetic insulator")


End = str | SpinActive


class SpinContact(eqx.Module):
    """A spin-active tunnel barrier at a point inside a `jaxqp.SpinWire` (a contact on top of the wire).

    Attributes:
        x: position in units of xi (static); the barrier sits on the nearest interior node.
        barrier: the `SpinActive` barrier (spin mixing, magnetisation, ``conductance`` = ``G_T / G_N``
            relative to the whole wire's normal-state conductance, polarisation, electrode).
    """

    x: float = eqx.field(static=True)
    barrier: SpinActive

    def __check_init__(self):
        if not isinstance(self.barrier, SpinActive):
            raise TypeError(f"barrier must be a jaxqp.SpinActive, got {type(self.barrier).__name__}")
        if not isinstance(self.x, (int, float)):
            raise ValueError(f"x must be a number (units of xi), got {self.x!r}")


class GaugeField(eqx.Module):
    r"""Linear-in-momentum spin-orbit coupling as a uniform SU(2) gauge field.

    The Usadel equation becomes covariant: every gradient is
    ``nabla X -> nabla X - i [A, X]`` with ``A_k = sum_a A[k, a] sigma_a``
    (F. S. Bergeret and I. V. Tokatly, Phys. Rev. B 89, 134517 (2014)).  In this
    spin-rotation covariant Nambu basis the field acts on both Nambu blocks
    alike (it is a spin rotation, not a charge), unlike the exchange field.

    Attributes:
        components: ``A[k, a]``, shape ``(3, 3)``, units ``1 / xi``: row ``k = 0``
            along the wire, rows 1 and 2 the two transverse directions; column
            ``a`` the spin component (x, y, z).  The transverse rows act where
            the wire is a strip of a film wide compared with the spin-orbit
            length (the spin density is uniform across it); for a wire narrower
            than that, leave them zero (``narrow=True`` in the constructors).

    The constructors take a film in the x-y plane (normal z) and a wire at
    ``angle`` to the crystal x axis:

    * `GaugeField.rashba`: ``A_x = alpha sigma_y``, ``A_y = -alpha sigma_x``;
    * `GaugeField.dresselhaus`: ``A_x = -beta sigma_x``, ``A_y = beta sigma_y``;

    and fields add (``rashba(a) + dresselhaus(b)``).  A single uniform
    component along the wire, alone, is a pure gauge: it rotates the spin
    structure along the wire and changes no spin-rotation invariant (tested).
    """

    components: Array = eqx.field(converter=jnp.asarray)

    def __check_init__(self):
        if jnp.shape(self.components) != (3, 3):
            raise ValueError(f"GaugeField.components must have shape (3, 3) = (direction, spin), "
                             f"got {jnp.shape(self.components)}")
        val.check_finite("GaugeField.components", self.components)

    @staticmethod
    def _in_plane(ax, ay, angle, narrow):
        c, s = np.cos(angle), np.sin(angle)
        along = c * ax + s * ay
        across = jnp.zeros(3) if narrow else -s * ax + c * ay
        return GaugeField(jnp.stack([along, across, jnp.zeros(3)]))

    @classmethod
    def rashba(cls, alpha, *, angle: float = 0.0, narrow: bool = False) -> GaugeField:
        """Rashba coupling ``alpha`` (units ``1 / xi``: ``m alpha_R / hbar^2``) of a film with normal z,
        for a wire at ``angle`` (radians) to x; ``narrow``: drop the transverse component."""
        a = jnp.asarray(alpha)
        return cls._in_plane(a * jnp.array([0.0, 1.0, 0.0]), a * jnp.array([-1.0, 0.0, 0.0]), angle, narrow)

    @classmethod
    def dresselhaus(cls, beta, *, angle: float = 0.0, narrow: bool = False) -> GaugeField:
        """Linear Dresselhaus coupling ``beta`` (units ``1 / xi``) of a [001] film, for a wire at
        ``angle`` (radians) to the crystal x axis; ``narrow``: drop the transverse component."""
        b = jnp.asarray(beta)
        return cls._in_plane(b * jnp.array([-1.0, 0.0, 0.0]), b * jnp.array([0.0, 1.0, 0.0]), angle, narrow)

    def __add__(self, other: GaugeField) -> GaugeField:
        if not isinstance(other, GaugeField):
            return NotImplemented
        return GaugeField(self.components + other.components)

    def relaxation_tensor(self) -> Array:
        r"""D'yakonov-Perel spin relaxation of a uniform normal-state spin density, ``(3, 3)`` in units
        of ``D / xi^2``: ``d s_a / dt = -D Gamma_ab s_b`` with
        ``Gamma_ab = 4 sum_k (|A_k|^2 delta_ab - A_k^a A_k^b)`` (the covariant Laplacian
        ``-sum_k [A_k, [A_k, s.sigma]]``).  For the Rashba film ``Gamma = 4 alpha^2 diag(1, 1, 2)``:
        out-of-plane spin relaxes twice as fast as in-plane spin."""
        A = self.components
        return 4 * (jnp.sum(A * A) * jnp.eye(3) - A.T @ A)


# ----------------------------------------------------------------- position nodes
def position_grid(length: float, points: Sequence[float] = (), n: int = 200, growth: float = 0.1) -> np.ndarray:
    """Non-uniform nodes on ``[0, length]`` that contain every ``points`` exactly.

    The local spacing grows linearly with the distance d to the nearest point,
    ``dx(x) = min(h0 + growth * d(x), 3 length / n)`` (geometric grading away
    from contacts, capped at three times the mean spacing), with
    ``h0`` chosen so that there are ``n`` nodes in all; each segment between
    breakpoints gets at least 2 intervals.
    """
    return _position_grid(float(length), tuple(float(p) for p in points), int(n), float(growth)).copy()


@functools.lru_cache(maxsize=128)
def _position_grid(length: float, points: tuple, n: int, growth: float) -> np.ndarray:
    """Cached core of `position_grid`."""
    length = float(length)
    if not length > 0:
        raise ValueError(f"the wire length must be > 0 (in units of xi), got {length}")
    pts = sorted(set(float(p) for p in points))
    if pts and (pts[0] < 0 or pts[-1] > length):
        raise ValueError(f"contact positions must lie in [0, {length}], got {list(points)}")
    breaks = sorted(set([0.0, length] + pts))
    n_seg = len(breaks) - 1
    if n < 3 * n_seg + 1:
        raise ValueError(f"n_x={n} is too small for {n_seg} segments; use n_x >= {3 * n_seg + 1}")
    fine = np.unique(np.concatenate([np.linspace(0.0, length, 20001), breaks]))
    dist = np.min(np.abs(fine[:, None] - np.asarray(pts)[None, :]), axis=1) if pts else np.full(fine.shape, length)
    g = max(float(growth), 1e-6)
    h_max = 3.0 * length / n

    def phi(h0):
        rho = 1.0 / np.minimum(h0 + g * dist, h_max)
        return np.concatenate([[0.0], np.cumsum(0.5 * (rho[1:] + rho[:-1]) * np.diff(fine))])

    lo, hi = 1e-9 * length, length
    for _ in range(200):  # bisection in log space for the total node count
        mid = np.sqrt(lo * hi)
        if phi(mid)[-1] > n - 1:
            lo = mid
        else:
            hi = mid
    P = phi(hi)
    at = np.searchsorted(fine, breaks)
    dphi = np.diff(P[at])
    counts = np.maximum(2, np.round(dphi / dphi.sum() * (n - 1)).astype(int))
    while counts.sum() > n - 1:
        counts[np.argmax(counts)] -= 1
    while counts.sum() < n - 1:
        counts[np.argmax(dphi / counts)] += 1
    nodes = [0.0]
    for k in range(n_seg):
        i0, i1 = at[k], at[k + 1]
        targets = np.linspace(P[i0], P[i1], counts[k] + 1)[1:]
        seg = np.interp(targets, P[i0:i1 + 1], fine[i0:i1 + 1])
        seg[-1] = breaks[k + 1]
        nodes.extend(seg)
    return np.asarray(nodes)


class TunnelContact(eqx.Module):
    """A tunnel junction between the wire at ``position`` and an ``electrode``.

    ``kappa = G_T R_xi`` is its normal-state conductance in units of the wire's
    conductance over one coherence length; ``polarization`` P gives spin-resolved
    conductances ``G_sigma = G_T (1 + sigma P) / 2`` as in `jaxqp.tunnel_current`.
    The electrode carries the contact's bias (``electrode.bias``) and temperature
    (``None``: the wire's bath temperature).
    """

    position: float = eqx.field(static=True)
    kappa: ArrayLike = eqx.field(converter=jnp.asarray)
    electrode: Electrode = eqx.field(default_factory=NormalMetal)
    polarization: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    name: str = eqx.field(default="", static=True)

    def __check_init__(self):
        val.check_nonnegative("kappa", self.kappa, hint="kappa = G_T R_xi is a conductance ratio, >= 0")
        val.check_range("polarization", self.polarization, -1.0, 1.0,
                        hint="the barrier spin polarisation P must lie in [-1, 1]")


class Reservoir(eqx.Module):
    """A reservoir end at its own electrochemical potential and temperature.

    An end of a `Wire` or `Chain` that is a large normal lead in equilibrium: the kinetic solvers
    fix the distribution at the end node to that of a normal metal at potential ``bias`` (units
    ``Delta0 / e``) and ``temperature`` (``None``: the wire's bath temperature).  The plain
    ``"reservoir"`` end is ``Reservoir()``.  The retarded (spectral) solvers see the end as any
    reservoir: the bulk solution of the wire's material.  Both numbers are leaves (differentiable;
    a new value reuses the compiled solver).  Example, the energy-relaxation wire of Pothier et al.
    (PRL 79, 3490 (1997)): ``Wire(normal, 10.0, ends=(Reservoir(bias=1.0), "reservoir"))``.
    """

    bias: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    temperature: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)

    def __check_init__(self):
        val.check_finite("Reservoir.bias", self.bias)
        if self.temperature is not None:
            val.check_nonnegative("Reservoir.temperature", self.temperature, hint="temperatures are k_B T / Delta0")


def _end_kinds(ends) -> tuple:
    """``(kinds, reservoirs)``: the static kind of each end and its `Reservoir` (or None)."""
    ends = tuple(ends)
    kinds = tuple("reservoir" if isinstance(e, Reservoir) else "spin-active" if isinstance(e, SpinActive) else e
                  for e in ends)
    return kinds, tuple(e if isinstance(e, Reservoir) else None for e in ends)


class Wire(eqx.Module):
    r"""A quasi-1-D superconducting (or normal, ``delta = 0``) wire.

    Attributes:
        material: `jaxqp.Superconductor` giving the spectral properties
            (uniform along the wire: Delta, h, zeta, b_so, b_sf, Gamma).
        length: length in units of xi (static).
        contacts: tuple of `TunnelContact`.
        temperature: bath temperature of the reservoirs (k_B T / Delta0).
        phase_gradient: ``q = d_x phi`` (supercurrent); it adds ``q^2/2`` to the
            depairing of the spectral solve and the coupling terms to the
            kinetic equations.
        ends: left and right end: ``"reservoir"``, ``"vacuum"`` or a `Reservoir` at its own
            potential and temperature (``wire.ends`` gives the kinds, ``wire.boundaries`` the
            objects, ``wire.reservoirs`` the `Reservoir` objects or None).
        n_x: number of position nodes (static).
        growth: grading of the position grid away from contacts (spacing grows
            by ``growth`` times the distance to the nearest contact).
        spectra: ``"uniform"`` (bulk spectra everywhere, the contacts do not
            change them) or ``"inhomogeneous"``: the retarded Usadel equation is
            solved along the wire with the contacts' electrodes
            (`jaxqp.solve_proximity`), giving position-dependent kinetic
            coefficients (seed 002: the tunnel injector renormalises the
            spectrum around it).  Static.
    """

    STATIC_ZEROS: ClassVar[tuple[str, ...]] = ("phase_gradient",)  # validation.freeze_known_zeros
    material: Superconductor
    length: float = eqx.field(static=True)
    contacts: tuple = ()
    temperature: ArrayLike = eqx.field(default=0.05, converter=jnp.asarray)
    phase_gradient: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    ends: tuple = eqx.field(default=("reservoir", "reservoir"), static=True)
    n_x: int = eqx.field(default=200, static=True)
    growth: float = eqx.field(default=0.1, static=True)
    spectra: str = eqx.field(default="uniform", static=True)
    reservoirs: tuple = (None, None)

    def __init__(self, material, length, contacts=(), temperature=0.05, phase_gradient=0.0,
                 ends=("reservoir", "reservoir"), n_x=200, growth=0.1, spectra="uniform", reservoirs=None):
        self.material = material
        self.length = length
        self.contacts = tuple(contacts)
        self.temperature = jnp.asarray(temperature)
        self.phase_gradient = jnp.asarray(phase_gradient)
        # the kinds are static (they shape the discretisation); a biased reservoir's numbers are leaves
        self.ends, given = _end_kinds(ends)
        self.reservoirs = given if reservoirs is None else tuple(reservoirs)
        self.n_x = n_x
        self.growth = growth
        self.spectra = spectra

    def __check_init__(self):
        if self.spectra not in ("uniform", "inhomogeneous"):
            raise ValueError(f"spectra must be 'uniform' or 'inhomogeneous', got {self.spectra!r}")
        if not isinstance(self.material, Superconductor):
            raise TypeError("Wire.material must be a jaxqp.Superconductor (delta=0 for a normal wire)")
        if not (np.isfinite(self.length) and self.length > 0):
            raise ValueError(f"Wire.length must be a finite number > 0 (units of xi), got {self.length}")
        if int(self.n_x) < 3:
            raise ValueError(f"Wire.n_x must be >= 3 position nodes, got {self.n_x}")
        if not (np.isfinite(self.growth) and self.growth >= 0):
            raise ValueError(f"Wire.growth must be >= 0 (grading of the position grid), got {self.growth}")
        val.check_nonnegative("temperature", self.temperature, hint="temperatures are k_B T / Delta0")
        val.check_finite("phase_gradient", self.phase_gradient)
        if len(self.ends) != 2 or any(e not in _ENDS for e in self.ends):
            raise ValueError(f"ends must be two of {_ENDS} or jaxqp.Reservoir objects, got {self.ends}")
        _check_reservoirs(self.ends, self.reservoirs)
        for c in self.contacts:
            if not isinstance(c, TunnelContact):
                raise TypeError(f"contacts must be TunnelContact objects, got {type(c).__name__}")
            if not 0.0 <= c.position <= self.length:
                raise ValueError(f"contact {c.name or ''} at x={c.position} lies outside the wire [0, {self.length}]")
            at_end = (c.position == 0.0 and self.ends[0] == "reservoir") or (
                c.position == self.length and self.ends[1] == "reservoir")
            if at_end:
                raise ValueError(f"contact at x={c.position} sits on a reservoir; move it inside the wire")
        pos = [c.position for c in self.contacts]
        if len(set(pos)) != len(pos):
            raise ValueError(f"two contacts share a position: {pos}; merge them into one")

    @property
    def x(self) -> np.ndarray:
        return position_grid(self.length, [c.position for c in self.contacts], self.n_x, self.growth)

    @property
    def contact_nodes(self) -> tuple:
        x = self.x
        return tuple(int(np.argmin(np.abs(x - c.position))) for c in self.contacts)

    @property
    def boundaries(self) -> tuple:
        """The two ends as given: ``"reservoir"``, ``"vacuum"`` or a `Reservoir`."""
        return tuple(r if r is not None else e for e, r in zip(self.ends, self.reservoirs, strict=True))

    def as_chain(self) -> Chain:
        """The same wire as a one-segment `Chain` (same nodes)."""
        return chain_from_wire(self)

    @classmethod
    def from_chain(cls, chain: Chain, *, spectra: str = "uniform") -> Wire:
        """The kinetic solvers' form of a one-segment `Chain` (same nodes, contacts and ends).

        The segment must be the reference material (``conductance=1``,
        ``diffusion=1``), with reservoir or vacuum ends and no exchange profile.
        """
        seg = chain.single_segment("the kinetic solvers", ("conductance", "diffusion"))
        if not chain.is_collinear():
            raise ValueError("the kinetic solvers have no spin-active end or interface, or exchange profile; use "
                             "jaxqp.solve_spin for the spectra of such a chain")
        if seg.self_consistent:
            raise ValueError("the kinetic solvers take Delta from the material (or a GapEquation in "
                             "solve_inelastic): use Segment(self_consistent=False)")
        return cls(seg.material, seg.length, chain.contacts, chain.temperature, seg.phase_gradient,
                   chain.boundaries, seg.n_x, chain.growth, spectra)

    @property
    def biases(self) -> Array:
        if not self.contacts:
            return jnp.zeros(0)
        return jnp.stack([jnp.asarray(c.electrode.bias, float) for c in self.contacts])



# ----------------------------------------------------------------- chains of segments
# ----------------------------------------------------------------- structures
class Segment(eqx.Module):
    """One uniform piece of a `Chain` (S, N, spin-split S, F).

    Attributes:
        material: `jaxqp.Superconductor` with the bulk parameters
            (``delta=0`` for a normal metal; ``h`` is a Zeeman or exchange field).
        length: in units of xi (static).
        n_x: number of nodes of the segment, ends included (static).
        conductance: normal-state conductance per unit length, relative to the
            reference (``sigma A`` in units of ``1 / R_xi``).
        diffusion: diffusion constant relative to the reference (``D / D0``).
        phase: phase of Delta at the segment's left end.
        phase_gradient: ``d phi / dx`` along the segment.
        self_consistent: solve Delta(x) on this segment with
            `self_consistent_gap` (static).  ``material.delta`` is then
            the zero-temperature bulk gap that fixes the coupling constant.
        exchange_direction: direction of ``material.h`` (static 3-vector).  The
            collinear solver needs none (a uniform direction is equivalent to z);
            the spin-general solver uses it.
        exchange: optional exchange field per node ``(n_x, 3)`` (units Delta0),
            replacing ``material.h * exchange_direction``: any direction, varying
            along the segment (spin-general solver only).
        spin_orbit: optional `GaugeField`: linear-in-momentum (Rashba,
            Dresselhaus) spin-orbit coupling as an SU(2) gauge field
            (spin-general solver only).
    """

    STATIC_ZEROS: ClassVar[tuple[str, ...]] = ("phase_gradient",)  # validation.freeze_known_zeros
    material: Superconductor
    length: float = eqx.field(static=True)
    n_x: int = eqx.field(default=41, static=True)
    conductance: ArrayLike = eqx.field(default=1.0, converter=jnp.asarray)
    diffusion: ArrayLike = eqx.field(default=1.0, converter=jnp.asarray)
    phase: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    phase_gradient: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    self_consistent: bool = eqx.field(default=False, static=True)
    exchange_direction: tuple = eqx.field(default=(0.0, 0.0, 1.0), static=True)
    exchange: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)
    spin_orbit: GaugeField | None = None

    def __check_init__(self):
        unit_vector(self.exchange_direction, "exchange_direction")
        if self.spin_orbit is not None and not isinstance(self.spin_orbit, GaugeField):
            raise TypeError("spin_orbit must be a jaxqp.GaugeField (e.g. GaugeField.rashba(alpha)) or None")
        if self.exchange is not None and jnp.shape(self.exchange) != (self.n_x, 3):
            raise ValueError(f"exchange must have shape (n_x, 3) = ({self.n_x}, 3), got {jnp.shape(self.exchange)}")
        if not isinstance(self.material, Superconductor):
            raise TypeError("Segment.material must be a jaxqp.Superconductor (delta=0 for a normal metal)")
        if not (np.isfinite(self.length) and self.length > 0):
            raise ValueError(f"Segment.length must be a finite number > 0 (units of xi), got {self.length}")
        if self.n_x < 3:
            raise ValueError(f"Segment.n_x must be >= 3, got {self.n_x}")
        val.check_positive("conductance", self.conductance, hint="sigma A relative to the reference material")
        val.check_positive("diffusion", self.diffusion, hint="D / D0 of the segment")
        val.check_finite("phase", self.phase)
        val.check_finite("phase_gradient", self.phase_gradient)


class Interface(eqx.Module):
    """Interface between consecutive segments: transparent (``conductance=None``), tunnel, or spin-active.

    ``conductance`` is ``G_B R_xi``: the barrier's normal-state conductance in
    units of the reference wire's conductance over one xi (Kupriyanov-Lukichev:
    ``sigma g d_x g = (G_B / 2) [g_left, g_right]``).

    A tunnel interface is spin-active when it has a ``polarization`` or a ``spin_mixing`` (the
    spin-general solvers only, `jaxqp.solve_spin` and `jaxqp.solve_spin_kinetic`): the boundary
    condition of a `SpinActive` end with the other segment's function in place of the electrode's,

        sigma g_a d_x g_a = +-(G_B / 2) [S(g_b), g_a] -+ i (G_phi,a / 2) [tau_3 m.sigma, g_a]

    on each side ``a`` (``b`` the other side).

    Attributes:
        conductance: ``G_B R_xi`` (``None``: transparent).
        polarization: spin polarisation ``P`` of the tunnel conductance, ``|P| < 1`` (``None``: 0).
        spin_mixing: ``G_phi R_xi``, the spin-mixing conductance, in the units of ``conductance``: one
            value for both sides or ``(left, right)`` (``None``: 0).
        magnetization: direction of the interface magnetisation (3-vector, normalised; a leaf).
    """

    conductance: Array | None = eqx.field(default=None, converter=val.optional_array)
    polarization: Array | None = eqx.field(default=None, converter=val.optional_array)
    spin_mixing: Array | None = eqx.field(default=None, converter=val.optional_array)
    magnetization: Array = eqx.field(default=(0.0, 0.0, 1.0), converter=jnp.asarray)

    def __init__(self, conductance=None, *, polarization=None, spin_mixing=None, magnetization=(0.0, 0.0, 1.0)):
        self.conductance = val.optional_array(conductance)
        self.polarization = val.optional_array(polarization)
        self.spin_mixing = val.optional_array(spin_mixing)
        self.magnetization = jnp.asarray(unit_vector(magnetization, "magnetization"))

    def __check_init__(self):
        if self.conductance is not None:
            val.check_positive("Interface.conductance", self.conductance,
                               hint="G_B R_xi; use conductance=None for a transparent interface")
        if self.spin_active and self.conductance is None:
            raise ValueError("a spin-active interface (polarization or spin_mixing) is a tunnel barrier: give its "
                             "conductance G_B R_xi, e.g. Interface(0.5, polarization=0.3)")
        if self.polarization is not None:
            p = val.concrete(self.polarization)
            if jnp.ndim(self.polarization) != 0 or (p is not None and abs(float(p)) >= 1):
                raise ValueError(f"Interface.polarization must be a number with |P| < 1, got {self.polarization}")
        if self.spin_mixing is not None:
            if jnp.shape(self.spin_mixing) not in ((), (2,)):
                raise ValueError("Interface.spin_mixing is one number (both sides) or a pair (left, right), got "
                                 f"shape {jnp.shape(self.spin_mixing)}")
            val.check_finite("Interface.spin_mixing", self.spin_mixing)

    @property
    def spin_active(self) -> bool:
        """Whether the interface has a polarisation or spin mixing (static: the ``None`` pattern)."""
        return self.polarization is not None or self.spin_mixing is not None

    def mixing_sides(self) -> Array:
        """``G_phi R_xi`` on the (left, right) side, shape (2,)."""
        q = jnp.zeros(()) if self.spin_mixing is None else self.spin_mixing
        return jnp.broadcast_to(q, (2,))


class Chain(eqx.Module):
    """Segments joined end to end, with point tunnel contacts and end conditions.

    Attributes:
        segments: tuple of `Segment`, left to right.
        interfaces: one `Interface` per junction between segments
            (default: all transparent).
        contacts: `jaxqp.TunnelContact` objects at global positions
            (the delta-function injectors of seed 002); their electrodes'
            spectra enter the retarded equation.
        ends: left and right end: ``"reservoir"`` (bulk solution of the end
            segment imposed; a `Reservoir` for one at its own potential and
            temperature), ``"vacuum"`` (zero flux) or a `SpinActive`
            interface (spin-general solver only).  ``chain.ends`` gives the kinds
            (``"spin-active"`` for the latter), ``chain.boundaries`` the objects.
        temperature: used by `self_consistent_gap` and
            `josephson_current`.
        growth: grading of the nodes around contacts (see
            `position_grid`).
    """

    segments: tuple
    interfaces: tuple = ()
    contacts: tuple = ()
    ends: tuple = eqx.field(default=("reservoir", "reservoir"), static=True)
    temperature: ArrayLike = eqx.field(default=0.05, converter=jnp.asarray)
    growth: float = eqx.field(default=0.1, static=True)
    spin_active: tuple = (None, None)
    reservoirs: tuple = (None, None)

    def __init__(self, segments, interfaces=None, contacts=(), ends=("reservoir", "reservoir"), temperature=0.05,
                 growth=0.1):
        self.segments = tuple(segments)
        if interfaces is None:
            interfaces = (Interface(),) * (len(self.segments) - 1)
        self.interfaces = tuple(i if isinstance(i, Interface) else Interface(i) for i in interfaces)
        self.contacts = tuple(contacts)
        ends = tuple(ends)
        # the kinds are static (they shape the discretisation); a spin-active end's or a biased
        # reservoir's numbers are leaves
        self.ends, self.reservoirs = _end_kinds(ends)
        self.spin_active = tuple(e if isinstance(e, SpinActive) else None for e in ends)
        self.temperature = jnp.asarray(temperature)
        self.growth = float(growth)

    def __check_init__(self):
        if not self.segments:
            raise ValueError("a Chain needs at least one Segment")
        for s in self.segments:
            if not isinstance(s, Segment):
                raise TypeError(f"Chain.segments must be Segment objects, got {type(s).__name__}")
        if len(self.interfaces) != len(self.segments) - 1:
            raise ValueError(f"{len(self.segments)} segments need {len(self.segments) - 1} interfaces, "
                             f"got {len(self.interfaces)}")
        if len(self.ends) != 2 or any(e not in _ENDS + ("spin-active",) for e in self.ends):
            raise ValueError(f"ends must be two of {_ENDS} or SpinActive interfaces, got {self.ends}")
        for e, a in zip(self.ends, self.spin_active, strict=True):
            if (e == "spin-active") != isinstance(a, SpinActive):
                raise ValueError("a spin-active end is given as a SpinActive object, e.g. "
                                 "ends=('reservoir', jaxqp.SpinActive(0.5, (1, 0, 0)))")
        _check_reservoirs(self.ends, self.reservoirs)
        total = sum(s.length for s in self.segments)
        for c in self.contacts:
            if not isinstance(c, TunnelContact):
                raise TypeError(f"contacts must be TunnelContact objects, got {type(c).__name__}")
            if not 0.0 <= c.position <= total:
                raise ValueError(f"contact at x={c.position} lies outside the chain [0, {total}]")
        val.check_nonnegative("temperature", self.temperature, hint="temperatures are k_B T / Delta0")

    @property
    def length(self) -> float:
        return float(sum(s.length for s in self.segments))

    @property
    def boundaries(self) -> tuple:
        """The two ends as given: ``"reservoir"``, ``"vacuum"``, a `Reservoir` or a `SpinActive` interface."""
        return tuple(a if a is not None else r if r is not None else e
                     for e, a, r in zip(self.ends, self.spin_active, self.reservoirs, strict=True))

    def single_segment(self, solver: str, unit_fields: tuple = (), hint: str = "") -> Segment:
        """The chain's only segment, for a solver of uniform wires; a ValueError that names ``solver``
        if there are several, or if one of ``unit_fields`` (e.g. ``"diffusion"``) is not 1."""
        if len(self.segments) != 1:
            raise ValueError(f"{solver} take one segment, this chain has {len(self.segments)}{hint}")
        seg = self.segments[0]
        for name in unit_fields:
            c = val.concrete(getattr(seg, name))
            if c is None or np.any(c != 1.0):
                raise ValueError(f"{solver} work in units of the segment itself: use Segment({name}=1)")
        return seg

    def is_collinear(self) -> bool:
        """Whether the collinear solver can take the chain (no spin-active end or interface, no exchange
        profile, no spin-orbit gauge field)."""
        return ("spin-active" not in self.ends and all(s.exchange is None and s.spin_orbit is None
                                                       for s in self.segments)
                and not any(i.spin_active for i in self.interfaces))


def chain_from_wire(wire: Wire) -> Chain:
    """The single-segment `Chain` of a uniform `Wire` (same nodes)."""
    seg = Segment(wire.material, wire.length, n_x=wire.n_x, phase_gradient=wire.phase_gradient)
    return Chain((seg,), (), wire.contacts, wire.boundaries, wire.temperature, wire.growth)


def _check_reservoirs(kinds, reservoirs) -> None:
    if len(reservoirs) != 2 or any(r is not None and (k != "reservoir" or not isinstance(r, Reservoir))
                                   for k, r in zip(kinds, reservoirs, strict=True)):
        raise ValueError("a reservoir end at its own potential is given as a Reservoir object in ends, e.g. "
                         "ends=(jaxqp.Reservoir(bias=1.0), 'reservoir')")
