"""Block-tridiagonal linear algebra shared by the spectral and kinetic 1-D solvers.

A system ``A_i y_{i-1} + B_i y_i + C_i y_{i+1} = d_i`` (i = 0 .. n-1) with
``k x k`` blocks is solved by the block Thomas algorithm: one forward sweep and
one backward sweep, each a ``lax.scan`` over the nodes, O(n k^3) per system and
batched.  Two layouts: `block_thomas` (batch first, one pivoted
elimination per block, cheap to compile) and `block_thomas_last` (batch last, block algebra
unrolled so that it vectorises over the contiguous batch: several times faster
per solve on CPU for 2x2 and 4x4 blocks, slower to compile; for the collinear
Newton loop).  For 8x8 blocks (the spin-general Newton loop) the unrolled form
compiles twice as long and is no faster, so that loop uses `block_thomas`.  Real and complex
blocks both work.

`block_factor` and `factored_solve` keep the factors for many right-hand sides
(the preconditioner of the energy-coupled kinetic Newton); `transpose_blocks`
gives the blocks of ``J^T`` in either layout (reverse-mode derivatives).

`BlockTridiagonalSolver` is a lineax solver for large operators that are block-tridiagonal in
one axis with neighbour couplings diagonal in another (the implicit stages of the time-resolved
kinetics), probed by Jacobian-vector products and factored with dense blocks
(`dense_block_factor`, pivots inverted by rolled, blocked Gauss-Jordan elimination).

`jacobian_blocks` extracts the three block diagonals of the Jacobian of a
residual whose node ``i`` depends only on nodes ``i-1, i, i+1``, with ``3 k``
Jacobian-vector products (three colours of nodes times ``k`` components); the
spectral solver uses it as the reference for its analytic Jacobian.
"""

from __future__ import annotations

import equinox.internal as eqxi
import jax
import jax.numpy as jnp
import lineax as lx
from jax import lax

UNROLLED_SOLVE_MAX = 4  # `small_solve`: the largest block eliminated in straight-line code


def _eliminate(A, p, rows):
    """One Gauss-Jordan step of `small_solve` at the (traced) pivot column ``p`` of ``[M | R]``."""
    row_axis, col_axis = A.ndim - 2, A.ndim - 1
    col = lax.dynamic_index_in_dim(A, p, axis=col_axis, keepdims=False)
    piv = jnp.argmax(jnp.where(rows >= p, jnp.abs(col), -1.0), axis=-1)
    perm = jnp.where(rows == p, piv[..., None], jnp.where(rows == piv[..., None], p, rows))
    A = jnp.take_along_axis(A, perm[..., None], axis=-2)
    pivot_row = lax.dynamic_index_in_dim(A, p, axis=row_axis, keepdims=False)
    row = pivot_row / lax.dynamic_index_in_dim(pivot_row, p, axis=row_axis, keepdims=True)
    A = A - lax.dynamic_index_in_dim(A, p, axis=col_axis, keepdims=False)[..., None] * row[..., None, :]
    return lax.dynamic_update_index_in_dim(A, row, p, axis=row_axis)


def small_solve(M, R):
    """Solve ``M X = R`` for small blocks, M (..., k, k), R (..., k, m), without LAPACK.

    Gauss-Jordan elimination with partial pivoting, unrolled over the static
    block size.  The CPU LAPACK kernels of jaxlib 0.10 split large batches over
    XLA's intra-op thread pool and wait for them from a pool thread: two such
    solves running at the same time (a primal and a tangent solve, or two
    contacts) can occupy every pool thread and deadlock on a 2-core machine.
    Plain array operations have no such hazard and vectorise over the batch.

    Blocks up to `UNROLLED_SOLVE_MAX` are eliminated in straight-line code; larger ones by one
    elimination step in a ``fori_loop`` over the pivot column, which compiles in half the time for
    8x8 blocks (0.34 s instead of 0.73 s for a 13-node block Thomas of 301 energies, the same results
    bit for bit, 4 % slower to run) and in a time independent of the block size.
    """
    k = M.shape[-1]
    dtype = jnp.result_type(M, R)
    shape = jnp.broadcast_shapes(M.shape[:-2], R.shape[:-2])
    A = jnp.concatenate([jnp.broadcast_to(M, shape + M.shape[-2:]).astype(dtype),
                         jnp.broadcast_to(R, shape + R.shape[-2:]).astype(dtype)], axis=-1)
    rows = jnp.arange(k)
    if k > UNROLLED_SOLVE_MAX:
        return lax.fori_loop(0, k, lambda p, X: _eliminate(X, p, rows), A)[..., :, k:]
    for p in range(k):
        if p < k - 1:  # bring the largest remaining entry of column p to row p
            piv = p + jnp.argmax(jnp.abs(A[..., p:, p]), axis=-1)
            perm = jnp.where(rows == p, piv[..., None], jnp.where(rows == piv[..., None], p, rows))
            A = jnp.take_along_axis(A, perm[..., None], axis=-2)
        row = A[..., p, :] / A[..., p, p][..., None]
        A = (A - A[..., :, p][..., None] * row[..., None, :]).at[..., p, :].set(row)
    return A[..., :, k:]


