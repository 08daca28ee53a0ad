"""Loading measured curves and maps with units (jaxqp.inference.data): units, CSV, NumPy, netCDF/xarray, Measurement."""

import dataclasses
import json

import numpy as np
import pytest
import xarray as xr

from jaxqp.inference.data import Measurement, load, parse_unit, to_si

G0 = 7.748091729e-5


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


# --------------------------------------------------------------------------- units


@pytest.mark.parametrize("unit, base, factor", [
    ("V", "V", 1.0), ("mV", "V", 1e-3), ("uV", "V", 1e-6), ("\u00b5V", "V", 1e-6), ("\u03bcV", "V", 1e-6),
    ("nA", "A", 1e-9), ("pA", "A", 1e-12), ("uS", "S", 1e-6), ("mS", "S", 1e-3),
    ("kOhm", "Ohm", 1e3), ("MOhm", "Ohm", 1e6), ("ohm", "Ohm", 1.0), ("k\u03a9", "Ohm", 1e3),
    ("mK", "K", 1e-3), ("K", "K", 1.0), ("mT", "T", 1e-3), ("T", "T", 1.0),
    ("ueV", "eV", 1e-6), ("meV", "eV", 1e-3), ("eV", "eV", 1.0),
    ("m", "m", 1.0), ("nm", "m", 1e-9), ("ms", "s", 1e-3), ("GHz", "Hz", 1e9),
    ("2e^2/h", "S", G0), ("G0", "S", G0), ("e^2/h", "S", G0 / 2), ("1", "1", 1.0), (" mV ", "V", 1e-3),
])
def test_parse_unit(unit, base, factor):
    b, f = parse_unit(unit)
    assert b == base
    assert f == pytest.approx(factor, rel=1e-12)


def test_conductance_quantum():
    assert parse_unit("2e^2/h") == ("S", pytest.approx(7.748091729e-5, rel=1e-12))
    np.testing.assert_allclose(to_si([1.0, 0.5], "2e^2/h", expect="S"), [7.748091729e-5, 3.8740458645e-5])


@pytest.mark.parametrize("unit", ["furlong", "mX", "Volt", "kk", "M", "mVV"])
def test_unknown_unit(unit):
    with pytest.raises(ValueError, match=rf"unknown unit {unit!r}.*SI units with an optional prefix"):
        parse_unit(unit)


def test_to_si_values_and_dimension_check():
    out = to_si([1, 2, -3], "mV")
    assert out.dtype == float
    np.testing.assert_allclose(out, [1e-3, 2e-3, -3e-3])
    np.testing.assert_allclose(to_si(np.array([[1.0], [2.0]]), "uS", expect="S"), [[1e-6], [2e-6]])
    assert to_si(3.0, "1", expect="1") == 3.0
    with pytest.raises(ValueError, match=r"'mV' \(V\) was given where S is expected"):
        to_si(1.0, "mV", expect="S")
    with pytest.raises(ValueError, match="where V is expected"):
        to_si(1.0, "2e^2/h", expect="V")
    with pytest.raises(ValueError, match="unknown unit"):
        to_si(1.0, "parsec", expect="m")


# --------------------------------------------------------------------------- CSV curves


def _curve(n=7):
    bias = np.linspace(-1.5, 1.5, n)  # mV
    g = 10 + bias**2  # uS
    dg = 0.1 + 0.01 * np.arange(n)  # uS
    return bias, g, dg


def test_csv_curve_header_units(tmp_path):
    bias, g, dg = _curve()
    path = tmp_path / "iv.csv"
    np.savetxt(path, np.column_stack([bias, g, dg]), delimiter=",", header="bias [mV], G [uS], dG [uS]",
               comments="")
    m = load(path, sigma="dG")
    assert list(m.coords) == ["bias"]
    assert m.name == "G"
    assert m.units == {"bias": "V", "G": "S"}
    assert m.shape == (7,)
    assert m.source == str(path)
    np.testing.assert_allclose(m.coords["bias"], bias * 1e-3, rtol=1e-14)
    np.testing.assert_allclose(m.values, g * 1e-6, rtol=1e-14)
    np.testing.assert_allclose(m.sigma, dg * 1e-6, rtol=1e-14)
    # as a configuration names them: value and sigma given, coordinates by default
    m2 = load(str(path), value="G", sigma="dG")
    np.testing.assert_array_equal(m2.values, m.values)
    np.testing.assert_array_equal(m2.sigma, m.sigma)
    # the column named d<value> is recognised as the standard deviations, with or without value=
    for m3 in (load(path, value="G"), load(path)):
        assert list(m3.coords) == ["bias"] and m3.name == "G"
        np.testing.assert_array_equal(m3.values, m.values)
        np.testing.assert_array_equal(m3.sigma, m.sigma)
    # sigma=None-like names: G_err, sigma, std are recognised too; two candidates are an error
    for name in ("G_err", "sigma", "std"):
        alt = tmp_path / f"{name}.csv"
        alt.write_text(path.read_text().replace("dG [uS]", f"{name} [uS]"))
        np.testing.assert_array_equal(load(alt).sigma, m.sigma)
    two = tmp_path / "two.csv"
    two.write_text("bias [mV], G [uS], dG [uS], G_err [uS]\n1, 2, 0.1, 0.1\n2, 3, 0.1, 0.1\n")
    with pytest.raises(ValueError, match="several columns look like uncertainties"):
        load(two)


