# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Bayesian posteriors for an NIS junction and the charge-imbalance lifetime
#
# `jaxqp.inference.bayes` (optional extra: `pip install 'jaxqp[bayes]'`, numpyro) turns the fit models
# of `jaxqp.inference.models` into probabilistic models: priors from the parameter bounds, a Gaussian
# likelihood, and NUTS in whitened coordinates. The recommended workflow is a
# Levenberg-Marquardt fit first, then NUTS started at its optimum.
#
# 1. NIS conductance (synthetic, Delta = 262 ueV, Gamma = 1 ueV, T = 70 mK, G_N = 25 uS, 1 % noise):
#    posterior, comparison with the LM standard errors, corner plot.
# 2. The model's autodiff derivative against finite differences, and what a too coarse energy
#    grid does to it.
# 3. Seed 001 charge imbalance: the posterior of the lifetime parameter Gamma.
# 4. The same log posterior in a hand-written random-walk Metropolis loop (`jax.lax.scan`):
#    any JAX sampler can use `jaxqp.inference.bayes.log_density`.
#
# Figures go to `$JAXQP_NOTEBOOK_OUT` (default `notebook-output/`). About a minute on a laptop CPU.
# `JAXQP_FAST=1` (CI) draws fewer samples on coarser energy grids.

# %%
import os
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

from jaxqp.inference import bayes, fit, models
from jaxqp.plot import save_figure

FAST = os.environ.get("JAXQP_FAST", "0") == "1"  # small grids (CI)
N_WARMUP, N_SAMPLES = (100, 150) if FAST else (200, 400)  # NUTS, per chain
OUT = Path(os.environ.get("JAXQP_NOTEBOOK_OUT", "notebook-output"))
OUT.mkdir(parents=True, exist_ok=True)
t_start = time.time()

# %% [markdown]
# ## 1. NIS conductance: least squares, then NUTS from the optimum

# %%
nis = models.NISConductance(n_energy=301)  # quadrature error 0.15 sigma at 1 % noise
truth = dict(delta=262.0, gamma=1.0, T=0.07, G_N=25e-6)
V = np.linspace(-600e-6, 600e-6, 41)
x = {"bias": jnp.asarray(V)}
noise = 0.01 * truth["G_N"]
G = np.asarray(nis(x, **truth)) + noise * np.random.default_rng(5).standard_normal(V.size)

lm = fit.curve_fit(nis, x, G, models.parameters_for(nis, {"delta": 250.0, "gamma": 1.5, "T": 0.065,
                                                             "G_N": 24e-6}),
                   sigma=noise, absolute_sigma=True, name="nis")
print(lm.summary())

post = bayes.run_nuts(nis, x, G, sigma=noise, init=lm, num_warmup=N_WARMUP, num_samples=N_SAMPLES, seed=0,
                      gradient="autodiff")
print(post)
print(f"\n{'':>6s} {'LM':>22s} {'posterior':>22s} {'sd / stderr':>12s}")
for k in lm.free:
    print(f"{k:>6s} {lm.values[k]:12.6g} +- {lm.stderr[k]:7.2g} {post.mean[k]:12.6g} +- {post.sd[k]:7.2g} "
          f"{post.sd[k] / lm.stderr[k]:12.2f}")

# %%
fig = post.plot(truths=truth)
fig.suptitle("NIS posterior (red: truth)", y=1.0)
save_figure(fig, OUT / "bayes_nis_corner.png")
print("wrote", OUT / "bayes_nis_corner.png")

# %% [markdown]
# Gamma and T are strongly anti-correlated (both fill the gap), and Gamma's posterior reaches
# towards its bound at zero: the posterior is the faithful summary there, the LM standard error
# a local approximation. `post.to_xarray()` gives the draws as a labelled dataset.

# %%
ds = post.to_xarray()
print(ds)

# %% [markdown]
# ## 2. Autodiff against finite differences
#
# Hamiltonian Monte Carlo is efficient only with (close to) the derivative of the density it
# evaluates. The NIS conductance integrates on an energy grid adapted to Delta, Gamma and T;
# where its nodes are placed without gradient, the autodiff derivative misses their motion.
# `check_gradients` gives that error in posterior standard deviations per unit residual;
# `run_nuts(gradient="auto")` keeps autodiff below 0.5 and differentiates by forward
# differences above (exact, but `n_free + 1` model evaluations per gradient). On 301 energies
# autodiff still samples efficiently (section 1 asks for it explicitly); on 201 energies
# (quadrature error 0.6 sigma per point) it does not, and the coarse grid also leaves spurious
# local minima in chi2, which a least-squares fit can stop in.

