"""``jaxqp run CONFIG``: sweeps from TOML in physical units, labelled results, resume after a kill, many hosts."""

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import tomllib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
from typer.testing import CliRunner

import jaxqp as qp
from jaxqp.app import runconfig, runner
from jaxqp.app.cli import app

KB_UEV = 86.17333262  # ueV / K
MUB_UEV = 57.883818060  # ueV / T
cli = CliRunner()

DOS = """
task = "dos"
[material]
delta0 = "180 ueV"
temperature = "300 mK"
gamma = "2e-2 Delta0"
[grid]
energy = { start = "-360 ueV", stop = "360 ueV", num = 161 }
[sweep.material]
field = { start = "0 T", stop = "1.2 T", num = 5 }
[output]
dir = "dos"
chunk = 2
"""

JUNCTION = """
task = "junction"
[units]
Tc = "1.2 K"
[left]
kind = "normal"
temperature = "100 mK"
[right]
temperature = "100 mK"
gamma = "1e-3 Delta0"
[barrier]
conductance = "25 uS"
polarization = 0.2
[grid]
bias = { start = "-2 Delta0", stop = "2 Delta0", num = 41 }
n_energy = 801
[sweep]
"right.field" = { values = [0, 0.5, 1.0], unit = "T" }
[output]
dir = "nis"
"""


def _write(tmp_path, name, text):
    p = tmp_path / f"{name}.toml"
    p.write_text(text)
    return p


def _private_cache_env(tmp_path):
    """The environment for runs in subprocesses with a compilation cache private to the test (the command
    line has one by default): a restarted run loads the programs that a killed one compiled."""
    return dict(os.environ, JAXQP_CACHE="1", JAXQP_CACHE_DIR=str(tmp_path / "xla"))


def _bcs_dynes(E, delta, gamma):
    z = E + 1j * gamma
    return np.abs(np.real(z / np.sqrt(z * z - delta**2 + 0j)))


def test_dos_sweep_units_and_labels(tmp_path):
    """The DOS in physical units: N_up(E) = N_BCS(E + mu_B B) with the self-consistent Delta(T, h); the
    dataset carries SI and reduced coordinates, the configuration and the version."""
    cfg = _write(tmp_path, "dos", DOS)
    r = cli.invoke(app, ["run", str(cfg)])
    assert r.exit_code == 0, r.output
    ds = runner.open_result(tmp_path / "dos")
    assert ds.N_up.dims == ("field", "energy") and ds.field.attrs["units"] == "T"
    assert ds.energy.attrs["units"] == "eV" and ds.energy_reduced.attrs["units"] == "Delta0"
    assert "jaxqp_version" in ds.attrs and "temperature" in ds.attrs["config"]
    assert np.all(ds.status.values == 0) and ds.status.attrs["flag_meanings"].startswith("ok")
    E = ds.energy.values * 1e6 / 180.0
    np.testing.assert_allclose(ds.energy_reduced.values, E, rtol=1e-12)
    T = 0.3 * KB_UEV / 180.0
    for B in ds.field.values:
        h = MUB_UEV * B / 180.0
        d = float(qp.gap(T, h=h))
        row = ds.sel(field=B)
        assert abs(float(row.delta) - d) < 1e-9
        np.testing.assert_allclose(row.N_up.values, _bcs_dynes(E + h, d, 0.02), atol=1e-8)
        np.testing.assert_allclose(row.N_dn.values, _bcs_dynes(E - h, d, 0.02), atol=1e-8)
    np.testing.assert_allclose(ds.field_reduced.values, MUB_UEV * ds.field.values / 180.0, rtol=1e-9)
    np.testing.assert_allclose(ds.delta_eV.values, ds.delta.values * 180e-6, rtol=1e-12)


