r"""Public kinetic verbs: distributions along a wire, contact currents, conductance maps.

Currents are in units of ``Delta0 / (e R_xi)`` (``R_xi`` the wire's normal-state
resistance over one coherence length; multiply by ``R_xi`` / divide by a
contact's ``kappa`` to get ``G_T Delta0 / e`` units), conductances in ``1/R_xi``,
heat in ``Delta0^2 / (e^2 R_xi)``.  A contact current is positive when charge
flows from the electrode into the wire (the convention of
`jaxqp.tunnel_current` with the electrode on the left).  The detector
current of a non-local measurement is reported the other way round (from the
wire into the detector), as in seed 001, so that charge imbalance gives
``g_nl > 0``.
"""

from __future__ import annotations

import functools

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from ..distributions import local_equilibrium
from ..geometry import Chain
from ..grids import EnergyGrid
from ..internal import validation as val
from ..internal.batching import map_in_chunks
from ..internal.blocktri import small_solve
from .coefficients import occupations_from_sectors, to_modes
from .wire import (
    Wire,
    WireResponse,
    contact_drive,
    contact_fluxes,
    contact_kernels,
    default_energy_grid,
    equilibrium_sectors,
    fixed_kernels,
    wire_coefficients,
    wire_response,
)


# ----------------------------------------------------------------- helpers
def as_wire(wire) -> Wire:
    """The `jaxqp.Wire` of a uniform wire given as a Wire or as a one-segment `jaxqp.Chain` (`Wire.from_chain`)."""
    if isinstance(wire, Chain):
        wire = Wire.from_chain(wire)
    if not isinstance(wire, Wire):
        raise TypeError(f"expected a jaxqp.Wire or a one-segment jaxqp.Chain, got {type(wire).__name__}")
    return wire


def check_wire(wire, *, stationary: bool = True) -> Wire:
    """The `jaxqp.Wire` of a kinetic problem (`as_wire`), which must have a drive: contacts or a `Reservoir` end.

    For a stationary solve (``stationary=True``) a contact whose ``kappa`` is known to be 0 does not
    count: a wire closed on every side has no unique stationary distribution.
    """
    wire = as_wire(wire)
    if any(r is not None for r in wire.reservoirs):
        return wire
    if not wire.contacts:
        raise ValueError("the wire has no drive: add TunnelContact objects to Wire(contacts=...) or a reservoir end "
                         "at its own potential or temperature, ends=(jaxqp.Reservoir(bias=...), 'reservoir')")
    if stationary and "reservoir" not in wire.ends and all(val.known_zero(getattr(c, "kappa", None))
                                                           for c in wire.contacts):
        raise ValueError("the wire is closed: every contact has kappa = 0 and no end is a reservoir, so nothing fixes "
                         "its stationary distribution (collisions conserve the particle number, and electron-electron "
                         "collisions the energy). Give a contact kappa > 0, make an end a reservoir "
                         "(ends=(..., 'reservoir')) or couple the wire to a bath on every mode (RelaxationTime "
                         "without conserve=); a closed wire is followed in time by jaxqp.solve_dynamics")
    return wire


def energy_grid_or_default(wire, grid, n_energy, v_max, temperatures=None):
    if grid is not None:
        return grid
    return default_energy_grid(wire, v_max, n_energy, temperatures)


def currents_from_fluxes(s, grid: EnergyGrid):
    """Charge, spin (I_up - I_dn) and heat currents into the wire from fluxes s (n_E, n_c, 4)."""
    E = grid.points

    def integ(x):
        return jnp.sum(grid.weights[:, None] * x, axis=0)

    charge = -0.25 * integ(s[..., 1] + s[..., 3])
    spin = -0.25 * integ(s[..., 0] - s[..., 2])
    heat = -0.25 * integ(E[:, None] * (s[..., 0] + s[..., 2]))
    return charge, spin, heat


