r"""Fitting jaxqp models to measured curves and maps, with uncertainties.

One entry point, `curve_fit`, fits any pure JAX function
``model(x, **params) -> array`` (a curve, a map, several stacked observables)
to data ``y`` with standard deviations ``sigma``:

- **Least squares** (default): $\chi^2 = \sum_i r_i^2$,
  $r_i = (m(x_i; p) - y_i)/\sigma_i$, minimised by a trust-region Gauss-Newton method
  (``optimistix.Dogleg`` by default, or ``optimistix.LevenbergMarquardt``) with exact Jacobians from autodiff
  (forward mode through the jaxqp solvers, which differentiate their own
  iterations implicitly).
- **Robust losses** (``loss="soft_l1" | "huber" | "cauchy" | "arctan"``, scale
  ``f_scale``), as in ``scipy.optimize.least_squares``: the cost
  $\tfrac12 f^2 \sum_i \rho(r_i^2/f^2)$ is minimised by the same LM on the
  rescaled residuals $\tilde r_i = r_i\sqrt{\rho(z_i)/z_i}$, whose squares
  sum to the cost exactly.
- **Any scalar objective** (``loss=callable(model_values, y, sigma) -> scalar``,
  a negative log-likelihood, e.g. Poisson counts) or large problems:
  ``method="optax"`` (Adam by default, any ``optax`` optimiser), stopped when
  the objective stalls.

Parameters are `Parameter` objects: start value, bounds, fixed/free,
unit.  Bounded parameters are mapped to unconstrained coordinates (two bounds:
logistic; one bound: exponential (positivity); none: affine, scaled by the
start), so the optimiser never leaves the physical domain.  ``n_starts``
random starts inside the bounds (plus any explicit ``starts``) run as one
vectorised program; the lowest cost wins and all costs are reported.

At the optimum the covariance of the *physical* free parameters is
$C = (J^T J)^{-1}$ (Jacobian of the residuals) or the inverse Hessian of
the cost (``covariance="hessian"``), multiplied by the reduced chi-square
unless ``absolute_sigma`` (then ``sigma`` are true standard deviations, as in
``scipy.optimize.curve_fit``).  With a callable loss the cost is taken as a
negative log-likelihood and $C$ is its inverse Hessian.

`fit_many` fits the same model to a batch of data sets (the curves of a
map, repeated measurements, noise draws) in one vectorised call.

Physical models with units (NIS, spin-split NIS in a field, charge imbalance,
supercurrent relation, inelastic non-local maps) and the bias-offset and
series-resistance corrections are in `jaxqp.inference.models`; loading measured
data with units is in `jaxqp.inference.data`.  Computations run in float64.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from collections.abc import Callable, Mapping
from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import optimistix as optx
from jax.custom_derivatives import SymbolicZero

from ..internal import validation as val

LOSSES = ("linear", "soft_l1", "huber", "cauchy", "arctan")


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A fit parameter: start value, bounds, whether it is held fixed, and its unit (a label)."""

    value: float
    lower: float = -math.inf
    upper: float = math.inf
    fixed: bool = False
    unit: str = ""
    scale: float | None = None  #: typical size of an unbounded parameter (default: |start| or 1)

    def __post_init__(self):
        if not np.isfinite(self.value):
            raise ValueError(f"parameter start value must be finite, got {self.value}")
        if not (np.isfinite(self.lower) or self.lower == -math.inf) or not (
                np.isfinite(self.upper) or self.upper == math.inf):
            raise ValueError(f"parameter bounds must be numbers or -inf/+inf, got ({self.lower}, {self.upper})")
        if self.lower >= self.upper:
            raise ValueError(f"empty parameter range: lower={self.lower} >= upper={self.upper}")
        if not (self.lower < self.value < self.upper) and not self.fixed:
            raise ValueError(
                f"start value {self.value} lies outside the open range ({self.lower}, {self.upper}); "
                "move the start inside the bounds"
            )

    def replace(self, **kw) -> Parameter:
        return dataclasses.replace(self, **kw)


def as_parameter(p) -> Parameter:
    """``p`` itself if it is a `Parameter`, else a free, unbounded one starting at ``float(p)``."""
    return p if isinstance(p, Parameter) else Parameter(float(p))