def test_depairing_fixed_at_zero_compiles_the_closed_form_spectra(tmp_path):
    """A task's chunk program traces the sweep point's parameters; the depairing rates that the configuration
    neither sets nor sweeps reach the spectra as known zeros, so the program has no bulk Newton loop (only
    the gap equation's), as the API's program for a material with zero rates.  A rate set or swept keeps
    the general spectra (test_dos_sweep_units_and_labels checks the closed-form values)."""
    from jaxqp.app.tasks import TASKS

    def while_loops(text):
        c = runconfig.load(_write(tmp_path, "dos", text))
        p = {k: jnp.asarray(v) for k, v in c.point_params(np.arange(2)).items()}
        return str(jax.make_jaxpr(TASKS[c.task].make(c))(p, jnp.asarray(c.inner_reduced))).count(" while[")

    assert while_loops(DOS) == 1
    assert while_loops(DOS.replace('gamma = "2e-2 Delta0"', 'gamma = "2e-2 Delta0"\nb_so = "5e-2 Delta0"')) > 1
    swept = DOS.replace("field = {", 'b_so = { start = "0 Delta0", stop = "5e-2 Delta0", num = 2 }\nfield = {')
    assert while_loops(swept) > 1


def test_zipped_sweep_is_the_diagonal_of_the_cartesian_one(tmp_path):
    """[sweep.zip.<name>]: parameters that move together along one dimension (a list of points); every
    member is a coordinate on that dimension, and the values equal the diagonal of the Cartesian sweep
    of the same parameters and the closed form; unequal lengths and a parameter swept twice are
    refused; a group named like a parameter leaves the parameter its full name."""
    zipped = DOS.replace('[sweep.material]\nfield = { start = "0 T", stop = "1.2 T", num = 5 }',
                         '[sweep.zip.path]\n"material.field" = ["0 T", "0.6 T", "1.2 T"]\n'
                         '"material.temperature" = ["300 mK", "400 mK", "200 mK"]').replace(
        'temperature = "300 mK"\n', "", 1)
    assert "sweep.zip.path" in zipped and "300 mK\"\n" not in zipped.split("[sweep")[0]
    ds, _ = runner.run(runconfig.from_dict(tomllib.loads(zipped)), out=tmp_path / "zip")
    assert ds.N_up.dims == ("path", "energy") and ds.field.dims == ("path",) and ds.temperature.dims == ("path",)
    cart = zipped.replace("[sweep.zip.path]", "[sweep]")
    full, _ = runner.run(runconfig.from_dict(tomllib.loads(cart)), out=tmp_path / "cart")
    assert full.N_up.dims == ("field", "temperature", "energy")
    E = ds.energy.values * 1e6 / 180.0
    for i in range(3):
        B, T = float(ds.field[i]), float(ds.temperature[i])
        diag = full.N_up.isel(field=i, temperature=i)
        np.testing.assert_array_equal(ds.N_up.isel(path=i).values, diag.values)
        h = MUB_UEV * B / 180.0
        d = float(qp.gap(T * KB_UEV / 180.0, h=h))
        np.testing.assert_allclose(ds.N_up.isel(path=i).values, _bcs_dynes(E + h, d, 0.02), atol=1e-8)
    bad = {
        "equally many": zipped.replace('"1.2 T"]', '"1.2 T", "1.5 T"]'),
        "swept twice": zipped + '\n[sweep.material]\nfield = ["0 T"]\n',
    }
    for msg, text in bad.items():
        with pytest.raises(runconfig.ConfigError, match=msg):
            runconfig.from_dict(tomllib.loads(text))
    named = runconfig.from_dict(tomllib.loads(zipped.replace("[sweep.zip.path]", "[sweep.zip.field]")))
    assert named.dims == ("field",) and [a.name for a in named.axes] == ["material_field", "temperature"]


