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

import jax.numpy as jnp
from jax import Array


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
