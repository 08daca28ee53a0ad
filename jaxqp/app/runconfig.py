r"""Device and sweep descriptions in TOML for ``jaxqp run CONFIG``, checked before anything is computed.

A configuration names a *task* (what is computed at every point), the device's
parameters in physical units, the inner grid (energies or biases, computed in
one vectorised call per point), the parameters to sweep (the outer grid, run
in chunks that are written to disk as they finish) and the output.  Example
(``nis.toml``)::

    task = "junction"                  # dos | junction | wire | proximity | spin | spin_supercurrent | inelastic

    [units]
    delta0 = "200 ueV"                 # reference gap Delta0 (or Tc = "1.31 K")

    [left]                             # the biased electrode
    kind = "normal"
    temperature = "60 mK"

    [right]
    kind = "superconductor"            # delta0 defaults to [units]
    gamma = "1e-4 Delta0"              # Dynes broadening, any energy unit or Delta0
    self_consistent = true             # Delta(T, h, ...) from the gap equation
    # temperature and field (Zeeman splitting h = g mu_B B / 2, or h = "10 ueV") are swept below;
    # a parameter is either given here or swept, not both

    [barrier]
    conductance = "20 uS"              # G_T: currents also in ampere
    polarization = 0.0

    [grid]
    bias = { start = "-0.5 mV", stop = "0.5 mV", num = 201 }
    n_energy = 2001                    # nodes of the adaptive energy grid per point

    [sweep]                            # outer axes, in this order (Cartesian product)
    "right.field" = { start = "0 T", stop = "1 T", num = 21 }
    "right.temperature" = ["60 mK", "300 mK"]

    [output]
    dir = "nis-run"                    # relative to this file
    format = "netcdf"                  # netcdf | zarr
    chunk = "auto"                     # sweep points per chunk, or a number
    memory = "auto"                    # memory budget per chunk, e.g. "2 GiB"

Quantities are strings ``"<number> <unit>"`` in SI units with a prefix
(``mK``, ``ueV``, ``mV``, ``uS``, ``nm``, ``T``) or in jaxqp's units
(``Delta0`` for energies, biases and k_B T, ``Tc`` for temperatures in units of
the reference critical temperature, ``xi`` for lengths), or a table
``{ value = 60, unit = "mK" }``.  A number without a unit is accepted only
where the parameter is dimensionless.  Every problem is reported at once, with
the key it concerns and what to write instead (`ConfigError`).
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import itertools
import json
import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..inference.data import parse_unit
from ..units import KB_UEV_PER_K, TC_OVER_DELTA0, Units
from .configfile import ConfigError, check_keys, read_toml, suggest  # one error type for every configuration file

# ------------------------------------------------------------------------------ quantities
#: dimension -> (SI base unit, reduced unit names accepted, example)
DIMENSIONS = {
    "energy": ("eV", ("Delta0",), '"20 ueV" or "0.1 Delta0"'),
    "temperature": ("K", ("Tc", "Delta0"), '"100 mK" or "0.3 Tc"'),
    "voltage": ("V", ("Delta0",), '"0.3 mV" or "1.5 Delta0"'),
    "field": ("T", (), '"0.5 T" or "200 mT"'),
    "conductance": ("S", (), '"20 uS"'),
    "resistance": ("Ohm", (), '"8.6 Ohm"'),
    "length": ("m", ("xi",), '"300 nm" or "4 xi"'),
    "1": ("1", (), "a plain number"),
}

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan)\s*(.*?)\s*$", re.I)


@dataclasses.dataclass(frozen=True)
class Quantity:
    """A value in SI units (``unit`` = the SI base) or in a reduced unit (``Delta0``, ``Tc``, ``xi``)."""

    value: Any  #: a float or an array of floats
    unit: str

    def reduced(self, dim: str, delta0_ueV: float, xi_nm: float | None = None, g: float = 2.0) -> Any:
        """The value in jaxqp's dimensionless units (energies in Delta0, lengths in xi)."""
        v, u = self.value, self.unit
        if dim == "1":
            return v
        if u == "Delta0":
            return v
        if u == "Tc":
            return v * TC_OVER_DELTA0
        if u == "xi":
            return v
        u = Units(delta0_ueV, g=g)
        if dim == "energy":
            return u.energy(v * 1e6)
        if dim == "voltage":
            return u.voltage(v)
        if dim == "temperature":
            return np.sign(v) * u.temperature(np.abs(v))  # the sign is kept for the bounds check
        if dim == "field":
            return u.zeeman(v)
        if dim == "length":
            if xi_nm is None:
                raise ConfigError("a length in SI units needs the coherence length: [units] xi = \"...\"")
            return v * 1e9 / xi_nm
        if dim in ("conductance", "resistance"):
            return v
        raise ValueError(dim)  # pragma: no cover


def parse_quantity(x, dim: str, where: str) -> Quantity:
    """A config value (``"100 mK"``, ``{value, unit}``, or a number if dimensionless) -> `Quantity`."""
    base, reduced, example = DIMENSIONS[dim]
    if isinstance(x, dict):
        unknown = set(x) - {"value", "unit"}
        if unknown or "value" not in x:
            raise ConfigError(f"{where}: a quantity table has keys value and unit, "
                              f"e.g. {{ value = 60, unit = \"mK\" }}")
        num, unit = x["value"], str(x.get("unit", ""))
        if isinstance(num, bool) or not isinstance(num, (int, float)):
            raise ConfigError(f"{where}: value must be a number, got {num!r}")
        num = float(num)
    elif isinstance(x, bool):
        raise ConfigError(f"{where}: expected a quantity ({example}), got the boolean {x}")
    elif isinstance(x, (int, float)):
        if not math.isfinite(x):
            raise ConfigError(f"{where}: {x!r} is not a finite number (NaN/inf are not physical parameters)")
        if dim != "1":
            raise ConfigError(f"{where} = {x} has no unit: write it as a string with its unit, {example}")
        num, unit = float(x), ""
    elif isinstance(x, str):
        m = _NUMBER.match(x)
        if not m:
            raise ConfigError(f"{where}: cannot read {x!r} as a quantity; write a number and a unit, {example}")
        num, unit = float(m.group(1)), m.group(2)
    else:
        raise ConfigError(f"{where}: expected a quantity ({example}), got {type(x).__name__} {x!r}")
    if not math.isfinite(num):
        raise ConfigError(f"{where}: {x!r} is not a finite number (NaN/inf are not physical parameters)")
    if dim == "1":
        if unit not in ("", "1"):
            raise ConfigError(f"{where} is dimensionless; remove the unit {unit!r}")
        return Quantity(num, "1")
    if unit in reduced:
        return Quantity(num, unit)
    if unit == "":
        raise ConfigError(f"{where} = {x!r} has no unit: {example}")
    try:
        b, factor = parse_unit(unit)
    except ValueError:
        raise ConfigError(f"{where}: unknown unit {unit!r}; {example}") from None
    if b != base:
        allowed = ", ".join((base,) + reduced)
        raise ConfigError(f"{where}: {x!r} is in {b}, but {where.split('.')[-1]} is a {dim} (in {allowed}): "
                          f"{example}")
    return Quantity(num * factor, base)


