r"""Discretised kinetic equations on a 1-D wire with tunnel contacts and reservoirs.

For each energy the sector distribution ``h(x) = (f_{L+}, f_{T+}, f_{L-}, f_{T-})``
solves

$$
\partial_x\big(\mathcal D \partial_x h + \mathcal J h\big) = \mathcal R h
- \sum_c \delta(x - x_c)\, s_c + \mathcal S(x),
\qquad s_c = K_c\,(h_{e,c} - h(x_c)),
$$

with equilibrium reservoirs (Dirichlet) or vacuum ends (zero current), point
tunnel contacts injecting the flux ``s_c`` and an optional extra source
``S(E, x)`` (the seam for collision integrals).  The finite-volume
discretisation on a non-uniform grid is conservative: the discrete currents
satisfy the same balance as the continuum ones (tested).  The block-tridiagonal
system (4x4 blocks) is solved by a block Thomas sweep (``lax.scan``) in O(n_x)
per energy, for all energies at once.

The wire enters through its *contact response*: with ``A0`` the operator without
contacts, ``h = h0 + Z s`` where ``h0`` carries the reservoirs and the columns
of ``Z = A0^{-1} P`` are the responses to unit fluxes at the contacts.  The
fluxes follow from the small dense system ``(1 + K S) s = K (h_e - h0_c)`` with
``S = Z`` at the contact nodes, which is where the biases enter.  Bias maps
therefore cost one wire solve per energy, however many bias points they have.
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..distributions import equilibrium_modes, fermi
from ..geometry import TunnelContact, Wire, position_grid  # noqa: F401  (kinetic names of the geometry)
from ..grids import EnergyGrid, merged_grid
from ..internal import validation as val
from ..internal.blocktri import block_thomas, small_solve
from ..materials import NormalMetal, Superconductor
from ..spectral.bulk import green_functions
from ..spectral.wire import Options as ProximityOptions
from ..spectral.wire import solve_proximity
from .coefficients import KineticCoefficients, coefficients, sectors_from_occupations


# ----------------------------------------------------------------- spectra
def proximity_spectra(wire: Wire, E, *, options: ProximityOptions | None = None):
    """Position-dependent kinetic coefficients and spectra of a `jaxqp.Wire` from its 1-D retarded solution.

    Returns ``(KineticCoefficients (n_E, n_x, 4, 4), g, f (2, n_E, n_x), converged (n_E,))``.
    The solution is taken to the gauge of real Delta (``f = sqrt(F Ft)``), its
    derivatives are second-order finite differences on the nodes, and the wire's
    phase gradient enters the coupling terms as for uniform spectra.
    """
    sol = solve_proximity(wire.as_chain(), E, options=options, throw=False)
    x = sol.x
    g = jnp.moveaxis(sol.g, -1, 0)  # (2, n_E, n_x)
    f = jnp.moveaxis(sol.f, -1, 0)
    dg = jnp.gradient(g, x, axis=-1)
    df = jnp.gradient(f, x, axis=-1)
    m = wire.material
    co = coefficients(g, f, m.delta, dg=dg, df=df, phase_gradient=wire.phase_gradient, zeta=m.zeta, b_so=m.b_so,
                      b_sf=m.b_sf)
    return co, g, f, sol.converged


def proximity_coefficients(wire: Wire, E, *, options: ProximityOptions | None = None):
    """``(KineticCoefficients (n_E, n_x, 4, 4), converged (n_E,))`` of `proximity_spectra`."""
    co, _, _, ok = proximity_spectra(wire, E, options=options)
    return co, ok


def wire_coefficients(wire: Wire, E) -> tuple[KineticCoefficients, Array]:
    """Kinetic coefficients at energies ``E`` and a converged flag.

    Uniform spectra give shape ``(..., 1, 4, 4)``; ``wire.spectra ==
    "inhomogeneous"`` solves the 1-D retarded equation (1-D energies only) and
    gives ``(n_E, n_x, 4, 4)``.
    """
    if wire.spectra == "inhomogeneous":
        return proximity_coefficients(wire, E)
    return _uniform_coefficients(wire, E)


@val.compiled_when_eager
def _uniform_coefficients(wire: Wire, E) -> tuple[KineticCoefficients, Array]:
    m = wire.material
    q = wire.phase_gradient
    E = jnp.asarray(E)
    _, g, f, ok = green_functions(E + 1j * m.gamma, m.spectral_params(zeta=m.zeta + 0.5 * q**2))
    co = coefficients(g[..., None], f[..., None], m.delta, phase_gradient=q, zeta=m.zeta, b_so=m.b_so, b_sf=m.b_sf)
    return co, ok


def default_energy_grid(wire: Wire, v_max=0.0, n: int = 2001, temperatures=None) -> EnergyGrid:
    """An energy grid for kinetic problems, covering ``|E| <= v_max + margins``.

    Half of the ``n`` nodes cluster at the coherence peaks of the wire and of
    superconducting electrodes (sinh maps, `jaxqp.grids.adaptive`), half
    are uniform so that the Fermi edges of electrodes at any bias are resolved;
    the weights are the trapezoidal rule on the merged nodes.  For biases up
    to ``v_max`` the uniform spacing is about ``2 (v_max + 2) / n``: keep it
    below the electrode temperatures (raise ``n`` for colder electrodes).
    """
    m = wire.material
    temps = [wire.temperature] + [c.electrode.temperature for c in wire.contacts if c.electrode.temperature is not None]
    v_res, t_res = reservoir_extent(wire)
    v_max = max(float(v_max), v_res)
    temps += t_res
    if temperatures is not None:
        temps.append(jnp.max(jnp.asarray(temperatures)))
    tmax = float(np.max([np.max(np.asarray(t)) for t in temps]))
    d, h = float(np.max(np.asarray(m.delta))), float(np.max(np.abs(np.asarray(m.h))))
    width = max(float(np.max(np.asarray(m.gamma))), 2e-4) + float(np.max(np.asarray(m.zeta))) + 0.5 * float(
        np.max(np.asarray(wire.phase_gradient)) ** 2)
    centers = [0.0]
    for c in wire.contacts:
        if isinstance(c.electrode, Superconductor):
            dd = float(np.max(np.asarray(c.electrode.delta)))
            centers += [dd, -dd]
    if d > 0:
        centers += [d - h, d + h, -d + h, -d - h]
    e_max = float(v_max) + max(d + h, 1.0) + 30.0 * tmax + 0.5
    c = jnp.asarray(centers)
    w = jnp.where(c == 0.0, max(tmax, 1e-3), width)
    n_a = n // 2
    t_el = [float(np.min(np.asarray(c.electrode.temperature if c.electrode.temperature is not None
                                     else wire.temperature))) for c in wire.contacts]
    t_el += [float(np.min(t)) for t in t_res]
    spacing = 2.0 * e_max / (n - n_a - 1)
    if t_el and spacing > 2.5 * min(t_el):
        need = int(np.ceil(2.0 * (2.0 * e_max / (2.5 * min(t_el)) + 1)))
        raise ValueError(
            f"an energy grid of n={n} nodes over |E| <= {e_max:.3g} has a uniform spacing {spacing:.3g} that does not "
            f"resolve the Fermi edge of the coldest electrode (k_B T = {min(t_el):.3g}); use n_energy >= {need} "
            "or pass your own grid")
    return merged_grid(c, w, e_max, n)


def reservoir_extent(wire: Wire) -> tuple[float, list]:
    """Largest known ``|bias|`` of the wire's `jaxqp.Reservoir` ends and their known temperatures
    (values being traced, e.g. under ``jax.grad``, are skipped): what a default energy grid must cover."""
    v, temps = 0.0, []
    for r in wire.reservoirs:
        if r is None:
            continue
        b = val.concrete(r.bias)
        v = max(v, float(np.max(np.abs(b)))) if b is not None else v
        t = val.concrete(r.temperature)
        if t is not None:
            temps.append(t)
    return v, temps


# ----------------------------------------------------------------- assembly and solve
def assemble(co: KineticCoefficients, x: np.ndarray, ends):
    """Blocks (A, B, C) of shape (..., n_x, 4, 4): A couples node i to i-1, C to i+1."""
    n = x.shape[0]
    dx = jnp.asarray(np.diff(x))
    vol = jnp.asarray(np.concatenate([[0.5 * (x[1] - x[0])], 0.5 * (x[2:] - x[:-2]), [0.5 * (x[-1] - x[-2])]]))
    D = jnp.broadcast_to(co.D, co.D.shape[:-3] + (n, 4, 4))
    J = jnp.broadcast_to(co.J, co.J.shape[:-3] + (n, 4, 4))
    R = jnp.broadcast_to(co.R, co.R.shape[:-3] + (n, 4, 4))
    Df = 0.5 * (D[..., 1:, :, :] + D[..., :-1, :, :]) / dx[:, None, None]
    Jf = 0.25 * (J[..., 1:, :, :] + J[..., :-1, :, :])  # includes the 1/2 of the face average of h
    zero = jnp.zeros_like(Df[..., :1, :, :])
    # A h = sum_c P_c s_c: rows are -(j_{i+1/2} - j_{i-1/2} - vol R h)
    up = jnp.concatenate([Df + Jf, zero], axis=-3)  # face i+1/2 seen from node i (coefficient of h_{i+1})
    up_self = jnp.concatenate([-Df + Jf, zero], axis=-3)  # coefficient of h_i in j_{i+1/2}
    dn = jnp.concatenate([zero, Df - Jf], axis=-3)  # -(coefficient of h_{i-1} in j_{i-1/2})... see below
    dn_self = jnp.concatenate([zero, Df + Jf], axis=-3)
    # j_{i-1/2} = Df (h_i - h_{i-1}) + Jf (h_{i-1} + h_i)  (Jf already halved)
    # row_i = j_{i+1/2} - j_{i-1/2} - vol_i R_i h_i
    Bm = up_self - dn_self - vol[:, None, None] * R
    Cm = up
    Am = dn  # -(-Df + Jf) = Df - Jf
    A, B, C = -Am, -Bm, -Cm
    eye = jnp.broadcast_to(jnp.eye(4), B.shape[:-3] + (4, 4))
    if ends[0] == "reservoir":
        B = B.at[..., 0, :, :].set(eye)
        C = C.at[..., 0, :, :].set(0.0)
    if ends[1] == "reservoir":
        B = B.at[..., n - 1, :, :].set(eye)
        A = A.at[..., n - 1, :, :].set(0.0)
    return A, B, C, vol


class WireResponse(eqx.Module):
    """Linear response of the wire at each energy (see the module docstring).

    Shapes (``...`` = energy axes): ``h0`` (..., n_x, 4); ``Z`` (..., n_x, 4, 4 n_c);
    ``S`` (..., 4 n_c, 4 n_c); ``dos`` (..., n_c, 2) wire DOS per sector at the contacts.
    """

    energy: EnergyGrid
    x: Array
    h0: Array
    Z: Array
    S: Array
    h0c: Array
    dos: Array
    coefficients: KineticCoefficients
    volume: Array
    converged: Array
    nodes: tuple = eqx.field(static=True)
    ends: tuple = eqx.field(static=True)


def equilibrium_sectors(E, T):
    """Sector vector of equilibrium at temperature T: f_L = tanh(E/2T) in both sectors."""
    fl = 1.0 - 2.0 * fermi(E, T)
    z = jnp.zeros_like(fl)
    return jnp.stack([fl, z, fl, z], -1)


def reservoir_sectors(wire: Wire, E, side: int):
    """Sector vector of the reservoir at end ``side`` (0 left, 1 right): equilibrium at the bath
    temperature, or a normal metal at the `jaxqp.Reservoir`'s potential and temperature."""
    res = wire.reservoirs[side]
    if res is None:
        return equilibrium_sectors(E, wire.temperature)
    T = wire.temperature if res.temperature is None else res.temperature
    m = equilibrium_modes(E, res.bias, 0.0, T)  # (2 sectors, n_E, (f_L, f_T))
    return jnp.concatenate([m[0], m[1]], -1)


