"""The example data shipped with the package: labelled, reproducible from their recipes, and fitted
back to the parameters that made them."""

import json

import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

from jaxqp.app.cli import app
from jaxqp.inference import datasets, models


def test_every_data_set_loads_with_units_sigma_and_its_truth():
    shapes = {"nis_curve": (401,), "spin_split_map": (7, 201), "nonlocal_map": (41, 3)}
    assert set(datasets.names()) == set(shapes)
    for name in datasets.names():
        m = datasets.load(name)
        info = datasets.info(name)
        assert m.values.shape == shapes[name] and m.sigma is not None and np.all(np.asarray(m.sigma) > 0)
        assert all(m.units[c] in ("V", "T") for c in m.coords)
        assert info["model"] in models.MODELS and info["truth"] and datasets.path(name).exists()
    with pytest.raises(ValueError, match="shipped ones"):
        datasets.load("nis")


def test_nis_curve_is_its_recipe_and_fits_back_to_the_truth(tmp_path):
    assert datasets.generate("nis_curve", tmp_path).read_bytes() == datasets.path("nis_curve").read_bytes()
    res = models.fit_data(models.NISConductance(), datasets.load("nis_curve"),
                          {"delta": {"start": 0.25, "unit": "meV"}, "T": 0.1})
    assert res.converged and 0.7 < res.chi2_red < 1.3
    for k, (v, _) in datasets.info("nis_curve")["truth"].items():
        assert abs(res.values[k] - v) < 3 * res.stderr[k], k


def test_the_maps_are_described_by_their_models():
    m = datasets.load("spin_split_map")
    res = models.fit_data(models.SpinSplitNIS(), m, {"delta": {"start": 0.2, "unit": "meV"}, "T": 0.12})
    assert res.converged and 0.8 < res.chi2_red < 1.2
    for k, (v, _) in datasets.info("spin_split_map")["truth"].items():
        if k in res.free:
            assert abs(res.values[k] - v) < 3 * res.stderr[k], k
    # the non-local map at its generating parameters: chi^2 per point near 1
    m = datasets.load("nonlocal_map")
    model = models.NonlocalConductanceMap()
    p = {k: q.value for k, q in model.parameters().items()}
    p.update({k: v for k, (v, _) in datasets.info("nonlocal_map")["truth"].items()})
    x = {k: jnp.asarray(v) for k, v in m.model_coords().items()}
    g = np.asarray(model(x, **p))
    chi2 = np.mean(((g - m.values) / m.sigma) ** 2)
    assert 0.7 < chi2 < 1.3


def test_a_fit_configuration_names_a_shipped_data_set(tmp_path):
    cfg = tmp_path / "fit.toml"
    text = '''model = "nis"
[data]
dataset = "nis_curve"
sigma = "dG"
[parameters]
delta = { start = 0.25, unit = "meV" }
T = { start = 100, unit = "mK" }
'''
    cfg.write_text(text)
    runner = CliRunner()
    out = runner.invoke(app, ["fit", str(cfg), "--out", str(tmp_path / "fit")])
    assert out.exit_code == 0, out.output
    rep = json.loads((tmp_path / "fit" / "report.json").read_text())
    assert abs(rep["values"]["delta"] - 220.0) < 3 * rep["stderr"]["delta"]
    cfg.write_text(text.replace('dataset = "nis_curve"', 'dataset = "nis_curve"\nfile = "x.csv"'))
    r = runner.invoke(app, ["fit", str(cfg)])
    assert r.exit_code == 2 and "either file" in r.output
