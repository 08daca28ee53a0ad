"""``jaxqp fit CONFIG``: a fit described in a TOML file, validated before anything is computed.

Example (``nis.toml``; paths are relative to the file)::

    model = "nis"                      # nis | spin_split_nis | charge_imbalance | supercurrent

    [model_options]                    # optional, e.g. the energy grid of the model
    n_energy = 1001

    [corrections]                      # optional, for tunnel-junction models
    bias_offset = true                 # fit V_offset (V)
    series_resistance = false          # fit R_series (Ohm)
    newton_steps = 12                  # junction-bias Newton steps with a series resistance

    [data]
    file = "curve.csv"                 # CSV (header 'bias [mV], G [uS]'), .npy/.npz, .nc/.h5
                                       # or dataset = "nis_curve": a data set shipped with jaxqp
    value = "G"                        # the measured quantity (default: last column)
    sigma = "dG"                       # a column of standard deviations, or one number, or absent
    units = { bias = "mV", G = "uS" }  # for anything the file does not label
    coords = { bias = "bias" }         # model coordinate -> data coordinate, where names differ
    select = { bias = [-1e-3, 1e-3] }  # SI ranges of model coordinates to keep

    [parameters]                       # start values/bounds/fixed in the model's or any compatible unit
    delta = { start = 0.25, unit = "meV" }
    T = 0.1
    G_N = { start = 30e-6, fixed = true }

    [fit]                              # options of jaxqp.inference.fit.curve_fit
    method = "dogleg"                  # dogleg | lm | gauss_newton | optax
    loss = "linear"                    # linear | soft_l1 | huber | cauchy | arctan
    n_starts = 4
    covariance = "jacobian"            # jacobian | hessian

    [output]
    dir = "fit-nis"                    # report.json, fit.png, fit.nc (relative to this file)
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .configfile import ConfigError, check_keys, read_toml  # noqa: F401  (ConfigError re-exported)

_TOP = {"model", "model_options", "corrections", "data", "parameters", "fit", "output"}
_DATA = {"file", "dataset", "value", "sigma", "units", "coords", "select"}
_FIT = {"method", "loss", "f_scale", "n_starts", "seed", "covariance", "max_steps", "rtol", "atol", "absolute_sigma"}
_CORR = {"bias_offset", "series_resistance", "newton_steps"}
_OUT = {"dir"}


_NUMBER = (int, float)
#: the type of every value a configuration may hold: (types, what to write); tables are dicts
_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "model": (str, 'a model name, e.g. "nis"'), "model_options": (dict, "a table"),
    "corrections": (dict, "a table"), "data": (dict, "a table"), "parameters": (dict, "a table"),
    "fit": (dict, "a table"), "output": (dict, "a table"),
    "data.file": (str, "a file name"), "data.dataset": (str, 'a data set name, e.g. "nis_curve"'),
    "data.value": (str, "a column name"), "data.sigma": ((str, *_NUMBER), "a column name or one number"),
    "data.units": (dict, 'a table such as { bias = "mV" }'), "data.coords": (dict, 'a table such as { bias = "V" }'),
    "data.select": (dict, "a table such as { bias = [-1e-3, 1e-3] }"),
    "fit.method": (str, "a method name"), "fit.loss": (str, "a loss name"), "fit.f_scale": (_NUMBER, "a number"),
    "fit.n_starts": (int, "an integer"), "fit.seed": (int, "an integer"), "fit.covariance": (str, "a name"),
    "fit.max_steps": (int, "an integer"), "fit.rtol": (_NUMBER, "a number"), "fit.atol": (_NUMBER, "a number"),
    "fit.absolute_sigma": (bool, "true or false"), "corrections.bias_offset": (bool, "true or false"),
    "corrections.series_resistance": (bool, "true or false"), "corrections.newton_steps": (int, "an integer"),
    "output.dir": (str, "a folder name"),
}


def _check_types(cfg: dict, where: str) -> None:
    """Every value of the type it must have (numbers not booleans), and finite where it is a number.
    The parameter tables are checked where every fit reads them (`jaxqp.inference.models.parameters_for`)."""
    def bad(key, value, what):
        raise ConfigError(f"{where}: {key} must be {what}, got {value!r}")

    for key, (types, what) in _TYPES.items():
        table, _, leaf = key.rpartition(".")
        t = cfg.get(table, {}) if table else cfg
        if not isinstance(t, dict) or leaf not in t:
            continue
        v = t[leaf]
        allowed = types if isinstance(types, tuple) else (types,)
        if (isinstance(v, bool) and bool not in allowed) or not isinstance(v, allowed):
            bad(key, v, what)
        if isinstance(v, float) and not np.isfinite(v):
            bad(key, v, "a finite number")
    d = cfg.get("data", {})
    for k in ("units", "coords"):
        for name, v in d.get(k, {}).items():
            if not isinstance(v, str):
                bad(f"data.{k}.{name}", v, "a string")
    for name, v in d.get("select", {}).items():
        if not (isinstance(v, list) and len(v) == 2 and all(isinstance(x, _NUMBER) and not isinstance(x, bool)
                                                            and np.isfinite(x) for x in v)):
            bad(f"data.select.{name}", v, "a range [lower, upper] of two numbers (SI units)")
    for name, v in cfg.get("model_options", {}).items():
        if isinstance(v, bool) or not isinstance(v, (*_NUMBER, str)):
            bad(f"model_options.{name}", v, "a number or a string")


def load_config(path) -> dict:
    path = Path(path)
    cfg = read_toml(path)
    check_keys(cfg, _TOP, str(path))
    _check_types(cfg, str(path))
    if "model" not in cfg:
        from ..inference.models import MODELS

        raise ConfigError(f"{path}: name the model, e.g. model = \"nis\" (one of {sorted(MODELS)})")
    if "data" not in cfg or ("file" in cfg["data"]) == ("dataset" in cfg["data"]):
        raise ConfigError(f"{path}: a [data] table with either file = \"...\" (your data) or dataset = \"...\" "
                          "(one shipped with jaxqp, jaxqp.inference.datasets) is required")
    check_keys(cfg["data"], _DATA, "[data]")
    check_keys(cfg.get("fit", {}), _FIT, "[fit]")
    check_keys(cfg.get("corrections", {}), _CORR, "[corrections]")
    check_keys(cfg.get("output", {}), _OUT, "[output]")
    return cfg


def build(cfg: dict, base: Path):
    """(model, measurement, parameter overrides, coordinate map, fit options) from a checked config."""
    from ..inference import data as data_mod
    from ..inference import models

    try:
        model = models.get(cfg["model"], **cfg.get("model_options", {}))
        corr = cfg.get("corrections", {})
        if corr.get("bias_offset") or corr.get("series_resistance"):
            model = models.Corrected(model, **corr)
        d = cfg["data"]
        if "dataset" in d:
            from ..inference import datasets

            file = datasets.path(d["dataset"])
        else:
            file = Path(d["file"])
            file = file if file.is_absolute() else base / file
        m = data_mod.load(file, value=d.get("value"), sigma=d.get("sigma"), units=d.get("units"))
        coords = d.get("coords", {})
        if d.get("select"):
            m = m.select(**{coords.get(k, k): tuple(v) for k, v in d["select"].items()})
        params = models.parameters_for(model, cfg.get("parameters", {}))
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise ConfigError(str(e)) from None
    return model, m, params, coords, dict(cfg.get("fit", {}))


def run(path, out: Path | None = None) -> tuple:
    """Run the fit of a configuration file; write ``report.json``, ``fit.png`` and ``fit.nc``."""
    from .. import io
    from ..inference import models
    from ..plot import save_figure

    path = Path(path)
    cfg = load_config(path)
    model, m, params, coords, opts = build(cfg, path.parent)
    res = models.fit_data(model, m, params, coords=coords, **opts)
    out = Path(out) if out is not None else path.parent / cfg.get("output", {}).get("dir", path.stem + "-fit")
    out.mkdir(parents=True, exist_ok=True)
    report = res.report()
    report.update(config=cfg, data={"source": m.source, "shape": list(m.shape), "units": m.units})
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str))
    names = list(m.coords)
    if len(names) == 1:
        fig = res.plot(m.coords[names[0]], m.values, xlabel=f"{names[0]} [{m.units[names[0]]}]",
                       ylabel=f"{m.name} [{m.units[m.name]}]")
    else:
        a, b = names
        fig = res.plot(m.coords[b], m.values, xlabel=f"{b} [{m.units[b]}]", ylabel=f"{a} [{m.units[a]}]"
                       if np.shape(m.values)[0] > 8 else f"{m.name} [{m.units[m.name]}]",
                       coords=(m.coords[a], m.coords[b]), labels=[f"{a} = {v:.3g} {m.units[a]}" for v in m.coords[a]])
    save_figure(fig, out / "fit.png")
    dims = tuple(names)
    ds = io.dataset(
        {"data": io.variable(dims, m.values, m.units[m.name], m.name),
         "model": io.variable(dims, res.model_values, m.units[m.name], f"{model.name} at the best fit"),
         "residual": io.variable(dims, res.residuals, "1", "(model - data)/sigma")},
        {k: io.variable((k,), v, m.units[k]) for k, v in m.coords.items()},
        config={"fit": report["values"], "stderr": report["stderr"], "model": model.name},
        title=f"jaxqp fit of {m.source}")
    io.save(ds, out / "fit.nc")
    return res, {"report": out / "report.json", "figure": out / "fit.png", "data": out / "fit.nc"}