def block_thomas(A, B, C, d):
    """Solve the block-tridiagonal system; blocks (..., n, k, k), right-hand side (..., n, k, m).

    Batch-first layout with one `small_solve` per block: quick to compile,
    used by the kinetic engine (real 4x4 blocks, a few solves per call).  The spectral
    Newton loop, which solves many times per call, uses `block_thomas_last`.
    ``A[..., 0]`` and ``C[..., n-1]`` are ignored.
    """
    dtype = jnp.result_type(A, B, C, d)
    Ax, Bx, Cx, dx = (jnp.moveaxis(jnp.asarray(a, dtype), -3, 0) for a in (A, B, C, d))
    k = Bx.shape[-1]

    def fwd(carry, blk):
        G_prev, y_prev = carry
        a, b, c, rhs = blk
        m = b - a @ G_prev
        sol = small_solve(m, jnp.concatenate([c, rhs - a @ y_prev], axis=-1))
        G, y = sol[..., :k], sol[..., k:]
        return (G, y), (G, y)

    G0 = jnp.zeros(jnp.broadcast_shapes(Bx.shape[1:], Cx.shape[1:]), dtype)
    y0 = jnp.zeros(jnp.broadcast_shapes(Bx.shape[1:-1], dx.shape[1:-1]) + dx.shape[-1:], dtype)
    _, (G, y) = lax.scan(fwd, (G0, y0), (Ax, Bx, Cx, dx))

    def bwd(h_next, blk):
        Gi, yi = blk
        h = yi - Gi @ h_next
        return h, h

    _, h = lax.scan(bwd, jnp.zeros_like(y[-1]), (G, y), reverse=True)
    return jnp.moveaxis(h, 0, -3)


def block_factor(A, B, C):
    """Block-Thomas factors of blocks (..., n, k, k) (batch first): ``(M_i^-1, G_i = M_i^-1 C_i, A)``.

    For many right-hand sides with one operator (a preconditioner applied at every
    GMRES iteration): `factored_solve` then costs two matrix-vector sweeps.
    """
    Ax, Bx, Cx = (jnp.moveaxis(a, -3, 0) for a in (A, B, C))

    def fwd(G_prev, blk):
        a, b, c = blk
        m = b - a @ G_prev
        Minv = small_solve(m, jnp.broadcast_to(jnp.eye(m.shape[-1], dtype=m.dtype), m.shape))
        G = Minv @ c
        return G, (Minv, G)

    _, (Minv, G) = lax.scan(fwd, jnp.zeros_like(Bx[0]), (Ax, Bx, Cx))
    return Minv, G, Ax


def factored_solve(factors, d):
    """Solve with `block_factor`'s factors; ``d`` (..., n, k) with the blocks' batch shape."""
    Minv, G, Ax = factors
    dx = jnp.moveaxis(d, -2, 0)
    mv = lambda M, v: jnp.einsum("...ij,...j->...i", M, v)  # noqa: E731

    def fwd(y_prev, blk):
        Mi, a, r = blk
        y = mv(Mi, r - mv(a, y_prev))
        return y, y

    _, y = lax.scan(fwd, jnp.zeros_like(dx[0]), (Minv, Ax, dx))

    def bwd(h_next, blk):
        yi, Gi = blk
        h = yi - mv(Gi, h_next)
        return h, h

    _, hx = lax.scan(bwd, jnp.zeros_like(dx[0]), (y, G), reverse=True)
    return jnp.moveaxis(hx, 0, -2)