def test_junction_sweep_equals_the_api_and_converts_currents(tmp_path):
    """Each point of a junction sweep equals qp.junction_response; SI copies use G_T and Delta0 = Tc/0.567."""
    cfg = _write(tmp_path, "nis", JUNCTION)
    c = runconfig.load(cfg)
    ds, path = runner.run(c)
    assert path.name == "result.nc" and ds.conductance.dims == ("field", "bias")
    d0 = 1.2 * KB_UEV / qp.TC0  # ueV
    assert abs(ds.attrs["delta0_ueV"] - d0) < 1e-9 * d0
    T = 0.1 * KB_UEV / d0
    V = np.linspace(-2, 2, 41)
    for B in (0.0, 1.0):
        h = MUB_UEV * B / d0
        d = float(qp.gap(T, h=h))
        ref = qp.junction_response(qp.NormalMetal(temperature=T), qp.Superconductor(delta=d, h=h, gamma=1e-3,
                                   temperature=T), V, polarization=0.2, n_energy=801)
        row = ds.sel(field=B)
        np.testing.assert_allclose(row.current.values, np.asarray(ref["current"].charge), atol=1e-10)
        np.testing.assert_allclose(row.conductance.values, np.asarray(ref["conductance"].charge), atol=1e-9)
        np.testing.assert_allclose(row.spin_current.values, np.asarray(ref["current"].spin), atol=1e-10)
    np.testing.assert_allclose(ds.current_A.values, ds.current.values * 25e-6 * d0 * 1e-6, rtol=1e-12)
    np.testing.assert_allclose(ds.bias.values, V * d0 * 1e-6, rtol=1e-12)
    # at zero field the charge current is odd in V and the spin current vanishes
    I0 = ds.current.sel(field=0.0).values
    np.testing.assert_allclose(I0, -I0[::-1], atol=1e-9)
    assert np.max(np.abs(ds.spin_current.sel(field=0.0).values - 0.2 * I0)) < 1e-9


def test_zarr_output_and_dataset_roundtrip(tmp_path):
    cfg = _write(tmp_path, "dos", DOS.replace('dir = "dos"', 'dir = "dz"\nformat = "zarr"'))
    ds, path = runner.run(runconfig.load(cfg))
    assert path.name == "result.zarr"
    back = runner.open_result(path)
    xr.testing.assert_allclose(back, ds)
    assert back.attrs["config"] == ds.attrs["config"]


_SWEEP = """
task = "junction"
[units]
delta0 = "200 ueV"
[left]
kind = "normal"
temperature = "80 mK"
[right]
temperature = "80 mK"
gamma = "1e-3 Delta0"
[grid]
bias = { start = "-0.4 mV", stop = "0.4 mV", num = 61 }
n_energy = 801
[sweep.right]
field = { start = "0 T", stop = "1.5 T", num = 48 }
[output]
chunk = 1
"""


def test_killed_sweep_resumes_to_the_identical_dataset(tmp_path):
    """SIGKILL a running sweep after a few chunks; a second run into the same folder is refused while it
    runs; the same command then resumes and the result equals an uninterrupted run exactly."""
    cfg = _write(tmp_path, "sweep", _SWEEP)
    env = _private_cache_env(tmp_path)
    cmd = [sys.executable, "-m", "jaxqp.app.cli", "run", str(cfg), "--out", str(tmp_path / "killed")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    chunks = tmp_path / "killed" / "chunks"
    t0 = time.time()
    try:
        while time.time() - t0 < 240:
            if chunks.exists() and len(list(chunks.glob("*.npz"))) >= 3:
                break
            assert proc.poll() is None, proc.stdout.read()
            time.sleep(0.005)
        # a concurrent run into the same folder is refused (exit code 3), the first one keeps running
        r = cli.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "killed")])
        assert r.exit_code == 3 and "another jaxqp run" in r.output, r.output
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    files = sorted(chunks.glob("*.npz"))
    n_before = len(files)
    assert 3 <= n_before < 48 and not (tmp_path / "killed" / "result.nc").exists()
    # a chunk file cut short (as by a full disk) is detected and computed again
    files[1].write_bytes(files[1].read_bytes()[:100])
    n_before -= 1
    # resume in a fresh process with the same command
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "resuming" in res.stderr and f"{n_before}/48" in res.stderr
    resumed = runner.open_result(tmp_path / "killed")
    # reference: uninterrupted, in this process
    full, _ = runner.run(runconfig.load(cfg), out=tmp_path / "full")
    xr.testing.assert_identical(resumed, full)
    # a different configuration is not mixed into the folder
    cfg.write_text(_SWEEP.replace('"80 mK"', '"90 mK"', 1))
    r = cli.invoke(app, ["run", str(cfg), "--out", str(tmp_path / "killed")])
    assert r.exit_code == 2 and "different configuration" in r.output


