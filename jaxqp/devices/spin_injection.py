r"""Spin injection into a superconducting wire through a tunnel contact (seed paper 002).

Paper: I. V. Tokatly, Y. Lu and F. S. Bergeret, Spin-galvanic response to non-equilibrium spin
injection in superconductors with spin-orbit coupling, arXiv:2512.23536 (2025).
https://arxiv.org/abs/2512.23536

Geometry (seed 002 Fig. 1a): a quasi-1-D superconducting wire with spin-orbit
relaxation (``b_so``; normal-state spin length ``lambda = 1/(2 sqrt(b_so))`` in
units of xi) and a point tunnel injector of strength ``kappa = G_T R_xi`` in its
middle, connected to a normal electrode with spin voltage ``V_s``
(`jaxqp.NormalMetal` ``spin_bias``).  Fig. 1b / Appendix C: a
ferromagnetic injector and detector (barrier polarisation P) on the same wire.

Two levels of description:

- the full numerical solution: the retarded Usadel equation along the wire
  with the injector's normal electrode (the injector renormalises the spectrum
  around it: finite subgap DOS even at zero Dynes parameter) handed to the
  kinetic engine (``Wire(spectra="inhomogeneous")``);
- the closed forms of Appendix B, re-derived in jaxqp's units
  (docs/theory.md section 12): the contact spectral functions from the first
  integral of the Usadel equation (Eq. 38), the normal-state solution (Eq. 20),
  and the interpolation formula (Eqs. 39-44).

All energies in Delta0, lengths in xi, resistances in R_xi, spin in units of
``nu_F Delta0`` (``mu_s``, the spin accumulation of
`jaxqp.KineticSolution.spin_accumulation`).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from ..grids import adaptive
from ..kinetic.solve import contact_currents, solve_kinetic
from ..kinetic.wire import TunnelContact, Wire
from ..materials import NormalMetal, Superconductor
from ..selfconsistency import gap
from ..spectral.bulk import green_functions


# ----------------------------------------------------------------- devices
def device(*, kappa: float = 0.05, b_so: float = 0.01, spin_bias: float = 0.5, temperature: float = 0.05,
           gamma: float = 1e-4, length: float = 60.0, n_x: int = 200, delta=None,
           spectra: str = "inhomogeneous") -> Wire:
    """The spin-injection wire of seed 002 Fig. 1a, injector in the middle, reservoirs at both ends.

    ``delta`` defaults to the self-consistent bulk gap at ``temperature``.
    """
    d = gap(temperature) if delta is None else delta
    sc = Superconductor(delta=d, gamma=gamma, b_so=b_so)
    inj = TunnelContact(length / 2, kappa, NormalMetal(temperature=temperature, spin_bias=spin_bias), name="injector")
    return Wire(sc, length, (inj,), temperature=temperature, n_x=n_x, spectra=spectra)


def spin_valve(*, kappa: float = 0.05, polarization: float = 0.3, parallel: bool = True, separation: float = 3.0,
               b_so: float = 0.01, temperature: float = 0.05, gamma: float = 1e-4, length: float = 60.0,
               n_x: int = 200, spectra: str = "inhomogeneous", kappa_det: float | None = None,
               delta: float | None = None) -> Wire:
    """Non-local spin valve (seed 002 Fig. 1b, Appendix C): F injector and F detector ``separation`` apart.

    ``kappa_det`` (default ``kappa``) is the detector's contact strength; ``delta`` defaults to the
    self-consistent bulk gap at ``temperature``.
    """
    sc = Superconductor(delta=gap(temperature) if delta is None else delta, gamma=gamma, b_so=b_so)
    x0 = length / 2 - separation / 2
    p_det = polarization if parallel else -polarization
    contacts = (TunnelContact(x0, kappa, NormalMetal(temperature=temperature), polarization=polarization,
                              name="injector"),
                TunnelContact(x0 + separation, kappa if kappa_det is None else kappa_det,
                              NormalMetal(temperature=temperature), polarization=p_det,
                              name="detector"))
    return Wire(sc, length, contacts, temperature=temperature, n_x=n_x, spectra=spectra)


# ----------------------------------------------------------------- observables of the full solution
def spin_accumulation(wire: Wire, *, n_energy: int = 2001, grid=None):
    """``(x, mu_s(x), solution)`` of the full numerical solution."""
    sol = solve_kinetic(wire, grid=grid, n_energy=n_energy)
    return sol.x, sol.spin_accumulation(), sol


def nonlocal_resistance(wire_parallel: Wire, wire_antiparallel: Wire, *, n_energy: int = 2001, dv: float | None = None):
    r"""Non-local spin-valve resistance ``R_nl = (V_P - V_AP) / (2 I)`` in units of R_xi (seed 002 Eq. 89).

    Linear response: the 2x2 conductance matrix of (injector, detector) is found
    by symmetric finite differences of `jaxqp.contact_currents` (biases
    ``+-dv``, default ``T / 20``), and the floating detector's voltage from
    ``I_det = 0`` per unit injector current.
    """
    out = []
    for w in (wire_parallel, wire_antiparallel):
        T = float(np.asarray(w.temperature))
        h = T / 20 if dv is None else dv
        V = jnp.array([[h, 0.0], [-h, 0.0], [0.0, h], [0.0, -h]])
        I = contact_currents(w, V, n_energy=n_energy).charge  # (4, 2)
        G = jnp.stack([(I[0] - I[1]) / (2 * h), (I[2] - I[3]) / (2 * h)], -1)  # G[c, b] = dI_c/dV_b
        out.append(floating_detector_resistance(G))
    return 0.5 * (out[0] - out[1])


def floating_detector_resistance(G):
    """``V_det / I_inj`` of a floating detector from the conductance matrix ``G[c, b] = dI_c/dV_b``
    (contact 0 the injector, 1 the detector): ``G_dd V_d + G_di V_i = 0``, ``I = G_ii V_i + G_id V_d``."""
    vd_per_vi = -G[1, 0] / G[1, 1]
    return vd_per_vi / (G[0, 0] + G[0, 1] * vd_per_vi)


# ----------------------------------------------------------------- closed forms (Appendix B, our units)
def bulk_gf(E, delta=1.0, gamma=0.0):
    """Retarded Dynes-BCS ``(g, f)`` as NumPy arrays (`jaxqp.spectral.green_functions`)."""
    _, g, f, _ = green_functions(jnp.asarray(E, float) + 1j * gamma, 0.0, delta)
    return np.asarray(g[0]), np.asarray(f[0])


def _decay_rate(E, delta, gamma):
    """``k = sqrt(2 sqrt(Delta^2 - z^2))`` (Re k > 0), the inverse spectral coherence length, and ``(g, f)``."""
    gb, fb = bulk_gf(E, delta, gamma)
    return np.sqrt(2.0 * (-1j * delta / fb)), gb, fb


def contact_spectrum(E, kappa, delta=1.0, gamma=0.0, *, gamma_floor=1e-12, steps=40, tol=1e-14):
    r"""``(g0, f0)`` at a point tunnel contact (normal electrode) on an infinite uniform wire (seed 002 Eq. 38).

    The first integral of ``theta'' = -2i z sinh(theta) + 2i Delta cosh(theta)``
    from the contact to infinity, with the jump ``theta'(0+) = (kappa/2) sinh(theta_0)``,
    gives exactly (``d0 = theta_0 - theta_b``, ``k = sqrt(2 s)``, ``s = sqrt(Delta^2 - z^2)``)

    $$
    \tfrac{\kappa}{4}\sinh(\theta_b + d_0) + k\,\sinh(d_0/2) = 0,
    $$

    whose square is the paper's quartic (Eq. 38).  Solved by Newton,
    continued in kappa from the linear solution ``d0 = -kappa f_b / (2k)``.
    The profile is ``tanh((theta(x) - theta_b)/4) = tanh(d0/4) e^{-k|x|}``.
    """
    E = np.atleast_1d(np.asarray(E, float))
    k, gb, fb = _decay_rate(E, delta, max(gamma, gamma_floor))
    thb = np.log(gb + fb)
    d = np.zeros(E.shape, complex)
    if kappa > 0:
        k0 = np.minimum(kappa, 1e-4 * 2.0 * np.abs(k) / np.maximum(np.abs(fb), 1e-300))
        d = -k0 * fb / (2.0 * k)
        for j in range(steps + 1):
            kap = k0 * (kappa / k0) ** (j / steps)
            for _ in range(60):
                G = 0.25 * kap * np.sinh(thb + d) + k * np.sinh(0.5 * d)
                dG = 0.25 * kap * np.cosh(thb + d) + 0.5 * k * np.cosh(0.5 * d)
                step = G / dG
                step = np.where(np.abs(step) > 0.5, 0.5 * step / np.maximum(np.abs(step), 1e-300), step)
                d = d - step
                if np.all(np.abs(step) < tol * (1 + np.abs(d))):
                    break
    th = thb + d
    return np.cosh(th), np.sinh(th)


def spin_length(b_so: float) -> float:
    """Normal-state spin relaxation length ``lambda = 1 / (2 sqrt(b_so))`` (units of xi)."""
    return 0.5 / np.sqrt(b_so)


def injector_fT3(E, spin_bias, T):
    """``f_T3`` of a normal electrode with spin voltage V_s: ``[tanh((E - V_s)/2T) - tanh((E + V_s)/2T)] / 2``."""
    E = np.asarray(E, float)
    th = (lambda e: np.sign(e)) if T == 0 else (lambda e: np.tanh(e / (2.0 * T)))
    return 0.5 * (th(E - spin_bias) - th(E + spin_bias))


def normal_state_mu_s(x, kappa, lam, spin_bias):
    r"""Seed 002 Eq. (20) integrated over energy.

    ``mu_s(x) = V_s r/(1+r) e^{-|x|/lambda}``, ``r = kappa lambda / 2``.
    """
    r = 0.5 * kappa * lam
    return spin_bias * r / (1 + r) * np.exp(-np.abs(np.asarray(x)) / lam)


def interpolation_spectral_spin(x, E, kappa, lam, spin_bias, T, delta=1.0, gamma=0.0):
    r"""Interpolation formula (seed 002 Eqs. 39-44) in our units: ``s(E, x)``, shape (n_E, n_x).

    Spectral coefficients ``N = N0 e^{-a|x|}``, ``D_T3 = M0 e^{-2a|x|}`` with the
    contact values (`contact_spectrum`) and ``a = Re sqrt(2 sqrt(Delta^2 - z^2))``
    below the gap, 0 above; then ``f_T3 = f_T3^N r~/(1+r~) e^{-q|x|}``,
    ``q = sqrt(a^2 + lambda^-2) - a``, ``r~ = kappa N0 / (2 M0 q)`` and
    ``s = -N0 e^{-a|x|} f_T3``: the spin decays on ``1/sqrt(a^2 + lambda^-2)``.
    """
    E = np.atleast_1d(np.asarray(E, float))
    x = np.atleast_1d(np.asarray(x, float))
    g0, f0 = contact_spectrum(E, kappa, delta, gamma)
    N0, M0 = g0.real, g0.real**2 - f0.real**2
    a = np.where(np.abs(E) < delta, _decay_rate(E, delta, max(gamma, 1e-12))[0].real, 0.0)
    q = np.sqrt(a**2 + lam**-2) - a
    rt = kappa * N0 / (2 * np.maximum(M0, 1e-300) * q)
    fT3 = injector_fT3(E, spin_bias, T) * rt / (1 + rt)
    return -N0[:, None] * fT3[:, None] * np.exp(-(a + q)[:, None] * np.abs(x)[None, :])


def uniform_spectral_spin(x, E, kappa, lam, spin_bias, T, delta=1.0, gamma=1e-2):
    r"""Tunnel limit with a finite Dynes parameter (seed 002 Appendix B.3), exact for uniform spectra.

    ``f_T3 = f_T3^N r_E/(1+r_E) e^{-|x|/lambda}``, ``r_E = kappa N_b lambda / (2 M_b)``,
    ``s = -N_b f_T3``, with the bulk Dynes ``N_b = Re g``, ``M_b = (Re g)^2 - (Re f)^2``.
    """
    E = np.atleast_1d(np.asarray(E, float))
    x = np.atleast_1d(np.asarray(x, float))
    g, f = bulk_gf(E, delta, gamma)
    N, M = g.real, g.real**2 - f.real**2
    r = kappa * N * lam / (2 * M)
    fT3 = injector_fT3(E, spin_bias, T) * r / (1 + r)
    return -N[:, None] * fT3[:, None] * np.exp(-np.abs(x)[None, :] / lam)


def mu_s(spectral, weights):
    """``mu_s(x) = (1/2) sum_E w_E s(E, x)``."""
    return 0.5 * np.tensordot(np.asarray(weights), np.asarray(spectral), axes=(0, 0))


# ----------------------------------------------------------------- spin valve: closed forms with uniform spectra
def _dirichlet_green(k, D, x, y, length):
    """Green function of ``(D f')' - D k^2 f = -delta(x - y)`` on ``[0, L]`` with ``f(0) = f(L) = 0``."""
    lo, hi = min(x, y), max(x, y)
    # sinh(k lo) sinh(k (L - hi)) / sinh(k L), written with exponentials that cannot overflow
    num = -np.expm1(-2 * k * lo) * -np.expm1(-2 * k * (length - hi)) * np.exp(-k * (hi - lo))
    den = -np.expm1(-2 * k * length)
    small = k * length < 1e-6
    ks = np.where(small, 1.0, k)
    g = num / (2 * np.where(small, 1.0, den)) / (D * ks)
    return np.where(small, lo * (length - hi) / (length * D), g)


def spin_valve_closed_form(temperature: float, *, kappa: float = 0.05, kappa_det: float | None = None,
                           polarization: float = 0.3, separation: float = 3.0, b_so: float = 0.01,
                           gamma: float = 1e-2, delta: float | None = None, length: float = 60.0,
                           tunnel_limit: bool = False, n_energy: int = 4001):
    r"""Non-local spin-valve resistance ``R_nl`` (units R_xi) with uniform (bulk Dynes) spectra, in closed form.

    The linear-response kinetic problem of `spin_valve` (seed 002 Appendix C, in jaxqp's
    conventions, docs/theory.md section 12) with the bulk spectra everywhere: per energy, the
    charge mode ``f_T`` and the spin mode ``f_T3`` diffuse independently,

    $$ (D_T f_T')' = R_T f_T,\qquad (M f_{T3}')' = 4 b_{so} M f_{T3},\qquad
       M = (\mathrm{Re}\,g)^2 - (\mathrm{Re}\,f)^2,\ D_T = (\mathrm{Re}\,g)^2 + (\mathrm{Im}\,f)^2,\
       R_T = -2\Delta\,\mathrm{Im} f, $$

    with ``f = 0`` at the reservoirs (Dirichlet Green functions ``G_T``, ``G_T3``), and are coupled
    only at the contacts: contact ``c`` injects ``s_c = kappa_c N [[1, P_c], [P_c, 1]] (e_c - u(x_c))``,
    ``u = (f_T, f_T3)``, ``e_c = (f_T^e(V_c), 0)``.  The 4x4 contact system
    ``(1 + K G) s = K e`` is solved per energy (injector back-action and detector absorption
    included), the currents ``I_c = -(1/2) int dE s_{T,c}`` give the 2x2 conductance matrix, and
    ``R_nl = (V_P - V_AP)/(2 I)`` with a floating detector.

    ``tunnel_limit=True`` gives the leading order in the contact strengths (the closed form
    behind seed 002 Eqs. 89-91: no back-action, a detector that absorbs nothing) on an infinite wire,

    $$ R_{nl} = \frac{P^2 \lambda}{2} e^{-d/\lambda}
       \frac{\int dE\, w\, N^2/M}{\left(\int dE\, w\, N\right)^2},\qquad w = \frac{1}{4T\cosh^2(E/2T)}, $$

    which is ``P^2 lambda e^{-d/lambda}/2`` in the normal state.  The integrands are even in E: they
    are integrated on ``[0, Delta + 40 T + 1]`` (`jaxqp.grids.adaptive`, refined at 0 and the gap
    edge) and doubled.
    """
    T = float(temperature)
    if T <= 0:
        raise ValueError(f"temperature must be > 0 for a linear-response resistance, got {T}")
    d = float(gap(T)) if delta is None else float(delta)
    kd = kappa if kappa_det is None else kappa_det
    lam = spin_length(b_so)
    x_i = length / 2 - separation / 2
    x_d = x_i + separation
    grid = adaptive(jnp.array([0.0, d]), jnp.array([T, max(gamma, 1e-3 * max(d, 1.0))]), 0.0, d + 40 * T + 1.0,
                    n_energy)
    E, wts = np.asarray(grid.points), 2.0 * np.asarray(grid.weights)  # [0, e_max] twice
    g, f = bulk_gf(E, d, gamma)
    N = np.abs(g.real)
    M = N**2 - f.real**2
    w = 0.25 / T / np.cosh(np.clip(E / (2 * T), -350, 350)) ** 2
    if tunnel_limit:
        num = 0.5 * polarization**2 * lam * np.exp(-separation / lam) * np.sum(wts * w * N**2 / M)
        return float(num / np.sum(wts * w * N) ** 2)
    D_T = g.real**2 + f.imag**2
    R_T = np.maximum(-2 * d * f.imag, 0.0)
    k_T = np.sqrt(R_T / D_T)
    k_3 = np.full_like(E, 1 / lam)
    xs = (x_i, x_d)
    G = np.zeros(E.shape + (4, 4))  # unknowns (T_i, T_d, T3_i, T3_d)
    for a in range(2):
        for b in range(2):
            G[:, a, b] = _dirichlet_green(k_T, D_T, xs[a], xs[b], length)
            G[:, 2 + a, 2 + b] = _dirichlet_green(k_3, M, xs[a], xs[b], length)
    out = []
    for p_det in (polarization, -polarization):
        K = np.zeros(E.shape + (4, 4))
        for c, (kap, P) in enumerate(((kappa, polarization), (kd, p_det))):
            K[:, c, c] = K[:, 2 + c, 2 + c] = kap * N
            K[:, c, 2 + c] = K[:, 2 + c, c] = kap * N * P
        A = np.eye(4) + K @ G
        phi = -2 * w  # f_T of an electrode at bias V, per unit V (linear order)
        Gm = np.zeros((2, 2))
        for b in range(2):  # unit bias on contact b
            e = np.zeros(E.shape + (4,))
            e[:, b] = phi
            s = np.linalg.solve(A, (K @ e[..., None]))[..., 0]
            Gm[:, b] = -0.5 * np.sum(wts[:, None] * s[:, :2], 0)  # I_c = -(1/2) int dE s_T,c
        out.append(floating_detector_resistance(Gm))
    return 0.5 * (out[0] - out[1])