def wire_response(wire: Wire, grid: EnergyGrid, *, source=None, coefficients_override=None) -> WireResponse:
    """Solve the wire for the reservoir drive and for unit fluxes at every contact.

    ``source`` (optional, ``(n_E, n_x, 4)`` in the sector basis) is an extra
    distributed source term of the kinetic equation (e.g. a collision integral
    evaluated at the previous iterate) and is included in ``h0``.
    ``coefficients_override`` lets position-dependent spectral data (a
    `KineticCoefficients` with ``n_x`` nodes) replace the uniform ones.
    """
    E = grid.points
    x = wire.x
    n = x.shape[0]
    nodes = wire.contact_nodes
    if coefficients_override is None:
        co, ok = wire_coefficients(wire, E)
    else:
        co, ok = coefficients_override, jnp.ones(E.shape, bool)
    A, B, C, vol = assemble(co, x, wire.ends)
    nc = len(nodes)
    batch = B.shape[:-3]
    d = jnp.zeros(batch + (n, 4, 4 * nc + 1))
    if source is not None:
        d = d.at[..., :, :, -1].add(-vol[:, None] * jnp.asarray(source))
    if wire.ends[0] == "reservoir":
        d = d.at[..., 0, :, -1].set(reservoir_sectors(wire, E, 0))
    if wire.ends[1] == "reservoir":
        d = d.at[..., n - 1, :, -1].set(reservoir_sectors(wire, E, 1))
    for c, i in enumerate(nodes):
        d = d.at[..., i, :, 4 * c:4 * c + 4].set(jnp.eye(4))
    sol = block_thomas(A, B, C, d)
    h0 = sol[..., -1]
    Z = sol[..., :-1]
    idx = jnp.asarray(nodes, int)
    S = jnp.concatenate([Z[..., i, :, :] for i in nodes], axis=-2) if nc else jnp.zeros(batch + (0, 0))
    h0c = h0[..., idx, :]
    dos = jnp.broadcast_to(co.dos, batch + (n, 2))[..., idx, :]
    return WireResponse(energy=grid, x=jnp.asarray(x), h0=h0, Z=Z, S=S, h0c=h0c, dos=dos, coefficients=co,
                        volume=vol, converged=ok, nodes=nodes, ends=wire.ends)