# ------------------------------------------------------------------------------ schema
@dataclasses.dataclass(frozen=True)
class Param:
    """One parameter of a task section: its dimension, default, bounds (reduced units) and meaning."""

    dim: str
    default: object = None  #: a config value (string with unit) or None (required / absent)
    lower: float | None = None
    upper: float | None = None
    strict_lower: bool = False
    doc: str = ""
    sweepable: bool = True
    static: bool = False  #: a shape parameter: a sweep compiles once per value (an outer axis of its own)


@dataclasses.dataclass(frozen=True)
class Choice:
    """A named option of a section (a string, static: it shapes the computation)."""

    values: tuple
    default: str
    doc: str = ""
    dim = None
    sweepable = False
    static = False


def _energy(default="0 Delta0", doc=""):
    return Param("energy", default, 0.0, doc=doc)


SUPERCONDUCTOR = {
    "delta0": Param("energy", None, 0.0, strict_lower=True, doc="zero-temperature, zero-field gap (default [units])"),
    "temperature": Param("temperature", "0 K", 0.0, doc="electron temperature"),
    "field": Param("field", None, doc="in-plane magnetic field: Zeeman splitting h = g mu_B B / 2"),
    "h": Param("energy", None, doc="spin splitting (instead of field)"),
    "g": Param("1", 2.0, 0.0, strict_lower=True, doc="g-factor for the Zeeman splitting", sweepable=False),
    "gamma": _energy("1e-4 Delta0", "Dynes broadening"),
    "zeta": _energy(doc="orbital depairing energy"),
    "r_orb": Param("energy", None, 0.0, doc="orbital depairing per T^2: zeta = r_orb (B / 1 T)^2"),
    "b_so": _energy(doc="spin-orbit scattering energy hbar / (3 tau_so)"),
    "b_sf": _energy(doc="spin-flip scattering energy hbar / (3 tau_sf)"),
    "delta": Param("energy", None, 0.0, doc="pair potential, when not self-consistent (default delta0)"),
}
SC_FLAGS = {"self_consistent": True}
NORMAL = {
    "temperature": Param("temperature", "0 K", 0.0, doc="electron temperature"),
    "spin_bias": Param("voltage", "0 V", doc="spin accumulation (mu_up - mu_dn)/2e of the electrode"),
}
BARRIER = {
    "polarization": Param("1", 0.0, -1.0, 1.0, doc="spin polarisation of the barrier"),
    "conductance": Param("conductance", None, 0.0, strict_lower=True, doc="normal-state conductance G_T",
                         sweepable=False),
}
WIRE = {
    "length": Param("length", None, 0.0, strict_lower=True, doc="length of the wire", static=True),
    "n_x": Param("1", 200, 10, 100000, doc="position nodes (an integer; at least 10 for two contacts)", static=True),
    "resistance_xi": Param("resistance", None, 0.0, strict_lower=True,
                           doc="normal-state resistance R_xi of one coherence length (converts G to kappa)",
                           sweepable=False),
    "phase_gradient": Param("1", 0.0, doc="supercurrent phase gradient q = d_x phi, in 1/xi"),
    "left_end": Choice(("reservoir", "vacuum"), "reservoir",
                       "the end at x = 0: an equilibrium reservoir, or a vacuum (zero-flux) end, e.g. the symmetry "
                       "plane of a wire with the injector at its centre (seed 001's half wire)"),
    "right_end": Choice(("reservoir", "vacuum"), "reservoir", "the end at x = length"),
}
CONTACT = {
    "position": Param("length", None, 0.0, doc="position along the wire", static=True),
    "conductance": Param("conductance", None, 0.0, doc="tunnel conductance G_T (needs wire.resistance_xi)"),
    "kappa": Param("1", None, 0.0, doc="G_T R_xi (instead of conductance)"),
    "polarization": Param("1", 0.0, -1.0, 1.0, doc="spin polarisation of the barrier"),
    "temperature": Param("temperature", None, 0.0, doc="electrode temperature (default: the wire's)"),
    "bias": Param("voltage", "0 V", doc="electrode bias (the injector's is the grid)"),
}
UNITS = {
    "delta0": Param("energy", None, 0.0, strict_lower=True, doc="reference gap Delta0", sweepable=False),
    "Tc": Param("temperature", None, 0.0, strict_lower=True, doc="reference critical temperature", sweepable=False),
    "xi": Param("length", None, 0.0, strict_lower=True, doc="coherence length", sweepable=False),
}

#: the superconducting leads of a proximity junction: a superconductor at the junction's temperature,
#: plus the length and nodes of the lead segment (its far end holds the bulk)
LEAD = {k: p for k, p in SUPERCONDUCTOR.items() if k not in ("temperature", "field", "r_orb", "g")} | {
    "length": Param("length", "2 xi", 0.0, strict_lower=True, doc="length of the lead segment", static=True),
    "n_x": Param("1", 11, 3, 100000, doc="nodes of the lead segment (an integer)", static=True),
    "phase": Param("1", 0.0, doc="phase of the lead's pair potential (radians)"),
}
#: the normal (or ferromagnetic) link of a proximity junction
LINK = {
    "length": Param("length", None, 0.0, strict_lower=True, doc="length of the link", static=True),
    "n_x": Param("1", 41, 3, 100000, doc="nodes of the link (an integer)", static=True),
    "temperature": Param("temperature", None, 0.0, strict_lower=True,
                         doc="temperature (required: the Josephson current is a Matsubara sum at T > 0)"),
    "h": _energy(doc="exchange field of the link"),
    "gamma": _energy("1e-4 Delta0", "Dynes broadening of the link"),
    "b_so": _energy(doc="spin-orbit scattering energy"),
    "b_sf": _energy(doc="spin-flip scattering energy"),
    "interface": Param("1", None, 0.0, strict_lower=True,
                       doc="G_B R_xi of the two link-lead interfaces (Kupriyanov-Lukichev; absent: transparent)"),
    "resistance_xi": WIRE["resistance_xi"],
}
#: a wire with general spin structure (the superconductor is [material])
SPIN_WIRE = {
    "length": WIRE["length"],
    "n_x": Param("1", 31, 3, 100000, doc="position nodes (an integer)", static=True),
    "theta": Param("1", 0.0, doc="polar angle of the exchange field material.h (degrees from z)"),
    "phi": Param("1", 0.0, doc="azimuth of the exchange field (degrees from x)"),
}
SPIN_ACTIVE = {
    "spin_mixing": Param("1", 0.0, doc="spin-mixing conductance G_phi / G_N"),
    "theta": Param("1", 90.0, doc="polar angle of the magnetisation (degrees from z)"),
    "phi": Param("1", 0.0, doc="azimuth of the magnetisation (degrees from x)"),
}
#: the prescribed distribution of the spin tasks: spin voltage along an axis
SPIN_BIAS = {
    "spin_voltage": Param("voltage", "0 V", doc="spin voltage V_s of the distribution"),
    "theta": Param("1", 0.0, doc="polar angle of the spin-voltage axis (degrees from z)"),
    "phi": Param("1", 0.0, doc="azimuth of the spin-voltage axis (degrees from x)"),
}
#: the self-consistent gap and collisions of the inelastic task (seed 001, Figs. 11-12)
INELASTIC = {
    "cutoff": Param("energy", "10 Delta0", 0.0, strict_lower=True, doc="Debye cut-off omega_D", static=True),
    "spacing": Param("energy", "0.025 Delta0", 0.0, strict_lower=True, doc="energy grid spacing", static=True),
    "rate_ee": Param("energy", "2e-4 Delta0", 0.0, doc="electron-electron rate hbar/tau_ee at T_c"),
    "power_ee": Param("1", 0.0, 0.0, 0.99, doc="exponent of the e-e kernel |omega|^-power", static=True),
    "rate_eph": Param("energy", "0 Delta0", 0.0, doc="electron-phonon rate hbar/tau_eph at T_c"),
    "modes": Choice(("all", "energy"), "all", "what the collisions act on: all modes, or f_L only (seed 001)"),
}
#: the kinds of a section whose schema depends on its ``kind`` (the first is the default)
KINDS = {
    "electrode": {"superconductor": SUPERCONDUCTOR, "normal": NORMAL},
    "end": {"vacuum": {}, "reservoir": {}, "spin_active": SPIN_ACTIVE},
}

