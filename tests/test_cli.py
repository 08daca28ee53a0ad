"""Command line, the demo job and the README's quick start."""

import json
import re
from pathlib import Path

import jax.numpy as jnp
import numpy as np
from typer.testing import CliRunner

from jaxqp import TC0, fit, io, units
from jaxqp.cli import app

ROOT = Path(__file__).resolve().parents[1]
runner = CliRunner()


def test_readme_quick_start_and_ci_run_the_same_test_command():
    readme = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start.*?```(?:bash)?\n(.*?)```", readme, re.S).group(1)
    commands = [line.strip() for line in block.splitlines() if line.strip() and not line.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("jaxqp demo")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1] in ci.splitlines()


def test_help_lists_every_command():
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for cmd in ("demo", "info", "fit-nis"):
        assert cmd in out.output
    out = runner.invoke(app, ["info"])
    assert out.exit_code == 0 and "float64" in out.output


def test_demo_writes_labelled_data_and_figures(tmp_path):
    out = runner.invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    for name in ("thermospin.nc", "fig2_thermoelectric.png", "fig3_thermospin.png"):
        assert (tmp_path / name).stat().st_size > 1000
    ds = io.load(tmp_path / "thermospin.nc")
    assert ds.G0.dims == ("T_S", "h") and ds.G0.attrs["units"] == "G_T"
    assert ds.I_q.attrs["units"] == "G_T Delta0/e" and "jaxqp_version" in ds.attrs and "config" in ds.attrs
    # physics of the map: dissipative at h = 0, thermoelectric below the threshold line
    assert np.all(ds.G0.sel(h=0.0).values > 0)
    # and the sign of G0 changes at the threshold field h_t = Delta(T_Sm) - Delta(T_S) (Fig. 2b)
    for i in np.nonzero(ds.T_S.values / TC0 > 0.6)[0]:
        ht = float(ds.h_threshold[i])
        h = ds.h.values
        assert np.all(ds.G0.values[i, h < ht - 0.03] > 0)
        assert np.all(ds.G0.values[i, (h > ht + 0.03) & (h < ht + 0.15)] < 0)
    # I_q is odd and I_s even in V (seed 004)
    np.testing.assert_allclose(ds.I_q.values, -ds.I_q.values[:, ::-1], atol=1e-9)
    np.testing.assert_allclose(ds.I_s.values, ds.I_s.values[:, ::-1], atol=1e-9)
    assert bool(ds.V_S_found.values.any())
    # seed 001 non-local map: positive, V_inj-even charge-imbalance signal, reduced by the supercurrent
    for name in ("nonlocal.nc", "fig_nonlocal.png"):
        assert (tmp_path / name).stat().st_size > 1000
    nl = io.load(tmp_path / "nonlocal.nc")
    assert nl.g_nl.dims == ("V_inj", "V_det") and nl.g_nl.attrs["units"] == "1/R_xi"
    g = nl.g_nl.values
    np.testing.assert_allclose(g, g[::-1, :], atol=1e-9 * np.abs(g).max())
    assert g.max() > 0
    gss = nl.g_ss.sel(V_inj=2.0, method="nearest")
    assert float(gss.sel(q=0.2)) < float(gss.sel(q=0.0))


def test_fit_nis_command(tmp_path):
    rng = np.random.default_rng(1)
    V = np.linspace(-500e-6, 500e-6, 121)
    e0 = 250.0
    G = np.asarray(fit.nis_conductance(jnp.asarray(V * 1e6 / e0), 262.0 / e0, 1.0 / e0,
                                       0.08 * units.KB_UEV_PER_K / e0, 1.0)) * 25e-6
    sigma = 1e-3 * 25e-6
    data = np.stack([V, G + sigma * rng.standard_normal(V.size), np.full(V.size, sigma)], axis=1)
    path = tmp_path / "nis.csv"
    np.savetxt(path, data, delimiter=",", header="V (V), G (S), sigma (S)")
    out = runner.invoke(app, ["fit-nis", str(path), "--out", str(tmp_path / "fit")])
    assert out.exit_code == 0, out.output
    rep = json.loads((tmp_path / "fit" / "report.json").read_text())
    assert abs(rep["values"]["delta"] - 262.0) < 5 * rep["stderr"]["delta"]
    assert abs(rep["values"]["T"] - 0.08) < 5 * rep["stderr"]["T"]
    assert (tmp_path / "fit" / "fit.png").exists()
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\nx,y\n")
    assert runner.invoke(app, ["fit-nis", str(bad)]).exit_code != 0
