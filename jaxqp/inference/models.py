r"""Fit models in physical units: what a measured curve or map is compared with.

Every model is a frozen (hashable) dataclass with

- ``coords``: the data coordinates it needs, with their SI units
  (e.g. ``(("bias", "V"),)`` or ``(("field", "T"), ("bias", "V"))``);
- ``output``: the measured quantity and its SI unit (e.g. ``("dI/dV", "S")``);
- ``parameters()``: default `jaxqp.inference.fit.Parameter` objects (start, bounds,
  unit), which a user overrides by name;
- ``__call__(x, **params)``: a pure JAX function of ``x`` (a dict of coordinate
  arrays that broadcast against each other: a curve, scattered points, or a
  map with axes ``x["field"][:, None]``, ``x["bias"][None, :]``) in physical
  units, returning the prediction in the output unit.

Internally every model works in the dimensionless units of jaxqp (energies in
the gap, temperatures k_B T / Delta) and converts at its boundary, so the fitted
values come out in micro-electronvolts, kelvin, siemens, tesla, ampere.

`Corrected` adds the corrections real data need: a bias offset
``V_offset`` and a series (lead) resistance ``R_series`` between the measured
bias and the junction, ``V_meas - V_offset = V_j + R_series I(V_j)``, so that
``G_meas = G/(1 + R_series G)`` at the junction bias that solves it.

The registry `MODELS` names the models for configuration files
(``jaxqp fit CONFIG``).
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from ..devices.nonlocal_wire import (
    BATH_K,
    DELTA0_UEV,
    FIG11,
    GAMMA_FIT,
    JUNCTIONS,
    SPACING_NM,
    WIRE_LENGTH_NM,
    XI_NM,
    charge_imbalance_spectral,
    pair_distance,
    r_xi_ohm,
)
from ..geometry import TunnelContact, Wire
from ..grids import merged_grid, smooth
from ..internal import validation as val
from ..junction import current_and_conductance
from ..kinetic.collisions import ElectronElectron
from ..kinetic.inelastic import GapEquation, inelastic_setup, map_core, uniform_grid
from ..kinetic.solve import separable_core
from ..materials import NormalMetal, Superconductor
from ..spectral.bulk import green_functions
from ..units import KB_UEV_PER_K, MUB_UEV_PER_T
from .data import Measurement, load, parse_unit
from .fit import FitResult, Parameter, curve_fit


def _P(start, lower=-math.inf, upper=math.inf, unit="", fixed=False, scale=None):
    return Parameter(start, lower, upper, fixed, unit, scale)


class FitModel:
    """Base class: see the module docstring.

    The ``__call__`` of a subclass that is a frozen dataclass is compiled where it is called outside
    a trace (`jaxqp.internal.validation.compiled_when_eager`, the model and the parameters that are
    known zeros static): a prediction outside a fit, e.g. the curve of fitted values, is one
    compiled program rather than hundreds of single operations; inside `jax.jit`, `jax.grad` or
    `jax.vmap` it is traced as before.  Other subclasses (whose fields may
    change between calls) run as written.
    """

    name: ClassVar[str] = ""
    coords: ClassVar[tuple] = ()
    output: ClassVar[tuple] = ("y", "")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        call = cls.__dict__.get("__call__")
        if call is None:
            return
        # parameters that are known zeros stay Python zeros, as in an uncompiled call: a zero
        # depairing rate keeps the closed-form spectra (`jaxqp.internal.validation.compiled_when_eager`)
        compiled = val.compiled_when_eager(call)

        @functools.wraps(call)
        def __call__(self, x, *args, **p):
            if not (dataclasses.is_dataclass(self) and type(self).__dataclass_params__.frozen):
                return call(self, x, *args, **p)
            return compiled(self, x, *args, **p)

        cls.__call__ = __call__

    def parameters(self) -> dict[str, Parameter]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, x: dict, **p):  # pragma: no cover - abstract
        raise NotImplementedError

    def check_coords(self, x: dict) -> None:
        missing = [c for c, _ in self.coords if c not in x]
        if missing:
            raise ValueError(f"model {self.name!r} needs the data coordinates {[c for c, _ in self.coords]} "
                             f"(SI units {[u for _, u in self.coords]}); missing: {missing}")


# --------------------------------------------------------------------------- tunnel junctions
def _nis_dimensionless(v, delta_over, gamma, T, *, h=0.0, zeta=0.0, b_so=0.0, n_energy=1001, what="G"):
    """Current (units G_T Delta/e) and/or dI/dV (G_T) of N-I-S with a Dynes/spin-split S (S at T = 0)."""
    N = NormalMetal(temperature=T)
    S = Superconductor(delta=delta_over, h=h, zeta=zeta, b_so=b_so, gamma=gamma, temperature=0.0)
    I, G = current_and_conductance(N, S, v, n_energy=n_energy)
    return I.charge, G.charge


@dataclasses.dataclass(frozen=True)
class NISConductance(FitModel):
    r"""dI/dV of a normal-metal / insulator / superconductor junction (seed 001, Table 1).

    Parameters: ``delta`` (ueV), Dynes ``gamma`` (ueV), the normal electrode's
    electron temperature ``T`` (K), the normal-state conductance ``G_N`` (S).
    The superconductor's own temperature is negligible (k_B T << Delta).
    """

    n_energy: int = 1001
    name: ClassVar[str] = "nis"
    coords: ClassVar[tuple] = (("bias", "V"),)
    output: ClassVar[tuple] = ("dI/dV", "S")

    def parameters(self):
        return {"delta": _P(250.0, 0.0, math.inf, "ueV"), "gamma": _P(0.5, 0.0, math.inf, "ueV"),
                "T": _P(0.1, 0.0, math.inf, "K"), "G_N": _P(1e-5, 0.0, math.inf, "S")}

    def current_and_conductance(self, x, delta, gamma, T, G_N):
        """(I in A, dI/dV in S) at the junction bias ``x["bias"]`` (V)."""
        v = x["bias"] * 1e6 / delta
        I, G = _nis_dimensionless(v, 1.0, gamma / delta, T * KB_UEV_PER_K / delta, n_energy=self.n_energy)
        return G_N * I * delta * 1e-6, G_N * G

    def __call__(self, x, delta, gamma, T, G_N):
        return self.current_and_conductance(x, delta, gamma, T, G_N)[1]


@dataclasses.dataclass(frozen=True)
class SpinSplitNIS(FitModel):
    r"""dI/dV of a normal-metal injector on a Zeeman-split superconductor in an in-plane field (seed 000 Fig. 2a).

    The field ``B`` splits the DOS by ``h = g mu_B B / 2`` and depairs it,
    ``zeta = R_orb B^2``; spin-orbit scattering ``b_so = hbar/(3 tau_so Delta)``
    mixes the spin bands.  Parameters: ``delta`` (ueV), ``gamma`` (ueV), ``T`` (K),
    ``G_N`` (S), ``R_orb`` (ueV/T^2), ``b_so`` (dimensionless), ``g_factor`` (fixed 2).
    Coordinates: ``field`` (T) and ``bias`` (V), broadcast against each other.
    """

    n_energy: int = 1001
    name: ClassVar[str] = "spin_split_nis"
    coords: ClassVar[tuple] = (("field", "T"), ("bias", "V"))
    output: ClassVar[tuple] = ("dI/dV", "S")

    def parameters(self):
        return {"delta": _P(250.0, 0.0, math.inf, "ueV"), "gamma": _P(0.5, 0.0, math.inf, "ueV"),
                "T": _P(0.1, 0.0, math.inf, "K"), "G_N": _P(1e-5, 0.0, math.inf, "S"),
                "R_orb": _P(5.0, 0.0, math.inf, "ueV/T^2"), "b_so": _P(0.05, 0.0, math.inf, ""),
                "g_factor": _P(2.0, 0.0, math.inf, "", fixed=True)}

    def current_and_conductance(self, x, delta, gamma, T, G_N, R_orb, b_so, g_factor):
        B = x["field"]
        v = x["bias"] * 1e6 / delta
        h = g_factor * MUB_UEV_PER_T * B / 2.0 / delta
        zeta = R_orb * B**2 / delta
        I, G = _nis_dimensionless(v, 1.0, gamma / delta, T * KB_UEV_PER_K / delta, h=h, zeta=zeta, b_so=b_so,
                                  n_energy=self.n_energy)
        return G_N * I * delta * 1e-6, G_N * G

    def __call__(self, x, **p):
        return self.current_and_conductance(x, **p)[1]


# --------------------------------------------------------------------------- corrections
@dataclasses.dataclass(frozen=True)
class Corrected(FitModel):
    r"""A tunnel-junction model measured through a bias offset and a series resistance.

    The measured bias ``V_m`` (coordinate ``"bias"``) and the junction bias ``V_j``
    are related by ``V_m - V_offset = V_j + R_series I(V_j)``; the measured
    conductance is ``G(V_j)/(1 + R_series G(V_j))``.  ``V_j`` is found by Newton's
    method (the map is monotonic for a passive junction) and differentiated
    exactly by one Newton step at the solution (implicit function theorem).
    """

    base: FitModel = dataclasses.field(default_factory=NISConductance)
    bias_offset: bool = True
    series_resistance: bool = False
    newton_steps: int = 12  #: Newton steps for V_j (each gains a factor >~ 30 on these junctions)

    @property
    def name(self):
        extra = [s for s, on in (("offset", self.bias_offset), ("series", self.series_resistance)) if on]
        return self.base.name + ("+" + "+".join(extra) if extra else "")

    @property
    def coords(self):
        return self.base.coords

    @property
    def output(self):
        return self.base.output

    def __post_init__(self):
        if self.series_resistance and not hasattr(self.base, "current_and_conductance"):
            raise TypeError(f"model {self.base.name!r} gives no current: it cannot carry a series resistance")

    def parameters(self):
        p = dict(self.base.parameters())
        if self.bias_offset:
            p["V_offset"] = _P(0.0, unit="V", scale=1e-5)
        if self.series_resistance:
            p["R_series"] = _P(10.0, 0.0, math.inf, "Ohm")
        return p

    def __call__(self, x, **p):
        V_off = p.pop("V_offset", 0.0)
        R = p.pop("R_series", None)
        Vm = x["bias"] - V_off
        if R is None:
            return self.base(dict(x, bias=Vm), **p)

        def F(Vj):
            I, G = self.base.current_and_conductance(dict(x, bias=Vj), **p)
            return Vj + R * I - Vm, 1.0 + R * G, G

        def body(_, Vj):
            r, d, _ = F(Vj)
            return Vj - r / d

        Vj = jax.lax.stop_gradient(jax.lax.fori_loop(0, self.newton_steps, body, Vm))
        r, d, _ = F(Vj)
        Vj = Vj - r / d  # exact first derivatives at the root
        _, _, G = F(Vj)
        return G / (1.0 + R * G)


# --------------------------------------------------------------------------- charge imbalance (seed 001 Fig. 10)
def _peak_grid(delta, width, e_max, n):
    """Energy grid clustered at the coherence peaks +-delta; the nodes follow the width smoothly, so
    derivatives are those of the computed integral."""

    c = jnp.stack(jnp.broadcast_arrays(-delta, delta), -1)
    w = jnp.stack(jnp.broadcast_arrays(width, width), -1)
    return smooth(c, w, -e_max, e_max, n)


@dataclasses.dataclass(frozen=True)
class ChargeImbalance(FitModel):
    r"""Charge-imbalance non-local conductance ``g_ss(V_inj)`` of a superconducting wire (seed 001 Fig. 10).

    The analytic solution of the kinetic equation without inelastic scattering
    (seed 001 Appendix B, Eq. (21), finite wire), with the depairing of a
    phase gradient ``zeta = (d_x phi)^2 / 2`` (Eq. (7)), convolved with the
    injector's Fermi derivative, times the detector conductance.  Free by
    default: the Dynes/lifetime parameter ``gamma`` (units of Delta) and the
    phase gradient ``q`` (1/xi); the device (gap, injector temperature and
    conductance, detector conductance, wire resistance per xi, distance, length)
    is fixed at the values of the seed-001 junction pair A-B.
    """

    n_energy: int = 2001
    e_max: float = 4.0  #: half-width of the energy window (units of Delta)
    name: ClassVar[str] = "charge_imbalance"
    coords: ClassVar[tuple] = (("bias", "V"),)
    output: ClassVar[tuple] = ("g_ss", "S")

    def parameters(self):
        return {
            "gamma": _P(1e-3, 0.0, 0.2, ""), "q": _P(0.0, 0.0, math.inf, "1/xi", fixed=True),
            "delta": _P(265.0, 0.0, math.inf, "ueV", fixed=True),
            "T_inj": _P(JUNCTIONS["A"]["T_K"], 0.0, math.inf, "K", fixed=True),
            "G_inj": _P(JUNCTIONS["A"]["G"], 0.0, math.inf, "S", fixed=True),
            "G_det": _P(JUNCTIONS["B"]["G"], 0.0, math.inf, "S", fixed=True),
            "R_xi": _P(r_xi_ohm(), 0.0, math.inf, "Ohm", fixed=True),
            "distance": _P(SPACING_NM, 0.0, math.inf, "nm", fixed=True),
            "half_length": _P(0.5 * WIRE_LENGTH_NM, 0.0, math.inf, "nm", fixed=True),
            "xi": _P(XI_NM, 0.0, math.inf, "nm", fixed=True),
        }

    def __call__(self, x, gamma, q, delta, T_inj, G_inj, G_det, R_xi, distance, half_length, xi):
        v = jnp.asarray(x["bias"]) * 1e6 / delta
        T = T_inj * KB_UEV_PER_K / delta
        zeta = 0.5 * q**2
        grid = _peak_grid(1.0, gamma + zeta + 1e-4, self.e_max, self.n_energy)
        E = grid.points
        gs = charge_imbalance_spectral(E, distance / xi, G_inj * R_xi, gamma=gamma, zeta=zeta,
                                       half_length=half_length / xi)

        def phi(e):
            return 0.25 / T / jnp.cosh(0.5 * e / T) ** 2

        vv = v[..., None]
        kern = 0.5 * (phi(E - vv) + phi(E + vv))
        return G_det * jnp.sum(grid.weights * gs * kern, axis=-1)


@dataclasses.dataclass(frozen=True)
class SupercurrentRelation(FitModel):
    r"""Supercurrent vs phase gradient, seed 001 Eq. (6): ``I_s = I_0 (q/2) int j_E tanh(E/2T) dE``.

    ``j_E = Im[(i f)^2]`` is the spectral supercurrent of the uniform wire with
    the depairing ``zeta = q^2/2`` of the current itself (Eq. (7)) and the
    Dynes parameter ``gamma``; ``I_0 = Delta_0/(e R_xi)`` (A) is the fit parameter.
    """

    n_energy: int = 4001
    e_max: float = 20.0  #: the tail beyond falls as (gamma + zeta)/e_max^2
    name: ClassVar[str] = "supercurrent"
    coords: ClassVar[tuple] = (("q", "1/xi"),)
    output: ClassVar[tuple] = ("I_s", "A")

    def parameters(self):
        return {"I0": _P(30e-6, 0.0, math.inf, "A"), "gamma": _P(GAMMA_FIT, 0.0, 0.2, "", fixed=True),
                "T": _P(BATH_K, 0.0, math.inf, "K", fixed=True),
                "delta": _P(265.0, 0.0, math.inf, "ueV", fixed=True)}

    @val.compiled_when_eager
    def spectral_integral(self, q, gamma, T):
        """``int dE j_E tanh(E/2T)`` (dimensionless, per unit q/2)."""
        q = jnp.asarray(q)
        zeta = 0.5 * q**2
        grid = _peak_grid(jnp.ones_like(q), gamma + zeta + 1e-4, self.e_max, self.n_energy)
        E = grid.points
        _, _, f, _ = green_functions(E + 1j * gamma, 0.0, 1.0, zeta[..., None])
        j = jnp.imag((1j * f[0]) ** 2)
        return grid.integrate(j * jnp.tanh(0.5 * E / T))

    def __call__(self, x, I0, gamma, T, delta):
        q = jnp.asarray(x["q"])
        return I0 * 0.5 * q * self.spectral_integral(q, gamma, T * KB_UEV_PER_K / delta)


# --------------------------------------------------------------------------- non-local maps (kinetic engine)
def _pair_geometry(pair):
    """Wire length and injector-detector distance (units of xi) of the seed-001 wire."""
    return WIRE_LENGTH_NM / XI_NM, pair_distance(pair)


def _map_axes(x):
    """1-D injector and detector bias axes of a (broadcast) map and the map's shape."""
    vi, vd = jnp.asarray(x["bias_inj"]), jnp.asarray(x["bias_det"])
    return vi, vd, jnp.broadcast_shapes(vi.shape, vd.shape)


