r"""Thermospin effect in a superconductor / insulator / spin-split superconductor junction (seed 004).

Paper: G. Germanese, F. Paolucci, G. Marchegiani, A. Braggio and F. Giazotto, Spontaneous symmetry
breaking induced thermospin effect in superconducting tunnel junctions, arXiv:2105.01527 (2021).
https://arxiv.org/abs/2105.01527

A hot BCS superconductor S (temperature T_S, no spin splitting) biased at V
tunnels into a cold superconductor Sm (T_Sm) whose DOS is spin-split by an
exchange field h.  Both gaps are self-consistent, Delta_S = Delta(T_S) and
Delta_Sm = Delta(T_Sm, h) (stable branch, so Sm turns normal beyond the
Chandrasekhar-Clogston field).  The DOS are Dynes-BCS (seed 004 Eq. 1)
unless depairing or spin-orbit scattering is added to Sm.  Currents are in
units of G_T Delta0/e, voltages in Delta0/e, temperatures in Delta0/k_B; Tc
is the weak-coupling e^gamma/pi.

Figures of merit (seed 004):
- ``G0``: the zero-bias conductance dI_q/dV at V = 0 (negative: thermoelectric).
- ``V_p^-`` = |Delta_S - (Delta_Sm - h)|, ``V_p^+`` = |Delta_S - Delta_Sm - h|:
  matching-peak voltages; ``G_max`` = I_q(V_p^-)/V_p^-.
- Seebeck voltage V_S > 0: I_q(V_S) = 0 with I_q < 0 on (0, V_S).
- Spin-current generation efficiency SGE = I_s/(|I_up| + |I_dn|).
- Threshold field h_t = Delta(T_Sm) - Delta(T_S) above which the junction is
  thermoelectric, and its estimate 1 - tanh(1.74 sqrt(Tc/T_S - 1)).

Every function broadcasts its arguments, so a map over (T_S, h) is one call:
``g0(h=h[None, :], T_S=T_S[:, None])``.
"""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jax import Array, lax
from jax.typing import ArrayLike

from ..internal import validation as val
from ..internal.roots import bracketed_newton, newton_polish
from ..junction import SpinCurrents, current_and_conductance, differential_conductance, tunnel_current
from ..materials import Superconductor
from ..selfconsistency import TC0, gap

DEFAULT_GAMMA = 1e-4
DEFAULT_T_SM = 0.01 * TC0


class ThermospinJunction(eqx.Module):
    """S-I-Sm junction; fields broadcast (arrays give a batch of junctions).

    ``delta_S``/``delta_Sm`` override the self-consistent gaps when given.
    """

    h: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    T_S: ArrayLike = eqx.field(default=0.7 * TC0, converter=jnp.asarray)
    T_Sm: ArrayLike = eqx.field(default=DEFAULT_T_SM, converter=jnp.asarray)
    gamma: ArrayLike = eqx.field(default=DEFAULT_GAMMA, converter=jnp.asarray)
    zeta_Sm: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    b_so_Sm: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    delta_S: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)
    delta_Sm: ArrayLike | None = eqx.field(default=None, converter=val.optional_array)

    def __check_init__(self):
        val.check_nonnegative("T_S", self.T_S, hint="temperatures are k_B T / Delta0")
        val.check_nonnegative("T_Sm", self.T_Sm, hint="temperatures are k_B T / Delta0")
        val.check_finite("h", self.h)
        val.check_nonnegative("gamma", self.gamma)

    def gaps(self) -> tuple[Array, Array]:
        """(Delta_S, Delta_Sm): given, or self-consistent (stable branch)."""
        dS = gap(self.T_S) if self.delta_S is None else jnp.asarray(self.delta_S)
        if self.delta_Sm is None:
            dSm = gap(self.T_Sm, h=self.h, zeta=self.zeta_Sm, b_so=self.b_so_Sm)
        else:
            dSm = jnp.asarray(self.delta_Sm)
        return dS, dSm

    def electrodes(self) -> tuple[Superconductor, Superconductor]:
        """(S, Sm): S is the biased (left) electrode, as in seed 004 Eq. 2."""
        dS, dSm = self.gaps()
        S = Superconductor(delta=dS, gamma=self.gamma, temperature=self.T_S)
        Sm = Superconductor(delta=dSm, h=self.h, zeta=self.zeta_Sm, b_so=self.b_so_Sm, gamma=self.gamma,
                            temperature=self.T_Sm)
        return S, Sm

    def with_gaps(self) -> ThermospinJunction:
        """The same junction with its self-consistent gaps evaluated and stored."""
        dS, dSm = self.gaps()
        return eqx.tree_at(lambda j: (j.delta_S, j.delta_Sm), self, (dS, dSm), is_leaf=lambda x: x is None)


def _resolve(junction, kw):
    if junction is None:
        junction = ThermospinJunction(**kw)
    elif kw:
        raise TypeError("pass either a ThermospinJunction or its parameters, not both")
    if junction.delta_S is None or junction.delta_Sm is None:
        junction = junction.with_gaps()
    return junction


def currents(V, junction: ThermospinJunction | None = None, *, n_energy: int = 2001, **params) -> SpinCurrents:
    """Spin-resolved quasiparticle currents (I_up, I_dn) from S to Sm at bias V."""
    j = _resolve(junction, params)
    S, Sm = j.electrodes()
    return tunnel_current(S, Sm, V, n_energy=n_energy)


def g0(junction: ThermospinJunction | None = None, *, n_energy: int = 2001, **params) -> Array:
    """Zero-bias conductance G0 = dI_q/dV at V = 0, units of G_T (autodiff)."""
    j = _resolve(junction, params)
    S, Sm = j.electrodes()
    return differential_conductance(S, Sm, jnp.zeros(()), n_energy=n_energy).charge


