r"""Measured data in: curves and maps from CSV, NumPy, HDF5/netCDF or xarray, with physical units.

`load` returns a `Measurement`: the coordinate arrays and the
measured values (and their standard deviations, when given) converted to SI
units (V, A, S, Ohm, K, T, eV), plus the units they came in.  Units are read
from the file where it carries them (a CSV header ``bias [mV], G [uS]``, the
``units`` attribute of netCDF/HDF5/xarray variables, a ``units`` entry of an
``.npz`` file) or given by the caller (``units={"bias": "mV", "G": "uS"}``);
a quantity without a unit is an error, never a guess.

Curves have one coordinate; maps have two (e.g. ``field`` x ``bias``), stored
as a 2-D array on a grid (netCDF/xarray/npz) or as long-format CSV columns
(one row per point: ``field [T], bias [V], G [S]``), which `load`
re-grids when the points form a complete grid.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
import os
import re
from pathlib import Path

import numpy as np

from ..units import parse_unit, to_si  # noqa: F401  (loaders speak SI units)


@dataclasses.dataclass
class Measurement:
    """Coordinates and values in SI units.

    - ``coords``: ordered name -> 1-D array (the axes of ``values``, in order);
    - ``values``, ``sigma`` (or None): arrays of shape ``tuple(len(c) for c in coords)``;
    - ``name``, ``units`` (SI unit per coordinate and of the values), ``source``.
    """

    coords: dict
    values: np.ndarray
    sigma: np.ndarray | None = None
    name: str = "y"
    units: dict = dataclasses.field(default_factory=dict)
    source: str = ""

    def __post_init__(self):
        self.coords = {k: np.atleast_1d(np.asarray(v, float)) for k, v in self.coords.items()}
        for k, c in self.coords.items():
            if c.ndim != 1:
                raise ValueError(f"coordinate {k!r} must be a 1-D array, got shape {c.shape}")
            if not np.all(np.isfinite(c)):
                raise ValueError(f"coordinate {k!r} has non-finite (NaN/inf) values")
        shape = tuple(len(c) for c in self.coords.values())
        self.values = np.asarray(self.values, float)
        if self.values.shape != shape:
            raise ValueError(f"values of shape {self.values.shape} do not match the coordinates "
                             f"{ {k: len(v) for k, v in self.coords.items()} }")
        if self.sigma is not None:
            try:
                self.sigma = np.broadcast_to(np.asarray(self.sigma, float), shape).copy()
            except ValueError:
                raise ValueError(f"sigma of shape {np.shape(self.sigma)} does not match the values "
                                 f"of shape {shape}") from None
            if not np.all(self.sigma > 0):
                raise ValueError("standard deviations (sigma) must be > 0 everywhere")
        bad = ~np.isfinite(self.values)
        if bad.any():
            raise ValueError(f"{int(bad.sum())} measured values are NaN/inf: remove or interpolate them "
                             "(or select a clean range with .select)")

    @property
    def shape(self):
        return self.values.shape

    def model_coords(self) -> dict:
        """The coordinates as broadcastable arrays for a model: axis i has shape 1 except along i."""
        n = len(self.coords)
        out = {}
        for i, (k, v) in enumerate(self.coords.items()):
            shape = [1] * n
            shape[i] = -1
            out[k] = np.asarray(v, float).reshape(shape)
        return out

    def sel(self, **point) -> Measurement:
        """One slice at the nearest coordinate value, dropping that axis: ``m.sel(field=1.0)`` is the
        curve at 1 T of a field x bias map (values in SI units)."""
        out = self
        for k, v in point.items():
            if k not in out.coords:
                raise ValueError(f"unknown coordinate {k!r}; have {list(out.coords)}")
            axis = list(out.coords).index(k)
            i = int(np.argmin(np.abs(np.asarray(out.coords[k]) - float(v))))
            coords = {c: a for c, a in out.coords.items() if c != k}
            if not coords:
                raise ValueError("cannot drop the last coordinate")
            out = dataclasses.replace(out, coords=coords, values=np.take(out.values, i, axis=axis),
                                      sigma=None if out.sigma is None else np.take(out.sigma, i, axis=axis))
        return out

    def select(self, **ranges) -> Measurement:
        """Restrict coordinates to ranges in SI units, e.g. ``select(bias=(-1.5e-3, 1.5e-3))``."""
        coords, idx = {}, []
        for k, v in self.coords.items():
            if k in ranges:
                lo, hi = ranges[k]
                keep = (v >= lo) & (v <= hi)
                if not keep.any():
                    raise ValueError(f"no data left in {k} range {ranges[k]}")
            else:
                keep = np.ones(len(v), bool)
            coords[k] = v[keep]
            idx.append(np.nonzero(keep)[0])
        unknown = set(ranges) - set(self.coords)
        if unknown:
            raise ValueError(f"unknown coordinate(s) {sorted(unknown)}; have {list(self.coords)}")
        ix = np.ix_(*idx)
        return dataclasses.replace(self, coords=coords, values=self.values[ix],
                                   sigma=None if self.sigma is None else self.sigma[ix])

    def to_xarray(self):
        """A DataArray with ``units`` attributes; ``sigma``, when given, is the coordinate ``f"{name}_sigma"``
        (read it back with ``load(..., sigma=f"{name}_sigma")``)."""
        import xarray as xr

        def attrs(k):
            return {"units": self.units[k]} if self.units.get(k) is not None else {}

        dims = list(self.coords)
        coords = {k: (k, v, attrs(k)) for k, v in self.coords.items()}
        if self.sigma is not None:
            coords[f"{self.name}_sigma"] = (dims, self.sigma, attrs(self.name))
        return xr.DataArray(self.values, coords=coords, dims=dims, name=self.name, attrs=attrs(self.name))


def _split_header(label: str) -> tuple[str, str | None]:
    """``"bias [mV]"`` / ``"bias (mV)"`` / ``"bias/mV"`` -> ("bias", "mV"); ``"bias"`` -> ("bias", None).

    A unit in brackets ends the label, so the name itself may hold ``/`` or ``( )`` (``"dI/dV [uS]"``)."""
    label = label.strip().strip("\"'").strip()
    m = re.match(r"^(.+?)\s*(?:\[([^\[\]]*)\]|\(([^()]*)\))$", label)
    if m:
        return m.group(1).strip(), (m.group(2) if m.group(2) is not None else m.group(3)).strip()
    if "/" in label:  # "bias/mV"; a name such as "dI/dV" stays whole
        name, unit = (t.strip() for t in label.split("/", 1))
        try:
            parse_unit(unit)
        except ValueError:
            return label, None
        if name:
            return name, unit
    return label, None


def _delimiter(line: str) -> str | None:
    return next((d for d in ("\t", ",", ";") if d in line), None)  # None: whitespace


def _header_labels(header: str, delim: str | None) -> list[str]:
    if delim is not None:
        return [s.strip() for s in header.split(delim)]
    # whitespace-separated: keep "bias [mV]" and "bias / mV" together
    header = re.sub(r"\s+(?=[\[(])", "", header)
    return re.sub(r"\s*/\s*", "/", header).split()


def _is_data_line(line: str) -> bool:
    """A row of numbers (``1e3``, ``-2.5E-03``, ``nan`` included), not a comment or header."""
    body = line.split("#", 1)[0].strip()
    if not body:
        return False
    delim = _delimiter(body)
    try:
        [float(f) for f in (body.split(delim) if delim else body.split())]
    except ValueError:
        return False
    return True


def _read_text(path) -> str:
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _grid_long_format(cols: dict, coord_names: list, value_names: list):
    """Long-format columns (one row per point) -> grid arrays; error if the points are not a full grid."""
    pts = {c: np.asarray(cols[c], float) for c in coord_names}
    axes = [np.unique(pts[c]) for c in coord_names]
    shape = tuple(len(a) for a in axes)
    n = len(pts[coord_names[0]])
    index = tuple(np.searchsorted(a, pts[c]) for a, c in zip(axes, coord_names, strict=False))
    flat = np.ravel_multi_index(index, shape)
    uniq, first, counts = np.unique(flat, return_index=True, return_counts=True)
    if (counts > 1).any():
        i = first[np.argmax(counts > 1)]
        point = ", ".join(f"{c}={pts[c][i]:g}" for c in coord_names)
        raise ValueError(f"duplicate point ({point}) in the grid over {coord_names}: "
                         f"{int((counts - 1).sum())} repeated row(s)")
    size = int(np.prod(shape))
    if n != size:
        raise ValueError(f"the {n} rows do not form a complete grid over {coord_names} "
                         f"({' x '.join(map(str, shape))} = {size} distinct points)")
    out = {}
    for v in value_names:
        arr = np.empty(size)
        arr[flat] = np.asarray(cols[v], float)
        out[v] = arr.reshape(shape)
    return axes, out


def load(source, *, coords: list[str] | None = None, value: str | None = None, sigma: str | float | None = None,
         units: dict | None = None, variable: str | None = None) -> Measurement:
    """Load a measured curve or map with units.

    Args:
        source: a path (``.csv``/``.txt``/``.dat``, ``.npy``/``.npz``, ``.nc``/``.h5``/``.hdf5``),
            an ``xarray.DataArray``/``Dataset``, or a dict of arrays.
        coords: names of the coordinate columns/dimensions, in order (default: for CSV, the
            columns before the value, other than sigma; the dimensions for xarray).
        value: name of the measured quantity (default: the last column other than sigma for CSV,
            the first non-coordinate array/variable otherwise).
        sigma: name of a column/variable with standard deviations (in its own unit when it has one,
            else the value's), or one number (in the value's unit).  Without it, a column named
            ``d<value>``, ``<value>_err``, ``<value>_sigma``, ``<value>_std``, ``sigma`` or ``std``
            (CSV, .npy/.npz, dict) is taken as the standard deviations.
        units: name -> unit for anything the file does not label.
        variable: for a Dataset/netCDF file, the variable to fit (same as ``value``).
    """
    units = dict(units or {})
    value = value or variable
    if sigma is not None and (isinstance(sigma, bool) or not isinstance(sigma, (str, numbers.Real))):
        raise TypeError(f"sigma must be the name of a column/variable or one number, not {type(sigma).__name__}")
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if not path.exists():
            raise FileNotFoundError(f"no data file {path}")
        suffix = path.suffix.lower()
        if suffix in (".csv", ".txt", ".dat", ".tsv"):
            return _load_csv(path, coords, value, sigma, units)
        if suffix in (".npy", ".npz"):
            return _load_numpy(path, coords, value, sigma, units)
        if suffix in (".nc", ".h5", ".hdf5", ".nc4", ".cdf"):
            import xarray as xr

            try:
                with xr.open_dataset(path, engine="h5netcdf") as ds:
                    loaded = ds.load()
            except Exception as e:  # noqa: BLE001 - h5py/xarray raise many kinds for a damaged file
                raise ValueError(f"cannot read {path} as netCDF/HDF5 ({type(e).__name__}: {e}); is it a "
                                 "netCDF4 file (xarray's to_netcdf)?") from None
            return _load_xarray(loaded, coords, value, sigma, units, str(path))
        raise ValueError(f"unknown data format {suffix!r}: use CSV, .npy/.npz, netCDF/HDF5 (.nc, .h5)")
    if isinstance(source, dict):
        return _from_arrays(dict(source), coords, value, sigma, units, "dict")
    try:
        import xarray as xr

        is_xarray = isinstance(source, (xr.DataArray, xr.Dataset))
    except ImportError:  # pragma: no cover
        is_xarray = False
    if is_xarray:
        return _load_xarray(source, coords, value, sigma, units, "xarray")
    raise TypeError(f"cannot load data from {type(source).__name__}")


def _finish(coord_arrays: dict, vals, sig, value: str, units: dict, source: str, sigma) -> Measurement:
    """Convert to SI with the units (every quantity needs one) and build the Measurement.

    A sigma column/variable is in its own unit when it has one, else in the value's."""
    si_units, out = {}, {}
    for k, arr in list(coord_arrays.items()) + [(value, vals)]:
        if k not in units or units[k] is None:
            raise ValueError(f"no unit for {k!r} in {source}: label it in the file (e.g. '{k} [V]') or pass "
                             f"units={{'{k}': ...}}")
        base, f = parse_unit(units[k])
        si_units[k] = base
        out[k] = np.asarray(arr, float) * f
    sunit = units[value]
    if isinstance(sigma, numbers.Real):
        sig = np.full(np.shape(vals), float(sigma))
    elif isinstance(sigma, str) and units.get(sigma) is not None:
        sunit = units[sigma]
    sig_si = None if sig is None else to_si(sig, sunit, expect=si_units[value])
    coords = {k: out[k] for k in coord_arrays}
    for k, c in coords.items():
        if c.ndim != 1 or c.size == 0:
            raise ValueError(f"coordinate {k!r} must be a non-empty 1-D array, got shape {c.shape}")
    vals_si = out[value]
    if vals_si.shape == tuple(c.size for c in coords.values()) and all(np.all(np.isfinite(c))
                                                                       for c in coords.values()):
        # increasing coordinates (a curve may repeat a point: up and down sweeps; a map's axes may not)
        for ax, (k, c) in enumerate(coords.items()):
            order = np.argsort(c, kind="stable")
            if len(coords) > 1 and np.any(np.diff(c[order]) == 0):
                raise ValueError(f"coordinate {k!r} of the map in {source} repeats a value; the axes of a map "
                                 "hold distinct values (average or drop the repeated rows)")
            if sig_si is not None and np.shape(sig_si) == vals_si.shape:
                sig_si = np.take(sig_si, order, axis=ax)
            coords[k], vals_si = c[order], np.take(vals_si, order, axis=ax)
    return Measurement(coords=coords, values=vals_si, sigma=sig_si, name=value, units=si_units, source=source)