@dataclasses.dataclass(frozen=True)
class NonlocalConductanceMap(FitModel):
    r"""Non-local conductance map ``g_nl(V_inj, V_det) = dI_det/dV_inj`` (S) of the seed-001 wire.

    The elastic kinetic equations of `jaxqp.kinetic` on the wire of
    `jaxqp.devices.nonlocal_wire.device` (injector in the middle,
    detector of ``pair`` 300 nm x index distance away, reservoirs at the ends),
    with Zeeman splitting ``h``, spin-orbit relaxation ``b_so``, Dynes
    ``gamma``, depairing by a phase gradient ``q`` and a spin-polarised detector
    barrier ``P_det``.  Energies are in units of the wire's gap ``delta``
    (fitted or fixed), so the energy grid follows it.  Free by default:
    ``gamma``, ``b_so``, ``h`` (ueV), ``P_det``.

    With normal-metal contacts the currents are sums of one function per
    contact bias (`jaxqp.nonlocal_conductance`, separable fast path):
    the detector bias does not enter ``g_nl`` (a map costs one curve), and a
    fit of an ``n x m`` map costs ``n`` injector evaluations per model call.
    Coordinates ``bias_inj``, ``bias_det`` (V); the injector axis may be any
    order.
    """

    pair: tuple = ("A", "B")
    n_energy: int = 801
    n_x: int = 120
    e_max: float = 4.0  #: energy window |E| <= e_max (units of delta); keep it above max|eV|/delta + 1
    name: ClassVar[str] = "nonlocal_map"
    coords: ClassVar[tuple] = (("bias_inj", "V"), ("bias_det", "V"))
    output: ClassVar[tuple] = ("g_nl", "S")

    def parameters(self):
        a, b = (JUNCTIONS[j] for j in self.pair)
        return {
            "gamma": _P(GAMMA_FIT, 0.0, 0.2, ""), "b_so": _P(0.02, 0.0, math.inf, ""),
            "h": _P(20.0, 0.0, math.inf, "ueV"), "P_det": _P(0.1, -1.0, 1.0, ""),
            "delta": _P(DELTA0_UEV, 0.0, math.inf, "ueV", fixed=True),
            "q": _P(0.0, 0.0, math.inf, "1/xi", fixed=True),
            "G_inj": _P(a["G"], 0.0, math.inf, "S", fixed=True), "G_det": _P(b["G"], 0.0, math.inf, "S", fixed=True),
            "T_inj": _P(a["T_K"], 0.0, math.inf, "K", fixed=True),
            "T_det": _P(b["T_K"], 0.0, math.inf, "K", fixed=True),
            "T_bath": _P(BATH_K, 0.0, math.inf, "K", fixed=True),
            "R_xi": _P(r_xi_ohm(), 0.0, math.inf, "Ohm", fixed=True),
        }

    def wire(self, gamma, b_so, h, P_det, delta, q, G_inj, G_det, T_inj, T_det, T_bath, R_xi):
        """The `jaxqp.Wire` (units of ``delta``) at these parameters."""
        L, dist = _pair_geometry(self.pair)
        t = KB_UEV_PER_K / delta
        contacts = (TunnelContact(0.5 * L, G_inj * R_xi, NormalMetal(temperature=T_inj * t), name=self.pair[0]),
                    TunnelContact(0.5 * L + dist, G_det * R_xi, NormalMetal(temperature=T_det * t),
                                  polarization=P_det, name=self.pair[1]))
        sc = Superconductor(delta=1.0, h=h / delta, b_so=b_so, gamma=gamma)
        return Wire(sc, L, contacts, temperature=T_bath * t, phase_gradient=q, n_x=self.n_x)

    def grid(self, gamma, h_over_delta, zeta, t_min):
        """Energy grid (traceable): half the nodes at the Zeeman-split coherence peaks and 0."""
        c = jnp.stack([jnp.zeros(()), 1.0 - h_over_delta, 1.0 + h_over_delta, -1.0 + h_over_delta,
                       -1.0 - h_over_delta])
        w = jnp.stack([jnp.maximum(t_min, 1e-3)] + 4 * [jnp.maximum(gamma, 2e-4) + zeta])
        return merged_grid(c, w, self.e_max, self.n_energy)

    def __call__(self, x, **p):
        t_min = KB_UEV_PER_K * jnp.minimum(p["T_inj"], p["T_det"]) / p["delta"]
        return self.evaluate(x, p, self.grid(p["gamma"], p["h"] / p["delta"], 0.5 * p["q"] ** 2, t_min))

    def evaluate(self, x, p: dict, grid):
        """The map on a given energy grid (the quadrature held fixed, e.g. for derivative checks)."""
        w = self.wire(**p)
        vi, vd, shape = _map_axes(x)
        scale = 1e6 / p["delta"]
        parts, ok = separable_core(w, grid, ((vi * scale).reshape(-1), (vd * scale).reshape(-1)), 0)
        g = -parts[0][1][0][:, 1].reshape(vi.shape) / p["R_xi"]  # dI_det/dV_inj, I_det from the wire
        return jnp.broadcast_to(jnp.where(ok, g, jnp.nan), shape)


