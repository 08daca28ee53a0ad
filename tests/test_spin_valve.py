"""Seed 002 Fig. 2d: the non-local spin-valve resistance R_nl(T), pinned (docs/theory.md section 12).

- the closed form with uniform spectra: normal state, tunnel limit, reciprocity; the engine equals it;
- the established shape with contact-renormalised spectra: a maximum near T = 0.2 Delta0 for
  contacts 3 xi apart, a plateau below T = 0.08 Delta0, monotonic saturation for contacts 1 xi apart;
- an independent solution (scipy ``solve_bvp``, ``reference_spin_valve.py``) at three temperatures.
"""

import numpy as np
import pytest
import reference_spin_valve as ref

from jaxqp.devices import spin_injection as si
from jaxqp.kinetic.solve import contact_currents
from jaxqp.kinetic.wire import default_energy_grid, proximity_spectra

DEVICE = dict(kappa=0.1, polarization=0.3, separation=3.0, b_so=0.01, gamma=1e-6, length=40.0,
              spectra="inhomogeneous")
N_X, N_E = 120, 161  # one compiled program for every inhomogeneous case of this file
CLOSED = dict(polarization=0.3, separation=3.0, b_so=0.01, gamma=1e-2, length=40.0)


def r_nl(T, n_x=N_X, n_energy=N_E, **kw):
    args = dict(DEVICE, temperature=T, n_x=n_x, **kw)
    return float(si.nonlocal_resistance(si.spin_valve(parallel=True, **args), si.spin_valve(parallel=False, **args),
                                        n_energy=n_energy, dv=T / 200))


def test_closed_form_normal_state_tunnel_limit_and_reciprocity():
    lam = si.spin_length(0.01)
    normal = si.spin_valve_closed_form(0.1, delta=0.0, tunnel_limit=True, **CLOSED)
    assert normal == pytest.approx(0.5 * 0.3**2 * lam * np.exp(-3.0 / lam), rel=1e-6)
    long = dict(CLOSED, length=200.0)
    assert si.spin_valve_closed_form(0.1, delta=0.0, kappa=1e-9, **long) == pytest.approx(normal, rel=1e-5)
    # the exact solution tends to the tunnel limit as the contacts weaken (long wire: no reservoirs)
    tunnel = si.spin_valve_closed_form(0.15, tunnel_limit=True, **CLOSED)
    exact = si.spin_valve_closed_form(0.15, kappa=1e-9, **dict(CLOSED, length=200.0))
    assert exact == pytest.approx(tunnel, rel=1e-5)
    # back-action and absorption lower R_nl; exchanging the contact strengths changes nothing
    a = si.spin_valve_closed_form(0.1, kappa=0.1, kappa_det=0.01, **CLOSED)
    b = si.spin_valve_closed_form(0.1, kappa=0.01, kappa_det=0.1, **CLOSED)
    assert a == pytest.approx(b, rel=1e-9)
    assert a < 0.5 * si.spin_valve_closed_form(0.1, tunnel_limit=True, **CLOSED)
    with pytest.raises(ValueError, match="temperature"):
        si.spin_valve_closed_form(0.0)


def test_engine_equals_the_closed_form_with_uniform_spectra():
    for kappa, rel in ((0.1, 3e-3), (1e-5, 6e-3)):
        eng = r_nl(0.1, 60, 241, kappa=kappa, gamma=1e-2, spectra="uniform")
        assert eng == pytest.approx(si.spin_valve_closed_form(0.1, kappa=kappa, **CLOSED), rel=rel)
    # kappa = 1e-5: within the back-action (0.6 %) of the tunnel-limit formula of seed 002 Eqs. 89-91
    assert eng == pytest.approx(si.spin_valve_closed_form(0.1, tunnel_limit=True, **CLOSED), rel=1.5e-2)


def test_spin_valve_maximum_then_plateau_and_reciprocity():
    T = (0.06, 0.08, 0.1, 0.15, 0.2)
    R = dict(zip(T, (r_nl(t) for t in T), strict=True))
    # d = 3 xi: R_nl falls by ~ 1.7 from T = 0.15 to 0.1 (dR/dT = 5.8 R_xi/Delta0 on fine grids) ...
    slope = (R[0.15] - R[0.1]) / 0.05
    assert 4.5 < slope < 7.5
    assert R[0.2] > R[0.15]
    # ... and saturates below T = 0.08 (dR/dT = 0.12 on fine grids), at 0.41 R_xi
    assert abs(R[0.08] - R[0.06]) / 0.02 < 0.5
    assert R[0.06] == pytest.approx(0.41, rel=0.03)
    # d = 1 xi: no maximum, R_nl rises and saturates
    assert r_nl(0.06, separation=1.0) > r_nl(0.1, separation=1.0)
    # Onsager: the linear-response conductance matrix of the two contacts is symmetric
    w = si.spin_valve(parallel=True, **dict(DEVICE, temperature=0.1, n_x=N_X))
    h = 0.1 / 200
    V = np.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
    I = np.asarray(contact_currents(w, V, n_energy=N_E).charge)
    G = np.stack([(I[0] - I[1]) / (2 * h), (I[2] - I[3]) / (2 * h)], -1)
    assert G[0, 1] == pytest.approx(G[1, 0], rel=1e-6)


def test_independent_solve_bvp_solution_at_three_temperatures():
    out = {}
    for T in (0.06, 0.15, 0.3):
        args = dict(DEVICE, temperature=T, n_x=N_X)
        wp, wa = si.spin_valve(parallel=True, **args), si.spin_valve(parallel=False, **args)
        eng = float(si.nonlocal_resistance(wp, wa, n_energy=N_E, dv=T / 200))
        grid = default_energy_grid(wp, v_max=T / 200, n=N_E)
        _, g, f, ok = proximity_spectra(wp, grid.points)
        assert bool(np.all(ok))
        out[T] = ref.nonlocal_resistance((wp, wa), np.asarray(grid.points), np.asarray(grid.weights), T,
                                         delta=float(wp.material.delta), b_so=DEVICE["b_so"],
                                         spectra=(np.asarray(wp.x), np.asarray(g[0]), np.asarray(f[0])))
        # the two discretisations converge to each other (0.6 %, 0.2 %, 0.01 % at n_x = 240)
        assert out[T] == pytest.approx(eng, rel=1.5e-2)
    assert out[0.15] > 1.5 * out[0.06] and out[0.15] > 1.5 * out[0.3]