def _load_csv(path, coords, value, sigma, units) -> Measurement:
    lines = [ln for ln in _read_text(path).splitlines() if ln.strip()]
    first = next((i for i, ln in enumerate(lines) if _is_data_line(ln)), None)
    if first is None:
        raise ValueError(f"{path}: no rows of numbers found")
    delim = _delimiter(lines[first].split("#", 1)[0])
    try:
        data = np.loadtxt(lines[first:], delimiter=delim, comments="#", ndmin=2)
    except ValueError as e:
        raise ValueError(f"cannot read numbers from {path}: {e}") from None
    ncol = data.shape[1]
    # the header is the line just before the numbers; a '#' line there counts if it labels every column
    labels = None
    if first > 0:
        prev = lines[first - 1].strip()
        header = prev.lstrip("#").strip()
        cand = _header_labels(header, delim if delim is not None else _delimiter(header))
        if not prev.startswith("#") or len(cand) == ncol:
            labels = cand
    if labels is not None:
        names, file_units = zip(*(_split_header(s) for s in labels), strict=False)
        if len(names) != ncol:
            raise ValueError(f"{path}: {len(names)} header labels for {ncol} columns")
    else:
        given = list(coords or []) + ([value] if value else []) + ([sigma] if isinstance(sigma, str) else [])
        if len(given) > ncol:
            raise ValueError(f"{path} has no header: {len(given)} names for {ncol} columns")
        names = tuple(given) + tuple(f"col{i}" for i in range(len(given), ncol))
        file_units = (None,) * ncol
    cols = {n: data[:, i] for i, n in enumerate(names)}
    for n, u in zip(names, file_units, strict=False):
        if u is not None:
            units.setdefault(n, u)
    return _from_arrays(cols, coords, value, sigma, units, str(path), long_format=True)


