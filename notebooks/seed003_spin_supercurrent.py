# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Spin supercurrents controlled by spin injection (seed 003)
#
# Seed 003: J. A. Ouassou, J. W. A. Robinson and J. Linder, Controlling spin supercurrents via
# nonequilibrium spin injection, Sci. Rep. 9, 12731 (2019).
# https://doi.org/10.1038/s41598-019-48945-0
#
# A superconductor of length L = 1.5 xi between two magnetic insulators magnetised along x (left)
# and y (right), G_phi/G_N = 0.6, T = 0.01 Tc, self-consistent Delta(x), and a position-independent
# spin voltage V_s (seed 003 Eqs. (2)-(3)). The general Keldysh-Nambu-spin solver
# (`jaxqp.spectral.spin`) gives the spin supercurrent J = (J_x, J_y, J_z). Units: energies in
# Delta0; J as in `jaxqp.spectral.spin.observables` (GENEUS, used in the paper, reports L J).
# `JAXQP_FAST=1` (CI) runs on coarse grids with fewer sweep points.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jaxqp.devices import spin_supercurrent as ssc
from jaxqp.selfconsistency import TC0

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_X, N_E = (7, 120) if FAST else (31, 400)  # wire nodes, energy nodes
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)
dev = ssc.device(n_x=N_X)

# %% [markdown]
# ## Equilibrium: a z-polarised spin supercurrent, conserved along the wire

# %%
r = ssc.solve(dev, 0.0, (0, 0, 1), ssc.DEFAULT_T, n_energy=N_E)
print("converged:", bool(r.converged), " J =", np.asarray(r.spin_current), " L J_z =", 1.5 * float(r.spin_current[2]))
fig, ax = plt.subplots(1, 2, figsize=(10, 3.5))
ax[0].plot(r.x, r.delta, "o-")
ax[0].set(xlabel="x [xi]", ylabel="Delta [Delta0]", title="self-consistent gap")
ax[1].plot(0.5 * (r.x[1:] + r.x[:-1]), r.current[:, 3], "o-")
ax[1].set(xlabel="x [xi]", ylabel="J_z", title="spin current on the links")
fig.tight_layout()
fig.savefig(OUT / "seed003_spin_supercurrent_1.png", dpi=120)

# %% [markdown]
# ## Fig. 2: J vs spin voltage for spin-z and spin-x injection, with the bistable region

# %%
Vs = np.linspace(0.0, 1.1, 5 if FAST else 23)
sweeps = {lab: ssc.sweep_spin_voltage(dev, Vs, axis, n_energy=N_E)
          for lab, axis in (("z", (0, 0, 1)), ("x", (1, 0, 0)))}
fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for a, (lab, sw) in zip(ax, sweeps.items(), strict=False):
    for k, name in enumerate("xyz"):
        a.plot(Vs, 1.5 * sw.spin_current[:, k], "o-", label=f"J_{name}")
    for v, b, n in zip(Vs, sw.bistable, sw.normal_only, strict=False):
        if b or n:
            a.axvspan(v - 0.5 * (Vs[1] - Vs[0]), v + 0.5 * (Vs[1] - Vs[0]), color="0.6" if n else "0.85", lw=0)
    a.set(xlabel="e V_s / Delta0", title=f"spin-{lab} injection")
    a.legend()
ax[0].set_ylabel("L J (GENEUS units)")
fig.tight_layout()
fig.savefig(OUT / "seed003_fig2.png", dpi=120)
print({lab: {"bistable": Vs[sw.bistable].tolist(), "normal_only": Vs[sw.normal_only].tolist()}
       for lab, sw in sweeps.items()})

# %% [markdown]
# Spin-z injection leaves J_z unchanged up to e V_s ~ Delta0/2; spin-x injection adds a J_y linear in
# V_s (along J_eq x h_s). The light band is bistable (superconducting solution and a locally stable
# normal state), the dark band normal only.

# %% [markdown]
# ## Fig. 3: J vs temperature at e V_s = Delta0/4

# %%
T = np.linspace(0.01, 0.95, 3 if FAST else 15) * TC0
fig, ax = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
for a, (lab, axis) in zip(ax, (("z", (0, 0, 1)), ("x", (1, 0, 0))), strict=False):
    sw = ssc.sweep_temperature(dev, T, 0.25, axis, n_energy=N_E)
    for k, name in enumerate("xyz"):
        a.plot(T / TC0, 1.5 * sw.spin_current[:, k], "o-", label=f"J_{name}")
    a.set(xlabel="T / Tc", title=f"spin-{lab} injection, e V_s = Delta0/4")
    a.legend()
ax[0].set_ylabel("L J (GENEUS units)")
fig.tight_layout()
fig.savefig(OUT / "seed003_fig3.png", dpi=120)
