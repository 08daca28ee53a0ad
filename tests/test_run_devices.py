"""``jaxqp run`` tasks for the proximity and spin-general solvers, each against its Python API (the inelastic task
is tested with the gap map in test_inelastic.py, where the reference program is compiled anyway)."""

import tomllib

import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp.app import runconfig, runner
from jaxqp.app.tasks import matsubara_count
from jaxqp.devices import spin_supercurrent as ssc
from jaxqp.spectral.spin import SpinDistribution, observables, solve_spin

PROXIMITY = """
task = "proximity"
[units]
delta0 = "200 ueV"
[left]
gamma = "0.02 Delta0"
self_consistent = false
[right]
gamma = "0.02 Delta0"
self_consistent = false
length = "1.5 xi"
[link]
length = "1 xi"
n_x = 9
temperature = "0.1 Delta0"
gamma = "0.02 Delta0"
interface = 3.0
[grid]
energy = { start = "0 Delta0", stop = "2 Delta0", num = 41 }
[sweep]
"right.phase" = [-1.5707963267948966, 0.0, 1.5707963267948966, 3.141592653589793]
"""

SPIN = """
task = "spin"
[units]
delta0 = "200 ueV"
[material]
temperature = "0.05 Tc"
gamma = "0.01 Delta0"
self_consistent = false
[wire]
length = "1.5 xi"
n_x = 9
[left]
kind = "spin_active"
spin_mixing = 0.6
theta = 90
[right]
kind = "spin_active"
spin_mixing = 0.6
theta = 90
phi = 90
[distribution]
theta = 90
[grid]
energy = { start = "0 Delta0", stop = "2 Delta0", num = 81 }
n_energy = 160
[sweep]
"distribution.spin_voltage" = ["0 Delta0", "0.3 Delta0"]
"""

INELASTIC = """
task = "inelastic"
[units]
delta0 = "265 ueV"
[material]
temperature = "0.01 Delta0"
gamma = "2e-2 Delta0"
[wire]
length = "12 xi"
n_x = 16
[injector]
position = "5 xi"
kappa = 0.2
temperature = "0.02 Delta0"
[detector]
position = "7 xi"
kappa = 0.2
[collisions]
cutoff = "5 Delta0"
spacing = "0.1 Delta0"
rate_ee = "1e-3 Delta0"
[grid]
V_inj = { start = "0 Delta0", stop = "1.8 Delta0", num = 4 }
V_det = ["0 Delta0", "0.5 Delta0"]
"""


def _run(tmp_path, name, text):
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    ds, _ = runner.run(runconfig.load(path))
    return ds


def test_proximity_task_equals_the_chain_api_and_the_current_is_odd_in_the_phase(tmp_path):
    """An S-I-N-I-S junction from the configuration: the DOS along the chain and the Josephson current equal
    solve_proximity and josephson_current on the hand-built chain; I(-phi) = -I(phi), I(pi) = 0, the link
    has a minigap at phi = 0 that closes at phi = pi."""
    ds = _run(tmp_path, "sns", PROXIMITY)
    assert ds.N.dims == ("phase", "energy", "node") and np.all(ds.status.values == 0)
    assert ds.x.isel(phase=0).values[-1] == pytest.approx(2.0 + 1.0 + 1.5)
    I = ds.supercurrent.values
    assert I[2] > 1e-3 and abs(I[0] + I[2]) < 1e-10 * I[2] and abs(I[1]) < 1e-12 and abs(I[3]) < 1e-8 * I[2]
    T = 0.1
    E = ds.energy_reduced.values
    for phase in (0.0, np.pi / 2):
        lead = lambda L, n, ph: qp.Segment(qp.Superconductor(delta=1.0, gamma=0.02), L, n_x=n, phase=ph)  # noqa: E731
        chain = qp.Chain((lead(2.0, 11, 0.0), qp.Segment(qp.Superconductor(delta=0.0, gamma=0.02), 1.0, n_x=9),
                          lead(1.5, 11, phase)), (qp.Interface(3.0),) * 2, temperature=T)
        sol = qp.solve_proximity(chain, E)
        row = ds.sel(phase=phase, method="nearest")
        np.testing.assert_allclose(row.N_up.values, np.asarray(sol.dos[..., 0]), atol=1e-10)
        jc = qp.josephson_current(chain, n_matsubara=matsubara_count(runconfig.load(tmp_path / "sns.toml")))
        assert float(row.supercurrent) == pytest.approx(float(jc.current), abs=1e-12)
    mid = ds.N.isel(node=11 + 4)  # the centre of the link
    assert float(mid.sel(phase=0.0).isel(energy=0)) < 0.2 < float(mid.isel(phase=-1).isel(energy=0))


def test_spin_task_equals_the_spin_api(tmp_path):
    """FI/S/FI (seed 003 geometry, Delta fixed): the DOS, the spin currents and the spin accumulation
    equal solve_spin and spin.observables on the hand-built wire; the equilibrium spin current is
    polarised along m1 x m2 = z; the charge current vanishes."""
    ds = _run(tmp_path, "fisfi", SPIN)
    assert np.all(ds.status.values == 0)
    T = 0.05 * qp.selfconsistency.TC0
    dev = ssc.device(1.5, 0.6, ((1.0, 0, 0), (0, 1.0, 0)), n_x=9, gamma=0.01)
    E = ds.energy_reduced.values
    np.testing.assert_allclose(ds.N.isel(spin_voltage=0).values, np.asarray(solve_spin(dev, E).dos()), atol=1e-10)
    for Vs in (0.0, 0.3):
        grid = ssc.energy_grid(Vs, T, n=160, gamma=0.01, gap=1.0)
        sol = solve_spin(dev, grid.points)
        ob = observables(sol, SpinDistribution(T, Vs, (1.0, 0.0, 0.0)), grid.weights)
        row = ds.isel(spin_voltage=int(Vs > 0))
        J = np.mean(np.asarray(ob.current), 0)
        np.testing.assert_allclose([float(row[k]) for k in ("J_charge", "J_x", "J_y", "J_z")], J, atol=1e-10)
        np.testing.assert_allclose(row.mu_y.values, np.asarray(ob.spin_accumulation[:, 1]), atol=1e-10)
    assert float(ds.J_z.isel(spin_voltage=0)) > 1e-3
    assert np.max(np.abs(ds[["J_charge", "J_x"]].isel(spin_voltage=0).to_array().values)) < 1e-10
    # injection along x, perpendicular to the equilibrium current: a y component appears (seed 003 Eq. (7))
    assert abs(float(ds.J_y.isel(spin_voltage=1))) > 1e-3