def test_csv_sigma_in_its_own_unit(tmp_path):
    path = write(tmp_path, "iv.csv", "bias [mV], G [uS], dG [nS]\n-1, 10, 5\n0, 11, 6\n1, 12, 7\n")
    m = load(path, sigma="dG")
    np.testing.assert_allclose(m.values, [10e-6, 11e-6, 12e-6])
    np.testing.assert_allclose(m.sigma, [5e-9, 6e-9, 7e-9])
    bad = write(tmp_path, "bad.csv", "bias [mV], G [uS], dG [mV]\n-1, 10, 5\n0, 11, 6\n")
    with pytest.raises(ValueError, match="where S is expected"):
        load(bad, sigma="dG")


@pytest.mark.parametrize("header", ["bias (mV), G (uS)", "bias/mV, G/uS", "bias / mV, G / uS", "bias[mV],G[uS]",
                                    '"bias [mV]","G [uS]"'])
def test_csv_header_styles(tmp_path, header):
    path = write(tmp_path, "iv.csv", header + "\n-2,1\n0,2\n2,3\n")
    m = load(path)
    assert list(m.coords) == ["bias"] and m.name == "G"
    np.testing.assert_allclose(m.coords["bias"], [-2e-3, 0.0, 2e-3])
    np.testing.assert_allclose(m.values, [1e-6, 2e-6, 3e-6])


def test_csv_name_with_slash_and_brackets(tmp_path):
    path = write(tmp_path, "iv.csv", "V_b [mV], dI/dV [2e^2/h], G(V) err [2e^2/h]\n0,1,0.1\n1,0.5,0.2\n")
    m = load(path, value="dI/dV", sigma="G(V) err")
    assert m.name == "dI/dV" and m.units == {"V_b": "V", "dI/dV": "S"}
    np.testing.assert_allclose(m.values, [G0, G0 / 2])
    np.testing.assert_allclose(m.sigma, [0.1 * G0, 0.2 * G0])
    path2 = write(tmp_path, "iv2.csv", "bias/mV, dI/dV\n0,1\n1,0.5\n")
    with pytest.raises(ValueError, match="no unit for 'dI/dV'"):
        load(path2)
    assert load(path2, units={"dI/dV": "uS"}).name == "dI/dV"


def test_csv_unsorted_rows_are_sorted_consistently(tmp_path):
    bias = np.array([0.3, -0.1, 0.2, -0.4, 0.0, 0.1])
    g = 100 + 10 * bias
    dg = 1 + bias
    rows = "\n".join(f"{b},{v},{s}" for b, v, s in zip(bias, g, dg, strict=False))
    path = write(tmp_path, "iv.csv", "bias [V], G [S], dG [S]\n" + rows + "\n")
    m = load(path, sigma="dG")
    order = np.argsort(bias)
    np.testing.assert_array_equal(m.coords["bias"], bias[order])
    assert np.all(np.diff(m.coords["bias"]) > 0)
    np.testing.assert_allclose(m.values, g[order])
    np.testing.assert_allclose(m.sigma, dg[order])
    np.testing.assert_allclose(m.values, 100 + 10 * m.coords["bias"])  # pairs stay together
    np.testing.assert_allclose(m.sigma, 1 + m.coords["bias"])
    m2 = load(path, sigma=0.25, value="G")
    np.testing.assert_allclose(m2.values, 100 + 10 * m2.coords["bias"])


def test_csv_constant_sigma(tmp_path):
    bias, g, _ = _curve(5)
    path = tmp_path / "iv.csv"
    np.savetxt(path, np.column_stack([bias, g]), delimiter=",", header="bias [mV], G [uS]", comments="")
    m = load(path, sigma=0.5)
    assert m.sigma.shape == (5,)
    np.testing.assert_allclose(m.sigma, 0.5e-6)
    m32 = load(path, sigma=np.float32(2))
    np.testing.assert_allclose(m32.sigma, 2e-6)
    with pytest.raises(ValueError, match="sigma"):
        load(path, sigma=0.0)
    with pytest.raises(ValueError, match="sigma"):
        load(path, sigma=-1)
    with pytest.raises(TypeError, match="sigma"):
        load(path, sigma=np.ones(5))  # arrays are not silently ignored


