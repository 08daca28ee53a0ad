"""Plotting helpers (matplotlib, headless-safe)."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

#: jaxqp's reduced units in files (plain text) -> mathtext on figures
_TEX_UNITS = {"Delta0": r"\Delta_0", "R_xi": r"R_\xi", "G_T": "G_T", "k_B": "k_B", "N_F": "N_F", "xi": r"\xi"}
_TEX_PATTERN = re.compile("|".join(sorted(map(re.escape, _TEX_UNITS), key=len, reverse=True)))


def tex_units(units: str) -> str:
    """A unit string of jaxqp's files as mathtext (``"G_T Delta0/e"`` -> ``"$G_T\\,\\Delta_0/e$"``); SI
    units and other strings are returned unchanged."""
    if not units or "$" in units or not _TEX_PATTERN.search(units):  # already mathtext, or SI
        return units
    return "$" + _TEX_PATTERN.sub(lambda m: _TEX_UNITS[m.group(0)], units).replace(" ", r"\,") + "$"


def _label(da) -> str:
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{tex_units(units)}]" if units else str(name)


def map_panel(ax, da, *, symmetric: bool | None = None, cmap: str | None = None, title: str | None = None,
              percentile: float = 100.0):
    """Colour map of a 2-D DataArray (first dim on y, second on x).

    ``symmetric``: colour scale symmetric about zero (diverging map), so the
    sign of the quantity (e.g. thermoelectric vs dissipative) reads at a glance;
    default: where the values take both signs (signed data), else a sequential map.
    ``percentile`` < 100 saturates the colour scale at that percentile of |values|
    (useful where a quantity diverges on a line, as G0 at the threshold field).
    """
    ydim, xdim = da.dims
    vals = np.asarray(da.values, float)
    finite = vals[np.isfinite(vals)]
    vmax = float(np.percentile(np.abs(finite), percentile)) if finite.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    if symmetric is None:
        symmetric = bool(finite.size and finite.min() < 0 < finite.max())
    kw = dict(vmin=-vmax, vmax=vmax, cmap=cmap or "RdBu_r") if symmetric else dict(cmap=cmap or "viridis")
    m = ax.pcolormesh(da[xdim].values, da[ydim].values, vals, shading="auto", **kw)
    ax.set_xlabel(_label(da[xdim]))
    ax.set_ylabel(_label(da[ydim]))
    cb = ax.figure.colorbar(m, ax=ax)
    cb.set_label(_label(da))
    if title:
        ax.set_title(title)
    return m


def fit_figure(result, x, y, *, xlabel: str = "x", ylabel: str = "y", labels=None):
    """Data and model (top) and normalised residuals (bottom) of a fit; a 2-D ``y`` (a few curves,
    e.g. one per field) is drawn as one curve per row."""
    x = np.asarray(x)
    y2 = np.atleast_2d(np.asarray(y))
    m2 = np.atleast_2d(np.asarray(result.model_values))
    r2 = np.atleast_2d(np.asarray(result.residuals))
    fig, (a0, a1) = plt.subplots(2, 1, sharex=True, figsize=(6, 5), gridspec_kw=dict(height_ratios=(3, 1)))
    one = y2.shape[0] == 1
    for i in range(y2.shape[0]):
        # data as points (grey for one curve, one colour per curve otherwise), the model as a line of
        # another colour (red for one curve, black over coloured data)
        c = "0.45" if one else f"C{i % 10}"
        lab = "" if labels is None else f" {labels[i]}"
        a0.plot(x, y2[i], ".", ms=3, color=c, label=("data" if i == 0 else None) if labels is None else f"data{lab}")
        a0.plot(x, m2[i], "-", lw=1.2, color="C3" if one else "k", label="fit" if i == 0 else None)
        a1.plot(x, r2[i], ".", ms=3, color=c)
    a0.set_ylabel(ylabel)
    a0.legend(fontsize="small")
    a1.axhline(0.0, color="k", lw=0.5)
    a1.set_xlabel(xlabel)
    a1.set_ylabel(r"residual / $\sigma$")
    fig.tight_layout()
    return fig


def save_figure(fig, path) -> None:
    fig.savefig(path, dpi=130)
    plt.close(fig)


def fit_map_figure(result, y, *, coords=None, xlabel: str = "x", ylabel: str = "y"):
    """Measured map, model and normalised residuals side by side (symmetric colour scale for residuals)."""
    y = np.asarray(y)
    rows, cols = coords if coords is not None else (np.arange(y.shape[0]), np.arange(y.shape[1]))
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8), sharey=True)
    lo, hi = float(np.min(y)), float(np.max(y))
    for ax, z, title in ((axes[0], y, "data"), (axes[1], result.model_values, "model")):
        m = ax.pcolormesh(cols, rows, z, shading="auto", vmin=lo, vmax=hi, cmap="viridis")
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        fig.colorbar(m, ax=ax)
    r = np.asarray(result.residuals)
    v = float(np.max(np.abs(r))) or 1.0
    m = axes[2].pcolormesh(cols, rows, r, shading="auto", vmin=-v, vmax=v, cmap="RdBu_r")
    axes[2].set_title("residual / sigma")
    axes[2].set_xlabel(xlabel)
    fig.colorbar(m, ax=axes[2])
    axes[0].set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def corner_figure(samples: dict, truths: dict | None = None, *, labels: dict | None = None, bins: int = 30):
    """Corner plot of posterior draws: histograms on the diagonal, pairwise 2-D histograms below.

    ``samples``: name -> draws of any shape (flattened; e.g. ``(chains, draws)``);
    ``truths``: name -> value marked by lines (names missing from it are skipped);
    ``labels``: name -> axis label.  Returns the figure.
    """
    names = list(samples)
    data = [np.asarray(samples[k], float).reshape(-1) for k in names]
    n = len(names)
    if n == 0:
        raise ValueError("no samples to plot")
    truths = dict(truths or {})
    labels = dict(labels or {})
    size = max(2.0, min(2.4, 10.0 / n))
    fig, axes = plt.subplots(n, n, figsize=(size * n + 0.6, size * n + 0.6), squeeze=False)
    ranges = []
    for d in data:
        lo, hi = np.quantile(d, [0.002, 0.998]) if d.size else (0.0, 1.0)
        if not hi > lo:
            lo, hi = lo - 0.5 * (abs(lo) or 1.0), hi + 0.5 * (abs(hi) or 1.0)
        pad = 0.05 * (hi - lo)
        ranges.append((lo - pad, hi + pad))
    for i in range(n):
        for j in range(n):
            ax = axes[i, j]
            if j > i:
                ax.set_visible(False)
                continue
            if i == j:
                ax.hist(data[i], bins=bins, range=ranges[i], histtype="stepfilled", color="C0", alpha=0.6)
                q = np.quantile(data[i], [0.05, 0.5, 0.95])
                for v, ls in zip(q, (":", "-", ":"), strict=False):
                    ax.axvline(v, color="C0", ls=ls, lw=0.8)
                ax.set_yticks([])
                ax.set_title(f"{labels.get(names[i], names[i])} = {q[1]:.4g}"
                             f"$^{{+{q[2] - q[1]:.2g}}}_{{-{q[1] - q[0]:.2g}}}$", fontsize="small")
            else:
                ax.hist2d(data[j], data[i], bins=bins, range=(ranges[j], ranges[i]), cmap="Blues", cmin=1)
                if names[i] in truths:
                    ax.axhline(truths[names[i]], color="C3", lw=0.8)
                ax.set_ylim(ranges[i])
            if names[j] in truths:
                ax.axvline(truths[names[j]], color="C3", lw=0.8)
            ax.set_xlim(ranges[j])
            ax.tick_params(labelsize="x-small")
            if i == n - 1:
                ax.set_xlabel(labels.get(names[j], names[j]))
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(labels.get(names[i], names[i]))
            elif j > 0:
                ax.set_yticklabels([])
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------- one-line plots of results
def _ax(ax, figsize=(6, 4)):
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize, constrained_layout=True)
    return ax


def symmetric_parts(da, dims):
    """Even and odd parts of a DataArray under reversal of the coordinate(s) ``dims`` (symmetric about 0).

    Returns a dict ``{"even": ..., "odd": ...}`` for one dimension; for two,
    ``{"even-even", "even-odd", "odd-even", "odd-odd"}`` (first letter: first
    dim).  The parts add up to ``da``.  E.g. the part of an SIS' detector's
    conductance odd in V_det is the charge-imbalance signal of seed 000; the
    parts of g_nl in (V_inj, I_s) are g_a, g_s, g_sa, g_ss of seed 001.
    """
    dims = (dims,) if isinstance(dims, str) else tuple(dims)
    for d in dims:
        c = np.asarray(da[d].values, float)
        if not np.allclose(c, -c[::-1], atol=1e-9 * max(np.max(np.abs(c)), 1e-300)):
            raise ValueError(f"coordinate {d!r} is not symmetric about zero; the parity decomposition needs "
                             "a grid with -x for every x")
    parts = {"": da}
    for d in dims:
        new = {}
        for k, v in parts.items():
            flipped = v.isel({d: slice(None, None, -1)}).assign_coords({d: v[d]})
            sep = "-" if k else ""
            new[f"{k}{sep}even"] = 0.5 * (v + flipped)
            new[f"{k}{sep}odd"] = 0.5 * (v - flipped)
        parts = new
    for k, v in parts.items():
        v.name = f"{da.name}, {k} in {', '.join(dims)}" if da.name else k
        v.attrs = dict(da.attrs, long_name=f"{da.attrs.get('long_name', da.name)} ({k})")
    return parts


def plot_map(da, *, ax=None, x: str | None = None, symmetric: bool | None = None, **kw):
    """Colour map of a 2-D DataArray in one line; the colour scale is symmetric about zero (diverging)
    whenever the data change sign, unless ``symmetric`` says otherwise. ``x``: the dimension on the x-axis."""
    if da.ndim != 2:
        raise ValueError(f"plot_map needs a 2-D array, got dims {da.dims}: select the others first, e.g. "
                         f"da.sel({da.dims[0]}=...)")
    if x is not None:
        da = da.transpose(*[d for d in da.dims if d != x], x)
    if symmetric is None:
        v = np.asarray(da.values, float)
        v = v[np.isfinite(v)]
        symmetric = bool(v.size and v.min() < 0 < v.max())
    ax = _ax(ax)
    map_panel(ax, da, symmetric=symmetric, **kw)
    return ax


def plot_symmetry(da, dims, *, x: str | None = None, figsize=None):
    """The parity parts of a map (see `symmetric_parts`) side by side, each with a symmetric colour scale."""
    parts = symmetric_parts(da, dims)
    n = len(parts)
    fig, axes = plt.subplots(1, n, figsize=figsize or (4.2 * n, 3.4), constrained_layout=True, squeeze=False)
    for ax, (k, v) in zip(axes[0], parts.items(), strict=False):
        if v.ndim == 2:
            plot_map(v, ax=ax, x=x, symmetric=True, title=k)
        else:
            v.plot(ax=ax)
            ax.set_title(k)
    return fig


def plot_dos(ds, *, ax=None, spin: bool = True, max_curves: int = 8, **sel):
    """DOS curves of a ``dos`` result (``jaxqp run``): N_up and N_dn (dashed) vs energy, one colour per
    value of the swept parameter (at most ``max_curves``; select others with keyword arguments)."""
    ds = ds.sel(**sel) if sel else ds
    other = [d for d in ds.N.dims if d != "energy"]
    if len(other) > 1:
        raise ValueError(f"select all sweep dimensions but one: plot_dos(ds, {other[1]}=...)")
    ax = _ax(ax)
    E = ds["energy_reduced"].values if "energy_reduced" in ds else ds.energy.values
    rows = [(None, ds)] if not other else [(v, ds.sel({other[0]: v})) for v in
                                           ds[other[0]].values[:: max(1, ds[other[0]].size // max_curves)]]
    for v, row in rows:
        lab = "" if v is None else f"{other[0]} = {v:.3g} {tex_units(ds[other[0]].attrs.get('units', ''))}"
        if spin:
            line, = ax.plot(E, row.N_up.values, label=lab)
            ax.plot(E, row.N_dn.values, "--", color=line.get_color())
        else:
            ax.plot(E, row.N.values, label=lab)
    ax.set_xlabel(r"$E/\Delta_0$")
    ax.set_ylabel(r"$N/N_F$" + ("  (solid: up, dashed: down)" if spin else ""))
    if rows[0][0] is not None:
        ax.legend(fontsize="small")
    return ax


def plot_distribution(solution, *, mode: str = "fT", ax=None, e_max: float | None = None):
    """Map of one distribution mode (fL, fT, fT3, fL3) of a `jaxqp.KineticSolution` over (E, x),
    with a symmetric colour scale."""
    import xarray as xr

    names = ("fL", "fT", "fT3", "fL3")
    if mode not in names:
        raise ValueError(f"mode must be one of {names}, got {mode!r}")
    E = np.asarray(solution.energy.points)
    da = xr.DataArray(np.asarray(solution.modes[..., names.index(mode)]), dims=("E", "x"),
                      coords={"E": ("E", E, {"units": "Delta0"}), "x": ("x", np.asarray(solution.x), {"units": "xi"})},
                      name=mode, attrs={"long_name": mode})
    if e_max is not None:
        da = da.sel(E=slice(-e_max, e_max))
    return plot_map(da, ax=ax, x="x", symmetric=True)
