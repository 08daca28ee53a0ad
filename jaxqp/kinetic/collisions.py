r"""Inelastic collision integrals: electron-electron, electron-phonon and relaxation to a bath.

Three processes, each an equinox Module:

- `ElectronElectron`: electron-electron scattering with the kernel ``K(w) ~ |w|^(-power)``
  (``power`` up to 3/2, the screened Coulomb interaction of a diffusive wire), its bath the density
  bubble of the electrons themselves.  It conserves particle number, energy and (without
  spin flips) spin, with the coherence factors of the superconducting state, including pair
  breaking and recombination.
- `ElectronPhonon`: relaxation to a phonon bath at ``temperature`` with
  ``alpha^2 F(omega) ~ |omega|^power`` (``power = 2``: three-dimensional Debye phonons,
  normal-state heat flow ``~ T_e^5 - T_ph^5``).
- `RelaxationTime`: relaxation of every mode to a normal bath or to the local equilibrium with the
  same charge, spin and energy, ``I = rate N (h - h_target)``.

`collision_integral` acts on the whole distribution ``h = f_L + f_T tau_3`` of each spin sector
(so on all four modes f_L, f_T, f_T3, f_L3): the Keldysh part of ``[Sigma, g]`` with the second-order
Nambu self-energy of the process.  `energy_collision_integral` is its exact reduction for
``f_T = 0`` (the energy modes alone, seed 001 Eq. (16) after Bobkova and Bobkov, PRB 93, 024513
(2016)), the fast path of ``modes="energy"``.

Normalisation: ``rate`` is the relaxation rate of a quasiparticle at the Fermi level of the
*normal* state at ``T = T_c`` (``T_c = e^gamma_E / pi`` in units of Delta0), the definition of
seed 001 (``gamma_ee = hbar / Delta0 tau_ee``); ``ElectronElectron(kappa=...)`` gives the kernel
prefactor directly (the convention of Pothier et al., PRL 79, 3490 (1997)).

All integrals run on a **uniform** energy grid (spacing ``dE``): energy conservation then maps
grid points to grid points, detailed balance holds exactly on the grid, and every double integral
is a set of correlations and convolutions evaluated by FFT in ``O(n_E log n_E)``.  States outside
the grid are taken as absent, so the grid must extend a few temperatures past the highest
injection energy.

The sign is that of seed 001 Eq. (9): ``D_L d_x^2 f_L = I_L``, so ``I_L ~ gamma N (f_L - f_eq)``
near equilibrium.  The equations are written out in ``docs/theory.md`` (section 13).
"""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

from ..distributions import conserved_quantities, local_equilibrium
from ..internal import validation as val
from ..units import TC_OVER_DELTA0


def _tc() -> float:
    return TC_OVER_DELTA0


def _mellin_sinh(s: float) -> float:
    """``int_0^inf x^(s-1) / sinh(x) dx`` for ``s > 1`` (trapezoid on a log grid)."""
    t = np.linspace(-40.0, 6.0, 200001)
    x = np.exp(t)
    y = x ** s / np.sinh(x)
    return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(t)))