@pytest.mark.optimised  # 25 s optimised (level 1), 38 s without (alone)
def test_spin_supercurrent_task_follows_the_branch_like_the_python_sweep(tmp_path):
    """Seed 003 Fig. 2 from a configuration: the spin-voltage axis is followed with continuation inside one
    program and equals devices.spin_supercurrent.sweep_spin_voltage point by point."""
    text = SPIN.replace('task = "spin"', 'task = "spin_supercurrent"').replace("0.05 Tc", "0.1 Tc").replace(
        'energy = { start = "0 Delta0", stop = "2 Delta0", num = 81 }',
        'spin_voltage = { start = "0 Delta0", stop = "0.6 Delta0", num = 3 }').replace(
        'self_consistent = false\n', "").split("[sweep]")[0]
    ds = _run(tmp_path, "seed003", text)
    assert ds.J_y.dims == ("spin_voltage",) and int(ds.status) == 0
    dev = ssc.device(1.5, 0.6, ((1.0, 0, 0), (0, 1.0, 0)), n_x=9, gamma=0.01)
    ref = ssc.sweep_spin_voltage(dev, [0.0, 0.3, 0.6], axis=(1.0, 0.0, 0.0), temperature=0.1 * qp.selfconsistency.TC0,
                                 n_energy=160)
    np.testing.assert_allclose(np.stack([ds.J_x, ds.J_y, ds.J_z], -1), ref.spin_current, atol=1e-7)
    np.testing.assert_allclose(ds.delta_mean.values, ref.delta_mean, atol=1e-7)
    np.testing.assert_allclose(ds.normal_gain.values, ref.normal_gain, rtol=1e-8)
    np.testing.assert_array_equal(ds.sc_exists.values.astype(bool), ref.sc_exists)
    assert abs(float(ds.J_y[1])) > 1e-3 > abs(float(ds.J_y[0]))


def test_device_task_configurations_are_checked():
    """The new sections are validated like the others: a key of another end kind names the kind, a spin
    task at T = 0 is refused, the detector biases take units, the link's shape parameters sweep."""
    raw = tomllib.loads(SPIN)
    raw["left"].pop("kind")
    with pytest.raises(runconfig.ConfigError, match='spin_mixing belongs to kind = .spin_active.'):
        runconfig.from_dict(raw)
    raw = tomllib.loads(SPIN)
    raw["material"]["temperature"] = "0 K"
    with pytest.raises(runconfig.ConfigError, match="reaches 0"):
        runconfig.from_dict(raw)
    raw = dict(tomllib.loads(SPIN), task="spin_supercurrent", units={"delta0": "180 ueV"})
    raw["grid"] = {"spin_voltage": ["0 Delta0"]}
    raw["material"]["delta0"] = "200 ueV"
    with pytest.raises(runconfig.ConfigError, match="bulk gap at T = 0 is the reference"):
        runconfig.from_dict(raw)
    raw = tomllib.loads(INELASTIC)
    raw["grid"]["V_det"] = ["0.1 T"]
    with pytest.raises(runconfig.ConfigError, match="grid.V_det"):
        runconfig.from_dict(raw)
    raw["grid"]["V_det"] = ["10 uV", "20 uV"]
    cfg = runconfig.from_dict(raw)
    np.testing.assert_allclose(cfg.extra["V_det"][2], [10 / 265, 20 / 265], rtol=1e-12)
    raw = tomllib.loads(INELASTIC)
    raw["collisions"]["modes"] = "some"
    with pytest.raises(runconfig.ConfigError, match="collisions.modes"):
        runconfig.from_dict(raw)
    raw = tomllib.loads(PROXIMITY)
    raw["link"]["temperature"] = "0 K"  # the Matsubara sum of the Josephson current needs T > 0
    with pytest.raises(runconfig.ConfigError, match="link.temperature = '0 K' is unphysical"):
        runconfig.from_dict(raw)
    raw["link"].pop("temperature")
    with pytest.raises(runconfig.ConfigError, match="link.temperature is required"):
        runconfig.from_dict(raw)
    raw = tomllib.loads(PROXIMITY)
    raw["sweep"]["link.length"] = ["1 xi", "2 xi"]
    with pytest.raises(runconfig.ConfigError, match="also gives length"):
        runconfig.from_dict(raw)
    raw["link"].pop("length")
    cfg = runconfig.from_dict(raw)
    assert [a.key for a in cfg.static_axes] == ["link.length"] and len(cfg.static_runs) == 2
    with pytest.raises(runconfig.ConfigError, match=r"\[barrier\] is not part of task 'proximity'"):
        runconfig.from_dict(dict(tomllib.loads(PROXIMITY), barrier={}))
    assert jnp.shape(qp.SpinActive(0.5, (0.0, 0.0, 2.0)).magnetization) == (3,)
