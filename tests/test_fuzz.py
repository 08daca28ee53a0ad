"""Fuzzed input: every file, unit string and configuration either loads correctly or is refused with a
jaxqp error that says what is wrong; none ends in a traceback from inside numpy, xarray or JAX.

"A jaxqp error": a ``ValueError``/``TypeError``/``FileNotFoundError`` (``ConfigError`` is a
``ValueError``) raised by jaxqp's own code (the innermost frame of the traceback lies in the
package).  The draws are listed at the end of the run with the property-based tests.
"""

import copy
import traceback
from pathlib import Path

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

import jaxqp
from jaxqp.app import runconfig
from jaxqp.inference import data
from jaxqp.units import parse_unit

PKG = str(Path(jaxqp.__file__).resolve().parent)


def _clear(exc: BaseException) -> bool:
    """Raised by jaxqp itself, as a ValueError/TypeError/FileNotFoundError with a message."""
    if not isinstance(exc, (ValueError, TypeError, FileNotFoundError)) or not str(exc):
        return False
    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and str(Path(frames[-1].filename).resolve()).startswith(PKG)


def _load_or_refuse(fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except Exception as e:  # noqa: BLE001 - the point of the test
        assert _clear(e), "".join(traceback.format_exception(e))
        return None


def _draws(test, record_property):
    count = [0]
    test(count)
    record_property("draws", count[0])


NAMES = st.sampled_from(["bias", "G", "dG", "field", "T", "sigma", "V", "bias", "", "x y", "G_err"])
UNITS = st.sampled_from(["mV", "uS", "T", "K", "V", "S", "ueV", "", "mK", "bogus", "m/s", "2e^2/h", "Ohm",
                         "[mV]", "uV", "nA"])
NUMBERS = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=32), st.integers(-5, 5).map(float))


@st.composite
def csv_texts(draw):
    ncol = draw(st.integers(1, 4))
    labels = []
    for _ in range(ncol):
        name, unit = draw(NAMES), draw(UNITS)
        labels.append(f"{name} [{unit}]" if unit and draw(st.booleans()) else name)
    delim = draw(st.sampled_from([",", ";", "\t", " "]))
    nrow = draw(st.integers(0, 6))
    rows = [delim.join(repr(draw(NUMBERS)) for _ in range(draw(st.sampled_from([ncol, ncol, ncol + 1]))))
            for _ in range(nrow)]
    head = [delim.join(labels)] if draw(st.booleans()) else []
    return "\n".join(head + rows) + "\n"


def test_csv_files_load_or_are_refused_clearly(tmp_path, record_property):
    path = tmp_path / "data.csv"

    @given(text=st.one_of(csv_texts(), st.text(max_size=200)), raw=st.binary(max_size=64))
    @example(text="bias [mV], G [uS]\n1, nan\n2, 3\n", raw=b"")
    @example(text="bias [mV], G [uS]\n2, 1\n1, 3\n1, 4\n", raw=b"")  # non-monotonic, duplicate point
    @example(text="bias [mV], bias [mV], G [uS]\n1, 1, 2\n", raw=b"")  # duplicate column
    @example(text="bias [furlong], G [uS]\n1, 2\n2, 3\n", raw=b"")  # unknown unit
    @example(text="bias [mV], G [uS]\nnan, 2\n1, 3\n", raw=b"")  # NaN coordinate
    @example(text="", raw=b"\xff\xfe\x00bias")
    def check(count, text, raw):
        count[0] += 1
        path.write_bytes(raw if raw and not text else text.encode("utf-8", "surrogatepass"))
        m = _load_or_refuse(data.load, path)
        if m is not None:  # a load is a correct load: finite, sorted, labelled coordinates in SI units
            for k, c in m.coords.items():  # (a curve may repeat a point: up and down sweeps; a map may not)
                assert np.all(np.isfinite(c)) and np.all(np.diff(c) >= 0 if len(m.coords) == 1 else np.diff(c) > 0)
                assert m.units[k]
            assert m.values.shape == tuple(len(c) for c in m.coords.values())

    _draws(check, record_property)


