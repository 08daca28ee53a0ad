"""One-line plots: parity decompositions add up and have the right parity; colour scales are symmetric."""

import types

import numpy as np
import pytest
import xarray as xr

from jaxqp import plot


def _map():
    x = np.linspace(-2, 2, 21)
    y = np.linspace(-1, 1, 11)
    X, Y = np.meshgrid(x, y, indexing="ij")
    g = 1.0 + X**2 + 0.3 * X + 0.2 * Y * X**2 + 0.1 * X * Y
    return xr.DataArray(g, dims=("V_inj", "V_det"), coords={"V_inj": x, "V_det": y}, name="g_nl",
                        attrs={"units": "1/R_xi", "long_name": "g_nl"})


def test_parity_parts_add_up_and_have_their_parity():
    da = _map()
    one = plot.symmetric_parts(da, "V_inj")
    xr.testing.assert_allclose(one["even"] + one["odd"], da)
    np.testing.assert_allclose(one["odd"].values, -one["odd"].values[::-1], atol=1e-14)
    X = da.V_inj.values[:, None]
    Y = da.V_det.values[None, :]
    np.testing.assert_allclose(one["odd"].values, 0.3 * X + 0.1 * X * Y + 0 * Y, atol=1e-12)
    two = plot.symmetric_parts(da, ("V_inj", "V_det"))
    assert set(two) == {"even-even", "even-odd", "odd-even", "odd-odd"}
    xr.testing.assert_allclose(sum(two.values()), da)
    np.testing.assert_allclose(two["odd-odd"].values, 0.1 * X * Y, atol=1e-12)
    np.testing.assert_allclose(two["even-odd"].values, 0.2 * Y * X**2, atol=1e-12)
    with pytest.raises(ValueError, match="not symmetric"):
        plot.symmetric_parts(da.isel(V_inj=slice(0, 15)), "V_inj")


def test_maps_use_a_symmetric_colour_scale_when_the_sign_changes(tmp_path):
    da = _map() - 2.0
    ax = plot.plot_map(da, x="V_inj")
    mesh = ax.collections[0]
    lo, hi = mesh.get_clim()
    assert lo == -hi and hi == pytest.approx(np.abs(da.values).max())
    assert ax.get_xlabel().startswith("V_inj")
    ax = plot.plot_map(da + 10.0)
    assert ax.collections[0].get_clim()[0] > 0  # one sign: a sequential scale
    fig = plot.plot_symmetry(da, "V_inj")
    assert len(fig.axes) == 4  # two maps and their colour bars
    plot.save_figure(fig, tmp_path / "sym.png")
    assert (tmp_path / "sym.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="2-D"):
        plot.plot_map(da.isel(V_det=0))


def test_dos_and_distribution_plots():
    E = np.linspace(-2, 2, 41)
    h = np.array([0.0, 0.2, 0.4])
    Nu = np.abs(np.real((E[None] + h[:, None] + 0.01j) / np.sqrt((E[None] + h[:, None] + 0.01j) ** 2 - 1)))
    ds = xr.Dataset({"N_up": (("field", "energy"), Nu), "N_dn": (("field", "energy"), Nu[:, ::-1]),
                     "N": (("field", "energy"), 0.5 * (Nu + Nu[:, ::-1]))},
                    {"field": ("field", h, {"units": "T"}), "energy": E, "energy_reduced": ("energy", E)})
    ax = plot.plot_dos(ds)
    assert len(ax.lines) == 6
    np.testing.assert_allclose(ax.lines[2].get_ydata(), Nu[1])
    sol = types.SimpleNamespace(energy=types.SimpleNamespace(points=E), x=np.linspace(0, 10, 5),
                                modes=np.tanh(E)[:, None, None] * np.ones((41, 5, 4)))
    ax = plot.plot_distribution(sol, mode="fL3")
    lo, hi = ax.collections[0].get_clim()
    assert lo == -hi
    with pytest.raises(ValueError, match="mode"):
        plot.plot_distribution(sol, mode="f")


def test_fit_figure_draws_data_and_model_in_distinct_colours(tmp_path):
    from matplotlib.colors import to_rgba

    x = np.linspace(-1, 1, 30)
    for y in (x**2, np.stack([x**2, 2 * x**2])):
        res = types.SimpleNamespace(model_values=y + 0.01, residuals=np.full(y.shape, -1.0))
        fig = plot.fit_figure(res, x, y, xlabel="V [mV]", ylabel="G [uS]")
        top, bottom = fig.axes
        points = [ln for ln in top.lines if ln.get_linestyle() == "None"]
        curves = [ln for ln in top.lines if ln.get_linestyle() == "-"]
        assert len(points) == len(curves) == np.atleast_2d(y).shape[0]
        for p, c in zip(points, curves, strict=True):
            assert to_rgba(p.get_color()) != to_rgba(c.get_color())
        assert bottom.get_ylabel() == r"residual / $\sigma$" and top.get_ylabel() == "G [uS]"
        plot.save_figure(fig, tmp_path / "fit.png")
        assert (tmp_path / "fit.png").stat().st_size > 1000


def test_units_are_labelled_in_mathtext():
    assert plot.tex_units("G_T Delta0/e") == r"$G_T\,\Delta_0/e$"
    assert plot.tex_units("Delta0/(e R_xi)") == r"$\Delta_0/(e\,R_\xi)$"
    assert plot.tex_units("mV") == "mV" and plot.tex_units("") == "" and plot.tex_units("$G_T$") == "$G_T$"
    ax = plot.plot_map(_map(), x="V_inj")
    cbar = [a for a in ax.figure.axes if a is not ax][0]
    assert cbar.get_ylabel() == r"g_nl [$1/R_\xi$]"