def test_csv_tab_separated(tmp_path):
    path = write(tmp_path, "iv.tsv", "bias [mV]\tG [uS]\tdG [uS]\n1\t2\t0.1\n-1\t4\t0.2\n")
    m = load(path, sigma="dG")
    np.testing.assert_allclose(m.coords["bias"], [-1e-3, 1e-3])
    np.testing.assert_allclose(m.values, [4e-6, 2e-6])
    np.testing.assert_allclose(m.sigma, [0.2e-6, 0.1e-6])


@pytest.mark.parametrize("header", ["bias [mV]  G [uS]", "bias[mV] G[uS]", "bias (mV)\tG (uS)", "bias/mV G/uS"])
def test_csv_whitespace_separated(tmp_path, header):
    path = write(tmp_path, "iv.dat", header + "\n 1.0   2.0\n-1.0 4.0\n  0   3\n")
    m = load(path)
    assert list(m.coords) == ["bias"] and m.name == "G"
    np.testing.assert_allclose(m.coords["bias"], [-1e-3, 0, 1e-3])
    np.testing.assert_allclose(m.values, [4e-6, 3e-6, 2e-6])


def test_csv_semicolon_separated(tmp_path):
    path = write(tmp_path, "iv.csv", "bias [mV];G [uS]\n1;2\n-1;4\n")
    m = load(path)
    np.testing.assert_allclose(m.values, [4e-6, 2e-6])


def test_csv_hash_header(tmp_path):
    bias, g, dg = _curve(4)
    path = tmp_path / "iv.csv"
    np.savetxt(path, np.column_stack([bias, g, dg]), delimiter=",", header="bias [mV], G [uS], dG [uS]")
    assert path.read_text().startswith("# bias")
    m = load(path, sigma="dG")
    assert m.shape == (4,)
    np.testing.assert_allclose(m.values, g * 1e-6)
    np.testing.assert_allclose(m.sigma, dg * 1e-6)
    spaced = tmp_path / "iv.dat"  # whitespace-separated, '#' header
    np.savetxt(spaced, np.column_stack([bias, g]), header="bias [mV] G [uS]")
    ms = load(spaced)
    assert list(ms.coords) == ["bias"] and ms.name == "G"
    np.testing.assert_allclose(ms.values, g * 1e-6)


def test_csv_comment_lines_before_header_and_inline(tmp_path):
    text = ("# sample A, cooldown 3\n# T = 20 mK\n#bias [mV], G [uS]\n"
            "-1, 5  # first point\n# a comment between rows\n1, 7\n\n0, 6\n")
    m = load(write(tmp_path, "iv.csv", text))
    assert list(m.coords) == ["bias"] and m.name == "G"
    np.testing.assert_allclose(m.coords["bias"], [-1e-3, 0, 1e-3])
    np.testing.assert_allclose(m.values, [5e-6, 6e-6, 7e-6])
    # a plain header after comment lines
    m2 = load(write(tmp_path, "iv2.csv", "# exported 2024\nbias [mV], G [uS]\n1, 2\n2, 3\n"))
    np.testing.assert_allclose(m2.values, [2e-6, 3e-6])


def test_csv_utf8_bom_and_micro_sign(tmp_path):
    path = write(tmp_path, "iv.csv", "bias [\u00b5V], G [\u00b5S]\n1, 2\n3, 4\n", encoding="utf-8-sig")
    m = load(path)
    assert list(m.coords) == ["bias"]
    np.testing.assert_allclose(m.coords["bias"], [1e-6, 3e-6])
    latin = tmp_path / "latin.csv"
    latin.write_bytes("bias [\u00b5V], G [uS]\n1, 2\n3, 4\n".encode("latin-1"))
    np.testing.assert_allclose(load(latin).coords["bias"], [1e-6, 3e-6])


@pytest.mark.parametrize("first", ["1e3,2e-3", "1e-3,2e3", "1E3,-2.5", "nan,1", "-inf,1"])
def test_csv_without_header(tmp_path, first):
    """Numbers written as 1e3, 1e-3, nan are data, not a header."""
    path = write(tmp_path, "iv.csv", f"{first}\n5,6\n")
    if "nan" in first or "inf" in first:
        with pytest.raises(ValueError, match="coordinate 'bias' has non-finite"):
            load(path, coords=["bias"], value="G", units={"bias": "mV", "G": "uS"})
        return
    m = load(path, coords=["bias"], value="G", units={"bias": "mV", "G": "uS"})
    assert list(m.coords) == ["bias"] and m.name == "G"
    expect = np.array([[float(s) for s in first.split(",")], [5, 6]])
    expect = expect[np.argsort(expect[:, 0])]
    np.testing.assert_allclose(m.coords["bias"], expect[:, 0] * 1e-3)
    np.testing.assert_allclose(m.values, expect[:, 1] * 1e-6)