@dataclasses.dataclass(frozen=True)
class InelasticNonlocalMap(FitModel):
    r"""Non-local conductance ``g_nl(V_inj, V_det)`` (S) with electron-electron scattering and the
    self-consistent, non-equilibrium gap (seed 001 Appendix B, Figs. 11-12).

    The half wire of `jaxqp.devices.nonlocal_wire.half_wire` (injector on
    the symmetry plane, both conductances halved: ``kappa = G R_xi / 2``), solved
    by `jaxqp.nonlocal_gap_map`: the injector bias is swept upwards with
    continuation and ``g_nl`` is the exact derivative along the branch.  Free by
    default: the electron-electron rate ``gamma_ee = hbar/(Delta0 tau_ee)`` and the
    injector conductance ``G_inj`` (S; ``kappa_inj = G_inj R_xi / 2``).  Energies
    are in units of ``delta0`` (the zero-temperature BCS gap, fixed).  The injector
    biases must be non-negative and increasing (a continuation sweep).
    """

    pair: tuple = ("A", "B")
    n_x: int = 24
    spacing: float = 0.04  #: uniform energy grid spacing (units of delta0)
    cutoff: float = 4.0  #: Debye cut-off omega_D of the gap equation (the grid reaches it)
    subdivision: int = 4
    name: ClassVar[str] = "inelastic_map"
    coords: ClassVar[tuple] = (("bias_inj", "V"), ("bias_det", "V"))
    output: ClassVar[tuple] = ("g_nl", "S")

    def parameters(self):
        a, b = (JUNCTIONS[j] for j in self.pair)
        return {
            "gamma_ee": _P(FIG11["gamma_ee"], 0.0, math.inf, ""),
            "G_inj": _P(a["G"], 0.0, math.inf, "S"),
            "gamma": _P(FIG11["gamma"], 0.0, 0.2, "", fixed=True),
            "delta0": _P(DELTA0_UEV, 0.0, math.inf, "ueV", fixed=True),
            "G_det": _P(b["G"], 0.0, math.inf, "S", fixed=True),
            "T_inj": _P(a["T_K"], 0.0, math.inf, "K", fixed=True),
            "T_det": _P(b["T_K"], 0.0, math.inf, "K", fixed=True),
            "T_bath": _P(BATH_K, 0.0, math.inf, "K", fixed=True),
            "R_xi": _P(r_xi_ohm(), 0.0, math.inf, "Ohm", fixed=True),
        }

    def __call__(self, x, gamma_ee, G_inj, gamma, delta0, G_det, T_inj, T_det, T_bath, R_xi):
        L, dist = _pair_geometry(self.pair)
        t = KB_UEV_PER_K / delta0
        r_half = 0.5 * R_xi  # the half model: double cross-section
        contacts = (TunnelContact(0.0, G_inj * r_half, NormalMetal(temperature=T_inj * t), name=self.pair[0]),
                    TunnelContact(dist, G_det * r_half, NormalMetal(temperature=T_det * t), name=self.pair[1]))
        wire = Wire(Superconductor(delta=1.0, gamma=gamma), 0.5 * L, contacts, temperature=T_bath * t,
                    ends=("vacuum", "reservoir"), n_x=self.n_x)
        vi, vd, shape = _map_axes(x)
        scale = 1e6 / delta0
        grid = uniform_grid(self.cutoff, self.spacing)
        gap = GapEquation(cutoff=self.cutoff)
        coll = (ElectronElectron(gamma_ee),)
        st = inelastic_setup(wire, grid, coll, gap, None, self.subdivision)
        _, g, _, _, _, _, out = map_core(wire, coll, gap, (vi * scale).reshape(-1), st, grid,
                                          (vd * scale).reshape(-1), 0, 1)
        ok = jnp.all(out.converged, axis=tuple(range(1, out.converged.ndim)))
        g = jnp.where(ok[:, None], g, jnp.nan) / r_half
        return g.reshape(shape)  # a grid: bias_inj (n, 1) x bias_det (1, m)


