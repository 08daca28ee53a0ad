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
from jax import Array, lax
from jax.custom_derivatives import SymbolicZero

from .internal.blocktri import small_solve
from .internal.engine import LinearSystem, implicit_solve


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


# ----------------------------------------------------------------------------- local equilibrium
CONSERVED = ("charge", "spin", "energy")


def conserved_quantities(value) -> tuple:
    """Normalise a choice of conserved quantities: ``"all"``, one name or several of `CONSERVED`."""
    if isinstance(value, str):
        value = CONSERVED if value == "all" else (value,)
    value = tuple(value)
    bad = [v for v in value if v not in CONSERVED]
    if bad:
        raise ValueError(f"conserved quantities are any of {CONSERVED} (or 'all'), got {bad}; "
                         "e.g. conserve=('charge', 'energy')")
    return tuple(c for c in CONSERVED if c in value)


def equilibrium_modes(E, mu, spin, T, n_sectors: int = 2) -> Array:
    r"""``(f_{L,s}, f_{T,s})`` of Fermi functions at potential ``mu``, spin splitting ``spin`` and ``T``.

    Per sector ``s = +1, -1`` (sector 0 is ``s = +1``),
    ``f_{L,s} = [t(E - mu - s spin) + t(E + mu - s spin)] / 2`` and
    ``f_{T,s} = [t(E - mu - s spin) - t(E + mu - s spin)] / 2`` with ``t(e) = tanh(e / 2T)``:
    electrons of spin ``s`` at the potential ``mu + s spin``.  ``mu``, ``spin``, ``T``: ``(...)``;
    returns ``(n_sectors, ..., n_E, 2)``.
    """
    E = jnp.asarray(E)
    mu, spin, T = (jnp.asarray(a)[..., None] for a in (mu, spin, T))
    s = jnp.asarray([1.0, -1.0][:n_sectors]).reshape((n_sectors,) + (1,) * mu.ndim)
    T2 = 2.0 * jnp.maximum(T, 1e-300)
    a = jnp.tanh((E - mu - s * spin) / T2)
    b = jnp.tanh((E + mu - s * spin) / T2)
    return jnp.stack([0.5 * (a + b), 0.5 * (a - b)], -1)


def _moments(E, N, h, s):
    """Charge, spin and energy moments ``(sum N f_T, sum s N f_L, sum E N f_L)``, (P, 3)."""
    c = jnp.sum(N * h[..., 1], axis=(-2, -1))
    sp = jnp.sum(s[:, None] * N * h[..., 0], axis=(-2, -1))
    en = jnp.sum(E * N * h[..., 0], axis=(-2, -1))
    return jnp.stack([c, sp, en], -1)


class _LocalProblem:
    """Residual and Jacobian of the moment equations, per point; static data only."""

    def __init__(self, E, n_sectors, conserve):
        self.E = np.asarray(E)
        self.s = np.asarray([1.0, -1.0][:n_sectors])  # NumPy: a constant, never a traced value
        self.ns = n_sectors
        self.use = np.array([c in conserve and (c != "spin" or n_sectors == 2) for c in CONSERVED])

    def target(self, u, Tb):
        T = jnp.exp(u[..., 2]) if self.use[2] else Tb
        h = equilibrium_modes(self.E, u[..., 0], u[..., 1], T, self.ns)  # (ns, P, nE, 2)
        return jnp.moveaxis(h, 0, -3)  # (P, ns, nE, 2)

    def residual(self, u, inputs):
        N, h, Tb = inputs
        scale = jnp.sum(N, axis=(-2, -1))[..., None] * jnp.asarray([1.0, 1.0, np.max(np.abs(self.E))]) + 1e-300
        R = (_moments(self.E, N, h, self.s) - _moments(self.E, N, self.target(u, Tb), self.s)) / scale
        return jnp.where(jnp.asarray(self.use), R, u)

    def jacobian(self, u, inputs):
        one = lambda v, q: self.residual(v[None], jax.tree.map(lambda a: a[None], q))[0]  # noqa: E731
        J = jax.vmap(jax.jacfwd(one))(u, inputs)
        return J + 1e-14 * jnp.eye(3)  # no states at all: a regular (trivial) system

    def linearise(self, u, inputs):
        J = jnp.asarray(self.jacobian(u, inputs))
        Jt = jnp.swapaxes(J, -1, -2)
        return LinearSystem(matvec=lambda v: jnp.einsum("pij,pj->pi", J, v),
                            solve=lambda b: small_solve(J, b[..., None])[..., 0],
                            transpose_solve=lambda b, _: small_solve(Jt, b[..., None])[..., 0])

    def primal(self, inputs, u0):
        eps = float(jnp.finfo(u0.dtype).eps)
        tol = 1e3 * eps
        clip = jnp.asarray([0.25 * np.max(np.abs(self.E)), 0.25 * np.max(np.abs(self.E)), 1.0])

        def body(state):
            u, _, k = state
            R = self.residual(u, inputs)
            du = small_solve(self.jacobian(u, inputs), -R[..., None])[..., 0]
            du = jnp.clip(du, -clip, clip)
            # done: the update is at the tolerance, or the (scaled, O(1)) residual at round-off, where the
            # update is round-off amplified by the condition number
            small = jnp.max(jnp.abs(R), axis=-1) <= 1e2 * eps
            step = jnp.max(jnp.abs(du) / (1.0 + jnp.abs(u)), axis=-1)
            return u + du, jnp.where(small, 0.0, step), k + 1

        def cond(state):
            _, step, k = state
            return (k < 60) & jnp.any(step > tol)

        u, step, k = lax.while_loop(cond, body, (u0, jnp.full(u0.shape[:-1], jnp.inf, u0.dtype), 0))
        ok = (step <= tol) & jnp.all(jnp.isfinite(u), axis=-1)
        return u, ok


