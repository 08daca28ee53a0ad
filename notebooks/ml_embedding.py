# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A jaxqp forward model inside a neural-network training loop
#
# jaxqp models are pure JAX functions, so they compose with the usual JAX machine-learning
# stack. Here an MLP (equinox) learns to read the gap Delta, the Dynes broadening Gamma and
# the electron temperature T off a normalised NIS conductance curve G(V)/G_N on 41 biases.
# It is trained (optax Adam) on simulated curves with two loss terms:
#
# - a parameter regression in normalised (logistic, 0..1) coordinates, and
# - a physics-consistency (autoencoder) term ||NISConductance(net(y)) - y||^2: the
#   network's prediction is pushed through the jaxqp forward model *inside the jitted
#   training step*, so the gradient flows through the junction integrals into the weights.
#
# The trained network is then an amortised initial guess: one forward pass per curve,
# refined by a least-squares fit with `jaxqp.inference.fit.curve_fit`.
#
# Figures are written to `notebook-output/` (created in the working directory).
# `JAXQP_FAST=1` (CI) trains a smaller network for fewer steps on fewer curves.

# %%
import os
import time
from pathlib import Path

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import matplotlib.pyplot as plt
import numpy as np
import optax

from jaxqp.inference.fit import curve_fit
from jaxqp.inference.models import NISConductance, parameters_for

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)
t_start = time.time()

G_N = 25e-6  # S (fixed)
model = NISConductance(n_energy=201)
V = jnp.linspace(-600e-6, 600e-6, 41)  # V
NAMES, UNITS = ("delta", "gamma", "T"), ("ueV", "ueV", "K")
LO = jnp.array([230.0, 0.3, 0.05])  # prior ranges: delta (ueV), gamma (ueV), T (K)
HI = jnp.array([290.0, 3.0, 0.15])
NOISE = 0.003  # white noise on G/G_N
N_TRAIN, N_TEST = (128, 64) if FAST else (512, 128)
BLOCK = 16 if FAST else 32  # training curves per step in the physics term (the regression term uses all of them)
STEPS, LR, PHYS_WEIGHT = 300 if FAST else 1000, 1e-2, 1.0
WIDTH = 32 if FAST else 64  # hidden units per layer


def to_physical(u):
    """Logistic coordinates (0..1) -> (delta, gamma, T)."""
    return LO + (HI - LO) * u


def curve(p):
    """G/G_N on the bias grid for p = (delta ueV, gamma ueV, T K)."""
    return model({"bias": V}, delta=p[0], gamma=p[1], T=p[2], G_N=G_N) / G_N


curves = jax.vmap(curve)  # a batch of parameter vectors -> a batch of curves

# %% [markdown]
# ## Simulated training and held-out sets
#
# Parameters uniform in the prior box, curves from the forward model (64 at a time: one
# compiled shape), plus noise.

# %%
rng = np.random.default_rng(0)
U = rng.uniform(size=(N_TRAIN + N_TEST, 3))
sim = jax.jit(curves)
Y = np.concatenate([np.asarray(sim(to_physical(jnp.asarray(U[i:i + 64])))) for i in range(0, len(U), 64)])
assert np.all(np.isfinite(Y))
Y = Y + NOISE * rng.standard_normal(Y.shape)
y_tr, u_tr = jnp.asarray(Y[:N_TRAIN]), jnp.asarray(U[:N_TRAIN])
y_te, u_te = jnp.asarray(Y[N_TRAIN:]), jnp.asarray(U[N_TRAIN:])
print(f"simulated {len(Y)} curves in {time.time() - t_start:.1f} s")

# %% [markdown]
# ## Network, loss and training step
#
# Input features arcsinh(y/0.1) keep the small sub-gap conductance (set by Gamma) visible
# next to the coherence peaks; the output goes through a logistic function into the prior box.

# %%
def features(y):
    return jnp.arcsinh(y / 0.1) / np.arcsinh(10.0)


def predict(net, y):
    return jax.nn.sigmoid(jax.vmap(net)(features(y)))


def loss_fn(net, y_all, u_all, y_block):
    reg = jnp.mean((predict(net, y_all) - u_all) ** 2)
    phys = jnp.mean((curves(to_physical(predict(net, y_block))) - y_block) ** 2)
    return reg + PHYS_WEIGHT * phys, (reg, phys)


opt = optax.adam(LR)


@eqx.filter_jit
def train_step(net, state, y_all, u_all, y_block):
    (loss, aux), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(net, y_all, u_all, y_block)
    updates, state = opt.update(grads, state, net)
    return eqx.apply_updates(net, updates), state, loss, aux


net0 = eqx.nn.MLP(41, 3, WIDTH, 2, activation=jax.nn.tanh, key=jr.PRNGKey(0))
net, state = net0, opt.init(eqx.filter(net0, eqx.is_array))

