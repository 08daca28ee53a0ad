"""Homogeneous spin-split spectral solver: limits, symmetries, sum rules, gradients, errors."""

import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxqp as qp
from jaxqp import grids
from jaxqp.spectral.bulk import _Options, green_functions

E = jnp.linspace(-3.0, 3.0, 601)  # one shape for most tests: one compilation


def retarded_sqrt(z):
    """sqrt(z^2 - 1) on the retarded branch (principal roots of z - 1 and z + 1)."""
    return np.sqrt(z - 1.0 + 0j) * np.sqrt(z + 1.0 + 0j)


def test_bcs_dynes_limit_is_exact():
    g = 2e-3
    N = np.asarray(qp.dos(qp.Superconductor(delta=1.0, gamma=g), E))
    z = np.asarray(E) + 1j * g
    exact = np.real(z / retarded_sqrt(z))
    # exact up to the retarded +i0 (1e-12) that the solver adds to every energy
    np.testing.assert_allclose(N[0], exact, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(N[1], exact, rtol=1e-8, atol=1e-12)


def test_normal_state_limit():
    s = qp.solve(qp.Superconductor(delta=0.0, h=0.3, zeta=0.2, b_so=0.1, b_sf=0.05, gamma=1e-3), E)
    np.testing.assert_allclose(np.asarray(s.dos), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.abs(np.asarray(s.f)), 0.0, atol=1e-12)
    assert bool(s.converged.all())


def test_normalisation_g2_minus_f2_is_one():
    s = qp.solve(qp.Superconductor(delta=0.8, h=0.25, zeta=0.05, b_so=0.1, b_sf=0.01, gamma=1e-3), E)
    np.testing.assert_allclose(np.asarray(s.g**2 - s.f**2), 1.0, atol=1e-9)


def test_abrikosov_gorkov_matches_polynomial_roots():
    """Second method: the AG equation squared is a quartic; keep the retarded root."""
    zeta, gam = 0.3, 1e-3
    N = np.asarray(qp.dos(qp.Superconductor(delta=1.0, zeta=zeta, gamma=gam), E))[0]
    out = []
    for e in np.asarray(E):
        x = e + 1j * gam
        roots = np.roots([-1.0, 2 * x, 1 - x * x - zeta**2, -2 * x, x * x])
        s = np.sqrt(1 - roots**2 + 0j)
        F = np.where(np.imag(roots / s) < 0, -1 / s, 1 / s)
        ok = np.abs((roots - x) - zeta * roots * F) < 1e-8 * (1 + np.abs(roots))
        assert ok.sum() == 1
        out.append(np.real(-1j * roots[ok][0] * F[ok][0]))
    np.testing.assert_allclose(N, out, atol=1e-9)


@pytest.mark.parametrize("zeta_r", [0.05, 0.3, 0.7])
def test_abrikosov_gorkov_spectral_gap(zeta_r):
    """Omega_g = Delta (1 - zeta^(2/3))^(3/2), zeta in units of Delta."""
    delta = 0.9
    omega_g = delta * (1 - zeta_r ** (2 / 3)) ** 1.5
    sc = qp.Superconductor(delta=delta, zeta=zeta_r * delta, gamma=1e-9)
    Ein = jnp.asarray(omega_g * np.array([0.2, 0.9, 0.99]))
    Eout = jnp.asarray(omega_g * np.array([1.01, 1.1]))
    assert float(jnp.max(qp.dos(sc, Ein))) < 1e-5
    assert float(jnp.min(qp.dos(sc, Eout))) > 1e-2


def test_zeeman_shift_convention_and_peaks():
    """N_up(E) = N_0(E + h): the spin-up coherence peak sits at Delta - h (docs/theory.md section 1)."""
    h, zeta = 0.3, 0.02
    Ns = np.asarray(qp.dos(qp.Superconductor(delta=1.0, h=h, zeta=zeta, gamma=1e-4), E))
    N_up_ref = np.asarray(qp.dos(qp.Superconductor(delta=1.0, zeta=zeta, gamma=1e-4), E + h))[0]
    N_dn_ref = np.asarray(qp.dos(qp.Superconductor(delta=1.0, zeta=zeta, gamma=1e-4), E - h))[0]
    np.testing.assert_allclose(Ns[0], N_up_ref, atol=1e-10)
    np.testing.assert_allclose(Ns[1], N_dn_ref, atol=1e-10)
    Ep = np.asarray(E)
    pos = Ep > 0
    assert Ep[pos][np.argmax(Ns[0][pos])] == pytest.approx(1.0 - h, abs=0.03)
    assert Ep[pos][np.argmax(Ns[1][pos])] == pytest.approx(1.0 + h, abs=0.03)


def test_particle_hole_symmetry_with_spin_mixing():
    """N_up(E) = N_dn(-E) with Zeeman, depairing, spin-orbit and spin-flip scattering."""
    sc = qp.Superconductor(delta=0.9, h=0.4, zeta=0.03, b_so=0.15, b_sf=0.02, gamma=1e-3)
    N = np.asarray(qp.dos(sc, E))
    np.testing.assert_allclose(N[0], N[1][::-1], atol=1e-9)


def test_spin_flip_at_zero_field_depairs_like_zeta():
    a = qp.dos(qp.Superconductor(delta=1.0, b_sf=0.04, gamma=1e-3), E)
    b = qp.dos(qp.Superconductor(delta=1.0, zeta=0.12, gamma=1e-3), E)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-9)