def local_equilibrium(E, N, h, *, temperature, conserve="all", weights=None):
    r"""The local equilibrium of the distributions ``h``: Fermi functions with the same conserved moments.

    At every point the potential ``mu``, spin splitting ``spin`` and temperature ``T`` of
    `equilibrium_modes` are chosen so that the target has the moments of ``h`` that are in
    ``conserve``,

    $$
    \sum_{s,E} N_s f_{T,s},\qquad \sum_{s,E} s\, N_s f_{L,s},\qquad \sum_{s,E} E\, N_s f_{L,s}
    $$

    (charge, spin, energy: the quantities whose currents the kinetic equations conserve when the
    collision integral is orthogonal to ``1``, ``s`` and ``E`` with these weights); the others
    take their bath values ``mu = spin = 0``, ``T = temperature``.  Newton on the three
    unknowns per point (``T`` as ``log T``), derivatives by the implicit-function theorem
    (forward and reverse mode).

    Args:
        E: energy grid ``(n_E,)`` (NumPy).
        N: ``(n_s, ..., n_E)`` density of states per sector (broadcast against ``h``).
        h: ``(n_s, ..., n_E, 2)``: ``(f_{L,s}, f_{T,s})``.
        temperature: bath temperature (scalar).
        conserve: ``"all"``, or any of ``"charge"``, ``"spin"``, ``"energy"``.
        weights: quadrature weights ``(n_E,)`` of the sums over energy (default: equal weights,
            a uniform grid).

    Returns:
        ``(target, (mu, spin, T), converged)``: the target with the shape of ``h``, the parameters
        and the convergence flag, each ``(...)``.  A point that does not converge (60 Newton steps)
        gets a NaN target, so a solver that uses it reports the failure.
    """
    conserve = conserved_quantities(conserve)
    E = np.asarray(E)
    h = jnp.asarray(h)
    ns = h.shape[0]
    N = jnp.broadcast_to(jnp.asarray(N, h.dtype), h.shape[:-1])
    if weights is not None:
        N = N * jnp.asarray(weights, h.dtype)
    batch = h.shape[1:-2]
    P = int(np.prod(batch, dtype=int))
    Nf = jnp.moveaxis(N, 0, -2).reshape((P, ns, E.size))
    hf = jnp.moveaxis(h, 0, -3).reshape((P, ns, E.size, 2))
    Tb = jnp.broadcast_to(jnp.asarray(temperature, h.dtype), (P,))
    target, u, T, ok = _local_solve(tuple(E.tolist()), ns, conserve, Nf, hf, Tb)
    target = jnp.moveaxis(target.reshape(batch + (ns, E.size, 2)), -3, 0)
    params = tuple(a.reshape(batch) for a in (u[:, 0], u[:, 1], T))
    return target, params, ok.reshape(batch)


@functools.partial(jax.jit, static_argnums=(0, 1, 2))
def _local_solve(E_points: tuple, ns: int, conserve: tuple, Nf, hf, Tb):
    """The Newton solve of `local_equilibrium` on flat points (one compiled program per grid and choice)."""
    E = np.asarray(E_points)
    prob = _LocalProblem(E, ns, conserve)
    dE = float(E[1] - E[0]) if E.size > 1 else 1.0
    P = Tb.shape[0]
    u0 = jnp.stack([jnp.zeros(P), jnp.zeros(P), jnp.log(jnp.maximum(Tb, dE))], -1).astype(hf.dtype)
    u, ok = implicit_solve(prob.primal, prob.residual, prob.linearise, (Nf, hf, Tb), lax.stop_gradient(u0))
    target = jnp.where(ok[:, None, None, None], prob.target(u, Tb), jnp.nan)
    T = jnp.exp(u[:, 2]) if prob.use[2] else Tb
    return target, u, T, ok
