"""Bayesian inference (jaxqp.inference.bayes, numpyro): default priors, the log posterior against a
hand-written density, NUTS against an exact Gaussian posterior and against the Levenberg-Marquardt
covariance of an NIS fit, the charge-imbalance lifetime, and input checks."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

numpyro = pytest.importorskip("numpyro")
import numpyro.distributions as dist  # noqa: E402
from scipy import stats  # noqa: E402

from jaxqp.inference import bayes, fit, models  # noqa: E402

# 301 energies: at 201 the quadrature error (0.6 sigma per point at 1 % noise) already leaves
# spurious local minima in chi2; at 301 it is 0.15 sigma
NIS = models.NISConductance(n_energy=301)
NIS_TRUE = dict(delta=262.0, gamma=1.0, T=0.07, G_N=25e-6)
V = np.linspace(-600e-6, 600e-6, 41)
X = {"bias": jnp.asarray(V)}
NOISE = 0.01 * NIS_TRUE["G_N"]


@pytest.fixture(scope="module")
def nis_data():
    clean = np.asarray(NIS(X, **NIS_TRUE))
    return clean + NOISE * np.random.default_rng(0).standard_normal(clean.shape)


# a cheap model with one parameter of each kind of domain (interval, real line, half lines)
def toy(x, a, b, c, d, e):
    return a * x + b + c * x**2 + d * jnp.sin(3 * x) + e


TOY_PARAMS = {"a": fit.Parameter(1.0, 0.0, 5.0), "b": fit.Parameter(0.3, scale=2.0),
              "c": fit.Parameter(2.0, 1.0), "d": fit.Parameter(-1.0, upper=0.5),
              "e": fit.Parameter(0.0, fixed=True)}
TOY_X = jnp.linspace(-1.0, 1.0, 15)
TOY_SIGMA = 0.05 * (1.0 + np.asarray(TOY_X) ** 2)
TOY_Y = np.asarray(toy(TOY_X, 1.3, 0.2, 2.4, -0.7, 0.0)) + TOY_SIGMA * np.random.default_rng(3).standard_normal(15)


def test_default_priors_follow_the_parameter_bounds():
    pri = bayes.default_priors(TOY_PARAMS)
    assert list(pri) == ["a", "b", "c", "d"]  # e is fixed
    assert isinstance(pri["a"], dist.Uniform) and float(pri["a"].high) == 5.0
    assert isinstance(pri["b"], dist.Normal) and float(pri["b"].scale) == pytest.approx(20.0)
    # shifted log-normals: median at the start value, support beyond the bound
    for k, v, inside, outside in (("c", 2.0, 1.01, 0.99), ("d", -1.0, 0.49, 0.51)):
        assert bool(pri[k].support(inside)) and not bool(pri[k].support(outside))
        draws = np.asarray(pri[k].sample(jax.random.PRNGKey(0), (4000,)))
        assert np.median(draws) == pytest.approx(v, abs=0.08)
    nis = bayes.default_priors(NIS)
    assert all(isinstance(d, dist.LogNormal) for d in nis.values())
    assert float(nis["delta"].loc) == pytest.approx(math.log(250.0))
    assert list(bayes.default_priors(models.ChargeImbalance(n_energy=64))) == ["gamma"]


def _by_hand(z, y, sigma_data=None):
    """log posterior density of the unconstrained position z, written out with scipy."""
    za, zb, zc, zd = (float(z[k]) for k in "abcd")
    a = 5.0 / (1.0 + math.exp(-za))
    b, c, d = zb, 1.0 + math.exp(zc), 0.5 - math.exp(zd)
    logp = stats.uniform.logpdf(a, 0.0, 5.0) + math.log(5.0) - math.log1p(math.exp(-za)) - math.log1p(math.exp(za))
    logp += stats.norm.logpdf(b, 0.3, 20.0)
    logp += stats.lognorm.logpdf(c - 1.0, 1.0, scale=1.0) + zc  # LogNormal(log 1, 1) + 1, Jacobian e^zc
    logp += stats.lognorm.logpdf(0.5 - d, 1.0, scale=1.5) + zd  # 0.5 - LogNormal(log 1.5, 1)
    mean = np.asarray(toy(TOY_X, a, b, c, d, 0.0))
    if sigma_data is None:  # sampled noise level: HalfNormal(std y), log map
        s = math.exp(float(z["sigma"]))
        logp += stats.halfnorm.logpdf(s, scale=float(np.std(y))) + float(z["sigma"])
        sigma_data = s
    return logp + float(np.sum(stats.norm.logpdf(y, mean, sigma_data)))


def test_log_density_is_the_hand_written_posterior_with_jacobians():
    logp, z0, tr = bayes.log_density(toy, TOY_X, TOY_Y, sigma=TOY_SIGMA, params=TOY_PARAMS)
    assert set(z0) == set("abcd")
    assert float(tr["a"](z0["a"])) == pytest.approx(1.0)  # starts at the start values
    assert float(tr["d"](z0["d"])) == pytest.approx(-1.0)
    rng = np.random.default_rng(0)
    logp_j, grad_j = jax.jit(logp), jax.jit(jax.grad(logp))
    for trial in range(3):
        z = {k: jnp.asarray(float(v) + (0.0 if trial == 0 else 0.7 * rng.standard_normal())) for k, v in z0.items()}
        assert float(logp_j(z)) == pytest.approx(_by_hand(z, TOY_Y, TOY_SIGMA), rel=1e-11, abs=1e-9)
        g = grad_j(z)
        for k in z:  # the gradient is that of the hand-written density
            e = 1e-6
            up = dict(z, **{k: z[k] + e})
            dn = dict(z, **{k: z[k] - e})
            fd = (_by_hand(up, TOY_Y, TOY_SIGMA) - _by_hand(dn, TOY_Y, TOY_SIGMA)) / (2 * e)
            assert np.isfinite(float(g[k])) and float(g[k]) == pytest.approx(fd, rel=1e-5, abs=1e-4)

    # unknown noise level: one more site, HalfNormal(std y) prior
    logp_s, z0_s, tr_s = bayes.log_density(toy, TOY_X, TOY_Y, sigma=None, params=TOY_PARAMS)
    assert set(z0_s) == set("abcd") | {"sigma"}
    z = dict(z0_s, sigma=jnp.asarray(math.log(0.07)))
    assert float(jax.jit(logp_s)(z)) == pytest.approx(_by_hand(z, TOY_Y), rel=1e-11)
    assert float(tr_s["sigma"](z["sigma"])) == pytest.approx(0.07)

    # finite-difference derivatives: the same density, the same gradient for an exact model
    logp_fd, z0_fd, _ = bayes.log_density(toy, TOY_X, TOY_Y, sigma=TOY_SIGMA, params=TOY_PARAMS, gradient="fd")
    z = {k: v + 0.3 for k, v in z0_fd.items()}
    vg_fd = jax.jit(jax.value_and_grad(logp_fd))(z)
    assert float(vg_fd[0]) == pytest.approx(float(logp_j(z)), rel=1e-12)
    ga, gf = grad_j(z), vg_fd[1]
    scale = max(abs(float(v)) for v in ga.values())
    for k in z:
        assert float(gf[k]) == pytest.approx(float(ga[k]), abs=2e-3 * scale)


def test_nuts_reproduces_an_exact_gaussian_posterior_and_prior_predictive():
    """Straight line with normal priors: the posterior is Gaussian with a known mean and covariance."""
    x = np.linspace(0.0, 2.0, 12)
    s = 0.3
    y = 0.5 + 1.2 * x + s * np.random.default_rng(7).standard_normal(x.size)
    line = lambda x, a, b: a + b * x  # noqa: E731
    priors = {"a": dist.Normal(0.0, 2.0), "b": dist.Normal(1.0, 0.5)}
    A = np.stack([np.ones_like(x), x], 1)
    P = A.T @ A / s**2 + np.diag([1 / 2.0**2, 1 / 0.5**2])
    cov = np.linalg.inv(P)
    mean = cov @ (A.T @ y / s**2 + np.array([0.0, 1.0 / 0.5**2]))
    post = bayes.run_nuts(line, jnp.asarray(x), y, params={"a": 0.0, "b": 1.0}, priors=priors, sigma=s,
                          num_warmup=200, num_samples=400, num_chains=2, seed=3)
    assert post.gradient == "autodiff" and post.gradient_error < 1e-6  # an exact model
    assert post.samples["a"].shape == (2, 400)
    summ = post.summary()
    for i, k in enumerate("ab"):
        sd = math.sqrt(cov[i, i])
        assert abs(post.mean[k] - mean[i]) < 0.25 * sd, k
        assert post.sd[k] == pytest.approx(sd, rel=0.15), k
        assert summ[k]["r_hat"] < 1.05 and summ[k]["n_eff"] > 150
    corr = np.corrcoef(post.flat()["a"], post.flat()["b"])[0, 1]
    assert corr == pytest.approx(cov[0, 1] / math.sqrt(cov[0, 0] * cov[1, 1]), abs=0.1)
    assert post.divergences == 0
    # the finite-difference rule samples the same posterior
    post_fd = bayes.run_nuts(line, jnp.asarray(x), y, params={"a": 0.0, "b": 1.0}, priors=priors, sigma=s,
                             num_warmup=150, num_samples=300, gradient="fd", seed=4)
    assert post_fd.gradient == "fd"
    for i, k in enumerate("ab"):
        sd = math.sqrt(cov[i, i])
        assert abs(post_fd.mean[k] - mean[i]) < 0.3 * sd and post_fd.sd[k] == pytest.approx(sd, rel=0.2), k

    # prior predictive: the numpyro model samples y when it is not given
    fn = bayes.numpyro_model(line, jnp.asarray(x), params={"a": 0.0, "b": 1.0}, priors=priors, sigma=s)
    draws = numpyro.infer.Predictive(fn, num_samples=300)(jax.random.PRNGKey(0), y=None)
    assert draws["y"].shape == (300, x.size)
    assert np.std(np.asarray(draws["b"])) == pytest.approx(0.5, rel=0.15)


def test_nis_posterior_agrees_with_the_levenberg_marquardt_fit(nis_data):
    """For this nearly Gaussian problem the posterior standard deviations must reproduce the
    LM standard errors (inverse Gauss-Newton information): two independent computations."""
    start = models.parameters_for(NIS, {"delta": 250.0, "gamma": 1.5, "T": 0.065, "G_N": 24e-6})
    r = fit.curve_fit(NIS, X, nis_data, start, sigma=NOISE, absolute_sigma=True)
    assert r.converged
    # autodiff: efficient on 301 energies although the adaptive nodes carry no gradient (the
    # finite-difference rule is exercised on exact models below)
    post = bayes.run_nuts(NIS, X, nis_data, sigma=NOISE, init=r, num_warmup=150, num_samples=200, seed=0,
                          gradient="autodiff")
    assert post.names == ("delta", "gamma", "T", "G_N") and post.samples["T"].shape == (1, 200)
    assert post.gradient == "autodiff" and np.isnan(post.gradient_error)
    summ = post.summary()
    for k in r.free:
        assert abs(post.mean[k] - NIS_TRUE[k]) < 4 * post.sd[k], (k, post.mean[k], post.sd[k])
        assert post.sd[k] == pytest.approx(r.stderr[k], rel=0.35), (k, post.sd[k], r.stderr[k])
        assert np.isfinite(summ[k]["r_hat"]) and summ[k]["r_hat"] < 1.3
        assert summ[k]["5%"] < summ[k]["50%"] < summ[k]["95%"]
    assert post.divergence_fraction < 0.02, post.divergences
    ds = post.to_xarray()
    assert ds["delta"].dims == ("chain", "draw") and ds["delta"].attrs["units"] == "ueV"
    assert ds["G_N"].attrs["units"] == "S" and "diverging" in ds
    fig = post.plot(truths=NIS_TRUE)
    assert len([a for a in fig.axes if a.get_visible()]) == 10  # 4 histograms + 6 pair panels
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_charge_imbalance_lifetime_posterior_covers_the_truth():
    ci = models.ChargeImbalance(n_energy=401)
    defaults = {k: p.value for k, p in ci.parameters().items()}
    gamma_true = 1.53e-3
    x = {"bias": jnp.linspace(0.9, 1.5, 21) * 265e-6}
    clean = np.asarray(ci(x, **dict(defaults, gamma=gamma_true)))
    noise = 0.01 * clean.max()
    y = clean + noise * np.random.default_rng(11).standard_normal(clean.shape)
    post = bayes.run_nuts(ci, x, y, sigma=noise, init={"gamma": 2.5e-3}, num_warmup=100, num_samples=200, seed=1)
    assert post.names == ("gamma",) and post.fixed["delta"] == 265.0
    assert post.gradient in ("autodiff", "fd") and np.isfinite(post.gradient_error)
    m, sd = post.mean["gamma"], post.sd["gamma"]
    assert abs(m - gamma_true) < 4 * sd, (m, sd)
    assert 0 < sd < 0.05 * gamma_true
    assert post.divergences <= 2


def test_input_checks():
    y = TOY_Y
    with pytest.raises(ValueError, match=r"unknown parameter name\(s\) \['bogus'\].*\['a', 'b', 'c', 'd', 'e'\]"):
        bayes.run_nuts(toy, TOY_X, y, params=TOY_PARAMS, sigma=0.1, priors={"bogus": dist.Normal(0.0, 1.0)})
    with pytest.raises(ValueError, match=r"fixed: unknown parameter name\(s\) \['delta_ueV'\]"):
        bayes.numpyro_model(NIS, X, np.zeros(41), sigma=NOISE, fixed={"delta_ueV": 250.0})
    with pytest.raises(ValueError, match=r"y has shape \(40,\) but the model returns shape \(41,\)"):
        bayes.run_nuts(NIS, X, np.zeros(40), sigma=NOISE)
    with pytest.raises(ValueError, match="does not broadcast"):
        bayes.log_density(toy, TOY_X, y, params=TOY_PARAMS, sigma=np.ones(3))
    with pytest.raises(ValueError, match="both a prior and a fixed value"):
        bayes.numpyro_model(toy, TOY_X, y, params=TOY_PARAMS, sigma=0.1, priors={"a": dist.Uniform(0, 2)},
                            fixed={"a": 1.0})
    with pytest.raises(ValueError, match="outside the support"):
        bayes.run_nuts(toy, TOY_X, y, params=TOY_PARAMS, sigma=0.1, init={"a": 7.0})
    with pytest.raises(TypeError, match="FitModel"):
        bayes.default_priors(42)
    with pytest.raises(ValueError, match="gradient"):
        bayes.run_nuts(toy, TOY_X, y, params=TOY_PARAMS, sigma=0.1, gradient="numerical")
    # a parameter fixed by default is sampled once it has a prior
    fn = bayes.numpyro_model(toy, TOY_X, y, params=TOY_PARAMS, sigma=0.1, priors={"e": dist.Normal(0.0, 0.1)},
                             fixed={"b": 0.2})
    tr = numpyro.handlers.trace(numpyro.handlers.seed(fn, 0)).get_trace()
    sampled = [k for k, s in tr.items() if s["type"] == "sample" and not s["is_observed"]]
    assert sampled == ["a", "c", "d", "e"]