class ContactCurrents(eqx.Module):
    """Currents through every contact, shape ``(..., n_c)``: charge, spin (I_up - I_dn), heat into the wire.

    ``heat`` is the energy current measured from the wire's (condensate's)
    chemical potential; the heat leaving the electrode is ``electrode_heat = heat - V * charge``.
    """

    charge: Array
    spin: Array
    heat: Array
    biases: Array
    converged: Array

    @property
    def electrode_heat(self) -> Array:
        """Heat current leaving each electrode, measured from its own chemical potential."""
        return self.heat - self.biases * self.charge


def _fixed_kernel_response(wire: Wire, resp: WireResponse):
    """Bias-independent kernels: ``M = (1 + K S)^-1 K`` (n_E, 4 n_c, 4 n_c) and h0 at the contacts, so that
    the fluxes are ``s = M (h_e - h0_c)``."""
    nc = len(wire.contacts)
    n4 = 4 * nc
    Kfull, _, _ = contact_kernels(wire, resp, jnp.zeros(nc))
    M = small_solve(jnp.eye(n4) + Kfull @ resp.S, Kfull)
    return M, resp.h0c.reshape(resp.energy.points.shape + (n4,))


def _flux_function(wire: Wire, resp: WireResponse):
    """A function V (n_c,) -> (s (n_E, n_c, 4), ok) using a precomputed kernel when it is bias independent."""
    if not fixed_kernels(wire):
        return lambda V: contact_fluxes(wire, resp, V)
    E = resp.energy.points
    nc = len(wire.contacts)
    M, h0c = _fixed_kernel_response(wire, resp)
    ok = jnp.ones(E.shape, bool)

    def fluxes(V):
        _, he, _ = contact_kernels(wire, resp, V)
        s = jnp.einsum("...ij,...j->...i", M, he - h0c)
        return s.reshape(E.shape + (nc, 4)), ok

    return fluxes


def bias_array(wire, biases):
    nc = len(wire.contacts)
    V = wire.biases if biases is None else jnp.asarray(biases, float)
    if V.shape[-1:] != (nc,):
        raise ValueError(f"biases must have a last axis of length {nc} (one per contact), got shape {V.shape}")
    val.check_finite("biases", V)
    return V


