# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Fitting an NIS conductance curve by gradient
#
# Synthetic data with the kind of values seed 001 (Table 1) reports: Delta = 265 ueV,
# T_e = 60 mK, negligible Dynes broadening, G_N = 28 uS, 0.5 % noise.
# `JAXQP_FAST=1` (CI) uses fewer biases and energy nodes.

# %%
import os

import jax.numpy as jnp
import numpy as np

from jaxqp import units
from jaxqp.inference import models

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_V, N_E = (121, 501) if FAST else (241, 1001)
rng = np.random.default_rng(0)
V = np.linspace(-600e-6, 600e-6, N_V)  # volts
e0 = 250.0
G = np.asarray(models.nis_conductance(jnp.asarray(V * 1e6 / e0), 265 / e0, 0.8 / e0,
                                   0.06 * units.KB_UEV_PER_K / e0, 1.0, n_energy=N_E)) * 28e-6
sigma = 0.005 * 28e-6
G_meas = G + sigma * rng.standard_normal(G.shape)

# %%
res = models.fit_nis_conductance(V, G_meas, delta_ueV=240.0, gamma_ueV=2.0, T_kelvin=0.1, sigma=sigma,
                              n_energy=N_E)
print(res.summary())
print("correlation matrix (delta, gamma, T, G_N):\n", np.round(res.correlation, 3))
res.plot(V * 1e6, G_meas, xlabel="V [uV]", ylabel="dI/dV [S]")
