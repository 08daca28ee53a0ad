r"""Inelastic collision integrals for the energy mode ``f_L`` of a superconductor.

Three processes, each an equinox Module whose ``rate`` is a dimensionless
relaxation rate ``gamma = hbar / (Delta0 tau)``:

- `ElectronElectron`: the electron-electron collision integral with the
  coherence factors of the superconducting state (the form of seed 001, from
  Bobkova and Bobkov, PRB 93, 024513 (2016), Eq. (16)).  It conserves energy
  and particle number, and it contains pair breaking: a quasiparticle at
  ``E >= 3 Delta`` can give ``2 Delta`` to the condensate.
- `ElectronPhonon`: relaxation to a phonon bath at ``temperature`` with
  ``alpha^2 F(omega) ~ |omega|^power`` (``power = 2``: three-dimensional
  Debye phonons, normal-state heat flow ``~ T_e^5 - T_ph^5``).
- `RelaxationTime`: ``I = gamma N (f_L - tanh(E / 2T))``, the cheap option.

Normalisation: ``rate`` is the relaxation rate of a quasiparticle at the Fermi
level of the *normal* state at ``T = T_c`` (``T_c = e^gamma_E / pi`` in units of
Delta0), the definition of seed 001 (``gamma_ee = hbar / Delta0 tau_ee``).

All integrals run on a **uniform** energy grid (spacing ``dE``): energy
conservation then maps grid points to grid points, detailed balance holds
exactly on the grid, and every double integral is a pair of correlations and
convolutions evaluated by FFT in ``O(n_E log n_E)``.  States outside the grid
are taken as absent, so the grid must extend a few temperatures past the
highest injection energy (the energies outside are then blocked anyway).

The sign is that of seed 001 Eq. (9): ``D_L d_x^2 f_L = I_L``, so
``I_L ~ gamma N (f_L - f_eq)`` near equilibrium.  The equations are written out
in ``docs/theory.md`` (section 13).
"""

from __future__ import annotations

import math

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.typing import ArrayLike

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
    r"""Electron-electron scattering, kernel ``K(omega) = |omega / Delta0|^(-power)``.

    ``power = 0`` (default): constant matrix element, normal-state rate
    ``~ E^2 + pi^2 T^2``; ``power = 1/2``: one-dimensional diffusive wire.
    ``rate`` = ``gamma_ee = hbar / (Delta0 tau_ee)`` (seed 001: ``2e-4``).
    """

    rate: ArrayLike = eqx.field(converter=jnp.asarray)
    power: float = eqx.field(default=0.0, static=True)

    def __check_init__(self):
        val.check_nonnegative("rate", self.rate, hint="gamma_ee = hbar / (Delta0 tau_ee) is a rate, >= 0")
        if not 0.0 <= self.power < 1.0:
            raise ValueError(f"ElectronElectron.power must lie in [0, 1) (integrable kernel), got {self.power}")

    def normalisation(self) -> float:
        """Normal-state rate at E = 0, T = T_c per unit prefactor: int K(w) w / sinh(w / T_c) dw."""
        s = 2.0 - self.power
        return 2.0 * _tc() ** s * _mellin_sinh(s)

    def kernel(self, omega: np.ndarray, spacing: float) -> np.ndarray:
        w = np.abs(omega)
        if self.power == 0.0:
            return np.ones_like(w)
        k = np.maximum(w, 1e-300) ** (-self.power)
        # cell average over |omega| < dE/2 for the integrable singularity at 0
        k0 = (0.5 * spacing) ** (-self.power) / (1.0 - self.power)
        return np.where(w == 0, k0, k)


class ElectronPhonon(eqx.Module):
    r"""Electron-phonon relaxation to a bath at ``temperature``, ``alpha^2 F ~ |omega|^power`` (power >= 1)."""

    rate: ArrayLike = eqx.field(converter=jnp.asarray)
    temperature: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    power: float = eqx.field(default=2.0, static=True)

    def __check_init__(self):
        val.check_nonnegative("rate", self.rate, hint="the electron-phonon rate hbar / (Delta0 tau_eph) is >= 0")
        val.check_nonnegative("temperature", self.temperature, hint="the phonon temperature is k_B T_ph / Delta0")
        if self.power < 1.0:
            raise ValueError(f"ElectronPhonon.power must be >= 1, got {self.power}")

    def normalisation(self) -> float:
        """Normal-state rate at E = 0, T = T_c per unit prefactor: 2 int_0^inf w^p / sinh(w / T_c) dw."""
        s = self.power + 1.0
        return 2.0 * _tc() ** s * _mellin_sinh(s)


class RelaxationTime(eqx.Module):
    """``I_L = rate * N (f_L - tanh(E / 2 T))``; ``temperature=None``: the wire's bath temperature."""

    rate: ArrayLike = eqx.field(converter=jnp.asarray)
    temperature: Array | None = None

    def __check_init__(self):
        val.check_nonnegative("rate", self.rate, hint="the relaxation rate hbar / (Delta0 tau) is >= 0")
        if self.temperature is not None:
            val.check_nonnegative("temperature", self.temperature, hint="temperatures are k_B T / Delta0")


PROCESSES = (ElectronElectron, ElectronPhonon, RelaxationTime)


# ----------------------------------------------------------------- FFT helpers
def _fft_size(n: int) -> int:
    return 1 << int(math.ceil(math.log2(2 * n - 1)))


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
    """A(omega) = int W'(1 - f' f2), B(omega) = int W'(f' - f2) as circular arrays (without dE)."""
    c = jnp.conj
    Ir = lambda x: jnp.fft.irfft(x, L)  # noqa: E731
    A = Ir(c(FN) * FN - c(FM) * FM - c(FNf) * FNf + c(FMf) * FMf)
    B = Ir(c(FNf) * FN - c(FN) * FNf - c(FMf) * FM + c(FM) * FMf)
    return A, B


def collision_integral(process, E, N, M, f, *, temperature=0.0, with_diagonal: bool = False):
    r"""The collision integral ``I_L(E)`` of ``process`` on the uniform grid ``E``.

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
        feq = jnp.tanh(E / (2.0 * jnp.maximum(T, 1e-300)))
        diag = process.rate * N
        out = diag * (f - feq)
        return (out, diag) if with_diagonal else out
    L = _fft_size(n)
    w, valid = _omega_circular(n, L, spacing)
    FN, FM, FNf, FMf = _spectra(N, M, f, L)
    if isinstance(process, ElectronElectron):
        K = jnp.asarray(np.where(valid, process.kernel(w, spacing), 0.0))
        A, B = _bubble(FN, FM, FNf, FMf, L)
        A, B = jnp.mean(A, axis=0), jnp.mean(B, axis=0)  # partner summed over sectors (normalised per spin)
        pref = process.rate / process.normalisation() / 4.0 * spacing
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


def dense_collision_integral(process, E, N, M, f):
    """Reference: the same integral by explicit sums over all grid quadruples (NumPy, O(n^3)); tests only."""
    E = np.asarray(E)
    n = E.size
    d = float(E[1] - E[0])
    N, M, f = (np.asarray(a, float) for a in (N, M, f))
    ns = N.shape[0]
    out = np.zeros_like(f)
    W = N[:, :, None] * N[:, None, :] - M[:, :, None] * M[:, None, :]  # (s, i, j)
    if isinstance(process, ElectronElectron):
        C = float(process.rate) / process.normalisation()
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