#: models by the name used in configuration files
MODELS = {m.name: m for m in (NISConductance, SpinSplitNIS, ChargeImbalance, SupercurrentRelation,
                              NonlocalConductanceMap, InelasticNonlocalMap)}


def get(name: str, **options) -> FitModel:
    """A model by name (``jaxqp fit`` configuration), with its options (e.g. ``n_energy``)."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose from {sorted(MODELS)}")
    cls = MODELS[name]
    known = {f.name for f in dataclasses.fields(cls)}
    bad = sorted(set(options) - known)
    if bad:
        raise ValueError(f"model {name!r} has no option(s) {bad}; its options are {sorted(known)}")
    return cls(**options)


# --------------------------------------------------------------------------- measured data -> fit
def _convert_parameter(name: str, p, spec, model_name: str):
    """A user's parameter override (a number, or a dict with start/lower/upper/fixed/unit) in the model's unit."""
    if isinstance(p, Parameter):
        return p
    if isinstance(p, (int, float)) and not isinstance(p, bool):
        return spec.replace(value=float(p))
    if not isinstance(p, dict):
        raise TypeError(f"parameter {name!r}: give a start value or a table of start/lower/upper/fixed/unit")
    unknown = set(p) - {"start", "value", "lower", "upper", "fixed", "unit", "scale"}
    if unknown:
        raise ValueError(f"parameter {name!r}: unknown key(s) {sorted(unknown)}; use start, lower, upper, fixed, "
                         "unit, scale")
    for key, x in p.items():
        ok = isinstance(x, str) if key == "unit" else isinstance(x, bool) if key == "fixed" else (
            isinstance(x, (int, float)) and not isinstance(x, bool) and not math.isnan(x))
        if not ok:
            what = {"unit": "a unit string", "fixed": "true or false"}.get(key, "a number")
            raise TypeError(f"parameter {name!r}: {key} must be {what}, got {x!r}")
    factor = 1.0
    unit = p.get("unit", spec.unit)
    if unit != spec.unit:
        try:
            (b1, f1), (b2, f2) = parse_unit(unit), parse_unit(spec.unit)
        except ValueError:
            b1, b2 = unit, spec.unit
        if b1 != b2:
            raise ValueError(f"parameter {name!r} of model {model_name!r} is in {spec.unit!r}; "
                             f"cannot convert from {unit!r}")
        factor = f1 / f2
    kw = {}
    for key, field in (("start", "value"), ("value", "value"), ("lower", "lower"), ("upper", "upper"),
                       ("scale", "scale")):
        if key in p:
            kw[field] = float(p[key]) * factor
    if "fixed" in p:
        kw["fixed"] = bool(p["fixed"])
    return spec.replace(**kw)


def parameters_for(model: FitModel, overrides: dict | None = None) -> dict:
    """The model's default parameters updated by ``overrides`` (name -> start or table; units converted)."""
    params = model.parameters()
    for k, v in (overrides or {}).items():
        if k not in params:
            raise ValueError(f"model {model.name!r} has no parameter {k!r}; its parameters are {sorted(params)}")
        params[k] = _convert_parameter(k, v, params[k], model.name)
    return params


