r"""Least-squares fitting of jaxqp models to measured curves, with uncertainties.

:func:`curve_fit` minimises :math:`\chi^2 = \sum_i [(m(x_i; p) - y_i)/\sigma_i]^2` by
Levenberg-Marquardt (``optimistix.LevenbergMarquardt``) with exact Jacobians
from autodiff.  Bounded parameters are mapped to unconstrained coordinates
(lower and upper bound: logistic; one bound: exponential; none: affine,
scaled by the start value), so the optimiser never leaves the physical
domain.  At the optimum, the covariance is computed in the *physical*
parameters from the Jacobian, :math:`C = (J^T J)^{-1}` (or the Hessian of
:math:`\chi^2/2` with ``covariance="hessian"``), multiplied by the reduced
chi-square unless ``absolute_sigma`` (then the given sigmas are taken as
true standard deviations, as in ``scipy.optimize.curve_fit``).

:func:`fit_nis_conductance` applies it to the local dI/dV of a normal-metal /
insulator / superconductor junction with a Dynes DOS, in physical units.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Callable, Mapping

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optimistix as optx

from . import _validation as val
from . import units


@dataclasses.dataclass(frozen=True)
class Parameter:
    """A fit parameter: start value, bounds, and whether it is held fixed."""

    value: float
    lower: float = -math.inf
    upper: float = math.inf
    fixed: bool = False

    def __post_init__(self):
        if not np.isfinite(self.value):
            raise ValueError(f"parameter start value must be finite, got {self.value}")
        if self.lower >= self.upper:
            raise ValueError(f"empty parameter range: lower={self.lower} >= upper={self.upper}")
        if not (self.lower < self.value < self.upper) and not self.fixed:
            raise ValueError(
                f"start value {self.value} lies outside the open range ({self.lower}, {self.upper}); "
                "move the start inside the bounds"
            )


def _as_parameter(p) -> Parameter:
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
    scale = abs(p0) if p0 != 0 else 1.0
    return (value - p0) / scale


_COMPILED: dict = {}


def _compiled(model, spec, free, rtol, atol, max_steps):
    """Jitted solver and Jacobian for one model and parameter layout (reused across calls)."""
    key = (model, spec, free, rtol, atol, max_steps)
    if key in _COMPILED:
        return _COMPILED[key]
    params = dict(spec)

    def physical(theta, p0):
        out = {k: p0[k] for k, p in params.items() if p.fixed}
        for i, k in enumerate(free):
            out[k] = _to_physical(theta[i], params[k], p0[k])
        return out

    def residual_phys(pvals, x, y, sigma):
        return ((model(x, **pvals) - y) / sigma).reshape(-1)

    solver = optx.LevenbergMarquardt(rtol=rtol, atol=atol)

    @jax.jit
    def solve(theta0, p0, x, y, sigma):
        def residual(theta, _):
            return residual_phys(physical(theta, p0), x, y, sigma)

        sol = optx.least_squares(residual, solver, theta0, max_steps=max_steps, throw=False)
        pbest = physical(sol.value, p0)
        r = residual_phys(pbest, x, y, sigma)
        return pbest, sol.result, sol.stats["num_steps"], jnp.sum(r * r)

    def res_free(v, pbest, x, y, sigma):
        pv = dict(pbest)
        for i, k in enumerate(free):
            pv[k] = v[i]
        return residual_phys(pv, x, y, sigma)

    @functools.partial(jax.jit, static_argnames="kind")
    def information(pbest, x, y, sigma, kind):
        v = jnp.stack([pbest[k] for k in free])
        if kind == "jacobian":
            J = jax.jacfwd(res_free)(v, pbest, x, y, sigma)
            info = J.T @ J
        else:
            info = jax.hessian(lambda u: 0.5 * jnp.sum(res_free(u, pbest, x, y, sigma) ** 2))(v)
        return info, residual_phys(pbest, x, y, sigma), model(x, **pbest)

    _COMPILED[key] = (solve, information)
    return solve, information


class FitResult(eqx.Module):
    """Outcome of a fit.

    ``values``/``stderr``: best-fit values and standard errors by name (fixed
    parameters have stderr 0); ``covariance``/``correlation`` over the free
    parameters in the order of ``free``; ``chi2``, ``chi2_red``, ``dof``;
    ``residuals`` = (model - data)/sigma on the data grid; ``converged`` and
    ``message`` from the optimiser; ``n_steps``.
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

    def summary(self) -> str:
        lines = [f"chi2 = {self.chi2:.6g}, reduced chi2 = {self.chi2_red:.4g} (dof {self.dof}), "
                 f"converged = {self.converged} ({self.message}), steps = {self.n_steps}"]
        for k, v in self.values.items():
            e = self.stderr[k]
            lines.append(f"  {k:>12s} = {v:.8g} +- {e:.3g}" + ("  (fixed)" if k not in self.free else ""))
        return "\n".join(lines)

    def plot(self, x, y, *, ax=None, xlabel="x", ylabel="y"):
        """Data, model and normalised residuals; returns the matplotlib figure."""
        from .plot import fit_figure

        return fit_figure(self, x, y, xlabel=xlabel, ylabel=ylabel)