def test_ten_kills_at_random_points_end_in_the_identical_dataset(tmp_path):
    """SIGKILL the same sweep ten times at random moments (during start-up, compilation, computing or
    writing a chunk); the eleventh run completes it, and the dataset equals an uninterrupted run."""
    cfg = _write(tmp_path, "sweep", _SWEEP.replace("num = 48", "num = 240"))  # a chunk takes milliseconds
    env = _private_cache_env(tmp_path)
    cmd = [sys.executable, "-m", "jaxqp.app.cli", "run", str(cfg), "--out", str(tmp_path / "killed")]
    chunks = tmp_path / "killed" / "chunks"
    rng = np.random.default_rng(7)
    kills, progress = 0, []
    while kills < 10:
        before = len(list(chunks.glob("*.npz"))) if chunks.exists() else 0
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_chunks = int(rng.integers(0, 8))  # 0: kill before the first new chunk, at a random moment
        delay = float(rng.uniform(0.0, 0.01 if wait_chunks else 2.5))
        t0 = time.time()
        try:
            while wait_chunks and time.time() - t0 < 120 and proc.poll() is None:
                if len(list(chunks.glob("*.npz"))) >= before + wait_chunks:
                    break
                time.sleep(0.002)
            time.sleep(delay)
            if proc.poll() is not None:  # finished before the kill: nothing left to interrupt
                break
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            kills += 1
        finally:
            if proc.poll() is None:
                proc.kill()
        progress.append(len(list(chunks.glob("*.npz"))) if chunks.exists() else 0)
    assert kills == 10 and not (tmp_path / "killed" / "result.nc").exists(), progress
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    full, _ = runner.run(runconfig.load(cfg), out=tmp_path / "full")
    xr.testing.assert_identical(runner.open_result(tmp_path / "killed"), full)


