# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Worked inferences of seeds 000 and 001 on synthetic data with known truth
#
# Seed 000: M. Kuzmanovic, B. Y. Wu, M. Weideneder, C. H. L. Quay and M. Aprili, Evidence for
# spin-dependent energy transport in a superconductor, Nat. Commun. 11, 4336 (2020);
# arXiv:2001.04422. https://doi.org/10.1038/s41467-020-18161-w
#
# Seed 001: K. M. Ryan, D. Beckmann and V. Chandrasekhar, Non-local tunneling spectroscopy of
# inelastic quasiparticle relaxation in superconducting 1-D wires, arXiv:2604.26862 (2026).
# https://arxiv.org/abs/2604.26862
#
# Each section simulates a measurement with `jaxqp.inference.models`, adds white noise, writes it to a
# file with units the way a data-acquisition script would, reads it back with
# `jaxqp.inference.data.load` and fits it with `jaxqp.inference.models.fit_data`. Every fitted value is compared
# with the truth it was simulated from, in units of its reported standard error (the "pull").
#
# 1. Seed 001, Table 1: an N-I-S conductance curve measured through a bias offset and a series
#    resistance, fitted from Python and from a TOML configuration (`jaxqp.app.fitconfig.run`).
# 2. Seed 000, Fig. 2a: the spin-split injector conductance vs bias and in-plane field.
# 3. Seed 001, Fig. 10: the lifetime Gamma from the charge-imbalance signal, the phase gradient
#    q at each supercurrent, and I_0 from the supercurrent relation, Eq. (6).
# 4. A non-local conductance map g_nl(V_inj, V_det) from the kinetic engine.
#
# Files and figures are written to `notebook-output/` (created in the working directory).
# Small energy grids keep the whole notebook at a few minutes on a laptop CPU; `JAXQP_FAST=1` (CI)
# shrinks them further and uses fewer data points and fit starts.

# %%
import json
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxqp.app import fitconfig
from jaxqp.inference import data, models
from jaxqp.plot import save_figure

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)
rng = np.random.default_rng(2024)
t_start = time.time()


def compare(res, truth, scale=None):
    """Print fitted value +- standard error next to the truth, and the pull (fit - truth)/error."""
    scale = scale or {}
    print(f"{'parameter':>10s} {'fit':>14s} {'+-':>10s} {'truth':>12s} {'pull':>7s}  unit")
    for k, v in truth.items():
        f, u = scale.get(k, (1.0, res.units.get(k, "")))
        e = res.stderr[k]
        pull = (res.values[k] - v) / e if e > 0 else float("nan")
        print(f"{k:>10s} {res.values[k] * f:14.6g} {e * f:10.3g} {v * f:12.6g} {pull:7.2f}  {u}")


def elapsed(label):
    print(f"[{label}: {time.time() - t_start:.1f} s since the start]")


# %% [markdown]
# ## 1. Seed 001, Table 1: an NIS curve with a bias offset and a series resistance
#
# The junction parameters are close to junction A of seed 001 (Delta = 266 ueV, T_e = 61 mK,
# G_N = 24.6 uS) with a small Dynes broadening. The measured bias `V_m` is swept on a uniform
# grid; the junction sees `V_j`, with `V_m - V_offset = V_j + R_series I(V_j)`, and the
# measured conductance is `G/(1 + R_series G)`. `Corrected` solves this relation by Newton's
# method inside the model, so the simulated curve is exactly what the fit model predicts.
# Eight Newton steps reach machine precision here (the default, 30, is on the safe side).

# %%
N_E_NIS = 201 if FAST else 401
nis = models.Corrected(models.NISConductance(n_energy=N_E_NIS), bias_offset=True, series_resistance=True,
                       newton_steps=8)
nis_truth = dict(delta=266.0, gamma=0.8, T=0.061, G_N=24.6e-6, V_offset=7e-6, R_series=1200.0)
V_m = np.linspace(-0.6e-3, 0.6e-3, 81 if FAST else 161)  # measured bias (V)
G_true = np.asarray(nis({"bias": jnp.asarray(V_m)}, **nis_truth))
dG = 0.004 * nis_truth["G_N"]  # noise (S), known from the lock-in
G_meas = G_true + dG * rng.standard_normal(V_m.size)

# what the acquisition script writes: mV and uS, with the units in the header
nis_csv = OUT / "nis_curve.csv"
np.savetxt(nis_csv, np.column_stack([V_m * 1e3, G_meas * 1e6, np.full(V_m.size, dG * 1e6)]),
           delimiter=", ", header="bias [mV], G [uS], dG [uS]", comments="", fmt="%.10g")
