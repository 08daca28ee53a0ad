"""Command line, the demo job and the README's quick start."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import jaxqp
from jaxqp import TC0, io
from jaxqp.app.cli import app
from jaxqp.inference import models

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


def test_compilation_cache_switch(tmp_path):
    """JAXQP_CACHE=1 at import stores compiled programs under JAXQP_CACHE_DIR, in a folder per jax
    version and CPU; JAXQP_CACHE=0 (as the test session sets it) keeps the cache off."""
    assert os.environ["JAXQP_CACHE"] in ("0", "1")
    if os.environ["JAXQP_CACHE"] == "0":
        assert jaxqp.enable_compilation_cache(tmp_path / "never") is None
        assert not (tmp_path / "never").exists()
    code = ("import jax, jaxqp, jax.numpy as jnp; from pathlib import Path;"
            "d = Path(jax.config.jax_compilation_cache_dir); assert d.parent == Path({!r}), d;"
            "assert d.name.startswith('jax-' + jax.__version__), d;"
            "assert jaxqp.enable_compilation_cache() == d;"
            "jax.config.update('jax_persistent_cache_min_compile_time_secs', 0);"
            "jax.jit(lambda x: jnp.sin(x) * 2)(jnp.ones(3)).block_until_ready();"
            "print(len(list(d.iterdir())))").format(str(tmp_path / "xla"))
    env = dict(os.environ, JAXQP_CACHE="1", JAXQP_CACHE_DIR=str(tmp_path / "xla"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip().splitlines()[-1]) >= 1


def test_help_lists_every_command():
    out = runner.invoke(app, ["--help"])
    assert out.exit_code == 0
    for cmd in ("run", "tasks", "fit", "demo", "bench", "info"):
        assert cmd in out.output
    out = runner.invoke(app, ["info"])
    assert out.exit_code == 0 and "float64" in out.output
    out = runner.invoke(app, ["--version"])
    assert out.exit_code == 0 and out.output.strip() == f"jaxqp {jaxqp.__version__}"
    from jaxqp.app.runconfig import TASKS

    out = runner.invoke(app, ["tasks"])
    assert out.exit_code == 0 and [line.split()[0] for line in out.output.splitlines()] == list(TASKS)
    out = runner.invoke(app, ["tasks", "inelastic"])
    assert out.exit_code == 0 and "[collisions]" in out.output and "cutoff" in out.output
    assert "shape parameter" in out.output and "V_det" in out.output
    assert runner.invoke(app, ["tasks", "nis"]).exit_code == 2


#: what the compiler or the libraries print when something is off (XLA alarms, absl logs, Python warnings)
NOISE = re.compile(r"Constant folding|slow_operation_alarm|^[WEF]\d{4} |Warning|WARNING|Traceback", re.M)


@pytest.mark.optimised  # the fit in a fresh process: 16 s with XLA's optimisation, 34 s without
def test_documented_workflows_print_nothing_from_the_compiler(tmp_path):
    """A fit and a sweep in a fresh process, from the documented configurations, write nothing to stderr
    but jaxqp's own progress lines: no XLA alarm, no absl log line, no Python warning."""
    fit = tmp_path / "fit.toml"
    fit.write_text(re.search(r"```toml\n(model = \"nis\".*?)```", (ROOT / "docs" / "configs.md").read_text(),
                             re.S).group(1))
    run = tmp_path / "nis.toml"
    run.write_text('task = "junction"\n[units]\ndelta0 = "200 ueV"\n[left]\nkind = "normal"\ntemperature = "60 mK"\n'
                   '[right]\nkind = "superconductor"\ntemperature = "60 mK"\ngamma = "1e-3 Delta0"\n'
                   '[grid]\nbias = { start = "-0.5 mV", stop = "0.5 mV", num = 101 }\nn_energy = 1001\n'
                   '[sweep]\n"right.field" = { start = "0 T", stop = "1 T", num = 3 }\n')
    env = dict(os.environ, JAXQP_CACHE="0", PYTHONWARNINGS="default")
    for args in (["fit", str(fit)], ["run", str(run)]):
        out = subprocess.run([sys.executable, "-c", "from jaxqp.app.cli import app; app()", *args], cwd=tmp_path,
                             capture_output=True, text=True, env=env, timeout=600)
        assert out.returncode == 0, out.stdout + out.stderr
        assert not NOISE.search(out.stderr), out.stderr