#: the tasks: sections with their schemas (or a `KINDS` entry), the required ones, the inner grid (and
#: further inner axes); ``resolution``: the inner grid must resolve the narrowest spectral feature
TASKS: dict[str, dict[str, Any]] = {
    "dos": {"sections": {"units": UNITS, "material": SUPERCONDUCTOR}, "required": ("material",),
            "inner": ("energy", "energy"), "resolution": True,
            "doc": "spin-resolved density of states of a homogeneous superconductor"},
    "junction": {"sections": {"units": UNITS, "left": "electrode", "right": "electrode", "barrier": BARRIER},
                 "required": ("left", "right"), "inner": ("bias", "voltage"), "resolution": True,
                 "doc": "tunnel junction: charge, spin and heat currents and dI/dV vs bias"},
    "wire": {"sections": {"units": UNITS, "material": SUPERCONDUCTOR, "wire": WIRE, "injector": CONTACT,
                          "detector": CONTACT},
             "required": ("material", "wire", "injector", "detector"), "inner": ("V_inj", "voltage"),
             "resolution": True,
             "doc": "superconducting wire between reservoirs with a tunnel injector and detector: non-local "
                    "conductance and contact currents vs injector bias (kinetic equations)"},
    "proximity": {"sections": {"units": UNITS, "left": LEAD, "right": LEAD, "link": LINK},
                  "required": ("left", "right", "link"), "inner": ("energy", "energy"), "resolution": True,
                  "doc": "S-N-S (or S-F-S) proximity junction: local DOS along the chain and the Josephson "
                         "current (retarded Usadel equation, Matsubara sum)"},
    "spin": {"sections": {"units": UNITS, "material": SUPERCONDUCTOR, "wire": SPIN_WIRE, "left": "end",
                          "right": "end", "distribution": SPIN_BIAS},
             "required": ("material", "wire"), "inner": ("energy", "energy"), "resolution": True,
             "doc": "wire with general spin structure (exchange field, spin-active ends): spin-resolved DOS "
                    "along the wire, spin currents and accumulation with a prescribed spin voltage"},
    "spin_supercurrent": {"sections": {"units": UNITS, "material": SUPERCONDUCTOR, "wire": SPIN_WIRE,
                                       "left": "end", "right": "end", "distribution": SPIN_BIAS},
                          "required": ("material", "wire"), "inner": ("spin_voltage", "voltage"),
                          "doc": "seed 003: self-consistent spin supercurrent vs spin voltage with "
                                 "continuation, the normal state's stability and the bistable region"},
    "inelastic": {"sections": {"units": UNITS, "material": SUPERCONDUCTOR, "wire": WIRE, "injector": CONTACT,
                               "detector": CONTACT, "collisions": INELASTIC},
                  "required": ("material", "wire", "injector", "detector"), "inner": ("V_inj", "voltage"),
                  "extra": {"V_det": "voltage"},
                  "doc": "seed 001: self-consistent Delta vs injector bias with inelastic collisions "
                         "(continuation) and the non-local conductance map g(V_inj, V_det)"},
}
_SECTIONS = {s for t in TASKS.values() for s in t["sections"]}
_TOP = _SECTIONS | {"task", "grid", "sweep", "output", "title"}
_OUTPUT = {"dir", "format", "chunk", "memory"}
_SWEEP_KEYS = {"start", "stop", "num", "values", "unit", "spacing"}
#: at most this many sweep points and inner points: beyond, the request is surely a typo
MAX_POINTS = 10**9
MAX_AXIS = 10**7  #: values per axis


def _section_schema(task: str, section: str, table: dict) -> dict:
    schema = TASKS[task]["sections"][section]
    if isinstance(schema, dict):
        return schema
    kinds = KINDS[schema]
    return kinds.get(table.get("kind", next(iter(kinds))), next(iter(kinds.values())))


def _is_superconductor(schema: dict) -> bool:
    return "delta0" in schema


# ------------------------------------------------------------------------------ the checked plan
@dataclasses.dataclass
class SweepAxis:
    name: str  #: dimension name in the dataset
    key: str  #: "section.param"
    dim: str
    si: np.ndarray  #: values in SI (or the reduced unit when the config used one)
    unit: str  #: the unit of ``si``
    reduced: np.ndarray  #: jaxqp units
    group: str | None = None  #: the dimension of a zipped axis (``[sweep.zip.<group>]``), else None
    static: bool = False  #: a shape parameter: one sub-run (one compilation) per value

    @property
    def dim_name(self) -> str:
        """The dataset dimension this axis runs along (its own name, or its zip group's)."""
        return self.group or self.name


