# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Non-equilibrium quasiparticles in superconducting wires (seeds 000 and 001)
#
# Seed 000: M. Kuzmanovic, B. Y. Wu, M. Weideneder, C. H. L. Quay and M. Aprili, Evidence for
# spin-dependent energy transport in a superconductor, Nat. Commun. 11, 4336 (2020);
# arXiv:2001.04422. https://doi.org/10.1038/s41467-020-18161-w
#
# Seed 001: K. M. Ryan, D. Beckmann and V. Chandrasekhar, Non-local tunneling spectroscopy of
# inelastic quasiparticle relaxation in superconducting 1-D wires, arXiv:2604.26862 (2026).
# https://arxiv.org/abs/2604.26862
#
# Kinetic equations for f_L, f_T, f_T3, f_L3 on a wire with tunnel contacts and
# equilibrium reservoirs. Units: energies in Delta0, lengths in xi, currents in
# Delta0/(e R_xi), conductances in 1/R_xi.
# `JAXQP_FAST=1` (CI) uses coarser position, energy and bias grids.

# %%
import os
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw
from jaxqp.devices import spin_energy_mode as sem

OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))  # figures (the runner sets it)
OUT.mkdir(parents=True, exist_ok=True)

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_X, N_E = (100, 1201) if FAST else (200, 2001)  # wire nodes, energy nodes

# %% [markdown]
# ## Seed 001, Appendix B: charge-imbalance non-local conductance, engine vs Eq. (21)

# %%
wire = nw.device(("A", "B"), n_x=N_X)
V = jnp.linspace(-3.5, 3.5, 71 if FAST else 141)
m = qp.nonlocal_conductance(wire, V, 0.0, n_energy=N_E)
kd = float(wire.contacts[1].kappa)
ki = float(wire.contacts[0].kappa)
d = wire.contacts[1].position - wire.contacts[0].position
eq21 = nw.charge_imbalance_gnl(V, d, ki, float(wire.contacts[0].electrode.temperature),
                               half_length=0.5 * wire.length)
plt.plot(V, m.g_nl[:, 0] / kd, label="kinetic engine")
plt.plot(V, eq21, "--", label="Eq. (21), finite wire")
plt.xlabel("eV_inj/Delta0"); plt.ylabel("g_nl / G_det"); plt.legend()

# %% [markdown]
# ## Seed 001 Figs. 10 and 13: supercurrent dependence and symmetry decomposition

# %%
qs = np.array([-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3])
g, Is = nw.supercurrent_map(wire, V, qs, 0.03, n_energy=N_E)
dec = qp.symmetry_decomposition(g, V, qs)
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
for j in np.nonzero(qs >= 0)[0]:
    I_uA = float(Is[j]) * nw.units().delta0_ueV * 1e-6 / nw.r_xi_ohm() * 1e6
    ax[0].plot(V, dec["g_ss"][:, j], label=f"q={qs[j]:.1f}, I_s={I_uA:.1f} uA")
    ax[1].plot(V, dec["g_a"][:, j], label=f"q={qs[j]:.1f}")
ax[0].set(xlabel="eV_inj", ylabel="g_ss"); ax[1].set(xlabel="eV_inj", ylabel="g_a (mode mixing)")
ax[0].legend(); ax[1].legend()
fig.savefig(OUT / "seed000_001_kinetics_1.png", dpi=120)

# %% [markdown]
# ## Seed 000 Fig. 1c: spin-resolved distributions 300 nm from the injector at 1 T

# %%
w0 = sem.device(1.0, n_x=N_X)
sol = qp.solve_kinetic(w0, jnp.array([1.3, 0.0]), n_energy=N_E)
i = w0.contact_nodes[1]
E = np.asarray(sol.energy.points)
f = np.asarray(sol.occupations()[:, :, i])
n = np.asarray(sol.quasiparticle_number()[:, :, i])
sel = (E > 0.5) & (E < 1.6)
plt.plot(E[sel], n[0, sel], label="N_up f_up"); plt.plot(E[sel], n[1, sel], label="N_dn f_dn")
plt.xlabel("E/Delta0"); plt.legend()

# %% [markdown]
# ## Seed 000 Figs. 3d, 4a, 5: detector conductance vs V_det and I_inj; odd part

# %%
Vd = jnp.linspace(-0.6, 0.6, 61 if FAST else 121)
Vi = jnp.linspace(0.0, 2.0, 11 if FAST else 41)
res = sem.detector_map(w0, Vi, Vd, n_energy=N_E)
G = np.asarray(res["G_det"]) - np.asarray(res["G_det"])[:1]
Iinj = sem.current_nA(res["I_inj"][:, 0])
fig, ax = plt.subplots(1, 2, figsize=(11, 4))
ax[0].pcolormesh(Vd, Iinj, G, shading="auto", cmap="RdBu_r")
for p in sem.peak_voltages(w0):
    ax[0].axvline(p, color="k", lw=0.5, ls=":")
ax[0].set(xlabel="eV_det/Delta0", ylabel="I_inj (nA)", title="G_det - G_det(I_inj=0)")
ax[1].pcolormesh(Vd, Iinj, np.asarray(sem.odd_part(res["G_det"])), shading="auto", cmap="RdBu_r")
ax[1].set(xlabel="eV_det/Delta0", title="odd part (charge imbalance)")
fig.savefig(OUT / "seed000_001_kinetics_2.png", dpi=120)