print(nis_csv.read_text().splitlines()[:3])

# %% [markdown]
# Load it back: the header gives the units, `load` converts everything to SI (V, S) and takes
# the standard deviations from the `dG` column. The start values are given in whatever unit is
# convenient (meV, mK, uS, kOhm); `fit_data` converts them to the model's units. Four random
# starts around them run as one vectorised program. A random start of a parameter with one
# bound is drawn within a factor of 3 of its distance to the bound: the lower bound of 0.2 meV
# on Delta keeps every start's gap inside the bias window (a start with the gap beyond the
# window sees a flat zero curve, and Levenberg-Marquardt stalls there until its step cap, which
# all starts of the vectorised program then wait for).

# %%
meas = data.load(nis_csv, sigma="dG")
print("coordinates:", {k: (v.size, meas.units[k]) for k, v in meas.coords.items()}, " values in", meas.units["G"])
G_N_start = float(np.mean(meas.values[np.abs(meas.coords["bias"]) > 0.5e-3]))  # the high-bias plateau
nis_starts = {
    "delta": {"start": 0.25, "lower": 0.2, "unit": "meV"},
    "gamma": {"start": 2.0, "unit": "ueV"},
    "T": {"start": 100.0, "unit": "mK"},
    "G_N": {"start": round(G_N_start * 1e6, 2), "unit": "uS"},
    "R_series": {"start": 0.5, "unit": "kOhm"},
    "V_offset": {"start": 0.0, "unit": "uV"},
}
t0 = time.time()
res_nis = models.fit_data(nis, meas, nis_starts, n_starts=2 if FAST else 4)
print(f"fit time {time.time() - t0:.1f} s")
print(res_nis.summary())
compare(res_nis, nis_truth, scale={"G_N": (1e6, "uS"), "V_offset": (1e6, "uV")})
print("correlation (delta, gamma, T, G_N, V_offset, R_series):\n", np.round(res_nis.correlation, 2))
res_nis.to_json(OUT / "nis_fit.json")
fig = res_nis.plot(meas.coords["bias"] * 1e3, meas.values, xlabel="V_m [mV]", ylabel="dI/dV [S]")
save_figure(fig, OUT / "nis_fit.png")
elapsed("NIS")

# %% [markdown]
# ### The same fit from a configuration file
#
# `jaxqp fit nis.toml` (or `jaxqp.app.fitconfig.run`) runs a fit described in TOML: model,
# corrections, data file (relative to the configuration file), parameter starts with units
# and fit options. It writes `report.json`, `fit.png` and `fit.nc` (data, model and residuals).
# The corrected model takes its default 30 Newton steps here, so one start is run (the four
# random starts above all reached the same minimum); `n_starts = 4` under `[fit]` runs them too.

# %%
toml_text = f"""
model = "nis"

[model_options]
n_energy = {N_E_NIS}

[corrections]
bias_offset = true
series_resistance = true

[data]
file = "{nis_csv.name}"
sigma = "dG"

[parameters]
delta = {{ start = 0.25, lower = 0.2, unit = "meV" }}
gamma = {{ start = 2.0, unit = "ueV" }}
T = {{ start = 100.0, unit = "mK" }}
G_N = {{ start = {nis_starts["G_N"]["start"]}, unit = "uS" }}
R_series = {{ start = 0.5, unit = "kOhm" }}
V_offset = {{ start = 0.0, unit = "uV" }}

[fit]
method = "lm"
# n_starts = 4
"""
cfg_path = OUT / "nis.toml"
cfg_path.write_text(toml_text)
res_cfg, files = fitconfig.run(cfg_path, out=OUT / "nis-toml-fit")
print(res_cfg.summary())
print("written:", {k: str(v) for k, v in files.items()})
print(f"{'parameter':>10s} {'Python':>14s} {'TOML':>14s} {'diff/error':>10s}")
for k in res_nis.free:
    print(f"{k:>10s} {res_nis.values[k]:14.8g} {res_cfg.values[k]:14.8g} "
          f"{(res_cfg.values[k] - res_nis.values[k]) / res_nis.stderr[k]:10.2e}")
print("report.json keys:", sorted(json.loads(files["report"].read_text()))[:8], "...")

