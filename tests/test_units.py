import math

import numpy as np
import pytest

from jaxqp import units


def test_roundtrips_and_reference_values():
    U = units.Units(245.0, diffusion_cm2_s=10.0)
    assert U.energy_ueV(U.energy(123.4)) == pytest.approx(123.4)
    assert U.temperature_K(U.temperature(0.09)) == pytest.approx(0.09)
    assert U.field_T(U.zeeman(1.3)) == pytest.approx(1.3)
    assert U.voltage_volt(U.voltage(2e-4)) == pytest.approx(2e-4)
    assert U.length_nm(U.length(300.0)) == pytest.approx(300.0)
    # mu_B * 1 T = 57.88 ueV (g = 2)
    assert U.zeeman(1.0) * 245.0 == pytest.approx(57.883818060, rel=1e-9)
    # BCS: Delta0 = 1.764 k_B Tc
    assert 245e-6 / (units.KB_EV_PER_K * U.tc_kelvin) == pytest.approx(math.pi * math.exp(-units.EULER_GAMMA))
    # xi = sqrt(hbar D / Delta0) for Al, D = 10 cm^2/s
    assert U.xi_nm == pytest.approx(math.sqrt(6.582119569e-16 * 1e-3 / 245e-6) * 1e9)
    # seed 000: R_orb = 6.5 ueV/T^2 at 1 T
    assert U.orbital_depairing(1.0, 6.5) == pytest.approx(6.5 / 245.0)
    # current unit G_T Delta0 / e: 1 mS * 245 uV = 245 nA
    assert U.current_ampere(1.0, 1e-3) == pytest.approx(245e-9)
    assert U.current(U.current_ampere(0.3, 2e-5), 2e-5) == pytest.approx(0.3)
    assert U.time_s(1.0) == pytest.approx(6.582119569e-16 / 245e-6)
    assert U.rate(1.0 / U.time_s(2.0)) == pytest.approx(0.5)


def test_bad_units_are_rejected():
    with pytest.raises(ValueError, match="positive"):
        units.Units(-1.0)
    with pytest.raises(ValueError, match=">= 0 K"):
        units.Units(200.0).temperature(np.array([0.1, -0.2]))
    with pytest.raises(ValueError, match="diffusion"):
        _ = units.Units(200.0).xi_nm
