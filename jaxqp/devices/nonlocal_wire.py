r"""Non-local conductance of a superconducting wire with NIS junctions (seed 001).

Paper: K. M. Ryan, D. Beckmann and V. Chandrasekhar, Non-local tunneling spectroscopy of inelastic
quasiparticle relaxation in superconducting 1-D wires, arXiv:2604.26862 (2026).
https://arxiv.org/abs/2604.26862

Ryan, Beckmann and Chandrasekhar: an 11 um Al wire (xi = 65 nm, R = 1.45 kOhm)
with three NIS junctions A, B, C spaced by 300 nm, the injector at the centre,
equilibrium reservoirs at the ends.  Table 1 gives the junction parameters.

- `device` builds the `jaxqp.Wire` for a junction pair.
- `charge_imbalance_spectral` / `charge_imbalance_gnl` are the
  analytic solution of Appendix B, Eq. (21), and its convolution with the
  Fermi derivative; the numerical engine must reproduce them for a long
  uniform wire (tested).
- `supercurrent_map` gives ``g_nl(V_inj, q)`` for a set of phase
  gradients (Figs. 10 and 13), with the supercurrent ``I_s(q)``.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np

from ..kinetic.solve import nonlocal_conductance, supercurrent
from ..kinetic.wire import TunnelContact, Wire, default_energy_grid
from ..materials import NormalMetal, Superconductor
from ..spectral.bulk import green_functions
from ..units import Units

#: seed 001 Table 1: G_inj (S), Delta (ueV), T_e (K) per junction
JUNCTIONS = {
    "A": dict(G=24.6e-6, delta_ueV=266.0, T_K=0.061),
    "B": dict(G=31.4e-6, delta_ueV=259.0, T_K=0.037),
    "C": dict(G=24.8e-6, delta_ueV=270.0, T_K=0.086),
}
DELTA0_UEV = 265.0  #: equilibrium gap of the wire (mean of the fits)
XI_NM = 65.0
WIRE_LENGTH_NM = 11000.0
WIRE_RESISTANCE_OHM = 1450.0
SPACING_NM = 300.0
BATH_K = 0.024
GAMMA_FIT = 1.53e-3  #: Dynes parameter of the Fig. 10 fit


def r_xi_ohm() -> float:
    """Normal-state resistance of one coherence length of the wire."""
    return WIRE_RESISTANCE_OHM * XI_NM / WIRE_LENGTH_NM


def pair_distance(pair) -> float:
    """Injector-detector distance (units of xi) of a junction pair: 300 nm x index distance."""
    for j in pair:
        if j not in JUNCTIONS:
            raise ValueError(f"unknown junction {j!r}; choose from {sorted(JUNCTIONS)}")
    return abs("ABC".index(pair[1]) - "ABC".index(pair[0])) * SPACING_NM / XI_NM


def units() -> Units:
    return Units(DELTA0_UEV)


def device(pair=("A", "B"), *, gamma: float = GAMMA_FIT, phase_gradient=0.0, h=0.0, b_so=0.0,
           n_x: int = 200, bath_K: float = BATH_K) -> Wire:
    """The seed-001 wire with the injector (first of ``pair``) at the centre and the detector
    ``300 nm x (index distance)`` away (A-B, B-C: 300 nm; A-C: 600 nm)."""
    u = units()
    L = WIRE_LENGTH_NM / XI_NM
    x_inj = 0.5 * L
    dist = pair_distance(pair)
    rxi = r_xi_ohm()
    contacts = []
    for name, x in ((pair[0], x_inj), (pair[1], x_inj + dist)):
        j = JUNCTIONS[name]
        contacts.append(TunnelContact(x, j["G"] * rxi, NormalMetal(temperature=u.temperature(j["T_K"])), name=name))
    sc = Superconductor(delta=1.0, h=h, b_so=b_so, gamma=gamma)
    return Wire(sc, L, tuple(contacts), temperature=u.temperature(bath_K), phase_gradient=phase_gradient, n_x=n_x)


# ----------------------------------------------------------------- Appendix B
def charge_imbalance_spectral(E, distance, kappa_inj, *, delta=1.0, gamma=GAMMA_FIT, zeta=0.0, half_length=None):
    r"""Spectral non-local conductance, seed 001 Eq. (21), per unit detector conductance.

    $$
    g(\epsilon) = \frac{\kappa N}{\kappa N + \mathcal D_T/\lambda_T}\, N\, e^{-|x|/\lambda_T},
    \qquad \lambda_T = \sqrt{\mathcal D_T/\mathcal R_T},\ \kappa = \kappa_{inj}/2 .
    $$

    With ``half_length`` (distance from the injector to the reservoirs) the
    finite-wire form is used: ``D_T/lambda -> D_T coth(l/lambda)/lambda`` and
    ``exp(-x/lambda) -> sinh((l-x)/lambda)/sinh(l/lambda)``.
    """
    E = jnp.asarray(E)
    _, g, f, _ = green_functions(E + 1j * gamma, 0.0, delta, zeta)
    g, f = g[0], f[0]
    N = jnp.real(g)
    DT = jnp.real(g) ** 2 + jnp.imag(f) ** 2
    RT = -2.0 * delta * jnp.imag(f)
    lam = jnp.sqrt(DT / RT)
    k = 0.5 * kappa_inj
    if half_length is None:
        return k * N / (k * N + DT / lam) * N * jnp.exp(-abs(distance) / lam)
    l = half_length
    # coth and sinh ratio written overflow-free
    r = jnp.exp(-2.0 * l / lam)
    coth = (1.0 + r) / (1.0 - r)
    ratio = (jnp.exp(-abs(distance) / lam) - jnp.exp(-(2.0 * l - abs(distance)) / lam)) / (1.0 - r)
    return k * N / (k * N + DT * coth / lam) * N * ratio


def charge_imbalance_gnl(V, distance, kappa_inj, T_inj, *, n_energy: int = 4001, **kw):
    r"""``g_nl(V) / G_det`` from Eq. (21) convolved with the Fermi derivative of the injector:
    ``(1/2) int dE g(E) [phi_T(E - V) + phi_T(E + V)]``, ``phi_T = 1/(4T cosh^2(E/2T))``."""
    V = jnp.atleast_1d(jnp.asarray(V, float))
    e_max = float(np.max(np.abs(np.asarray(V)))) + 40.0 * float(T_inj) + 2.0
    E = jnp.linspace(-e_max, e_max, n_energy)
    w = jnp.full(E.shape, E[1] - E[0]).at[0].mul(0.5).at[-1].mul(0.5)
    gs = charge_imbalance_spectral(E, distance, kappa_inj, **kw)

    def phi(x):
        return 0.25 / T_inj / jnp.cosh(0.5 * x / T_inj) ** 2

    kern = 0.5 * (phi(E[None, :] - V[:, None]) + phi(E[None, :] + V[:, None]))
    return jnp.sum(w * gs * kern, axis=-1)


# ----------------------------------------------------------------- supercurrent
def supercurrent_map(wire: Wire, V_inj, phase_gradients, V_det=0.0, *, n_energy: int = 2001, **kw):
    """``g_nl(V_inj, q)`` and the supercurrent ``I_s(q)`` (units Delta0/(e R_xi)) for each phase gradient.

    Returns ``(g_nl (n_V, n_q), I_s (n_q,))``.  Each q changes the spectral
    functions (depairing q^2/2) and couples f_L and f_T; one wire solve per q.
    The energy grid is shared, so every q reuses one compiled solver.
    """
    qs = np.atleast_1d(np.asarray(phase_gradients, float))
    grid = default_energy_grid(with_phase_gradient(wire, float(np.max(np.abs(qs)))),
                               float(np.max(np.abs(np.asarray(V_inj)))), n_energy)
    cols, Is = [], []
    for q in qs:  # a handful of phase gradients, not grid points
        w = with_phase_gradient(wire, q)
        m = nonlocal_conductance(w, V_inj, V_det, grid=grid, **kw)
        cols.append(m.g_nl[:, 0])
        Is.append(supercurrent(w, grid=grid))
    return jnp.stack(cols, axis=1), jnp.stack(Is)


def with_phase_gradient(wire: Wire, q) -> Wire:
    """A copy of ``wire`` with phase gradient ``q``."""
    return eqx.tree_at(lambda w: w.phase_gradient, wire, jnp.asarray(q, float))


# ----------------------------------------------------------------- Figs. 11 and 12 (inelastic, self-consistent)
#: seed 001 Appendix B, Figs. 11-12
FIG11 = dict(cutoff=10.0, gamma=0.005, spacing=1.0 / 40.0, gamma_ee=2e-4)


def half_wire(pair=("A", "B"), *, gamma: float = FIG11["gamma"], n_x: int = 64, bath_K: float = BATH_K,
              injector_bias: float = 0.0) -> Wire:
    """Half of the seed-001 wire (Appendix B, Figs. 11-12): the injector at ``x = 0`` on the symmetry
    plane (a vacuum end), the reservoir at ``x = L/2``, the detector ``300 nm x (index distance)`` away.

    Both junction conductances are halved (``kappa = G R_xi / 2``: one half of the wire with double
    cross-section).  The detector is part of the wire as a weak contact at zero bias (its bias enters
    the detector current only, as in the paper).
    """
    u = units()
    L = 0.5 * WIRE_LENGTH_NM / XI_NM
    dist = pair_distance(pair)
    rxi = r_xi_ohm()
    contacts = []
    for name, x, V in ((pair[0], 0.0, injector_bias), (pair[1], dist, 0.0)):
        j = JUNCTIONS[name]
        contacts.append(TunnelContact(x, 0.5 * j["G"] * rxi, NormalMetal(bias=V, temperature=u.temperature(j["T_K"])),
                                      name=name))
    sc = Superconductor(delta=1.0, gamma=gamma)
    return Wire(sc, L, tuple(contacts), temperature=u.temperature(bath_K), ends=("vacuum", "reservoir"), n_x=n_x)