def test_demo_writes_labelled_data_and_figures(tmp_path, monkeypatch, capfd):
    import jaxqp.plot

    figures = []
    save = jaxqp.plot.save_figure
    monkeypatch.setattr(jaxqp.plot, "save_figure", lambda fig, path: (figures.append(_panels(fig)), save(fig, path)))
    out = runner.invoke(app, ["demo", "--quick", "--out", str(tmp_path)])
    assert out.exit_code == 0, out.output
    # every panel is labelled in mathtext; colour maps diverge only for signed data
    assert len(figures) == 3
    for panels in figures:
        for xlabel, ylabel, title, meshes in panels:
            assert "$" in xlabel and ylabel and title, (xlabel, ylabel, title)
            for lo, hi, vmin, vmax in meshes:
                assert (vmin == -vmax) == (lo < 0 < hi), (title, lo, hi, vmin, vmax)
    for name in ("thermospin.nc", "fig2_thermoelectric.png", "fig3_thermospin.png"):
        assert (tmp_path / name).stat().st_size > 1000
    assert not NOISE.search(capfd.readouterr().err)  # no XLA alarm or warning on the user's terminal
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


def _panels(fig):
    """(xlabel, ylabel, title, [(data min, data max, vmin, vmax) per colour map]) of each main panel
    (twin axes and colour bars, which share a panel, are left out)."""
    from matplotlib.collections import QuadMesh

    out = []
    for ax in fig.axes:
        if ax.get_label() == "<colorbar>" or (not ax.get_xlabel() and not ax.get_title()):
            continue
        meshes = [(float(np.nanmin(m.get_array())), float(np.nanmax(m.get_array())), *m.get_clim())
                  for m in ax.collections if isinstance(m, QuadMesh)]
        out.append((ax.get_xlabel(), ax.get_ylabel(), ax.get_title(), meshes))
    return out


def test_fit_command_runs_a_toml_configuration(tmp_path):
    """``jaxqp fit CONFIG``: CSV with units in the header, unit conversion of starts, a bias offset,
    report.json + fit.png + fit.nc; bad configurations fail before computing, with the reason."""
    rng = np.random.default_rng(1)
    V = np.linspace(-500e-6, 500e-6, 81)
    m = models.Corrected(models.NISConductance(n_energy=401), bias_offset=True)
    G = np.asarray(m({"bias": jnp.asarray(V)}, delta=262.0, gamma=1.0, T=0.08, G_N=25e-6, V_offset=6e-6))
    sigma = 2e-3 * 25e-6
    data = np.stack([V * 1e3, (G + sigma * rng.standard_normal(V.size)) * 1e6, np.full(V.size, sigma * 1e6)], 1)
    np.savetxt(tmp_path / "nis.csv", data, delimiter=",", header="bias [mV], G [uS], dG [uS]", comments="")
    cfg = tmp_path / "nis.toml"
    cfg.write_text('''model = "nis"
model_options = { n_energy = 401 }
corrections = { bias_offset = true }
[data]
file = "nis.csv"
sigma = "dG"
[parameters]
delta = { start = 0.25, unit = "meV" }
T = { start = 100, unit = "mK" }
G_N = 24e-6
[output]
dir = "unused"
''')
    out = runner.invoke(app, ["fit", str(cfg), "--out", str(tmp_path / "fit")])
    assert out.exit_code == 0, out.output
    rep = json.loads((tmp_path / "fit" / "report.json").read_text())
    truth = dict(delta=262.0, T=0.08, V_offset=6e-6)
    for k, v in truth.items():
        assert abs(rep["values"][k] - v) < 4 * rep["stderr"][k], (k, rep["values"][k], rep["stderr"][k])
    assert rep["units"]["delta"] == "ueV" and rep["converged"] and rep["data"]["units"]["bias"] == "V"
    assert (tmp_path / "fit" / "fit.png").stat().st_size > 1000
    ds = io.load(tmp_path / "fit" / "fit.nc")
    assert ds.model.dims == ("bias",) and ds.bias.attrs["units"] == "V"
    np.testing.assert_allclose(ds.residual.values, (ds.model.values - ds.data.values) / (sigma), rtol=1e-6)
    # configurations that cannot run say why (exit code 2), before any computation
    bad = {
        "unknown key": (cfg.read_text().replace("[output]", "[output]\ncolour = 1"), "unknown key"),
        "unknown model": (cfg.read_text().replace('"nis"', '"sns"', 1), "unknown model"),
        "bad unit": (cfg.read_text().replace('unit = "mK"', 'unit = "mV"'), "cannot convert"),
        "unknown parameter": (cfg.read_text().replace("G_N = 24e-6", "G_S = 1"), "no parameter"),
    }
    for name, (text, msg) in bad.items():
        cfg.write_text(text)
        r = runner.invoke(app, ["fit", str(cfg)])
        assert r.exit_code == 2 and msg in r.output, (name, r.output)