def _read_numpy(path):
    """The array of a .npy file or the named arrays of a .npz file; a clear error for anything else."""
    def damaged(e):
        return ValueError(f"cannot read {path} as a NumPy file ({type(e).__name__}: {e}); write it with "
                          "np.save/np.savez")

    try:
        obj = np.load(path, allow_pickle=False)
        if isinstance(obj, np.lib.npyio.NpzFile):
            with obj as z:
                obj = {k: np.asarray(z[k]) for k in z.files}
    except Exception as e:  # noqa: BLE001 - zipfile, pickle and format errors of a damaged file
        raise damaged(e) from None
    if isinstance(obj, np.ndarray) and not np.issubdtype(obj.dtype, np.number):
        raise ValueError(f"{path}: holds {obj.dtype} data, not numbers")
    return obj


def _load_numpy(path, coords, value, sigma, units) -> Measurement:
    if path.suffix.lower() == ".npy":
        arr = _read_numpy(path)
        if arr.ndim != 2 or arr.shape[1] < 2:
            raise ValueError(f"{path}: a .npy file must hold columns (points x quantities); use .npz for maps")
        names = list(coords or []) + [value or "y"]
        if sigma is not None and isinstance(sigma, str):
            names.append(sigma)
        if len(names) != arr.shape[1]:
            raise ValueError(f"{path}: {arr.shape[1]} columns; name them with coords=[...], value=..., sigma=...")
        return _from_arrays({n: arr[:, i] for i, n in enumerate(names)}, coords, value or "y", sigma, units,
                            str(path), long_format=True)
    d = _read_numpy(path)
    if not isinstance(d, dict):
        raise ValueError(f"{path}: a .npz file holds named arrays (np.savez(path, bias=..., G=...))")
    if "units" in d:
        try:
            file_units = json.loads(str(d.pop("units")))
        except ValueError:
            file_units = None
        if not isinstance(file_units, dict) or not all(isinstance(u, str) for u in file_units.values()):
            raise ValueError(f"{path}: the 'units' entry must be a JSON object name -> unit string, "
                             "e.g. np.savez(path, ..., units=json.dumps({'bias': 'mV', 'G': 'uS'}))")
        units = {**file_units, **units}
    return _from_arrays(d, coords, value, sigma, units, str(path))