def transpose_blocks(A, B, C, *, node_axis: int = -3, block_axes: tuple = (-2, -1)):
    """Blocks of ``J^T``: sub-diagonal ``C_{i-1}^T``, diagonal ``B_i^T``, super-diagonal ``A_{i+1}^T``.

    Either layout: batch first (``node_axis=-3``, the default) or batch last
    (blocks (n, k, k, ...): ``node_axis=0, block_axes=(1, 2)``).
    """
    t = lambda M: jnp.swapaxes(M, *block_axes)  # noqa: E731
    front = lambda M: jnp.moveaxis(M, node_axis, 0)  # noqa: E731
    back = lambda M: jnp.moveaxis(M, 0, node_axis)  # noqa: E731
    tA, tC = front(t(A)), front(t(C))
    zero = jnp.zeros_like(tA[:1])
    return back(jnp.concatenate([zero, tC[:-1]], 0)), t(B), back(jnp.concatenate([tA[1:], zero], 0))


def dense_matrix(A, B, C):
    """The block-tridiagonal matrix as a dense (..., n k, n k) array (for checks)."""
    n, k = B.shape[-3], B.shape[-1]
    M = jnp.zeros(B.shape[:-3] + (n * k, n * k), jnp.result_type(A, B, C))
    for i in range(n):
        M = M.at[..., i * k:(i + 1) * k, i * k:(i + 1) * k].set(B[..., i, :, :])
        if i > 0:
            M = M.at[..., i * k:(i + 1) * k, (i - 1) * k:i * k].set(A[..., i, :, :])
        if i < n - 1:
            M = M.at[..., i * k:(i + 1) * k, (i + 1) * k:(i + 2) * k].set(C[..., i, :, :])
    return M


def mm_small(a, b):
    """Product of small matrices stored batch-first: (..., k, j) x (..., j, m) -> (..., k, m).

    A broadcast product and a reduction, which XLA fuses with the surrounding element-wise work; its
    CPU dot of tiny batched matrices is several times slower (the 2x2 Nambu algebra of the kinetic
    coefficients, 6408 energies: 7 ms instead of 35 ms).
    """
    return jnp.sum(a[..., :, :, None] * b[..., None, :, :], axis=-2)


def mm_last(a, b):
    """Matrix product of blocks stored batch-last: (k, j, ...) x (j, m, ...) -> (k, m, ...).

    One broadcast product and one reduction (a single XLA fusion), not a sum of ``j`` sliced
    products: the collinear Newton of `jaxqp.solve_proximity` (201 energies x 89 nodes) runs in
    0.14 s instead of 0.20 s, with the same values to 1e-12.
    """
    return jnp.sum(a[:, :, None] * b[None], axis=1)


def _small_solve_last(M, R):
    """Solve ``M X = R`` for blocks stored batch-last, M (k, k, ...), R (k, m, ...).

    Gauss-Jordan elimination unrolled over the k x k entries (no pivoting, as
    the Thomas algorithm itself), so that every operation is elementwise over
    the contiguous batch axis.
    """
    k = M.shape[0]
    a = [[M[i, j] for j in range(k)] for i in range(k)]
    r = [R[i] for i in range(k)]
    for p in range(k):
        inv = 1.0 / a[p][p]
        a[p] = [x * inv for x in a[p]]
        r[p] = r[p] * inv[None]
        for i in range(k):
            if i != p:
                fct = a[i][p]
                a[i] = [a[i][j] - fct * a[p][j] for j in range(k)]
                r[i] = r[i] - fct[None] * r[p]
    return jnp.stack(r, 0)


