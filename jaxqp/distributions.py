"""Distribution functions.

Conventions (docs/theory.md section 5): ``f(E)`` is the occupation of states at
energy E measured from the electrode's own chemical potential.  The modes of
seeds 000/001 follow from the spin-resolved occupations as

- f_L(E) = f(-E) - f(E)      (energy mode; tanh(E/2T) in equilibrium)
- f_T(E) = 1 - f(E) - f(-E)  (charge mode; 0 in equilibrium)

per spin, with f_L = (f_L,up + f_L,dn)/2, f_T = (f_T,up + f_T,dn)/2,
f_L3 = (f_L,up - f_L,dn)/2 and f_T3 = (f_T,up - f_T,dn)/2, i.e.
f_{L,sigma} = f_L + sigma f_L3 (Bergeret et al., RMP 90, 041001).  Then seed 000
Eq. (2) holds: N_up f_up + N_dn f_dn = rho_+ (1 - f_L - f_T) - rho_- (f_T3 + f_L3).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array
from jax.custom_derivatives import SymbolicZero


def fermi(E, T) -> Array:
    """Fermi-Dirac occupation 1/(exp(E/T) + 1); a step (1/2 at E = 0) for T = 0.

    Written as (1 - tanh(E/2T))/2, which is overflow-free; differentiable in E
    and T (the T-derivative at T = 0 is taken as 0).
    """
    E = jnp.asarray(E)
    T = jnp.asarray(T)
    pos = T > 0
    T_safe = jnp.where(pos, T, 1.0)
    warm = 0.5 * (1.0 - jnp.tanh(E / (2.0 * T_safe)))
    cold = 0.5 * (1.0 - jnp.sign(E))
    return jnp.where(pos, warm, cold)


def modes(f_up, f_dn, f_up_neg, f_dn_neg):
    """Return (f_L, f_T, f_L3, f_T3) from spin-resolved occupations at +E and -E."""
    fl_u = f_up_neg - f_up
    fl_d = f_dn_neg - f_dn
    ft_u = 1.0 - f_up - f_up_neg
    ft_d = 1.0 - f_dn - f_dn_neg
    return 0.5 * (fl_u + fl_d), 0.5 * (ft_u + ft_d), 0.5 * (fl_u - fl_d), 0.5 * (ft_u - ft_d)


# ----------------------------------------------------------------------------- Fermi-window sums
def _fermi_derivative_polys(order: int) -> list:
    """Coefficients of q_d with d^d f/dx^d = q_d(tanh(x/2)) for f(x) = 1/(exp(x) + 1), d <= order."""
    from numpy.polynomial import polynomial as P

    q = [np.array([0.5, -0.5])]  # f = (1 - t)/2
    for _ in range(order):
        q.append(P.polymul(P.polyder(q[-1]), [0.5, 0.0, -0.5]))  # dt/dx = (1 - t^2)/2
    return q


_POLYS = _fermi_derivative_polys(8)


def _horner(coef, t):
    out = jnp.full_like(t, coef[-1])
    for c in coef[-2::-1]:
        out = out * t + c
    return out


@functools.partial(jax.custom_jvp, nondiff_argnums=(0,))
def fermi_sums(order: int, E, B, u, T) -> Array:
    r"""Sums of weights against a shifted Fermi function or its derivatives, for many shifts at once.

    $$
    S_{c s k r} = \sum_j B_{c s j r}\, f^{(d)}\!\left(\frac{E_{c j} - u_{c s k}}{T_c}\right),
    \qquad f(x) = \frac{1}{e^{x} + 1},
    $$

    with ``d = order``: the bias sweep of a tunnel current, where ``E`` are the quadrature nodes of one
    electrode's spectrum, ``B`` its weighted spectral densities (``r`` right-hand sides) and ``u`` the
    other electrode's Fermi edge at every bias.  Shapes: ``E (c, n)``, ``B (c, S, n, r)``,
    ``u (c, S or 1, k)``, ``T (c,)`` > 0; returns ``(c, S, k, r)``.

    The kernel matrix is formed once and every sum is a matrix product.  The derivative rule is
    written in the same sums one order up (d/dE_j, d/du_k and d/dT of the kernel are f^{(d+1)} times
    1/T, -1/T and -x/T), so forward-mode Jacobians with many tangents and derivatives of any order
    cost matrix products, not one elementwise pass over the kernel per tangent.
    """
    if order >= len(_POLYS):
        raise ValueError(f"fermi_sums supports derivative orders up to {len(_POLYS) - 1}, got {order}")
    x = (E[:, None, None, :] - u[..., None]) / T[:, None, None, None]
    K = _horner(_POLYS[order], jnp.tanh(0.5 * x))  # (c, S or 1, k, n)
    return jnp.matmul(K, B)


@functools.partial(fermi_sums.defjvp, symbolic_zeros=True)
def _fermi_sums_jvp(order, primals, tangents):
    # products with tangents stay separate from products of primals only (the tangent map must be
    # linear to be transposed); the kernels of equal order are identical and compiled once
    E, B, u, T = primals
    dE, dB, du, dT = tangents

    def zero(t):
        return isinstance(t, SymbolicZero)

    out = fermi_sums(order, E, B, u, T)
    tan = jnp.zeros_like(out) if zero(dB) else fermi_sums(order, E, dB, u, T)
    inv = (1.0 / T)[:, None, None, None]
    if not zero(dE):
        tan = tan + inv * fermi_sums(order + 1, E, B * dE[:, None, :, None], u, T)
    if not (zero(du) and zero(dT)):
        r = B.shape[-1]
        up = fermi_sums(order + 1, E, jnp.concatenate([B, B * E[:, None, :, None]], axis=-1), u, T)
        up_B, up_EB = up[..., :r], up[..., r:]
        if not zero(du):
            tan = tan - inv * du[..., None] * up_B
        if not zero(dT):  # d/dT f((E - u)/T) = -(E - u)/T^2 f'
            tan = tan - (inv * inv * dT[:, None, None, None]) * (up_EB - u[..., None] * up_B)
    return out, jnp.broadcast_to(tan, out.shape)
