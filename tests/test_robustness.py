"""Bad input is caught before any computation, with a message that says what to change."""

import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from typer.testing import CliRunner

import jaxqp as qp
from jaxqp.app import runconfig, runner
from jaxqp.app.cli import app
from jaxqp.app.runconfig import ConfigError

cli = CliRunner()

GOOD = {
    "task": "junction",
    "units": {"delta0": "200 ueV"},
    "left": {"kind": "normal", "temperature": "60 mK"},
    "right": {"kind": "superconductor", "temperature": "60 mK", "gamma": "1e-3 Delta0"},
    "barrier": {"polarization": 0.1},
    "grid": {"bias": {"start": "-0.5 mV", "stop": "0.5 mV", "num": 101}, "n_energy": 1001},
    "sweep": {"right.field": {"start": "0 T", "stop": "1 T", "num": 3}},
}


def _with(path: str, value):
    """GOOD with one entry replaced (``value=None`` deletes it); ``path`` like ``"right.temperature"``."""
    import copy

    cfg = copy.deepcopy(GOOD)
    *head, last = path.split("/")
    t = cfg
    for k in head:
        t = t.setdefault(k, {})
    if value is None:
        t.pop(last, None)
    else:
        t[last] = value
    return cfg


def test_the_good_configuration_validates():
    c = runconfig.from_dict(GOOD)
    assert c.shape == (3,) and c.inner_reduced.size == 101
    np.testing.assert_allclose(c.inner_reduced[[0, -1]], [-2.5, 2.5])
    np.testing.assert_allclose(c.sections["left"]["params"]["temperature"], 60e-3 * 86.17333262 / 200)


