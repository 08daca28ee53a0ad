"""Materials and electrodes as equinox Modules (pytrees).

All numeric fields are differentiable leaves and may be arrays: they broadcast
against each other and against the energy grid, so a batch of superconductors
(a field sweep, a temperature sweep) is one object.  Energies are in units of
Delta0, temperatures are k_B T / Delta0 (see `jaxqp.units`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar

import equinox as eqx
import jax.numpy as jnp
from jax import Array
from jax.typing import ArrayLike

from .distributions import fermi
from .internal import validation as val
from .spectral.bulk import SpectralParams, dos, green_functions, solve


def _as_array(x):
    return None if x is None else jnp.asarray(x)


class Electrode(eqx.Module):
    """Base class of everything that can sit on either side of a tunnel barrier.

    An electrode carries its temperature (``k_B T / Delta0``), its bias (the
    electrochemical potential in units of Delta0/e, positive bias drives current
    out of the electrode) and optionally a non-equilibrium ``distribution``:
    a callable ``f(E) -> array (2, ...)`` of spin-resolved occupations as a
    function of the energy measured from the electrode's own chemical potential.
    Without one, the electrode is in equilibrium (Fermi-Dirac at
    ``temperature``).  Subclasses declare these three fields last, after their
    material parameters, so that positional arguments follow the physics.
    """

    if TYPE_CHECKING:  # every electrode has these fields; the subclasses declare them last, after the physics
        temperature: ArrayLike | None
        bias: ArrayLike
        distribution: Callable | None

    # fields that may carry a batch of values (broadcast and flattened by sweeps)
    _batch_fields: ClassVar[tuple[str, ...]] = ("temperature", "bias")

    def dos(self, E) -> Array:  # pragma: no cover - abstract
        raise NotImplementedError

    def spectral(self, E) -> tuple[Array, Array]:
        """Pure DOS (2, ...) and a converged flag (...) for use inside transformed code."""
        N = self.dos(E)
        return N, jnp.ones(N.shape[1:], bool)

    def occupation(self, E, T=None) -> Array:
        """Spin-resolved occupation (2, ...) at energies E of the electrode's own frame."""
        E = jnp.asarray(E)
        if self.distribution is not None:
            occ = jnp.asarray(self.distribution(E))
            # a spin-independent distribution returns E's shape; a spinful one (2, *E.shape)
            return jnp.stack([occ, occ]) if occ.ndim == E.ndim else occ
        T = self.temperature if T is None else T
        if T is None:
            raise ValueError(
                f"{type(self).__name__} has no temperature: pass it to the call "
                f"(e.g. T_left=...) or construct {type(self).__name__}(..., temperature=...)."
            )

        f = fermi(E, T)
        return jnp.broadcast_to(f, (2,) + f.shape)

    def singular_points(self) -> tuple[list, Array]:
        """Energies (electrode frame) where the DOS has sharp features, and their width."""
        return [], jnp.asarray(0.0)

    def batch_shape(self) -> tuple:
        shapes = [jnp.shape(x) for x in (self.temperature, self.bias) if x is not None]
        return tuple(jnp.broadcast_shapes(*shapes)) if shapes else ()

    def _check_common(self):
        if self.temperature is not None:
            val.check_nonnegative(
                "temperature", self.temperature,
                hint="temperatures are k_B T / Delta0 and cannot be negative",
            )
        val.check_finite("bias", self.bias)


class NormalMetal(Electrode):
    """A normal-metal electrode: N_up = N_dn = 1.

    ``spin_bias`` V_s splits the spin chemical potentials (seed 002 Eq. 2):
    ``f_sigma(E) = f0(E - sigma V_s)`` in the electrode's frame, so that its spin
    accumulation ``(mu_up - mu_dn)/2`` is V_s (e.g. spin injected into the
    electrode from a ferromagnet elsewhere).
    """

    temperature: ArrayLike | None = eqx.field(default=None, converter=_as_array)
    bias: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    distribution: Callable | None = None
    spin_bias: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)

    _batch_fields: ClassVar[tuple[str, ...]] = ("temperature", "bias", "spin_bias")

    def __check_init__(self):
        self._check_common()
        val.check_finite("spin_bias", self.spin_bias)

    def batch_shape(self) -> tuple:
        shapes = [jnp.shape(x) for x in (self.temperature, self.bias, self.spin_bias) if x is not None]
        return tuple(jnp.broadcast_shapes(*shapes))

    def occupation(self, E, T=None) -> Array:
        if self.distribution is not None:
            return super().occupation(E, T)
        T = self.temperature if T is None else T
        if T is None:
            return super().occupation(E, T)  # raises the common message

        E = jnp.asarray(E)
        return jnp.stack([fermi(E - self.spin_bias, T), fermi(E + self.spin_bias, T)])

    def dos(self, E) -> Array:
        E = jnp.asarray(E)
        shape = jnp.broadcast_shapes(jnp.shape(E), self.batch_shape())
        return jnp.ones((2,) + tuple(shape), dtype=jnp.result_type(jnp.real(E), 1.0))