def fit_data(model: FitModel, data, params: dict | None = None, *, coords: dict | None = None, **kwargs):
    """Fit ``model`` to a `jaxqp.inference.data.Measurement` (or anything `jaxqp.inference.data.load` reads).

    Args:
        model: a `FitModel` (e.g. ``NISConductance()``, ``Corrected(SpinSplitNIS())``).
        data: the measurement; its coordinates are in SI units.
        params: overrides of the model's parameters (name -> start, `jaxqp.inference.fit.Parameter`
            or a table ``{"start", "lower", "upper", "fixed", "unit"}``).
        coords: model coordinate -> data coordinate name, where they differ.
        kwargs: passed to `jaxqp.inference.fit.curve_fit` (``method``, ``loss``, ``n_starts``, ...).

    Without ``sigma`` in the data the noise is estimated from the residual scatter.
    """

    m = data if isinstance(data, Measurement) else load(data)
    coords = dict(coords or {})
    x_data = m.model_coords()
    x = {}
    for name, unit in model.coords:
        src = coords.get(name, name)
        if src not in x_data:
            raise ValueError(f"model {model.name!r} needs coordinate {name!r} ({unit}); the data have "
                             f"{list(m.coords)}: map them with coords={{'{name}': '<data name>'}}")
        have = m.units.get(src)
        if have is not None and unit not in ("", "1/xi") and have != unit:
            raise ValueError(f"coordinate {name!r} must be in {unit} (SI), the data give {src!r} in {have}")
        x[name] = jnp.asarray(x_data[src])
    out_unit = model.output[1]
    if m.units.get(m.name) not in (None, out_unit) and out_unit not in ("", "1"):
        raise ValueError(f"model {model.name!r} predicts {model.output[0]} in {out_unit}; the data "
                         f"{m.name!r} are in {m.units.get(m.name)}")
    extra = [k for k in m.coords if k not in {coords.get(n, n) for n, _ in model.coords}]
    if extra:
        raise ValueError(f"data coordinate(s) {extra} are not used by model {model.name!r} "
                         f"(coordinates {[n for n, _ in model.coords]}); select a slice first")
    p = parameters_for(model, params)
    sigma = kwargs.pop("sigma", m.sigma)
    absolute = kwargs.pop("absolute_sigma", sigma is not None)
    return curve_fit(model, x, m.values, p, sigma=sigma, absolute_sigma=absolute, name=model.name, **kwargs)