def test_csv_without_header_sigma_and_extra_columns(tmp_path):
    path = write(tmp_path, "iv.txt", "0.5 1.0 0.01 99\n-0.5 2.0 0.02 98\n")
    m = load(path, coords=["bias"], value="G", sigma="dG", units={"bias": "mV", "G": "uS", "dG": "nS"})
    np.testing.assert_allclose(m.coords["bias"], [-0.5e-3, 0.5e-3])
    np.testing.assert_allclose(m.values, [2e-6, 1e-6])
    np.testing.assert_allclose(m.sigma, [0.02e-9, 0.01e-9])
    with pytest.raises(ValueError, match="no unit for 'bias'"):
        load(path, coords=["bias"], value="G", units={"G": "uS"})
    with pytest.raises(ValueError, match="5 names for 4 columns"):
        load(path, coords=["a", "b", "c"], value="G", sigma="dG", units={})


def test_csv_missing_unit(tmp_path):
    path = write(tmp_path, "iv.csv", "bias, G [uS]\n0, 1\n1, 2\n")
    with pytest.raises(ValueError, match=r"no unit for 'bias'.*'bias \[V\]'.*units=\{'bias': \.\.\.\}"):
        load(path)
    m = load(path, units={"bias": "mV"})
    np.testing.assert_allclose(m.coords["bias"], [0, 1e-3])
    path2 = write(tmp_path, "iv2.csv", "bias [mV], G\n0, 1\n1, 2\n")
    with pytest.raises(ValueError, match="no unit for 'G'"):
        load(path2)


def test_csv_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no data file"):
        load(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="no rows of numbers"):
        load(write(tmp_path, "empty.csv", "\n\n"))
    with pytest.raises(ValueError, match="no rows of numbers"):
        load(write(tmp_path, "header.csv", "bias [mV], G [uS]\n"))
    with pytest.raises(ValueError, match="3 header labels for 2 columns"):
        load(write(tmp_path, "cols.csv", "bias [mV], G [uS], dG [uS]\n1, 2\n3, 4\n"))
    with pytest.raises(ValueError, match="cannot read numbers"):
        load(write(tmp_path, "ragged.csv", "bias [mV], G [uS]\n1, 2\n3, x\n"))
    with pytest.raises(ValueError, match="sigma column 'err' not found"):
        load(write(tmp_path, "ok.csv", "bias [mV], G [uS]\n1, 2\n3, 4\n"), sigma="err")
    with pytest.raises(ValueError, match="value 'I' not found"):
        load(tmp_path / "ok.csv", value="I")
    with pytest.raises(ValueError, match=r"coordinate\(s\) \['field'\] not found"):
        load(tmp_path / "ok.csv", coords=["field"], value="G")
    with pytest.raises(ValueError, match="unknown data format '.xlsx'"):
        load(write(tmp_path, "x.xlsx", "1"))
    with pytest.raises(TypeError, match="cannot load data from list"):
        load([1, 2, 3])


# --------------------------------------------------------------------------- long-format CSV maps


FIELD = np.array([0.0, 0.5, 1.0])  # T
BIAS = np.array([-2e-4, -1e-4, 0.0, 1e-4])  # V


def _gfun(h, v):
    return 1e-6 * (1 + 3 * h + 2e4 * v + 1e8 * v**2)


def _long_rows(rng):
    hh, vv = np.meshgrid(FIELD, BIAS, indexing="ij")
    rows = np.column_stack([hh.ravel(), vv.ravel(), _gfun(hh, vv).ravel(), 1e-8 * (1 + hh.ravel())])
    return rows[rng.permutation(len(rows))]


def _write_rows(path, rows, header="field [T], bias [V], G [S], dG [S]"):
    np.savetxt(path, rows, delimiter=",", header=header, comments="", fmt="%.17g")
    return path


def test_long_format_map_regridded(tmp_path, rng):
    rows = _long_rows(rng)
    assert not np.all(np.diff(rows[:, 0]) >= 0)  # really shuffled
    m = load(_write_rows(tmp_path / "map.csv", rows), sigma="dG")
    assert list(m.coords) == ["field", "bias"]
    assert m.name == "G" and m.shape == (3, 4)
    assert m.units == {"field": "T", "bias": "V", "G": "S"}
    np.testing.assert_array_equal(m.coords["field"], FIELD)
    np.testing.assert_array_equal(m.coords["bias"], BIAS)
    hh, vv = np.meshgrid(FIELD, BIAS, indexing="ij")
    np.testing.assert_allclose(m.values, _gfun(hh, vv), rtol=1e-14)
    np.testing.assert_allclose(m.sigma, 1e-8 * (1 + hh), rtol=1e-14)
    # known points
    assert m.values[0, 2] == pytest.approx(1e-6)  # field 0, bias 0
    assert m.values[2, 0] == pytest.approx(1e-6 * (1 + 3 - 4 + 4))  # field 1 T, bias -0.2 mV
    # the coordinate order follows coords=
    mt = load(tmp_path / "map.csv", coords=["bias", "field"], value="G", sigma="dG")
    assert mt.shape == (4, 3)
    np.testing.assert_allclose(mt.values, m.values.T)
    np.testing.assert_allclose(mt.sigma, m.sigma.T)
    mc = m.model_coords()
    assert mc["field"].shape == (3, 1) and mc["bias"].shape == (1, 4)
    np.testing.assert_allclose(_gfun(mc["field"], mc["bias"]), m.values, rtol=1e-14)


