# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Inelastic relaxation and the non-equilibrium gap (seed 001, Figs. 11 and 12)
#
# Seed 001: K. M. Ryan, D. Beckmann and V. Chandrasekhar, Non-local tunneling spectroscopy of
# inelastic quasiparticle relaxation in superconducting 1-D wires, arXiv:2604.26862 (2026).
# https://arxiv.org/abs/2604.26862
#
# Half of the 11 um Al wire (injector on the symmetry plane, reservoir at L/2 = 84.6 xi,
# kappa = G R_xi / 2), Gamma = 0.005, omega_D = 10, lambda = 1/arcsinh(omega_D),
# gamma_ee = 2e-4, energy spacing 1/40 (the parameters of Appendix B). Units: energies in
# Delta0, conductances in 1/R_xi (R_xi = 8.57 Ohm).
# `JAXQP_FAST=1` (CI) uses energy spacing 1/16, a coarser wire, fewer biases and a shorter
# refinement table.

# %%
import os
from pathlib import Path

import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw

OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))  # figures (the runner sets it)
OUT.mkdir(parents=True, exist_ok=True)

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
SPACING = 1 / 16 if FAST else 1 / 40  # energy spacing (the paper: 1/40)
wire = nw.half_wire(("A", "B"), n_x=16 if FAST else 64)
ee = qp.ElectronElectron(2e-4)
gap = qp.GapEquation(cutoff=10.0)
V = jnp.linspace(0.0, 5.0, 11 if FAST else 51)
Vdet = jnp.linspace(-0.9, 0.9, 5 if FAST else 7)

# %% [markdown]
# ## Fig. 11(a): Delta(V_inj) with and without electron-electron scattering
# `nonlocal_gap_map` sweeps the injector bias with continuation and differentiates the
# detector current along the branch (implicit differentiation: exact dI_det/dV_inj).

# %%
# FAST: the elastic case as e-e scattering at rate 0 (the same result), which reuses the compiled
# program of the first map instead of compiling a second one
elastic = [qp.ElectronElectron(0.0)] if FAST else []
m_ee = qp.nonlocal_gap_map(wire, [ee], V, Vdet, gap=gap, spacing=SPACING)
m_el = qp.nonlocal_gap_map(wire, elastic, V, Vdet, gap=gap, spacing=SPACING)
print("all converged:", bool(jnp.all(m_ee.converged)), bool(jnp.all(m_el.converged)))
fig, ax = plt.subplots()
ax.plot(V, m_ee.delta, label="with e-e")
ax.plot(V, m_el.delta, "--", label="elastic")
ax.set_xlabel("e V_inj / Delta0")
ax.set_ylabel("Delta / Delta0")
ax.legend()
fig.savefig(OUT / "seed001_inelastic_1.png", dpi=120)

# %% [markdown]
# ## Fig. 11(b): f_L(E) at the injector for several biases (arrows: 3 Delta)

# %%
fig, ax = plt.subplots()
E = np.asarray(m_ee.sweep.up.kinetic.energy.points[0])
for v in (1.5, 2.5, 3.5, 4.5):
    i = int(np.argmin(np.abs(np.asarray(V) - v)))
    ax.plot(E, m_ee.sweep.up.modes[i, :, 0, 0] - np.tanh(E / (2 * float(wire.temperature))), label=f"V={v}")
    ax.plot(E, m_el.sweep.up.modes[i, :, 0, 0] - np.tanh(E / (2 * float(wire.temperature))), "k:", lw=0.7)
    ax.axvline(3 * float(m_ee.delta[i]), color="gray", lw=0.5)
ax.set_xlim(0, 5)
ax.set_xlabel("E / Delta0")
ax.set_ylabel("f_L - f_L^eq at the injector")
ax.legend()
fig.savefig(OUT / "seed001_inelastic_2.png", dpi=120)

# %% [markdown]
# ## Fig. 12: g_sa(V_inj) for several V_det and its map (odd in V_det)

# %%
norm = float(wire.contacts[0].kappa * wire.contacts[1].kappa)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
for j, vd in enumerate(np.asarray(Vdet)):
    a1.plot(V, m_ee.g_sa[:, j] / norm + 3 * j, label=f"V_det={vd:.2f}")
a1.set_xlabel("e V_inj / Delta0")
a1.set_ylabel("g_sa / (G_inj G_det) [R_xi], offset")
a2.imshow(np.asarray(m_ee.g_sa).T / norm, aspect="auto", origin="lower",
          extent=[0, 5, float(Vdet[0]), float(Vdet[-1])], cmap="RdBu_r")
a2.set_xlabel("e V_inj / Delta0")
a2.set_ylabel("e V_det / Delta0")
fig.savefig(OUT / "seed001_inelastic_3.png", dpi=120)

# %% [markdown]
# ## Past the paper: refine the energy spacing and omega_D
# The paper used spacing 1/40 and omega_D = 10 "to keep the problem tractable". Refining:

# %%
Vc = jnp.linspace(0.0, 5.0, 3 if FAST else 11)
# each grid compiles its own program: FAST refines the spacing once only
refinements = ((SPACING, 10.0), (SPACING / 2, 10.0)) if FAST else (
    (SPACING, 10.0), (SPACING / 2, 10.0), (SPACING / 4, 10.0), (SPACING, 20.0))
for spacing, cutoff in refinements:
    g = qp.GapEquation(cutoff=cutoff)
    s = qp.gap_sweep(wire, [ee], jnp.stack([Vc, 0 * Vc], -1), gap=g, grid=qp.uniform_grid(cutoff, spacing))
    print(f"spacing {spacing:.5f}, omega_D {cutoff:4.1f}: Delta(V) =", np.round(np.asarray(s.delta), 4))