def peak_voltages(junction: ThermospinJunction | None = None, **params) -> tuple[Array, Array]:
    """(V_p^-, V_p^+) = (|Delta_S - Delta_Sm + h|, |Delta_S - Delta_Sm - h|)."""
    j = _resolve(junction, params)
    dS, dSm = j.delta_S, j.delta_Sm
    return jnp.abs(dS - dSm + j.h), jnp.abs(dS - dSm - j.h)


def at_inner_peak(junction: ThermospinJunction | None = None, *, n_energy: int = 2001, **params) -> dict:
    """Currents at V = +V_p^- and G_max = I_q(V_p^-)/V_p^- (seed 004 Figs. 2d, 3c)."""
    j = _resolve(junction, params)
    vm, _ = peak_voltages(j)
    S, Sm = j.electrodes()
    I = tunnel_current(S, Sm, vm, n_energy=n_energy)
    # G_max is undefined where the peaks merge at V = 0 (h = 0 and T_S -> 0)
    ok = vm > 1e-6
    safe = jnp.where(ok, vm, 1.0)
    return {"V_p": vm, "current": I, "G_max": jnp.where(ok, I.charge / safe, jnp.nan)}


def spin_generation_efficiency(I: SpinCurrents) -> Array:
    """SGE = I_s / (|I_up| + |I_dn|) (seed 004 Fig. 3b)."""
    return I.spin / (jnp.abs(I.up) + jnp.abs(I.dn))


def threshold_field(T_S, T_Sm=DEFAULT_T_SM) -> Array:
    """h_t = Delta(T_Sm) - Delta(T_S): thermoelectricity needs Delta(T_S) > Delta(T_Sm) - h."""
    return gap(T_Sm) - gap(T_S)


def threshold_field_estimate(T_S) -> Array:
    """Seed 004's estimate h_t = 1 - tanh(1.74 sqrt(Tc/T_S - 1)) (units of Delta0)."""
    T_S = jnp.asarray(T_S)
    return 1.0 - jnp.tanh(1.74 * jnp.sqrt(jnp.maximum(TC0 / T_S - 1.0, 0.0)))


def seebeck_voltage(junction: ThermospinJunction | None = None, *, v_max: float = 2.0, n_scan: int = 96,
                    n_energy: int = 2001, **params) -> tuple[Array, Array]:
    """Seebeck voltage V_S > 0: the bias at which the thermocurrent stops, I_q(V_S) = 0.

    The thermoactive window is where I_q(V) V < 0.  It starts at V = 0 when
    G0 < 0 (linear regime) or opens around the inner matching peak V_p^- when
    only the nonlinear response is thermoelectric; V_S is its upper edge, the
    largest V > 0 where I_q crosses from negative to positive (the open-circuit
    voltage of the thermoelectric junction).  I_q is scanned on (0, v_max]
    plus V_p^- (so narrow windows are not missed) and the crossing is refined
    by bracketed Newton with the autodiff conductance.

    Returns ``(V_S, found)``; V_S is NaN where I_q >= 0 at every V > 0 (purely
    dissipative).  By particle-hole symmetry -V_S is a root too.
    Differentiable (implicit function theorem at the root).
    """
    j = _resolve(junction, params)
    S, Sm = j.electrodes()
    shape = jnp.broadcast_shapes(S.batch_shape(), Sm.batch_shape())
    vp, _ = peak_voltages(j)
    base = jnp.broadcast_to(jnp.linspace(v_max / n_scan, v_max, n_scan), shape + (n_scan,))
    Vs = jnp.sort(jnp.concatenate([base, jnp.broadcast_to(vp, shape)[..., None]], axis=-1), axis=-1)
    Vs = lax.stop_gradient(Vs)
    # scan with the voltage as a trailing batch axis
    S_e = jax.tree.map(lambda x: jnp.asarray(x)[..., None], S)
    Sm_e = jax.tree.map(lambda x: jnp.asarray(x)[..., None], Sm)
    Iq = tunnel_current(S_e, Sm_e, Vs, n_energy=n_energy).charge
    up = (Iq[..., :-1] < 0) & (Iq[..., 1:] >= 0)
    found = jnp.any(up, axis=-1)
    idx = up.shape[-1] - 1 - jnp.argmax(up[..., ::-1], axis=-1)  # last crossing
    a = jnp.take_along_axis(Vs, idx[..., None], axis=-1)[..., 0]
    b = jnp.take_along_axis(Vs, (idx + 1)[..., None], axis=-1)[..., 0]
    fa = jnp.take_along_axis(Iq, idx[..., None], axis=-1)[..., 0]
    fb = jnp.take_along_axis(Iq, (idx + 1)[..., None], axis=-1)[..., 0]
    a = jnp.where(found, a, 0.5)
    b = jnp.where(found, b, 0.6)
    fa = jnp.where(found, fa, -1.0)
    fb = jnp.where(found, fb, 1.0)
    S_s, Sm_s = lax.stop_gradient((S, Sm))

    def f_and_df(v):
        I, G = current_and_conductance(S_s, Sm_s, v, n_energy=n_energy)
        return I.charge, G.charge

    root, conv, _ = bracketed_newton(f_and_df, a, b, fa, fb, rtol=1e-10, maxiter=40, active=found)
    root = lax.stop_gradient(root)
    # differentiable polish: exact implicit derivative at the root
    I, G = current_and_conductance(S, Sm, root, n_energy=n_energy)
    vs = newton_polish(root, I.charge, lax.stop_gradient(G.charge))
    ok = found & conv
    return jnp.where(ok, vs, jnp.nan), ok