class ElectronElectron(eqx.Module):
    r"""Electron-electron scattering with the kernel ``K(omega) = C |omega / Delta0|^(-power)``.

    ``power = 0`` (default): constant matrix element, normal-state rate ``~ E^2 + pi^2 T^2``;
    ``power = 1/2``: 1-D wire with a short-range kernel; ``power = 3/2``: screened Coulomb
    interaction in a 1-D diffusive wire (Altshuler-Aronov; Kamenev and Andreev, PRB 60, 2218 (1999)),
    the law energy-relaxation experiments on normal wires are fitted with (Pothier et al., PRL 79,
    3490 (1997)).

    Give the strength either as
    ``rate`` = ``gamma_ee = hbar / (Delta0 tau_ee)``, the normal-state relaxation rate at the Fermi
    level at ``T = T_c`` (seed 001: ``2e-4``; only for ``power < 1``, where that rate is finite), or as
    ``kappa``, the prefactor of the kernel in the convention of Pothier et al.:
    ``dn/dt = int d(omega) int dE' K(omega) [in - out]`` with ``K = kappa |omega|^(-power)`` and the
    partner occupations averaged over spin, in units of ``Delta0^(power - 1) / hbar``.

    ``modes``: ``"all"`` (default) acts on the full distribution of both spin sectors (energy,
    charge and spin modes); ``"energy"`` acts on the energy components ``f_{L,s}`` only, with the
    charge-like components set to zero (``I_T = 0``), the approximation of seed 001.
    """

    rate: ArrayLike | None = eqx.field(default=None, converter=lambda x: x if x is None else jnp.asarray(x))
    power: float = eqx.field(default=0.0, static=True)
    kappa: ArrayLike | None = eqx.field(default=None, converter=lambda x: x if x is None else jnp.asarray(x))
    modes: str = eqx.field(default="all", static=True)

    def __check_init__(self):
        _check_modes(self)
        if (self.rate is None) == (self.kappa is None):
            raise ValueError("give ElectronElectron exactly one of rate (hbar / Delta0 tau_ee) and kappa "
                             "(the kernel prefactor)")
        if not 0.0 <= self.power <= 1.5:
            raise ValueError(f"ElectronElectron.power must lie in [0, 3/2], got {self.power}")
        if self.rate is not None:
            val.check_nonnegative("rate", self.rate, hint="gamma_ee = hbar / (Delta0 tau_ee) is a rate, >= 0")
            if self.power >= 1.0:
                raise ValueError(f"with power = {self.power} >= 1 the normal-state rate at the Fermi level is "
                                 "infinite, so rate cannot set the strength; give kappa (the kernel prefactor) instead")
        else:
            val.check_nonnegative("kappa", self.kappa, hint="the kernel prefactor kappa is >= 0")

    def normalisation(self) -> float:
        """Normal-state rate at E = 0, T = T_c per unit prefactor: int K(w) w / sinh(w / T_c) dw (power < 1)."""
        s = 2.0 - self.power
        return 2.0 * _tc() ** s * _mellin_sinh(s)

    def coefficient(self):
        """The kernel prefactor ``kappa`` (from ``rate`` when that is given)."""
        return self.kappa if self.rate is None else self.rate / self.normalisation()

    def kernel(self, omega: np.ndarray, spacing: float) -> np.ndarray:
        """``|omega|^(-power)`` as a cell weight on the grid ``omega = k dE``.

        For ``power > 0`` the weight of cell ``k != 0`` matches the first moment of the kernel,
        ``K_k = int_cell |w|^(1 - power) dw / (|w_k| dE)``: the integrand vanishes linearly at
        ``omega = 0`` (normal state: ``f(E) - f(E - omega)``), so this keeps the quadrature of the
        singular kernel second order in ``dE`` up to the ``omega -> 0`` cell.  The ``omega = 0``
        term of every collision integral vanishes identically, and its weight is set to zero.
        """
        w = np.abs(np.asarray(omega, float))
        if self.power == 0.0:
            return np.ones_like(w)
        p = self.power
        k = np.maximum(np.rint(w / spacing), 1.0)
        m = ((k + 0.5) ** (2.0 - p) - (k - 0.5) ** (2.0 - p)) / ((2.0 - p) * k)
        return np.where(w == 0, 0.0, m * spacing ** (-p))


class ElectronPhonon(eqx.Module):
    r"""Electron-phonon relaxation to a bath at ``temperature``, ``alpha^2 F ~ |omega|^power`` (power >= 1)."""

    rate: ArrayLike = eqx.field(converter=jnp.asarray)
    temperature: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    power: float = eqx.field(default=2.0, static=True)
    modes: str = eqx.field(default="all", static=True)

    def __check_init__(self):
        _check_modes(self)
        val.check_nonnegative("rate", self.rate, hint="the electron-phonon rate hbar / (Delta0 tau_eph) is >= 0")
        val.check_nonnegative("temperature", self.temperature, hint="the phonon temperature is k_B T_ph / Delta0")
        if self.power < 1.0:
            raise ValueError(f"ElectronPhonon.power must be >= 1, got {self.power}")

    def normalisation(self) -> float:
        """Normal-state rate at E = 0, T = T_c per unit prefactor: 2 int_0^inf w^p / sinh(w / T_c) dw."""
        s = self.power + 1.0
        return 2.0 * _tc() ** s * _mellin_sinh(s)