@dataclasses.dataclass
class RunConfig:
    """A validated configuration: everything the runner needs, in reduced units."""

    task: str
    raw: dict  #: the configuration as read (for the dataset attributes)
    base: Path
    delta0_ueV: float
    xi_nm: float | None
    sections: dict  #: section -> {"kind":..., param -> reduced float, flags}
    axes: list  #: [SweepAxis], outer grid in order
    inner_name: str
    inner_si: np.ndarray
    inner_unit: str
    inner_reduced: np.ndarray
    n_energy: int
    out_dir: Path
    format: str
    chunk: int | None
    memory_bytes: float | None
    title: str
    notes: tuple = ()  #: one-line remarks on the physics of the sweep (printed with the plan)
    #: static (shape) sweep axes: ``((index tuple, RunConfig), ...)``, one validated sub-run per combination
    static_runs: tuple = ()
    #: further inner axes of the task (e.g. the detector biases of ``inelastic``): name -> (SI values, unit,
    #: reduced values)
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def static_axes(self) -> list:
        return [a for a in self.axes if a.static]

    @property
    def dims(self) -> tuple:
        """The outer dimensions in order: one per Cartesian axis, one per zip group."""
        return tuple(dict.fromkeys(a.dim_name for a in self.axes))

    @property
    def shape(self) -> tuple:
        sizes = {a.dim_name: len(a.reduced) for a in self.axes}
        return tuple(sizes[d] for d in self.dims)

    @property
    def n_points(self) -> int:
        return int(np.prod(self.shape)) if self.axes else 1

    def fingerprint(self) -> str:
        """Hash of what determines the numbers (not the output location or chunking)."""
        raw = {k: v for k, v in self.raw.items() if k != "output"}
        return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()[:16]

    def point_params(self, index: np.ndarray) -> dict:
        """Reduced parameters ``section.param -> (len(index),)`` at flat sweep indices."""
        out = {}
        for sec, d in self.sections.items():
            for k, v in d["params"].items():
                out[f"{sec}.{k}"] = np.full(index.shape, v, float)
        if self.axes:
            sub = dict(zip(self.dims, np.unravel_index(index, self.shape), strict=True))
            for ax in self.axes:
                out[ax.key] = ax.reduced[sub[ax.dim_name]]
        return out


def _grid_values(spec, dim: str, where: str, errors: list):
    """A sweep or grid spec -> Quantity with an array value (or None after recording an error)."""
    try:
        if isinstance(spec, list):
            if not spec:
                raise ConfigError(f"{where}: the list of values is empty; give at least one value")
            qs = [parse_quantity(v, dim, f"{where}[{i}]") for i, v in enumerate(spec)]
            return _same_unit(qs, where)
        if not isinstance(spec, dict):
            return _same_unit([parse_quantity(spec, dim, where)], where)
        bad = set(spec) - _SWEEP_KEYS
        if bad:
            raise ConfigError(f"{where}: unknown key(s) {sorted(bad)}; a range has start, stop, num (and optionally "
                              "unit, spacing = \"linear\" | \"log\"), a list has values")
        unit = spec.get("unit")

        def q(v, w):
            return parse_quantity({"value": v, "unit": unit} if unit is not None and not isinstance(v, str) else v,
                                  dim, w)

        if "values" in spec:
            vals = spec["values"]
            if not isinstance(vals, list) or not vals:
                raise ConfigError(f"{where}.values: give a non-empty list of values")
            return _same_unit([q(v, f"{where}.values[{i}]") for i, v in enumerate(vals)], where)
        missing = [k for k in ("start", "stop", "num") if k not in spec]
        if missing:
            raise ConfigError(f"{where}: a range needs start, stop and num (missing {missing})")
        num = spec["num"]
        if isinstance(num, bool) or not isinstance(num, int):
            raise ConfigError(f"{where}.num must be an integer, got {num!r}")
        if num < 1:
            raise ConfigError(f"{where}.num = {num}: an empty grid; give num >= 1")
        if num > MAX_AXIS:
            raise ConfigError(f"{where}.num = {num} is absurdly large (limit {MAX_AXIS:.0e} values per axis)")
        a, b = q(spec["start"], f"{where}.start"), q(spec["stop"], f"{where}.stop")
        if a.unit != b.unit:
            raise ConfigError(f"{where}: start and stop are in different kinds of unit ({a.unit}, {b.unit})")
        spacing = spec.get("spacing", "linear")
        if spacing == "log":
            if a.value <= 0 or b.value <= 0:
                raise ConfigError(f"{where}: a log range needs start, stop > 0")
            vals = np.geomspace(a.value, b.value, num)
        elif spacing == "linear":
            vals = np.linspace(a.value, b.value, num)
        else:
            raise ConfigError(f"{where}.spacing = {spacing!r}; use \"linear\" or \"log\"")
        return Quantity(vals, a.unit)
    except ConfigError as e:
        errors.append(str(e))
        return None


def _same_unit(qs: list, where: str) -> Quantity:
    units = {q.unit for q in qs}
    if len(units) > 1:
        raise ConfigError(f"{where}: give all values in one kind of unit (got {sorted(units)})")
    return Quantity(np.array([q.value for q in qs], float), qs[0].unit)


def _check_bounds(where: str, p: Param, v, errors: list, hint: str = "", given: Any = None):
    """Bounds of a reduced value; the message quotes the value as the user wrote it (``given``: the
    text of the configuration, or for a sweep the `Quantity` of its values)."""
    v = np.atleast_1d(np.asarray(v, float))
    lo, hi = float(v.min()), float(v.max())

    def quote(i: int, x: float) -> str:
        if given is None:
            return f"{x:.6g} (jaxqp units)"
        if not isinstance(given, Quantity):
            return repr(given) if isinstance(given, str) else str(given)
        g = np.atleast_1d(np.asarray(given.value, float))
        return f"{g[i] if g.size == v.size else g.ravel()[0]:.6g} {given.unit}".rstrip()

    def bound(b: float) -> str:
        return f"{b:g}" if b == 0 or p.dim == "1" else f"{b:g} (jaxqp units)"

    if p.lower is not None and (lo < p.lower or (p.strict_lower and lo <= p.lower)):
        rel = ">" if p.strict_lower else ">="
        errors.append(f"{where} = {quote(int(v.argmin()), lo)} is unphysical: it must be {rel} {bound(p.lower)}{hint}")
    if p.upper is not None and hi > p.upper:
        errors.append(f"{where} = {quote(int(v.argmax()), hi)} is unphysical: it must be <= {bound(p.upper)}{hint}")


def load(path) -> RunConfig:
    """Read and validate a configuration file; raise `ConfigError` listing every problem."""
    path = Path(path)
    return from_dict(read_toml(path), path.parent, name=path.stem)


