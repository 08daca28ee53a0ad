"""What ``jaxqp run`` computes at every sweep point: pure JAX functions of a chunk of parameter sets.

A task turns the reduced parameters of a chunk of sweep points (a dict
``"section.param" -> (C,)`` array) into output arrays ``(C, n_inner, ...)``
and a status code per point (`STATUS`).  The functions are built once
per configuration and jit-compiled by the runner for one fixed chunk shape.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from ..devices import spin_supercurrent as ssc
from ..geometry import Chain, Interface, Segment, SpinActive, TunnelContact, Wire
from ..grids import merged_grid
from ..junction import evaluate
from ..kinetic.collisions import ElectronElectron, ElectronPhonon
from ..kinetic.inelastic import GapEquation, inelastic_setup, map_core, uniform_grid
from ..kinetic.solve import responses_core
from ..materials import NormalMetal, Superconductor
from ..selfconsistency import gap_jit, gap_params
from ..spectral.bulk import green_functions
from ..spectral.spin import SpinDistribution, SpinWire, normal_state_gain, observables, solve_spin
from ..spectral.spin import self_consistent_gap as spin_gap
from ..spectral.wire import josephson_current, solve_proximity
from .runconfig import sweep_extreme

#: status codes of a sweep point
STATUS = {0: "ok", 1: "spectral_not_converged", 2: "gap_not_converged", 3: "non_finite", 4: "not_computed_yet"}
PENDING = 4  # a point of a run still in progress (`jaxqp.app.runner.open_result(..., partial=True)`)


@dataclasses.dataclass(frozen=True)
class Output:
    dims: tuple  #: trailing dimensions after the sweep dimensions
    units: str  #: in jaxqp units
    long_name: str
    si: tuple | None = None  #: (name, unit, kind) of an SI copy, when the configuration allows one


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    outputs: dict
    make: Callable  #: (RunConfig) -> fn(params, inner) -> dict of arrays incl. "status"
    bytes_per_point: Callable  #: (RunConfig) -> working memory of one sweep point (bytes)
    #: (RunConfig) -> numbers stored per sweep point (default: eight per inner point)
    stored_per_point: Callable | None = None


_DEPAIRING = {"zeta": ("zeta", "r_orb"), "b_so": ("b_so",), "b_sf": ("b_sf",)}


def _fixed_at_zero(cfg, s: str, keys) -> bool:
    """Whether the configuration fixes every parameter ``keys`` of section ``s`` at zero (none swept)."""
    swept = {ax.key for ax in cfg.axes}
    params = cfg.sections[s]["params"]
    return all(f"{s}.{k}" not in swept and params.get(k, 0.0) == 0.0 for k in keys)


def _sc_arrays(p: dict, s: str, cfg):
    """Reduced superconductor parameters of section ``s`` for a chunk, in units of the reference gap.

    Each depairing rate (zeta, b_so, b_sf) that the configuration fixes at zero is the Python zero, a
    known zero for the solvers: the chunk's program traces the other parameters, and leaves out what
    zero rates make exact (the bulk Newton solve of the spectra, the gap equation's pair-breaking
    Matsubara sums), as for a material built with zero rates.
    """
    d0 = p[f"{s}.delta0"]
    h = p.get(f"{s}.h", p.get(f"{s}.field", jnp.zeros_like(d0)))
    if f"{s}.r_orb" in p:  # zeta = r_orb B^2; the configuration gives r_orb per (h / Delta0)^2
        zeta = p[f"{s}.r_orb"] * h**2
    else:
        zeta = p.get(f"{s}.zeta", jnp.zeros_like(d0))
    a = dict(delta0=d0, T=p[f"{s}.temperature"], h=h, zeta=zeta, b_so=p[f"{s}.b_so"], b_sf=p[f"{s}.b_sf"],
             gamma=p[f"{s}.gamma"])
    return dict(a, **{k: 0.0 for k, keys in _DEPAIRING.items() if _fixed_at_zero(cfg, s, keys)})


def _pair_potential(a: dict, self_consistent: bool, delta_fixed):
    """Delta of a chunk: self-consistent (the gap equation in units of the material's own delta0) or fixed.

    The Dynes broadening is a phenomenological broadening of the spectra and does not enter the gap
    equation (as in `jaxqp.devices.thermospin`); pair breaking belongs in ``zeta`` or ``b_sf``.  The
    rates that are known zeros (`_sc_arrays`) stay known zeros: with all three, the gap equation uses the
    closed-form Matsubara functions.
    """

    if not self_consistent:
        return delta_fixed, jnp.ones(delta_fixed.shape, bool)
    d0 = a["delta0"]
    zeta, b_so, b_sf = (a[k] if isinstance(a[k], float) else a[k] / d0 for k in ("zeta", "b_so", "b_sf"))
    prm, kind = gap_params(a["h"] / d0, zeta, b_so, b_sf, 0.0, None)
    delta = d0 * gap_jit(a["T"] / d0, prm, kind)
    return delta, jnp.isfinite(delta)


def _param(cfg, p: dict, s: str, k: str):
    """Parameter ``k`` of section ``s`` at a sweep point; the Python zero where the configuration fixes it
    at zero (as the rates of `_sc_arrays`; e.g. without a supercurrent the spectra take the closed form)."""
    return 0.0 if _fixed_at_zero(cfg, s, (k,)) else p[f"{s}.{k}"]


def _col(x):
    """A chunk's parameter as a column (one row per sweep point); a known zero stays the Python zero."""
    return x if isinstance(x, float) else x[:, None]


def _status(spectral_ok, gap_ok, *values):
    finite = jnp.ones(spectral_ok.shape, bool)
    for v in values:
        finite = finite & jnp.all(jnp.isfinite(v.reshape(v.shape[0], -1)), axis=-1)
    return jnp.where(~gap_ok, 2, jnp.where(~spectral_ok, 1, jnp.where(~finite, 3, 0))).astype(jnp.int8)


def _point_gap(cfg, p: dict, s: str):
    """Delta of section ``s`` at one sweep point (self-consistent or fixed) and whether it converged."""
    a = {k: v if isinstance(v, float) else v[None] for k, v in _sc_arrays(p, s, cfg).items()}
    fixed = p[f"{s}.delta"][None] if f"{s}.delta" in p else None
    delta, ok = _pair_potential(a, cfg.sections[s]["flags"]["self_consistent"], fixed)
    return jnp.nan_to_num(delta[0]), ok[0]


def _point_by_point(one, p, *checked):
    """Run ``one`` (the parameters of a sweep point -> outputs, converged flags, gap converged) over a
    chunk one point at a time (``lax.map``: the working memory of one point) and add the status."""
    res, ok, gap_ok = jax.lax.map(one, p)
    ok = jnp.all(ok.reshape(ok.shape[0], -1), axis=-1)
    res["status"] = _status(ok, gap_ok, *(res[k] for k in checked))
    return res


# ------------------------------------------------------------------------------------- dos
def _make_dos(cfg):
    sc = cfg.sections["material"]["flags"]["self_consistent"]

    def fn(p, E):
        a = _sc_arrays(p, "material", cfg)
        delta, gap_ok = _pair_potential(a, sc, p.get("material.delta"))
        _, g, _, ok = green_functions(E[None, :] + 1j * _col(a["gamma"]), _col(a["h"]), _col(jnp.nan_to_num(delta)),
                                      _col(a["zeta"]), _col(a["b_so"]), _col(a["b_sf"]))
        N = jnp.real(g)  # (2, C, n_E)
        out = {"N_up": N[0], "N_dn": N[1], "N": 0.5 * (N[0] + N[1]), "delta": delta}
        out["status"] = _status(jnp.all(ok, axis=-1), gap_ok, N[0], N[1])
        return out

    return fn


DOS = Task(
    "dos",
    {
        "N_up": Output(("energy",), "N_F", "density of states, spin up (N_up(E) = N_BCS(E + h))"),
        "N_dn": Output(("energy",), "N_F", "density of states, spin down"),
        "N": Output(("energy",), "N_F", "density of states per spin, (N_up + N_dn)/2"),
        "delta": Output((), "Delta0", "pair potential", ("delta_eV", "eV", "energy")),
    },
    _make_dos,
    lambda cfg: 48 * 16 * cfg.inner_reduced.size,
)


# -------------------------------------------------------------------------------- junction
def _electrode(cfg, p, s):
    if cfg.sections[s]["kind"] == "normal":
        return NormalMetal(temperature=_col(p[f"{s}.temperature"]), spin_bias=_col(p[f"{s}.spin_bias"])), \
            jnp.ones(p[f"{s}.temperature"].shape, bool), None
    a = _sc_arrays(p, s, cfg)
    delta, gap_ok = _pair_potential(a, cfg.sections[s]["flags"]["self_consistent"], p.get(f"{s}.delta"))
    el = Superconductor(delta=_col(jnp.nan_to_num(delta)), h=_col(a["h"]), zeta=_col(a["zeta"]), b_so=_col(a["b_so"]),
                        b_sf=_col(a["b_sf"]), gamma=_col(a["gamma"]), temperature=_col(a["T"]))
    return el, gap_ok, delta


def _make_junction(cfg):
    n = cfg.n_energy

    def fn(p, V):
        left, okl, dl = _electrode(cfg, p, "left")
        right, okr, dr = _electrode(cfg, p, "right")
        TL = p["left.temperature"][:, None]
        TR = p["right.temperature"][:, None]
        P = p["barrier.polarization"][:, None]
        # one spectrum per sweep point for all biases where an electrode is normal, else per-bias grids
        out = evaluate(left, right, V[None, :], TL, TR, P, n_energy=n, what=("I", "Q", "G"))
        I, Q, G = out["I"], out["Q"], out["G"]  # (C, n_V, 2)
        res = {"current": I[..., 0] + I[..., 1], "spin_current": I[..., 0] - I[..., 1],
               "conductance": G[..., 0] + G[..., 1], "spin_conductance": G[..., 0] - G[..., 1],
               "heat_current": Q[..., 0] + Q[..., 1]}
        for name, d in (("delta_left", dl), ("delta_right", dr)):
            if d is not None:
                res[name] = d
        res["status"] = _status(jnp.all(out["ok"], axis=-1), okl & okr, *(res[k] for k in ("current", "conductance")))
        return res

    return fn


JUNCTION = Task(
    "junction",
    {
        "current": Output(("bias",), "G_T Delta0/e", "charge current I_up + I_dn from left to right",
                          ("current_A", "A", "current")),
        "spin_current": Output(("bias",), "G_T Delta0/e", "spin current I_up - I_dn",
                               ("spin_current_A", "A", "current")),
        "conductance": Output(("bias",), "G_T", "differential conductance dI/dV (autodiff)",
                              ("conductance_S", "S", "conductance")),
        "spin_conductance": Output(("bias",), "G_T", "d(I_up - I_dn)/dV"),
        "heat_current": Output(("bias",), "G_T Delta0^2/e^2", "heat current leaving the left electrode",
                               ("heat_current_W", "W", "heat")),
        "delta_left": Output((), "Delta0", "pair potential of the left electrode", ("delta_left_eV", "eV", "energy")),
        "delta_right": Output((), "Delta0", "pair potential of the right electrode",
                              ("delta_right_eV", "eV", "energy")),
    },
    _make_junction,
    lambda cfg: 20 * 8 * cfg.n_energy * cfg.inner_reduced.size,
)



# ------------------------------------------------------------------------------------ wire
def _make_wire(cfg):
    w = cfg.sections["wire"]["params"]
    length, n_x = float(w["length"]), int(w.get("n_x", 200))
    sc_flag = cfg.sections["material"]["flags"]["self_consistent"]
    pos = [float(cfg.sections[c]["params"]["position"]) for c in ("injector", "detector")]
    n = cfg.n_energy
    # the energy window covers every bias of the sweep plus the gap, splitting and thermal tails (static)
    e_max = float(_wire_window(cfg))

    def point(p):
        a = _sc_arrays(p, "material", cfg)
        delta, gap_ok = _pair_potential(a, sc_flag, p.get("material.delta"))
        delta = jnp.nan_to_num(delta)
        q = _param(cfg, p, "wire", "phase_gradient")
        T = a["T"]
        contacts = []
        for c, x in zip(("injector", "detector"), pos, strict=False):
            kappa = p[f"{c}.kappa"] if f"{c}.kappa" in p else p[f"{c}.conductance"] * p["wire.resistance_xi"]
            Tc = p.get(f"{c}.temperature", T)
            contacts.append(TunnelContact(x, kappa, NormalMetal(temperature=Tc, bias=p[f"{c}.bias"]),
                                          polarization=p[f"{c}.polarization"], name=c))
        mat = Superconductor(delta=delta, h=a["h"], zeta=a["zeta"], b_so=a["b_so"], b_sf=a["b_sf"], gamma=a["gamma"])
        wire = Wire(mat, length, tuple(contacts), temperature=T, phase_gradient=q, n_x=n_x, ends=_ends(cfg))
        t_min = jnp.minimum(T, jnp.minimum(*(c.electrode.temperature for c in contacts)))
        width = jnp.maximum(a["gamma"], 2e-4) + a["zeta"] + 0.5 * q**2
        centers = jnp.stack([jnp.zeros(()), delta - a["h"], delta + a["h"], -delta + a["h"], -delta - a["h"]])
        grid = merged_grid(centers, jnp.stack([jnp.maximum(t_min, 1e-3)] + 4 * [width]), e_max, n)
        return wire, grid, gap_ok

    def fn(p, V):
        def one(pp):
            wire, grid, gap_ok = point(pp)
            VV = jnp.stack([V, jnp.broadcast_to(pp["detector.bias"], V.shape)], -1)
            out = responses_core(wire, grid, VV, 64, None, 0)
            res = {"g_nl": -out["dcharge"][:, 1], "G_inj": out["dcharge"][:, 0], "I_inj": out["charge"][:, 0],
                   "I_det": -out["charge"][:, 1], "spin_det": -out["spin"][:, 1]}
            return res, out["ok"], gap_ok

        return _point_by_point(one, p, "g_nl", "I_det")

    return fn


def _ends(cfg) -> tuple:
    flags = cfg.sections["wire"]["flags"]
    return flags["left_end"], flags["right_end"]


def _wire_window(cfg) -> float:
    """Half width of the energy window of the wire task: max |V_inj| + Delta + h + 30 k_B T + 0.5."""
    def hi(key, default=0.0):
        for a in cfg.axes:
            if a.key == key:
                return float(np.max(np.abs(a.reduced)))
        sec, _, name = key.partition(".")
        v = cfg.sections[sec]["params"].get(name)
        return default if v is None else abs(float(v))

    d = max(hi("material.delta", hi("material.delta0", 1.0)), hi("material.delta0", 1.0))
    h = max(hi("material.h"), hi("material.field"))
    T = max(hi("material.temperature"), hi("injector.temperature"), hi("detector.temperature"))
    v = float(np.max(np.abs(cfg.inner_reduced))) + max(hi("detector.bias"), 0.0)
    return v + max(d + h, 1.0) + 30.0 * T + 0.5


WIRE = Task(
    "wire",
    {
        "g_nl": Output(("V_inj",), "1/R_xi", "non-local conductance dI_det/dV_inj (autodiff)",
                       ("g_nl_S", "S", "wire_G")),
        "G_inj": Output(("V_inj",), "1/R_xi", "local conductance dI_inj/dV_inj", ("G_inj_S", "S", "wire_G")),
        "I_inj": Output(("V_inj",), "Delta0/(e R_xi)", "current into the wire at the injector",
                        ("I_inj_A", "A", "wire_I")),
        "I_det": Output(("V_inj",), "Delta0/(e R_xi)", "current out of the wire at the detector",
                        ("I_det_A", "A", "wire_I")),
        "spin_det": Output(("V_inj",), "Delta0/(e R_xi)", "spin current out of the wire at the detector"),
    },
    _make_wire,
    lambda cfg: 4096.0 * cfg.n_energy * int(cfg.sections["wire"]["params"].get("n_x", 200)),
)

# ------------------------------------------------------------------------------- proximity
def matsubara_count(cfg, omega_max: float = 40.0) -> int:
    """Matsubara frequencies of the Josephson current: enough to reach ``omega_max`` at the lowest
    temperature of the sweep (a fixed number for every point, so that one program serves them all;
    at higher temperatures the sum runs further)."""
    T = sweep_extreme(cfg.sections, cfg.axes, "link.temperature", np.min)
    return int(max(8, np.ceil((omega_max / (np.pi * max(T, 1e-3)) - 1.0) / 2.0)))


def _make_proximity(cfg):
    link = cfg.sections["link"]["params"]
    leads = {s: cfg.sections[s]["params"] for s in ("left", "right")}
    tunnel = "interface" in link
    n_w = matsubara_count(cfg)

    def point(p):
        segs, ok = [], jnp.ones((), bool)
        for s in ("left", "right"):
            lead = dict(p, **{f"{s}.temperature": p["link.temperature"]})  # the leads are at the link's T
            delta, gap_ok = _point_gap(cfg, lead, s)
            ok = ok & gap_ok
            a = _sc_arrays(lead, s, cfg)
            mat = Superconductor(delta=delta, h=a["h"], zeta=a["zeta"], b_so=a["b_so"], b_sf=a["b_sf"],
                                 gamma=a["gamma"])
            segs.append(Segment(mat, float(leads[s]["length"]), n_x=int(leads[s]["n_x"]), phase=p[f"{s}.phase"]))
        normal = Superconductor(delta=0.0, h=p["link.h"], b_so=_param(cfg, p, "link", "b_so"),
                                b_sf=_param(cfg, p, "link", "b_sf"), gamma=p["link.gamma"])
        mid = Segment(normal, float(link["length"]), n_x=int(link["n_x"]))
        interfaces = (Interface(p["link.interface"]),) * 2 if tunnel else None
        return Chain((segs[0], mid, segs[1]), interfaces, temperature=p["link.temperature"]), ok

    def fn(p, E):
        def one(pp):
            chain, gap_ok = point(pp)
            sol = solve_proximity(chain, E, throw=False)
            jc = josephson_current(chain, n_matsubara=n_w)
            dos = sol.dos  # (n_E, n_x, 2)
            res = {"N": 0.5 * (dos[..., 0] + dos[..., 1]), "N_up": dos[..., 0], "N_dn": dos[..., 1],
                   "x": sol.x, "supercurrent": jc.current}
            return res, jnp.all(sol.converged) & jc.converged, gap_ok

        return _point_by_point(one, p, "N", "supercurrent")

    return fn


def _proximity_nodes(cfg) -> int:
    return sum(int(cfg.sections[s]["params"]["n_x"]) for s in ("left", "link", "right"))


PROXIMITY = Task(
    "proximity",
    {
        "N": Output(("energy", "node"), "N_F", "local density of states per spin, (N_up + N_dn)/2"),
        "N_up": Output(("energy", "node"), "N_F", "local density of states, spin up (along the exchange field)"),
        "N_dn": Output(("energy", "node"), "N_F", "local density of states, spin down"),
        "x": Output(("node",), "xi", "position of the node (left lead from 0, link, right lead)"),
        "supercurrent": Output((), "Delta0/(e R_xi)", "Josephson current at the phase difference (Matsubara sum)",
                               ("supercurrent_A", "A", "wire_I")),
    },
    _make_proximity,
    lambda cfg: 3000.0 * (cfg.inner_reduced.size + matsubara_count(cfg)) * _proximity_nodes(cfg),
    lambda cfg: (3 * cfg.inner_reduced.size + 1) * _proximity_nodes(cfg) + 2,
)


# ------------------------------------------------------------------------------------ spin
def _direction(theta_deg, phi_deg):
    """The unit vector at polar angle theta (from z) and azimuth phi (from x), in degrees."""
    t, f = jnp.deg2rad(theta_deg), jnp.deg2rad(phi_deg)
    return jnp.stack([jnp.sin(t) * jnp.cos(f), jnp.sin(t) * jnp.sin(f), jnp.cos(t)])


def _spin_wire(cfg, p, delta):
    """The `SpinWire` of a sweep point: the material with ``delta`` (a number or one per node), the exchange
    field along (wire.theta, wire.phi), and the two ends."""
    w = cfg.sections["wire"]["params"]
    n_x = int(w["n_x"])
    a = _sc_arrays(p, "material", cfg)
    mat = Superconductor(delta=delta, h=a["h"], zeta=a["zeta"], b_so=a["b_so"], b_sf=a["b_sf"], gamma=a["gamma"])
    exchange = jnp.broadcast_to(a["h"] * _direction(p["wire.theta"], p["wire.phi"]), (n_x, 3))
    ends = []
    for s in ("left", "right"):
        kind = cfg.sections[s]["kind"]
        ends.append(SpinActive(p[f"{s}.spin_mixing"], _direction(p[f"{s}.theta"], p[f"{s}.phi"]))
                    if kind == "spin_active" else kind)
    return SpinWire(mat, float(w["length"]), n_x, ends=tuple(ends), exchange=exchange)


def _spin_distribution(p, spin_voltage):
    return SpinDistribution(p["material.temperature"], spin_voltage,
                            _direction(p["distribution.theta"], p["distribution.phi"]))


def _make_spin(cfg):
    n_in = cfg.inner_reduced.size

    def fn(p, E):
        def one(pp):
            a = _sc_arrays(pp, "material", cfg)
            delta, gap_ok = _point_gap(cfg, pp, "material")
            wire = _spin_wire(cfg, pp, delta)
            Vs = pp["distribution.spin_voltage"]
            grid = ssc.energy_grid(Vs, a["T"], n=cfg.n_energy, gamma=a["gamma"], gap=delta)
            sol = solve_spin(wire, jnp.concatenate([E, grid.points]), throw=False)
            spec, on_grid = sol.at_energies(slice(0, n_in)), sol.at_energies(slice(n_in, None))
            ob = observables(on_grid, _spin_distribution(pp, Vs), grid.weights)
            nk = spec.spin_dos()  # (3, 2, n_E, n_x)
            J = jnp.mean(ob.current, axis=0)
            res = {"N": spec.dos(), "S_x": 0.5 * (nk[0, 0] - nk[0, 1]), "S_y": 0.5 * (nk[1, 0] - nk[1, 1]),
                   "S_z": 0.5 * (nk[2, 0] - nk[2, 1]), "x": sol.x, "delta": delta,
                   "J_charge": J[0], "J_x": J[1], "J_y": J[2], "J_z": J[3],
                   "mu_x": ob.spin_accumulation[:, 0], "mu_y": ob.spin_accumulation[:, 1],
                   "mu_z": ob.spin_accumulation[:, 2]}
            return res, jnp.all(sol.converged), gap_ok

        return _point_by_point(one, p, "N", "J_x")

    return fn


_SPIN_CURRENT = "Delta0/(e R_xi) (charge); the same with hbar/2e for spin"
SPIN = Task(
    "spin",
    {
        "N": Output(("energy", "node"), "N_F", "local density of states per spin"),
        "S_x": Output(("energy", "node"), "N_F", "spin-resolved DOS along x: (N_x+ - N_x-)/2"),
        "S_y": Output(("energy", "node"), "N_F", "spin-resolved DOS along y: (N_y+ - N_y-)/2"),
        "S_z": Output(("energy", "node"), "N_F", "spin-resolved DOS along z: (N_z+ - N_z-)/2"),
        "x": Output(("node",), "xi", "position of the node"),
        "delta": Output((), "Delta0", "pair potential of the wire", ("delta_eV", "eV", "energy")),
        "J_charge": Output((), _SPIN_CURRENT, "charge current (mean over the links)"),
        "J_x": Output((), _SPIN_CURRENT, "spin current, x polarisation (mean over the links)"),
        "J_y": Output((), _SPIN_CURRENT, "spin current, y polarisation (mean over the links)"),
        "J_z": Output((), _SPIN_CURRENT, "spin current, z polarisation (mean over the links)"),
        "mu_x": Output(("node",), "Delta0/e", "spin accumulation, x component"),
        "mu_y": Output(("node",), "Delta0/e", "spin accumulation, y component"),
        "mu_z": Output(("node",), "Delta0/e", "spin accumulation, z component"),
    },
    _make_spin,
    lambda cfg: 2500.0 * (cfg.inner_reduced.size + cfg.n_energy) * int(cfg.sections["wire"]["params"]["n_x"]),
    lambda cfg: (4 * cfg.inner_reduced.size + 4) * int(cfg.sections["wire"]["params"]["n_x"]) + 7,
)


# ----------------------------------------------------------------------- spin supercurrent
def _make_spin_supercurrent(cfg):
    n_x = int(cfg.sections["wire"]["params"]["n_x"])
    min_delta = 1e-3

    def fn(p, Vs_all):
        def one(pp):
            a = _sc_arrays(pp, "material", cfg)
            d0 = a["delta0"]
            wire = _spin_wire(cfg, pp, d0)  # the same wire at every spin voltage; Delta(x) is the carry

            def step(carry, Vs):
                start, alive = carry
                dist = _spin_distribution(pp, Vs)
                normal = ssc.energy_grid(Vs, a["T"], n=cfg.n_energy, gamma=a["gamma"], gap=1.0)
                gain = normal_state_gain(wire, dist, normal)
                guess = jnp.mean(start)
                grid = ssc.energy_grid(Vs, a["T"], n=cfg.n_energy, gamma=a["gamma"], gap=guess)

                def solve(_):
                    gs = spin_gap(wire, dist, grid, start=start)
                    ob = observables(gs.solution, dist, grid.weights)
                    return gs.delta, gs.converged, jnp.mean(ob.current[:, 1:], 0)

                def skip(_):
                    return jnp.zeros(n_x), jnp.asarray(True), jnp.zeros(3)

                d, conv, J = jax.lax.cond(alive, solve, skip, None)
                exists = alive & conv & (jnp.mean(d) > min_delta)
                J = jnp.where(exists, J, 0.0)
                out = {"J_x": J[0], "J_y": J[1], "J_z": J[2], "delta_mean": jnp.where(exists, jnp.mean(d), 0.0),
                       "delta_center": jnp.where(exists, d[n_x // 2], 0.0), "normal_gain": gain,
                       "sc_exists": exists.astype(jnp.int8), "bistable": (exists & (gain < 1)).astype(jnp.int8)}
                ok = conv | ~exists
                return (jnp.where(exists, d, start), exists), (out, ok)

            start = d0 * jnp.ones(n_x)
            _, (out, ok) = jax.lax.scan(step, (start, jnp.asarray(True)), Vs_all)
            return out, jnp.all(ok), jnp.asarray(True)

        return _point_by_point(one, p, "J_x", "normal_gain")

    return fn


SPIN_SUPERCURRENT = Task(
    "spin_supercurrent",
    {
        "J_x": Output(("spin_voltage",), _SPIN_CURRENT, "spin current, x polarisation, superconducting branch"),
        "J_y": Output(("spin_voltage",), _SPIN_CURRENT, "spin current, y polarisation, superconducting branch"),
        "J_z": Output(("spin_voltage",), _SPIN_CURRENT, "spin current, z polarisation, superconducting branch"),
        "delta_mean": Output(("spin_voltage",), "Delta0", "mean of Delta(x) on the superconducting branch"),
        "delta_center": Output(("spin_voltage",), "Delta0", "Delta at the centre node"),
        "normal_gain": Output(("spin_voltage",), "1", "largest eigenvalue of the linearised gap map at Delta = 0 "
                                                      "(the normal state is stable below 1)"),
        "sc_exists": Output(("spin_voltage",), "1", "1 where the superconducting branch exists"),
        "bistable": Output(("spin_voltage",), "1", "1 where the superconducting and normal states coexist"),
    },
    _make_spin_supercurrent,
    lambda cfg: 4000.0 * cfg.n_energy * int(cfg.sections["wire"]["params"]["n_x"]) ** 2,
)


# ------------------------------------------------------------------------------- inelastic
def _make_inelastic(cfg):
    w = cfg.sections["wire"]["params"]
    length, n_x = float(w["length"]), int(w.get("n_x", 200))
    pos = [float(cfg.sections[c]["params"]["position"]) for c in ("injector", "detector")]
    col = cfg.sections["collisions"]
    cutoff, spacing = float(col["params"]["cutoff"]), float(col["params"]["spacing"])
    power, modes = float(col["params"]["power_ee"]), col["flags"]["modes"]
    phonons = "collisions.rate_eph" in {a.key for a in cfg.axes} or col["params"]["rate_eph"] > 0
    grid = uniform_grid(cutoff, spacing)
    V_det = jnp.asarray(cfg.extra["V_det"][2])

    def build(p):
        a = _sc_arrays(p, "material", cfg)
        T = a["T"]
        contacts = []
        for c, x in zip(("injector", "detector"), pos, strict=True):
            kappa = p[f"{c}.kappa"] if f"{c}.kappa" in p else p[f"{c}.conductance"] * p["wire.resistance_xi"]
            contacts.append(TunnelContact(x, kappa, NormalMetal(temperature=p.get(f"{c}.temperature", T)),
                                          polarization=p[f"{c}.polarization"], name=c))
        mat = Superconductor(delta=a["delta0"], h=a["h"], zeta=a["zeta"], b_so=a["b_so"], b_sf=a["b_sf"],
                             gamma=a["gamma"])
        q = _param(cfg, p, "wire", "phase_gradient")
        wire = Wire(mat, length, tuple(contacts), temperature=T, phase_gradient=q, n_x=n_x, ends=_ends(cfg))
        collisions = [ElectronElectron(rate=p["collisions.rate_ee"], power=power, modes=modes)]
        if phonons:
            collisions.append(ElectronPhonon(rate=p["collisions.rate_eph"], temperature=T, modes=modes))
        gap = GapEquation(cutoff=cutoff, coupling=1.0 / jnp.arcsinh(cutoff / a["delta0"]), start=a["delta0"])
        return wire, tuple(collisions), gap

    base = {k: jnp.asarray(v[0]) for k, v in cfg.point_params(np.zeros(1, int)).items()}
    wire0, collisions0, gap0 = build(base)  # the static setup (nodes, grid) is the same at every point
    st = inelastic_setup(wire0, grid, collisions0, gap0, None, 8)

    def fn(p, V_inj):
        def one(pp):
            wire, collisions, gap = build(pp)
            I, g, gN, gS, dl, ddl, out = map_core(wire, collisions, gap, V_inj, st, grid, V_det, 0, 1)
            conv = jnp.all(out.converged.reshape(V_inj.shape[0], -1), axis=-1)
            res = {"delta": dl, "d_delta": ddl, "I_det": I, "g_nl": g, "g_sa": gN, "g_ss": gS,
                   "converged": conv.astype(jnp.int8)}
            return res, conv, jnp.asarray(True)

        return _point_by_point(one, p, "delta", "g_nl")

    return fn


INELASTIC = Task(
    "inelastic",
    {
        "delta": Output(("V_inj",), "Delta0", "self-consistent Delta at the injector", ("delta_eV", "eV", "energy")),
        "d_delta": Output(("V_inj",), "Delta0/(Delta0/e)", "dDelta/dV_inj (implicit differentiation)"),
        "I_det": Output(("V_inj", "V_det"), "Delta0/(e R_xi)", "current out of the wire at the detector",
                        ("I_det_A", "A", "wire_I")),
        "g_nl": Output(("V_inj", "V_det"), "1/R_xi", "non-local conductance dI_det/dV_inj (exact derivative)",
                       ("g_nl_S", "S", "wire_G")),
        "g_sa": Output(("V_inj", "V_det"), "1/R_xi", "part of g_nl from the Delta modulation of the detector DOS"),
        "g_ss": Output(("V_inj", "V_det"), "1/R_xi", "part of g_nl from the charge imbalance"),
        "converged": Output(("V_inj",), "1", "1 where the continuation point converged"),
    },
    _make_inelastic,
    lambda cfg: 64.0 * (2 * float(cfg.sections["collisions"]["params"]["cutoff"])
                        / float(cfg.sections["collisions"]["params"]["spacing"])) ** 2
    * int(cfg.sections["wire"]["params"].get("n_x", 200)),
    lambda cfg: (4 * cfg.extra["V_det"][2].size + 3) * cfg.inner_reduced.size + 1,
)

TASKS = {t.name: t for t in (DOS, JUNCTION, WIRE, PROXIMITY, SPIN, SPIN_SUPERCURRENT, INELASTIC)}