def test_two_readers_open_the_result_while_the_run_writes_it(tmp_path):
    """Two readers (threads) open a running sweep's folder over and over with ``partial=True``: every
    snapshot is a whole dataset whose finished points equal the final result and whose other points are
    NaN with status "not_computed_yet"; the run is not disturbed and completes to the same dataset."""
    import threading

    cfg = _write(tmp_path, "sweep", _SWEEP.replace("num = 48", "num = 120"))
    out = tmp_path / "watched"
    cmd = [sys.executable, "-m", "jaxqp.app.cli", "run", str(cfg), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    snapshots, errors = [[], []], []

    def read(k):
        while proc.poll() is None:
            try:
                snapshots[k].append(runner.open_result(out, partial=True))
            except FileNotFoundError:  # no manifest or no finished chunk yet
                pass
            except Exception as e:  # noqa: BLE001 - any other failure is the test's finding
                errors.append(e)
                return
            time.sleep(0.01)

    readers = [threading.Thread(target=read, args=(k,)) for k in (0, 1)]
    for t in readers:
        t.start()
    try:
        assert proc.wait(300) == 0, proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        for t in readers:
            t.join(60)
    assert not errors, errors
    final = runner.open_result(out)
    assert runner.open_result(out, partial=True).identical(final)
    pending = [s for snaps in snapshots for s in snaps if (s.status == 4).any()]
    assert all(len(snaps) > 0 for snaps in snapshots) and pending, [len(x) for x in snapshots]
    for s in pending:
        done = s.status != 4
        assert s.status.attrs["flag_meanings"].split()[4] == "not_computed_yet"
        for name in ("conductance",):
            np.testing.assert_array_equal(s[name].where(done).values, final[name].where(done).values)
            assert bool(s[name].where(~done).isnull().all())


def test_a_full_disk_is_reported_and_loses_no_finished_chunk(tmp_path, monkeypatch):
    """The fifth chunk write fails with ENOSPC: exit code 4 with the reason, the four finished chunks and
    nothing else on disk; once there is room the same command completes to the uninterrupted dataset."""
    import errno

    cfg = _write(tmp_path, "sweep", _SWEEP.replace("num = 48", "num = 8"))
    out = tmp_path / "full_disk"
    real = np.savez
    calls = [0]

    def savez(fh, **arrays):
        calls[0] += 1
        if calls[0] == 5:
            fh.write(b"PK\x03\x04partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fh, **arrays)

    monkeypatch.setattr(runner.np, "savez", savez)
    r = cli.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert r.exit_code == 4, r.output
    assert "No space left on device" in r.output and "4 chunks written so far are kept" in r.output
    assert sorted(p.name for p in (out / "chunks").iterdir()) == [f"{i:06d}.npz" for i in range(4)]
    monkeypatch.setattr(runner.np, "savez", real)
    r = cli.invoke(app, ["run", str(cfg), "--out", str(out)])
    assert r.exit_code == 0, r.output
    full, _ = runner.run(runconfig.load(cfg), out=tmp_path / "reference")
    xr.testing.assert_identical(runner.open_result(out), full)


def test_non_converged_points_are_recorded_not_dropped(tmp_path, monkeypatch):
    """A point whose solve fails keeps its place with status != 0 (here: the gap equation made to fail)."""
    import jaxqp.app.tasks as tasks

    real = tasks.gap_jit
    monkeypatch.setattr(runner, "_COMPILED", {})  # build the chunk function afresh, with the failing gap
    monkeypatch.setattr(tasks, "gap_jit", lambda T, p, debye: jnp.where(p.h > 0.1, jnp.nan, real(T, p, debye)))
    cfg = _write(tmp_path, "dos", DOS)
    ds, _ = runner.run(runconfig.load(cfg), out=tmp_path / "bad")
    h = ds.field_reduced.values
    np.testing.assert_array_equal(ds.status.values, np.where(h > 0.1, 2, 0))
    assert ds.attrs["n_not_ok"] == int(np.sum(h > 0.1)) and ds.field.size == 5
    assert np.all(np.isfinite(ds.N_up.values[h <= 0.1]))


def test_orbital_depairing_from_a_field_in_tesla(tmp_path):
    """``r_orb`` per T^2 with a field in tesla: the task's zeta equals r_orb B^2 / Delta0 for fixed and swept
    fields, computed from the spin splitting h alone (g = 2.5 here, so that g enters)."""
    import jaxqp.app.tasks as tasks

    text = DOS.replace('gamma = "2e-2 Delta0"', 'gamma = "2e-2 Delta0"\ng = 2.5\nr_orb = "30 ueV"')
    c = runconfig.load(_write(tmp_path, "orb", text))
    B = np.linspace(0.0, 1.2, 5)
    h = 2.5 * MUB_UEV * B / 2 / 180.0
    np.testing.assert_allclose(c.axes[0].reduced, h, rtol=1e-12)
    p = {f"material.{k}": jnp.asarray(v) for k, v in c.sections["material"]["params"].items()}
    p["material.h"] = jnp.asarray(h)
    zeta = tasks._sc_arrays(p, "material", c)["zeta"]
    np.testing.assert_allclose(np.asarray(zeta), 30.0 * B ** 2 / 180.0, rtol=1e-12)


MULTIHOST = textwrap.dedent("""
    import os, signal, sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    pid, port, out, cfg_path, die_after = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=2, process_id=pid)
    from jaxqp.app import runconfig, runner
    assert jax.process_count() == 2 and jax.device_count() == 2
    save, written = runner._atomic_savez, []

    def logged(path, arrays):  # record every chunk this process writes; die after `die_after` of them
        save(path, arrays)
        if path.parent.name == "chunks":
            with open(f"{out}.written", "a") as fh:
                fh.write(f"{pid} {path.name}\\n")
            written.append(path.name)
            if len(written) == die_after:
                os.kill(os.getpid(), signal.SIGKILL)

    runner._atomic_savez = logged
    ds, path = runner.run(runconfig.load(cfg_path), out=out)
    print("process", pid, "wrote" if ds is not None else "computed", len(written), "chunks", flush=True)
""")


def _two_processes(tmp_path, script, cfg, env, die_after=(0, 0)):
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = str(s.getsockname()[1])
    return [subprocess.Popen([sys.executable, str(script), str(i), port, str(tmp_path / "mh"), str(cfg),
                              str(die_after[i])], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for i in range(2)]


def test_two_process_run_computes_each_chunk_once_and_survives_a_killed_process(tmp_path, host_devices_env):
    """A single-host simulation of a multi-host run: two processes joined by jax.distributed (one CPU
    device each).  Process 1 is killed after its second chunk (and process 0 with it, as a batch
    system would); both are started again with the same command.  Every chunk is written by exactly
    one process over the two runs (chunk i by process i mod 2), and process 0 writes the dataset of a
    one-process run."""
    cfg = _write(tmp_path, "dos", DOS.replace("num = 5", "num = 12").replace("chunk = 2", "chunk = 1"))
    script = tmp_path / "mh.py"
    script.write_text(MULTIHOST)
    procs = _two_processes(tmp_path, script, cfg, host_devices_env(1), die_after=(0, 2))
    assert procs[1].wait(300) == -signal.SIGKILL
    # process 0 goes on with its own chunks (the even ones), then waits for process 1 at the end: it is
    # killed once it has written them (as a batch system kills the job), or after 10 s at most
    log, own = tmp_path / "mh.written", {f"0 {i:06d}.npz" for i in range(0, 12, 2)}
    t0 = time.time()
    while procs[0].poll() is None and time.time() - t0 < 10:
        if log.exists() and own <= set(log.read_text().splitlines()):
            break
        time.sleep(0.01)
    procs[0].kill()
    for p in procs:
        p.communicate()
    assert not (tmp_path / "mh" / "result.nc").exists()
    procs = _two_processes(tmp_path, script, cfg, host_devices_env(1))
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert "process 0 wrote" in outs[0] and "process 1 computed" in outs[1]
    written = [line.split() for line in (tmp_path / "mh.written").read_text().splitlines()]
    names = [n for _, n in written]
    assert sorted(names) == [f"{i:06d}.npz" for i in range(12)], written  # each chunk once, none missing
    assert all(int(p) == int(n[:6]) % 2 for p, n in written)
    one, _ = runner.run(runconfig.load(cfg), out=tmp_path / "one")
    mh = runner.open_result(tmp_path / "mh")
    xr.testing.assert_allclose(mh, one, rtol=1e-12, atol=1e-14)
    assert mh.attrs == one.attrs and list(mh.data_vars) == list(one.data_vars)
    np.testing.assert_array_equal(mh.status.values, one.status.values)


WIRE = """
task = "wire"
[units]
delta0 = "265 ueV"
xi = "65 nm"
[material]
temperature = "24 mK"
gamma = "1.5e-3 Delta0"
self_consistent = false
[wire]
length = "11 um"
n_x = 120
resistance_xi = "8.57 Ohm"
[injector]
position = "5.5 um"
conductance = "24.6 uS"
temperature = "61 mK"
[detector]
position = "5.8 um"
conductance = "31.4 uS"
temperature = "37 mK"
[grid]
V_inj = { start = "-3 Delta0", stop = "3 Delta0", num = 41 }
n_energy = 801
[sweep]
"wire.phase_gradient" = [0.0, 0.2]
"""


def test_wire_sweep_equals_the_kinetic_api(tmp_path):
    """The seed 001 wire from physical units (um, uS, Ohm, mK): g_nl equals qp.nonlocal_conductance on the
    hand-built wire (kappa = G R_xi, x = position / xi), is even in V_inj without supercurrent and gains
    an odd part with one (seed 001 g_a).  The detector position, a shape parameter, is swept as well: one
    sub-run per value (its own compiled solver, its own resumable chunks), equal to a run at that value
    alone; the non-local signal falls with the distance; a shape parameter in a zip is refused."""
    static = WIRE.replace('position = "5.8 um"\n', "").replace(
        '"wire.phase_gradient" = [0.0, 0.2]',
        '"detector.position" = ["5.8 um", "6.5 um"]\n"wire.phase_gradient" = [0.0, 0.2]')
    both, _ = runner.run(runconfig.load(_write(tmp_path, "static", static)))
    assert both.g_nl.dims == ("position", "phase_gradient", "V_inj") and both.position.attrs["units"] == "m"
    np.testing.assert_allclose(both.position_reduced.values, [5800 / 65, 6500 / 65], rtol=1e-12)
    assert sorted(p.name for p in (tmp_path / "static-run" / "static").iterdir()) == ["000", "001"]
    # a run of the shape parameters read while unfinished: the missing sub-run is pending
    shutil.rmtree(tmp_path / "static-run" / "static" / "001")
    (tmp_path / "static-run" / "result.nc").unlink()
    part = runner.open_result(tmp_path / "static-run", partial=True)
    assert np.all(part.status.values[1] == 4) and bool(part.g_nl.isel(position=1).isnull().all())
    np.testing.assert_array_equal(part.g_nl.isel(position=0).values, both.g_nl.isel(position=0).values)
    far = np.max(np.abs(both.g_nl.isel(position=1, phase_gradient=0).values))
    assert far < np.max(np.abs(both.g_nl.isel(position=0, phase_gradient=0).values))
    zipped = static.replace('"detector.position" = ["5.8 um", "6.5 um"]\n"wire.phase_gradient" = [0.0, 0.2]',
                            '[sweep.zip.path]\n"detector.position" = ["5.8 um", "6.5 um"]\n'
                            '"wire.phase_gradient" = [0.0, 0.2]')
    with pytest.raises(runconfig.ConfigError, match="shape parameter"):
        runconfig.from_dict(tomllib.loads(zipped))
    outside = static.replace('"6.5 um"]', '"12 um"]')
    with pytest.raises(runconfig.ConfigError, match="at detector.position = 1.2e-05 m: .*outside the wire"):
        runconfig.from_dict(tomllib.loads(outside))
    ds, _ = runner.run(runconfig.load(_write(tmp_path, "wire", WIRE)))
    assert ds.g_nl.dims == ("phase_gradient", "V_inj") and np.all(ds.status.values == 0)
    xr.testing.assert_identical(both.isel(position=0, drop=True).drop_attrs(),
                                ds.drop_attrs())
    t = KB_UEV / 265.0
    wire = qp.Wire(qp.Superconductor(delta=1.0, gamma=1.5e-3), 11000 / 65,
                   (qp.TunnelContact(5500 / 65, 24.6e-6 * 8.57, qp.NormalMetal(temperature=0.061 * t)),
                    qp.TunnelContact(5800 / 65, 31.4e-6 * 8.57, qp.NormalMetal(temperature=0.037 * t))),
                   temperature=0.024 * t, n_x=120)
    V = np.linspace(-3, 3, 41)
    ref = np.asarray(qp.nonlocal_conductance(wire, V, 0.0, n_energy=2001).g_nl[:, 0])
    g0 = ds.g_nl.sel(phase_gradient=0.0).values
    assert np.max(np.abs(g0 - ref)) < 0.02 * np.max(np.abs(ref))
    np.testing.assert_allclose(g0, g0[::-1], atol=1e-9 * np.max(np.abs(g0)))
    odd = plot_odd(ds.g_nl.sel(phase_gradient=0.2))
    assert np.max(np.abs(odd)) > 0.05 * np.max(np.abs(ds.g_nl.sel(phase_gradient=0.2).values))
    np.testing.assert_allclose(ds.g_nl_S.values, ds.g_nl.values / 8.57, rtol=1e-12)
    np.testing.assert_allclose(ds.V_inj.values, V * 265e-6, rtol=1e-12)


def plot_odd(da):
    from jaxqp.plot import symmetric_parts

    return symmetric_parts(da, "V_inj")["odd"].values