def test_spin_orbit_cannot_act_without_field_and_mixes_spins_with_it():
    a = qp.dos(qp.Superconductor(delta=1.0, b_so=0.5, gamma=1e-3), E)
    b = qp.dos(qp.Superconductor(delta=1.0, gamma=1e-3), E)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-10)
    pol = []
    for b_so in (0.0, 0.05, 0.3, 1.0):
        N = qp.dos(qp.Superconductor(delta=1.0, h=0.3, b_so=b_so, gamma=1e-3), E)
        pol.append(float(jnp.sum(jnp.abs(N[0] - N[1]))))
    assert all(x > y for x, y in zip(pol, pol[1:], strict=False)), pol


@pytest.mark.parametrize(
    "params",
    [dict(gamma=1e-3), dict(h=0.4, zeta=0.05, gamma=1e-3), dict(h=0.6, b_so=0.3, b_sf=0.02, gamma=1e-4),
     dict(h=1.3, zeta=0.1, gamma=1e-4)],
)
def test_dos_sum_rule(params):
    """No states are created or lost: int (N_sigma - 1) dE = 0."""
    L = 60.0
    sc = qp.Superconductor(delta=1.0, **params)
    cs, w = sc.singular_points()
    grid = grids.adaptive(jnp.stack([jnp.asarray(c) for c in cs]), w, -L, L, 4001)
    N = qp.dos(sc, grid.points)
    for s in range(2):
        inside = float(grid.integrate(N[s] - 1.0))
        # tails beyond |E| = L: N - 1 ~ A / E^2 on both sides
        tail = float((N[s][0] - 1.0) * L + (N[s][-1] - 1.0) * L)
        assert abs(inside + tail) < 2e-3, (s, inside, tail)