# %% [markdown]
# ## 2. Seed 000, Fig. 2a: the spin-split injector conductance in an in-plane field
#
# An N-I-S injector on thin Al in an in-plane field B: the Zeeman field h = g mu_B B / 2 splits
# the coherence peaks, the orbital depairing zeta = R_orb B^2 rounds them, spin-orbit
# scattering b_so mixes the spin bands. Four field values, one bias sweep each, written as a
# long-format CSV (one row per point, the way a nested field/bias loop logs it); `load`
# re-grids it into a field x bias map. Gamma and G_N are held fixed (G_N from the normal state
# above the critical field); Delta, R_orb, b_so and T are fitted.

# %%
ss = models.SpinSplitNIS(n_energy=301 if FAST else 601)
ss_truth = dict(delta=245.0, R_orb=6.5, b_so=0.03, T=0.09)
ss_fixed = dict(gamma=0.3, G_N=1 / 13e3, g_factor=2.0)
B = np.array([0.0, 0.6, 1.2, 1.8])  # T
Vb = np.linspace(-0.5e-3, 0.5e-3, 41 if FAST else 61)  # V
G_ss = np.asarray(ss({"field": jnp.asarray(B)[:, None], "bias": jnp.asarray(Vb)[None, :]}, **ss_truth, **ss_fixed))
noise_ss = 0.005 * ss_fixed["G_N"]
y_ss = G_ss + noise_ss * rng.standard_normal(G_ss.shape)

ss_csv = OUT / "spin_split_map.csv"
BB, VV = np.meshgrid(B, Vb, indexing="ij")
np.savetxt(ss_csv, np.column_stack([BB.ravel(), VV.ravel() * 1e3, y_ss.ravel() * 1e6,
                                    np.full(BB.size, noise_ss * 1e6)]),
           delimiter=", ", header="field [T], bias [mV], G [uS], dG [uS]", comments="", fmt="%.10g")
meas_ss = data.load(ss_csv, sigma="dG")
print("map shape", meas_ss.shape, "coordinates", list(meas_ss.coords), "units", meas_ss.units)

t0 = time.time()
res_ss = models.fit_data(ss, meas_ss, {
    "delta": {"start": 0.235, "unit": "meV"}, "R_orb": 4.0, "b_so": 0.08, "T": {"start": 120.0, "unit": "mK"},
    "gamma": {"start": 0.3, "fixed": True}, "G_N": {"start": 1 / 13e3, "fixed": True}})
print(f"fit time {time.time() - t0:.1f} s")
print(res_ss.summary())
compare(res_ss, ss_truth)

# %% [markdown]
# Data and model per field (the outer coherence peak moves out by about mu_B B as the field
# splits the DOS), and the normalised residuals below.

# %%
fig = res_ss.plot(meas_ss.coords["bias"] * 1e3, meas_ss.values, xlabel="V [mV]", ylabel="dI/dV [S]",
                  labels=[f"B = {b:.1f} T" for b in meas_ss.coords["field"]])
save_figure(fig, OUT / "spin_split_fit.png")
elapsed("spin-split NIS")

# %% [markdown]
# ## 3. Seed 001, Fig. 10: Gamma, the phase gradient q, and I_0
#
# The charge-imbalance signal g_ss(V_inj) between junctions A and B, measured at four applied
# supercurrents I_s, for V_inj between 0.9 and 1.5 Delta (the range the paper fits). The
# procedure of the paper:
#
# 1. at I_s = 0 (q = 0) fit the lifetime (Dynes) parameter Gamma;
# 2. with Gamma fixed, fit the phase gradient q at each I_s != 0 (its depairing zeta = q^2/2);
# 3. fit I_0 = Delta_0/(e R_xi) of the supercurrent relation I_s(q), Eq. (6), to the pairs
#    (q, I_s). The uncertainty of q becomes an effective current error |dI_s/dq| sigma_q
#    (the derivative by autodiff).
#
# The device (gap, injector temperature and conductances, wire resistance per xi, distance)
# stays at the seed-001 values, the model defaults. The applied currents are what the
# experiment knows; here they come from Eq. (6) at the true I_0 and q.

# %%
ci = models.ChargeImbalance(n_energy=401 if FAST else 1001)
sr = models.SupercurrentRelation(n_energy=401 if FAST else 1001)
ci_defaults = {k: p.value for k, p in ci.parameters().items()}
sr_defaults = {k: p.value for k, p in sr.parameters().items() if k != "I0"}
gamma_true, I0_true = 1.53e-3, 29.8e-6
q_true = np.array([0.0, 0.12, 0.2, 0.28])  # 1/xi
Is_applied = np.asarray(sr({"q": jnp.asarray(q_true)}, I0=I0_true, **dict(sr_defaults, gamma=gamma_true)))
Vi = np.linspace(0.9, 1.5, 21 if FAST else 31) * 265e-6  # V
g_curves = np.stack([np.asarray(ci({"bias": jnp.asarray(Vi)}, **dict(ci_defaults, gamma=gamma_true, q=q)))
                     for q in q_true])