_SIGMA_NAMES = ("sigma", "std", "stderr", "err", "error", "uncertainty")


def _uncertainty_column(names: list, value: str | None, coords) -> str | None:
    """The column that holds the standard deviations, recognised by its name: ``sigma``, ``std``, ``err``
    (alone), or ``d<value>``, ``<value>_err``, ``<value>_sigma``, ``<value>_std`` for another column.

    Returns None when there is none; raises when several columns qualify."""
    others = [n for n in names if n not in (coords or [])]
    found = []
    for n in others:
        low = n.lower()
        stems = [low[1:]] if low.startswith("d") else []
        for suffix in ("_err", "_error", "_sigma", "_std", "_stderr"):
            if low.endswith(suffix):
                stems.append(low[: -len(suffix)])
        if low in _SIGMA_NAMES or any(s and s != low and s in {m.lower() for m in others if m != n}
                                      and (value is None or s == value.lower()) for s in stems):
            found.append(n)
    if len(found) > 1:
        raise ValueError(f"several columns look like uncertainties ({found}); name the right one with sigma=...")
    return found[0] if found else None


def _from_arrays(d: dict, coords, value, sigma, units, source, long_format=False) -> Measurement:
    names = list(d)
    if sigma is None:  # a column named like an uncertainty ('dG', 'G_err', 'sigma', 'std') is one
        sigma = _uncertainty_column(names, value, coords)
    sig_name = sigma if isinstance(sigma, str) else None
    if sig_name is not None and sig_name not in d:
        raise ValueError(f"sigma column {sig_name!r} not found in {source}; have {names}")
    if value is None:
        rest = [n for n in names if n not in (coords or []) and n != sig_name]
        if not rest:
            raise ValueError(f"no measured values in {source}; have {names}")
        if coords is not None:
            value = rest[0]
        elif long_format:  # the last column (or the one before a sigma column)
            value = rest[-1]
        else:  # gridded: the first array of the highest rank; for curves, the first 1-D array is the coordinate
            top = max(np.ndim(d[n]) for n in rest)
            cand = [n for n in rest if np.ndim(d[n]) == top]
            value = cand[1] if top == 1 and len(cand) > 1 else cand[0]
    if value not in d:
        raise ValueError(f"value {value!r} not found in {source}; have {names}")
    if coords is None:
        if long_format:  # the columns before the value
            coords = [n for n in names[:names.index(value)] if n != sig_name]
            if not coords:
                raise ValueError(f"no coordinate columns before {value!r} in {source}; pass coords=[...]")
        else:
            coords = [n for n in names if n not in (value, sig_name) and np.ndim(d[n]) == 1][:np.ndim(d[value])]
    missing = [c for c in coords if c not in d]
    if missing:
        raise ValueError(f"coordinate(s) {missing} not found in {source}; have {names}")
    vals = np.asarray(d[value], float)
    sig = None if sig_name is None else np.asarray(d[sig_name], float)
    if long_format and len(coords) > 1:
        axes, grids = _grid_long_format(d, coords, [value] + ([sig_name] if sig_name else []))
        coord_arrays = dict(zip(coords, axes, strict=False))
        vals = grids[value]
        sig = grids[sig_name] if sig_name else None
    elif long_format:
        order = np.argsort(d[coords[0]], kind="stable")
        coord_arrays = {coords[0]: np.asarray(d[coords[0]], float)[order]}
        vals = vals[order]
        sig = None if sig is None else sig[order]
    else:
        coord_arrays = {c: np.asarray(d[c], float) for c in coords}
    return _finish(coord_arrays, vals, sig, value, units, source, sigma)