def test_robust_against_a_finer_continuation_path(rng):
    """Random parameters incl. gamma 1e-6, gapless h, zeta beyond the gapless point, b_so up to 1."""
    fine = _Options(rtol=1e-13, maxiter=600, q=0.8, q_fallback=0.9, maxiter_fallback=900, res_tol=1e-9)
    fast = jax.jit(lambda p: green_functions(E + 1j * p[5], p[0], p[1], p[2], p[3], p[4], with_residual=True))
    ref = jax.jit(lambda p: green_functions(E + 1j * p[5], p[0], p[1], p[2], p[3], p[4], options=fine,
                                            with_residual=True))
    for _ in range(25):
        p = jnp.array([
            rng.choice([0.0, rng.uniform(0, 2.0)]),  # h
            rng.uniform(0.1, 1.0),  # delta
            rng.choice([0.0, 10 ** rng.uniform(-4, 0.3)]),  # zeta
            rng.choice([0.0, 10 ** rng.uniform(-3, 0)]),  # b_so
            rng.choice([0.0, 10 ** rng.uniform(-4, -0.5)]),  # b_sf
            rng.choice([1e-6, 10 ** rng.uniform(-6, -2)]),  # gamma
        ])
        _, g1, _, ok, r1 = fast(p)
        _, g2, _, _, _ = ref(p)
        assert float(jnp.max(r1)) < 1e-9 and bool(ok.all()), p
        np.testing.assert_allclose(np.asarray(g1), np.asarray(g2), atol=1e-7, err_msg=str(p))
        assert float(jnp.min(jnp.real(g1))) >= -1e-12  # retarded: N >= 0


PARAMS = dict(delta=0.9, h=0.3, zeta=0.05, b_so=0.1, b_sf=0.02, gamma=0.01)
E_PROBE = jnp.array([0.3, 0.75, 1.1, 2.0])


def _probe(p):
    s = qp.solve(qp.Superconductor(**p), E_PROBE)
    return jnp.concatenate([jnp.real(s.g).ravel(), jnp.imag(s.g).ravel(), jnp.real(s.f).ravel(),
                            jnp.imag(s.f).ravel()])


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_implicit_gradients_match_finite_differences(name):
    def f(x):
        return _probe(dict(PARAMS, **{name: x}))

    x0 = PARAMS[name]
    jac = jax.jacfwd(f)(x0)
    eps = 1e-6
    fd = (f(x0 + eps) - f(x0 - eps)) / (2 * eps)
    np.testing.assert_allclose(np.asarray(jac), np.asarray(fd), rtol=1e-5, atol=1e-6)
    # reverse mode agrees with forward mode
    w = jnp.linspace(0.5, 1.5, jac.shape[0])
    g = jax.grad(lambda x: jnp.dot(w, f(x)))(x0)
    assert float(g) == pytest.approx(float(jnp.dot(w, jac)), rel=1e-8, abs=1e-10)


def test_energy_derivative_of_dos():
    sc = qp.Superconductor(**PARAMS)
    f = lambda e: qp.dos(sc, e)[0]  # noqa: E731
    d = jax.jvp(f, (E_PROBE,), (jnp.ones_like(E_PROBE),))[1]
    fd = (f(E_PROBE + 1e-6) - f(E_PROBE - 1e-6)) / 2e-6
    np.testing.assert_allclose(np.asarray(d), np.asarray(fd), rtol=1e-5)


def test_batching_broadcasts_and_matches_vmap():
    deltas = jnp.array([0.5, 0.8, 1.0])
    sc = qp.Superconductor(delta=deltas[:, None], h=0.2, zeta=0.05, gamma=1e-3)
    s = qp.solve(sc, E)
    assert s.dos.shape == (2, 3, 601)
    assert s.converged.shape == (3, 601) and bool(s.converged.all())
    v = jax.vmap(lambda d: qp.dos(qp.Superconductor(delta=d, h=0.2, zeta=0.05, gamma=1e-3), E))(deltas)
    np.testing.assert_allclose(np.asarray(jnp.moveaxis(v, 0, 1)), np.asarray(s.dos), atol=1e-12)


def test_positional_arguments_follow_the_physics():
    sc = qp.Superconductor(0.8, 0.1)
    assert float(sc.delta) == 0.8 and float(sc.h) == 0.1 and sc.temperature is None
    assert float(qp.NormalMetal(0.05).temperature) == 0.05