class RelaxationTime(eqx.Module):
    r"""Relaxation-time collisions: ``I_s = rate N_s (h_s - h_s^target)`` on every mode.

    ``conserve=()`` (default): the target is the bath, ``f_{L,s} = tanh(E / 2T)``, ``f_{T,s} = 0``.
    This is the collision integral of a normal bath at equilibrium tunnel-coupled to every point
    of the wire (self-energy ``rate/2`` times the bath's Green function), so the charge and spin
    modes relax at the same rate as the energy mode.  ``temperature=None``: the wire's bath
    temperature.

    ``conserve="all"`` or any of ``"charge"``, ``"spin"``, ``"energy"``: the target is the *local*
    equilibrium (`jaxqp.distributions.local_equilibrium`), Fermi functions whose potential, spin
    splitting and temperature at each point are set so that the collisions conserve the chosen
    quantities, ``sum_s int N_s I_{T,s} = 0`` (charge), ``sum_s s int N_s I_{L,s} = 0`` (spin) and
    ``sum_s int E N_s I_{L,s} = 0`` (energy); the others take the bath values.  ``"all"`` is the
    relaxation-time form of electron-electron scattering (hot electrons: Pothier et al., PRL 79,
    3490 (1997)); ``("energy",)`` lets charge and spin relax to the bath while the electrons keep
    their energy.  In a superconductor the conserved charge is the quasiparticle charge weighted
    by ``N``; leave ``"charge"`` out to let the charge imbalance relax.

    The bath's retarded self-energy is ``(rate/2) tau_3``, a Dynes broadening: spectra with
    ``gamma = rate / 2`` contain it.  With such spectra and ``conserve="charge"`` the charge
    imbalance converts to condensate at the Schmid-Schon rate ``pi Delta rate / (4 T)`` near Tc
    (`docs/theory.md`, section 13).

    ``modes="energy"``: only ``f_{L,s}`` relaxes.
    """

    rate: ArrayLike = eqx.field(converter=jnp.asarray)
    temperature: Array | None = eqx.field(default=None, converter=val.optional_array)
    modes: str = eqx.field(default="all", static=True)
    conserve: tuple = eqx.field(default=(), static=True, converter=lambda v: conserved_quantities(v) if v else ())

    def __check_init__(self):
        _check_modes(self)
        val.check_nonnegative("rate", self.rate, hint="the relaxation rate hbar / (Delta0 tau) is >= 0")
        if self.temperature is not None:
            val.check_nonnegative("temperature", self.temperature, hint="temperatures are k_B T / Delta0")


def _relaxation_target(process: RelaxationTime, E: np.ndarray, N, h, T):
    """``(f_{L,s}, f_{T,s})`` the `RelaxationTime` process relaxes to (the shape of ``h``)."""
    if process.conserve:
        return local_equilibrium(E, N, h, temperature=T, conserve=process.conserve)[0]
    bath = jnp.stack([jnp.tanh(E / (2.0 * jnp.maximum(T, 1e-300))), jnp.zeros(E.shape[-1])], -1)
    return jnp.broadcast_to(bath, h.shape)


PROCESSES = (ElectronElectron, ElectronPhonon, RelaxationTime)
MODES = ("all", "energy")


def _check_modes(process) -> None:
    if process.modes not in MODES:
        raise ValueError(f"{type(process).__name__}.modes must be 'all' (every distribution mode) or 'energy' "
                         f"(f_L of each sector only), got {process.modes!r}")


# ----------------------------------------------------------------- FFT helpers
def _fft_size(n: int) -> int:
    """The smallest 5-smooth length ``L >= 2 n - 1``: the circular convolutions of ``n`` points then do not
    wrap, and the FFTs of such lengths are about as fast per point as powers of two (``n = 801``: 1620
    instead of 2048 points, 30 % less time per transform pair)."""
    L = 2 * n - 1
    while True:
        m = L
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return L
        L += 1


