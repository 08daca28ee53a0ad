"""jaxqp forward models inside a standard JAX training loop (equinox + optax).

An MLP maps a normalised NIS conductance curve (41 biases) to (Delta, Gamma, T) in
logistic coordinates.  It is trained on simulated curves with two loss terms: a
parameter regression and a physics-consistency (autoencoder) term
``|| NISConductance(net(y)) - y ||^2`` evaluated through the jaxqp forward model
inside the jitted training step, so that gradients flow through the junction
integrals into the network weights.

Compiled programs (all with fixed shapes): the forward model on 16 curves, the
training step, and the physics loss (gradient check).
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jax.random as jr
import numpy as np
import optax
import pytest

from jaxqp.inference.models import NISConductance

G_N = 25e-6  # S, fixed
MODEL = NISConductance(n_energy=201)
V = jnp.linspace(-600e-6, 600e-6, 41)  # V
LO = jnp.array([230.0, 0.3, 0.05])  # delta (ueV), gamma (ueV), T (K)
HI = jnp.array([290.0, 3.0, 0.15])
NOISE = 0.003  # on G / G_N
N_TRAIN, N_TEST, BLOCK = 64, 16, 16  # the physics term runs on one block of 16 training curves per step
STEPS, LR = 300, 1e-2
PHYS_WEIGHT = 1.0
FEATURE_SCALE = 0.1  # input features arcsinh(y / s): the sub-gap conductance (Gamma) stays visible


def to_physical(u):
    """Logistic coordinates (0..1) -> (delta ueV, gamma ueV, T K)."""
    return LO + (HI - LO) * u


def curve(p):
    """G/G_N on the bias grid V for p = (delta, gamma, T)."""
    return MODEL({"bias": V}, delta=p[0], gamma=p[1], T=p[2], G_N=G_N) / G_N


curves = jax.vmap(curve)
curves_jit = jax.jit(curves)  # used only on (16, 3) batches


def features(y):
    return jnp.arcsinh(y / FEATURE_SCALE) / np.arcsinh(1.0 / FEATURE_SCALE)


def predict(net, y):
    """Network prediction in logistic coordinates, shape (n, 3)."""
    return jax.nn.sigmoid(jax.vmap(net)(features(y)))


def loss_fn(net, y_all, u_all, y_block, weights):
    """weights[0] * parameter regression + weights[1] * physics consistency."""
    reg = jnp.mean((predict(net, y_all) - u_all) ** 2)
    phys = jnp.mean((curves(to_physical(predict(net, y_block))) - y_block) ** 2)
    return weights[0] * reg + weights[1] * phys, (reg, phys)


OPT = optax.adam(LR)


@eqx.filter_jit
def train_step(net, state, y_all, u_all, y_block, weights):
    (loss, aux), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(net, y_all, u_all, y_block, weights)
    updates, state = OPT.update(grads, state, net)
    return eqx.apply_updates(net, updates), state, loss, aux, grads


# ---------------------------------------------------------------------------------- physics loss
@jax.jit
def physics_loss(P, y):
    return jnp.mean((curves(P) - y) ** 2)


# ---------------------------------------------------------------------------------- fixture
@pytest.fixture(scope="module")
def experiment():
    rng = np.random.default_rng(1)
    n = N_TRAIN + N_TEST
    U = rng.uniform(size=(n, 3))
    Y = np.concatenate([np.asarray(curves_jit(to_physical(jnp.asarray(U[i:i + BLOCK]))))
                        for i in range(0, n, BLOCK)])
    assert np.all(np.isfinite(Y))
    Y = Y + NOISE * rng.standard_normal(Y.shape)
    y_tr, u_tr = jnp.asarray(Y[:N_TRAIN]), jnp.asarray(U[:N_TRAIN])
    y_te, u_te = jnp.asarray(Y[N_TRAIN:]), jnp.asarray(U[N_TRAIN:])

    net0 = eqx.nn.MLP(41, 3, 64, 2, activation=jax.nn.tanh, key=jr.PRNGKey(0))
    net, state = net0, OPT.init(eqx.filter(net0, eqx.is_array))
    weights = jnp.array([1.0, PHYS_WEIGHT])
    history = []
    for k in range(STEPS):
        b = k % (N_TRAIN // BLOCK)
        net, state, loss, (reg, phys), _ = train_step(net, state, y_tr, u_tr, y_tr[b * BLOCK:(b + 1) * BLOCK],
                                                      weights)
        history.append((float(loss), float(reg), float(phys)))

    def heldout(n_):
        """Mean absolute errors of (delta, gamma, T) on the held-out curves, and their
        physics-consistency residual (rms of G/G_N), through the same compiled step."""
        mae = np.asarray(jnp.mean(jnp.abs(to_physical(predict(n_, y_te)) - to_physical(u_te)), axis=0))
        _, _, _, (_, phys), _ = train_step(n_, OPT.init(eqx.filter(n_, eqx.is_array)), y_tr, u_tr, y_te,
                                           jnp.array([0.0, 1.0]))
        return mae, float(np.sqrt(phys))

    return dict(net0=net0, net=net, history=np.array(history), y_tr=y_tr, u_tr=u_tr,
                trained=heldout(net), untrained=heldout(net0))


# ---------------------------------------------------------------------------------- tests
def test_training_loss_decreases(experiment):
    h = experiment["history"]
    assert np.all(np.isfinite(h))
    first = h[0, 0]
    last = h[-(N_TRAIN // BLOCK):, 0].mean()  # one pass over the physics blocks
    print(f"\nloss: first {first:.4g}, last {last:.4g}, reduction {first / last:.3g}x "
          f"(regression {h[0, 1]:.3g} -> {h[-4:, 1].mean():.3g}, physics {h[0, 2]:.3g} -> {h[-4:, 2].mean():.3g})")
    assert first / last > 8.0
    # both terms improve
    assert h[-4:, 1].mean() < 0.25 * h[0, 1]
    assert h[-4:, 2].mean() < 0.1 * h[0, 2]


def test_heldout_parameters(experiment):
    (mae, rms), (mae0, rms0) = experiment["trained"], experiment["untrained"]
    print(f"\nheld-out MAE trained: delta {mae[0]:.3g} ueV, gamma {mae[1]:.3g} ueV, T {1e3 * mae[2]:.3g} mK, "
          f"physics rms {rms:.3g}")
    print(f"held-out MAE untrained: delta {mae0[0]:.3g} ueV, gamma {mae0[1]:.3g} ueV, T {1e3 * mae0[2]:.3g} mK, "
          f"physics rms {rms0:.3g}")
    tol_delta, tol_gamma, tol_rms = 6.0, 0.4, 0.12  # ueV, ueV, G/G_N
    assert mae[0] < tol_delta and mae[1] < tol_gamma and rms < tol_rms
    # the tolerances are not trivially met: the untrained network fails them
    assert mae0[0] > tol_delta and mae0[1] > tol_gamma and rms0 > tol_rms


def _perturbed(net, h, index=(7, 20)):
    return eqx.tree_at(lambda n: n.layers[0].weight, net, net.layers[0].weight.at[index].add(h))


def _physics_grad(experiment, net, index=(7, 20)):
    y_tr, u_tr = experiment["y_tr"], experiment["u_tr"]
    state = OPT.init(eqx.filter(net, eqx.is_array))
    _, _, loss, _, grads = train_step(net, state, y_tr, u_tr, y_tr[:BLOCK], jnp.array([0.0, 1.0]))
    return float(loss), float(grads.layers[0].weight[index])


def test_gradient_through_forward_model_matches_finite_difference(experiment):
    """d(physics loss)/d(one first-layer weight) by reverse-mode autodiff through the network
    and the jaxqp forward model, against a central finite difference of the same loss.

    jaxqp's energy nodes are smooth functions of the parameters (coherence-peak width Gamma/Delta,
    thermal window T/Delta) and carry their gradient, so autodiff gives the derivative of the
    computed loss itself: the finite difference is taken on the unchanged model.
    """
    net, y = experiment["net"], experiment["y_tr"][:BLOCK]
    loss, g_ad = _physics_grad(experiment, net)
    assert abs(float(physics_loss(to_physical(predict(net, y)), y)) - loss) <= 1e-11 * loss

    h = 1e-5
    lp = physics_loss(to_physical(predict(_perturbed(net, h), y)), y)
    lm = physics_loss(to_physical(predict(_perturbed(net, -h), y)), y)
    g_fd = float(lp - lm) / (2 * h)
    print(f"\nautodiff {g_ad:.10g}, finite difference {g_fd:.10g}, relative {abs(g_ad - g_fd) / abs(g_fd):.2g}")
    assert g_fd != 0.0
    assert abs(g_ad - g_fd) <= 1e-6 * abs(g_fd)
