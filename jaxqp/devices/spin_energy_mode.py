r"""Spin energy mode and SIS' spectroscopy of a Zeeman-split Al wire (seed 000).

Paper: M. Kuzmanovic, B. Y. Wu, M. Weideneder, C. H. L. Quay and M. Aprili, Evidence for spin-
dependent energy transport in a superconductor, Nat. Commun. 11, 4336 (2020); arXiv:2001.04422.
https://doi.org/10.1038/s41467-020-18161-w

A 10 um Al wire (Delta = 245 ueV, D = 10 cm^2/s) with a normal-metal injector
(R = 13 kOhm) in the middle and superconducting detectors (Delta_det = 180 ueV,
spin-mixed by Pt so that their DOS is not Zeeman split) 300 nm away, at 90 mK.
An in-plane field B splits the wire's DOS by E_Z = mu_B B and depairs it,
zeta = R_orb B^2 with R_orb = 6.5 ueV/T^2.

- `device` builds the `jaxqp.Wire`.
- `detector_map` computes the detector current and ``G_det = dI_det/dV_det``
  (autodiff) over ``(V_inj, V_det)``, with the injector current for the
  current-bias axis (Figs. 3d and 4a).
- `peak_voltages` gives P1-P4 at ``eV_det = +-|Delta - Delta_det -+ E_Z|``.
- `odd_part` is the odd-in-V_det component (the charge imbalance, Fig. 5).

The wire's normal-state resistance per coherence length is not stated in the
paper; it is estimated from D and the Al density of states for a film of the
stated thickness and an assumed width (``width_nm``), see `r_xi_ohm`.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..internal import validation as val
from ..kinetic.solve import bias_array, check_wire, energy_grid_or_default, responses_jit
from ..kinetic.wire import TunnelContact, Wire
from ..materials import NormalMetal, Superconductor
from ..units import E_CHARGE, Units

DELTA_UEV = 245.0
DELTA_DET_UEV = 180.0
D_CM2_S = 10.0
LENGTH_NM = 10000.0
R_INJ_OHM = 13e3
DETECTOR_DISTANCE_NM = 300.0
T_K = 0.090
R_ORB_UEV_PER_T2 = 6.5
B_CRITICAL_T = 2.7
THICKNESS_NM = 6.0
NF_AL_PER_J_M3 = 2.15e47  #: density of states of Al at the Fermi level (J^-1 m^-3)


def units() -> Units:
    return Units(DELTA_UEV, diffusion_cm2_s=D_CM2_S)


def r_xi_ohm(width_nm: float = 200.0) -> float:
    """Resistance of one coherence length, rho xi / (t w), with the Einstein relation rho = 1/(e^2 N_F D)."""
    u = units()
    sigma = E_CHARGE**2 * NF_AL_PER_J_M3 * D_CM2_S * 1e-4  # S/m
    return (1.0 / sigma) * u.xi_nm * 1e-9 / (THICKNESS_NM * 1e-9 * width_nm * 1e-9)


def device(field_T: float = 1.0, *, gamma: float = 1e-3, detector_conductance_S: float = 20e-6,
           width_nm: float = 200.0, depairing_det: float = 0.01, b_so: float = 0.0, n_x: int = 200) -> Wire:
    """The seed-000 wire: contact 0 the injector (normal metal, middle), contact 1 the S' detector 300 nm away."""
    val.check_range("field_T", field_T, 0.0, B_CRITICAL_T, hint=f"the wire is normal above about {B_CRITICAL_T} T")
    u = units()
    L = LENGTH_NM / u.xi_nm
    x_inj = 0.5 * L
    x_det = x_inj + u.length(DETECTOR_DISTANCE_NM)
    rxi = r_xi_ohm(width_nm)
    T = u.temperature(T_K)
    det = Superconductor(delta=DELTA_DET_UEV / DELTA_UEV, zeta=depairing_det, temperature=T)
    contacts = (
        TunnelContact(x_inj, rxi / R_INJ_OHM, NormalMetal(temperature=T), name="injector"),
        TunnelContact(x_det, rxi * detector_conductance_S, det, name="detector"),
    )
    sc = Superconductor(delta=1.0, h=u.zeeman(field_T), zeta=u.orbital_depairing(field_T, R_ORB_UEV_PER_T2),
                        b_so=b_so, gamma=gamma)
    return Wire(sc, L, contacts, temperature=T, n_x=n_x)


def peak_voltages(wire: Wire) -> np.ndarray:
    """Detector biases of P1..P4: -|D - Dd + E_Z|, -|D - Dd - E_Z|, +|D - Dd - E_Z|, +|D - Dd + E_Z|."""
    d = float(np.asarray(wire.material.delta))
    dd = float(np.asarray(wire.contacts[1].electrode.delta))
    ez = float(np.asarray(wire.material.h))
    a, b = abs(d - dd + ez), abs(d - dd - ez)
    return np.array([-a, -b, b, a])


def detector_map(wire: Wire, V_inj, V_det, *, n_energy: int = 2001, chunk: int = 64, grid=None) -> dict:
    """Detector current and conductance over the ``V_inj x V_det`` grid.

    Returns a dict of (n_inj, n_det) arrays: ``I_det`` (driven by the detector
    bias, from the detector electrode into the wire), ``G_det = dI_det/dV_det`` (by forward-mode autodiff, with the
    wire's non-equilibrium distribution and the detector's back-action),
    ``I_inj`` (into the wire), and ``converged``.
    """
    wire = check_wire(wire)
    Vi = jnp.atleast_1d(jnp.asarray(V_inj, float))
    Vd = jnp.atleast_1d(jnp.asarray(V_det, float))
    VV = jnp.stack(jnp.broadcast_arrays(Vi[:, None], Vd[None, :]), -1)
    bias_array(wire, VV)
    vmax = float(max(np.max(np.abs(np.asarray(Vi))), np.max(np.abs(np.asarray(Vd)))))
    grid = energy_grid_or_default(wire, grid, n_energy, vmax)
    out = responses_jit(wire, grid, VV.reshape(-1, 2), chunk, None, 1)
    shp = (Vi.size, Vd.size)
    val.raise_if_not_converged(out["ok"], "the detector map")
    return {
        "V_inj": Vi, "V_det": Vd,
        "I_det": out["charge"][:, 1].reshape(shp),
        "G_det": out["dcharge"][:, 1].reshape(shp),
        "I_inj": out["charge"][:, 0].reshape(shp),
        "converged": out["ok"].reshape(shp),
    }


def odd_part(G, axis: int = -1):
    """Odd-in-V_det component (1/2)[G(V) - G(-V)] on a grid symmetric about zero (charge imbalance)."""
    G = jnp.asarray(G)
    return 0.5 * (G - jnp.flip(G, axis=axis))


def current_nA(I, width_nm: float = 200.0):
    """Convert a current in Delta0/(e R_xi) units to nA."""
    return np.asarray(I) * DELTA_UEV * 1e-6 / r_xi_ohm(width_nm) * 1e9