def _omega_circular(n: int, L: int, spacing: float) -> tuple[np.ndarray, np.ndarray]:
    """omega_k = k dE stored at circular index k mod L (zero where |k| >= n)."""
    k = np.arange(L)
    k = np.where(k < n, k, k - L)
    return k * spacing, np.abs(k) < n


def _spectra(N, M, f, L):
    F = jnp.fft.rfft
    return F(N, L), F(M, L), F(N * f, L), F(M * f, L)


def _outer(a, b, N, M, f, FN, FM, FNf, FMf, L, n):
    r"""``sum_k W(i, i-k) [(f_i - f_{i-k}) a_k + (1 - f_i f_{i-k}) b_k]`` and its diagonal part.

    ``W(i, j) = N_i N_j - M_i M_j``; ``a``, ``b`` in circular index order.
    Returns ``(value, diag)`` where ``diag = d value / d f_i`` at fixed ``f_{i-k}``.
    """
    Fa, Fb = jnp.fft.rfft(a, L), jnp.fft.rfft(b, L)
    Ir = lambda x: jnp.fft.irfft(x, L)[..., :n]  # noqa: E731
    xn = Ir(Fa * FN - Fb * FNf)
    xm = Ir(Fa * FM - Fb * FMf)
    yn = Ir(Fb * FN - Fa * FNf)
    ym = Ir(Fa * FMf - Fb * FM)
    diag = N * xn - M * xm
    return f * diag + N * yn + M * ym, diag


def _bubble(FN, FM, FNf, FMf, L):
    """A(omega) = int W'(1 - f' f2), B(omega) = int W'(f' - f2) as circular arrays (without dE), averaged
    over the partner's spin sector (axis 0; averaged before the inverse transforms, which are linear)."""
    c = jnp.conj
    Ir = lambda x: jnp.fft.irfft(jnp.mean(x, axis=0), L)  # noqa: E731
    A = Ir(c(FN) * FN - c(FM) * FM - c(FNf) * FNf + c(FMf) * FMf)
    B = Ir(c(FNf) * FN - c(FN) * FNf - c(FMf) * FM + c(FM) * FMf)
    return A, B


def energy_collision_integral(process, E, N, M, f, *, temperature=0.0, with_diagonal: bool = False):
    r"""The collision integral ``I_L(E)`` of the energy components alone (``f_T = 0``, ``modes="energy"``).

    The fast path of the approximation of seed 001: with ``f_{T,s} = 0`` the general integral
    (`collision_integral`) reduces exactly to this form, which needs only ``N`` and ``M``.

    Args:
        process: `ElectronElectron`, `ElectronPhonon` or `RelaxationTime`.
        E: uniform energy grid ``(n_E,)`` (a NumPy array: its spacing is read concretely).
        N, M: ``(n_s, ..., n_E)``: density of states ``Re g_s`` and anomalous spectral
            function ``Re f_s`` per spin sector (``n_s = 1`` or ``2``).
        f: ``(n_s, ..., n_E)``: ``f_{L,s}`` per sector.
        temperature: bath temperature of `RelaxationTime` when it has none.
        with_diagonal: also return ``d I_i / d f_i`` (out-scattering rate), used to precondition Newton.

    Returns ``I`` with the shape of ``f`` (and the diagonal).  The partner of an
    electron-electron collision is summed over both sectors.
    """
    E = np.asarray(E)
    n = E.shape[-1]
    spacing = float(E[1] - E[0])
    if isinstance(process, RelaxationTime):
        T = temperature if process.temperature is None else process.temperature
        h = jnp.stack([f, jnp.zeros_like(f)], -1)
        feq = _relaxation_target(process, E, N, h, T)[..., 0]
        diag = process.rate * N
        out = diag * (f - feq)
        return (out, diag) if with_diagonal else out
    L = _fft_size(n)
    w, valid = _omega_circular(n, L, spacing)
    FN, FM, FNf, FMf = _spectra(N, M, f, L)
    if isinstance(process, ElectronElectron):
        K = jnp.asarray(np.where(valid, process.kernel(w, spacing), 0.0))
        A, B = _bubble(FN, FM, FNf, FMf, L)  # partner summed over sectors (normalised per spin)
        pref = process.coefficient() / 4.0 * spacing
        a, b = K * A * spacing, K * B * spacing
    elif isinstance(process, ElectronPhonon):
        p = process.power
        T = process.temperature
        wa = np.abs(w)
        Kp = np.where(valid, np.sign(w) * wa ** p, 0.0)
        x = jnp.asarray(w) / (2.0 * jnp.maximum(T, 1e-300))
        # K coth(w / 2T) = |w|^p / tanh(|w| / 2T), finite at w = 0 (limit 2T for p = 1, 0 for p > 1)
        safe = jnp.where(wa > 0, x, 1.0)
        kc = jnp.where(wa > 0, jnp.asarray(wa ** p) / jnp.tanh(jnp.abs(safe)), 2.0 * T if p == 1.0 else 0.0)
        kc = jnp.where(jnp.asarray(valid), kc, 0.0)
        pref = process.rate / process.normalisation() / 2.0 * spacing
        a, b = kc, -jnp.asarray(Kp)
    else:
        raise TypeError(f"unknown collision process {type(process).__name__}; use one of "
                        f"{', '.join(p.__name__ for p in PROCESSES)}")
    out, diag = _outer(a, b, N, M, f, FN, FM, FNf, FMf, L, n)
    out, diag = pref * out, pref * diag
    return (out, diag) if with_diagonal else out


