"""An independent solution of the linear-response spin-valve problem (seed 002 Appendix C).

The kinetic engine (finite volumes, block Thomas elimination, exact 4x4 traces, a reduction to
the contacts) is checked against scipy's collocation solver ``solve_bvp`` applied to the same
equations written out by hand: per energy, the charge mode ``f_T`` and the spin mode ``f_T3``
in linear response,

    (D_T f_T')' = R_T f_T,   (D_3 f_T3')' = 4 b_so M f_T3,
    D_T = (Re g)^2 + (Im f)^2,  M = (Re g)^2 - (Re f)^2,  D_3 = M (+ the floor), R_T = -2 Delta Im f,

with the engine's position-dependent spectra g(x), f(x) (cubic splines between its nodes, one
per segment between contacts), f = 0 at the reservoirs, and at each contact the jump
D [f'] = -s, s = kappa N [[1, P], [P, 1]] ((f_T^e, 0) - (f_T, f_T3)(x_c)).  The three segments are
mapped onto [0, 1] and solved as one two-point problem (12 unknowns per drive).
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import solve_bvp
from scipy.interpolate import CubicSpline

from jaxqp.devices.spin_injection import floating_detector_resistance

FLOOR = 1e-10  # the engine's diffusion floor (docs/theory.md section 10)


def _segment_splines(x, g, f, cuts):
    """Per-segment cubic splines of g and f (complex) between the cut points."""
    out = []
    for a, b in zip(cuts[:-1], cuts[1:], strict=True):
        sel = (x >= a - 1e-12) & (x <= b + 1e-12)
        out.append((a, b, CubicSpline(x[sel], g[sel]), CubicSpline(x[sel], f[sel])))
    return out


def _coefficients(gs, fs, xx, delta, b_so):
    g, f = gs(xx), fs(xx)
    dg, df = gs(xx, 1), fs(xx, 1)
    DT = g.real**2 + f.imag**2 + FLOOR
    dDT = 2 * (g.real * dg.real + f.imag * df.imag)
    M = g.real**2 - f.real**2
    D3 = M + FLOOR
    dD3 = 2 * (g.real * dg.real - f.real * df.real)
    RT = -2 * delta * f.imag
    R3 = 4 * b_so * M
    return DT, dDT, RT, D3, dD3, R3


def contact_response(x, g, f, *, delta, b_so, phi, contacts, length, tol=1e-3):
    """Contact fluxes ``s[drive, contact, mode]`` at one energy for unit bias on each contact.

    ``tol``: solve_bvp's residual tolerance.  At the test's three temperatures, R_nl with tol = 1e-3
    (1e-2) differs from R_nl with 1e-4 by at most 7e-7 (6e-6) relative; 1e-3 takes 60 % of the time.

    ``contacts``: ``((x_c, kappa_c, P_c), ...)`` (two, ordered); ``phi``: f_T of an electrode per
    unit bias at this energy.  ``g, f``: the wire's spectra on the nodes ``x``.
    """
    (x1, k1, p1), (x2, k2, p2) = contacts
    segs = _segment_splines(x, g, f, (0.0, x1, x2, length))
    N1, N2 = float(np.real(g[np.argmin(abs(x - x1))])), float(np.real(g[np.argmin(abs(x - x2))]))

    def rhs(t, y):
        dy = np.empty_like(y)
        for k, (a, b, gs, fs) in enumerate(segs):
            xx = a + t * (b - a)
            DT, dDT, RT, D3, dD3, R3 = _coefficients(gs, fs, xx, delta, b_so)
            for drive in range(2):
                o = 12 * drive + 4 * k
                fT, pT, f3, p3 = y[o], y[o + 1], y[o + 2], y[o + 3]
                dy[o] = (b - a) * pT
                dy[o + 1] = (b - a) * (RT * fT - dDT * pT) / DT
                dy[o + 2] = (b - a) * p3
                dy[o + 3] = (b - a) * (R3 * f3 - dD3 * p3) / D3
        return dy

    def coef_at(k, t):
        a, b, gs, fs = segs[k]
        DT, _, _, D3, _, _ = _coefficients(gs, fs, np.array([a + t * (b - a)]), delta, b_so)
        return float(DT[0]), float(D3[0])

    DT1, D31 = coef_at(1, 0.0)
    DT2, D32 = coef_at(2, 0.0)

    def flux(kap, N, P, e, fT, f3):
        return kap * N * ((e - fT) - P * f3), kap * N * (P * (e - fT) - f3)

    def bc(ya, yb):
        res = []
        for drive in range(2):
            o = 12 * drive
            e1, e2 = (phi, 0.0) if drive == 0 else (0.0, phi)
            A = [ya[o + 4 * k: o + 4 * k + 4] for k in range(3)]
            B = [yb[o + 4 * k: o + 4 * k + 4] for k in range(3)]
            res += [A[0][0], A[0][2], B[2][0], B[2][2]]  # reservoirs
            for k, (kap, N, P, DT, D3) in enumerate(((k1, N1, p1, DT1, D31), (k2, N2, p2, DT2, D32))):
                L, R = B[k], A[k + 1]
                e = e1 if k == 0 else e2
                sT, s3 = flux(kap, N, P, e, L[0], L[2])
                res += [R[0] - L[0], R[2] - L[2], DT * (R[1] - L[1]) + sT, D3 * (R[3] - L[3]) + s3]
        return np.array(res)

    def jac(t, y):
        J = np.zeros((24, 24, t.size))
        for k, (a, b, gs, fs) in enumerate(segs):
            c = b - a
            DT, dDT, RT, D3, dD3, R3 = _coefficients(gs, fs, a + t * c, delta, b_so)
            for drive in range(2):
                o = 12 * drive + 4 * k
                J[o, o + 1] = c
                J[o + 1, o], J[o + 1, o + 1] = c * RT / DT, -c * dDT / DT
                J[o + 2, o + 3] = c
                J[o + 3, o + 2], J[o + 3, o + 3] = c * R3 / D3, -c * dD3 / D3
        return J

    # the boundary conditions are linear: their Jacobians are constant columns
    z = np.zeros(24)
    b0 = bc(z, z)
    eye = np.eye(24)
    Ba = np.stack([bc(eye[i], z) - b0 for i in range(24)], 1)
    Bb = np.stack([bc(z, eye[i]) - b0 for i in range(24)], 1)

    # initial mesh: 33 uniform points on [0, 1], independent of the wire's nodes; solve_bvp refines it
    # where its residual exceeds ``tol`` (a mesh from the wire's nodes gives the same R_nl to 1e-6 and takes
    # twice as long)
    t = np.linspace(0.0, 1.0, 33)
    sol = solve_bvp(rhs, bc, t, np.zeros((24, t.size)), fun_jac=jac, bc_jac=lambda ya, yb: (Ba, Bb), tol=tol,
                    max_nodes=200000)
    if not sol.success:
        raise RuntimeError(f"solve_bvp failed: {sol.message}")
    yb = sol.y[:, -1]
    s = np.zeros((2, 2, 2))
    for drive in range(2):
        o = 12 * drive
        e1, e2 = (phi, 0.0) if drive == 0 else (0.0, phi)
        for k, (kap, N, P, e) in enumerate(((k1, N1, p1, e1), (k2, N2, p2, e2))):
            L = yb[o + 4 * k: o + 4 * k + 4]
            s[drive, k] = flux(kap, N, P, e, L[0], L[2])
    return s


def nonlocal_resistance(wires, E, weights, T, *, delta, b_so, spectra):
    """``R_nl = (V_P - V_AP)/(2 I)`` from `contact_response` at every energy.

    ``wires``: (parallel, antiparallel) `jaxqp.Wire`; ``spectra``: ``(x, g, f)`` with g, f of shape
    (n_E, n_x) (the wires share their spectra: the polarisation does not enter the retarded part).
    """
    x, g, f = spectra
    w = 0.25 / T / np.cosh(np.clip(E / (2 * T), -350, 350)) ** 2
    phi = -2.0 * w
    out = []
    for wire in wires:
        cs = tuple((c.position, float(c.kappa), float(c.polarization)) for c in wire.contacts)
        G = np.zeros((2, 2))
        for j in range(E.size):
            if w[j] < 1e-8 * w.max():
                continue
            s = contact_response(x, g[j], f[j], delta=delta, b_so=b_so, phi=phi[j], contacts=cs, length=wire.length)
            G += -0.5 * weights[j] * s[:, :, 0].T  # G[c, b] = dI_c/dV_b
        out.append(floating_detector_resistance(G))
    return 0.5 * (out[0] - out[1])