# ----------------------------------------------------------------- contacts
def _electrode_temperature(contact, wire):
    T = contact.electrode.temperature
    return wire.temperature if T is None else T


def contact_drive(contact: TunnelContact, wire: Wire, E, V, wire_dos):
    """Kernel K (..., 4, 4) and electrode distribution h_e (..., 4) of one contact at bias V.

    wire_dos: (..., 2) Re g_s of the wire at the contact.
    """
    el = contact.electrode
    T = _electrode_temperature(contact, wire)
    Ee, Eh = E - V, -E - V
    f_e = el.occupation(Ee, T)  # (2, ...) electron frame at E - V
    f_h = el.occupation(Eh, T)
    he = sectors_from_occupations(f_e[0], f_e[1], f_h[0], f_h[1])
    Ne, ok_e = el.spectral(Ee)
    Nh, ok_h = el.spectral(Eh)
    P = contact.polarization
    kap = contact.kappa
    blocks = []
    for s, sign in ((0, 1.0), (1, -1.0)):
        a_e = kap * (1.0 + sign * P) * wire_dos[..., s] * Ne[s]
        a_h = kap * (1.0 - sign * P) * wire_dos[..., s] * Nh[1 - s]
        ap, am = 0.5 * (a_e + a_h), 0.5 * (a_e - a_h)
        blocks.append(jnp.stack([jnp.stack([ap, am], -1), jnp.stack([am, ap], -1)], -2))
    z = jnp.zeros_like(blocks[0])
    K = jnp.concatenate([jnp.concatenate([blocks[0], z], -1), jnp.concatenate([z, blocks[1]], -1)], -2)
    return K, he, ok_e & ok_h