def dense_energy_collision_integral(process, E, N, M, f):
    """Reference for `energy_collision_integral`: explicit sums over all grid quadruples (NumPy, O(n^3))."""
    E = np.asarray(E)
    n = E.size
    d = float(E[1] - E[0])
    N, M, f = (np.asarray(a, float) for a in (N, M, f))
    ns = N.shape[0]
    out = np.zeros_like(f)
    W = N[:, :, None] * N[:, None, :] - M[:, :, None] * M[:, None, :]  # (s, i, j)
    if isinstance(process, ElectronElectron):
        C = float(process.coefficient())
        for s in range(ns):
            for i in range(n):
                acc = 0.0
                for j in range(n):  # j = index of E - omega
                    k = i - j
                    K = process.kernel(np.array([k * d]), d)[0]
                    f1 = f[s, j]
                    A = B = 0.0
                    for sp in range(ns):
                        lo, hi = max(0, -k), min(n, n - k)
                        jj = np.arange(lo, hi)
                        Wp = W[sp, jj, jj + k]
                        A += np.sum(Wp * (1 - f[sp, jj] * f[sp, jj + k])) / ns
                        B += np.sum(Wp * (f[sp, jj] - f[sp, jj + k])) / ns
                    acc += K * W[s, i, j] * ((f[s, i] - f1) * A * d + (1 - f[s, i] * f1) * B * d)
                out[s, i] = C / 4.0 * acc * d
        return out
    if isinstance(process, ElectronPhonon):
        C = float(process.rate) / process.normalisation()
        T = float(process.temperature)
        p = process.power
        for s in range(ns):
            for i in range(n):
                acc = 0.0
                for j in range(n):
                    w = (i - j) * d
                    if w == 0:
                        continue
                    Kp = np.sign(w) * abs(w) ** p
                    c = 1.0 / np.tanh(w / (2 * T)) if T > 0 else np.sign(w)
                    acc += W[s, i, j] * (Kp * c * (f[s, i] - f[s, j]) - Kp * (1 - f[s, i] * f[s, j]))
                out[s, i] = C / 2.0 * acc * d
        return out
    raise TypeError(type(process).__name__)


# ----------------------------------------------------------------- the full (Nambu) collision integral
def _nambu(g, f):
    """Retarded and advanced Nambu matrices ``g tau_3 + f i tau_2`` and ``-tau_3 (g^R)^+ tau_3``, (..., 2, 2, n_E)."""
    gR = jnp.stack([jnp.stack([g, f], -2), jnp.stack([-f, -g], -2)], -3)
    gc, fc = jnp.conj(g), jnp.conj(f)
    gA = jnp.stack([jnp.stack([-gc, -fc], -2), jnp.stack([fc, gc], -2)], -3)
    return gR, gA