def _load_xarray(obj, coords, value, sigma, units, source) -> Measurement:
    import xarray as xr

    if isinstance(obj, xr.Dataset):
        if value is None:
            value = next((v for v in obj.data_vars if v != sigma), None)
        if value is None or value not in obj:
            raise ValueError(f"variable {value!r} not in {source}; have {list(obj.data_vars)}")
        da = obj[value]
        holder = obj  # where a sigma variable is looked up
    else:
        da = obj
        value = value or (da.name or "y")
        holder = da.coords
    if isinstance(sigma, str) and sigma not in holder:
        raise ValueError(f"sigma variable {sigma!r} not in {source}; have {list(holder)}")
    dims = list(coords or da.dims)
    if set(dims) != set(da.dims):
        raise ValueError(f"coords {dims} must be the dimensions {list(da.dims)} of {value!r}")
    da = da.transpose(*dims)
    sig = None
    if isinstance(sigma, str):
        sda = holder[sigma]
        if "units" in sda.attrs:
            units.setdefault(sigma, sda.attrs["units"])
        sig = sda.broadcast_like(da).transpose(*dims).values
    for k in dims + [value]:
        arr = da if k == value else da[k]
        if "units" in arr.attrs:
            units.setdefault(k, arr.attrs["units"])
    coord_arrays = {k: np.asarray(da[k].values, float) for k in dims}
    return _finish(coord_arrays, da.values, sig, str(value), units, source, sigma)