def _to_physical(theta, p: Parameter, p0):
    """Unconstrained coordinate -> physical value; ``p0`` (the start) may be traced."""
    lo, hi = p.lower, p.upper
    if math.isfinite(lo) and math.isfinite(hi):
        return lo + (hi - lo) * jax.nn.sigmoid(theta)
    if math.isfinite(lo):
        return lo + (p0 - lo) * jnp.exp(theta)
    if math.isfinite(hi):
        return hi - (hi - p0) * jnp.exp(theta)
    if p.scale is not None:
        return p0 + p.scale * theta
    return p0 + jnp.where(p0 != 0, jnp.abs(p0), 1.0) * theta


def _to_internal(value: float, p: Parameter, p0: float) -> float:
    lo, hi = p.lower, p.upper
    if math.isfinite(lo) and math.isfinite(hi):
        t = (value - lo) / (hi - lo)
        return math.log(t / (1.0 - t))
    if math.isfinite(lo):
        return math.log((value - lo) / (p0 - lo))
    if math.isfinite(hi):
        return math.log((hi - value) / (hi - p0))
    scale = p.scale if p.scale is not None else (abs(p0) if p0 != 0 else 1.0)
    return (value - p0) / scale


def _random_starts(params: dict, free: tuple, n: int, seed: int) -> list[dict]:
    """``n`` start points spread over the parameter domains (uniform between two finite bounds,
    log-uniform within a factor 3 of the start's distance to a single bound, +-50 % otherwise)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        s = {}
        for k in free:
            p = params[k]
            lo, hi = p.lower, p.upper
            if math.isfinite(lo) and math.isfinite(hi):
                u = rng.uniform(0.02, 0.98)
                s[k] = lo + (hi - lo) * u
            elif math.isfinite(lo):
                s[k] = lo + (p.value - lo) * math.exp(rng.uniform(-math.log(3), math.log(3)))
            elif math.isfinite(hi):
                s[k] = hi - (hi - p.value) * math.exp(rng.uniform(-math.log(3), math.log(3)))
            else:
                scale = p.scale if p.scale is not None else (abs(p.value) if p.value else 1.0)
                s[k] = p.value + scale * rng.uniform(-0.5, 0.5)
        out.append(s)
    return out


def _robust(r, loss: str, f_scale: float):
    """Residuals rescaled so that their squares sum to ``f^2 sum rho(r^2/f^2)``."""
    if loss == "linear":
        return r
    z = (r / f_scale) ** 2
    small = z < 1e-10
    zs = jnp.where(small, 1.0, z)
    if loss == "soft_l1":
        ratio = 2.0 * (jnp.sqrt(1.0 + zs) - 1.0) / zs
    elif loss == "huber":
        ratio = jnp.where(zs <= 1.0, 1.0, (2.0 * jnp.sqrt(zs) - 1.0) / zs)
    elif loss == "cauchy":
        ratio = jnp.log1p(zs) / zs
    else:  # arctan
        ratio = jnp.arctan(zs) / zs
    return r * jnp.sqrt(jnp.where(small, 1.0, ratio))


_SOLVERS = {"lm": optx.LevenbergMarquardt, "gauss_newton": optx.GaussNewton, "dogleg": optx.Dogleg}


def _tolerances(method, rtol, atol) -> tuple[float, float]:
    """Default tolerances: 1e-6/1e-8 for the trust-region least-squares solvers (about 1e-3 of a
    standard error on well-determined parameters), 1e-8/1e-10 for the first-order optax loop."""
    tight = method == "optax"
    return (rtol if rtol is not None else (1e-8 if tight else 1e-6),
            atol if atol is not None else (1e-10 if tight else 1e-8))


#: cost differences below this (relative) are noise: rounding for closed-form models, the solver
#: tolerances for models computed by Newton-Krylov iterations (the non-equilibrium gap map varies
#: by 1e-11-1e-10 of its cost between evaluations that differ by rounding)
_FLAT = 1e-9


class _RoundoffTolerantTrustRegion(optx.ClassicalTrustRegion):
    """The classical trust region, which also accepts a step whose cost differs from the last by no
    more than the evaluation noise of the model (`_FLAT`, relative).  At the optimum the predicted
    decrease falls below that noise and the classical test rejects every step, shrinking the region
    until the step-size criterion stops the solve many (costly) iterations later; accepting such a
    step lets the Cauchy criterion stop it at once.  ``initial`` is the first radius (in the
    unconstrained coordinates, about a relative change of the parameters)."""

    initial: float = 1.0

    def init(self, y, f_info_struct):
        state = super().init(y, f_info_struct)
        return eqx.tree_at(lambda st: st.step_size, state, jnp.asarray(self.initial, state.step_size.dtype))

    def step(self, first_step, y, y_eval, f_info, f_eval_info, state):
        size, accept, result, new_state = super().step(first_step, y, y_eval, f_info, f_eval_info, state)
        f_min, f_eval = f_info.as_min(), f_eval_info.as_min()
        flat = jnp.abs(f_eval - f_min) <= _FLAT * jnp.abs(f_min)
        return size, accept | flat, result, new_state


class _StopWhenStuck(optx.AbstractLeastSquaresSolver):
    """``solver``, also stopped (not converged) once ``rejections`` steps in a row have failed to lower
    the cost: the trust region has then shrunk by ``4**rejections`` and no step is accepted, e.g. where
    the model is NaN at every trial point.  optimistix tests convergence only on accepted steps, so such
    a start would run to the step cap, or until its trial step falls below the rounding of the
    parameters, where a step that changes nothing is accepted and the start is reported converged.  In a
    batch of starts (`curve_fit`'s ``n_starts``) every start runs as long as the longest."""

    solver: optx.AbstractLeastSquaresSolver
    rtol: float  # the wrapped solver's tolerances and norm (abstract fields of every optimistix solver)
    atol: float
    norm: Callable
    rejections: int = eqx.field(static=True, default=20)

    def init(self, fn, y, args, options, f_struct, aux_struct, tags):
        return self.solver.init(fn, y, args, options, f_struct, aux_struct, tags)

    def step(self, fn, y, args, options, state, tags):
        return self.solver.step(fn, y, args, options, state, tags)

    def terminate(self, fn, y, args, options, state, tags):
        done, result = self.solver.terminate(fn, y, args, options, state, tags)
        stuck = state.num_steps_since_acceptance >= self.rejections
        return done | stuck, optx.RESULTS.where(stuck & ~done, optx.RESULTS.nonlinear_divergence, result)

    def postprocess(self, fn, y, aux, args, options, state, tags, result):
        return self.solver.postprocess(fn, y, aux, args, options, state, tags, result)


def _least_squares_solver(method, rtol, atol):
    """The optimistix solver for ``method`` (a name, or a solver instance used as it is)."""
    if isinstance(method, optx.AbstractLeastSquaresSolver):
        return method
    solver = _SOLVERS[method](rtol=rtol, atol=atol)
    if isinstance(getattr(solver, "search", None), optx.ClassicalTrustRegion):
        # dogleg: a first step of at most ~10 % per parameter keeps a poor start out of the curved
        # valleys where the trust region would shrink and creep (benchmarks/README.md)
        search = _RoundoffTolerantTrustRegion(initial=0.1 if method == "dogleg" else 1.0)
        solver = eqx.tree_at(lambda s: s.search, solver, search)
    return _StopWhenStuck(solver, solver.rtol, solver.atol, solver.norm)


#: default optimiser of ``method="optax"``
DEFAULT_OPTIMIZER = optax.adam(0.02)

_COMPILED: dict = {}


class _Bounds(NamedTuple):
    """What the compiled program needs of a `Parameter`: its transform, not its start value."""

    lower: float
    upper: float
    fixed: bool
    scale: float | None


def _layout(params: dict) -> tuple:
    """Hashable parameter layout of the compiled programs: start values are traced arguments, so new
    starts (multi-start, a network's guess per curve, the next curve of a map) reuse one program."""
    return tuple(sorted((k, _Bounds(p.lower, p.upper, p.fixed, p.scale)) for k, p in params.items()))


def _one_pass_jacobian(fn):
    """``fn(theta, args)`` (a residual vector) whose linearisation in ``theta`` is its materialised
    Jacobian from one forward pass with all tangents at once (``jax.jacfwd``).

    A least-squares step applies the Jacobian, its transpose and a QR of it; through the plain
    ``jax.linearize`` each of those re-runs the model's tangent program, here they are products
    with one stored matrix.  Tangents in ``args`` (differentiating a fit with respect to its data)
    go through ``jax.jvp`` of ``fn``.
    """

    @jax.custom_jvp
    def wrapped(theta, args):
        return fn(theta, args)

    def rule(primals, tangents):
        theta, args = primals
        dtheta, dargs = tangents

        def twice(t):
            out = fn(t, args)
            return out, out

        J, r = jax.jacfwd(twice, has_aux=True)(theta)
        tangent = J @ dtheta if not isinstance(dtheta, SymbolicZero) else jnp.zeros_like(r)
        if any(not isinstance(d, SymbolicZero) for d in jax.tree.leaves(
                dargs, is_leaf=lambda d: isinstance(d, SymbolicZero))):
            zeroed = jax.tree.map(lambda d, a: jnp.zeros_like(a) if isinstance(d, SymbolicZero) else d, dargs, args,
                                  is_leaf=lambda d: isinstance(d, SymbolicZero))
            tangent = tangent + jax.jvp(lambda a: fn(theta, a), (args,), (zeroed,))[1]
        return r, tangent

    wrapped.defjvp(rule, symbolic_zeros=True)
    return wrapped


def _compiled(model, spec, free, loss, f_scale, method, optimizer, rtol, atol, max_steps):
    """Jitted solver and curvature for one model and parameter layout (reused across calls)."""
    key = (model, spec, free, loss, f_scale, method, optimizer, rtol, atol, max_steps)
    if key in _COMPILED:
        return _COMPILED[key]
    params = dict(spec)
    callable_loss = callable(loss)

    def physical(theta, p0):
        out = {k: p0[k] for k, p in params.items() if p.fixed}
        for i, k in enumerate(free):
            out[k] = _to_physical(theta[i], params[k], p0[k])
        return out

    def residual_phys(pvals, x, y, sigma):
        r = (model(x, **pvals) - y) / sigma
        return _robust(r.reshape(-1), loss, f_scale) if not callable_loss else r.reshape(-1)

    def cost_phys(pvals, x, y, sigma):
        if callable_loss:
            return loss(model(x, **pvals), y, sigma)
        r = residual_phys(pvals, x, y, sigma)
        return 0.5 * jnp.sum(r * r)

    if method != "optax":
        solver = _least_squares_solver(method, rtol, atol)

        def minimise(theta0, p0, x, y, sigma):
            residual = _one_pass_jacobian(lambda theta, args: residual_phys(physical(theta, args[0]), *args[1:]))
            sol = optx.least_squares(residual, solver, theta0, args=(p0, x, y, sigma), max_steps=max_steps,
                                     throw=False)
            # the Jacobian at the accepted point, already materialised by the last step (no new trace)
            info = sol.state.f_info
            return sol.value, sol.result == optx.RESULTS.successful, sol.stats["num_steps"], (info.jac.as_matrix(),
                                                                                             info.residual)
    else:
        opt = optimizer

        def minimise(theta0, p0, x, y, sigma):
            def f(theta):
                return cost_phys(physical(theta, p0), x, y, sigma)

            vg = jax.value_and_grad(f)

            def cond(c):
                _, _, step, _, _, stall = c
                return (step < max_steps) & (stall < 20)

            def body(c):
                theta, state, step, prev, best, stall = c
                val_, g = vg(theta)
                upd, state = opt.update(g, state, theta)
                small = jnp.abs(prev - val_) <= rtol * jnp.abs(val_) + atol
                stall = jnp.where(small, stall + 1, 0)
                return optax.apply_updates(theta, upd), state, step + 1, val_, best, stall

            c0 = (theta0, opt.init(theta0), 0, jnp.inf, jnp.inf, 0)
            theta, _, steps, _, _, stall = jax.lax.while_loop(cond, body, c0)
            return theta, stall >= 20, steps, None

    def free_vector(theta, p0):
        pv = physical(theta, p0)
        return jnp.stack([pv[k] for k in free])

    @jax.jit
    def solve(theta0, p0, x, y, sigma):
        """Best fit from one start: (physical values, ok, steps, cost, model values at the optimum, and
        the Jacobian of the residuals in the free physical parameters where the solver has it)."""
        theta, ok, steps, lin = minimise(theta0, p0, x, y, sigma)
        pbest = physical(theta, p0)
        J = None if lin is None else lin[0]  # Jacobian of the (robust) residuals at the optimum
        if lin is not None and loss == "linear":  # the solver's own residuals: no new model trace
            r = lin[1].reshape(jnp.shape(y))
            mvals = y + sigma * r
        else:
            mvals = model(x, **pbest)
            r = (mvals - y) / sigma
        if callable_loss:
            cost = loss(mvals, y, sigma)
        else:
            r_rob = _robust(r.reshape(-1), loss, f_scale)
            cost = 0.5 * jnp.sum(r_rob * r_rob)
        if J is not None:  # d residual / d theta -> d residual / d physical (theta_i moves only v_i)
            J = J / jax.jvp(lambda t: free_vector(t, p0), (theta,), (jnp.ones_like(theta),))[1]
        return pbest, ok & jnp.isfinite(cost), steps, cost, {"model": mvals, "residuals": r, "jacobian": J}

    def with_free(v, pbest):
        pv = dict(pbest)
        for i, k in enumerate(free):
            pv[k] = v[i]
        return pv

    @functools.partial(jax.jit, static_argnames="kind")
    def information(pbest, x, y, sigma, kind):
        v = jnp.stack([pbest[k] for k in free])
        if kind == "jacobian" and not callable_loss:
            J = jax.jacfwd(lambda u: residual_phys(with_free(u, pbest), x, y, sigma))(v)
            info = J.T @ J
        else:
            info = jax.hessian(lambda u: cost_phys(with_free(u, pbest), x, y, sigma))(v)
        r = (model(x, **pbest) - y) / sigma
        return info, r, model(x, **pbest)

    _COMPILED[key] = (solve, information)
    return solve, information


def _pinv_scaled(info, rcond=1e-12):
    """Inverse of (a batch of) information matrices after Jacobi scaling, so that parameters of very
    different sizes (siemens and micro-electronvolts) do not look singular; and a singularity flag."""
    info = np.asarray(info, float)
    d = np.sqrt(np.abs(np.diagonal(info, axis1=-2, axis2=-1)))
    d = np.where(d > 0, 1.0 / np.where(d > 0, d, 1.0), 1.0)
    scaled = info * d[..., :, None] * d[..., None, :]
    inv = np.linalg.pinv(scaled, rcond=rcond, hermitian=True)
    w = np.linalg.eigvalsh(scaled)
    singular = (w[..., 0] <= rcond * np.maximum(w[..., -1], 1e-300)) | np.any(np.diagonal(info, axis1=-2,
                                                                                            axis2=-1) <= 0, -1)
    return inv * d[..., :, None] * d[..., None, :], singular


def _covariance(info, scale: float):
    """Covariance from the information matrix; flags a singular problem."""
    cov, singular = _pinv_scaled(info)
    cov = cov * scale
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(err, err)
    return cov, corr, err, bool(singular)


@dataclasses.dataclass(frozen=True)
class FitResult:
    """Outcome of a fit.

    - ``values``/``stderr``/``units``: best-fit values, standard errors and units by
      name (fixed parameters have stderr 0);
    - ``covariance``/``correlation``: over the free parameters, in the order of ``free``;
    - ``chi2`` (sum of squared normalised residuals), ``chi2_red`` = chi2/dof, ``dof``;
      ``cost`` (the minimised objective: chi2/2, the robust cost, or the callable loss);
    - ``residuals`` = (model - data)/sigma and ``model_values``, on the data grid;
    - ``converged``, ``message``, ``n_steps``; ``identifiable`` is False when the
      information matrix is singular (a parameter the data do not constrain);
    - ``start_costs``: the cost reached from every start (multi-start diagnostics).
    """

    values: dict
    stderr: dict
    free: tuple
    covariance: np.ndarray
    correlation: np.ndarray
    chi2: float
    chi2_red: float
    dof: int
    residuals: np.ndarray
    model_values: np.ndarray
    converged: bool
    message: str
    n_steps: int
    units: dict = dataclasses.field(default_factory=dict)
    cost: float = float("nan")
    identifiable: bool = True
    start_costs: tuple = ()
    model_name: str = ""

    def summary(self) -> str:
        head = f"{self.model_name}: " if self.model_name else ""
        lines = [f"{head}chi2 = {self.chi2:.6g}, reduced chi2 = {self.chi2_red:.4g} (dof {self.dof}), "
                 f"converged = {self.converged} ({self.message}), steps = {self.n_steps}"]
        if not self.identifiable:
            lines.append("  warning: the data do not constrain every free parameter (singular information matrix)")
        for k, v in self.values.items():
            e = self.stderr[k]
            u = self.units.get(k, "")
            lines.append(f"  {k:>14s} = {v:.8g} +- {e:.3g} {u}" + ("  (fixed)" if k not in self.free else ""))
        if len(self.start_costs) > 1:
            lines.append("  costs from the starts: " + ", ".join(f"{c:.4g}" for c in self.start_costs))
        return "\n".join(lines)

    def report(self) -> dict:
        """A JSON-serialisable dictionary of the result."""
        def clean(a):
            a = np.asarray(a, float)
            return np.where(np.isfinite(a), a, None).tolist()

        return {
            "model": self.model_name, "values": self.values, "stderr": self.stderr, "units": self.units,
            "free": list(self.free), "covariance": clean(self.covariance), "correlation": clean(self.correlation),
            "chi2": self.chi2, "chi2_red": self.chi2_red, "dof": self.dof, "cost": self.cost,
            "converged": self.converged, "message": self.message, "n_steps": self.n_steps,
            "identifiable": self.identifiable, "start_costs": list(self.start_costs),
        }

    def to_json(self, path) -> None:
        from pathlib import Path

        Path(path).write_text(json.dumps(self.report(), indent=2))

    def plot(self, x, y, *, xlabel="x", ylabel="y", coords=None, labels=None):
        """Data, model and normalised residuals; returns the matplotlib figure.

        Curves (or a few stacked curves, one per row, e.g. per field, ``labels``) are drawn against
        ``x``; a map with more than 8 rows is drawn as three colour panels (data, model,
        residuals) on ``coords = (row_values, col_values)``.
        """
        from ..plot import fit_figure, fit_map_figure

        if np.ndim(self.model_values) == 2 and np.shape(self.model_values)[0] > 8:
            return fit_map_figure(self, y, coords=coords, xlabel=xlabel, ylabel=ylabel)
        return fit_figure(self, x, y, xlabel=xlabel, ylabel=ylabel, labels=labels)


def _prepare(model, y, params, sigma, loss, covariance, method) -> tuple[dict[str, Parameter], jax.Array, jax.Array,
                                                                    tuple]:
    params = {k: as_parameter(v) for k, v in params.items()}
    y = jnp.asarray(y, float)
    val.check_finite("y", y, hint="remove NaN/inf data points (or mask them with a large sigma) before fitting")
    if sigma is None:  # a scale only (the covariance is then scaled by the reduced chi-square)
        scale = float(np.sqrt(np.mean(np.square(np.asarray(y))))) or 1.0
        sigma_arr = jnp.full_like(y, scale)
    else:
        sigma_arr = jnp.broadcast_to(jnp.asarray(sigma, y.dtype), y.shape)
    val.check_positive("sigma", sigma_arr, hint="standard deviations must be > 0")
    if covariance not in ("jacobian", "hessian"):
        raise ValueError("covariance must be 'jacobian' or 'hessian'")
    if not (method in ("optax",) + tuple(_SOLVERS) or isinstance(method, optx.AbstractLeastSquaresSolver)):
        raise ValueError(f"method must be one of {('optax',) + tuple(_SOLVERS)} or an optimistix least-squares "
                         f"solver, got {method!r}")
    if not callable(loss) and loss not in LOSSES:
        raise ValueError(f"loss must be one of {LOSSES} or a callable(model_values, y, sigma) -> scalar")
    if callable(loss) and method != "optax":
        raise ValueError("a callable loss is not a sum of squares: use method='optax'")
    free = tuple(k for k, p in params.items() if not p.fixed)
    if not free:
        raise ValueError("no free parameters: set fixed=False on at least one Parameter")
    return params, y, sigma_arr, free


def curve_fit(model: Callable, x, y, params: Mapping[str, Parameter | float], *, sigma=None,
              absolute_sigma: bool = False, covariance: str = "jacobian", loss="linear", f_scale: float = 1.0,
              method: str = "dogleg", optimizer=None, rtol: float | None = None, atol: float | None = None,
              max_steps: int | None = None, starts: list[Mapping[str, float]] | None = None, n_starts: int = 0,
              seed: int = 0, name: str = "") -> FitResult:
    """Fit ``model(x, **params) -> y`` to data.

    Args:
        model: pure JAX function of the data coordinates (any pytree) and keyword parameters;
            it may return a curve, a map or any array of ``y``'s shape.
        x, y: data coordinates and values.
        params: name -> `Parameter` (or a plain start value).
        sigma: standard deviations of ``y`` (scalar or array); default: unknown (the
            root-mean-square of ``y`` is used as a scale, and the covariance is
            scaled by the reduced chi-square).
        absolute_sigma: take ``sigma`` as absolute (else scale the covariance by
            the reduced chi-square).
        covariance: ``"jacobian"`` (J^T J) or ``"hessian"`` (exact Hessian of the cost).
        loss: ``"linear"`` (least squares), a robust loss (``"soft_l1"``, ``"huber"``,
            ``"cauchy"``, ``"arctan"``) with scale ``f_scale`` (in units of sigma), or a
            callable ``(model_values, y, sigma) -> scalar`` negative log-likelihood
            (needs ``method="optax"``).
        method: ``"dogleg"`` (default: Powell's dogleg trust region with the exact Gauss-Newton
            step, optimistix), ``"lm"`` (Levenberg-Marquardt), ``"gauss_newton"``, any
            ``optimistix`` least-squares solver instance, or ``"optax"`` (first-order,
            ``optimizer``, default Adam with learning rate 0.02 in the unconstrained
            coordinates).  On the benchmark fits the dogleg needs 2-3x fewer steps than LM.
        rtol, atol, max_steps: tolerances (default 1e-6, 1e-8 on the unconstrained parameters and the
            cost for least squares, 1e-8, 1e-10 on the objective for optax) and step cap (default 256
            for least squares, 5000 for optax).
        starts: explicit extra start points (dicts of values);
        n_starts: extra random starts inside the bounds (reproducible with ``seed``).
            All starts run in one vectorised call; the lowest cost wins.
        name: model name for the report.
    """
    if absolute_sigma and sigma is None:
        raise ValueError("absolute_sigma=True needs sigma (the standard deviations of the data)")
    params, y, sigma_arr, free = _prepare(model, y, params, sigma, loss, covariance, method)
    n_data = int(np.prod(y.shape))
    dof = n_data - len(free)
    if dof <= 0:
        raise ValueError(f"{n_data} data points cannot determine {len(free)} free parameters")
    max_steps = max_steps or (5000 if method == "optax" else 256)
    rtol, atol = _tolerances(method, rtol, atol)
    optimizer = optimizer if optimizer is not None else DEFAULT_OPTIMIZER
    p0 = {k: p.value for k, p in params.items()}
    spec = _layout(params)
    solve, information = _compiled(model, spec, free, loss, float(f_scale), method,
                                   optimizer if method == "optax" else None, rtol, atol, max_steps)
    p0_arr = {k: jnp.asarray(v, dtype=float) for k, v in p0.items()}

    start_list = [dict(p0)] + [dict(p0, **s) for s in (starts or [])] + _random_starts(params, free, n_starts, seed)
    for s in start_list:
        for k in free:
            p = params[k]
            if not (p.lower < s[k] < p.upper):
                raise ValueError(f"start value {k}={s[k]} lies outside ({p.lower}, {p.upper})")
    thetas = jnp.asarray([[_to_internal(float(s[k]), params[k], p0[k]) for k in free] for s in start_list])
    if len(start_list) == 1:
        outs = jax.tree.map(lambda a: a[None], solve(thetas[0], p0_arr, x, y, sigma_arr))
    else:
        outs = jax.vmap(solve, in_axes=(0, None, None, None, None))(thetas, p0_arr, x, y, sigma_arr)
    costs = np.asarray(outs[3])
    ranked = np.where(np.isfinite(costs), costs, np.inf)
    i = int(np.argmin(ranked))
    pbest, ok, nsteps, cost, extra = jax.tree.map(lambda a: a[i], outs)
    if not np.isfinite(float(cost)):
        raise FloatingPointError("the model returned NaN/inf at every start: check the start values and bounds")
    if extra["jacobian"] is not None and covariance == "jacobian":
        J = np.asarray(extra["jacobian"])
        info, r, mvals = J.T @ J, extra["residuals"], extra["model"]
    else:
        info, r, mvals = information(pbest, x, y, sigma_arr, kind=covariance)
    r = np.asarray(r).reshape(y.shape)
    chi2 = float(np.sum(r * r))
    chi2_red = chi2 / dof
    scale = 1.0 if absolute_sigma else (chi2_red if not callable(loss) else 1.0)
    cov, corr, err, singular = _covariance(info, scale)
    values = {k: float(pbest[k]) for k in params}
    stderr = {k: 0.0 for k in params}
    stderr.update({k: float(e) for k, e in zip(free, err, strict=False)})
    converged = bool(ok)
    return FitResult(
        values=values, stderr=stderr, free=free, covariance=cov, correlation=corr, chi2=chi2,
        chi2_red=chi2_red, dof=dof, residuals=r, model_values=np.asarray(mvals),
        converged=converged, message="successful" if converged else "not converged (step cap or failed step)",
        n_steps=int(nsteps), units={k: p.unit for k, p in params.items()}, cost=float(cost),
        identifiable=not singular, start_costs=tuple(float(c) for c in costs), model_name=name,
    )


@dataclasses.dataclass(frozen=True)
class BatchFitResult:
    """Fits of one model to a batch of data sets: arrays with the batch as leading axis."""

    values: dict
    stderr: dict
    free: tuple
    covariance: np.ndarray
    chi2: np.ndarray
    chi2_red: np.ndarray
    dof: int
    converged: np.ndarray
    n_steps: np.ndarray
    units: dict = dataclasses.field(default_factory=dict)

    def __len__(self):
        return int(self.chi2.shape[0])


def fit_many(model: Callable, x, Y, params: Mapping[str, Parameter | float], *, sigma=None,
             absolute_sigma: bool = False, covariance: str = "jacobian", loss="linear", f_scale: float = 1.0,
             method="dogleg", rtol: float | None = None, atol: float | None = None,
             max_steps: int = 256) -> BatchFitResult:
    """Fit ``model(x, **params)`` to every data set ``Y[b]`` (shared ``x`` and starts) in one
    vectorised least-squares call: the curves of a measured map, repeated sweeps, noise draws.

    ``sigma`` broadcasts against ``Y`` (e.g. one noise level per data set: shape ``(B, 1)``).
    """
    if method == "optax":
        raise ValueError("fit_many runs least-squares solvers: method 'lm', 'gauss_newton', 'dogleg' or an "
                         "optimistix solver")
    params, Y, sigma_arr, free = _prepare(model, Y, params, sigma, loss, covariance, method)
    if Y.ndim < 2:
        raise ValueError("fit_many needs a batch of data sets: Y with a leading batch axis")
    n_data = int(np.prod(Y.shape[1:]))
    dof = n_data - len(free)
    if dof <= 0:
        raise ValueError(f"{n_data} data points cannot determine {len(free)} free parameters")
    p0 = {k: jnp.asarray(p.value, float) for k, p in params.items()}
    spec = _layout(params)
    rtol, atol = _tolerances(method, rtol, atol)
    solve, information = _compiled(model, spec, free, loss, float(f_scale), method, None, rtol, atol, max_steps)
    theta0 = jnp.zeros(len(free))  # the start itself in internal coordinates
    for k in free:
        p = params[k]
        if math.isfinite(p.lower) and math.isfinite(p.upper):
            theta0 = theta0.at[free.index(k)].set(_to_internal(p.value, p, p.value))

    bkey = ("batch", model, spec, free, loss, float(f_scale), method, rtol, atol, max_steps, covariance)
    if bkey not in _COMPILED:
        @jax.jit
        def batch(theta0, p0, x, Y, S):
            def one(y, s):
                pbest, ok, steps, _, extra = solve(theta0, p0, x, y, s)
                if covariance == "jacobian" and extra["jacobian"] is not None:
                    info, r = extra["jacobian"].T @ extra["jacobian"], extra["residuals"]
                else:
                    info, r, _ = information(pbest, x, y, s, kind=covariance)
                return pbest, ok, steps, info, jnp.sum(r * r)

            return jax.vmap(one)(Y, S)

        _COMPILED[bkey] = batch
    batch = _COMPILED[bkey]

    pbest, ok, steps, info, chi2 = batch(theta0, p0, x, Y, sigma_arr)
    chi2 = np.asarray(chi2)
    chi2_red = chi2 / dof
    info = np.asarray(info)
    scale = np.ones_like(chi2_red) if absolute_sigma else chi2_red
    cov = _pinv_scaled(info)[0] * scale[:, None, None]
    err = np.sqrt(np.clip(np.diagonal(cov, axis1=1, axis2=2), 0.0, None))
    values = {k: np.asarray(pbest[k]) for k in params}
    stderr = {k: np.zeros(len(chi2)) for k in params}
    stderr.update({k: err[:, i] for i, k in enumerate(free)})
    return BatchFitResult(values=values, stderr=stderr, free=free, covariance=cov, chi2=chi2, chi2_red=chi2_red,
                          dof=dof, converged=np.asarray(ok), n_steps=np.asarray(steps),
                          units={k: p.unit for k, p in params.items()})


# --------------------------------------------------------------------------- moved names
_MOVED = {"nis_conductance": "jaxqp.inference.models", "fit_nis_conductance": "jaxqp.inference.models"}


def __getattr__(name):
    """Names that moved to `jaxqp.inference.models` (the fit layer does not depend on the models) keep
    working for now, with a DeprecationWarning that gives the new spelling."""
    if name in _MOVED:
        import importlib
        import warnings

        warnings.warn(f"jaxqp.inference.fit.{name} moved to {_MOVED[name]}.{name}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