def _diagonal(h):
    """Diagonal entries ``(f_L + f_T, f_L - f_T)`` of ``h = f_L + f_T tau_3``: (..., n_E, 2) -> (..., 2, n_E)."""
    return jnp.stack([h[..., 0] + h[..., 1], h[..., 0] - h[..., 1]], -2)


def _keldysh(gR, gA, d):
    """``g^K = g^R h - h g^A`` for the diagonal ``h`` with entries ``d`` (..., 2, n_E)."""
    return gR * d[..., None, :, :] - d[..., :, None, :] * gA


def _mm(X, Y):
    return jnp.einsum("...abn,...bcn->...acn", X, Y)


def _project(X):
    """``(1/4) Tr[M X]`` for ``M = 1`` (L) and ``tau_3`` (T): (..., 2, 2, n_E) -> (..., n_E, 2)."""
    return 0.25 * jnp.stack([X[..., 0, 0, :] + X[..., 1, 1, :], X[..., 0, 0, :] - X[..., 1, 1, :]], -1)


def _phonon_bath(process, w, valid):
    """Bath functions ``(Phi^K, Phi^Delta)`` of the phonons on the circular grid ``w``."""
    p, T = process.power, process.temperature
    wa = np.abs(w)
    Kp = np.where(valid, np.sign(w) * wa ** p, 0.0)
    safe = jnp.where(wa > 0, jnp.asarray(w) / (2.0 * jnp.maximum(T, 1e-300)), 1.0)
    kc = jnp.where(wa > 0, jnp.asarray(wa ** p) / jnp.tanh(jnp.abs(safe)), 2.0 * T if p == 1.0 else 0.0)
    return jnp.where(jnp.asarray(valid), kc, 0.0), jnp.asarray(Kp)


def _bubble_bath(process, FR, FA, FK, gK, dg, w, valid, spacing, L):
    """Bath functions of the electron-electron interaction: the kernel times the density bubble.

    ``P^K(w) = (1/2) int dE' Tr[g^K(E'+w) g^K(E') - dg(E'+w) dg(E')]`` and
    ``dP(w) = (1/2) int dE' Tr[dg(E'+w) g^K(E') - g^K(E'+w) dg(E')]`` (``dg = g^R - g^A``), averaged
    over the partner's spin sector; ``Phi = -K(w) P / 4``.
    """
    FD = FR - FA
    cK = jnp.conj(jnp.fft.fft(jnp.conj(gK), L))
    cD = jnp.conj(jnp.fft.fft(jnp.conj(dg), L))
    tr = lambda X, Y: jnp.einsum("...abq,...baq->...q", X, Y)  # noqa: E731
    PK = 0.5 * (tr(FK, cK) - tr(FD, cD))
    dP = 0.5 * (tr(FD, cK) - tr(FK, cD))
    PK, dP = (jnp.mean(jnp.real(jnp.fft.ifft(x, L)), axis=0, keepdims=True) * spacing for x in (PK, dP))
    K = jnp.asarray(np.where(valid, process.kernel(w, spacing), 0.0))
    return -0.25 * K * PK, -0.25 * K * dP