def test_long_format_map_other_units(tmp_path, rng):
    rows = _long_rows(rng)
    rows[:, 0] *= 1e3  # mT
    rows[:, 1] *= 1e3  # mV
    rows[:, 2] /= G0  # in 2e^2/h
    m = load(_write_rows(tmp_path / "map.csv", rows[:, :3], "field [mT], bias [mV], G [2e^2/h]"))
    np.testing.assert_allclose(m.coords["field"], FIELD, atol=1e-15)
    np.testing.assert_allclose(m.coords["bias"], BIAS, atol=1e-18)
    hh, vv = np.meshgrid(FIELD, BIAS, indexing="ij")
    np.testing.assert_allclose(m.values, _gfun(hh, vv), rtol=1e-12)
    m2 = load(tmp_path / "map.csv", sigma=0.01)
    np.testing.assert_allclose(m2.sigma, 0.01 * G0)
    assert m2.sigma.shape == (3, 4)


def test_long_format_incomplete_grid(tmp_path, rng):
    rows = _long_rows(rng)[:-1]
    with pytest.raises(ValueError, match=r"11 rows do not form a complete grid over \['field', 'bias'\].*3 x 4 = 12"):
        load(_write_rows(tmp_path / "map.csv", rows), sigma="dG")


def test_long_format_duplicate_point(tmp_path, rng):
    rows = _long_rows(rng)
    dup = rows.copy()
    dup[3] = dup[5]  # one point twice, another missing: as many rows as grid points
    with pytest.raises(ValueError, match=r"duplicate point.*field"):
        load(_write_rows(tmp_path / "dup.csv", dup), sigma="dG")
    extra = np.vstack([rows, rows[:1]])  # one point twice, grid complete otherwise
    with pytest.raises(ValueError, match="duplicate point"):
        load(_write_rows(tmp_path / "extra.csv", extra), sigma="dG")


def test_long_format_nan_value_is_reported_as_nan(tmp_path, rng):
    rows = _long_rows(rng)
    rows[4, 2] = np.nan
    with pytest.raises(ValueError, match="1 measured values are NaN/inf"):
        load(_write_rows(tmp_path / "map.csv", rows), sigma="dG")


# --------------------------------------------------------------------------- NumPy


def test_npz_map_with_units(tmp_path):
    field = np.array([0.0, 10.0, 20.0])  # mT
    bias = np.linspace(-1, 1, 5)  # mV
    g = np.arange(15.0).reshape(3, 5) + 1  # uS
    path = tmp_path / "map.npz"
    np.savez(path, field=field, bias=bias, G=g, dG=0.1 * g,
             units=json.dumps({"field": "mT", "bias": "mV", "G": "uS", "dG": "nS"}))
    m = load(path, sigma="dG")
    assert list(m.coords) == ["field", "bias"] and m.name == "G"
    assert m.units == {"field": "T", "bias": "V", "G": "S"}
    np.testing.assert_allclose(m.coords["field"], field * 1e-3)
    np.testing.assert_allclose(m.coords["bias"], bias * 1e-3)
    np.testing.assert_allclose(m.values, g * 1e-6)
    np.testing.assert_allclose(m.sigma, 0.1 * g * 1e-9)
    # units given by the caller take precedence over the file's
    m2 = load(path, value="G", units={"G": "nS"})
    np.testing.assert_allclose(m2.values, g * 1e-9)
    np.testing.assert_allclose(m2.sigma, 0.1 * g * 1e-9)  # the dG array, recognised by its name


def test_npz_curve_and_missing_units(tmp_path):
    path = tmp_path / "iv.npz"
    bias, g, dg = _curve(4)
    np.savez(path, bias=bias, G=g, dG=dg)
    m = load(path, units={"bias": "mV", "G": "uS"})
    assert list(m.coords) == ["bias"] and m.name == "G"  # the first array is the coordinate
    np.testing.assert_allclose(m.values, g * 1e-6)
    m2 = load(path, sigma="dG", units={"bias": "mV", "G": "uS"})
    np.testing.assert_allclose(m2.sigma, dg * 1e-6)
    with pytest.raises(ValueError, match="no unit for 'bias'"):
        load(path)