# ----------------------------------------------------------------- solutions
class KineticSolution(eqx.Module):
    """Distributions along the wire at one set of contact biases.

    Attributes:
        energy: the `jaxqp.EnergyGrid`.
        x: position nodes (n_x,), units of xi.
        modes: ``(n_E, n_x, 4)``: f_L, f_T, f_T3, f_L3.
        sectors: ``(n_E, n_x, 4)``: f_{L+}, f_{T+}, f_{L-}, f_{T-}.
        dos: ``(n_E, n_x, 2)``: N_up, N_dn of the wire.
        fluxes: ``(n_E, n_c, 4)``: spectral fluxes injected at each contact (sector basis).
        currents: `ContactCurrents` (charge, spin, heat per contact).
        converged: spectral solves converged at every energy.
    """

    energy: EnergyGrid
    x: Array
    modes: Array
    sectors: Array
    dos: Array
    fluxes: Array
    currents: ContactCurrents
    converged: Array
    temperature: Array
    response: WireResponse

    def occupations(self) -> Array:
        """Spin-resolved occupations ``(2, n_E, n_x)``: f_up(E, x), f_dn(E, x) (seed 000 Fig. 1c)."""
        return occupations_from_sectors(self.sectors)

    def quasiparticle_number(self) -> Array:
        r"""Spin-resolved particle number per energy ``(2, n_E, n_x)``: N_sigma f_sigma (seed 000 Eq. 1)."""
        return jnp.moveaxis(self.dos, -1, 0) * self.occupations()

    def charge_imbalance(self) -> Array:
        r"""mu_Q*(x) = -(1/2) int dE (rho_+ f_T + rho_- f_L3), in units of Delta0/e.

        Normalised so that it equals the electrochemical potential of the
        quasiparticles in the normal state; Q* = 2 e N_0 mu_Q*.
        """
        N = self.dos
        dens = 0.25 * (N[..., 0] * self.sectors[..., 1] + N[..., 1] * self.sectors[..., 3])
        return -jnp.sum(self.energy.weights[:, None] * dens, axis=0)

    def local_equilibrium(self, conserve="all"):
        """Potential, spin splitting and temperature of the local equilibrium at every node, ``(n_x,)`` each.

        The Fermi functions with the same charge, spin and energy as the distributions here
        (`jaxqp.distributions.local_equilibrium`, DOS-weighted moments): ``T`` is the effective
        electron temperature of an energy-relaxation experiment.  Returns ``(mu, spin, T, converged)``.
        Call it outside ``jit`` (it reads the energy grid concretely).
        """
        h = jnp.stack([self.sectors[..., 0:2], self.sectors[..., 2:4]])  # (2, n_E, n_x, 2)
        h = jnp.swapaxes(h, 1, 2)
        N = jnp.moveaxis(self.dos, -1, 0).swapaxes(1, 2)  # (2, n_x, n_E)
        _, (mu, spin, T), ok = local_equilibrium(np.asarray(self.energy.points), N, h,
                                                 temperature=self.temperature, conserve=conserve,
                                                 weights=self.energy.weights)
        return mu, spin, T, ok

    def spin_density(self) -> Array:
        r"""Spectral spin density ``s(E, x) = -(rho_+ f_T3 + rho_- (f_L - f_L^eq))`` (n_E, n_x).

        ``mu_s = (1/2) int dE s``; with singlet spectra ``s = -N f_T3`` (seed 002 Eq. 6).
        """
        N = self.dos
        eq = equilibrium_sectors(self.energy.points, self.temperature)[:, None, :]
        dL = self.sectors - eq
        return -0.5 * (N[..., 0] * dL[..., 0] - N[..., 1] * dL[..., 2])

    def spin_accumulation(self) -> Array:
        r"""mu_s(x) = -(1/2) int dE (rho_+ f_T3 + rho_- (f_L - f_L^eq)): (mu_up - mu_dn)/2 in the normal state."""
        return 0.5 * jnp.sum(self.energy.weights[:, None] * self.spin_density(), axis=0)

    def current_profile(self) -> dict:
        """Charge and energy currents along the wire at the faces between nodes (n_x - 1,).

        Returns ``quasiparticle`` (from D d_x h) and ``super`` (from J h) charge
        currents and the ``energy`` current, in the units of the module.
        """
        co = self.response.coefficients
        x = self.x
        h = self.sectors
        dx = jnp.diff(x)[:, None]
        n = x.shape[0]
        D = jnp.broadcast_to(co.D, co.D.shape[:-3] + (n, 4, 4))
        J = jnp.broadcast_to(co.J, co.J.shape[:-3] + (n, 4, 4))
        Df = 0.5 * (D[:, 1:] + D[:, :-1])
        Jf = 0.5 * (J[:, 1:] + J[:, :-1])
        dh = (h[:, 1:] - h[:, :-1]) / dx
        hf = 0.5 * (h[:, 1:] + h[:, :-1])
        jd = jnp.einsum("exij,exj->exi", Df, dh)
        js = jnp.einsum("exij,exj->exi", Jf, hf)
        w = self.energy.weights[:, None]
        E = self.energy.points[:, None]
        return {
            "quasiparticle": 0.25 * jnp.sum(w * (jd[..., 1] + jd[..., 3]), 0),
            "super": 0.25 * jnp.sum(w * (js[..., 1] + js[..., 3]), 0),
            "energy": 0.25 * jnp.sum(w * E * ((jd + js)[..., 0] + (jd + js)[..., 2]), 0),
        }

    def _relaxation_charge(self) -> Array:
        """Charge density of the relaxation term, (1/4) sum_s (R h)_{T,s}, shape (n_E, n_x)."""
        co = self.response.coefficients
        R = jnp.broadcast_to(co.R, co.R.shape[:-3] + (self.x.shape[0], 4, 4))
        Rh = jnp.einsum("exij,exj->exi", R, self.sectors)
        return 0.25 * (Rh[..., 1] + Rh[..., 3])

    def converted_current(self) -> Array:
        """Quasiparticle charge current converted into supercurrent, -(1/4) sum_s int dx int dE (R h)_T.

        Charge conservation reads ``sum(currents.charge) = sum(reservoir_currents()) + converted_current()``.
        """
        dens = -self._relaxation_charge() * self.response.volume
        if self.response.ends[0] == "reservoir":
            dens = dens.at[:, 0].set(0.0)
        if self.response.ends[1] == "reservoir":
            dens = dens.at[:, -1].set(0.0)
        return jnp.sum(self.energy.weights[:, None] * dens)

    @val.compiled_when_eager
    def reservoir_currents(self) -> Array:
        """Charge currents flowing into the (left, right) reservoirs."""
        prof = self.current_profile()
        total = prof["quasiparticle"] + prof["super"]
        n = self.x.shape[0]
        rel = jnp.sum(self.energy.weights[:, None] * self._relaxation_charge(), axis=0) * self.response.volume
        # the boundary node's half cell lies between the reservoir and the first face
        left = -(total[0] - rel[0]) if self.response.ends[0] == "reservoir" else jnp.asarray(0.0)
        right = (total[-1] + rel[n - 1]) if self.response.ends[1] == "reservoir" else jnp.asarray(0.0)
        return jnp.stack([left, right])