def from_dict(raw: dict, base: Path | str = ".", name: str | None = None) -> RunConfig:
    """Validate a configuration given as a dict (as TOML would give it).

    ``name`` (the configuration file's stem) names the default output folder ``<name>-run``
    (``<task>-run`` without it); ``[output] dir`` overrides it.

    Every section has its own validator below; each appends what is wrong to one list, so that a
    file's problems are reported together, stage by stage (task and tables, reference units, the
    sections with grid, sweep and output, then the checks that need reduced values).
    """
    raw = copy.deepcopy(raw)
    errors: list[str] = []
    task, spec = _task(raw, errors)
    _raise(errors)
    statics = _static_sweeps(task, raw, errors)
    _raise(errors)
    if statics:
        return _with_static_runs(raw, statics, base, name)
    delta0, xi_nm = _reference_units(raw, errors)
    _raise(errors)
    sections: dict = {}
    schemas: dict = {}
    for s in spec["sections"]:
        if s != "units":
            sections[s], schemas[s] = _section(task, s, raw.get(s, {}), delta0, xi_nm, errors)
    inner_name, inner_dim = spec["inner"]
    extra_spec = spec.get("extra", {})
    inner, n_energy = _grid(raw.get("grid", {}), inner_name, inner_dim, errors, tuple(extra_spec))
    extra_q = {k: _grid_values(raw.get("grid", {}).get(k, [f"0 {DIMENSIONS[d][1][0]}"]), d, f"grid.{k}", errors)
               for k, d in extra_spec.items()}
    axes = _sweep(raw, sections, schemas, delta0, xi_nm, errors)
    if task in _DEVICE_CHECKS and not errors:
        _DEVICE_CHECKS[task](task, sections, axes, errors)
    out_t = raw.get("output", {})
    fmt, chunk, memory_bytes = _output(out_t, errors)
    title = raw.get("title", f"jaxqp {task}")
    _raise(errors)

    # physics checks that need the reduced values -----------------------------------------
    for d in sections.values():
        if d["kind"] == "superconductor" and not d["flags"]["self_consistent"] and "delta" not in d["params"]:
            d["params"]["delta"] = d["params"]["delta0"]
    inner_red = np.asarray(inner.reduced(inner_dim, delta0, xi_nm), float)
    if inner_red.size > MAX_POINTS:
        errors.append(f"grid.{inner_name}: {inner_red.size} points is absurdly many")
    if spec.get("resolution"):
        _check_resolution(task, sections, axes, inner_name, inner_red, errors)
    extra = {k: (np.atleast_1d(np.asarray(q.value, float)), q.unit,
                 np.atleast_1d(np.asarray(q.reduced(extra_spec[k], delta0, xi_nm), float)))
             for k, q in extra_q.items()}
    _raise(errors)
    return RunConfig(task=task, raw=raw, base=Path(base), delta0_ueV=float(delta0), xi_nm=xi_nm,
                     sections=sections, axes=axes, inner_name=inner_name,
                     inner_si=np.asarray(inner.value, float), inner_unit=inner.unit,
                     inner_reduced=inner_red, n_energy=int(n_energy),
                     out_dir=Path(base) / out_t.get("dir", f"{name or task}-run"), format=fmt, chunk=chunk,
                     memory_bytes=memory_bytes, title=str(title), notes=_notes(sections, axes, delta0),
                     extra=extra)


def _static_keys(task: str, raw: dict) -> set:
    tables: dict[str, dict] = {}
    for sec in TASKS[task]["sections"]:
        t = raw.get(sec)
        tables[sec] = t if isinstance(t, dict) else {}
    return {f"{sec}.{k}" for sec, t in tables.items() for k, p in _section_schema(task, sec, t).items() if p.static}


def _static_sweeps(task: str, raw: dict, errors: list) -> dict:
    """The swept shape parameters ``key -> [value as a config entry, ...]``, removed from ``raw["sweep"]``."""
    sweep_raw = raw.get("sweep")
    if not isinstance(sweep_raw, dict):
        return {}
    static = _static_keys(task, raw)
    out = {}
    for key, sp in _flatten_sweep({k: v for k, v in sweep_raw.items() if k != "zip"}).items():
        if key not in static:
            continue
        sec, _, name = key.partition(".")
        dim = _section_schema(task, sec, raw.get(sec, {}))[name].dim
        q = _grid_values(sp, dim, f"sweep.{key}", errors)
        if q is None:
            continue
        vals = np.atleast_1d(q.value)
        if dim == "1":  # a count (n_x)
            entries = [int(round(float(v))) for v in vals]
        else:
            entries = [{"value": float(v), "unit": q.unit} for v in vals]
        if len(set(map(str, entries))) != len(entries):
            errors.append(f"[sweep]: {key!r} repeats a value")
        out[key] = (entries, q)
    for grp, t in (sweep_raw.get("zip", {}) or {}).items() if isinstance(sweep_raw.get("zip"), dict) else ():
        for key in _flatten_sweep(t) if isinstance(t, dict) else ():
            if key in static:
                errors.append(f"[sweep.zip.{grp}]: {key!r} is a shape parameter (each value compiles its own "
                              "solver); sweep it as an axis of its own in [sweep]")
    return out


def _remove_sweep(raw: dict, key: str) -> None:
    sec, _, name = key.partition(".")
    sw = raw["sweep"]
    if key in sw:
        del sw[key]
    elif isinstance(sw.get(sec), dict) and name in sw[sec]:
        del sw[sec][name]
        if not sw[sec]:
            del sw[sec]


def _with_static_runs(raw: dict, statics: dict, base, name) -> RunConfig:
    """A configuration with swept shape parameters: one validated sub-configuration per combination of
    their values (each compiles its own solver); the outer axes are the static ones, then the others."""
    keys = list(statics)
    inner = copy.deepcopy(raw)
    for k in keys:
        _remove_sweep(inner, k)
    subs, errors = [], []
    for combo in itertools.product(*(range(len(statics[k][0])) for k in keys)):
        sub = copy.deepcopy(inner)
        for k, i in zip(keys, combo, strict=True):
            sec, _, pname = k.partition(".")
            if pname in sub.get(sec, {}):
                errors.append(f"[sweep]: {k!r} is swept, and [{sec}] also gives {pname} = {sub[sec][pname]!r}; "
                              "remove one of the two")
            sub.setdefault(sec, {})[pname] = statics[k][0][i]
        try:
            subs.append((combo, from_dict(sub, base, name)))
        except ConfigError as e:
            at = ", ".join(f"{k} = {statics[k][1].value[i] if np.ndim(statics[k][1].value) else statics[k][1].value}"
                           f" {statics[k][1].unit}".rstrip() for k, i in zip(keys, combo, strict=True))
            errors.append(f"at {at}: {e}")
        if errors:
            break
    _raise(errors)
    first = subs[0][1]
    axes = []
    for k in keys:
        entries, q = statics[k]
        sec, _, pname = k.partition(".")
        dim = _section_schema(first.task, sec, raw.get(sec, {}))[pname].dim
        red = np.asarray([float(sc.sections[sec]["params"][pname]) for combo, sc in subs
                          if all(c == 0 for j, c in enumerate(combo) if keys[j] != k)], float)
        axes.append(SweepAxis(pname, k, dim, np.atleast_1d(np.asarray(q.value, float)), q.unit, red, static=True))
    names = [a.name for a in axes + first.axes]
    for a in axes:
        if names.count(a.name) > 1:
            a.name = a.key.replace(".", "_")
    return dataclasses.replace(first, raw=raw, axes=axes + first.axes, static_runs=tuple(subs),
                               out_dir=Path(base) / raw.get("output", {}).get("dir", f"{name or first.task}-run"))