def test_bad_input_is_rejected_with_clear_messages():
    with pytest.raises(ValueError, match="gamma"):
        qp.Superconductor(gamma=-1e-3)
    with pytest.raises(ValueError, match="delta must be finite"):
        qp.Superconductor(delta=float("nan"))
    with pytest.raises(ValueError, match="zeta"):
        qp.Superconductor(zeta=-0.1)
    with pytest.raises(TypeError, match="E must be real"):
        qp.solve(qp.Superconductor(), jnp.array([1.0 + 1j]))
    with pytest.raises(ValueError, match="inconsistent shapes"):
        qp.solve(qp.Superconductor(delta=jnp.ones(3)), jnp.ones(5))
    with pytest.raises(ValueError, match="E must be finite"):
        qp.solve(qp.Superconductor(), jnp.array([0.0, jnp.inf]))


def test_float32_mode_runs_and_agrees():
    code = (
        "import jax.numpy as jnp, jaxqp as qp, jax;"
        "assert not jax.config.read('jax_enable_x64');"
        "s=qp.solve(qp.Superconductor(delta=1.0,h=0.2,zeta=0.1,gamma=1e-3),jnp.linspace(-2,2,41));"
        "assert s.dos.dtype==jnp.float32 and bool(s.converged.all());"
        "print(repr(s.dos.tolist()))"
    )
    env = dict(os.environ, JAXQP_X64="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    n32 = np.array(eval(out.stdout.strip()))
    n64 = np.asarray(qp.dos(qp.Superconductor(delta=1.0, h=0.2, zeta=0.1, gamma=1e-3), jnp.linspace(-2, 2, 41)))
    np.testing.assert_allclose(n32, n64, atol=2e-4)


def test_spectral_params_are_the_positional_parameters():
    """green_functions(z, SpectralParams) equals the five positional numbers; a material's view
    carries its own parameters, with replacements."""
    from jaxqp.spectral import green_functions

    sc = qp.Superconductor(delta=0.9, h=0.3, zeta=0.02, b_so=0.05, b_sf=0.01, gamma=1e-3)
    z = jnp.linspace(-2, 2, 9) + 1e-3j
    a = green_functions(z, sc.spectral_params(zeta=0.07))
    b = green_functions(z, 0.3, 0.9, 0.07, 0.05, 0.01)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    assert sc.spectral_params() == qp.SpectralParams(sc.h, sc.delta, sc.zeta, sc.b_so, sc.b_sf)
    with pytest.raises(TypeError, match="not both"):
        green_functions(z, sc.spectral_params(), 1.0)


def test_core_functions_run_as_one_program_when_eager_and_inline_in_a_caller_trace(caplog):
    """`green_functions` with concrete inputs runs as one compiled program, equal to the function as
    written; another value of a parameter, or an array zero in place of a Python zero (both stay the
    closed form's static zero), compiles nothing new; inside a caller's trace it is inlined."""
    import logging

    z = jnp.linspace(-2.0, 2.0, 13) + 1e-3j
    plain = green_functions.__wrapped__
    with jax.log_compiles(), caplog.at_level(logging.WARNING):
        a = green_functions(z, 0.2, 1.0, 0.0)
        b = green_functions(z, 0.3, 0.9, jnp.asarray(0.0))
    compiled = [r.getMessage() for r in caplog.records if "Finished XLA compilation of jit(green" in r.getMessage()]
    assert len(compiled) == 1, compiled
    for got, want in ((a, plain(z, 0.2, 1.0)), (b, plain(z, 0.3, 0.9, 0.0))):
        for x, y in zip(got[:3], want[:3], strict=True):
            np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=0, atol=1e-14)
    # with depairing the general (Newton) path, also one program
    np.testing.assert_allclose(np.asarray(green_functions(z, 0.2, 1.0, 0.05)[1]),
                               np.asarray(plain(z, 0.2, 1.0, 0.05)[1]), rtol=0, atol=1e-13)
    jaxpr = jax.make_jaxpr(lambda d: green_functions(z, 0.2, d)[1])(1.0)
    assert all(e.params.get("name") != "green_functions" for e in jaxpr.eqns)
    assert np.isfinite(float(jax.grad(lambda d: jnp.sum(jnp.real(green_functions(z, 0.2, d)[1])))(1.0)))