def _solve_kinetic_core(wire, grid, V, source):
    resp = wire_response(wire, grid, source=source)
    s, ok_c = _flux_function(wire, resp)(V)
    h = resp.h0 + jnp.einsum("exik,ek->exi", resp.Z, s.reshape(s.shape[0], -1))
    charge, spin, heat = currents_from_fluxes(s, grid)
    ok = jnp.all(resp.converged) & jnp.all(ok_c)
    dos = jnp.broadcast_to(resp.coefficients.dos, h.shape[:-1] + (2,))
    cur = ContactCurrents(charge=charge, spin=spin, heat=heat, biases=V, converged=ok)
    return KineticSolution(energy=grid, x=resp.x, modes=to_modes(h), sectors=h, dos=dos, fluxes=s,
                           currents=cur, converged=ok, temperature=wire.temperature, response=resp)


_solve_kinetic_jit = val.jit_known_zeros(_solve_kinetic_core)


def solve_kinetic(wire: Wire, biases=None, *, grid: EnergyGrid | None = None, n_energy: int = 2001,
                  source=None, throw: bool = True) -> KineticSolution:
    r"""Solve the kinetic equations of a wire with tunnel contacts at one set of biases.

    $$
    \partial_x(\mathcal D\partial_x h + \mathcal J h) = \mathcal R h
    - \sum_c \delta(x-x_c) K_c (h_{e,c} - h)
    $$

    for every energy of the grid (elastic: no iteration), with equilibrium
    reservoirs at the wire's temperature.

    Args:
        wire: the `Wire` (material, contacts, temperature, ends).
        biases: contact biases ``(n_c,)``; default: the electrodes' own biases.
        grid: energy grid (default: `default_energy_grid` with ``n_energy`` nodes).
        source: optional extra source ``(n_E, n_x, 4)`` (sector basis).
        throw: raise if a spectral solve did not converge (else see ``converged``).
    """
    wire = check_wire(wire)
    V = bias_array(wire, biases)
    grid = energy_grid_or_default(wire, grid, n_energy, float(np.max(np.abs(np.asarray(V)))) if V.size else 0.0)
    sol = _solve_kinetic_jit(wire, grid, V, source)
    if throw:
        val.raise_if_not_converged(sol.converged, "the spectral solve of the wire")
    return sol