# %%
t0 = time.time()
history = []
n_blocks = N_TRAIN // BLOCK
for k in range(STEPS):
    b = k % n_blocks
    net, state, loss, (reg, phys) = train_step(net, state, y_tr, u_tr, y_tr[b * BLOCK:(b + 1) * BLOCK])
    history.append((float(loss), float(reg), float(phys)))
    if k % 200 == 0 or k == STEPS - 1:
        print(f"step {k:4d}: loss {float(loss):.4g} (regression {float(reg):.3g}, physics {float(phys):.3g})")
history = np.array(history)
last = history[-n_blocks:].mean(axis=0)
print(f"training: {time.time() - t0:.1f} s; loss {history[0, 0]:.4g} -> {last[0]:.4g} "
      f"(x{history[0, 0] / last[0]:.1f} lower)")

fig, ax = plt.subplots(figsize=(5, 3.5))
for i, lab in enumerate(("total", "regression", "physics")):
    ax.semilogy(history[:, i], label=lab, lw=1)
ax.set_xlabel("step"); ax.set_ylabel("loss"); ax.legend()
fig.tight_layout(); fig.savefig(OUT / "ml_loss.png", dpi=120)

# %% [markdown]
# ## Held-out curves: predicted vs true parameters

# %%
P_true = np.asarray(to_physical(u_te))
P_net = np.asarray(to_physical(predict(net, y_te)))
P_untrained = np.asarray(to_physical(predict(net0, y_te)))
mae = np.mean(np.abs(P_net - P_true), axis=0)
mae0 = np.mean(np.abs(P_untrained - P_true), axis=0)
for i, (n, u) in enumerate(zip(NAMES, UNITS, strict=False)):
    print(f"held-out MAE {n:>5s}: {mae[i]:.4g} {u} (untrained network {mae0[i]:.4g} {u})")
rec = np.concatenate([np.asarray(sim(jnp.asarray(P_net[i:i + 64]))) for i in range(0, N_TEST, 64)])
print(f"held-out physics consistency: rms(model(net(y)) - y) = {np.sqrt(np.mean((rec - Y[N_TRAIN:])**2)):.4g} "
      f"(noise {NOISE})")

fig, axes = plt.subplots(1, 3, figsize=(11, 3.5))
for i, ax in enumerate(axes):
    ax.plot(P_true[:, i], P_net[:, i], ".", ms=4)
    ax.plot([LO[i], HI[i]], [LO[i], HI[i]], "k-", lw=0.5)
    ax.set_xlabel(f"true {NAMES[i]} ({UNITS[i]})"); ax.set_ylabel(f"predicted {NAMES[i]} ({UNITS[i]})")
    ax.set_title(f"MAE {mae[i]:.3g} {UNITS[i]}")
fig.tight_layout(); fig.savefig(OUT / "ml_predicted_vs_true.png", dpi=120)

j = 0
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(V * 1e6, Y[N_TRAIN + j], ".", label="data")
ax.plot(V * 1e6, rec[j], "-", label="model(net(data))")
ax.set_xlabel("V (uV)"); ax.set_ylabel("G / G_N"); ax.legend()
fig.tight_layout(); fig.savefig(OUT / "ml_reconstruction.png", dpi=120)

# %% [markdown]
# ## The network as an amortised initial guess for a least-squares fit
#
# One held-out curve, in siemens, fitted by Levenberg-Marquardt from the network's
# prediction (G_N held at its known value), and, for comparison, from the model's
# default start values. (Each new set of start values compiles the fit anew: a few seconds.)

# %%
y_fit = Y[N_TRAIN + j] * G_N
sigma = NOISE * G_N
x = {"bias": V}
start = {n: float(P_net[j, i]) for i, n in enumerate(NAMES)}
t0 = time.time()
res = curve_fit(model, x, y_fit, parameters_for(model, dict(start, G_N={"start": G_N, "fixed": True})),
                sigma=sigma, absolute_sigma=True)
t_net = time.time() - t0
t0 = time.time()
res_default = curve_fit(model, x, y_fit, parameters_for(model, {"G_N": {"start": G_N, "fixed": True}}),
                        sigma=sigma, absolute_sigma=True)
t_default = time.time() - t0
print(f"{'':>6s} {'true':>10s} {'network':>10s} {'fit from network':>24s} {'fit from defaults':>18s}")
for i, n in enumerate(NAMES):
    print(f"{n:>6s} {P_true[j, i]:10.4f} {P_net[j, i]:10.4f} {res.values[n]:12.4f} +- {res.stderr[n]:<8.2g} "
          f"{res_default.values[n]:18.4f}")
for lab, r, t in (("network start", res, t_net), ("default start", res_default, t_default)):
    print(f"{lab}: chi2_red {r.chi2_red:.3f}, converged {r.converged}, LM steps {r.n_steps}, {t:.1f} s")
print(f"total run time {time.time() - t_start:.0f} s")
