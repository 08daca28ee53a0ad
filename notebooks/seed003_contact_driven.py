# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Seed 003 driven by a contact: where the prescribed distribution holds
#
# Seed 003: J. A. Ouassou, J. W. A. Robinson and J. Linder, Controlling spin supercurrents via
# nonequilibrium spin injection, Sci. Rep. 9, 12731 (2019).
# https://doi.org/10.1038/s41598-019-48945-0
#
# The paper prescribes a position-independent distribution with a spin voltage V_s in the
# superconductor between two magnetic insulators (m1 = x, m2 = y, G_phi/G_N = 0.6, L = 1.5 xi).
# Here the spin source is a real contact: the left barrier also tunnels (G_T/G_N) to a normal
# electrode at spin voltage V_s, and the eight distribution modes in the wire follow from the
# kinetic equations with general spin structure (`jaxqp.kinetic.spin`), with a self-consistent
# Delta(x). Units: energies in Delta0; J as in `jaxqp.spectral.spin.observables`.
# `JAXQP_FAST=1` (CI) runs on coarse grids with fewer contact strengths.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from jaxqp.devices import spin_supercurrent as ssc

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_X, N_E = (7, 120) if FAST else (21, 300)  # wire nodes, positive-energy nodes (mirrored: 2 N_E - 1)
T, VS, AXIS = 0.05, 0.25, (1, 0, 0)  # T = 0.09 Tc; spin-x injection, perpendicular to J_eq (along z)
CONTACTS = [0.3, 3.0] if FAST else [0.1, 0.3, 1.0, 3.0, 10.0]
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)

# %% [markdown]
# ## The prescribed distribution and the contact-driven one, self-consistent Delta(x)
#
# For each contact strength: `solve` (the paper's prescription, with the spectra of the same wire,
# contact included) and `solve_contact` (kinetic equations). Each keeps its own self-consistent gap.

# %%
rows = []
for gt in CONTACTS:
    dev = ssc.contact_device(contact=gt, n_x=N_X)
    pres = ssc.solve(dev, VS, AXIS, T, n_energy=N_E)
    kin = ssc.solve_contact(dev, VS, AXIS, T, n_energy=N_E)
    rows.append((gt, pres, kin))
    print(f"G_T/G_N = {gt:5.1f}  prescribed J = {np.round(np.asarray(pres.spin_current), 4)}  "
          f"kinetic J = {np.round(np.asarray(kin.spin_current), 4)}  "
          f"mean Delta {float(pres.delta.mean()):.4f} / {float(kin.delta.mean()):.4f}  "
          f"converged {bool(pres.converged)} / {bool(kin.converged)}")

# %% [markdown]
# With the contact, spin is conserved in the wire (the singlet gap exerts no torque): the kinetic
# spin current is the same on every link, and at the right barrier it has no component along
# m2 = y, since a spin-mixing torque is perpendicular to its magnetisation. The J_y of the paper
# (along J_eq x h_s) therefore needs a spin source spread over the wire; an end contact cannot
# supply it. In the prescribed solution J_y flows uniformly into the m2 = y barrier, which cannot take
# it up: the imposed distribution is itself the source and the sink of that spin.

# %%
fig, ax = plt.subplots(1, 3, figsize=(14, 4))
gt, pres, kin = rows[len(rows) // 2]
xl = 0.5 * (np.asarray(kin.x)[1:] + np.asarray(kin.x)[:-1])
for k, name in enumerate("xyz"):
    ax[0].plot(xl, pres.current[:, 1 + k], "o--", label=f"prescribed J_{name}")
    ax[0].plot(xl, kin.current[:, 1 + k], "s-", label=f"kinetic J_{name}")
ax[0].set(xlabel="x [xi]", ylabel="J", title=f"spin current along the wire, G_T/G_N = {gt}")
ax[0].legend(fontsize=7)
for k, name in enumerate("xyz"):
    ax[1].plot(kin.x, kin.spin_accumulation[:, k], "s-", label=f"kinetic mu_{name}")
    ax[1].plot(pres.x, pres.spin_accumulation[:, k], "o--", label=f"prescribed mu_{name}")
ax[1].set(xlabel="x [xi]", ylabel="spin accumulation", title="accumulation")
ax[1].legend(fontsize=7)
g = np.array([r[0] for r in rows])
for k, name in enumerate("xyz"):
    ax[2].semilogx(g, [float(r[2].spin_current[k]) for r in rows], "s-", label=f"kinetic J_{name}")
    ax[2].semilogx(g, [float(r[1].spin_current[k]) for r in rows], "o--", label=f"prescribed J_{name}")
ax[2].set(xlabel="G_T / G_N", ylabel="link-mean J", title="vs contact strength")
ax[2].legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "seed003_contact_driven.png", dpi=120)

# %% [markdown]
# ## Where the prescription holds exactly
#
# Without spin mixing at the far barrier nothing in the wire rotates or absorbs spin: the kinetic
# distribution is the electrode's everywhere, and the kinetic and prescribed results coincide.

# %%
import equinox as eqx  # noqa: E402
import jax.numpy as jnp  # noqa: E402

dev = eqx.tree_at(lambda w: w.ends[1].spin_mixing, ssc.contact_device(contact=0.3, n_x=N_X), jnp.asarray(0.0))
pres = ssc.solve(dev, VS, AXIS, T, n_energy=N_E)
kin = ssc.solve_contact(dev, VS, AXIS, T, n_energy=N_E)
print("max |Delta difference|:", float(np.max(np.abs(np.asarray(pres.delta) - np.asarray(kin.delta)))),
      " max |accumulation difference|:",
      float(np.max(np.abs(np.asarray(pres.spin_accumulation) - np.asarray(kin.spin_accumulation)))))