class Superconductor(Electrode):
    r"""Homogeneous (0-D) spin-split superconductor.

    The retarded Green's function solves the Maki-Fulde equation (see
    ``docs/theory.md``), written for the renormalised energies
    $v_\sigma = \Delta u_\sigma$:

    $$
    v_\sigma = E + \sigma h + i\Gamma + \zeta \frac{v_\sigma}{s_\sigma}
    + b_{so}\frac{v_{-\sigma}-v_\sigma}{s_{-\sigma}}
    + b_{sf}\Big[\frac{v_{-\sigma}+v_\sigma}{s_{-\sigma}} + \frac{v_\sigma}{s_\sigma}\Big],
    \qquad s_\sigma = \sqrt{\Delta^2 - v_\sigma^2}.
    $$

    Parameters (all in units of Delta0, all differentiable, all may be arrays):

    - ``delta``: pair potential Delta (>= 0; 0 gives the normal state).
    - ``h``: spin-splitting (Zeeman or exchange) energy; lowers spin up, so
      N_up(E) = N_BCS(E + h).
    - ``zeta``: orbital (Abrikosov-Gor'kov) depairing energy, e.g.
      ``(d_x phi)^2 / 2`` for a supercurrent or ``R_orb B^2 / Delta0`` for an
      in-plane field.
    - ``b_so``: spin-orbit scattering energy hbar / (3 tau_so).
    - ``b_sf``: spin-flip (magnetic impurity) scattering energy hbar / (3 tau_sf);
      at h = 0 it depairs like ``zeta = 3 b_sf``.
    - ``gamma``: Dynes broadening.
    """

    # zero depairing makes the bulk equation linear (closed form): jaxqp.internal.validation.freeze_known_zeros
    STATIC_ZEROS: ClassVar[tuple[str, ...]] = ("zeta", "b_so", "b_sf")
    delta: ArrayLike = eqx.field(default=1.0, converter=jnp.asarray)
    h: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    zeta: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    b_so: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    b_sf: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    gamma: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    temperature: ArrayLike | None = eqx.field(default=None, converter=_as_array)
    bias: ArrayLike = eqx.field(default=0.0, converter=jnp.asarray)
    distribution: Callable | None = None

    def __check_init__(self):
        val.check_nonnegative("delta", self.delta, hint="the pair potential is |Delta| >= 0")
        val.check_finite("h", self.h)
        val.check_nonnegative("zeta", self.zeta, hint="depairing is a rate, zeta >= 0")
        val.check_nonnegative("b_so", self.b_so, hint="spin-orbit scattering rate hbar/(3 tau_so) >= 0")
        val.check_nonnegative("b_sf", self.b_sf, hint="spin-flip scattering rate hbar/(3 tau_sf) >= 0")
        val.check_nonnegative("gamma", self.gamma, hint="the Dynes broadening is >= 0")
        self._check_common()

    def batch_shape(self) -> tuple:
        shapes = [
            jnp.shape(x)
            for x in (self.delta, self.h, self.zeta, self.b_so, self.b_sf, self.gamma,
                      self.temperature, self.bias)
            if x is not None
        ]
        return tuple(jnp.broadcast_shapes(*shapes))

    def solve(self, E, **options):
        """Retarded Green's functions at energies ``E``; see `jaxqp.spectral.solve`."""
        return solve(self, E, **options)

    def dos(self, E) -> Array:
        """Spin-resolved DOS, shape ``(2, *broadcast(E, batch))``: [N_up, N_dn]; see `jaxqp.dos`."""
        return dos(self, E)

    _batch_fields: ClassVar[tuple[str, ...]] = ("delta", "h", "zeta", "b_so", "b_sf", "gamma", "temperature",
                                                 "bias")

    def spectral(self, E) -> tuple[Array, Array]:
        E = jnp.asarray(E)
        _, g, _, ok = green_functions(E + 1j * self.gamma, self.spectral_params())
        return jnp.real(g), ok

    def spectral_params(self, **replace) -> SpectralParams:
        """The parameters of the homogeneous retarded equation (h, delta, zeta, b_so, b_sf), with
        ``replace`` overriding some (e.g. ``zeta=m.zeta + q**2 / 2`` for a supercurrent)."""
        return SpectralParams(self.h, self.delta, self.zeta, self.b_so, self.b_sf)._replace(**replace)

    def singular_points(self):
        # spin sigma has its coherence peaks at E = -sigma h +- Delta
        d, h = self.delta, self.h
        pts = [d - h, -d - h, d + h, -d + h]
        width = jnp.maximum(self.gamma, 1e-6) + self.zeta + 3.0 * self.b_sf
        return pts, width
