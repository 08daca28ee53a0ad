"""Small dense solves without LAPACK: against numpy, with pivoting, complex blocks and derivatives;
block-tridiagonal solves, factors and transposes against the dense matrix;
and independent batched solves in one program (which deadlock jaxlib 0.10's CPU LAPACK kernels)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxqp.internal.blocktri import (
    block_factor,
    block_thomas,
    block_thomas_last,
    dense_matrix,
    factored_solve,
    small_solve,
    transpose_blocks,
)


def test_small_solve_against_numpy_with_pivoting_and_derivatives():
    rng = np.random.default_rng(3)
    for k, cplx in ((4, False), (8, False), (3, True)):
        M = rng.standard_normal((40, k, k)) + (1j * rng.standard_normal((40, k, k)) if cplx else 0.0)
        M[:, 0, 0] = 0.0  # a zero leading pivot: fails without row exchanges
        R = rng.standard_normal((40, k, 2))
        np.testing.assert_allclose(np.asarray(small_solve(jnp.asarray(M), jnp.asarray(R))), np.linalg.solve(M, R),
                                   rtol=1e-9, atol=1e-10)
    M = jnp.asarray(rng.standard_normal((5, 4, 4)) + 4 * np.eye(4))
    R = jnp.asarray(rng.standard_normal((5, 4, 1)))
    ours = jax.grad(lambda M: jnp.sum(small_solve(M, R) ** 2))(M)
    ref = jax.grad(lambda M: jnp.sum(jnp.linalg.solve(M, R) ** 2))(M)
    np.testing.assert_allclose(np.asarray(ours), np.asarray(ref), rtol=1e-9, atol=1e-12)


def test_independent_batched_solves_in_one_program_finish():
    """Four independent 30,000-block solves in one jitted program (the shape of a primal plus tangent
    solves): a LAPACK-based version waits forever on a 2-core CPU."""
    k = jax.random.split(jax.random.PRNGKey(0), 4)
    n = 30000
    A = jnp.eye(4) * 3 + 0.1 * jax.random.normal(k[0], (n, 4, 4))
    C = jnp.eye(4) * 3 + 0.1 * jax.random.normal(k[1], (n, 4, 4))
    B, D = jax.random.normal(k[2], (n, 4, 2)), jax.random.normal(k[3], (n, 4, 2))
    out = jax.jit(lambda A, B, C, D: (small_solve(A, B), small_solve(C, D), small_solve(A, D), small_solve(C, B)))(
        A, B, C, D)
    for X, (M, R) in zip(out, ((A, B), (C, D), (A, D), (C, B)), strict=False):
        np.testing.assert_allclose(np.asarray(M @ X), np.asarray(R), atol=1e-10)


def test_block_tridiagonal_solves_and_transpose_against_the_dense_matrix():
    """Block Thomas in both layouts, the factored solve and the transposed blocks equal dense algebra."""
    rng = np.random.default_rng(7)
    nb, n, k = 3, 6, 4  # batch, nodes, block size
    A, C = (jnp.asarray(rng.standard_normal((nb, n, k, k))) for _ in range(2))
    B = jnp.asarray(rng.standard_normal((nb, n, k, k)) + 6 * np.eye(k))
    A, C = A.at[:, 0].set(0.0), C.at[:, -1].set(0.0)
    d = jnp.asarray(rng.standard_normal((nb, n, k)))
    M = np.asarray(dense_matrix(A, B, C))
    want = np.linalg.solve(M, np.asarray(d).reshape(nb, n * k, 1))[..., 0].reshape(nb, n, k)
    np.testing.assert_allclose(np.asarray(block_thomas(A, B, C, d[..., None])[..., 0]), want, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np.asarray(factored_solve(block_factor(A, B, C), d)), want, rtol=1e-11, atol=1e-12)
    last = lambda x: jnp.moveaxis(x, 0, -1)  # noqa: E731  (nb, n, ...) -> (n, ..., nb)
    out = block_thomas_last(last(A), last(B), last(C), last(d[..., None]))
    np.testing.assert_allclose(np.asarray(jnp.moveaxis(out, -1, 0)[..., 0]), want, rtol=1e-11, atol=1e-12)
    At, Bt, Ct = transpose_blocks(A, B, C)
    np.testing.assert_array_equal(np.asarray(dense_matrix(At, Bt, Ct)), np.swapaxes(M, -1, -2))
    Atl, Btl, Ctl = transpose_blocks(last(A), last(B), last(C), node_axis=0, block_axes=(1, 2))
    back = lambda x: jnp.moveaxis(x, -1, 0)  # noqa: E731
    np.testing.assert_array_equal(np.asarray(dense_matrix(back(Atl), back(Btl), back(Ctl))), np.swapaxes(M, -1, -2))
