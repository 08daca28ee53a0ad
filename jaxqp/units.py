r"""Physical units and the dimensionless units of jaxqp.

jaxqp computes in units where energies are measured in Delta0 (the
zero-temperature, zero-field BCS gap of the reference superconductor),
k_B = hbar = e = 1, lengths in xi = sqrt(hbar D / Delta0), so that

- energies, biases e V, k_B T, spin splittings h: E / Delta0;
- the weak-coupling critical temperature is k_B Tc = Delta0 e^gamma / pi ~ 0.567 Delta0;
- a Zeeman field B gives h = g mu_B B / 2 (g = 2: h = mu_B B);
- currents through a tunnel junction of normal-state conductance G_T are in
  units of G_T Delta0 / e, heat currents G_T Delta0^2 / e^2;
- times in hbar / Delta0.

`Units` converts in both directions for one reference gap (and,
optionally, diffusion constant).  The public API takes dimensionless numbers.

`parse_unit` and `to_si` read unit strings of measured data and configuration files
(``"mV"``, ``"uS"``, ``"kOhm"``, ``"2e^2/h"``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

# CODATA 2018 exact / recommended values
E_CHARGE = 1.602176634e-19  #: C
KB_EV_PER_K = 8.617333262e-5  #: eV / K
MUB_EV_PER_T = 5.7883818060e-5  #: eV / T
HBAR_EV_S = 6.582119569e-16  #: eV s
KB_UEV_PER_K = KB_EV_PER_K * 1e6  #: ueV / K
MUB_UEV_PER_T = MUB_EV_PER_T * 1e6  #: ueV / T
EULER_GAMMA = 0.5772156649015329
TC_OVER_DELTA0 = math.exp(EULER_GAMMA) / math.pi  #: k_B Tc / Delta0 (weak coupling)


@dataclasses.dataclass(frozen=True)
class Units:
    """Conversions for a reference gap ``delta0_ueV`` (and optional diffusion constant).

    Args:
        delta0_ueV: Delta0 in micro-electronvolts (e.g. 245 for the Al of seed 000).
        diffusion_cm2_s: normal-state diffusion constant D in cm^2/s (for lengths).
        g: electron g-factor for Zeeman splitting, h = g mu_B B / 2.
    """

    delta0_ueV: float
    diffusion_cm2_s: float | None = None
    g: float = 2.0

    def __post_init__(self):
        if not (self.delta0_ueV > 0 and math.isfinite(self.delta0_ueV)):
            raise ValueError(f"delta0_ueV must be a positive number of micro-eV, got {self.delta0_ueV}")
        if self.diffusion_cm2_s is not None and not self.diffusion_cm2_s > 0:
            raise ValueError(f"diffusion_cm2_s must be > 0, got {self.diffusion_cm2_s}")

    # energies -------------------------------------------------------------------------
    def energy(self, ueV):
        """micro-eV -> E / Delta0."""
        return ueV / self.delta0_ueV

    def energy_ueV(self, x):
        """E / Delta0 -> micro-eV."""
        return x * self.delta0_ueV

    def energy_meV(self, meV):
        """milli-eV -> E / Delta0."""
        return meV * 1e3 / self.delta0_ueV

    def voltage(self, volt):
        """bias in volts -> e V / Delta0."""
        return volt * 1e6 / self.delta0_ueV

    def voltage_volt(self, x):
        """e V / Delta0 -> volts."""
        return x * self.delta0_ueV * 1e-6

    def temperature(self, kelvin):
        """kelvin -> k_B T / Delta0."""
        if kelvin is not None and _any_negative(kelvin):
            raise ValueError(f"temperature must be >= 0 K, got {kelvin}")
        return kelvin * KB_UEV_PER_K / self.delta0_ueV

    def temperature_K(self, t):
        """k_B T / Delta0 -> kelvin."""
        return t * self.delta0_ueV / KB_UEV_PER_K

    @property
    def tc_kelvin(self) -> float:
        """Weak-coupling critical temperature in kelvin, Delta0 e^gamma / (pi k_B)."""
        return TC_OVER_DELTA0 * self.delta0_ueV / KB_UEV_PER_K

    def zeeman(self, tesla):
        """magnetic field (T) -> spin splitting h / Delta0 = g mu_B B / (2 Delta0)."""
        return self.g * MUB_UEV_PER_T * tesla / 2.0 / self.delta0_ueV

    def field_T(self, h):
        """h / Delta0 -> magnetic field in tesla."""
        return h * self.delta0_ueV * 2.0 / (self.g * MUB_UEV_PER_T)

    def orbital_depairing(self, tesla, r_orb_ueV_per_T2):
        """Abrikosov-Gor'kov depairing zeta = R_orb B^2 / Delta0 of an in-plane field (seed 000)."""
        return r_orb_ueV_per_T2 * tesla**2 / self.delta0_ueV

    # currents ----------------------------------------------------------------------------
    def current_ampere(self, i, conductance_S):
        """I / (G_T Delta0 / e) -> ampere for a junction of normal-state conductance G_T (S)."""
        return i * conductance_S * self.delta0_ueV * 1e-6

    def current(self, ampere, conductance_S):
        """ampere -> I / (G_T Delta0 / e)."""
        return ampere / (conductance_S * self.delta0_ueV * 1e-6)

    def heat_watt(self, q, conductance_S):
        """Qdot / (G_T Delta0^2 / e^2) -> watt."""
        return q * conductance_S * (self.delta0_ueV * 1e-6) ** 2

    # time and length -----------------------------------------------------------------------
    def time_s(self, t):
        """t / (hbar / Delta0) -> seconds."""
        return t * HBAR_EV_S / (self.delta0_ueV * 1e-6)

    def rate(self, per_second):
        """a rate 1/tau (1/s) -> hbar / (tau Delta0)."""
        return per_second * HBAR_EV_S / (self.delta0_ueV * 1e-6)

    @property
    def xi_nm(self) -> float:
        """Coherence length xi = sqrt(hbar D / Delta0) in nm (needs ``diffusion_cm2_s``)."""
        if self.diffusion_cm2_s is None:
            raise ValueError("lengths need the diffusion constant: Units(delta0_ueV, diffusion_cm2_s=...)")
        D = self.diffusion_cm2_s * 1e-4  # m^2/s
        return math.sqrt(HBAR_EV_S * D / (self.delta0_ueV * 1e-6)) * 1e9

    def length(self, nm):
        """nanometres -> x / xi."""
        return nm / self.xi_nm

    def length_nm(self, x):
        """x / xi -> nanometres."""
        return x * self.xi_nm