BAD = {
    "unknown top-level key": (_with("colour", 1), "unknown key 'colour'"),
    "misspelt key, with a suggestion": (_with("right/temprature", "1 K"), "did you mean 'temperature'"),
    "unknown task": (_with("task", "junktion"), "did you mean 'junction'"),
    "missing unit": (_with("right/temperature", 0.06), "has no unit"),
    "wrong unit": (_with("right/temperature", "60 mV"), "is a temperature"),
    "unknown unit": (_with("right/gamma", "3 furlongs"), "unknown unit"),
    "unreadable quantity": (_with("right/temperature", "sixty mK"), "cannot read"),
    "NaN": (_with("right/gamma", float("nan")), "not a finite number"),
    "inf in a string": (_with("left/temperature", "inf K"), "not a finite number"),
    "negative temperature": (_with("left/temperature", "-10 mK"), "left.temperature = '-10 mK' is unphysical"),
    "negative swept temperature": (_with("sweep/left.temperature", ["-10 mK", "0.1 K"]) | {
        "left": {"kind": "normal"}}, "sweep.left.temperature = -0.01 K is unphysical"),
    "a base value that is also swept": (_with("right/field", "0.5 T"), "'right.field' is swept, and [right] also"),
    "polarization above 1": (_with("barrier/polarization", 1.5), "polarization = 1.5 is unphysical: it must be <= 1"),
    "negative broadening": (_with("right/gamma", "-1 ueV"), "unphysical"),
    "empty range": (_with("sweep/right.field", {"start": "0 T", "stop": "1 T", "num": 0}), "empty grid"),
    "empty list": (_with("sweep/right.field", []), "empty"),
    "sweep of a non-parameter": (_with("sweep/right.colour", ["1 T"]), "not a parameter"),
    "field and h": ({**GOOD, "right": {**GOOD["right"], "field": "1 T", "h": "1 ueV"}}, "not both"),
    "no reference gap": (_with("units", {}), "reference gap"),
    "missing grid": (_with("grid/bias", None), "[grid] needs bias"),
    "grid too coarse for the broadening": (
        _with("grid/bias", {"start": "-0.5 mV", "stop": "0.5 mV", "num": 5}), "too coarse"),
    "absurd number of points": (_with("grid/bias", {"start": "-1 mV", "stop": "1 mV", "num": 10**10}),
                                "absurdly large"),
    "absurd energy grid": (_with("grid/n_energy", 10**8), "absurdly large"),
    "bad kind": (_with("left/kind", "ferromagnet"), "use one of ['superconductor', 'normal']"),
    "normal metal has no gap": (_with("left/gamma", "1 ueV"),
                                "gamma belongs to kind = 'superconductor', and [left] is kind = 'normal'"),
    "bad output format": (_with("output/format", "hdf4"), "use \"netcdf\" or \"zarr\""),
    "bad memory": (_with("output/memory", "lots"), "a size such as"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_configurations_are_rejected_with_the_reason(case):
    cfg, msg = BAD[case]
    with pytest.raises(ConfigError) as e:
        runconfig.from_dict(cfg)
    assert msg in str(e.value), (case, str(e.value))


def test_every_problem_is_reported_at_once():
    cfg = _with("left/temperature", "-1 K")
    cfg["right"]["gamma"] = "1 mK"
    cfg["barrier"]["polarization"] = 2.0
    with pytest.raises(ConfigError) as e:
        runconfig.from_dict(cfg)
    lines = str(e.value).splitlines()
    assert len(lines) == 3 and any("left.temperature" in x for x in lines) and any("gamma" in x for x in lines)


def test_malformed_toml_and_missing_file_exit_with_code_2(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('task = "dos"\n[material\ndelta0 = "1 meV"\n')
    r = cli.invoke(app, ["run", str(bad)])
    assert r.exit_code == 2 and "not valid TOML" in r.output
    r = cli.invoke(app, ["run", str(tmp_path / "missing.toml")])
    assert r.exit_code == 2 and "no configuration file" in r.output


def _dos_toml(path, n_energy: int, sweep: str):
    """A DOS-task configuration file (Delta0 = 200 ueV, Dynes 1e-2) with ``sweep`` under [sweep.material]."""
    path.write_text('task = "dos"\n[material]\ndelta0 = "200 ueV"\ngamma = "1e-2 Delta0"\n[grid]\n'
                    f'energy = {{ start = "-1 meV", stop = "1 meV", num = {n_energy} }}\n[sweep.material]\n' + sweep)
    return path


def test_sizes_that_would_exhaust_memory_are_refused_before_allocation(tmp_path):
    """A point needing more working memory than the device has, or a result larger than the host memory,
    fails in the planning step (milliseconds), not in an allocation."""
    big_point = runconfig.from_dict(_with("grid/n_energy", 900_000) | {
        "grid": {"bias": {"start": "-0.5 mV", "stop": "0.5 mV", "num": 200_000}, "n_energy": 900_000}})
    t0 = time.perf_counter()
    with pytest.raises(ConfigError, match="GiB of working memory"):
        runner.plan(big_point, memory=8 * 2**30)
    big = _with("sweep/right.temperature", {"start": "10 mK", "stop": "1 K", "num": 10**7})
    del big["right"]["temperature"]
    big_sweep = runconfig.from_dict(big)
    with pytest.raises(ConfigError, match="the result would take"):
        runner.plan(big_sweep)
    assert time.perf_counter() - t0 < 5.0
    # the command line says the same with exit code 2, and --check computes nothing
    p = _dos_toml(tmp_path / "big.toml", 4000, 'field = { start = "0 T", stop = "1 T", num = 10000 }\n'
                  'temperature = { start = "10 mK", stop = "1 K", num = 10000 }\n')
    r = cli.invoke(app, ["run", str(p), "--check"])
    assert r.exit_code == 2 and "the result would take" in r.output
    assert not (tmp_path / "big-run").exists()


def test_check_prints_the_plan_and_writes_nothing(tmp_path):
    p = _dos_toml(tmp_path / "ok.toml", 2001,
                  'field = { start = "0 T", stop = "1 T", num = 64 }\n[output]\nchunk = 16\n')
    r = cli.invoke(app, ["run", str(p), "--check"])
    assert r.exit_code == 0 and "64 sweep points in 4 chunks of 16" in r.output and "note:" not in r.output
    # the default output folder is named after the file, and nothing was written to it
    assert runconfig.load(p).out_dir == tmp_path / "ok-run" and not (tmp_path / "ok-run").exists()
    with pytest.raises(FileNotFoundError, match="ok-run does not exist: `jaxqp run CONFIG.toml` writes"):
        runner.open_result(tmp_path / "ok-run")


def test_check_notes_a_superconductor_above_tc_or_beyond_the_clogston_limit(tmp_path):
    """Delta0 = 200 ueV: Tc = 1.32 K and h_c = Delta0/sqrt(2) = 141 ueV, i.e. 2.44 T at g = 2."""
    p = _dos_toml(tmp_path / "hot.toml", 401, 'field = { start = "0 T", stop = "3 T", num = 4 }\n'
                  'temperature = ["0.1 K", "1 K", "1.5 K"]\n')
    r = cli.invoke(app, ["run", str(p), "--check"])
    assert r.exit_code == 0
    notes = [x for x in r.output.splitlines() if x.startswith("note:")]
    assert len(notes) == 2, r.output
    assert "1 of 3 temperatures above Tc = 1.32 K" in notes[0]
    assert "1 of 4 fields beyond the Clogston-Chandrasekhar limit" in notes[1] and "141.4 ueV" in notes[1]


def test_library_rejects_nan_inf_and_inconsistent_shapes():
    with pytest.raises(ValueError, match="finite"):
        qp.Superconductor(delta=1.0, h=float("nan"))
    with pytest.raises(ValueError, match=">= 0"):
        qp.NormalMetal(temperature=-0.1)
    with pytest.raises(ValueError, match="finite"):
        qp.tunnel_current(qp.NormalMetal(temperature=0.1), qp.Superconductor(temperature=0.1),
                          jnp.array([0.0, jnp.inf]))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        qp.tunnel_current(qp.NormalMetal(temperature=jnp.ones(3) * 0.1), qp.Superconductor(temperature=0.1),
                          jnp.zeros(4))
    with pytest.raises(ValueError, match="polarization"):
        qp.tunnel_current(qp.NormalMetal(temperature=0.1), qp.Superconductor(temperature=0.1), 0.5,
                          polarization=2.0)
    sc = qp.Superconductor()
    for kw, msg in (({"length": -1.0}, "length must be a finite number > 0"),
                    ({"length": 0.0}, "length must be a finite number > 0"),
                    ({"length": float("nan")}, "length must be a finite number > 0"),
                    ({"length": 10.0, "n_x": 2}, "n_x must be >= 3"),
                    ({"length": 10.0, "growth": -0.1}, "growth must be >= 0")):
        with pytest.raises(ValueError, match=msg):
            qp.Wire(sc, **kw)
    with pytest.raises(ValueError, match="length must be a finite number > 0"):
        qp.Segment(sc, float("inf"))


def test_wire_configurations_are_checked():
    wire = {"task": "wire", "units": {"delta0": "265 ueV", "xi": "65 nm"},
            "material": {"temperature": "24 mK", "gamma": "1.5e-3 Delta0"},
            "wire": {"length": "11 um", "resistance_xi": "8.57 Ohm"},
            "injector": {"position": "5.5 um", "conductance": "24.6 uS"},
            "detector": {"position": "5.8 um", "kappa": 2e-4},
            "grid": {"V_inj": {"start": "-3 Delta0", "stop": "3 Delta0", "num": 301}}}
    c = runconfig.from_dict(wire)
    np.testing.assert_allclose(c.sections["injector"]["params"]["position"], 5500 / 65)
    cases = {
        "outside": ({**wire, "detector": {"position": "12 um", "kappa": 2e-4}}, "outside the wire"),
        "no R_xi": ({**wire, "wire": {"length": "11 um"}}, "needs wire.resistance_xi"),
        "both": ({**wire, "detector": {"position": "5.8 um", "kappa": 2e-4, "conductance": "1 uS"}},
                 "exactly one"),
        "no xi": ({**wire, "units": {"delta0": "265 ueV"}}, "coherence length"),
        "same place": ({**wire, "detector": {"position": "5.5 um", "kappa": 2e-4}}, "same position"),
        "position swept and given": ({**wire, "sweep": {"injector.position": ["1 um", "2 um"]}},
                                     "also gives position"),
        "resistance not sweepable": ({**wire, "sweep": {"wire.resistance_xi": ["1 Ohm", "2 Ohm"]}},
                                     "cannot be swept"),
    }
    for name, (cfg, msg) in cases.items():
        with pytest.raises(ConfigError) as e:
            runconfig.from_dict(cfg)
        assert msg in str(e.value), (name, str(e.value))


def test_parameters_are_traced_leaves_so_new_values_reuse_the_compiled_solver():
    """Every parameter object keeps its numbers as array leaves, also when given as Python floats or lists
    (a Python number would be a static leaf of a filtered jit and compile the solver again for every
    value: a barrier-conductance scan did); a new barrier conductance reuses the compiled proximity solve."""
    from jax._src import monitoring

    objs = [qp.TunnelContact(1.0, 0.3, qp.NormalMetal(bias=0.1, temperature=0.1), polarization=0.2),
            qp.Superconductor(delta=1.0, gamma=0.01, temperature=0.1), qp.SpinActive(0.5, (1, 0, 0)),
            qp.Reservoir(bias=0.5, temperature=0.1), qp.Interface(2.0), qp.RelaxationTime(0.1, temperature=0.2),
            qp.Segment(qp.Superconductor(), 1.0, n_x=3, exchange=[[0.0, 0.0, 0.1]] * 3),
            qp.ElectronPhonon(0.1, temperature=0.1), qp.GapEquation(coupling=0.2),
            qp.Wire(qp.Superconductor(), 3.0, (), temperature=0.1, ends=(qp.Reservoir(0.1, 0.2), "vacuum"))]
    for o in objs:
        bad = [x for x in jax.tree.leaves(o) if isinstance(x, (int, float)) and not isinstance(x, bool)]
        assert not bad, (type(o).__name__, bad)
    compiles = []
    monitoring.register_event_duration_secs_listener(
        lambda event, duration, **kw: compiles.append(event) if "backend_compile" in event else None)
    E = jnp.array([0.2, 0.5])
    chain = lambda G: qp.Chain((qp.Segment(qp.Superconductor(delta=1.0), 0.5, n_x=4),  # noqa: E731
                                qp.Segment(qp.Superconductor(delta=0.0, gamma=1e-2), 1.0, n_x=4)), (G,),
                               ends=("reservoir", "vacuum"))
    qp.solve_proximity(chain(1.0), E)
    n = len(compiles)
    for G in (2.0, 5.0, 0.3):
        qp.solve_proximity(chain(G), E)
    assert len(compiles) == n, compiles[n:]
