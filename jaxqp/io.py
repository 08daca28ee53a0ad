"""Results as labelled data (xarray) and files (netCDF via h5netcdf)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from .internal.config import VERSION as __version__

#: units of the dimensionless quantities, for dataset attributes
UNITS = {
    "energy": "Delta0",
    "bias": "Delta0/e",
    "temperature": "Delta0/k_B",
    "field": "Delta0 (spin splitting h)",
    "current": "G_T Delta0/e",
    "heat": "G_T Delta0^2/e^2",
    "conductance": "G_T",
}


def variable(dims, values, units: str | None = None, long_name: str | None = None):
    """An xarray variable tuple with unit and description attributes."""
    attrs = {}
    if units is not None:
        attrs["units"] = units
    if long_name is not None:
        attrs["long_name"] = long_name
    return (tuple(dims), np.asarray(values), attrs)


def dataset(data_vars: dict, coords: dict, *, config: dict | None = None, title: str = "") -> xr.Dataset:
    """Build a Dataset that records the jaxqp version and the configuration."""
    ds = xr.Dataset(data_vars=data_vars, coords=coords)
    ds.attrs["title"] = title
    ds.attrs["jaxqp_version"] = __version__
    if config is not None:
        ds.attrs["config"] = json.dumps(config, sort_keys=True, default=float)
    return ds


def save(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a dataset to netCDF4 (h5netcdf), atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    ds.to_netcdf(tmp, engine="h5netcdf")
    os.replace(tmp, path)
    return path


def load(path: str | os.PathLike) -> xr.Dataset:
    """Open a dataset written by `save` (loaded into memory)."""
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()
