"""Seed 004: thermospin effect in S-I-Sm junctions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxqp.devices import thermospin as ts
from jaxqp.selfconsistency import TC0

H4 = jnp.array([0.0, 0.1, 0.2, 0.4])


def test_gaps_and_thresholds():
    j = ts.ThermospinJunction(h=H4).with_gaps()
    assert float(j.delta_S) == pytest.approx(0.8288, abs=5e-4)  # BCS Delta(0.7 Tc)
    np.testing.assert_allclose(np.asarray(j.delta_Sm), 1.0, atol=1e-7)  # below the CC field
    ht = float(ts.threshold_field(0.7 * TC0))
    assert ht == pytest.approx(1.0 - float(j.delta_S), abs=1e-7)
    # the seed's tanh estimate is within ~0.02 of the exact threshold
    assert float(ts.threshold_field_estimate(0.7 * TC0)) == pytest.approx(ht, abs=0.02)
    # beyond the Chandrasekhar-Clogston field the cold electrode is normal
    assert float(ts.ThermospinJunction(h=0.72).with_gaps().delta_Sm) == 0.0


def test_zero_bias_conductance_changes_sign_at_the_threshold_field():
    """Dissipative (G0 > 0) below h_t, thermoelectric (G0 < 0) above (seed 004 Fig. 2b)."""
    ht = float(ts.threshold_field(0.7 * TC0))
    h = jnp.array([0.0, 0.1, ht - 0.02, ht + 0.02, 0.4, 0.6])
    G0 = np.asarray(ts.g0(h=h))
    assert np.all(G0[:3] > 0) and np.all(G0[3:] < 0), G0


def test_currents_at_zero_bias_and_spin_generation():
    """I_q(0) = 0 but I_up(0) = -I_dn(0) != 0; SGE = 1 inside the thermoactive window (Fig. 3)."""
    j = ts.ThermospinJunction(h=0.4)
    V = jnp.array([0.0, 0.1, 0.2])
    I = ts.currents(V, j)
    assert abs(float(I.charge[0])) < 1e-10
    assert float(I.up[0]) == pytest.approx(-float(I.dn[0]), rel=1e-8) and abs(float(I.up[0])) > 1e-2
    assert np.all(np.asarray(I.charge[1:]) < 0)  # thermoelectric: current against the bias
    np.testing.assert_allclose(np.asarray(ts.spin_generation_efficiency(I)[1:]), 1.0, atol=1e-12)
    assert np.all(np.abs(np.asarray(I.spin[1:])) > np.abs(np.asarray(I.charge[1:])))


def test_seebeck_voltage_root_and_implicit_derivative():
    """V_S: a root of I_q beyond the inner peak, growing with h; dV_S/dh by the implicit
    function theorem vs central finite differences of the same computation (the energy nodes are
    smooth functions of h, so the two agree to the finite-difference error)."""
    h = jnp.array([0.1, 0.3, 0.5])

    def f(hh):
        return ts.seebeck_voltage(h=hh, n_scan=32, n_energy=2001)

    VS, found = f(h)
    assert list(np.asarray(found)) == [False, True, True]
    j = ts.ThermospinJunction(h=h[1:]).with_gaps()
    vm, _ = ts.peak_voltages(j)
    assert np.all(np.asarray(VS[1:]) > np.asarray(vm))
    I = ts.currents(VS[1:], j, n_energy=2001)  # the same quadrature as the root search
    np.testing.assert_allclose(np.asarray(I.charge), 0.0, atol=1e-9)
    assert float(VS[2]) > float(VS[1])  # |V_S| grows with h (Fig. 2c)
    g = np.asarray(jax.grad(lambda hh: jnp.sum(jnp.where(found, f(hh)[0], 0.0)))(h))
    fd = (np.asarray(f(h + 1e-4)[0]) - np.asarray(f(h - 1e-4)[0])) / 2e-4
    np.testing.assert_allclose(g[1:], fd[1:], rtol=1e-6)
    assert g[0] == 0.0


def test_spin_current_at_the_inner_peak_is_largest_at_the_threshold_field():
    """I_s(V_p^-) peaks near h = Delta(T_Sm) - Delta(T_S) (Fig. 3c); G_max < 0 beyond it (Fig. 2d)."""
    hs = jnp.linspace(0.05, 0.6, 12)
    m = ts.at_inner_peak(h=hs)
    Is = np.asarray(m["current"].spin)
    ht = float(ts.threshold_field(0.7 * TC0))
    assert float(hs[np.argmax(Is)]) == pytest.approx(ht, abs=0.06)
    Gm = np.asarray(m["G_max"])
    assert np.all(Gm[np.asarray(hs) > ht + 0.05] < 0) and np.all(Gm[np.asarray(hs) < ht - 0.05] > 0)