def responses_core(wire, grid, Vs, chunk, detector, with_derivative):
    resp = wire_response(wire, grid)
    flux = _flux_function(wire, resp)

    def one(V):
        def cur(V):
            s, ok = flux(V)
            ch, sp, ht = currents_from_fluxes(s, grid)
            return (ch, sp, ht), ok

        if with_derivative is None:
            (ch, sp, ht), ok = cur(V)
            return {"charge": ch, "spin": sp, "heat": ht, "ok": jnp.all(ok)}
        direction = jnp.zeros_like(V).at[with_derivative].set(1.0)
        ((ch, sp, ht), ok), ((dch, dsp, dht), _) = jax.jvp(cur, (V,), (direction,))
        return {"charge": ch, "spin": sp, "heat": ht, "dcharge": dch, "dspin": dsp, "ok": jnp.all(ok)}

    out = map_in_chunks(jax.vmap(one), Vs, chunk)
    out["ok"] = out["ok"] & jnp.all(resp.converged)
    return out


responses_jit = val.jit_known_zeros(responses_core)


def separable_core(wire, grid, axes, derivative):
    """Fixed kernels: the fluxes are linear in the electrode distributions, so every current is a sum
    of one function per contact bias, I_k(V) = sum_c F_kc(V_c).  ``axes`` holds one 1-D array of bias
    values per contact; returns F (n_v, n_c) per contact (charge, spin, heat) and dF/dV_c for
    ``derivative``.  A (V_1 x V_2) map then costs n_1 + n_2 evaluations instead of n_1 n_2."""
    resp = wire_response(wire, grid)
    E = grid.points
    nc = len(wire.contacts)
    M, h0c = _fixed_kernel_response(wire, resp)
    out = []
    for c, contact in enumerate(wire.contacts):
        Mc = M[..., 4 * c:4 * c + 4]

        def part(v, c=c, contact=contact, Mc=Mc):
            _, he, _ = contact_drive(contact, wire, E, v, resp.dos[..., c, :])
            s = jnp.einsum("eij,ej->ei", Mc, he - h0c[:, 4 * c:4 * c + 4])
            return currents_from_fluxes(s.reshape(E.shape + (nc, 4)), grid)

        fn = jax.vmap(part)
        v = axes[c]
        if derivative == c:
            vals, dvals = jax.jvp(fn, (v,), (jnp.ones_like(v),))
        else:
            vals, dvals = fn(v), None
        out.append((vals, dvals))
    return out, jnp.all(resp.converged)


separable_jit = val.jit_known_zeros(separable_core)


def contact_currents(wire: Wire, biases, *, grid: EnergyGrid | None = None, n_energy: int = 2001,
                     chunk: int = 256, throw: bool = True) -> ContactCurrents:
    """Currents through every contact for a batch of bias vectors ``biases (..., n_c)``.

    One wire solve per energy serves all bias points (see `jaxqp.kinetic.wire`).
    """
    wire = check_wire(wire)
    V = bias_array(wire, biases)
    batch = V.shape[:-1]
    Vs = V.reshape(-1, V.shape[-1])
    grid = energy_grid_or_default(wire, grid, n_energy, float(np.max(np.abs(np.asarray(V)))))
    out = responses_jit(wire, grid, Vs, chunk, None, None)
    if throw:
        val.raise_if_not_converged(out["ok"], "the kinetic contact currents")
    rs = lambda a: a.reshape(batch + a.shape[1:])  # noqa: E731
    return ContactCurrents(charge=rs(out["charge"]), spin=rs(out["spin"]), heat=rs(out["heat"]), biases=V,
                           converged=rs(out["ok"]))


class NonlocalMap(eqx.Module):
    """Result of `nonlocal_conductance` on the grid ``V_inj x V_det``.

    ``g_nl = dI_det/dV_inj`` with I_det the current from the wire into the
    detector (1/R_xi units); ``G_inj = dI_inj/dV_inj`` the local conductance;
    ``I_inj`` (electrode into wire) and ``I_det``; all of shape (n_inj, n_det).
    """

    V_inj: Array
    V_det: Array
    g_nl: Array
    G_inj: Array
    I_inj: Array
    I_det: Array
    spin_det: Array
    converged: Array
    injector: int = eqx.field(static=True)
    detector: int = eqx.field(static=True)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _bias_map(base, Vi, Vd, injector: int, detector: int):
    """Bias vectors ``(n_inj * n_det, n_c)`` of a non-local map (the other contacts at ``base``)."""
    VV = jnp.broadcast_to(base, (Vi.size, Vd.size, base.shape[-1]))
    VV = VV.at[..., injector].set(Vi[:, None]).at[..., detector].set(Vd[None, :])
    return VV.reshape(-1, base.shape[-1])


