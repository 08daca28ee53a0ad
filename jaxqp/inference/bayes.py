r"""Bayesian inference for jaxqp models: priors, log posteriors and NUTS sampling (numpyro).

The optional extra ``bayes`` (``pip install 'jaxqp[bayes]'``) turns any
`jaxqp.inference.models.FitModel` (or a plain ``model(x, **params)`` JAX function
with a dictionary of `jaxqp.inference.fit.Parameter`) into a probabilistic model:

- **likelihood**: independent Gaussian noise,
  $y_i \sim \mathcal N(m(x_i; \theta), \sigma_i)$, with known standard
  deviations ``sigma`` (scalar or an array broadcasting against ``y``, in the
  units of ``y``) or an unknown common noise level $\sigma$ sampled from
  ``noise_prior`` (default $\mathrm{HalfNormal}(\mathrm{std}(y))$);
- **priors** on the free parameters in physical units (`default_priors`
  derives them from the bounds of the `Parameter`; any
  ``numpyro.distributions`` object overrides them by name);
- **sampling** (`run_nuts`) with NUTS in whitened coordinates: the
  parameters are mapped to the real line (softplus for a half line, logit for an
  interval) and the result is centred and decorrelated by the Laplace
  approximation at the start, so that the sampler sees a nearly standard normal
  whatever the units (siemens next to micro-electronvolts);
- **gradients**: Hamiltonian Monte Carlo is efficient only with (close to) the
  derivative of the density it evaluates.  Where jaxqp places adaptive energy
  nodes without gradient (``stop_gradient``), a model's autodiff derivative misses
  the motion of the nodes; `check_gradients` measures the difference, and
  `run_nuts` (``gradient="auto"``) then differentiates the model by forward
  differences along the Laplace directions instead.

Recommended use: a Levenberg-Marquardt fit (`jaxqp.inference.fit.curve_fit`) first,
then `run_nuts` started at its optimum (``init=fit_result``).  For nearly
Gaussian problems the posterior standard deviations reproduce the fit's standard
errors; where they differ (parameters near a bound, strong non-linearity,
degeneracies), the posterior is the one to trust.

`log_density` exposes the same log posterior as a pure JAX function of
an unconstrained position, for any other JAX sampler (blackjax, a hand-written
Metropolis loop in ``jax.lax.scan``, variational inference); `numpyro_model`
gives the numpyro model itself (prior and posterior predictive checks).

Everything runs in float64 (jaxqp enables it on import).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Mapping

try:
    import numpyro
    import numpyro.distributions as dist
    from numpyro.distributions import constraints
    from numpyro.distributions.transforms import AffineTransform, ComposeTransform, SoftplusTransform, biject_to
except ImportError as _err:  # pragma: no cover - depends on the environment
    raise ImportError("jaxqp.inference.bayes needs numpyro: pip install 'jaxqp[bayes]'") from _err

import jax
import jax.numpy as jnp
import numpy as np

from .fit import FitResult, Parameter, as_parameter

__all__ = ["default_priors", "prior_for", "numpyro_model", "log_density", "run_nuts", "check_gradients",
           "Posterior", "NOISE_SITE", "OBS_SITE", "MODEL_SITE"]

#: name of the sampled noise level (when ``sigma`` is not given)
NOISE_SITE = "sigma"
#: name of the observed site
OBS_SITE = "y"
#: name of the optional deterministic site holding the model prediction
MODEL_SITE = "model"

GRADIENTS = ("auto", "autodiff", "fd")
_FD_STEP = 1e-3  #: the sampler's forward-difference step, in approximate posterior standard deviations
_CHECK_STEP = 1e-4  #: forward-difference step of the autodiff check, in approximate posterior standard deviations
_CHECK_POINTS = 8  #: points of the autodiff check: the start and draws from the Laplace approximation
#: ``gradient="auto"`` keeps autodiff when it agrees with finite differences to this (posterior standard
#: deviations per unit residual, `check_gradients`).  A conservative choice: NUTS with an NIS
#: conductance on 201 energies (error 0.6-1) needs 70-250 gradients a draw with autodiff and ~10
#: with finite differences; on 301-601 energies (error 0.3-0.8) autodiff still works (4-10).
_GRAD_TOL = 0.5


# --------------------------------------------------------------------------- priors
def _parameters_of(model_or_params) -> dict[str, Parameter]:
    if hasattr(model_or_params, "parameters") and callable(model_or_params.parameters):
        params = model_or_params.parameters()
    elif isinstance(model_or_params, Mapping):
        params = model_or_params
    else:
        raise TypeError("give a jaxqp.inference.models.FitModel or a dict name -> jaxqp.inference.fit.Parameter "
                        "(or start value)")
    return {k: as_parameter(v) for k, v in params.items()}


def _scale_of(p: Parameter) -> float:
    if p.scale is not None:
        return float(p.scale)
    return abs(float(p.value)) if p.value != 0 else 1.0


def prior_for(p: Parameter, *, log_sd: float = 1.0, width: float = 10.0):
    """The default prior of one `Parameter` (the rule of `default_priors`)."""
    lo, hi, v = float(p.lower), float(p.upper), float(p.value)
    if math.isfinite(lo) and math.isfinite(hi):
        return dist.Uniform(lo, hi)
    if math.isfinite(lo):
        if v <= lo:
            raise ValueError(f"start value {v} must lie above the lower bound {lo} to centre a log-normal prior")
        base = dist.LogNormal(math.log(v - lo), log_sd)
        return base if lo == 0.0 else dist.TransformedDistribution(
            base, AffineTransform(lo, 1.0, domain=constraints.positive))
    if math.isfinite(hi):
        if v >= hi:
            raise ValueError(f"start value {v} must lie below the upper bound {hi} to centre a log-normal prior")
        return dist.TransformedDistribution(dist.LogNormal(math.log(hi - v), log_sd),
                                            AffineTransform(hi, -1.0, domain=constraints.positive))
    return dist.Normal(v, width * _scale_of(p))


def default_priors(model_or_params, *, log_sd: float = 1.0, width: float = 10.0) -> dict:
    r"""Weakly informative priors for the free parameters, from their bounds and start values.

    The rule, for a parameter with start value $v$:

    - two finite bounds $(a, b)$: $\mathrm{Uniform}(a, b)$;
    - a lower bound $a$ only (positive quantities: gaps, temperatures,
      conductances): $a + \mathrm{LogNormal}(\ln(v - a), s)$ with
      ``s = log_sd`` (default 1: the start value is the median, and the prior
      spans a factor $e^{\pm 2} \approx 7$ at 95 %);
    - an upper bound $b$ only: $b - \mathrm{LogNormal}(\ln(b - v), s)$;
    - no bound: $\mathcal N(v, w\,c)$ with ``w = width`` (default 10) and
      $c$ the parameter's ``scale``, else $|v|$, else 1.

    Args:
        model_or_params: a `jaxqp.inference.models.FitModel` (its ``parameters()``) or a
            dict name -> `Parameter` (e.g. from
            `jaxqp.inference.models.parameters_for`).

    Returns:
        dict name -> ``numpyro.distributions.Distribution`` for the parameters that
        are not ``fixed``, in the order of the model's parameters.
    """
    params = _parameters_of(model_or_params)
    return {k: prior_for(p, log_sd=log_sd, width=width) for k, p in params.items() if not p.fixed}


# --------------------------------------------------------------------------- set-up and checks
@dataclasses.dataclass(frozen=True)
class _Setup:
    model: Callable
    names: tuple  # every model parameter, in order
    params: dict  # name -> Parameter
    priors: dict  # sampled parameter -> distribution (the free parameters, in order)
    fixed: dict  # held parameter -> value
    x: object
    y: object  # jnp array or None
    sigma: object  # jnp array (y's shape) or None: a noise level is sampled
    noise_prior: object
    out_shape: tuple


def _setup(model, x, y, *, params=None, priors=None, fixed=None, sigma=None, noise_prior=None) -> _Setup:
    if params is None:
        if not (hasattr(model, "parameters") and callable(model.parameters)):
            raise TypeError("a plain model function needs params= "
                            "(dict name -> jaxqp.inference.fit.Parameter or start)")
        params = model.parameters()
    params = {k: as_parameter(v) for k, v in params.items()}
    names = tuple(params)
    priors = dict(priors or {})
    fixed = dict(fixed or {})
    for what, d in (("priors", priors), ("fixed", fixed)):
        bad = sorted(set(d) - set(names))
        if bad:
            raise ValueError(f"{what}: unknown parameter name(s) {bad}; the model's parameters are {list(names)}")
    both = sorted(set(priors) & set(fixed))
    if both:
        raise ValueError(f"parameter(s) {both} are given both a prior and a fixed value")
    for k, d in priors.items():
        if not isinstance(d, dist.Distribution):
            raise TypeError(f"prior of {k!r} must be a numpyro.distributions.Distribution, got {type(d).__name__}")
    if NOISE_SITE in names and sigma is None:
        raise ValueError(f"the model has a parameter named {NOISE_SITE!r}, which clashes with the sampled "
                         "noise level: give sigma (the standard deviations of y)")
    # a parameter with an explicit prior is sampled even if its Parameter is fixed by default
    free = [k for k in names if k not in fixed and (k in priors or not params[k].fixed)]
    if not free:
        raise ValueError("no free parameters: every parameter is fixed")
    priors = {k: priors[k] if k in priors else prior_for(params[k]) for k in free}
    held = {k: float(fixed.get(k, params[k].value)) for k in names if k not in priors}

    if hasattr(model, "check_coords") and isinstance(x, Mapping):
        model.check_coords(x)
    x = jax.tree.map(jnp.asarray, x)
    start = {k: jnp.asarray(float(params[k].value)) for k in priors}
    out_shape = tuple(jax.eval_shape(lambda xx, pp: model(xx, **pp, **held), x, start).shape)

    if y is not None:
        y_np = np.asarray(y, float)
        if y_np.shape != out_shape:
            raise ValueError(f"y has shape {y_np.shape} but the model returns shape {out_shape} on these "
                             "coordinates")
        if not np.all(np.isfinite(y_np)):
            raise ValueError("y contains NaN/inf: remove those points before inference")
        y = jnp.asarray(y_np)
    if sigma is not None:
        s = np.asarray(sigma, float)
        try:
            s = np.broadcast_to(s, out_shape)
        except ValueError:
            raise ValueError(f"sigma of shape {np.shape(sigma)} does not broadcast against y of shape "
                             f"{out_shape}") from None
        if not np.all(np.isfinite(s)) or np.any(s <= 0):
            raise ValueError("sigma (standard deviations of y) must be finite and > 0")
        sigma = jnp.asarray(s)
        noise_prior = None
    elif noise_prior is None:
        if y is None:
            raise ValueError("without data y and sigma, give noise_prior (the prior of the noise level)")
        y_np = np.asarray(y)
        noise_prior = dist.HalfNormal(float(np.std(y_np)) or float(np.max(np.abs(y_np))) or 1.0)
    elif not isinstance(noise_prior, dist.Distribution):
        raise TypeError("noise_prior must be a numpyro.distributions.Distribution")
    return _Setup(model, names, params, priors, held, x, y, sigma, noise_prior, out_shape)


def _sampled(setup: _Setup) -> dict:
    """Sampled site -> prior: the free parameters, then the noise level when it is sampled."""
    out = dict(setup.priors)
    if setup.sigma is None:
        out[NOISE_SITE] = setup.noise_prior
    return out


# --------------------------------------------------------------------------- numpyro model
def _mean_from_sites(setup: _Setup, pre):
    """Model prediction from the physical parameter values: direct, or with finite-difference
    derivatives (in the unconstrained coordinates of ``pre``) when ``pre`` is given."""
    if pre is None:
        return lambda x, vals: setup.model(x, **vals, **setup.fixed)
    fdm = _fd_mean(setup, pre)

    def mean(x, vals):
        return fdm(x, jnp.stack([pre.tr[k].inv(vals[k]) for k in setup.priors]))

    return mean


def _core(setup: _Setup, record_model: bool = False, pre=None):
    """The numpyro model as a function of the data ``(x, y, sigma)``, passed as arguments so that
    compiled samplers take them as inputs rather than constants."""
    mean_fn = _mean_from_sites(setup, pre)
    priors, ndim = setup.priors, len(setup.out_shape)

    def fn(x, y=None, sigma=None):
        vals = {k: numpyro.sample(k, priors[k]) for k in priors}
        mean = mean_fn(x, vals)
        if record_model:
            numpyro.deterministic(MODEL_SITE, mean)
        s = numpyro.sample(NOISE_SITE, setup.noise_prior) if sigma is None else sigma
        numpyro.sample(OBS_SITE, dist.Normal(mean, s).to_event(ndim), obs=y)

    return fn


def numpyro_model(model, x, y=None, *, priors=None, fixed=None, sigma=None, noise_prior=None,
                  record_model: bool = False, params=None):
    r"""A numpyro model of the data: priors on the free parameters, Gaussian likelihood.

    Args:
        model: a `jaxqp.inference.models.FitModel`, or a pure JAX function ``model(x, **params)``
            together with ``params``.
        x: the data coordinates (for a FitModel a dict in SI units, e.g. ``{"bias": V}``).
        y: the measured values (the model's output shape); ``None`` for prior predictive only.
        priors: name -> ``numpyro.distributions`` prior, overriding `default_priors`;
            a parameter that is fixed by default becomes free when it is given a prior.
        fixed: name -> value: parameters held at that value (others that are ``fixed`` in
            their `Parameter` are held at its start value).
        sigma: standard deviations of ``y`` (scalar or array, units of ``y``); ``None``:
            a common noise level ``"sigma"`` is sampled from ``noise_prior``
            (default ``HalfNormal(std(y))``).
        record_model: also record the prediction as the deterministic site ``"model"``.
        params: name -> `Parameter` (default ``model.parameters()``).

    Returns:
        ``fn(y=y)``: a numpyro model; ``fn()`` conditions on the data, ``fn(y=None)``
        samples them (``numpyro.infer.Predictive(fn, num_samples=...)(key, y=None)`` gives
        prior predictive draws).  The sample sites are the parameter names, ``"sigma"``
        (when sampled) and the observed ``"y"``.

    Raises:
        ValueError: unknown names in ``priors``/``fixed`` (the message lists the valid ones),
            ``y`` or ``sigma`` of a shape that does not match the model's output.
    """
    setup = _setup(model, x, y, params=params, priors=priors, fixed=fixed, sigma=sigma, noise_prior=noise_prior)
    core = _core(setup, record_model)
    data_y, xs, s = setup.y, setup.x, setup.sigma

    def fn(y=data_y):
        return core(xs, None if y is None else jnp.asarray(y, float), s)

    return fn


# --------------------------------------------------------------------------- initial values
def _init_values(init, setup: _Setup) -> dict | None:
    """Physical values of the sampled sites where the chains start (``None`` for a numpyro strategy)."""
    sites = _sampled(setup)
    if init is None:
        vals = {k: float(setup.params[k].value) for k in setup.priors}
    elif isinstance(init, FitResult):
        vals = {k: float(init.values.get(k, setup.params[k].value)) for k in setup.priors}
    elif isinstance(init, Mapping):
        bad = sorted(set(init) - set(sites))
        if bad:
            raise ValueError(f"init: {bad} are not sampled; the sampled sites are {list(sites)}")
        vals = {k: float(init.get(k, setup.params[k].value)) for k in setup.priors}
        if NOISE_SITE in init:
            vals[NOISE_SITE] = float(init[NOISE_SITE])
    elif callable(init):
        return None
    else:
        raise TypeError("init must be None, a FitResult, a dict of values or a numpyro init strategy")
    for k, v in vals.items():
        if not (np.isfinite(v) and bool(sites[k].support(jnp.asarray(v)))):
            raise ValueError(f"initial value {k}={v} lies outside the support of its prior ({sites[k].support})")
    if setup.sigma is None and NOISE_SITE not in vals:  # the residual scatter at the initial point
        mean = jax.jit(lambda xx, pp: setup.model(xx, **pp, **setup.fixed))(setup.x, vals)
        rms = float(np.sqrt(np.mean((np.asarray(mean) - np.asarray(setup.y)) ** 2)))
        vals[NOISE_SITE] = rms if rms > 0 and np.isfinite(rms) else float(np.std(np.asarray(setup.y))) or 1.0
    return vals


def _start_values(init, setup: _Setup) -> dict:
    vals = _init_values(init, setup)
    if vals is None:  # a numpyro init strategy: the point it chooses
        info = numpyro.infer.util.initialize_model(jax.random.PRNGKey(0), _core(setup), init_strategy=init,
                                                   model_args=(setup.x, setup.y, setup.sigma))
        con = info.postprocess_fn(info.param_info.z)
        vals = {k: float(con[k]) for k in _sampled(setup)}
    return vals


def _init_strategy(init, setup: _Setup):
    vals = _init_values(init, setup)
    if vals is None:
        return init  # a numpyro init strategy (init_to_median, init_to_sample, ...)
    return numpyro.infer.init_to_value(values={k: jnp.asarray(v) for k, v in vals.items()})


# --------------------------------------------------------------------------- sampler coordinates
def _sampler_transform(prior, value: float, sd: float):
    r"""Bijection from the real line onto the prior's support used by the sampler.

    A half line $\theta > a$ is mapped by $\theta = a + c\,\mathrm{softplus}(z)$
    with $c$ the approximate posterior standard deviation (at most $v - a$): linear,
    so that a Gaussian posterior stays Gaussian, more than a few standard deviations from the
    bound, and exponential (like $\log$) close to it.  The plain log map turns the straight
    ridge of two correlated parameters into a curved one whenever a posterior reaches towards its
    bound (a Dynes Gamma of 1 +- 0.3 ueV correlated with T), which NUTS explores poorly.  Other
    supports use numpyro's ``biject_to`` (logit for an interval, identity for the real line).
    """
    support = prior.support
    upper = isinstance(support, constraints.less_than)
    if isinstance(support, constraints.greater_than) or upper:
        bound = float(support.upper_bound if upper else support.lower_bound)
        gap = abs(value - bound)
        c = min(sd, gap) if np.isfinite(sd) and sd > 0 else gap
        if np.isfinite(bound) and np.isfinite(c) and c > 0:
            return ComposeTransform([SoftplusTransform(),
                                     AffineTransform(bound, -c if upper else c, domain=constraints.positive)])
    return biject_to(support)


def _log_prior_z(d, t, z):
    """log prior density of theta = t(z) plus log |dtheta/dz|: the prior density of z."""
    th = t(z)
    return d.log_prob(th) + t.log_abs_det_jacobian(z, th)


def _chol_inverse(P):
    """Cholesky factor of P^-1 after Jacobi scaling (parameters of very different sizes); rows and
    columns without information get unit variance."""
    P = np.where(np.isfinite(P), np.asarray(P, float), 0.0)
    d = np.diag(P).copy()
    ok = d > 0
    d = np.where(ok, d, 1.0)
    P[~ok, :] = 0.0
    P[:, ~ok] = 0.0
    P[np.diag_indices_from(P)] = d * (1.0 + 1e-9)
    s = 1.0 / np.sqrt(d)
    try:
        C = np.linalg.inv(P * s[:, None] * s[None, :]) * s[:, None] * s[None, :]
        L = np.linalg.cholesky(0.5 * (C + C.T))
        if np.all(np.isfinite(L)):
            return L
    except np.linalg.LinAlgError:
        pass
    return np.diag(s)


@dataclasses.dataclass(frozen=True)
class _Precond:
    """Sampler coordinates ``z = z0 + L u`` (``theta_k = tr[k](z_k)``) and the model there."""

    names: tuple  # sampled sites: the free parameters, then the noise level
    tr: dict  # site -> bijection from the real line onto the prior's support
    z0: np.ndarray  # unconstrained start, (d,)
    L: np.ndarray  # Cholesky factor of the approximate posterior covariance of z, (d, d), block diagonal
    n_free: int
    evaluate: Callable  # (x, z rows (at most 2 n_free + 1, n_free)) -> model values (2 n_free + 1, n_data)

    @property
    def L_free(self):
        return self.L[:self.n_free, :self.n_free]


def _preconditioner(setup: _Setup, values: dict, *, check: bool = False):
    r"""Sampler coordinates from the Laplace approximation at the start ``values``.

    1. Jacobian of the model in physical units by forward differences (steps 1e-4 of each
       parameter's distance to its nearest bound, or of its scale), Gauss-Newton information
       ``F`` and standard deviations;
    2. the maps ``tr`` (`_sampler_transform`), the start ``z0`` and
       ``L = chol((D F D + H)^-1)``, ``D = dtheta/dz``, ``H`` the curvature of the log prior of ``z``
       (Jacobian term included; negative curvature dropped);
    3. two refinements of the free block with the Jacobian along the columns of ``L`` by central
       differences over +-0.5 standard deviations (slopes on the scale of the posterior, not of
       the small kinks an adaptive quadrature leaves): ``L <- L chol((J_u^T W J_u + L^T H L)^-1)``;

    Only model evaluations are used (one compiled batch of ``2 n_free + 1`` points).  With
    ``check``, also returns the autodiff error of `check_gradients`.
    """
    sites = _sampled(setup)
    names, free = tuple(sites), tuple(setup.priors)
    nf, d = len(free), len(sites)
    th0 = np.array([float(values[k]) for k in names])

    @jax.jit
    def model_at(x, th):  # (b, nf) physical -> (b, n_data)
        return jax.vmap(lambda t: setup.model(x, **{k: t[i] for i, k in enumerate(free)},
                                              **setup.fixed).reshape(-1))(th)

    def run(rows):  # one compiled batch size, 2 n_free + 1, for every call
        b = 2 * nf + 1
        rows = np.vstack([rows, np.repeat(rows[-1:], b - len(rows), axis=0)])
        return np.asarray(model_at(setup.x, jnp.asarray(rows)), float)

    def forward(center, rows, h):
        v = run(np.vstack([center[None], rows]))
        return v[0], ((v[1:nf + 1] - v[0]) / np.reshape(h, (-1, 1))).T

    s = np.asarray(setup.sigma, float).reshape(-1) if setup.sigma is not None else th0[nf]
    w = np.broadcast_to(1.0 / np.asarray(s) ** 2, (int(np.prod(setup.out_shape)),))

    # 1. physical Jacobian
    steps = np.empty(nf)
    for i, k in enumerate(free):
        sup = sites[k].support
        gaps = [abs(th0[i] - float(b)) for b in (getattr(sup, "lower_bound", None), getattr(sup, "upper_bound", None))
                if b is not None and np.isfinite(float(b))]
        base = min(gaps) if gaps else _scale_of(setup.params[k])
        steps[i] = 1e-4 * (base if base > 0 else 1.0)
    _, J = forward(th0[:nf], th0[:nf] + np.diag(steps), steps)
    F = np.zeros((d, d))
    F[:nf, :nf] = J.T @ (w[:, None] * J)
    if setup.sigma is None:  # a common Gaussian noise level: 2N / sigma^2
        F[nf, nf] = 2.0 * w.size / th0[nf] ** 2
    C = _chol_inverse(F)
    sd = np.sqrt(np.clip(np.diag(C @ C.T), 0.0, None))

    # 2. sampler maps, start and Laplace factor
    tr = {k: _sampler_transform(sites[k], th0[i], sd[i]) for i, k in enumerate(names)}

    @jax.jit
    def local(th):
        z = jnp.stack([tr[k].inv(th[i]) for i, k in enumerate(names)])
        D = jnp.stack([jax.grad(tr[k])(z[i]) for i, k in enumerate(names)])
        h = jnp.stack([-jax.grad(jax.grad(lambda u, p=sites[k], t=tr[k]: _log_prior_z(p, t, u)))(z[i])
                       for i, k in enumerate(names)])
        return z, D, h

    @jax.jit
    def theta_of(Z):  # rows of unconstrained free parameters -> physical
        return jnp.stack([tr[k](Z[:, i]) for i, k in enumerate(free)], axis=-1)

    z0, D, h = (np.asarray(a, float) for a in local(jnp.asarray(th0)))
    H = np.diag(np.clip(np.nan_to_num(h), 0.0, None))
    L = _chol_inverse(D[:, None] * F * D[None, :] + H)
    L[:nf, nf:] = 0.0
    L[nf:, :nf] = 0.0

    def along(Lf, hstep):
        rows = np.asarray(theta_of(jnp.asarray(z0[:nf][None] + hstep * Lf.T)), float)
        return forward(th0[:nf], rows, np.full(nf, hstep))

    def across(Lf, hstep):  # central differences: slopes over +-hstep, blind to small-scale kinks
        Z = z0[:nf][None] + hstep * np.vstack([Lf.T, -Lf.T])
        v = run(np.vstack([th0[None, :nf], np.asarray(theta_of(jnp.asarray(Z)), float)]))
        return ((v[1:nf + 1] - v[nf + 1:]) / (2.0 * hstep)).T

    # 3. refinement along the columns of L, over +-0.5 standard deviations (twice)
    for _ in range(2):
        Lf = L[:nf, :nf]
        Ju = across(Lf, 0.5)
        R = _chol_inverse(Ju.T @ (w[:, None] * Ju) + Lf.T @ H[:nf, :nf] @ Lf)
        L[:nf, :nf] = Lf @ R

    def evaluate(x, Z):  # padded to the compiled batch size
        Z = np.asarray(Z, float)
        Z = np.vstack([Z, np.repeat(Z[-1:], 2 * nf + 1 - len(Z), axis=0)])
        return model_at(x, theta_of(jnp.asarray(Z)))

    pre = _Precond(names, tr, z0, L, nf, evaluate)
    if not check:
        return pre
    # the model's derivative along each column against forward differences of it, at the start
    # and at points drawn from the Laplace approximation (the error varies from point to point)
    Lf = L[:nf, :nf]
    direct = _direct_mean(setup, tr)

    @jax.jit
    def jvps(x, zf, V):
        return jax.vmap(lambda v: jax.jvp(lambda q: direct(x, q), (zf,), (v,))[1].reshape(-1))(V)

    sq = np.sqrt(w)[:, None]
    rng = np.random.default_rng(0)
    errs = []
    for p in range(_CHECK_POINTS):
        zc = z0[:nf] + (Lf @ rng.standard_normal(nf) if p else 0.0)
        rows = np.asarray(theta_of(jnp.asarray(zc[None] + _CHECK_STEP * Lf.T)), float)
        thc = np.asarray(theta_of(jnp.asarray(zc[None])), float)[0]
        _, Ju = forward(thc, rows, np.full(nf, _CHECK_STEP))
        try:
            Jad = np.asarray(jvps(setup.x, jnp.asarray(zc), jnp.asarray(Lf.T)), float).T
        except (TypeError, NotImplementedError):  # no forward-mode rule (e.g. a custom_vjp solver)
            return pre, float("inf")
        errs.append(np.max(np.linalg.norm((Jad - Ju) * sq, axis=0)
                           / np.maximum(1.0, np.linalg.norm(Ju * sq, axis=0))))
    return pre, float(np.mean(errs))


def _direct_mean(setup: _Setup, tr: dict):
    """The model as a function of the free parameters' unconstrained values ``zf``."""
    free = tuple(setup.priors)

    def mean(x, zf):
        return setup.model(x, **{k: tr[k](zf[i]) for i, k in enumerate(free)}, **setup.fixed)

    return mean


def _fd_mean(setup: _Setup, pre: _Precond, h: float = _FD_STEP):
    r"""The model as a function of ``zf``, differentiated by forward differences along the columns
    of ``L_free`` (steps of ``h`` approximate posterior standard deviations): the derivative of
    the computed function, whatever the model's own derivative rules."""
    direct = _direct_mean(setup, pre.tr)
    Lf = jnp.asarray(pre.L_free)
    Linv_T = jnp.asarray(np.linalg.inv(pre.L_free).T)

    @jax.custom_vjp
    def mean(x, zf):
        return direct(x, zf)

    def fwd(x, zf):
        pts = jnp.concatenate([zf[None], zf[None] + h * Lf.T])
        vals = jax.vmap(direct, in_axes=(None, 0))(x, pts)
        return vals[0], ((vals[1:] - vals[0]) / h, x)

    def bwd(res, ct):
        Ju, x = res
        gu = jnp.sum(Ju * ct[None], axis=tuple(range(1, Ju.ndim)))
        return jax.tree.map(jnp.zeros_like, x), Linv_T @ gu

    mean.defvjp(fwd, bwd)
    return mean


def check_gradients(model, x, y=None, *, sigma=None, priors=None, fixed=None, noise_prior=None, params=None,
                    init=None) -> float:
    r"""How far the model's derivative rules are from the derivative of the computed function.

    Along each column $\ell_k$ of the Laplace factor (one approximate posterior standard
    deviation, see `run_nuts`) the model's forward-mode derivative $J_{ad}\ell_k$ is
    compared with the forward difference
    $d_k = [m(z + h\ell_k) - m(z)]/h$ ($h = 10^{-4}$), in units of the noise:
    $\max_k \lVert J_{ad}\ell_k - d_k\rVert_\sigma / \max(1, \lVert d_k\rVert_\sigma)$,
    the error of the log-likelihood gradient in whitened coordinates for unit residuals,
    averaged over the start and 7 points drawn from the Laplace approximation (it varies from
    point to point where an adaptive quadrature leaves small kinks).  An
    error near 1 spoils Hamiltonian Monte Carlo (its energy error grows along the trajectory
    however small the step); above 0.5 `run_nuts` with ``gradient="auto"`` uses
    finite-difference gradients.  Models whose derivative ignores part of their parameter
    dependence (adaptive quadrature nodes placed with ``stop_gradient``, loosely converged
    iterations) show up here; an exact model gives ~1e-4 (the finite-difference error).
    """
    setup = _setup(model, x, y, params=params, priors=priors, fixed=fixed, sigma=sigma, noise_prior=noise_prior)
    if setup.sigma is None and setup.y is None:
        raise ValueError("check_gradients needs sigma (or the data y to estimate a noise level)")
    return _preconditioner(setup, _start_values(init, setup), check=True)[1]


# --------------------------------------------------------------------------- log density
def log_density(model, x, y, *, sigma, priors=None, fixed=None, noise_prior=None, params=None, init=None,
                gradient: str = "autodiff", seed: int = 0):
    r"""The log posterior as a pure JAX function of an unconstrained position, for any JAX sampler.

    Each sampled site $\theta_k$ (the free parameters, and ``"sigma"`` when
    ``sigma=None``) is written $\theta_k = T_k(z_k)$ with $T_k$ the bijection
    from the real line onto the support of its prior (``transforms[k]``, numpyro's
    ``biject_to``: logit for an interval, log for a half line, identity otherwise), and

    $$
    \log p(z \mid y) = \sum_i \log \mathcal N(y_i; m(x_i; \theta), \sigma_i)
    + \sum_k \left[\log \pi_k(T_k(z_k)) + \log |T_k'(z_k)|\right],
    $$

    minus numpyro's potential energy, with every normalisation constant kept (the log of
    prior times likelihood, without the evidence).

    Args:
        sigma: standard deviations of ``y``, or ``None`` to sample a noise level (``noise_prior``).
        priors, fixed, noise_prior, params: as in `numpyro_model`.
        init: where ``init_position`` lies (default: the start values; a FitResult or dict).
        gradient: ``"autodiff"`` (the model's own derivative rules) or ``"fd"`` (forward
            differences of the model along the Laplace directions at ``init``, see
            `check_gradients`); the value of ``logp_fn`` is the same.

    Returns:
        ``(logp_fn, init_position, transforms)``: ``logp_fn(z)`` takes a dict name ->
        unconstrained value (a scalar per site) and returns a scalar (jit-, grad- and
        vmap-able); ``init_position`` is such a dict; ``transforms[k](z[k])`` gives the
        physical value.  The data are constants of ``logp_fn``.

    Example with blackjax (not a dependency of jaxqp)::

        import blackjax
        logp, z0, tr = log_density(model, x, y, sigma=s, init=fit_result)
        (state, kw), _ = blackjax.window_adaptation(blackjax.nuts, logp).run(
            jax.random.key(1), z0, num_steps=500)
        step = jax.jit(blackjax.nuts(logp, **kw).step)

        def one(state, key):
            state, _ = step(key, state)
            return state, state.position

        _, zs = jax.lax.scan(one, state, jax.random.split(jax.random.key(2), 1000))
        draws = {k: tr[k](v) for k, v in zs.items()}   # physical units
    """
    if gradient not in ("autodiff", "fd"):
        raise ValueError(f"gradient must be 'autodiff' or 'fd', got {gradient!r}")
    setup = _setup(model, x, y, params=params, priors=priors, fixed=fixed, sigma=sigma, noise_prior=noise_prior)
    if setup.y is None:
        raise ValueError("log_density needs the data y")
    pre = _preconditioner(setup, _start_values(init, setup)) if gradient == "fd" else None
    info = numpyro.infer.util.initialize_model(
        jax.random.PRNGKey(seed), _core(setup, pre=pre), init_strategy=_init_strategy(init, setup),
        model_args=(setup.x, setup.y, setup.sigma))
    potential = info.potential_fn

    def logp_fn(z):
        return -potential(z)

    transforms = {k: biject_to(site["fn"].support) for k, site in info.model_trace.items()
                  if site["type"] == "sample" and not site["is_observed"]}
    return logp_fn, dict(info.param_info.z), transforms


# --------------------------------------------------------------------------- posterior
@dataclasses.dataclass(frozen=True)
class Posterior:
    """Posterior draws of a NUTS run.

    - ``samples``: name -> array ``(chains, draws)`` in physical units (the free
      parameters, and ``"sigma"`` when the noise level was sampled);
    - ``units``: name -> unit label; ``fixed``: the held parameters and their values;
    - ``divergences``: number of divergent transitions after warm-up;
    - ``sample_stats``: ``diverging``, ``accept_prob``, ``num_steps``, ``potential_energy``
      per draw ``(chains, draws)``; ``deterministic``: ``"model"`` (the prediction,
      ``(chains, draws, *y.shape)``) when asked for;
    - ``gradient``: the derivative rule the sampler used (``"autodiff"`` or ``"fd"``) and
      ``gradient_error`` the measured disagreement of autodiff (`check_gradients`),
      when it was checked;
    - ``adaptation``: the adapted ``step_size`` and ``inverse_mass_matrix`` (whitened
      coordinates) and the Laplace factor ``L`` and centre ``z0`` of those coordinates.
    """

    samples: dict = dataclasses.field(repr=False)
    units: dict = dataclasses.field(default_factory=dict)
    fixed: dict = dataclasses.field(default_factory=dict)
    divergences: int = 0
    sample_stats: dict = dataclasses.field(default_factory=dict, repr=False)
    deterministic: dict = dataclasses.field(default_factory=dict, repr=False)
    model_name: str = ""
    gradient: str = "autodiff"
    gradient_error: float = float("nan")
    adaptation: dict = dataclasses.field(default_factory=dict, repr=False)

    @property
    def names(self) -> tuple:
        return tuple(self.samples)

    @property
    def num_chains(self) -> int:
        return int(next(iter(self.samples.values())).shape[0])

    @property
    def num_draws(self) -> int:
        return int(next(iter(self.samples.values())).shape[1])

    @property
    def mean(self) -> dict:
        """Posterior means by name."""
        return {k: float(np.mean(v)) for k, v in self.samples.items()}

    @property
    def sd(self) -> dict:
        """Posterior standard deviations by name."""
        return {k: float(np.std(v, ddof=1)) for k, v in self.samples.items()}

    @property
    def divergence_fraction(self) -> float:
        return self.divergences / max(1, self.num_chains * self.num_draws)

    def flat(self) -> dict:
        """Draws of all chains concatenated: name -> 1-D array."""
        return {k: np.asarray(v).reshape(-1) for k, v in self.samples.items()}

    def summary(self) -> dict:
        """name -> {mean, sd, 5%, 50%, 95%, r_hat, n_eff}: quantiles over all chains, split-chain
        r_hat and effective sample size from ``numpyro.diagnostics``."""
        enough = self.num_draws >= 4  # split-chain diagnostics need at least 4 draws per chain
        diag = numpyro.diagnostics.summary(self.samples, prob=0.9, group_by_chain=True) if enough else {}
        nan = {"r_hat": float("nan"), "n_eff": float("nan")}
        out = {}
        for k, v in self.samples.items():
            flat = np.asarray(v).reshape(-1)
            q5, q50, q95 = np.quantile(flat, [0.05, 0.5, 0.95])
            out[k] = {"mean": float(flat.mean()), "sd": float(flat.std(ddof=1)), "5%": float(q5),
                      "50%": float(q50), "95%": float(q95), "r_hat": float(diag.get(k, nan)["r_hat"]),
                      "n_eff": float(diag.get(k, nan)["n_eff"])}
        return out

    def __str__(self) -> str:
        head = f"{self.model_name}: " if self.model_name else ""
        lines = [f"{head}{self.num_chains} chain(s) x {self.num_draws} draws, {self.divergences} divergences, "
                 f"{self.gradient} gradients",
                 f"  {'':>12s} {'mean':>13s} {'sd':>10s} {'5%':>13s} {'50%':>13s} {'95%':>13s} "
                 f"{'r_hat':>6s} {'n_eff':>7s}"]
        for k, s in self.summary().items():
            lines.append(f"  {k:>12s} {s['mean']:13.6g} {s['sd']:10.3g} {s['5%']:13.6g} {s['50%']:13.6g} "
                         f"{s['95%']:13.6g} {s['r_hat']:6.3f} {s['n_eff']:7.0f} {self.units.get(k, '')}")
        if self.fixed:
            lines.append("  fixed: " + ", ".join(f"{k} = {v:.6g}" for k, v in self.fixed.items()))
        return "\n".join(lines)

    def to_xarray(self):
        """An ``xarray.Dataset``: one variable per sampled name (``units`` attribute) and the sampler
        statistics, dims ``(chain, draw)``."""
        import xarray as xr

        data = {k: xr.DataArray(np.asarray(v), dims=("chain", "draw"), attrs={"units": self.units.get(k, "")})
                for k, v in self.samples.items()}
        for k, v in self.sample_stats.items():
            data[k] = xr.DataArray(np.asarray(v), dims=("chain", "draw"))
        ds = xr.Dataset(data, coords={"chain": np.arange(self.num_chains), "draw": np.arange(self.num_draws)})
        ds.attrs.update(model=self.model_name, divergences=int(self.divergences), gradient=self.gradient,
                        fixed=", ".join(f"{k}={v:.8g}" for k, v in self.fixed.items()))
        return ds

    def plot(self, truths: dict | None = None):
        """Corner plot of the draws (`jaxqp.plot.corner_figure`); returns the figure."""
        from ..plot import corner_figure

        return corner_figure(self.samples, truths)


# --------------------------------------------------------------------------- NUTS
def _potential(setup: _Setup, pre: _Precond, fd: bool, h: float = _FD_STEP):
    """``potential_gen(x, y, sigma) -> potential(u)``: minus the log posterior density of the
    whitened coordinates ``u`` (the data are arguments, not constants of the compiled sampler), and
    ``pot_given(u, mean, y, sigma)`` with the model values given (for the first state)."""
    sites = _sampled(setup)
    names, tr = pre.names, pre.tr
    nf, ndim = len(setup.priors), len(setup.out_shape)
    z0, L = jnp.asarray(pre.z0), jnp.asarray(pre.L)
    log_det_L = float(np.sum(np.log(np.abs(np.diag(pre.L)))))
    mean_fn = _fd_mean(setup, pre, h) if fd else _direct_mean(setup, tr)
    sampled_noise = setup.sigma is None

    def pot_given(u, mean, y, sigma):
        z = z0 + L @ u
        lp = sum(_log_prior_z(sites[k], tr[k], z[i]) for i, k in enumerate(names)) + log_det_L
        s = tr[NOISE_SITE](z[nf]) if sampled_noise else sigma
        return -(lp + dist.Normal(mean.reshape(setup.out_shape), s).to_event(ndim).log_prob(y))

    def potential_gen(x, y, sigma):
        def potential(u):
            z = z0 + L @ u
            return pot_given(u, mean_fn(x, z[:nf]), y, sigma)

        return potential

    return potential_gen, pot_given


def _first_state(setup: _Setup, pre: _Precond, pot_given, us, h: float):
    """``ParamInfo(u, potential, gradient)`` for start points ``us`` (chains, d) from the compiled
    batch of model evaluations, with the sampler's forward-difference rule: the sampler then
    compiles the model only once, inside its loop.  (With autodiff gradients this first gradient
    is the finite-difference one: it only seeds the first warm-up trajectory.)"""
    nf = pre.n_free
    Lf = pre.L_free
    vg = jax.jit(jax.value_and_grad(pot_given, argnums=(0, 1)))
    out = []
    for u in us:
        zf = pre.z0[:nf] + (pre.L @ u)[:nf]
        v = np.asarray(pre.evaluate(setup.x, np.vstack([zf[None], zf[None] + h * Lf.T])))
        m0, Ju = v[0], ((v[1:nf + 1] - v[0]) / h).T
        pe, (gu, gm) = vg(jnp.asarray(u), jnp.asarray(m0), setup.y, setup.sigma)
        g = np.asarray(gu, float).copy()
        g[:nf] += Ju.T @ np.asarray(gm, float).reshape(-1)
        out.append(numpyro.infer.util.ParamInfo(jnp.asarray(u, float), jnp.asarray(float(pe)), jnp.asarray(g)))
    return out


_STATS = ("diverging", "accept_prob", "num_steps", "potential_energy")


def _chain_runner(sample_kernel, n_total: int):
    """One compiled chain: ``n_total`` NUTS transitions (warm-up included) in a ``lax.scan``."""

    def run(state, x, y, sigma):
        def body(state, _):
            state = sample_kernel(state, model_args=(x, y, sigma))
            return state, (state.z,) + tuple(getattr(state, k) for k in _STATS)

        return jax.lax.scan(body, state, None, length=n_total)

    return run


def run_nuts(model, x, y, *, priors=None, fixed=None, sigma=None, num_warmup: int = 300, num_samples: int = 300,
             num_chains: int = 1, seed: int = 0, init=None, progress_bar: bool = False,
             target_accept: float = 0.8, dense_mass: bool = True, noise_prior=None, params=None,
             record_model: bool = False, gradient: str = "auto", max_tree_depth: int = 8,
             chain_method: str | None = None, init_spread: float = 0.5, fd_step: float = _FD_STEP,
             adapt_mass: bool = True) -> Posterior:
    r"""Sample the posterior of a model's free parameters with NUTS (numpyro).

    The sampler works in whitened coordinates ``u``: ``z = z0 + L u``, ``theta_k = T_k(z_k)``,
    with ``T_k`` a bijection from the real line onto the support of the prior (softplus scaled by
    the approximate posterior standard deviation for a half line, logit for an interval),
    ``z0`` the start and ``L L^T`` the Laplace covariance there (inverse Gauss-Newton
    information of the likelihood plus the curvature of the log prior).  The posterior of ``u``
    is then close to a standard normal, which NUTS's step size and mass-matrix adaptation are
    tuned for; the draws are returned in physical units.

    Args:
        model, x, y, priors, fixed, sigma, noise_prior, params, record_model: as in
            `numpyro_model` (``sigma`` in the units of ``y``; ``None`` samples a noise level).
        num_warmup, num_samples, num_chains: warm-up (step size and mass matrix adaptation)
            and kept draws per chain.
        seed: random seed.
        init: where the chains start: ``None`` (the parameters' start values), a
            `jaxqp.inference.fit.FitResult` (its best-fit values: the recommended use, an LM fit
            first and NUTS from its optimum), a dict of values, or a numpyro init strategy.
            Several chains start at independent normal draws of spread ``init_spread`` (in
            Laplace standard deviations) around it.
        target_accept: target mean acceptance probability of the step-size adaptation.
        dense_mass: adapt a dense mass matrix, else a diagonal one.
        adapt_mass: adapt the mass matrix in warm-up (else the identity in the whitened
            coordinates, i.e. the Laplace covariance, and only the step size is adapted).
        gradient: ``"autodiff"`` (the model's derivative rules, one reverse pass), ``"fd"``
            (forward differences of the model along the columns of ``L``: ``n_free + 1``
            evaluations in one batch per gradient, the derivative of the computed function) or
            ``"auto"``: autodiff when `check_gradients` finds it within 0.5 posterior
            standard deviations per unit residual of finite differences, else ``"fd"``.  The
            sampler is exact with either (the acceptance uses the density itself; any
            position-dependent force keeps the leapfrog map volume-preserving and reversible):
            the gradient rule only decides how efficient it is.
        max_tree_depth: NUTS tree depth cap (at most ``2**depth`` gradient evaluations a draw).
        chain_method: ``"parallel"`` (``jax.pmap``, one device per chain), ``"sequential"`` (one
            compiled chain run in turn) or ``"vectorized"`` (``jax.vmap``); default: parallel when
            there are enough devices, else sequential.
        init_spread: spread of the chains' starts (several chains), in Laplace standard deviations.
        fd_step: forward-difference step of ``gradient="fd"``, in Laplace standard deviations.
        progress_bar: print the time each chain took (sequential chains).

    Returns:
        `Posterior`.

    Raises:
        ValueError: unknown names in ``priors``/``fixed`` (the message lists the valid ones),
            ``y``/``sigma`` shapes that do not match the model's output, bad sampler settings.
    """
    setup = _setup(model, x, y, params=params, priors=priors, fixed=fixed, sigma=sigma, noise_prior=noise_prior)
    if setup.y is None:
        raise ValueError("run_nuts needs the data y")
    for k, v in (("num_warmup", num_warmup), ("num_samples", num_samples), ("num_chains", num_chains)):
        if int(v) != v or v < (0 if k == "num_warmup" else 1):
            raise ValueError(f"{k} must be a {'non-negative' if k == 'num_warmup' else 'positive'} integer")
    if not 0.0 < target_accept < 1.0:
        raise ValueError("target_accept must lie in (0, 1)")
    if gradient not in GRADIENTS:
        raise ValueError(f"gradient must be one of {GRADIENTS}, got {gradient!r}")
    if chain_method is None:
        chain_method = "parallel" if num_chains > 1 and jax.local_device_count() >= num_chains else "sequential"
    if chain_method not in ("parallel", "sequential", "vectorized"):
        raise ValueError(f"chain_method must be 'parallel', 'sequential' or 'vectorized', got {chain_method!r}")
    if chain_method == "parallel" and num_chains > jax.local_device_count():
        raise ValueError(f"chain_method='parallel' needs a device per chain: {num_chains} chains, "
                         f"{jax.local_device_count()} device(s); use 'sequential' or 'vectorized'")

    start = _start_values(init, setup)
    err = float("nan")
    if gradient == "auto":
        pre, err = _preconditioner(setup, start, check=True)
        gradient = "autodiff" if err <= _GRAD_TOL else "fd"
    else:
        pre = _preconditioner(setup, start)
    potential_gen, pot_given = _potential(setup, pre, fd=gradient == "fd", h=fd_step)
    d = len(pre.names)
    us = np.zeros((num_chains, d))
    if num_chains > 1:
        us = init_spread * np.random.default_rng(seed).standard_normal((num_chains, d))
    init_kernel, sample_kernel = numpyro.infer.hmc.hmc(potential_fn_gen=potential_gen, algo="NUTS")
    keys = jax.random.split(jax.random.PRNGKey(seed), num_chains)
    states = [init_kernel(p, int(num_warmup), dense_mass=bool(dense_mass), adapt_mass_matrix=bool(adapt_mass),
                          target_accept_prob=target_accept,
                          max_tree_depth=max_tree_depth, model_args=(setup.x, setup.y, setup.sigma), rng_key=k)
              for p, k in zip(_first_state(setup, pre, pot_given, us, fd_step), keys, strict=False)]
    run = _chain_runner(sample_kernel, int(num_warmup) + int(num_samples))
    data = (setup.x, setup.y, setup.sigma)
    if chain_method == "sequential" or num_chains == 1:
        run_j = jax.jit(run)
        results = []
        for i, s in enumerate(states):
            t0 = time.perf_counter()
            results.append(jax.block_until_ready(run_j(s, *data)))
            if progress_bar:
                print(f"chain {i + 1}/{num_chains}: {num_warmup} warm-up + {num_samples} draws in "
                      f"{time.perf_counter() - t0:.1f} s", flush=True)
        last = results[-1][0]
        traces = jax.tree.map(lambda *a: np.stack([np.asarray(v) for v in a]), *[r[1] for r in results])
    else:
        stacked = jax.tree.map(lambda *a: jnp.stack(a), *states)
        mapped = jax.vmap(run, in_axes=(0, None, None, None)) if chain_method == "vectorized" else \
            jax.pmap(run, in_axes=(0, None, None, None))
        last_all, traces = mapped(stacked, *data)
        last = jax.tree.map(lambda a: a[-1], last_all)
        traces = jax.tree.map(np.asarray, traces)
    keep = slice(int(num_warmup), None)
    u = np.asarray(traces[0], float)[:, keep]  # (chains, draws, d)
    stats = {k: np.asarray(v)[:, keep] for k, v in zip(_STATS, traces[1:], strict=False)}
    adaptation = {"step_size": np.asarray(last.adapt_state.step_size),
                  "inverse_mass_matrix": np.asarray(last.adapt_state.inverse_mass_matrix),
                  "L": np.asarray(pre.L), "z0": np.asarray(pre.z0)}

    Z = pre.z0 + u.reshape(-1, d) @ pre.L.T
    to_phys = jax.jit(lambda Z: jnp.stack([pre.tr[k](Z[:, i]) for i, k in enumerate(pre.names)], axis=-1))
    th = np.asarray(to_phys(jnp.asarray(Z)), float).reshape(u.shape)
    samples = {k: th[..., i] for i, k in enumerate(pre.names)}
    deterministic = {}
    if record_model:
        nf = len(setup.priors)
        direct = _direct_mean(setup, pre.tr)
        pred = jax.jit(lambda x, Zs: jax.lax.map(lambda z: direct(x, z), Zs))(setup.x, jnp.asarray(Z[:, :nf]))
        deterministic[MODEL_SITE] = np.asarray(pred).reshape(u.shape[:2] + setup.out_shape)
    units = {k: setup.params[k].unit for k in setup.priors}
    if setup.sigma is None:
        out = getattr(model, "output", None)
        units[NOISE_SITE] = out[1] if isinstance(out, tuple) and len(out) == 2 else ""
    return Posterior(samples=samples, units=units, fixed=dict(setup.fixed),
                     divergences=int(np.sum(stats["diverging"])), sample_stats=stats,
                     deterministic=deterministic, model_name=getattr(model, "name", "") or "",
                     gradient=gradient, gradient_error=err, adaptation=adaptation)