def test_npy_columns(tmp_path):
    bias, g, dg = _curve(6)
    order = np.array([3, 0, 5, 1, 4, 2])
    path = tmp_path / "iv.npy"
    np.save(path, np.column_stack([bias, g, dg])[order])
    m = load(path, coords=["bias"], value="G", sigma="dG", units={"bias": "mV", "G": "uS"})
    np.testing.assert_allclose(m.coords["bias"], bias * 1e-3)
    np.testing.assert_allclose(m.values, g * 1e-6)
    np.testing.assert_allclose(m.sigma, dg * 1e-6)
    with pytest.raises(ValueError, match="3 columns; name them"):
        load(path, units={"bias": "mV", "G": "uS"})
    upper = tmp_path / "IV.NPY"
    with open(upper, "wb") as f:  # np.save would append ".npy" to the name
        np.save(f, np.column_stack([bias, g]))
    m2 = load(upper, coords=["bias"], value="G", units={"bias": "mV", "G": "uS"})
    np.testing.assert_allclose(m2.values, g * 1e-6)
    np.save(tmp_path / "map.npy", np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="use .npz for maps"):
        load(tmp_path / "map.npy", coords=["a"], value="b")


def test_dict_source():
    m = load({"bias": [0.0, 1.0, 2.0], "G": [1.0, 2.0, 3.0]}, units={"bias": "mV", "G": "uS"})
    assert list(m.coords) == ["bias"] and m.name == "G" and m.source == "dict"
    np.testing.assert_allclose(m.coords["bias"], [0, 1e-3, 2e-3])
    mm = load({"x": np.arange(2.0), "y": np.arange(3.0), "z": np.ones((2, 3))}, units={"x": "T", "y": "V", "z": "S"})
    assert list(mm.coords) == ["x", "y"] and mm.name == "z" and mm.shape == (2, 3)


# --------------------------------------------------------------------------- netCDF / xarray


def _dataset():
    field = np.array([0.0, 50.0, 100.0])
    bias = np.linspace(-0.5, 0.5, 4)
    g = 1 + np.add.outer(field / 100, bias**2)
    return xr.Dataset(
        {"G": (("field", "bias"), g, {"units": "uS"}),
         "dG": (("field", "bias"), 2 + 0 * g, {"units": "nS"}),
         "I": (("field", "bias"), g * 3, {"units": "nA"})},
        coords={"field": ("field", field, {"units": "mT"}), "bias": ("bias", bias, {"units": "mV"})})


def test_netcdf_units_and_sigma(tmp_path):
    ds = _dataset()
    path = tmp_path / "map.nc"
    ds.to_netcdf(path, engine="h5netcdf")
    m = load(path, value="G", sigma="dG")
    assert list(m.coords) == ["field", "bias"] and m.name == "G" and m.shape == (3, 4)
    assert m.units == {"field": "T", "bias": "V", "G": "S"}
    np.testing.assert_allclose(m.coords["field"], ds.field.values * 1e-3)
    np.testing.assert_allclose(m.coords["bias"], ds.bias.values * 1e-3)
    np.testing.assert_allclose(m.values, ds.G.values * 1e-6)
    np.testing.assert_allclose(m.sigma, 2e-9)  # in the sigma variable's own unit
    assert load(path).name == "G"  # the first variable by default
    mi = load(path, variable="I")
    np.testing.assert_allclose(mi.values, ds.I.values * 1e-9)
    assert mi.units["I"] == "A"
    h5 = tmp_path / "map.h5"
    ds.to_netcdf(h5, engine="h5netcdf")
    np.testing.assert_array_equal(load(h5, value="G").values, m.values)
    with pytest.raises(ValueError, match="sigma variable 'err' not in"):
        load(path, value="G", sigma="err")
    with pytest.raises(ValueError, match="variable 'X' not in"):
        load(path, value="X")


def test_netcdf_sigma_first_and_lower_dimensional(tmp_path):
    ds = _dataset()
    ds2 = xr.Dataset({"dG": ds.dG.isel(field=0, drop=True), "G": ds.G})
    m = load(ds2, sigma="dG")
    assert m.name == "G"  # the sigma variable is not taken as the value
    assert m.sigma.shape == (3, 4)
    np.testing.assert_allclose(m.sigma, 2e-9)


