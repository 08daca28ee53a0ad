r"""Example data to try the fits on: small synthetic measurements shipped with the package.

Each data set is a labelled CSV file (units in the header, a standard-deviation column), generated
from known parameters with seeded Gaussian noise, so that a fit can be checked against the truth:

- ``nis_curve``: NIS tunnel conductance at 401 biases (``bias [mV]``), made by an independent
  NumPy code (Dynes-BCS DOS, thermal smearing of the normal electrode);
- ``spin_split_map``: spin-split NIS conductance on 7 fields x 201 biases (``field [T]``,
  ``bias [mV]``; seed 000 Fig. 2a), made by `jaxqp.inference.models.SpinSplitNIS`;
- ``nonlocal_map``: non-local conductance g_nl on 41 injector x 3 detector biases
  (``bias_inj [mV]``, ``bias_det [mV]``; seed 001), made by
  `jaxqp.inference.models.NonlocalConductanceMap`.

```python
from jaxqp.inference import datasets, models

m = datasets.load("nis_curve")                 # a jaxqp.inference.data.Measurement, SI units
info = datasets.info("nis_curve")              # model, true parameters (with units), noise, how it was made
res = models.fit_data(models.NISConductance(), m, {"delta": {"start": 0.25, "unit": "meV"}, "T": 0.1})
```

`path` gives the file (to copy it, or to name it in a ``jaxqp fit`` configuration: there
``dataset = "nis_curve"`` in ``[data]`` does the same).  `generate` rewrites a file from its
recipe; the shipped files are its output.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from ..units import KB_UEV_PER_K
from .data import Measurement
from .data import load as _load_file

HERE = Path(__file__).resolve().parent / "example_data"


@dataclasses.dataclass(frozen=True)
class Dataset:
    """Description of a shipped data set: its file, the model that describes it and the truth."""

    name: str
    file: str
    description: str
    model: str  #: name in `jaxqp.inference.models.MODELS`
    truth: dict  #: parameter -> (value, unit)
    noise: str
    generator: str
    seed: int


DATASETS: dict[str, Dataset] = {
    d.name: d for d in (
        Dataset("nis_curve", "nis_curve.csv",
                "NIS tunnel conductance dI/dV of a normal-metal / insulator / Dynes superconductor junction, "
                "401 biases in [-0.6, 0.6] mV",
                "nis", {"delta": (220.0, "ueV"), "gamma": (1.5, "ueV"), "T": (0.15, "K"), "G_N": (20e-6, "S")},
                "Gaussian, sd 1 % of G_N (the dG column)",
                "NumPy: G_N int dE Re[(E + i gamma)/sqrt((E + i gamma)^2 - delta^2)] (-df/dE)(E - eV) on a "
                "0.05 ueV grid (independent of jaxqp)", 1),
        Dataset("spin_split_map", "spin_split_map.csv",
                "spin-split NIS conductance in an in-plane field (Zeeman splitting, orbital depairing, spin-orbit "
                "scattering), 7 fields in [0, 1.5] T x 201 biases in [-0.5, 0.5] mV (seed 000 Fig. 2a)",
                "spin_split_nis", {"delta": (190.0, "ueV"), "gamma": (1.0, "ueV"), "T": (0.1, "K"),
                                   "G_N": (10e-6, "S"), "R_orb": (8.0, "ueV/T^2"), "b_so": (0.03, ""),
                                   "g_factor": (2.0, "")},
                "Gaussian, sd 1 % of G_N (the dG column)", "jaxqp.inference.models.SpinSplitNIS (1001 energies)", 2),
        Dataset("nonlocal_map", "nonlocal_map.csv",
                "non-local conductance g_nl = dI_det/dV_inj of the seed 001 wire (junction pair A, B), 41 injector x "
                "3 detector biases; with normal-metal contacts g_nl does not depend on the detector bias",
                "nonlocal_map", {"gamma": (0.02, ""), "b_so": (0.02, ""), "h": (25.0, "ueV"), "P_det": (0.15, "")},
                "Gaussian, sd 2 % of max |g_nl| (the dg_nl column)",
                "jaxqp.inference.models.NonlocalConductanceMap (the other parameters at their defaults)", 3),
    )
}


def _get(name: str) -> Dataset:
    if name not in DATASETS:
        raise ValueError(f"no data set {name!r}; the shipped ones are {sorted(DATASETS)}")
    return DATASETS[name]


def names() -> tuple[str, ...]:
    """The shipped data sets."""
    return tuple(DATASETS)


def path(name: str) -> Path:
    """The CSV file of data set ``name``."""
    return HERE / _get(name).file


def info(name: str) -> dict:
    """Model, true parameters ``{name: (value, unit)}``, noise, description and generator of a data set."""
    return dataclasses.asdict(_get(name))


def load(name: str) -> Measurement:
    """Data set ``name`` as a `jaxqp.inference.data.Measurement` (SI units, ``sigma`` from its column)."""
    return _load_file(path(name))


# --------------------------------------------------------------------------- recipes
def numpy_nis_conductance(V_uV, delta, gamma, T, G_N, spacing=0.25):
    """dI/dV (S) of N-I-S, energies in ueV, T in K: a plain NumPy quadrature, independent of jaxqp's
    solvers (the closed-form Dynes-BCS DOS times the Fermi-function derivative of the normal electrode
    on a uniform grid of ``spacing`` ueV).  It makes ``nis_curve`` and is the scipy baseline of
    ``benchmarks/bench_fit_nis.py``."""
    kT = KB_UEV_PER_K * T
    vmax = np.max(np.abs(V_uV))
    E = np.arange(-vmax - 40 * kT, vmax + 40 * kT + spacing, spacing)
    z = E + 1j * gamma
    N = np.abs(np.real(z / np.sqrt(z * z - delta**2 + 0j)))
    x = (E[None, :] - V_uV[:, None]) / (2 * kT)
    kernel = 0.25 / kT / np.cosh(np.clip(x, -300, 300)) ** 2
    return G_N * np.trapezoid(N[None, :] * kernel, E, axis=-1)


def _truth(d: Dataset) -> dict:
    return {k: v for k, (v, _) in d.truth.items()}


def _rows(name: str):
    """(header, rows) of a data set's CSV: coordinates in mV/T, values and sd in uS."""
    d = _get(name)
    rng = np.random.default_rng(d.seed)
    p = _truth(d)
    if name == "nis_curve":
        V = np.linspace(-600.0, 600.0, 401)  # uV
        G = numpy_nis_conductance(V, p["delta"], p["gamma"], p["T"], p["G_N"], spacing=0.05)
        sd = 0.01 * p["G_N"]
        y = G + sd * rng.standard_normal(G.shape)
        return "bias [mV], G [uS], dG [uS]", np.column_stack([V * 1e-3, y * 1e6, np.full_like(V, sd * 1e6)])
    import jax.numpy as jnp

    from .models import NonlocalConductanceMap, SpinSplitNIS

    if name == "spin_split_map":
        B = np.linspace(0.0, 1.5, 7)
        V = np.linspace(-500e-6, 500e-6, 201)
        G = np.asarray(SpinSplitNIS()({"field": jnp.asarray(B)[:, None], "bias": jnp.asarray(V)[None, :]}, **p))
        sd = 0.01 * p["G_N"]
        y = G + sd * rng.standard_normal(G.shape)
        BB, VV = np.meshgrid(B, V, indexing="ij")
        return "field [T], bias [mV], G [uS], dG [uS]", np.column_stack(
            [BB.ravel(), VV.ravel() * 1e3, y.ravel() * 1e6, np.full(y.size, sd * 1e6)])
    model = NonlocalConductanceMap()
    params = {k: q.value for k, q in model.parameters().items()} | p
    vi = np.linspace(-600e-6, 600e-6, 41)
    vd = np.array([-200e-6, 0.0, 200e-6])
    g = np.asarray(model({"bias_inj": jnp.asarray(vi)[:, None], "bias_det": jnp.asarray(vd)[None, :]}, **params))
    sd = 0.02 * float(np.max(np.abs(g)))
    y = g + sd * rng.standard_normal(g.shape)
    II, DD = np.meshgrid(vi, vd, indexing="ij")
    return "bias_inj [mV], bias_det [mV], g_nl [uS], dg_nl [uS]", np.column_stack(
        [II.ravel() * 1e3, DD.ravel() * 1e3, y.ravel() * 1e6, np.full(y.size, sd * 1e6)])


def generate(name: str, folder: str | Path | None = None) -> Path:
    """Write data set ``name`` from its recipe (seeded: the same bytes every time) to ``folder``
    (default: the package's own copy); returns the file."""
    header, rows = _rows(name)
    out = (Path(folder) if folder is not None else HERE) / _get(name).file
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savetxt(out, rows, delimiter=", ", header=header, comments="", fmt="%.10g")
    return out