def _notes(sections: dict, axes: list, delta0_ueV: float) -> tuple:
    """One-line remarks on the physics of a valid configuration: a superconductor above its Tc, or
    split beyond the Clogston-Chandrasekhar limit, in some of the sweep (weak-coupling BCS values)."""
    notes = []
    swept = {a.key: a.reduced for a in axes}

    def values(s: str, *names):
        """The absolute values a parameter takes: its sweep, else its fixed value (else zero)."""
        for n in names:
            if f"{s}.{n}" in swept:
                return np.abs(swept[f"{s}.{n}"])
            if n in sections[s]["params"]:
                return np.abs(np.atleast_1d(sections[s]["params"][n]))
        return np.zeros(1)

    for s, d in sections.items():
        if d["kind"] != "superconductor":
            continue
        d0 = float(d["params"].get("delta0", 1.0))
        T = values(s, "temperature")
        tc = TC_OVER_DELTA0 * d0
        if T.max() > tc:
            frac = f"{int(np.sum(T > tc))} of {T.size} temperatures" if T.size > 1 else "the temperature"
            notes.append(f"[{s}]: {frac} above Tc = {tc * delta0_ueV / KB_UEV_PER_K:.3g} K "
                         f"(weak coupling, Delta0 = {d0 * delta0_ueV:.4g} ueV); the superconductor is normal there")
        h = values(s, "h", "field")
        limit = d0 / math.sqrt(2.0)
        if h.max() > limit:
            frac = f"{int(np.sum(h > limit))} of {h.size} fields" if h.size > 1 else "the field"
            notes.append(f"[{s}]: {frac} beyond the Clogston-Chandrasekhar limit h = Delta0/sqrt(2) "
                         f"({limit * delta0_ueV:.4g} ueV); at low temperature the superconductor is normal there")
    return tuple(notes)


def _raise(errors: list) -> None:
    if errors:
        raise ConfigError("\n".join(errors))


def _task(raw: dict, errors: list):
    """The task, and its tables present, required and of the right type."""
    check_keys(raw, _TOP, "configuration", errors)
    task = raw.get("task")
    if not isinstance(task, str) or task not in TASKS:
        msg = "name the task" if task is None else f"unknown task {task!r}{suggest(str(task), TASKS)}"
        raise ConfigError(f"{msg}: task = one of {sorted(TASKS)}" + ("" if not errors else "\n" + "\n".join(errors)))
    spec = TASKS[task]
    for s in sorted(_SECTIONS):
        if s in raw and s not in spec["sections"]:
            errors.append(f"[{s}] is not part of task {task!r} (its sections: {list(spec['sections'])})")
    for s in spec["required"]:
        if s not in raw:
            errors.append(f"task {task!r} needs a [{s}] table")
    for s in (*spec["sections"], "units", "grid", "sweep", "output"):
        if s in raw and not isinstance(raw[s], dict):
            errors.append(f"[{s}] must be a table (key = value lines under [{s}]), got {raw[s]!r}")
    return task, spec


def _reference_units(raw: dict, errors: list):
    """[units]: the reference gap Delta0 in ueV (from delta0, Tc or the first superconductor) and xi in nm."""
    units_t = raw.get("units", {})
    check_keys(units_t, UNITS, "[units]", errors)
    q = {}
    for k in ("delta0", "Tc", "xi"):
        if k in units_t:
            try:
                q[k] = parse_quantity(units_t[k], UNITS[k].dim, f"units.{k}")
            except ConfigError as e:
                errors.append(str(e))
    delta0 = None
    if "delta0" in q and "Tc" in q:
        errors.append("[units]: give delta0 or Tc, not both")
    elif "delta0" in q:
        if q["delta0"].unit == "Delta0":
            errors.append("units.delta0 defines Delta0: give it in eV (e.g. \"200 ueV\")")
        elif q["delta0"].value <= 0:
            errors.append("units.delta0 must be > 0")
        else:
            delta0 = round(q["delta0"].value * 1e6, 9)
    elif "Tc" in q:
        if q["Tc"].unit != "K" or q["Tc"].value <= 0:
            errors.append("units.Tc must be a positive temperature in kelvin")
        else:
            delta0 = q["Tc"].value * KB_UEV_PER_K / TC_OVER_DELTA0
    else:  # the first superconductor's delta0
        for s in ("material", "right", "left"):
            t = raw.get(s, {})
            if isinstance(t, dict) and t.get("kind", "superconductor") == "superconductor" and "delta0" in t:
                try:
                    d = parse_quantity(t["delta0"], "energy", f"{s}.delta0")
                    if d.unit == "eV" and d.value > 0:
                        delta0 = d.value * 1e6
                        break
                except ConfigError:
                    pass
        if delta0 is None:
            errors.append("give the reference gap: [units] delta0 = \"200 ueV\" (or Tc = \"1.3 K\"), or a "
                          "superconductor's delta0 in eV")
    xi_nm = q["xi"].value * 1e9 if "xi" in q and q["xi"].unit == "m" else None
    return delta0, xi_nm


def _section(task: str, s: str, t: dict, delta0, xi_nm, errors: list):
    """One device section (material, electrode, barrier, wire or contact): kind, reduced parameters, flags."""
    schema = _section_schema(task, s, t)
    sc = _is_superconductor(schema)
    kinds = TASKS[task]["sections"][s]
    allowed = set(schema) | ({"kind"} if isinstance(kinds, str) else set()) | (set(SC_FLAGS) if sc else set())
    if isinstance(kinds, str):
        kind = t.get("kind", next(iter(KINDS[kinds])))
        if kind not in KINDS[kinds]:
            errors.append(f"{s}.kind = {kind!r}; use one of {list(KINDS[kinds])}")
        else:  # a key of another kind: say which kind has it
            for k in set(t) - allowed:
                other = [n for n, sch in KINDS[kinds].items() if k in sch]
                if other:
                    errors.append(f"[{s}]: {k} belongs to kind = {other[0]!r}, and [{s}] is kind = {kind!r}; "
                                  f"write kind = \"{other[0]}\" in [{s}]")
                    allowed = allowed | {k}
    else:
        kind = "superconductor" if sc else s
    check_keys(t, allowed, f"[{s}]", errors)
    d: dict[str, Any] = {"kind": kind, "params": {}, "flags": {}}
    for flag, default in SC_FLAGS.items():
        if sc:
            val = t.get(flag, default)
            if not isinstance(val, bool):
                errors.append(f"{s}.{flag} must be true or false, got {val!r}")
            d["flags"][flag] = bool(val)
    for k, c in schema.items():
        if isinstance(c, Choice):
            val = t.get(k, c.default)
            if val not in c.values:
                errors.append(f"{s}.{k} = {val!r}; use one of {list(c.values)}")
            d["flags"][k] = val
    if sc and "field" in schema:
        if "field" in t and "h" in t:
            errors.append(f"[{s}]: give field (tesla) or h (energy), not both")
        if "r_orb" in t and "zeta" in t:
            errors.append(f"[{s}]: give zeta or r_orb, not both")
    g = float(t.get("g", 2.0)) if isinstance(t.get("g", 2.0), (int, float)) else 2.0
    for k, p in schema.items():
        value = t.get(k, p.default)
        if value is None or isinstance(p, Choice):
            continue
        try:
            qv = parse_quantity(value, p.dim, f"{s}.{k}")
            d["params"][k] = qv.reduced(p.dim, delta0, xi_nm, g)
            if k == "r_orb":
                d["params"][k] = orbital_per_h2(qv.reduced("energy", delta0), delta0, g)
            _check_bounds(f"{s}.{k}", p, d["params"][k], errors, given=value)
            if k == "n_x" and d["params"][k] != int(d["params"][k]):
                errors.append(f"{s}.n_x = {value!r} must be an integer (a number of nodes)")
        except ConfigError as e:
            errors.append(str(e))
    if sc:
        d["params"].setdefault("delta0", 1.0)
    return d, schema


