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

from ..geometry import TunnelContact, Wire
from ..grids import merged_grid
from ..junction import evaluate
from ..kinetic.solve import responses_core
from ..materials import NormalMetal, Superconductor
from ..selfconsistency import gap_jit, gap_params
from ..spectral.bulk import green_functions

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


def _sc_arrays(p: dict, s: str):
    """Reduced superconductor parameters of section ``s`` for a chunk, in units of the reference gap."""
    d0 = p[f"{s}.delta0"]
    h = p.get(f"{s}.h", p.get(f"{s}.field", jnp.zeros_like(d0)))
    if f"{s}.r_orb" in p:  # zeta = r_orb B^2; the configuration gives r_orb per (h / Delta0)^2
        zeta = p[f"{s}.r_orb"] * h**2
    else:
        zeta = p.get(f"{s}.zeta", jnp.zeros_like(d0))
    return dict(delta0=d0, T=p[f"{s}.temperature"], h=h, zeta=zeta, b_so=p[f"{s}.b_so"], b_sf=p[f"{s}.b_sf"],
                gamma=p[f"{s}.gamma"])


def _pair_breaking(cfg, s: str) -> bool:
    """Whether section ``s`` may have orbital depairing, spin-orbit or spin-flip scattering (any of them
    swept or nonzero); if not, the gap equation takes the closed-form Matsubara functions."""
    swept = {ax.key for ax in cfg.axes}
    params = cfg.sections[s]["params"]
    return any(f"{s}.{k}" in swept or params.get(k, 0.0) != 0.0 for k in ("zeta", "r_orb", "b_so", "b_sf"))


def _pair_potential(a: dict, self_consistent: bool, delta_fixed, pair_breaking: bool = True):
    """Delta of a chunk: self-consistent (the gap equation in units of the material's own delta0) or fixed.

    The Dynes broadening is a phenomenological broadening of the spectra and does not enter the gap
    equation (as in `jaxqp.devices.thermospin`); pair breaking belongs in ``zeta`` or ``b_sf``.
    ``pair_breaking=False`` (the configuration fixes zeta, b_so and b_sf at zero) hands the gap
    equation known zeros, so that it uses the closed-form Matsubara functions.
    """

    if not self_consistent:
        return delta_fixed, jnp.ones(delta_fixed.shape, bool)
    d0 = a["delta0"]
    if pair_breaking:
        prm, kind = gap_params(a["h"] / d0, a["zeta"] / d0, a["b_so"] / d0, a["b_sf"] / d0, 0.0, None)
    else:
        prm, kind = gap_params(a["h"] / d0, 0.0, 0.0, 0.0, 0.0, None)
    delta = d0 * gap_jit(a["T"] / d0, prm, kind)
    return delta, jnp.isfinite(delta)


def _status(spectral_ok, gap_ok, *values):
    finite = jnp.ones(spectral_ok.shape, bool)
    for v in values:
        finite = finite & jnp.all(jnp.isfinite(v.reshape(v.shape[0], -1)), axis=-1)
    return jnp.where(~gap_ok, 2, jnp.where(~spectral_ok, 1, jnp.where(~finite, 3, 0))).astype(jnp.int8)


# ------------------------------------------------------------------------------------- dos
def _make_dos(cfg):
    sc = cfg.sections["material"]["flags"]["self_consistent"]

    def fn(p, E):
        a = _sc_arrays(p, "material")
        delta, gap_ok = _pair_potential(a, sc, p.get("material.delta"), _pair_breaking(cfg, "material"))
        col = lambda x: x[:, None]  # noqa: E731
        _, g, _, ok = green_functions(E[None, :] + 1j * col(a["gamma"]), col(a["h"]), col(jnp.nan_to_num(delta)),
                                      col(a["zeta"]), col(a["b_so"]), col(a["b_sf"]))
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
    col = lambda x: x[:, None]  # noqa: E731
    if cfg.sections[s]["kind"] == "normal":
        return NormalMetal(temperature=col(p[f"{s}.temperature"]), spin_bias=col(p[f"{s}.spin_bias"])), \
            jnp.ones(p[f"{s}.temperature"].shape, bool), None
    a = _sc_arrays(p, s)
    delta, gap_ok = _pair_potential(a, cfg.sections[s]["flags"]["self_consistent"], p.get(f"{s}.delta"),
                                    _pair_breaking(cfg, s))
    el = Superconductor(delta=col(jnp.nan_to_num(delta)), h=col(a["h"]), zeta=col(a["zeta"]), b_so=col(a["b_so"]),
                        b_sf=col(a["b_sf"]), gamma=col(a["gamma"]), temperature=col(a["T"]))
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
        a = _sc_arrays(p, "material")
        delta, gap_ok = _pair_potential(a, sc_flag, p.get("material.delta"), _pair_breaking(cfg, "material"))
        delta = jnp.nan_to_num(delta)
        q = p["wire.phase_gradient"]
        T = a["T"]
        contacts = []
        for c, x in zip(("injector", "detector"), pos, strict=False):
            kappa = p[f"{c}.kappa"] if f"{c}.kappa" in p else p[f"{c}.conductance"] * p["wire.resistance_xi"]
            Tc = p.get(f"{c}.temperature", T)
            contacts.append(TunnelContact(x, kappa, NormalMetal(temperature=Tc, bias=p[f"{c}.bias"]),
                                          polarization=p[f"{c}.polarization"], name=c))
        mat = Superconductor(delta=delta, h=a["h"], zeta=a["zeta"], b_so=a["b_so"], b_sf=a["b_sf"], gamma=a["gamma"])
        wire = Wire(mat, length, tuple(contacts), temperature=T, phase_gradient=q, n_x=n_x)
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

        res, ok, gap_ok = jax.lax.map(one, p)
        res["status"] = _status(jnp.all(ok.reshape(ok.shape[0], -1), axis=-1), gap_ok, res["g_nl"], res["I_det"])
        return res

    return fn


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

TASKS = {t.name: t for t in (DOS, JUNCTION, WIRE)}