def block_thomas_last(A, B, C, d):
    """`block_thomas` for the batch-last layout: blocks (n, k, k, ...), right-hand side (n, k, m, ...).

    With the batch (e.g. energy) axis contiguous and last, the small block
    algebra vectorises; on CPU this is several times faster than batched LAPACK
    calls on tiny matrices.
    """
    k = B.shape[1]

    def fwd(carry, blk):
        G_prev, y_prev = carry
        a, b, c, rhs = blk
        m = b - mm_last(a, G_prev)
        sol = _small_solve_last(m, jnp.concatenate([c, rhs - mm_last(a, y_prev)], axis=1))
        G, y = sol[:, :k], sol[:, k:]
        return (G, y), (G, y)

    dtype = jnp.result_type(A, B, C, d)
    G0 = jnp.zeros(B.shape[1:], dtype)
    y0 = jnp.zeros(d.shape[1:], dtype)
    _, (G, y) = lax.scan(fwd, (G0, y0), tuple(jnp.asarray(x, dtype) for x in (A, B, C, d)))

    def bwd(h_next, blk):
        Gi, yi = blk
        h = yi - mm_last(Gi, h_next)
        return h, h

    _, h = lax.scan(bwd, jnp.zeros_like(y[-1]), (G, y), reverse=True)
    return h


def jacobian_blocks(fn, y, batch: int, vectorize: bool = False):
    """Value and block diagonals (A, B, C), each (n, k, k, batch), of the Jacobian of ``fn`` at ``y`` (n, k, batch).

    ``fn`` must be block-tridiagonal in the node axis (output node i depends on
    input nodes i-1, i, i+1 only) and independent across the batch axis.
    Columns are probed by ``3 k`` Jacobian-vector products with seeds that are 1
    on the nodes of one colour (i mod 3) in one component; each output node sees
    exactly one seeded neighbour per colour, which identifies its block.  For a
    holomorphic ``fn`` of complex ``y`` this is the complex Jacobian.  ``vectorize``: one ``vmap``-ped
    product over the seeds instead of ``3 k`` separate ones (same values, a smaller program).
    """
    n, k = y.shape[0], y.shape[1]
    node = jnp.arange(n)
    colour = node % 3
    if vectorize:
        # all 3 k seeds in one vmapped Jacobian-vector product (one copy of the program, smaller compile)
        mask = (colour[None, :] == jnp.arange(3)[:, None]).astype(y.dtype)  # (3, n)
        eye = jnp.eye(k, dtype=y.dtype)
        seeds = mask[:, None, :, None, None] * eye[None, :, None, :, None]  # (3, k, n, k, 1)
        seeds = jnp.broadcast_to(seeds, (3, k, n, k, batch)).reshape((3 * k,) + y.shape)
        value = fn(y)
        tans = jax.vmap(lambda s: jax.jvp(fn, (y,), (s,))[1])(seeds).reshape((3, k) + value.shape)
        cols = [jnp.moveaxis(tans[c], 0, 2) for c in range(3)]  # (n, k_out, k_in, batch)
    else:
        value = None
        cols = []
        for c in range(3):
            per_c = []
            for j in range(k):
                seed = jnp.zeros_like(y).at[:, j, :].set(jnp.broadcast_to((colour == c).astype(y.dtype)[:, None],
                                                                          (n, batch)))
                value, t = jax.jvp(fn, (y,), (seed,))
                per_c.append(t)  # (n, k_out, batch)
            cols.append(jnp.stack(per_c, 2))  # (n, k_out, k_in, batch)

    def pick(offset):
        c = (node + offset) % 3
        return sum(jnp.where((c == cc)[:, None, None, None], cols[cc], 0) for cc in range(3))

    A = pick(-1).at[0].set(0)
    Bm = pick(0)
    C = pick(1).at[n - 1].set(0)
    return value, A, Bm, C


# ----------------------------------------------------------------- large dense blocks (lineax)
def _gauss_jordan_unblocked(M):
    """Inverse of one small ``k x k`` matrix: one rank-one update of ``[M | I]`` per pivot."""
    k = M.shape[-1]
    A = jnp.concatenate([M, jnp.eye(k, dtype=M.dtype)], axis=-1)
    rows = jnp.arange(k)

    def step(p, A):
        piv = jnp.argmax(jnp.where(rows >= p, jnp.abs(A[:, p]), -1.0))
        A = A.at[jnp.stack([p, piv])].set(A[jnp.stack([piv, p])])
        row = A[p] / A[p, p]
        A = A - A[:, p][:, None] * row[None, :]
        return A.at[p].set(row)

    return lax.fori_loop(0, k, step, A)[:, k:]