def curve_fit(model: Callable, x, y, params: Mapping[str, Parameter | float], *, sigma=None,
              absolute_sigma: bool = False, covariance: str = "jacobian", rtol: float = 1e-8,
              atol: float = 1e-10, max_steps: int = 256, starts: list[Mapping[str, float]] | None = None) -> FitResult:
    """Fit ``model(x, **params) -> y`` to data by Levenberg-Marquardt.

    Args:
        model: pure JAX function of the data coordinates and keyword parameters.
        x, y: data coordinates and values (``y`` 1-D or any shape the model returns).
        params: name -> :class:`Parameter` (or a plain start value).
        sigma: standard deviations of ``y`` (scalar or array); default 1.
        absolute_sigma: take ``sigma`` as absolute (else scale the covariance by
            the reduced chi-square).
        covariance: ``"jacobian"`` (J^T J) or ``"hessian"`` (exact Hessian of chi2/2).
        rtol, atol, max_steps: optimiser tolerances and step cap.
        starts: extra start points (dicts of values) for multimodal problems;
            the lowest chi-square wins.
    """
    params = {k: _as_parameter(v) for k, v in params.items()}
    y = jnp.asarray(y)
    val.check_finite("y", y, hint="remove NaN/inf data points before fitting")
    sigma_arr = jnp.ones_like(y) if sigma is None else jnp.broadcast_to(jnp.asarray(sigma, y.dtype), y.shape)
    val.check_positive("sigma", sigma_arr, hint="standard deviations must be > 0")
    if covariance not in ("jacobian", "hessian"):
        raise ValueError("covariance must be 'jacobian' or 'hessian'")
    free = tuple(k for k, p in params.items() if not p.fixed)
    if not free:
        raise ValueError("no free parameters: set fixed=False on at least one Parameter")
    n_data = int(np.prod(y.shape))
    dof = n_data - len(free)
    if dof <= 0:
        raise ValueError(f"{n_data} data points cannot determine {len(free)} free parameters")
    p0 = {k: p.value for k, p in params.items()}
    spec = tuple(sorted(params.items()))
    solve, information = _compiled(model, spec, free, rtol, atol, max_steps)
    p0_arr = {k: jnp.asarray(v, dtype=float) for k, v in p0.items()}

    start_list = [dict(p0)] + [dict(p0, **s) for s in (starts or [])]
    best = None
    for s in start_list:
        theta0 = jnp.asarray([_to_internal(float(s[k]), params[k], p0[k]) for k in free])
        out = solve(theta0, p0_arr, x, y, sigma_arr)
        if best is None or float(out[3]) < float(best[3]):
            best = out
    pbest, result, nsteps, chi2 = best
    info, r, mvals = information(pbest, x, y, sigma_arr, kind=covariance)
    info = np.asarray(info)
    cov = np.linalg.pinv(info)
    chi2 = float(chi2)
    chi2_red = chi2 / dof
    if not absolute_sigma:
        cov = cov * chi2_red
    err = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = cov / np.outer(err, err)
    values = {k: float(pbest[k]) for k in params}
    stderr = {k: 0.0 for k in params}
    stderr.update({k: float(e) for k, e in zip(free, err)})
    r = np.asarray(r).reshape(y.shape)
    converged = bool(result == optx.RESULTS.successful)
    return FitResult(
        values=values, stderr=stderr, free=free, covariance=cov, correlation=corr, chi2=chi2,
        chi2_red=chi2_red, dof=dof, residuals=r, model_values=np.asarray(mvals),
        converged=converged, message=str(optx.RESULTS[result]) if not converged else "successful",
        n_steps=int(nsteps),
    )


