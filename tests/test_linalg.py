"""Small dense solves without LAPACK: against numpy, with pivoting, complex blocks and derivatives;
block-tridiagonal solves, factors and transposes against the dense matrix;
independent batched solves in one program (which deadlock jaxlib 0.10's CPU LAPACK kernels); the
probed block solver for diffrax stages, and steps that keep the Jacobian against fresh ones."""

import diffrax
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np

from jaxqp.internal.blocktri import (
    BlockTridiagonalSolver,
    FactoredBlockSolver,
    block_factor,
    block_thomas,
    block_thomas_last,
    dense_matrix,
    expand_coupling,
    factor_blocks,
    factored_solve,
    gauss_jordan_inverse,
    probe_blocks,
    small_solve,
    transpose_blocks,
)
from jaxqp.internal.stiff import ReusedJacobian


def test_small_solve_against_numpy_with_pivoting_and_derivatives():
    rng = np.random.default_rng(3)
    for k, cplx in ((4, False), (8, False), (3, True)):
        M = rng.standard_normal((40, k, k)) + (1j * rng.standard_normal((40, k, k)) if cplx else 0.0)
        M[:, 0, 0] = 0.0  # a zero leading pivot: fails without row exchanges
        R = rng.standard_normal((40, k, 2))
        np.testing.assert_allclose(np.asarray(jax.jit(small_solve)(jnp.asarray(M), jnp.asarray(R))),
                                   np.linalg.solve(M, R), rtol=1e-9, atol=1e-10)
    M = jnp.asarray(rng.standard_normal((5, 4, 4)) + 4 * np.eye(4))
    R = jnp.asarray(rng.standard_normal((5, 4, 1)))
    ours = jax.jit(jax.grad(lambda M: jnp.sum(small_solve(M, R) ** 2)))(M)
    ref = jax.jit(jax.grad(lambda M: jnp.sum(jnp.linalg.solve(M, R) ** 2)))(M)
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


def test_blocked_gauss_jordan_inverse_against_numpy():
    """The rolled inverse of the large pivot blocks, unblocked (k <= 32) and blocked with padding,
    with a zero leading pivot and a nearly dependent column (row exchanges needed), real and complex."""
    rng = np.random.default_rng(11)
    for k, cplx in ((5, False), (70, False), (45, True)):
        M = rng.standard_normal((k, k)) + (1j * rng.standard_normal((k, k)) if cplx else 0.0)
        M[0, 0] = 0.0
        M[:, 3] *= 1e-3
        want = np.linalg.inv(M)
        got = np.asarray(jax.jit(gauss_jordan_inverse)(jnp.asarray(M)))
        assert np.max(np.abs(got - want)) < 1e-10 * np.max(np.abs(want))


def _operator_and_matrix(rng, na=3, n=5, m=2):
    """A random operator on (na, n, m) arrays, block-tridiagonal in n, couplings diagonal in na."""
    own = rng.standard_normal((n, na * m, na * m)) + 4 * np.eye(na * m)
    lo, up = rng.standard_normal((n, na, m, m)), rng.standard_normal((n, na, m, m))
    lo[0], up[-1] = 0.0, 0.0

    def mv(y):  # y (na, n, m)
        yi = jnp.moveaxis(y, 1, 0)  # (n, na, m)
        out = jnp.einsum("ikl,il->ik", own, yi.reshape(n, na * m)).reshape(n, na, m)
        out = out.at[1:].add(jnp.einsum("iaml,ial->iam", lo[1:], yi[:-1]))
        out = out.at[:-1].add(jnp.einsum("iaml,ial->iam", up[:-1], yi[1:]))
        return jnp.moveaxis(out, 0, 1)

    struct = jax.ShapeDtypeStruct((na, n, m), jnp.float64)
    op = lx.FunctionLinearOperator(mv, struct)
    return op, np.asarray(jax.vmap(mv, in_axes=-1, out_axes=-1)(jnp.eye(na * n * m).reshape(na, n, m, -1))
                          ).reshape(na * n * m, -1)


def test_probed_block_tridiagonal_solver_against_the_dense_operator():
    """`probe_blocks` recovers the operator; the lineax solver, its transpose and a kept factorisation
    (`FactoredBlockSolver`) solve it as a dense solve does."""
    rng = np.random.default_rng(5)
    op, M = _operator_and_matrix(rng)
    b = jnp.asarray(rng.standard_normal(op.in_structure().shape))
    want = np.linalg.solve(M, np.asarray(b).ravel())
    sol = lx.linear_solve(op, b, BlockTridiagonalSolver())
    np.testing.assert_allclose(np.asarray(sol.value).ravel(), want, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(np.asarray(lx.linear_solve(op.T, b, BlockTridiagonalSolver()).value).ravel(),
                               np.linalg.solve(M.T, np.asarray(b).ravel()), rtol=1e-11, atol=1e-12)
    A, B, C = probe_blocks(op)
    kept = factor_blocks((expand_coupling(A), B, expand_coupling(C)), b.shape)
    other, _ = _operator_and_matrix(np.random.default_rng(6))  # the kept state decides, not the operator
    np.testing.assert_allclose(np.asarray(lx.linear_solve(other, b, FactoredBlockSolver(kept)).value).ravel(), want,
                               rtol=1e-11, atol=1e-12)


def test_reused_jacobian_steps_agree_with_fresh_ones():
    """A stiff nonlinear system, y' = -K y - y^3 + s(t), with a block-tridiagonal K: the chord iteration
    on a Jacobian kept over steps reaches the same solution as diffrax's Kvaerno5 with a fresh Jacobian
    (dense LU) at every step."""
    rng = np.random.default_rng(2)
    op, M = _operator_and_matrix(rng)
    K = op.mv
    scale = jnp.asarray(10.0 ** rng.uniform(-1, 2, op.in_structure().shape))  # stiffness over 3 decades

    def vf(t, y, args):
        return -scale * K(y) - y**3 + jnp.sin(t)

    y0 = jnp.ones(op.in_structure().shape)
    common = dict(t0=0.0, t1=3.0, dt0=1e-3, y0=y0, stepsize_controller=diffrax.PIDController(rtol=1e-8, atol=1e-10),
                  max_steps=4096)
    root = diffrax.with_stepsize_controller_tols(diffrax.VeryChord)(linear_solver=BlockTridiagonalSolver())
    kept = diffrax.diffeqsolve(diffrax.ODETerm(vf), ReusedJacobian(diffrax.Kvaerno5(root_finder=root)), **common)
    fresh = diffrax.diffeqsolve(diffrax.ODETerm(vf), diffrax.Kvaerno5(), **common)
    assert kept.result == diffrax.RESULTS.successful
    assert float(jnp.max(jnp.abs(kept.ys - fresh.ys))) < 1e-6
    assert float(jnp.max(jnp.abs(kept.ys))) > 1e-3