def gauss_jordan_inverse(M, panel: int = 32):
    """Inverse of one ``k x k`` matrix by Gauss-Jordan elimination with partial pivoting.

    Plain array operations (no LAPACK custom call, see `small_solve` for why) in a rolled
    ``lax.fori_loop`` whose program does not grow with ``k``.  Blocked by panels of ``panel``
    columns: the pivots of a panel are chosen by eliminating the ``k x panel`` panel alone (the
    same rows partial pivoting of the whole matrix picks), then the panel's rows are brought to the
    diagonal and the whole ``[M | I]`` is updated by one matrix product,
    ``[M | I] <- [M | I] - P X`` with ``X = P_R^{-1} R`` on the pivot rows ``R``.  The same
    arithmetic as one rank-one update per pivot, in matrix products: 8x faster for ``k = 404`` on
    a 2-core CPU.  ``M`` is padded with the identity to a multiple of ``panel``.
    """
    k = M.shape[-1]
    if k <= panel:
        return _gauss_jordan_unblocked(M)
    kp = -(-k // panel) * panel
    A = jnp.eye(kp, 2 * kp, dtype=M.dtype).at[:k, :k].set(M)
    A = A.at[:, kp:].set(jnp.eye(kp, dtype=M.dtype))
    rows = jnp.arange(kp)

    def panel_step(p, A):
        r0 = p * panel

        def pivot(j, carry):  # partial pivoting on the panel alone
            P, perm = carry
            r = r0 + j
            i = jnp.argmax(jnp.where(rows >= r, jnp.abs(P[:, j]), -1.0))
            swap, back = jnp.stack([r, i]), jnp.stack([i, r])
            P, perm = P.at[swap].set(P[back]), perm.at[swap].set(perm[back])
            row = P[r] / P[r, j]
            return (P - P[:, j][:, None] * row[None, :]).at[r].set(row), perm

        _, perm = lax.fori_loop(0, panel, pivot, (lax.dynamic_slice_in_dim(A, r0, panel, axis=1), rows))
        A = A[perm]
        R = lax.dynamic_slice_in_dim(A, r0, panel, axis=0)
        X = _gauss_jordan_unblocked(lax.dynamic_slice_in_dim(R, r0, panel, axis=1)) @ R
        A = A - lax.dynamic_slice_in_dim(A, r0, panel, axis=1) @ X
        return lax.dynamic_update_slice_in_dim(A, X, r0, axis=0)

    return lax.fori_loop(0, kp // panel, panel_step, A)[:k, kp:kp + k]


def dense_block_factor(A, B, C):
    """Block-Thomas factors for large dense blocks (n, k, k): the inverse of every pivot block.

    The factors have the layout of `block_factor`'s, so `factored_solve` applies them.

    Sequential over the nodes, each pivot inverted by `gauss_jordan_inverse`, for ``k`` of tens
    to a few thousand; `block_factor` unrolls its small solves and is meant for ``k <= 8``.
    """
    def fwd(G_prev, blk):
        a, b, c = blk
        Minv = gauss_jordan_inverse(b - a @ G_prev)
        G = Minv @ c
        return G, (Minv, G)

    _, (Minv, G) = lax.scan(fwd, jnp.zeros_like(B[0]), (A, B, C))
    return Minv, G, A


def probe_blocks(operator):
    """The blocks of an operator on ``(n_a, n, m)`` arrays, block-tridiagonal along the middle axis.

    The couplings between neighbouring nodes must be diagonal in axis 0.  Returns ``(A, B, C)``:
    the neighbour couplings ``A`` (to node ``i - 1``) and ``C`` (to ``i + 1``) compactly,
    ``(n, n_a, m, m)``, and each node's own block ``B`` dense, ``(n, k, k)`` with ``k = n_a m``
    (axis 0 outer).  ``n_a m + 3 m`` Jacobian-vector products:

    - ``3 m`` seeds, one per colour of nodes (``i mod 3``) and component, on all of axis 0 at once,
      give the neighbour couplings (``m x m`` for every value of axis 0);
    - ``n_a m`` seeds, one per value of axes 0 and 2, on all nodes at once, give each node's own
      block once the neighbours' (known) share is taken off.
    """
    shape = operator.in_structure().shape
    dtype = operator.in_structure().dtype
    na, n, m = shape
    node = jnp.arange(n)
    colour = node % 3
    eye = jnp.eye(m, dtype=dtype)
    # neighbour couplings: seed (c, l) is 1 on component l of every node of colour c
    seeds = (colour[None, :] == jnp.arange(3)[:, None]).astype(dtype)[:, None, None, :, None] * \
        eye[None, :, None, None, :]  # (3, m, 1, n, m)
    seeds = jnp.broadcast_to(seeds, (3, m, na, n, m)).reshape((3 * m,) + shape)
    out = jax.vmap(operator.mv)(seeds).reshape((3, m) + shape)  # (c, l, a, i, m_out)

    def pick(offset):  # coupling of node i to node i + offset: (n, na, m_out, m_in)
        c = (node + offset) % 3
        blk = jnp.moveaxis(out, 1, -1)  # (c, a, i, m_out, l)
        return jnp.moveaxis(sum(jnp.where((c == cc)[None, :, None, None], blk[cc], 0) for cc in range(3)), 1, 0)

    A = pick(-1).at[0].set(0)
    C = pick(1).at[n - 1].set(0)
    # each node's own block: seed (a, l) on every node, minus the neighbours' energy-diagonal share
    eye_a = jnp.eye(na, dtype=dtype)
    seeds = eye_a[:, None, :, None, None] * eye[None, :, None, None, :]  # (a, l, a', 1, m)
    seeds = jnp.broadcast_to(seeds, (na, m, na, n, m)).reshape((na * m,) + shape)
    own = jax.vmap(operator.mv)(seeds).reshape((na, m) + shape)  # (a_in, l, a_out, i, m_out)
    own = own - jnp.einsum("ab,iaml->blaim", eye_a, A + C)
    B = jnp.transpose(own, (3, 2, 4, 0, 1)).reshape(n, na * m, na * m)  # (i, (a_out m_out), (a_in l))
    return A, B, C


def expand_coupling(D):
    """A compact neighbour coupling (n, n_a, m, m), diagonal in axis 0, as dense blocks (n, k, k)."""
    n, na, m, _ = D.shape
    return jnp.einsum("ab,iaml->iambl", jnp.eye(na, dtype=D.dtype), D).reshape(n, na * m, na * m)


def factor_blocks(blocks, shape):
    """The state of the block solvers below: blocks, their block-Thomas factors, the array shape."""
    return blocks, dense_block_factor(*blocks), eqxi.Static(tuple(shape))


class _FactoredBlocks(lx.AbstractLinearSolver):
    """Solve, transpose and conjugate from the state `factor_blocks` makes."""

    def compute(self, state, vector, options):
        del options
        _, factors, meta = state
        na, n, m = meta.value
        d = jnp.moveaxis(vector, 1, 0).reshape(n, na * m)
        h = factored_solve(factors, d)
        return jnp.moveaxis(h.reshape(n, na, m), 0, 1), lx.RESULTS.successful, {}

    def transpose(self, state, options):
        blocks, _, meta = state
        bt = transpose_blocks(*blocks, node_axis=-3, block_axes=(-2, -1))
        return factor_blocks(bt, meta.value), options

    def conj(self, state, options):
        blocks, _, meta = state
        return factor_blocks(tuple(jnp.conj(b) for b in blocks), meta.value), options

    def assume_full_rank(self):
        return True


class BlockTridiagonalSolver(_FactoredBlocks):
    """A lineax solver for operators on ``(n_a, n, m)`` arrays, block-tridiagonal along the middle axis.

    The node axis is axis 1; a node's block holds the ``k = n_a m`` values of axes 0 and 2.  The
    couplings between neighbouring nodes must be diagonal in axis 0 (for the kinetic equations:
    diffusion does not change the energy; the collisions, which couple all energies, act within a
    node).  The operator (any lineax operator, e.g. the Jacobian of an implicit diffrax stage) is
    probed by `probe_blocks` with ``n_a m + 3 m`` Jacobian-vector products.

    It then solves by the block Thomas algorithm with the inverted ``k x k`` pivot blocks:
    ``O(k)`` products and ``O(n k^3)`` work instead of ``O(n k)`` products and ``O((n k)^3)`` for a
    dense LU.  Exact for operators of this structure.
    """

    def init(self, operator, options):
        del options
        A, B, C = probe_blocks(lx.linearise(operator))  # the primal once, not in every product
        return factor_blocks((expand_coupling(A), B, expand_coupling(C)), operator.in_structure().shape)


class FactoredBlockSolver(_FactoredBlocks):
    """A lineax solver that applies a state made beforehand by `factor_blocks`, whatever the operator.

    For a chord (simplified Newton) iteration that keeps an approximate Jacobian's factors over
    many solves: the operator it is handed is not probed, so the solve is exact only for the
    operator the state was made from.
    """

    state: tuple

    def init(self, operator, options):
        del operator, options
        return self.state


class BorderedBlockTridiagonalSolver(lx.AbstractLinearSolver):
    """A lineax solver for operators on pairs ``(h, z)``: ``h`` as for `BlockTridiagonalSolver`, ``z`` a
    short vector ``(n_z,)`` coupled to everything (for the kinetic equations: the pair potential of
    an adiabatic gap and its rate, which move the spectra of every node and are moved by the
    distribution).

    With ``A`` the ``h``-``h`` part (block tridiagonal, probed and factored by
    `BlockTridiagonalSolver`), ``B`` the ``n_z`` columns of ``z``, ``c`` the ``n_z`` rows of ``z``
    and ``D`` its ``n_z x n_z`` part, the solve eliminates ``h`` (Schur complement):

    $$
    (D - c^T A^{-1} B)\\, x_z = r_z - c^T A^{-1} r_h ,\\qquad x_h = A^{-1}(r_h - B x_z).
    $$

    ``B`` and ``D`` take ``n_z`` products with the operator, ``c`` ``n_z`` products with its
    transpose, and ``A^{-1} B`` ``n_z`` block-Thomas solves.  Exact for operators of this structure.
    """

    def init(self, operator, options):
        operator = lx.linearise(operator)  # the primal once, not in every product
        hs, zs = operator.in_structure()
        zh, zz = jnp.zeros(hs.shape, hs.dtype), jnp.zeros(zs.shape, zs.dtype)
        inner = BlockTridiagonalSolver().init(lx.FunctionLinearOperator(lambda v: operator.mv((v, zz))[0], hs),
                                              options)
        eye = jnp.eye(zs.shape[0], dtype=zs.dtype)
        cols, cols_z = jax.vmap(lambda e: operator.mv((zh, e)))(eye)  # B_j and D[:, j]
        # c_k: the transpose of the h -> z part alone (the z inputs held at zero are constants there, so
        # the transpose does not go through what only z moves)
        hz = lx.FunctionLinearOperator(lambda v: operator.mv((v, zz))[1], hs)
        rows = jax.vmap(hz.transpose().mv)(eye)
        return _bordered_state(inner, cols, rows, cols_z.T)

    def compute(self, state, vector, options):
        inner, Z, _, rows, schur = state
        rh, rz = vector
        y = BlockTridiagonalSolver().compute(inner, rh, options)[0]
        xz = small_solve(schur, (rz - jnp.tensordot(rows, y, axes=y.ndim))[:, None])[:, 0]
        return (y - jnp.tensordot(xz, Z, axes=1), xz), lx.RESULTS.successful, {}

    def transpose(self, state, options):
        inner, Z, cols, rows, schur = state
        D = schur + jnp.tensordot(rows, Z, axes=(tuple(range(1, rows.ndim)),) * 2)
        inner_t = BlockTridiagonalSolver().transpose(inner, options)[0]
        return _bordered_state(inner_t, rows, cols, D.T), options

    def conj(self, state, options):
        inner, Z, cols, rows, schur = state
        return (BlockTridiagonalSolver().conj(inner, options)[0], jnp.conj(Z), jnp.conj(cols), jnp.conj(rows),
                jnp.conj(schur)), options

    def assume_full_rank(self):
        return True


def _bordered_state(inner, cols, rows, D):
    Z = jax.vmap(lambda b: BlockTridiagonalSolver().compute(inner, b, {})[0])(cols)  # A^{-1} B_j
    schur = D - jnp.tensordot(rows, Z, axes=(tuple(range(1, rows.ndim)),) * 2)  # D_kj - c_k . Z_j
    return inner, Z, cols, rows, schur
