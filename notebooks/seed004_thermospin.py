# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Thermospin effect in S-I-Sm tunnel junctions (seed 004)
#
# Seed 004: G. Germanese, F. Paolucci, G. Marchegiani, A. Braggio and F. Giazotto, Spontaneous
# symmetry breaking induced thermospin effect in superconducting tunnel junctions,
# arXiv:2105.01527 (2021). https://arxiv.org/abs/2105.01527
#
#
# A hot BCS superconductor S (T_S) tunnels into a cold superconductor Sm (T_Sm = 0.01 Tc)
# whose density of states is spin-split by an exchange field h. Both gaps are
# self-consistent. Units: energies in Delta0, currents in G_T Delta0/e.
# `JAXQP_FAST=1` (CI) uses coarser bias, field and energy grids.

# %%
import os
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxqp as qp
from jaxqp.devices import thermospin as ts

OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))  # figures (the runner sets it)
OUT.mkdir(parents=True, exist_ok=True)

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_E = 801 if FAST else 2001  # energy nodes of the tunnel integrals
N_SCAN = 48 if FAST else 96  # bias scan for the Seebeck root
Tc = qp.TC0

# %% [markdown]
# ## Current-voltage characteristics (Fig. 2a) and spin components (Fig. 3a)

# %%
V = jnp.linspace(-1.2, 1.2, 121 if FAST else 481)
h = jnp.array([0.0, 0.1, 0.2, 0.4])[:, None]
I = ts.currents(V[None, :], h=h, T_S=0.7 * Tc, n_energy=N_E)
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for k in range(4):
    ax[0].plot(V, I.charge[k], label=f"h = {float(h[k, 0]):.1f}")
ax[0].set(xlabel="V [Delta0/e]", ylabel="I_q [G_T Delta0/e]")
ax[0].legend()
for name, y in (("I_q", I.charge[3]), ("I_up", I.up[3]), ("I_dn", I.dn[3]), ("I_s", I.spin[3])):
    ax[1].plot(V, y, label=name)
ax[1].set(xlabel="V [Delta0/e]", title="h = 0.4")
ax[1].legend()
fig.savefig(OUT / "seed004_thermospin_1.png", dpi=120)

# %% [markdown]
# ## Zero-bias conductance map (Fig. 2b): thermoelectric where G0 < 0

# %%
T_S = jnp.linspace(0.3, 0.95, 12 if FAST else 40) * Tc
hh = jnp.linspace(0.0, 0.7, 12 if FAST else 40)
G0 = ts.g0(h=hh[None, :], T_S=T_S[:, None], n_energy=N_E)
lim = float(np.percentile(np.abs(G0), 95))
plt.pcolormesh(hh, T_S / Tc, G0, cmap="RdBu_r", vmin=-lim, vmax=lim, shading="auto")
# T_S as a column, the shape the gap solver was just compiled for
plt.plot(ts.threshold_field(T_S[:, None])[:, 0], T_S / Tc, "k--", label="h_t = Delta(T_Sm) - Delta(T_S)")
plt.xlabel("h [Delta0]")
plt.ylabel("T_S / Tc")
plt.colorbar(label="G0 [G_T]")
plt.legend()

# %% [markdown]
# ## Seebeck voltage (Fig. 2c) and its derivative by implicit differentiation

# %%
import jax  # noqa: E402

hs = jnp.linspace(0.05, 0.7, 6 if FAST else 14)
# one compiled program for every T_S (called eagerly, the root search compiles anew per temperature)
seebeck = jax.jit(lambda h, T_S: ts.seebeck_voltage(h=h, T_S=T_S, n_scan=N_SCAN, n_energy=N_E))
for t in (0.6, 0.7, 0.8):
    VS, found = seebeck(hs, t * Tc)
    plt.plot(hs, VS, "o-", label=f"T_S = {t} Tc")
plt.xlabel("h [Delta0]")
plt.ylabel("V_S [Delta0/e]")
plt.legend()
print("dV_S/dh at h = 0.4, T_S = 0.7 Tc:", float(jax.grad(lambda x: seebeck(x, 0.7 * Tc)[0])(0.4)))