def collision_integral(process, E, g, f, h, *, temperature=0.0, with_diagonal: bool = False):
    r"""The collision integral ``(I_{L,s}, I_{T,s})(E)`` of ``process`` on the uniform grid ``E``.

    Per spin sector the Nambu self-energy of the process is built from the Green functions at
    ``E - omega`` and the bath functions ``Phi^K(omega)``, ``Phi^Delta(omega)`` (phonons:
    ``K(w) coth(w/2T)`` and ``K(w)``; electrons: the kernel times the density bubble of the
    electrons themselves, partner summed over both sectors),

        Sigma^R = Phi^K * g^R + (1/2) Phi^Delta * g^K,   Sigma^A = Phi^K * g^A - (1/2) Phi^Delta * g^K,
        Sigma^K = Phi^K * g^K + Phi^Delta * (g^R - g^A)              (* : convolution in energy),

    and the collision integral is ``I_k = c (1/4) Tr[M_k (g^R X - X g^A)]`` with
    ``X = Sigma^R h - h Sigma^A - Sigma^K``, ``M = (1, tau_3)``: the Keldysh part of
    ``[Sigma, g]`` with the retarded commutator (the change of the spectra by the collisions,
    not included in them) taken out.  ``X`` vanishes in equilibrium for any spectra, so detailed
    balance holds for every mode, and with ``f_T = 0`` the result is exactly
    `energy_collision_integral`.  ``docs/theory.md`` (section 13) has the derivation.

    Args:
        process: `ElectronElectron`, `ElectronPhonon` or `RelaxationTime`.
        E: uniform energy grid ``(n_E,)`` (a NumPy array: its spacing is read concretely).
        g, f: ``(n_s, ..., n_E)`` complex retarded ``g_s`` and ``f_s`` per spin sector.
        h: ``(n_s, ..., n_E, 2)``: ``(f_{L,s}, f_{T,s})`` per sector.
        temperature: bath temperature of `RelaxationTime` when it has none.
        with_diagonal: also return the ``2 x 2`` blocks ``d I / d h`` at the same energy and sector
            (at fixed self-energy: the out-scattering rates), used to precondition Newton.

    Returns ``I`` with the shape of ``h`` (and the blocks ``(..., n_E, 2, 2)``).
    """
    E = np.asarray(E)
    n = E.shape[-1]
    spacing = float(E[1] - E[0])
    if process.modes == "energy":
        h = jnp.stack([h[..., 0], jnp.zeros_like(h[..., 1])], -1)
    if isinstance(process, RelaxationTime):
        T = temperature if process.temperature is None else process.temperature
        N = jnp.real(g)
        target = _relaxation_target(process, E, N, h, T)
        out = process.rate * N[..., None] * (h - target)
        blocks = process.rate * N[..., None, None] * jnp.eye(2)
        if process.modes == "energy":
            out, blocks = out * jnp.array([1.0, 0.0]), blocks * jnp.diag(jnp.array([1.0, 0.0]))
        return (out, blocks) if with_diagonal else out
    L = _fft_size(n)
    w, valid = _omega_circular(n, L, spacing)
    gR, gA = _nambu(g, f)
    d = _diagonal(h)
    gK = _keldysh(gR, gA, d)
    FR, FA, FK = (jnp.fft.fft(x, L) for x in (gR, gA, gK))
    if isinstance(process, ElectronElectron):
        PhiK, PhiD = _bubble_bath(process, FR, FA, FK, gK, gR - gA, w, valid, spacing, L)
        PhiK, PhiD = PhiK[..., None, None, :], PhiD[..., None, None, :]
        pref = process.coefficient() / 8.0
    elif isinstance(process, ElectronPhonon):
        PhiK, PhiD = _phonon_bath(process, w, valid)
        pref = process.rate / process.normalisation() / 4.0
    else:
        raise TypeError(f"unknown collision process {type(process).__name__}; use one of "
                        f"{', '.join(p.__name__ for p in PROCESSES)}")
    HK, HD = jnp.fft.fft(PhiK, L), jnp.fft.fft(PhiD, L)
    conv = lambda X: jnp.fft.ifft(X, L)[..., :n] * spacing  # noqa: E731
    # the parts that depend on h (through g^K) once each: a linearisation carries two convolutions
    PK, PD = conv(HK * FK), conv(HD * FK)
    SR = conv(HK * FR) + 0.5 * PD
    SA = conv(HK * FA) - 0.5 * PD
    SK = PK + conv(HD * (FR - FA))
    X = SR * d[..., None, :, :] - d[..., :, None, :] * SA - SK
    full = _project(_mm(SR, gK) - _mm(gK, SA) + _mm(SK, gA) - _mm(gR, SK))  # L: the whole commutator
    sub = _project(_mm(gR, X) - _mm(X, gA))  # T: with the retarded commutator taken out
    out = pref * jnp.real(jnp.stack([full[..., 0], sub[..., 1]], -1))
    if process.modes == "energy":
        out = out * jnp.array([1.0, 0.0])
    if not with_diagonal:
        return out
    tau = (jnp.ones(2), jnp.array([1.0, -1.0]))
    cols = []
    for m in tau:  # d X / d h_l = Sigma^R M_l - M_l Sigma^A
        dX = SR * m[:, None] - m[:, None, None] * SA
        cols.append(jnp.real(_project(_mm(gR, dX) - _mm(dX, gA))))
    blocks = pref * jnp.stack(cols, -1)
    if process.modes == "energy":
        blocks = blocks * jnp.diag(jnp.array([1.0, 0.0]))
    return out, blocks