def nis_conductance(V, delta, gamma, T, G_N, *, n_energy: int = 1001):
    """dI/dV of a normal-metal / insulator / Dynes-superconductor junction (dimensionless units).

    V, delta, gamma, T in units of a common energy scale; returns G_N * dI/dV / G_T.
    """
    from .junction import differential_conductance
    from .materials import NormalMetal, Superconductor

    N = NormalMetal(temperature=T)
    S = Superconductor(delta=delta, gamma=gamma, temperature=0.0)
    return G_N * differential_conductance(N, S, V, n_energy=n_energy).charge


_NIS_MODELS: dict = {}


def _nis_model(n_energy: int):
    """The NIS model in physical units on scaled data; one function object per grid size."""
    if n_energy not in _NIS_MODELS:

        def model(x, delta, gamma, T, G_N):
            v, e0, gscale = x
            return nis_conductance(v, delta / e0, gamma / e0, T * units.KB_UEV_PER_K / e0, G_N / gscale,
                                   n_energy=n_energy)

        _NIS_MODELS[n_energy] = model
    return _NIS_MODELS[n_energy]


def fit_nis_conductance(V_volt, G_siemens, *, delta_ueV: float = 250.0, gamma_ueV: float = 0.5,
                        T_kelvin: float = 0.1, G_N_siemens: float | None = None, sigma=None,
                        fixed: tuple[str, ...] = (), n_energy: int = 1001, **kwargs) -> FitResult:
    """Fit a measured NIS conductance curve G(V) for Delta, Gamma, T_N and G_N.

    Args:
        V_volt: bias voltages (V) of the normal electrode relative to the superconductor.
        G_siemens: measured dI/dV (S).
        delta_ueV, gamma_ueV, T_kelvin, G_N_siemens: start values (G_N defaults
            to the conductance at the largest |V|).
        sigma: noise of G (S); default: the fit's residual scatter.
        fixed: names among ``("delta", "gamma", "T", "G_N")`` to hold fixed.

    Returns:
        :class:`FitResult` with ``values`` in physical units: ``delta`` (ueV),
        ``gamma`` (ueV), ``T`` (K), ``G_N`` (S).
    """
    V = np.asarray(V_volt, float)
    G = np.asarray(G_siemens, float)
    if V.shape != G.shape:
        raise ValueError(f"V and G must have the same shape, got {V.shape} and {G.shape}")
    if G_N_siemens is None:
        G_N_siemens = float(np.mean(G[np.argsort(np.abs(V))[-max(3, V.size // 20):]]))
    e0 = delta_ueV  # energy unit of the internal model (ueV)
    gscale = G_N_siemens
    x = (jnp.asarray(V * 1e6 / e0), jnp.asarray(e0), jnp.asarray(gscale))
    model = _nis_model(n_energy)

    params = {
        "delta": Parameter(delta_ueV, 0.0, math.inf, "delta" in fixed),
        "gamma": Parameter(gamma_ueV, 0.0, math.inf, "gamma" in fixed),
        "T": Parameter(T_kelvin, 0.0, math.inf, "T" in fixed),
        "G_N": Parameter(G_N_siemens, 0.0, math.inf, "G_N" in fixed),
    }
    s = None if sigma is None else np.asarray(sigma, float) / gscale
    res = curve_fit(model, x, G / gscale, params, sigma=s, absolute_sigma=sigma is not None, **kwargs)
    # back to siemens (normalised residuals stay normalised)
    return dataclasses.replace(
        res,
        model_values=res.model_values * gscale,
        residuals=res.residuals * (gscale if sigma is None else 1.0),
    )