def _any_negative(x) -> bool:
    try:
        import numpy as np

        return bool(np.any(np.asarray(x) < 0))
    except Exception:
        return False


# ----------------------------------------------------------------- unit strings
#: SI base units and their factors
_BASE = {
    "V": ("V", 1.0), "A": ("A", 1.0), "S": ("S", 1.0), "Ohm": ("Ohm", 1.0), "ohm": ("Ohm", 1.0),
    "Ω": ("Ohm", 1.0), "K": ("K", 1.0), "T": ("T", 1.0), "eV": ("eV", 1.0), "W": ("W", 1.0),
    "m": ("m", 1.0), "s": ("s", 1.0), "Hz": ("Hz", 1.0),
}
_PREFIX = {"f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "µ": 1e-6, "μ": 1e-6, "m": 1e-3, "c": 1e-2,
           "k": 1e3, "M": 1e6, "G": 1e9, "": 1.0}
_G0 = 7.748091729e-5  #: conductance quantum 2e^2/h (S)
#: dimensionless or special units accepted as they are
_SPECIAL = {"1": ("1", 1.0), "": ("1", 1.0), "2e^2/h": ("S", _G0), "G0": ("S", _G0), "e^2/h": ("S", _G0 / 2)}


def parse_unit(unit: str) -> tuple[str, float]:
    """``"mV" -> ("V", 1e-3)``; ``"uS" -> ("S", 1e-6)``; ``"kOhm" -> ("Ohm", 1e3)``; ``"2e^2/h"`` -> siemens."""
    u = str(unit).strip()
    if u in _SPECIAL:
        return _SPECIAL[u]
    if u in _BASE:
        return _BASE[u]
    for p, f in _PREFIX.items():
        if p and u.startswith(p) and u[len(p):] in _BASE:
            base, g = _BASE[u[len(p):]]
            return base, f * g
    raise ValueError(f"unknown unit {unit!r}: use SI units with an optional prefix (e.g. V, mV, uV, S, uS, "
                     "kOhm, K, mK, T, mT, ueV) or 2e^2/h")


def to_si(values, unit: str, expect: str | None = None):
    """Convert values in ``unit`` to SI; with ``expect`` (e.g. ``"V"``), check the dimension."""
    base, f = parse_unit(unit)
    if expect is not None and base != expect and not (expect == "1" and base == "1"):
        raise ValueError(f"a quantity in {unit!r} ({base}) was given where {expect} is expected")
    return np.asarray(values, float) * f