def test_xarray_dataarray_in_memory():
    ds = _dataset()
    m = load(ds.G)
    assert m.name == "G" and m.source == "xarray" and list(m.coords) == ["field", "bias"]
    np.testing.assert_allclose(m.values, ds.G.values * 1e-6)
    np.testing.assert_allclose(m.coords["field"], ds.field.values * 1e-3)
    # transposed dimensions
    mt = load(ds.G, coords=["bias", "field"])
    assert list(mt.coords) == ["bias", "field"] and mt.shape == (4, 3)
    np.testing.assert_allclose(mt.values, ds.G.values.T * 1e-6)
    with pytest.raises(ValueError, match="must be the dimensions"):
        load(ds.G, coords=["bias"])
    # a DataArray without a unit on the values
    bare = ds.G.copy()
    bare.attrs = {}
    with pytest.raises(ValueError, match="no unit for 'G'"):
        load(bare)
    np.testing.assert_allclose(load(bare, units={"G": "S"}).values, ds.G.values)
    unnamed = xr.DataArray(np.ones(3), coords={"bias": ("bias", [0.0, 1.0, 2.0], {"units": "V"})}, dims="bias",
                           attrs={"units": "S"})
    assert load(unnamed).name == "y"
    # sigma as a coordinate of the DataArray
    with_sigma = ds.G.assign_coords(G_sigma=ds.dG)
    ms = load(with_sigma, sigma="G_sigma")
    np.testing.assert_allclose(ms.sigma, 2e-9)
    with pytest.raises(ValueError, match="sigma variable 'dG' not in"):
        load(ds.G, sigma="dG")


def test_xarray_dataset_value_choice():
    ds = _dataset()
    m = load(ds, value="I", coords=["bias", "field"])
    assert m.name == "I" and m.units["I"] == "A"
    np.testing.assert_allclose(m.values, ds.I.values.T * 1e-9)
    mg = load(ds, value="G", sigma=0.5)
    np.testing.assert_allclose(mg.sigma, 0.5e-6)


# --------------------------------------------------------------------------- Measurement


def _map():
    field = np.array([0.0, 0.1, 0.2])
    bias = np.array([-2e-3, -1e-3, 0.0, 1e-3, 2e-3])
    vals = np.add.outer(10 * field, bias) + 1.0
    sigma = np.broadcast_to(0.01 + field[:, None], vals.shape)
    return Measurement(coords={"field": field, "bias": bias}, values=vals, sigma=sigma,
                       name="G", units={"field": "T", "bias": "V", "G": "S"}, source="test")


def test_measurement_validation():
    with pytest.raises(ValueError, match=r"values of shape \(4,\) do not match the coordinates \{'bias': 3\}"):
        Measurement(coords={"bias": np.arange(3.0)}, values=np.zeros(4))
    with pytest.raises(ValueError, match="do not match"):
        Measurement(coords={"a": np.arange(3.0), "b": np.arange(2.0)}, values=np.zeros((2, 3)))
    vals = np.ones(5)
    vals[[1, 3]] = [np.nan, np.inf]
    with pytest.raises(ValueError, match=r"2 measured values are NaN/inf: remove or interpolate them.*\.select"):
        Measurement(coords={"bias": np.arange(5.0)}, values=vals)
    for bad in (0.0, -1.0, [1, 1, 0], [1, np.nan, 1]):
        with pytest.raises(ValueError, match=r"sigma\) must be > 0"):
            Measurement(coords={"bias": np.arange(3.0)}, values=np.ones(3), sigma=bad)
    with pytest.raises(ValueError, match="sigma"):
        Measurement(coords={"bias": np.arange(3.0)}, values=np.ones(3), sigma=np.ones(4))
    with pytest.raises(ValueError, match="coordinate 'bias' has non-finite"):
        Measurement(coords={"bias": [0.0, np.nan, 1.0]}, values=np.ones(3))
    m = Measurement(coords={"bias": [0, 1, 2]}, values=[1, 2, 3], sigma=0.5)
    assert isinstance(m.coords["bias"], np.ndarray) and m.coords["bias"].dtype == float
    np.testing.assert_array_equal(m.sigma, [0.5, 0.5, 0.5])
    assert m.shape == (3,) and m.name == "y"
    np.testing.assert_array_equal(m.select(bias=(1, 2)).values, [2, 3])  # plain lists work too


def test_select_ranges():
    m = _map()
    s = m.select(bias=(-1e-3, 1e-3))  # inclusive bounds
    assert s.shape == (3, 3)
    np.testing.assert_array_equal(s.coords["bias"], [-1e-3, 0.0, 1e-3])
    np.testing.assert_array_equal(s.coords["field"], m.coords["field"])
    np.testing.assert_array_equal(s.values, m.values[:, 1:4])
    np.testing.assert_array_equal(s.sigma, m.sigma[:, 1:4])
    assert (s.name, s.units, s.source) == (m.name, m.units, m.source)
    s2 = m.select(field=(0.05, 1.0), bias=(0.0, 5e-3))
    assert s2.shape == (2, 3)
    np.testing.assert_array_equal(s2.values, m.values[1:, 2:])
    np.testing.assert_array_equal(s2.sigma, m.sigma[1:, 2:])
    assert m.shape == (3, 5)  # the original is unchanged
    with pytest.raises(ValueError, match=r"no data left in bias range \(0.1, 0.2\)"):
        m.select(bias=(0.1, 0.2))
    with pytest.raises(ValueError, match=r"no data left"):
        m.select(bias=(1e-3, -1e-3))
    with pytest.raises(ValueError, match=r"unknown coordinate\(s\) \['temperature'\]; have \['field', 'bias'\]"):
        m.select(temperature=(0, 1))
    assert dataclasses.replace(m, sigma=None).select(bias=(0, 1)).sigma is None