noise_ci = 0.01 * g_curves[0].max()
g_meas = g_curves + noise_ci * rng.standard_normal(g_curves.shape)

ci_csv = OUT / "charge_imbalance.csv"
II, VV = np.meshgrid(Is_applied, Vi, indexing="ij")
np.savetxt(ci_csv, np.column_stack([II.ravel() * 1e6, VV.ravel() * 1e6, g_meas.ravel() * 1e6,
                                    np.full(II.size, noise_ci * 1e6)]),
           delimiter=", ", header="I_s [uA], bias [uV], g_ss [uS], dg_ss [uS]", comments="", fmt="%.12g")
meas_ci = data.load(ci_csv, sigma="dg_ss")
print("applied supercurrents (uA):", np.round(meas_ci.coords["I_s"] * 1e6, 3))


def curve(m, name, i):
    """Row ``i`` of a map as a curve over the remaining coordinate (the fit models take one curve)."""
    rest = [k for k in m.coords if k != name]
    return data.Measurement(coords={k: m.coords[k] for k in rest}, values=m.values[i],
                            sigma=None if m.sigma is None else m.sigma[i], name=m.name,
                            units={k: m.units[k] for k in rest + [m.name]}, source=f"{m.source} [{name} row {i}]")


# %% [markdown]
# ### Step 1: Gamma at I_s = 0

# %%
t0 = time.time()
res_g = models.fit_data(ci, curve(meas_ci, "I_s", 0), {"gamma": 3e-3})
print(res_g.summary().splitlines()[0])
compare(res_g, {"gamma": gamma_true})
gamma_fit = res_g.values["gamma"]

# %% [markdown]
# ### Step 2: the phase gradient at each supercurrent, Gamma fixed

# %%
fits_q = []
print(f"{'I_s [uA]':>9s} {'q fit':>9s} {'+-':>8s} {'q truth':>8s} {'pull':>6s} {'chi2_red':>8s}")
for i in range(1, len(q_true)):
    r = models.fit_data(ci, curve(meas_ci, "I_s", i), {"gamma": {"start": gamma_fit, "fixed": True},
                                                       "q": {"start": 0.1, "fixed": False}})
    fits_q.append(r)
    print(f"{meas_ci.coords['I_s'][i] * 1e6:9.3f} {r.values['q']:9.4f} {r.stderr['q']:8.4f} {q_true[i]:8.3f} "
          f"{(r.values['q'] - q_true[i]) / r.stderr['q']:6.2f} {r.chi2_red:8.3f}  converged={r.converged}")
qs = np.array([r.values["q"] for r in fits_q])
dqs = np.array([r.stderr["q"] for r in fits_q])

# %% [markdown]
# ### Step 3: I_0 from the supercurrent relation
#
# The fitted Gamma goes into Eq. (6). The effective errors are proportional to I_0 itself, so
# the fit is repeated once with the errors evaluated at the first estimate (the best value does
# not change, the standard error does).

# %%
sr_fixed = dict(sr_defaults, gamma=gamma_fit)
slope = np.asarray(jax.vmap(jax.grad(lambda q: sr({"q": q}, I0=1.0, **sr_fixed)))(jnp.asarray(qs)))  # dI_s/dq / I_0
Is = meas_ci.coords["I_s"][1:]
sr_params = {"I0": {"start": 20.0, "unit": "uA"}, "gamma": {"start": gamma_fit, "fixed": True}}
I0_guess = 20e-6
for _ in range(2):
    pairs = data.Measurement(coords={"q": qs}, values=Is, sigma=np.abs(slope) * I0_guess * dqs, name="I_s",
                             units={"q": "1/xi", "I_s": "A"})
    res_I0 = models.fit_data(sr, pairs, sr_params)
    I0_guess = res_I0.values["I0"]
print(res_I0.summary())
compare(res_I0, {"I0": I0_true}, scale={"I0": (1e6, "uA")})
print(f"the three steps took {time.time() - t0:.1f} s")

# %% [markdown]
# One figure: g_ss(V_inj) at each supercurrent with its fit (left), and the supercurrent
# relation with the fitted q and I_0 (right).