@functools.partial(jax.jit, static_argnums=(1, 2, 3))
def _map_fields(out, shp, injector: int, detector: int):
    """The fields of a `NonlocalMap` from the flat map (one program, not one per operation)."""
    return dict(g_nl=-out["dcharge"][:, detector].reshape(shp), G_inj=out["dcharge"][:, injector].reshape(shp),
                I_inj=out["charge"][:, injector].reshape(shp), I_det=-out["charge"][:, detector].reshape(shp),
                spin_det=-out["spin"][:, detector].reshape(shp), converged=out["ok"].reshape(shp))


@functools.partial(jax.jit, static_argnums=(2, 3))
def _separable_map(parts, ok, injector: int, detector: int):
    """The flat map ``(n_inj * n_det, n_c)`` from the per-contact separable parts (one program)."""
    nc = len(parts)
    shp = (parts[injector][0][0].shape[0], parts[detector][0][0].shape[0])
    out = {}
    for key, j in (("charge", 0), ("spin", 1)):
        tot = jnp.zeros(shp + (nc,))
        for c, (vals, _) in enumerate(parts):
            F = vals[j]
            tot = tot + (F[:, None, :] if c == injector else F[None, :, :] if c == detector else F[0])
        out[key] = tot.reshape(-1, nc)
    dq = parts[injector][1][0]
    out["dcharge"] = jnp.broadcast_to(dq[:, None, :], shp + (nc,)).reshape(-1, nc)
    out["ok"] = jnp.broadcast_to(ok, (shp[0] * shp[1],))
    return out


def nonlocal_conductance(wire: Wire, V_inj, V_det=0.0, *, injector: int = 0, detector: int = 1,
                         grid: EnergyGrid | None = None, n_energy: int = 2001, chunk: int = 256,
                         throw: bool = True) -> NonlocalMap:
    r"""Non-local conductance map ``g_nl(V_inj, V_det) = dI_det / dV_inj`` by forward-mode autodiff.

    Args:
        wire: the device; contacts other than ``injector`` and ``detector`` stay at
            their electrodes' biases.
        V_inj, V_det: 1-D arrays of biases (the map is their outer product).
        injector, detector: contact indices.
        grid, n_energy: energy grid (default adaptive, ``n_energy`` nodes).
        chunk: bias points per vectorised chunk (memory vs speed).
    """
    wire = check_wire(wire)
    nc = len(wire.contacts)
    for name, i in (("injector", injector), ("detector", detector)):
        if not 0 <= i < nc:
            raise ValueError(f"{name}={i} is not a contact index (the wire has {nc} contacts)")
    if injector == detector:
        raise ValueError("injector and detector must be different contacts (use contact_currents for local G)")
    Vi = jnp.atleast_1d(jnp.asarray(V_inj, float))
    Vd = jnp.atleast_1d(jnp.asarray(V_det, float))
    if Vi.ndim != 1 or Vd.ndim != 1:
        raise ValueError("V_inj and V_det must be scalars or 1-D arrays")
    base = wire.biases
    vmax = float(max(np.max(np.abs(np.asarray(Vi))), np.max(np.abs(np.asarray(Vd)))))
    grid = energy_grid_or_default(wire, grid, n_energy, vmax)
    if fixed_kernels(wire):
        axes = [jnp.atleast_1d(jnp.asarray(b, float)) for b in base]
        axes[injector], axes[detector] = Vi, Vd
        parts, ok = separable_jit(wire, grid, tuple(axes), injector)
        out = _separable_map(parts, ok, injector, detector)
    else:
        out = responses_jit(wire, grid, _bias_map(base, Vi, Vd, injector, detector), chunk, None, injector)
    if throw:
        val.raise_if_not_converged(out["ok"], "the non-local conductance map")
    return NonlocalMap(V_inj=Vi, V_det=Vd, injector=injector, detector=detector,
                       **_map_fields(out, (Vi.size, Vd.size), injector, detector))


