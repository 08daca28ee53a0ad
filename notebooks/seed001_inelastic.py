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
# Half of the 11 um Al wire (injector on the symmetry plane, reservoir at L/2 = 84.6 xi,
# kappa = G R_xi / 2), Gamma = 0.005, omega_D = 10, lambda = 1/arcsinh(omega_D),
# gamma_ee = 2e-4, energy spacing 1/40 (the parameters of Appendix B). Units: energies in
# Delta0, conductances in 1/R_xi (R_xi = 8.57 Ohm).

# %%
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import jaxqp as qp
from jaxqp.devices import nonlocal_wire as nw

wire = nw.half_wire(("A", "B"), n_x=64)
ee = qp.ElectronElectron(2e-4)
gap = qp.GapEquation(cutoff=10.0)
V = jnp.linspace(0.0, 5.0, 51)
Vdet = jnp.linspace(-0.9, 0.9, 7)

# %% [markdown]
# ## Fig. 11(a): Delta(V_inj) with and without electron-electron scattering
# `nonlocal_gap_map` sweeps the injector bias with continuation and differentiates the
# detector current along the branch (implicit differentiation: exact dI_det/dV_inj).

# %%
m_ee = qp.nonlocal_gap_map(wire, [ee], V, Vdet, gap=gap)
m_el = qp.nonlocal_gap_map(wire, [], V, Vdet, gap=gap)
print("all converged:", bool(jnp.all(m_ee.converged)), bool(jnp.all(m_el.converged)))
fig, ax = plt.subplots()
ax.plot(V, m_ee.delta, label="with e-e")
ax.plot(V, m_el.delta, "--", label="elastic")
ax.set_xlabel("e V_inj / Delta0")
ax.set_ylabel("Delta / Delta0")
ax.legend()

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

# %% [markdown]
# ## Past the paper: refine the energy spacing and omega_D
# The paper used spacing 1/40 and omega_D = 10 "to keep the problem tractable". Refining:

# %%
Vc = jnp.linspace(0.0, 5.0, 11)
for spacing, cutoff in ((1 / 40, 10.0), (1 / 80, 10.0), (1 / 160, 10.0), (1 / 40, 20.0)):
    g = qp.GapEquation(cutoff=cutoff)
    s = qp.gap_sweep(wire, [ee], jnp.stack([Vc, 0 * Vc], -1), gap=g, grid=qp.uniform_grid(cutoff, spacing))
    print(f"spacing {spacing:.5f}, omega_D {cutoff:4.1f}: Delta(V) =", np.round(np.asarray(s.delta), 4))