# %%
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4))
for i, r in enumerate([res_g] + fits_q):
    line, = a1.plot(Vi * 1e6, g_meas[i] * 1e6, ".", ms=4, label=f"I_s = {meas_ci.coords['I_s'][i] * 1e6:.1f} uA")
    a1.plot(Vi * 1e6, np.asarray(r.model_values) * 1e6, "-", color=line.get_color())
a1.set_xlabel("V_inj [uV]")
a1.set_ylabel("g_ss [uS]")
a1.legend(fontsize="small")
qq = np.linspace(0.0, 0.32, 65)
a2.errorbar(qs, Is * 1e6, xerr=dqs, fmt="o", label="fitted q at the applied I_s")
a2.plot(qq, np.asarray(sr({"q": jnp.asarray(qq)}, I0=res_I0.values["I0"], **sr_fixed)) * 1e6, "-",
        label=f"Eq. (6), I_0 = {res_I0.values['I0'] * 1e6:.2f} +- {res_I0.stderr['I0'] * 1e6:.2f} uA")
a2.plot(qq, np.asarray(sr({"q": jnp.asarray(qq)}, I0=I0_true, **dict(sr_defaults, gamma=gamma_true))) * 1e6,
        "k:", label=f"truth, I_0 = {I0_true * 1e6:.1f} uA")
a2.set_xlabel("q [1/xi]")
a2.set_ylabel("I_s [uA]")
a2.legend(fontsize="small")
fig.tight_layout()
save_figure(fig, OUT / "charge_imbalance_fig10.png")
elapsed("charge imbalance")

# %% [markdown]
# ## 4. A non-local conductance map from the kinetic engine
#
# `NonlocalConductanceMap` solves the elastic kinetic equations on the seed-001 wire (junction
# pair A-B) with Zeeman splitting h, spin-orbit relaxation b_so, Dynes gamma and a
# spin-polarised detector barrier P_det. A 21 x 21 map g_nl(V_inj, V_det), stored as `.npz` with
# a `units` entry, is fitted for these four parameters. With normal-metal contacts g_nl does not
# depend on V_det (the detector bias only shifts a sum of single-contact terms), so the map costs
# one injector sweep per model call.

# %%
nl = models.NonlocalConductanceMap(n_energy=301 if FAST else 601, n_x=40 if FAST else 80)
nl_truth = dict(gamma=2e-3, b_so=0.03, h=25.0, P_det=0.15)
nl_p = dict({k: v.value for k, v in nl.parameters().items()}, **nl_truth)
V_inj = np.linspace(-700e-6, 700e-6, 11 if FAST else 21)
V_det = np.linspace(-700e-6, 700e-6, 11 if FAST else 21)
g_nl = np.asarray(jax.jit(lambda x: nl(x, **nl_p))({"bias_inj": jnp.asarray(V_inj)[:, None],
                                                     "bias_det": jnp.asarray(V_det)[None, :]}))
noise_nl = 0.01 * np.max(np.abs(g_nl))
y_nl = g_nl + noise_nl * rng.standard_normal(g_nl.shape)
nl_file = OUT / "nonlocal_map.npz"
np.savez(nl_file, bias_inj=V_inj * 1e6, bias_det=V_det * 1e6, g_nl=y_nl * 1e9,
         dg_nl=np.full(y_nl.shape, noise_nl * 1e9),
         units=json.dumps({"bias_inj": "uV", "bias_det": "uV", "g_nl": "nS", "dg_nl": "nS"}))
meas_nl = data.load(nl_file, sigma="dg_nl")
print("map", meas_nl.shape, "coordinates", list(meas_nl.coords), "units", meas_nl.units)

t0 = time.time()
res_nl = models.fit_data(nl, meas_nl, {"gamma": 1.5e-3, "b_so": 0.02, "h": {"start": 0.02, "unit": "meV"},
                                       "P_det": 0.1})
print(f"fit time {time.time() - t0:.1f} s")
print(res_nl.summary())
compare(res_nl, nl_truth)
fig = res_nl.plot(meas_nl.coords["bias_det"] * 1e6, meas_nl.values, xlabel="V_det [uV]", ylabel="V_inj [uV]",
                  coords=(meas_nl.coords["bias_inj"] * 1e6, meas_nl.coords["bias_det"] * 1e6))
save_figure(fig, OUT / "nonlocal_map_fit.png")
elapsed("non-local map")

# %% [markdown]
# ## Summary

# %%
print(f"total run time {time.time() - t_start:.1f} s; outputs in {OUT}/:")
for f in sorted(OUT.rglob("*")):
    if f.is_file() and f.stat().st_mtime >= t_start:
        print("  ", f)