def local_conductance(wire: Wire, contact: int, V, *, grid: EnergyGrid | None = None, n_energy: int = 2001,
                      chunk: int = 256, throw: bool = True):
    """Local ``(I, dI/dV)`` of one contact for biases ``V`` (1-D), other contacts at their electrode bias."""
    wire = check_wire(wire)
    nc = len(wire.contacts)
    V = jnp.atleast_1d(jnp.asarray(V, float))
    VV = jnp.broadcast_to(wire.biases, (V.size, nc)).at[:, contact].set(V)
    grid = energy_grid_or_default(wire, grid, n_energy, float(np.max(np.abs(np.asarray(V)))))
    out = responses_jit(wire, grid, VV, chunk, None, contact)
    if throw:
        val.raise_if_not_converged(out["ok"], "the local conductance")
    return out["charge"][:, contact], out["dcharge"][:, contact]


def bias_for_current(wire: Wire | Chain, contact: int, current, *, v_max: float = 5.0, n_table: int = 401,
                     grid: EnergyGrid | None = None, n_energy: int = 2001, newton_steps: int = 4):
    """Voltage bias of ``contact`` that drives the charge ``current`` into the wire (current bias -> voltage bias).

    ``wire``: a `jaxqp.Wire` or a one-segment `jaxqp.Chain`.  Tabulates I(V)
    on ``[-v_max, v_max]`` (one wire solve serves the whole table), interpolates,
    and polishes with Newton steps using dI/dV by autodiff.  Raises if a target lies outside the tabulated range.
    """
    wire = check_wire(wire)
    current = jnp.asarray(current, float)
    Vt = jnp.linspace(-v_max, v_max, n_table)
    grid = energy_grid_or_default(wire, grid, n_energy, v_max)
    I_tab, _ = local_conductance(wire, contact, Vt, grid=grid)
    lo, hi = float(jnp.min(I_tab)), float(jnp.max(I_tab))
    c = np.asarray(current)
    if np.any(c < lo) or np.any(c > hi):
        raise ValueError(f"current {c} outside the range [{lo:.4g}, {hi:.4g}] reachable with |V| <= {v_max}; "
                         "raise v_max")
    flat = current.reshape(-1)
    V = jnp.interp(flat, I_tab, Vt)
    for _ in range(newton_steps):
        I, G = local_conductance(wire, contact, V, grid=grid)
        V = V - (I - flat) / jnp.where(G > 0, G, 1.0)
    return V.reshape(current.shape)


def supercurrent(wire: Wire | Chain, *, grid: EnergyGrid | None = None, n_energy: int = 2001) -> Array:
    r"""Equilibrium supercurrent of the uniform wire at its phase gradient, units Delta0/(e R_xi).

    ``wire``: a `jaxqp.Wire` or a one-segment `jaxqp.Chain` (contacts are not needed).

    ``I_s = (1/4) sum_s int dE (J h_eq)_{T,s} = (q/2) int dE j_E tanh(E/2T)``
    with ``j_E = Im[(i f)^2]`` per sector, seed 001 Eq. (6).
    """
    wire = as_wire(wire)
    return _supercurrent_on(wire, energy_grid_or_default(wire, grid, n_energy, 0.0))


@val.compiled_when_eager
def _supercurrent_on(wire: Wire, grid: EnergyGrid) -> Array:
    co, ok = wire_coefficients(wire, grid.points)
    heq = equilibrium_sectors(grid.points, wire.temperature)
    Jh = jnp.einsum("eij,ej->ei", co.J[:, 0], heq)
    return 0.25 * grid.integrate(Jh[:, 1] + Jh[:, 3])