def orbital_per_h2(r_orb, delta0_ueV, g):
    """Orbital depairing per tesla squared (reduced) -> per (h / Delta0)^2, so that ``zeta = r_orb h^2``.

    The field is converted to the spin splitting once, here; the tasks then work in reduced units only.
    """
    return r_orb / Units(delta0_ueV, g=g).zeeman(1.0) ** 2


def _grid(grid_t: dict, inner_name: str, inner_dim: str, errors: list, extra: tuple = ()):
    """[grid]: the task's inner axis (bias or energy) and the number of energy nodes."""
    check_keys(grid_t, {inner_name, "n_energy", *extra}, "[grid]", errors)
    inner = None
    if inner_name not in grid_t:
        errors.append(f"[grid] needs {inner_name} = {{ start = ..., stop = ..., num = ... }} "
                      f"({DIMENSIONS[inner_dim][2]})")
    else:
        inner = _grid_values(grid_t[inner_name], inner_dim, f"grid.{inner_name}", errors)
    n_energy = grid_t.get("n_energy", 2001)
    if isinstance(n_energy, bool) or not isinstance(n_energy, int) or n_energy < 64:
        errors.append(f"grid.n_energy = {n_energy!r}: give an integer >= 64 (a few thousand resolves sharp gaps)")
        n_energy = 2001
    elif n_energy > 10**6:
        errors.append(f"grid.n_energy = {n_energy} is absurdly large (more than 1e6 nodes per point)")
    return inner, n_energy


def _sweep(raw: dict, sections: dict, schemas: dict, delta0, xi_nm, errors: list) -> list:
    """[sweep]: the swept parameters (outer axes), reduced and checked against their bounds."""
    axes = []
    sweep_raw = raw.get("sweep", {})
    sweep_t: dict = {}
    groups: dict = {}  # key -> zip group
    for k, v in (sweep_raw.items() if isinstance(sweep_raw, dict) else ()):
        if k != "zip":
            for key, sp in _flatten_sweep({k: v}).items():
                if key in sweep_t:
                    errors.append(f"[sweep]: {key!r} is swept twice (also in [sweep.zip.{groups.get(key)}])")
                    continue
                sweep_t[key] = sp
            continue
        if not isinstance(v, dict) or not v or not all(isinstance(t, dict) for t in v.values()):
            errors.append("[sweep.zip]: give one table per zipped dimension, e.g. [sweep.zip.cooldown] with "
                          "\"right.temperature\" = [...] and \"right.field\" = [...] of equal length")
            continue
        for grp, t in v.items():
            members = _flatten_sweep(t)
            if len(members) < 1:
                errors.append(f"[sweep.zip.{grp}]: no parameters")
            for key, sp in members.items():
                if key in sweep_t:
                    errors.append(f"[sweep]: {key!r} is swept twice (also in [sweep.zip.{grp}])")
                    continue
                sweep_t[key] = sp
                groups[key] = str(grp)
    for key, sp in sweep_t.items():
        sec, _, name = key.partition(".")
        if sec not in sections or name not in schemas.get(sec, {}):
            known = [f"{s}.{k}" for s, sch in schemas.items() for k, p in sch.items() if p.sweepable]
            errors.append(f"[sweep]: {key!r} is not a parameter of this device{suggest(key, known)}; "
                          f"sweepable: {known}")
            continue
        p = schemas[sec][name]
        if not p.sweepable:
            errors.append(f"[sweep]: {key!r} cannot be swept")
            continue
        if name not in sections[sec]["params"] and name in ("field", "h", "r_orb", "zeta", "delta"):
            if name == "field" and "h" in raw.get(sec, {}) or name == "h" and "field" in raw.get(sec, {}):
                errors.append(f"[sweep]: {key!r} conflicts with the fixed {'h' if name == 'field' else 'field'} "
                              f"of [{sec}]")
                continue
        vals = _grid_values(sp, p.dim, f"sweep.{key}", errors)
        if vals is None:
            continue
        g = float(raw.get(sec, {}).get("g", 2.0))
        try:
            red = np.asarray(vals.reduced(p.dim, delta0, xi_nm, g), float)
            if name == "r_orb":
                red = orbital_per_h2(red, delta0, g)
        except ConfigError as e:
            errors.append(str(e))
            continue
        _check_bounds(f"sweep.{key}", p, red, errors, given=vals)
        if name in raw.get(sec, {}):
            errors.append(f"[sweep]: {key!r} is swept, and [{sec}] also gives {name} = {raw[sec][name]!r}, which the "
                          f"sweep would override; remove one of the two")
            continue
        axes.append(SweepAxis(name, key, p.dim, vals.value, vals.unit, red, groups.get(key)))
        sections[sec]["params"].setdefault(name, float(red[0]))
    names = [a.name for a in axes]
    dims = {a.group for a in axes if a.group}
    for a in axes:  # a coordinate named like another, or like a zip group, gets its full name
        if names.count(a.name) > 1 or a.name in dims:
            a.name = a.key.replace(".", "_")
    for grp in dims:
        sizes = {a.key: len(a.reduced) for a in axes if a.group == grp}
        if len(set(sizes.values())) > 1:
            errors.append(f"[sweep.zip.{grp}]: the zipped parameters need equally many values, got {sizes}")
    sizes = {a.dim_name: len(a.reduced) for a in axes}
    if len(axes) and int(np.prod(list(sizes.values()), dtype=float)) > MAX_POINTS:
        errors.append(f"[sweep]: {np.prod(list(sizes.values()), dtype=float):.3g} points is absurdly "
                      f"many (limit {MAX_POINTS:.0e}); sweep fewer values")
    return axes


def _output(out_t: dict, errors: list):
    """[output]: format, chunk size and memory budget."""
    check_keys(out_t, _OUTPUT, "[output]", errors)
    fmt = out_t.get("format", "netcdf")
    if fmt not in ("netcdf", "zarr"):
        errors.append(f"output.format = {fmt!r}; use \"netcdf\" or \"zarr\"")
    elif fmt == "zarr":
        import importlib.util

        if importlib.util.find_spec("zarr") is None:
            errors.append("output.format = \"zarr\" needs the zarr package: pip install \"jaxqp[zarr]\" "
                          "(or use format = \"netcdf\")")
    chunk = out_t.get("chunk", "auto")
    if chunk == "auto":
        chunk = None
    elif isinstance(chunk, bool) or not isinstance(chunk, int) or chunk < 1:
        errors.append(f"output.chunk = {chunk!r}: \"auto\" or a positive integer (sweep points per chunk)")
        chunk = None
    memory = out_t.get("memory", "auto")
    memory_bytes = None
    if memory != "auto":
        memory_bytes = _parse_bytes(memory, errors)
    return fmt, chunk, memory_bytes


