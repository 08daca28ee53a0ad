"""Plotting helpers (matplotlib, headless-safe)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _label(da) -> str:
    name = da.attrs.get("long_name", da.name or "")
    units = da.attrs.get("units")
    return f"{name} [{units}]" if units else str(name)


def map_panel(ax, da, *, symmetric: bool = True, cmap: str | None = None, title: str | None = None,
              percentile: float = 100.0):
    """Colour map of a 2-D DataArray (first dim on y, second on x).

    ``symmetric``: colour scale symmetric about zero (diverging map), so the
    sign of the quantity (e.g. thermoelectric vs dissipative) reads at a glance.
    ``percentile`` < 100 saturates the colour scale at that percentile of |values|
    (useful where a quantity diverges on a line, as G0 at the threshold field).
    """
    ydim, xdim = da.dims
    vals = np.asarray(da.values, float)
    finite = vals[np.isfinite(vals)]
    vmax = float(np.percentile(np.abs(finite), percentile)) if finite.size else 1.0
    vmax = vmax if vmax > 0 else 1.0
    kw = dict(vmin=-vmax, vmax=vmax, cmap=cmap or "RdBu_r") if symmetric else dict(cmap=cmap or "viridis")
    m = ax.pcolormesh(da[xdim].values, da[ydim].values, vals, shading="auto", **kw)
    ax.set_xlabel(_label(da[xdim]))
    ax.set_ylabel(_label(da[ydim]))
    cb = ax.figure.colorbar(m, ax=ax)
    cb.set_label(_label(da))
    if title:
        ax.set_title(title)
    return m


def fit_figure(result, x, y, *, xlabel: str = "x", ylabel: str = "y"):
    """Data and model (top) and normalised residuals (bottom) of a fit."""
    x = np.asarray(x)
    fig, (a0, a1) = plt.subplots(2, 1, sharex=True, figsize=(6, 5), gridspec_kw=dict(height_ratios=(3, 1)))
    a0.plot(x, np.asarray(y), ".", ms=3, label="data")
    a0.plot(x, result.model_values, "-", label="fit")
    a0.set_ylabel(ylabel)
    a0.legend()
    a1.plot(x, result.residuals, ".", ms=3)
    a1.axhline(0.0, color="k", lw=0.5)
    a1.set_xlabel(xlabel)
    a1.set_ylabel("residual")
    fig.tight_layout()
    return fig


def save_figure(fig, path) -> None:
    fig.savefig(path, dpi=130)
    plt.close(fig)