def fixed_kernels(wire: Wire) -> bool:
    """True when no contact kernel depends on its bias (all electrodes normal metals)."""
    return all(isinstance(c.electrode, NormalMetal) for c in wire.contacts)


def contact_kernels(wire: Wire, resp: WireResponse, V):
    """Block-diagonal kernel (n_E, 4 n_c, 4 n_c), electrode distributions (n_E, 4 n_c) and ok flag at biases V."""
    E = resp.energy.points
    nc = len(wire.contacts)
    n4 = 4 * nc
    Kfull = jnp.zeros(E.shape + (n4, n4))
    hes, oks = [], []
    for c, contact in enumerate(wire.contacts):
        K, he, ok = contact_drive(contact, wire, E, V[c], resp.dos[..., c, :])
        Kfull = Kfull.at[..., 4 * c:4 * c + 4, 4 * c:4 * c + 4].set(K)
        hes.append(he)
        oks.append(ok)
    if not hes:  # driven by its reservoirs alone
        return Kfull, jnp.zeros(E.shape + (0,)), jnp.ones(E.shape, bool)
    return Kfull, jnp.concatenate(hes, -1), jnp.all(jnp.stack(oks), axis=0)


def contact_fluxes(wire: Wire, resp: WireResponse, V):
    """Injected fluxes ``s`` (n_E, n_c, 4) at contact biases ``V`` (n_c,), and an ok flag."""
    E = resp.energy.points
    nc = len(wire.contacts)
    Kfull, he, ok = contact_kernels(wire, resp, V)
    rhs = jnp.einsum("...ij,...j->...i", Kfull, he - resp.h0c.reshape(E.shape + (4 * nc,)))
    s = small_solve(jnp.eye(4 * nc) + Kfull @ resp.S, rhs[..., None])[..., 0]
    return s.reshape(E.shape + (nc, 4)), ok