def dense_collision_integral(process, E, g, f, h):
    """Reference for `collision_integral`: the self-energies by explicit sums over the grid (NumPy, O(n_E^2)).

    ``g``, ``f``: ``(n_s, n_E)`` complex; ``h``: ``(n_s, n_E, 2)``.  Tests only.
    """
    E = np.asarray(E)
    n = E.size
    dE = float(E[1] - E[0])
    g, f, h = (np.asarray(a) for a in (g, f, h))
    if process.modes == "energy":
        h = np.stack([h[..., 0], 0.0 * h[..., 1]], -1)
    ns = g.shape[0]
    t3 = np.diag([1.0, -1.0])
    gR = np.zeros((ns, n, 2, 2), complex)
    gR[..., 0, 0], gR[..., 0, 1], gR[..., 1, 0], gR[..., 1, 1] = g, f, -f, -g
    gA = -np.einsum("ab,snbc,cd->snad", t3, np.conj(np.swapaxes(gR, -1, -2)), t3)
    H = h[..., 0, None, None] * np.eye(2) + h[..., 1, None, None] * t3
    gK = gR @ H - H @ gA
    dg = gR - gA
    omega = lambda i, j: (i - j) * dE  # noqa: E731
    if isinstance(process, ElectronElectron):
        PK = np.zeros(2 * n - 1)
        dP = np.zeros(2 * n - 1)
        for k in range(-(n - 1), n):
            for s in range(ns):
                for j in range(max(0, -k), min(n, n - k)):
                    a, b = gK[s, j + k], dg[s, j + k]  # at E' + omega
                    PK[k + n - 1] += 0.5 * np.real(np.trace(a @ gK[s, j] - b @ dg[s, j])) * dE / ns
                    dP[k + n - 1] += 0.5 * np.real(np.trace(b @ gK[s, j] - a @ dg[s, j])) * dE / ns
        ks = np.arange(-(n - 1), n)
        K = process.kernel(ks * dE, dE)
        phiK, phiD = -0.25 * K * PK, -0.25 * K * dP
        bath = lambda w: (phiK[int(round(w / dE)) + n - 1], phiD[int(round(w / dE)) + n - 1])  # noqa: E731
        pref = float(process.coefficient()) / 8.0
    elif isinstance(process, ElectronPhonon):
        T, p = float(process.temperature), process.power

        def bath(w):
            if w == 0:
                return (2.0 * T if p == 1.0 else 0.0), 0.0
            Kp = np.sign(w) * abs(w) ** p
            return Kp / np.tanh(w / (2 * T)), Kp

        pref = float(process.rate) / process.normalisation() / 4.0
    else:
        raise TypeError(type(process).__name__)
    out = np.zeros(h.shape)
    for s in range(ns):
        for i in range(n):
            SR = np.zeros((2, 2), complex)
            SA = np.zeros((2, 2), complex)
            SK = np.zeros((2, 2), complex)
            for j in range(n):  # the state at E - omega
                a, b = bath(omega(i, j))
                SR += (a * gR[s, j] + 0.5 * b * gK[s, j]) * dE
                SA += (a * gA[s, j] - 0.5 * b * gK[s, j]) * dE
                SK += (a * gK[s, j] + b * dg[s, j]) * dE
            X = SR @ H[s, i] - H[s, i] @ SA - SK
            C = gR[s, i] @ X - X @ gA[s, i]
            Cf = SR @ gK[s, i] - gK[s, i] @ SA + SK @ gA[s, i] - gR[s, i] @ SK
            out[s, i] = pref * 0.25 * np.real([np.trace(Cf), np.trace(t3 @ C)])
    if process.modes == "energy":
        out[..., 1] = 0.0
    return out