def test_unit_strings_parse_or_are_refused_clearly(record_property):
    @given(unit=st.one_of(st.text(max_size=12), UNITS, st.from_regex(r"[munkMGT]?(V|S|A|K|T|eV|Ohm)", fullmatch=True)))
    def check(count, unit):
        count[0] += 1
        out = _load_or_refuse(parse_unit, unit)
        if out is not None:
            base, factor = out
            assert isinstance(base, str) and np.isfinite(factor) and factor > 0

    _draws(check, record_property)


GOOD = {
    "task": "junction",
    "units": {"delta0": "200 ueV"},
    "left": {"kind": "normal", "temperature": "60 mK"},
    "right": {"kind": "superconductor", "temperature": "60 mK", "gamma": "1e-3 Delta0"},
    "grid": {"bias": {"start": "-0.5 mV", "stop": "0.5 mV", "num": 101}, "n_energy": 1001},
    "sweep": {"right.field": {"start": "0 T", "stop": "1 T", "num": 3}},
}
PATHS = ["task", "units/delta0", "left/kind", "left/temperature", "right/temperature", "right/gamma", "right/field",
         "grid/bias/num", "grid/bias/start", "grid/n_energy", "sweep/right.field/num", "sweep/right.field",
         "barrier/polarization", "output/dir", "grid", "left"]
VALUES = st.one_of(st.none(), st.integers(-10**6, 10**6), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=8), st.sampled_from(["-60 mK", "1e999 K", "nan mV", "3 furlong", "0 T", "5 T"]),
                   st.lists(st.integers(-3, 3), max_size=3),
                   st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def _edited(base: dict, edits) -> dict:
    """A copy of ``base`` with each ``("table/key", value)`` set (``None`` deletes the key; a path through
    something that is not a table replaces it by one)."""
    cfg = copy.deepcopy(base)
    for path, value in edits:
        *head, last = path.split("/")
        t = cfg
        for k in head:
            if not isinstance(t.get(k), dict):
                t[k] = {}
            t = t[k]
        if value is None:
            t.pop(last, None)
        else:
            t[last] = value
    return cfg


GOOD_SPIN = {
    "task": "spin",
    "material": {"delta0": "200 ueV", "temperature": "0.05 Tc", "gamma": "0.01 Delta0"},
    "wire": {"length": "1.5 xi", "n_x": 9},
    "left": {"kind": "spin_active", "spin_mixing": 0.6, "theta": 90},
    "right": {"kind": "vacuum"},
    "distribution": {"spin_voltage": "0.1 Delta0"},
    "grid": {"energy": {"start": "0 Delta0", "stop": "2 Delta0", "num": 201}, "n_energy": 160},
    "sweep": {"wire.length": ["1 xi", "2 xi"]},
}
PATHS_SPIN = ["task", "material/temperature", "wire/length", "wire/n_x", "wire/theta", "left/kind", "left/spin_mixing",
              "left/phi", "right/kind", "right/spin_mixing", "distribution/spin_voltage", "grid/energy/num",
              "grid/V_det", "sweep/wire.length", "sweep/wire.n_x", "sweep/left.theta", "collisions/modes", "link"]


@pytest.mark.parametrize("good, paths", [(GOOD, PATHS), (GOOD_SPIN, PATHS_SPIN)], ids=["junction", "spin"])
def test_run_configurations_validate_or_are_refused_clearly(record_property, good, paths):
    @given(edits=st.lists(st.tuples(st.sampled_from(paths), VALUES), min_size=1, max_size=3))
    def check(count, edits):
        count[0] += 1
        _load_or_refuse(runconfig.from_dict, _edited(good, edits))

    _draws(check, record_property)