def _check_wire(task: str, sections: dict, axes: list, errors: list):
    """The wire tasks: a length, two contacts on the wire (an end only if it is a vacuum end), one of
    conductance and kappa per contact."""
    w = sections["wire"]["params"]
    if "length" not in w:
        errors.append("wire.length is required, e.g. length = \"11 um\" (with [units] xi) or \"169 xi\"")
        return
    ends = sections["wire"]["flags"]["left_end"], sections["wire"]["flags"]["right_end"]
    positions = []
    for c in ("injector", "detector"):
        p = sections[c]["params"]
        if "position" not in p:
            errors.append(f"{c}.position is required (where the contact sits along the wire)")
        elif not (0.0 < p["position"] < w["length"] or (p["position"] == 0.0 and ends[0] == "vacuum")
                  or (p["position"] == w["length"] and ends[1] == "vacuum")):
            errors.append(f"{c}.position = {p['position']:.4g} xi lies outside the wire (0, {w['length']:.4g} xi)"
                          + (" (a contact at an end needs a vacuum end there: wire.left_end or right_end)"
                             if p["position"] in (0.0, w["length"]) else ""))
        else:
            positions.append(p["position"])
        if ("conductance" in p) == ("kappa" in p):
            errors.append(f"[{c}]: give conductance (with wire.resistance_xi) or kappa = G_T R_xi, exactly one")
        elif "conductance" in p and "resistance_xi" not in w:
            errors.append(f"{c}.conductance needs wire.resistance_xi (the resistance of one coherence length) "
                          f"to become kappa = G_T R_xi; or give {c}.kappa")
    if len(positions) == 2 and abs(positions[0] - positions[1]) < 1e-9:
        errors.append("injector and detector sit at the same position")


def _check_spin(task: str, sections: dict, axes: list, errors: list):
    """The spin tasks: a prescribed distribution needs T > 0, and the wire a length."""
    if "length" not in sections["wire"]["params"]:
        errors.append("wire.length is required, e.g. length = \"1.5 xi\"")
    d0 = sweep_extreme(sections, axes, "material.delta0", np.max)
    if task == "spin_supercurrent" and (abs(d0 - 1.0) > 1e-9 or "material.delta0" in {a.key for a in axes}):
        errors.append("material.delta0: the spin_supercurrent task fixes the coupling so that the bulk gap at T = 0 "
                      "is the reference Delta0; give the gap in [units] (or as material.delta0 without [units]) "
                      "and do not sweep it")
    if (sweep_extreme(sections, axes, "material.temperature", np.min) or 0.0) <= 0.0:
        errors.append("material.temperature reaches 0: the spin tasks integrate a thermal distribution; give a small "
                      "positive temperature, e.g. temperature = \"0.01 Tc\"")


def _check_proximity(task: str, sections: dict, axes: list, errors: list):
    """The proximity task: the link needs a length and a temperature (the Josephson current is a Matsubara
    sum at T > 0; the schema's lower bound refuses T = 0)."""
    for k, example in (("length", '"1 xi"'), ("temperature", '"50 mK"')):
        if k not in sections["link"]["params"]:
            errors.append(f"link.{k} is required, e.g. {k} = {example}")


#: the checks of a task's device that need the reduced values and the sweep
_DEVICE_CHECKS = {"wire": _check_wire, "inelastic": _check_wire, "spin": _check_spin,
                  "spin_supercurrent": _check_spin, "proximity": _check_proximity}


def _flatten_sweep(t: dict, prefix: str = "") -> dict:
    """``{"right": {"field": spec}}`` or ``{"right.field": spec}`` -> ``{"right.field": spec}``."""
    out = {}
    for k, v in t.items():
        key = f"{prefix}.{k}" if prefix else k
        if isinstance(v, dict) and v and not (set(v) & _SWEEP_KEYS) and "." not in k:
            out.update(_flatten_sweep(v, key))
        else:
            out[key] = v
    return out


def _parse_bytes(x, errors) -> float | None:
    m = re.match(r"^\s*(\d+(?:\.\d*)?)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$", str(x))
    if not m:
        errors.append(f"output.memory = {x!r}: \"auto\" or a size such as \"2 GiB\"")
        return None
    f = {"B": 1, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40}
    return float(m.group(1)) * f[m.group(2)]


def sweep_extreme(sections, axes, key, fn):
    """``fn`` (``np.min``, ``np.max``) of a parameter over the sweep, its fixed value if not swept (None if
    absent); ``sections`` and ``axes`` as in `RunConfig`."""
    for a in axes:
        if a.key == key:
            return float(fn(a.reduced))
    sec, _, name = key.partition(".")
    return sections[sec]["params"].get(name)


def _check_resolution(task, sections, axes, inner_name, inner, errors):
    """The inner grid must resolve the narrowest feature: spacing <= 4 x the smallest broadening."""
    if inner.size < 2:
        if task == "junction":
            return
        return
    spacing = float(np.max(np.abs(np.diff(np.sort(inner)))))
    widths = []
    for s, d in sections.items():
        if d["kind"] == "superconductor":
            g = sweep_extreme(sections, axes, f"{s}.gamma", np.min) or 0.0
            z = sweep_extreme(sections, axes, f"{s}.zeta", np.min) or 0.0
            w = max(g, z)
            if task == "junction":
                w = max(w, 2.0 * (sweep_extreme(sections, axes, f"{s}.temperature", np.min) or 0.0))
            if task == "wire":
                w = min(w, 2.0 * (sweep_extreme(sections, axes, f"{s}.temperature", np.min) or 0.0)) or w
            widths.append((w, s))
        elif task == "junction":
            widths.append((2.0 * (sweep_extreme(sections, axes, f"{s}.temperature", np.min) or 0.0), s))
    if task == "wire":
        t = sweep_extreme(sections, axes, "injector.temperature", np.min)
        t = sweep_extreme(sections, axes, "material.temperature", np.min) if t is None else t
        widths.append((2.0 * (t or 0.0), "injector"))
    if task in ("junction", "wire"):
        # the conductance peaks are as wide as the broadest of the two electrodes' features
        w, s = max(widths) if widths else (0.0, "")
    else:
        w, s = min(widths) if widths else (0.0, "")
    w = max(w, 1e-6)
    if spacing > 4.0 * w:
        errors.append(
            f"grid.{inner_name} is too coarse for the broadening: spacing {spacing:.3g} Delta0 exceeds 4 x "
            f"the narrowest feature width {w:.3g} Delta0 (Dynes gamma, depairing or k_B T of [{s}]); "
            f"use at least {int(np.ptp(inner) / (4 * w)) + 2} points, or a larger broadening")
