# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Spin injection into a superconductor through a tunnel contact (seed 002, Fig. 2)
#
# Seed 002: I. V. Tokatly, Y. Lu and F. S. Bergeret, Spin-galvanic response to non-equilibrium
# spin injection in superconductors with spin-orbit coupling, arXiv:2512.23536 (2025).
# https://arxiv.org/abs/2512.23536
#
# A superconducting wire with spin-orbit relaxation (normal-state spin length
# lambda = 1/(2 sqrt(b_so)) = 5 xi) and a tunnel injector of strength kappa = G_T R_xi
# in its middle. The injector's normal electrode carries a spin voltage V_s. The
# retarded Usadel equation is solved along the wire with the injector (it renormalises
# the spectrum: finite subgap DOS at zero Dynes parameter), and the kinetic equations
# use the resulting position-dependent coefficients. Units: Delta0, xi, R_xi.
# `JAXQP_FAST=1` (CI) uses coarser position and energy grids and fewer sweep points.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import jaxqp as qp
from jaxqp.devices import spin_injection as si

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))  # figures (the runner sets it)
OUT.mkdir(parents=True, exist_ok=True)
N_X, N_E = (80, 601) if FAST else (160, 1601)  # wire nodes, energy nodes (Figs. 2a-c)
T, KAPPA, BSO, GAMMA = 0.05, 0.1, 0.01, 1e-5
LAM = si.spin_length(BSO)

# %% [markdown]
# ## Fig. 2a: spectral spin density at the injector (V_s above the gap)

# %%
wire = si.device(kappa=KAPPA, b_so=BSO, spin_bias=1.5, temperature=T, gamma=GAMMA, delta=1.0, n_x=N_X)
x, mu, sol = si.spin_accumulation(wire, n_energy=N_E)
x = np.asarray(x)
i0 = int(np.argmin(np.abs(x - wire.length / 2)))
E = np.asarray(sol.energy.points)
s_num = np.asarray(sol.spin_density())[:, i0]
s_int = si.interpolation_spectral_spin(np.array([0.0]), E, KAPPA, LAM, 1.5, T, gamma=GAMMA)[:, 0]
s_nor = -si.injector_fT3(E, 1.5, T) * (0.5 * KAPPA * LAM) / (1 + 0.5 * KAPPA * LAM)
plt.plot(E, s_num, label="full solution")
plt.plot(E, s_int, "--", label="interpolation (Eqs. 39-44)")
plt.plot(E, s_nor, ":", label="normal state")
plt.xlim(0, 2); plt.xlabel("E / Delta0"); plt.ylabel("s(E, 0)"); plt.legend()
plt.savefig(OUT / "seed002_fig2a.png", dpi=120)

# %% [markdown]
# ## Fig. 2b: total spin at the injector vs spin voltage, relative to the normal state

# %%
vs = np.array([0.3, 0.9, 1.5, 2.0] if FAST else [0.3, 0.6, 0.9, 1.2, 1.5, 2.0])
ratio = []
for v in vs:
    # float(v): a Python number, like the spin bias above, reuses the compiled solver
    _, m, _ = si.spin_accumulation(si.device(kappa=KAPPA, b_so=BSO, spin_bias=float(v), temperature=T,
                                             gamma=GAMMA, delta=1.0, n_x=N_X), n_energy=N_E)
    ratio.append(float(m[i0]) / float(si.normal_state_mu_s(0.0, KAPPA, LAM, v)))
plt.plot(vs, ratio, "o-"); plt.axhline(1, color="k", lw=0.5)
plt.xlabel("V_s / Delta0"); plt.ylabel("mu_s(0) / mu_s^N(0)")
plt.savefig(OUT / "seed002_fig2b.png", dpi=120)

# %% [markdown]
# ## Fig. 2c: spatial decay, superconducting vs normal state

# %%
plt.semilogy(x - wire.length / 2, np.asarray(mu), label="S, full solution")
plt.semilogy(x - wire.length / 2, si.normal_state_mu_s(x - wire.length / 2, KAPPA, LAM, 1.5), "--", label="N")
plt.xlim(-15, 15); plt.xlabel("x / xi"); plt.ylabel("mu_s"); plt.legend()
plt.savefig(OUT / "seed002_fig2c.png", dpi=120)

# %% [markdown]
# ## Fig. 2d: non-local spin-valve resistance vs temperature
# With ideal BCS spectra (uniform, zero Dynes) R_nl keeps growing as T falls. With the
# contact-renormalised spectra it reaches a maximum near T = 0.2 Delta0 and falls by half to a
# plateau below T = 0.08 Delta0: the signal passes from gap-edge quasiparticles (which carry spin
# over lambda) to the contact-induced sub-gap states (which carry it only a fraction of xi). Contacts
# 1 xi apart show only the rise and saturation of the paper. Dashed: the closed form with uniform
# Dynes spectra (Gamma = 0.01), exact and in the tunnel limit of the paper's Eqs. (89)-(91).

# %%
temps = np.array([0.06, 0.15, 0.3] if FAST else [0.06, 0.1, 0.15, 0.2, 0.3])
NX_SV, NE_SV = (50, 401) if FAST else (100, 801)
for spectra in ("inhomogeneous", "uniform"):
    r = []
    for t in temps:
        kw = dict(kappa=KAPPA, polarization=0.3, separation=3.0, b_so=BSO, temperature=t, gamma=1e-6, n_x=NX_SV,
                  length=40.0, spectra=spectra)
        r.append(float(si.nonlocal_resistance(si.spin_valve(parallel=True, **kw), si.spin_valve(parallel=False, **kw),
                                              n_energy=NE_SV)))
    plt.semilogy(temps / qp.TC0, r, "o-", label=spectra)
kw = dict(kappa=KAPPA, polarization=0.3, separation=1.0, b_so=BSO, gamma=1e-6, n_x=NX_SV, length=40.0)
r = [float(si.nonlocal_resistance(si.spin_valve(parallel=True, temperature=t, **kw),
                                  si.spin_valve(parallel=False, temperature=t, **kw), n_energy=NE_SV)) for t in temps]
plt.semilogy(temps / qp.TC0, r, "s-", label="inhomogeneous, 1 xi apart")
for name, tunnel in (("exact", False), ("tunnel limit", True)):
    r = [si.spin_valve_closed_form(t, kappa=KAPPA, polarization=0.3, separation=3.0, b_so=BSO, gamma=1e-2,
                                   length=40.0, tunnel_limit=tunnel) for t in temps]
    plt.semilogy(temps / qp.TC0, r, "--", label=f"uniform, Gamma = 0.01, {name}")
plt.xlabel("T / Tc"); plt.ylabel("R_nl / R_xi"); plt.legend()
plt.savefig(OUT / "seed002_fig2d.png", dpi=120)