# %%
for n in (201, 301) if FAST else (201, 301, 601):  # each grid compiles anew
    m = models.NISConductance(n_energy=n)
    print(f"n_energy = {n}: check_gradients = {bayes.check_gradients(m, x, G, sigma=noise, init=truth):.3g}")

# %% [markdown]
# ## 3. Charge imbalance (seed 001, Fig. 10): posterior of the lifetime parameter Gamma

# %%
ci = models.ChargeImbalance(n_energy=201 if FAST else 401)
defaults = {k: p.value for k, p in ci.parameters().items()}
gamma_true = 1.53e-3
xi = {"bias": jnp.linspace(0.9, 1.5, 11 if FAST else 21) * 265e-6}
clean = np.asarray(ci(xi, **dict(defaults, gamma=gamma_true)))
ci_noise = 0.01 * clean.max()
g_ss = clean + ci_noise * np.random.default_rng(11).standard_normal(clean.shape)
post_ci = bayes.run_nuts(ci, xi, g_ss, sigma=ci_noise, init={"gamma": 2.5e-3}, num_warmup=N_WARMUP,
                         num_samples=N_SAMPLES, seed=1)
print(post_ci)

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.hist(post_ci.flat()["gamma"] * 1e3, bins=30, color="C0", alpha=0.7)
ax.axvline(gamma_true * 1e3, color="C3", label="truth")
ax.set(xlabel="Gamma [1e-3 Delta]", ylabel="draws", title="charge-imbalance lifetime")
ax.legend()
save_figure(fig, OUT / "bayes_charge_imbalance_gamma.png")

# %% [markdown]
# ## 4. Any JAX sampler: random-walk Metropolis on `log_density`
#
# `log_density` returns the log posterior as a pure function of the unconstrained position
# (numpyro's maps: log for positive parameters), its start and the maps back to physical
# units. A gradient-free random walk with proposals shaped by the LM covariance (mapped to
# log coordinates) needs nothing else; the whole chain is one `jax.lax.scan`.

# %%
logp, z0, tr = bayes.log_density(nis, x, G, sigma=noise, init=lm)
names = list(z0)
cov_log = lm.covariance / np.outer([lm.values[k] for k in lm.free], [lm.values[k] for k in lm.free])
order = [lm.free.index(k) for k in names]
chol = jnp.asarray(np.linalg.cholesky(cov_log[np.ix_(order, order)])) * 2.38 / np.sqrt(len(names))


def logp_vec(v):
    return logp({k: v[i] for i, k in enumerate(names)})


@jax.jit
def metropolis(key, v0, n_steps=1500 if FAST else 4000):
    def step(carry, key):
        v, lp = carry
        k1, k2 = jax.random.split(key)
        prop = v + chol @ jax.random.normal(k1, v.shape)
        lp_prop = logp_vec(prop)
        accept = jnp.log(jax.random.uniform(k2)) < lp_prop - lp
        v, lp = jnp.where(accept, prop, v), jnp.where(accept, lp_prop, lp)
        return (v, lp), (v, accept)

    _, (chain, acc) = jax.lax.scan(step, (v0, logp_vec(v0)), jax.random.split(key, n_steps))
    return chain, acc


v0 = jnp.stack([z0[k] for k in names])
chain, acc = metropolis(jax.random.PRNGKey(0), v0)
chain = chain[500 if FAST else 1000:]  # burn-in
rw = {k: np.asarray(tr[k](chain[:, i])) for i, k in enumerate(names)}
print(f"acceptance {float(acc.mean()):.2f}")
for k in names:
    print(f"{k:>6s} random walk {rw[k].mean():12.6g} +- {rw[k].std():7.2g}   "
          f"NUTS {post.mean[k]:12.6g} +- {post.sd[k]:7.2g}")

# %%
print(f"notebook done in {time.time() - t_start:.0f} s; figures in {OUT}/")