# --------------------------------------------------------------------------- NIS shortcuts
def nis_conductance(V, delta, gamma, T, G_N, *, n_energy: int = 1001):
    """dI/dV of a normal-metal / insulator / Dynes-superconductor junction (dimensionless units).

    V, delta, gamma, T in units of a common energy scale; returns G_N * dI/dV / G_T.
    """
    return G_N * _nis_dimensionless(jnp.asarray(V), delta, gamma, T, n_energy=n_energy)[1]


def fit_nis_conductance(V_volt, G_siemens, *, delta_ueV: float = 250.0, gamma_ueV: float = 0.5,
                        T_kelvin: float = 0.1, G_N_siemens: float | None = None, sigma=None,
                        fixed: tuple[str, ...] = (), n_energy: int = 1001, bias_offset: bool = False,
                        series_resistance: bool = False, **kwargs) -> FitResult:
    """Fit a measured NIS conductance curve G(V) for Delta, Gamma, T_N and G_N.

    Args:
        V_volt: bias voltages (V) of the normal electrode relative to the superconductor.
        G_siemens: measured dI/dV (S).
        delta_ueV, gamma_ueV, T_kelvin, G_N_siemens: start values (G_N defaults
            to the conductance at the largest |V|).
        sigma: noise of G (S); default: the fit's residual scatter.
        fixed: names among ``("delta", "gamma", "T", "G_N")`` to hold fixed.
        bias_offset, series_resistance: also fit ``V_offset`` (V) and ``R_series`` (Ohm).

    Returns:
        `FitResult` with ``values`` in physical units: ``delta`` (ueV),
        ``gamma`` (ueV), ``T`` (K), ``G_N`` (S).
    """
    V = np.asarray(V_volt, float)
    G = np.asarray(G_siemens, float)
    if V.shape != G.shape:
        raise ValueError(f"V and G must have the same shape, got {V.shape} and {G.shape}")
    if G_N_siemens is None:
        G_N_siemens = float(np.mean(G[np.argsort(np.abs(V))[-max(3, V.size // 20):]]))
    model: FitModel = NISConductance(n_energy=n_energy)
    if bias_offset or series_resistance:
        model = Corrected(model, bias_offset=bias_offset, series_resistance=series_resistance)
    params = model.parameters()
    starts = {"delta": delta_ueV, "gamma": gamma_ueV, "T": T_kelvin, "G_N": G_N_siemens}
    for k, v in starts.items():
        params[k] = params[k].replace(value=float(v), fixed=k in fixed)
    return curve_fit(model, {"bias": jnp.asarray(V)}, G, params, sigma=sigma, absolute_sigma=sigma is not None,
                     name=model.name, **kwargs)