def test_model_coords_broadcasting():
    m = _map()
    mc = m.model_coords()
    assert list(mc) == ["field", "bias"]
    assert mc["field"].shape == (3, 1) and mc["bias"].shape == (1, 5)
    np.testing.assert_allclose(10 * mc["field"] + mc["bias"] + 1.0, m.values)
    c1 = Measurement(coords={"bias": np.arange(4.0)}, values=np.zeros(4)).model_coords()
    assert c1["bias"].shape == (4,)
    c3 = Measurement(coords={"a": np.arange(2.0), "b": np.arange(3.0), "c": np.arange(4.0)},
                     values=np.zeros((2, 3, 4))).model_coords()
    assert [v.shape for v in c3.values()] == [(2, 1, 1), (1, 3, 1), (1, 1, 4)]
    assert np.broadcast_shapes(*(v.shape for v in c3.values())) == (2, 3, 4)


def test_to_xarray_units():
    m = _map()
    da = m.to_xarray()
    assert isinstance(da, xr.DataArray)
    assert da.name == "G" and da.dims == ("field", "bias")
    assert da.attrs["units"] == "S"
    assert da["field"].attrs["units"] == "T" and da["bias"].attrs["units"] == "V"
    np.testing.assert_array_equal(da.values, m.values)
    np.testing.assert_array_equal(da["G_sigma"].values, m.sigma)
    assert da["G_sigma"].attrs["units"] == "S"
    back = load(da, sigma="G_sigma")
    np.testing.assert_array_equal(back.values, m.values)
    np.testing.assert_array_equal(back.sigma, m.sigma)
    assert back.units == m.units
    # without units, the exported array carries none, and loading it asks for them
    bare = Measurement(coords={"bias": np.arange(3.0)}, values=np.ones(3))
    assert "units" not in bare.to_xarray().attrs
    with pytest.raises(ValueError, match="no unit for 'bias'"):
        load(bare.to_xarray())


def test_round_trip_netcdf(tmp_path, rng):
    field = np.array([0.0, 0.25, 0.5])
    bias = np.linspace(-1e-3, 1e-3, 6)
    vals = rng.uniform(1e-6, 2e-6, size=(3, 6))
    sig = rng.uniform(1e-8, 2e-8, size=(3, 6))
    m = Measurement(coords={"field": field, "bias": bias}, values=vals, sigma=sig, name="G",
                    units={"field": "T", "bias": "V", "G": "S"})
    path = tmp_path / "m.nc"
    m.to_xarray().to_netcdf(path, engine="h5netcdf")
    back = load(path)
    assert back.name == "G" and list(back.coords) == ["field", "bias"]
    assert back.units == m.units
    for k in m.coords:
        np.testing.assert_array_equal(back.coords[k], m.coords[k])
    np.testing.assert_array_equal(back.values, m.values)
    assert back.sigma is None
    back_s = load(path, sigma="G_sigma")
    np.testing.assert_array_equal(back_s.sigma, m.sigma)
    # a curve in non-SI units comes back in SI
    c = load({"bias": [0.0, 1.0], "G": [1.0, 3.0]}, units={"bias": "mV", "G": "2e^2/h"})
    c.to_xarray().to_netcdf(tmp_path / "c.nc", engine="h5netcdf")
    cb = load(tmp_path / "c.nc")
    assert cb.units == {"bias": "V", "G": "S"}
    np.testing.assert_allclose(cb.values, [G0, 3 * G0])
    np.testing.assert_allclose(cb.coords["bias"], [0, 1e-3])


def test_sel_takes_one_curve_of_a_map():
    m = Measurement(coords={"field": np.array([0.0, 0.5, 1.0]), "bias": np.linspace(-1, 1, 5)},
                         values=np.arange(15.0).reshape(3, 5), sigma=np.full((3, 5), 0.1), name="G",
                         units={"field": "T", "bias": "V", "G": "S"})
    c = m.sel(field=0.45)
    assert list(c.coords) == ["bias"] and c.shape == (5,) and c.sigma.shape == (5,)
    np.testing.assert_array_equal(c.values, np.arange(5.0, 10.0))
    with pytest.raises(ValueError, match="unknown coordinate"):
        m.sel(T=1.0)
    with pytest.raises(ValueError, match="last coordinate"):
        c.sel(bias=0.0)
