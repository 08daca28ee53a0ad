"""The main job: seed 004 (thermospin effect in S-I-Sm junctions), figures 2 and 3,
and the non-local conductance of the seed 001 wire.

``jaxqp demo`` runs `run`: self-consistent gaps, current-voltage
characteristics, the zero-bias conductance map G0(T_S, h), the Seebeck
voltage |V_S|(h), G_max and the spin current at the inner matching peak over
(T_S, h), writes everything to one netCDF file with labelled axes and units,
and draws the two figures as PNG.  It then computes the non-local conductance
map g_nl(V_inj, V_det) of the seed 001 device (junctions A/B) and the
charge-imbalance signal g_ss(V_inj) for several phase gradients (seed 001
Fig. 10 style), written to ``nonlocal.nc`` and ``fig_nonlocal.png``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import io as jio
from ..devices import thermospin as ts
from ..selfconsistency import TC0, gap


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    n_T: int = 48  #: temperatures T_S of the maps
    n_h: int = 48  #: exchange fields h of the maps
    T_S_range: tuple = (0.05, 0.95)  #: in units of Tc
    h_max: float = 0.7
    n_V: int = 401  #: biases of the IV curves
    V_max: float = 2.5
    n_energy: int = 2001  #: nodes of each adaptive energy grid
    gamma: float = 1e-4  #: Dynes broadening
    T_Sm: float = 0.01  #: in units of Tc
    T_S_iv: float = 0.7  #: in units of Tc, IV curves (Fig. 2a, 3a-b)
    h_iv: tuple = (0.0, 0.1, 0.2, 0.4)
    T_S_seebeck: tuple = (0.5, 0.6, 0.7, 0.8)  #: in units of Tc (Fig. 2c)
    n_h_seebeck: int = 29
    chunks: int = 8  #: map rows per progress step = n_T / chunks
    n_nonlocal: int = 121  #: biases per axis of the seed 001 non-local map
    nonlocal_V_max: float = 3.5
    phase_gradients: tuple = (0.0, 0.1, 0.2, 0.3)  #: d_x phi (units 1/xi) for the g_ss curves
    n_x: int = 200  #: position nodes of the wire
    n_energy_nonlocal: int = 2001  #: energies of the kinetic problem

    @classmethod
    def quick(cls) -> DemoConfig:
        return cls(n_T=12, n_h=12, n_V=121, n_energy=801, n_h_seebeck=8, chunks=2, n_nonlocal=41,
                   phase_gradients=(0.0, 0.2), n_x=120, n_energy_nonlocal=1201)


def run(out_dir: str | Path = "jaxqp-demo", *, config: DemoConfig | None = None,
        progress: Callable[[str, float], None] | None = None) -> dict[str, Path]:
    """Compute the seed 004 reproduction; returns the paths written."""
    cfg = config or DemoConfig()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = progress or (lambda msg, frac: None)
    t0 = time.perf_counter()
    T_Sm = cfg.T_Sm * TC0
    n = cfg.n_energy

    say("self-consistent gaps", 0.0)
    T_S = np.linspace(cfg.T_S_range[0], cfg.T_S_range[1], cfg.n_T) * TC0
    h = np.linspace(0.0, cfg.h_max, cfg.n_h)
    dS = np.asarray(gap(T_S))
    dSm = np.asarray(gap(T_Sm, h=h))

    say("current-voltage characteristics", 0.05)
    V = np.linspace(-cfg.V_max, cfg.V_max, cfg.n_V)
    h_iv = np.asarray(cfg.h_iv)
    j_iv = ts.ThermospinJunction(h=h_iv[:, None], T_S=cfg.T_S_iv * TC0, T_Sm=T_Sm, gamma=cfg.gamma)
    I_iv = ts.currents(V[None, :], j_iv, n_energy=n)

    say("zero-bias conductance and matching-peak maps", 0.15)
    G0 = np.empty((cfg.n_T, cfg.n_h))
    Gmax = np.empty_like(G0)
    Is_peak = np.empty_like(G0)
    Vp = np.empty_like(G0)
    rows = np.array_split(np.arange(cfg.n_T), cfg.chunks)
    width = max(len(r) for r in rows)
    for k, r in enumerate(rows):
        rr = np.pad(r, (0, width - len(r)), mode="edge")  # same shape every chunk: one compilation
        j = ts.ThermospinJunction(h=h[None, :], T_S=T_S[rr, None], T_Sm=T_Sm, gamma=cfg.gamma,
                                  delta_S=dS[rr, None], delta_Sm=dSm[None, :])
        G0[r] = np.asarray(ts.g0(j, n_energy=n))[: len(r)]
        pk = ts.at_inner_peak(j, n_energy=n)
        Gmax[r] = np.asarray(pk["G_max"])[: len(r)]
        Is_peak[r] = np.asarray(pk["current"].spin)[: len(r)]
        Vp[r] = np.asarray(pk["V_p"])[: len(r)]
        say("zero-bias conductance and matching-peak maps", 0.15 + 0.6 * (k + 1) / len(rows))

    say("Seebeck voltages", 0.75)
    T_sb = np.asarray(cfg.T_S_seebeck) * TC0
    h_sb = np.linspace(0.0, cfg.h_max, cfg.n_h_seebeck)
    dSm_sb = np.asarray(gap(T_Sm, h=h_sb))
    j_sb = ts.ThermospinJunction(h=h_sb[None, :], T_S=T_sb[:, None], T_Sm=T_Sm, gamma=cfg.gamma,
                                 delta_S=np.asarray(gap(T_sb))[:, None], delta_Sm=dSm_sb[None, :])
    VS, found = ts.seebeck_voltage(j_sb, n_energy=n)

    say("writing results", 0.9)
    ht = np.asarray(ts.threshold_field(T_S, T_Sm))
    ht_est = np.asarray(ts.threshold_field_estimate(T_S))
    U = jio.UNITS
    ds = jio.dataset(
        {
            "delta_S": jio.variable(["T_S"], dS, "Delta0", "self-consistent gap of S"),
            "delta_Sm": jio.variable(["h"], dSm, "Delta0", "self-consistent gap of Sm"),
            "h_threshold": jio.variable(["T_S"], ht, "Delta0", "threshold field Delta(T_Sm) - Delta(T_S)"),
            "h_threshold_estimate": jio.variable(["T_S"], ht_est, "Delta0", "seed 004 estimate of h_t"),
            "G0": jio.variable(["T_S", "h"], G0, U["conductance"], "zero-bias conductance G0"),
            "G_max": jio.variable(["T_S", "h"], Gmax, U["conductance"], "I_q(V_p^-)/V_p^-"),
            "I_s_peak": jio.variable(["T_S", "h"], Is_peak, U["current"], "spin current at V_p^-"),
            "V_p_minus": jio.variable(["T_S", "h"], Vp, U["bias"], "inner matching-peak voltage"),
            "I_up": jio.variable(["h_iv", "V"], I_iv.up, U["current"], "spin-up current"),
            "I_dn": jio.variable(["h_iv", "V"], I_iv.dn, U["current"], "spin-down current"),
            "I_q": jio.variable(["h_iv", "V"], I_iv.charge, U["current"], "charge current I_up + I_dn"),
            "I_s": jio.variable(["h_iv", "V"], I_iv.spin, U["current"], "spin current I_up - I_dn"),
            "SGE": jio.variable(["h_iv", "V"], ts.spin_generation_efficiency(I_iv), "1",
                                "spin-current generation efficiency"),
            "V_S": jio.variable(["T_S_seebeck", "h_seebeck"], np.asarray(VS), U["bias"], "Seebeck voltage"),
            "V_S_found": jio.variable(["T_S_seebeck", "h_seebeck"], np.asarray(found), None,
                                      "a Seebeck voltage exists"),
        },
        {
            "T_S": jio.variable(["T_S"], T_S, U["temperature"], "temperature of S"),
            "h": jio.variable(["h"], h, "Delta0", "exchange field in Sm"),
            "h_iv": jio.variable(["h_iv"], h_iv, "Delta0", "exchange field in Sm"),
            "V": jio.variable(["V"], V, U["bias"], "bias of S relative to Sm"),
            "T_S_seebeck": jio.variable(["T_S_seebeck"], T_sb, U["temperature"], "temperature of S"),
            "h_seebeck": jio.variable(["h_seebeck"], h_sb, "Delta0", "exchange field in Sm"),
        },
        config=dict(dataclasses.asdict(cfg), T_Sm_abs=T_Sm, Tc=TC0),
        title="Thermospin effect in S-I-Sm junctions (seed 004, Figs. 2 and 3)",
    )
    ds.attrs["T_Sm"] = T_Sm
    ds.attrs["T_S_iv"] = cfg.T_S_iv * TC0
    ds.attrs["gamma"] = cfg.gamma
    ds.attrs["wall_time_s"] = time.perf_counter() - t0
    paths = {"data": jio.save(ds, out / "thermospin.nc")}

    say("drawing figures", 0.8)
    paths.update(figures(ds, out))
    paths.update(run_nonlocal(out, cfg, say))
    say("done", 1.0)
    return paths


def run_nonlocal(out: Path, cfg: DemoConfig, say) -> dict[str, Path]:
    """Seed 001: g_nl(V_inj, V_det) of junctions A -> B, and g_ss(V_inj) for several phase gradients."""
    import matplotlib.pyplot as plt

    from ..devices import nonlocal_wire as nw
    from ..kinetic import nonlocal_conductance
    from ..observables import symmetry_decomposition
    from ..plot import save_figure

    say("seed 001: non-local conductance map", 0.85)
    t0 = time.perf_counter()
    wire = nw.device(("A", "B"), n_x=cfg.n_x)
    Vb = np.linspace(-cfg.nonlocal_V_max, cfg.nonlocal_V_max, cfg.n_nonlocal)
    m = nonlocal_conductance(wire, Vb, Vb, n_energy=cfg.n_energy_nonlocal)
    rxi = nw.r_xi_ohm()
    kap_i, kap_d = float(wire.contacts[0].kappa), float(wire.contacts[1].kappa)
    g_norm = np.asarray(m.g_nl) / (kap_i * kap_d)  # g_nl / (G_inj G_det R_xi), dimensionless
    say("seed 001: supercurrent dependence", 0.9)
    qs = np.array(sorted(set(cfg.phase_gradients) | {-q for q in cfg.phase_gradients}))
    g_q, I_s = nw.supercurrent_map(wire, Vb, qs, 0.0, n_energy=cfg.n_energy_nonlocal)
    dec = symmetry_decomposition(g_q, Vb, qs, inj_axis=0, is_axis=1)
    U = jio.UNITS
    ds = jio.dataset(
        {
            "g_nl": jio.variable(["V_inj", "V_det"], np.asarray(m.g_nl), "1/R_xi", "dI_det/dV_inj"),
            "g_nl_normalized": jio.variable(["V_inj", "V_det"], g_norm, "1", "g_nl / (G_inj G_det R_xi)"),
            "G_inj": jio.variable(["V_inj", "V_det"], np.asarray(m.G_inj), "1/R_xi", "local conductance"),
            "g_ss": jio.variable(["V_inj", "q"], np.asarray(dec["g_ss"]), "1/R_xi",
                                 "part of g_nl even in V_inj and I_s"),
            "g_a": jio.variable(["V_inj", "q"], np.asarray(dec["g_a"]), "1/R_xi", "part of g_nl odd in I_s"),
            "I_s": jio.variable(["q"], np.asarray(I_s), "Delta0/(e R_xi)", "supercurrent"),
        },
        {
            "V_inj": jio.variable(["V_inj"], Vb, U["bias"], "injector bias"),
            "V_det": jio.variable(["V_det"], Vb, U["bias"], "detector bias"),
            "q": jio.variable(["q"], qs, "1/xi", "phase gradient d_x phi"),
        },
        config=dict(pair="AB", R_xi_ohm=rxi, n_energy=cfg.n_energy_nonlocal, n_x=cfg.n_x, length_xi=wire.length,
                    gamma=float(np.asarray(wire.material.gamma))),
        title="Non-local conductance of a superconducting wire (seed 001)",
    )
    ds.attrs["wall_time_s"] = time.perf_counter() - t0
    paths = {"nonlocal_data": jio.save(ds, out / "nonlocal.nc")}

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.5))
    if np.max(np.ptp(g_norm, axis=1)) <= 1e-9 * np.max(np.abs(g_norm)):
        # normal-metal electrodes: g_nl does not depend on V_det, so one curve says everything
        ax[0].plot(Vb, g_norm[:, 0], "C0")
        ax[0].axhline(0.0, color="k", lw=0.5)
        ax[0].set(xlabel=r"$eV_{inj}/\Delta_0$", ylabel=r"$g_{nl}/(G_{inj}G_{det}R_\xi)$",
                  title="seed 001: A → B, elastic (any $V_{det}$)")
    else:
        lim = float(np.percentile(np.abs(g_norm), 99.5)) or 1.0
        im = ax[0].pcolormesh(Vb, Vb, g_norm.T, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
        fig.colorbar(im, ax=ax[0], label=r"$g_{nl}/(G_{inj}G_{det}R_\xi)$")
        ax[0].set(xlabel=r"$eV_{inj}/\Delta_0$", ylabel=r"$eV_{det}/\Delta_0$", title="seed 001: A → B, elastic")
    pos = qs >= 0
    for j in np.nonzero(pos)[0]:
        ax[1].plot(Vb, np.asarray(dec["g_ss"])[:, j] / (kap_i * kap_d), label=rf"$q = {qs[j]:.2f}/\xi$")
    ax[1].set(xlabel=r"$eV_{inj}/\Delta_0$", ylabel=r"$g_{ss}/(G_{inj}G_{det}R_\xi)$",
              title="charge-imbalance signal vs supercurrent (Fig. 10)")
    ax[1].legend()
    fig.tight_layout()
    paths["fig_nonlocal"] = out / "fig_nonlocal.png"
    save_figure(fig, paths["fig_nonlocal"])
    return paths


_V = r"$eV/\Delta_0$"
_H = r"$h/\Delta_0$"


def _label_map(da, name: str, units: str) -> None:
    """Mathtext labels of a (T_S/Tc, h) map for `jaxqp.plot.map_panel` (in place)."""
    da.attrs.update(long_name=name, units=units)
    da.T_S.attrs.update(long_name=r"$T_S/T_c$", units="")
    da.h.attrs.update(long_name=r"$h/\Delta_0$", units="")


def figures(ds, out: Path) -> dict[str, Path]:
    """Seed 004 Figs. 2 and 3 from the demo dataset."""
    import matplotlib.pyplot as plt

    from ..plot import map_panel, save_figure

    tc = TC0
    paths = {}
    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    a = ax[0, 0]
    for i, hv in enumerate(ds.h_iv.values):
        a.plot(ds.V, ds.I_q[i], label=rf"$h = {hv:.1f}\,\Delta_0$")
    a.set_xlabel(_V)
    a.set_ylabel(r"$I_q$ [$G_T\Delta_0/e$]")
    a.set_title(rf"(a) $T_S = {ds.attrs['T_S_iv'] / tc:.2f}\,T_c$, $T_{{Sm}} = {ds.attrs['T_Sm'] / tc:.2f}\,T_c$")
    a.set_xlim(-1.2, 1.2)
    a.set_ylim(-0.6, 0.6)
    a.legend()
    G0 = ds.G0.assign_coords(T_S=ds.T_S / tc)
    _label_map(G0, r"$G_0$", r"$G_T$")
    map_panel(ax[0, 1], G0, title="(b) zero-bias conductance (colour saturated)", percentile=95)
    ax[0, 1].plot(ds.h_threshold, ds.T_S / tc, "k--", lw=1, label=r"$h_t$")
    ax[0, 1].legend(loc="lower left", fontsize="small")
    a = ax[1, 0]
    for i, t in enumerate(ds.T_S_seebeck.values):
        a.plot(ds.h_seebeck, np.abs(ds.V_S[i]), "o-", ms=3, label=rf"$T_S = {t / tc:.1f}\,T_c$")
    a.set_xlabel(_H)
    a.set_ylabel(r"$|V_S|$ [$\Delta_0/e$]")
    a.set_title("(c) Seebeck voltage")
    a.legend()
    Gm = ds.G_max.assign_coords(T_S=ds.T_S / tc)
    _label_map(Gm, r"$G_{max} = I_q(V_p^-)/V_p^-$", r"$G_T$")
    map_panel(ax[1, 1], Gm, title="(d) conductance at the matching peak (colour saturated)", percentile=95)
    ax[1, 1].plot(ds.h_threshold, ds.T_S / tc, "k--", lw=1, label=r"$h_t$")
    ax[1, 1].legend(loc="lower left", fontsize="small")
    fig.tight_layout()
    paths["fig2"] = out / "fig2_thermoelectric.png"
    save_figure(fig, paths["fig2"])

    fig, ax = plt.subplots(2, 2, figsize=(11, 8.5))
    i4 = int(np.argmin(np.abs(ds.h_iv.values - 0.4)))
    a = ax[0, 0]
    for name, tex, style in (("I_q", r"$I_q$", "-"), ("I_up", r"$I_\uparrow$", "-"), ("I_dn", r"$I_\downarrow$", "-"),
                             ("I_s", r"$I_s$", "--")):
        a.plot(ds.V, ds[name][i4], style, label=tex)
    a.set_xlim(-0.8, 0.8)
    a.set_ylim(-0.5, 0.5)
    a.set_xlabel(_V)
    a.set_ylabel(r"current [$G_T\Delta_0/e$]")
    a.set_title(rf"(a) $h = {ds.h_iv.values[i4]:.1f}\,\Delta_0$")
    a.legend()
    a = ax[0, 1]  # the dimensionless efficiency on its own axis, the currents on a second one
    a.plot(ds.V, ds.SGE[i4], "C0", label="SGE")
    a.set_xlim(-0.8, 0.8)
    a.set_ylim(-1.05, 1.05)
    a.set_xlabel(_V)
    a.set_ylabel(r"SGE $= I_s/(|I_\uparrow| + |I_\downarrow|)$", color="C0")
    a.set_title("(b) spin-current generation efficiency")
    b = a.twinx()
    b.plot(ds.V, ds.I_q[i4], "C1", lw=0.8, label=r"$I_q$")
    b.plot(ds.V, ds.I_s[i4], "C2--", lw=0.8, label=r"$I_s$")
    b.set_ylabel(r"current [$G_T\Delta_0/e$]")
    window = np.abs(ds.V.values) <= 0.8
    top = 1.05 * float(np.nanmax(np.abs(np.concatenate([ds.I_q[i4].values[window], ds.I_s[i4].values[window]]))))
    b.set_ylim(-top, top)
    lines = a.get_lines() + b.get_lines()
    a.legend(lines, [ln.get_label() for ln in lines], loc="lower right")
    Isp = ds.I_s_peak.assign_coords(T_S=ds.T_S / tc)
    _label_map(Isp, r"$I_s(V_p^-)$", r"$G_T\Delta_0/e$")
    map_panel(ax[1, 0], Isp, title=r"(c) spin current at $V_p^-$")
    ax[1, 0].plot(ds.h_threshold, ds.T_S / tc, "w--", lw=1, label=r"$h_t$")  # white on the sequential map
    ax[1, 0].legend(loc="lower left", fontsize="small")
    a = ax[1, 1]
    for frac in (0.5, 0.6, 0.7, 0.8, 0.9):
        k = int(np.argmin(np.abs(ds.T_S.values / tc - frac)))
        a.plot(ds.h, ds.I_s_peak[k], label=rf"$T_S = {ds.T_S.values[k] / tc:.2f}\,T_c$")
    a.set_xlabel(_H)
    a.set_ylabel(r"$I_s(V_p^-)$ [$G_T\Delta_0/e$]")
    a.set_title("(d) cuts of (c)")
    a.legend()
    fig.tight_layout()
    paths["fig3"] = out / "fig3_thermospin.png"
    save_figure(fig, paths["fig3"])
    return paths