def _toml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v == float("inf") else "-inf" if v == -float("inf") else repr(v))
    if isinstance(v, int):
        return str(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').encode("unicode_escape").decode("ascii") + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return "{" + ", ".join(f'"{k}" = {_toml_value(x)}' for k, x in v.items()) + "}"


def _toml(cfg: dict) -> str:
    top = [f"{k} = {_toml_value(v)}" for k, v in cfg.items() if not isinstance(v, dict)]
    tables = [f"[{k}]\n" + "\n".join(f'"{kk}" = {_toml_value(vv)}' for kk, vv in v.items())
              for k, v in cfg.items() if isinstance(v, dict)]
    return "\n".join(top + tables) + "\n"


FIT = {"model": "nis", "data": {"dataset": "nis_curve", "sigma": "dG"},
       "parameters": {"delta": {"start": 0.25, "unit": "meV"}, "T": 0.1}, "fit": {"n_starts": 1}}
FIT_PATHS = ["model", "data/dataset", "data/file", "data/sigma", "data/units", "data/select", "data/coords",
             "parameters/delta", "parameters/delta/unit", "parameters/T", "parameters/G_N", "parameters/zeta",
             "fit/method", "fit/loss", "fit/n_starts", "corrections/bias_offset", "model_options/n_energy", "data"]


def test_fit_configurations_validate_or_are_refused_clearly(tmp_path, record_property):
    from jaxqp.app import fitconfig

    path = tmp_path / "fit.toml"

    @given(edits=st.lists(st.tuples(st.sampled_from(FIT_PATHS), VALUES), min_size=1, max_size=3))
    @example(edits=[("parameters/delta/unit", "mK")])
    @example(edits=[("data/sigma", -1.0)])
    def check(count, edits):
        count[0] += 1
        path.write_text(_toml(_edited(FIT, edits)))
        c = _load_or_refuse(fitconfig.load_config, path)
        if c is not None:
            _load_or_refuse(fitconfig.build, c, tmp_path)

    _draws(check, record_property)


def _assert_correct_load(m):
    """A load is a correct load: finite, labelled 1-D coordinates in SI units, strictly increasing for
    a map (a curve may repeat a point), values matching the coordinates, finite."""
    for k, c in m.coords.items():
        assert c.ndim == 1 and np.all(np.isfinite(c)) and m.units[k]
        if len(m.coords) > 1:
            assert np.all(np.diff(c) > 0) or np.all(np.diff(c) < 0), "a map's axis is monotonic"
    assert m.values.shape == tuple(len(c) for c in m.coords.values())
    assert np.all(np.isfinite(m.values))


AXIS = st.one_of(st.integers(1, 5).map(lambda n: np.linspace(-1.0, 1.0, n)),
                 st.lists(st.one_of(st.floats(-3, 3), st.just(float("nan"))), min_size=1, max_size=5).map(np.asarray))


@st.composite
def array_dicts(draw):
    """Named arrays of a curve or a map, sometimes with a 'units' entry, NaNs, wrong shapes, duplicates."""
    x, y = draw(AXIS), draw(AXIS)
    shape = draw(st.sampled_from([(len(x),), (len(x), len(y)), (len(y), len(x)), (2,)]))
    vals = np.asarray(draw(st.lists(NUMBERS, min_size=int(np.prod(shape)), max_size=int(np.prod(shape)))),
                      float).reshape(shape)
    d = {"bias": x, "field": y, draw(st.sampled_from(["G", "dIdV", "G_err", "sigma"])): vals}
    if draw(st.booleans()):
        d["sigma"] = np.abs(vals) + draw(st.sampled_from([0.0, 0.1]))
    if draw(st.booleans()):
        names = list(d) + ["extra"]
        d["units"] = np.asarray(__import__("json").dumps({n: draw(UNITS) for n in names if draw(st.booleans())}))
    return d


def test_npz_and_npy_files_load_or_are_refused_clearly(tmp_path, record_property):
    """Random .npz maps and curves (NaN and non-monotonic axes, shape mismatches, units in the file or
    missing, sigma columns), random .npy arrays and random bytes under both names."""
    npz, npy = tmp_path / "data.npz", tmp_path / "data.npy"

    @given(d=array_dicts(), arr=st.lists(st.lists(NUMBERS, min_size=1, max_size=4), min_size=1, max_size=4),
           raw=st.binary(max_size=80), which=st.sampled_from(["npz", "npy", "raw-npz", "raw-npy"]),
           units=st.sampled_from([None, {"bias": "mV", "field": "T", "G": "uS", "y": "uS", "x": "mV"}]))
    @example(d={"bias": np.array([0.0, np.nan]), "G": np.array([1.0, 2.0])}, arr=[[1.0]], raw=b"", which="npz",
             units={"bias": "mV", "G": "uS"})
    @example(d={"bias": np.array([0.0, 1.0, 0.5]), "field": np.array([0.0, 1.0]), "G": np.ones((3, 2))},
             arr=[[1.0]], raw=b"", which="npz", units={"bias": "mV", "field": "T", "G": "uS"})  # non-monotonic
    @example(d={}, arr=[[1.0]], raw=b"PK\x03\x04garbage", which="raw-npz", units=None)
    def check(count, d, arr, raw, which, units):
        count[0] += 1
        if which == "npz":
            np.savez(npz, **d)
            m = _load_or_refuse(data.load, npz, units=units)
        elif which == "npy":
            rows = [r + [0.0] * (max(map(len, arr)) - len(r)) for r in arr]
            np.save(npy, np.asarray(rows))
            m = _load_or_refuse(data.load, npy, coords=["x"], value="y", units=units)
        else:
            path = npz if which == "raw-npz" else npy
            path.write_bytes(raw)
            m = _load_or_refuse(data.load, path, units=units)
        if m is not None:
            _assert_correct_load(m)

    _draws(check, record_property)


def test_netcdf_files_load_or_are_refused_clearly(tmp_path, record_property):
    """Random datasets written as netCDF (NaN and non-monotonic dimensions, unit attributes present,
    missing or unknown, several variables, a sigma variable) and random bytes under a .nc name."""
    import xarray as xr

    path = tmp_path / "data.nc"

    @given(x=AXIS, y=AXIS, two_d=st.booleans(), vunit=UNITS, xunit=UNITS, with_sigma=st.booleans(),
           nan_value=st.booleans(), raw=st.one_of(st.none(), st.binary(max_size=80)))
    @example(x=np.array([0.0, np.nan]), y=np.array([1.0]), two_d=False, vunit="uS", xunit="mV", with_sigma=False,
             nan_value=False, raw=None)
    @example(x=np.array([0.0, 1.0, 0.5]), y=np.array([1.0, 2.0]), two_d=True, vunit="uS", xunit="mV",
             with_sigma=True, nan_value=False, raw=None)
    @example(x=np.array([0.0]), y=np.array([1.0]), two_d=False, vunit="uS", xunit="mV", with_sigma=False,
             nan_value=False, raw=b"\x89HDF\r\n\x1a\ngarbage")
    def check(count, x, y, two_d, vunit, xunit, with_sigma, nan_value, raw):
        count[0] += 1
        if raw is not None:
            path.write_bytes(raw)
        else:
            dims = ("bias", "field") if two_d else ("bias",)
            shape = (len(x), len(y)) if two_d else (len(x),)
            vals = np.linspace(1.0, 2.0, int(np.prod(shape))).reshape(shape)
            if nan_value:
                vals.flat[0] = np.nan
            ds = xr.Dataset({"G": (dims, vals, {"units": vunit} if vunit else {})},
                            coords={"bias": ("bias", x, {"units": xunit} if xunit else {})})
            if two_d:
                ds = ds.assign_coords(field=("field", y, {"units": "T"}))
            if with_sigma:
                ds["dG"] = (dims, np.full(shape, 0.1), {"units": vunit} if vunit else {})
            path.unlink(missing_ok=True)
            ds.to_netcdf(path, engine="h5netcdf")
        m = _load_or_refuse(data.load, path, sigma="dG" if with_sigma and raw is None else None)
        if m is not None:
            _assert_correct_load(m)

    _draws(check, record_property)
