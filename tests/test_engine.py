"""The shared solver engine: implicit derivatives in forward and reverse mode, for direct,
diagonal and matrix-free Jacobians, against central finite differences of the same computation;
result codes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from jaxqp.internal import engine

N = 5
_A = np.diag(np.full(N, 3.0)) + np.diag(np.full(N - 1, -1.0), 1) + np.diag(np.full(N - 1, -0.5), -1)


def _residual(y, p):
    """A coupled nonlinear system: A y + c y^3 - b = 0, inputs p = (c, b)."""
    c, b = p
    return jnp.asarray(_A) @ y + c * y ** 3 - b


def _newton(p, y0):
    def body(s):
        y, k = s
        J = jnp.asarray(_A) + jnp.diag(3 * p[0] * y ** 2)
        return y - jnp.linalg.solve(J, _residual(y, p)), k + 1

    y, k = lax.while_loop(lambda s: s[1] < 30, body, (y0, 0))
    return y, k


def _dense(y, p):
    J = jnp.asarray(_A) + jnp.diag(3 * p[0] * y ** 2)
    return engine.LinearSystem(matvec=lambda v: J @ v, solve=lambda b: jnp.linalg.solve(J, b),
                               transpose_solve=lambda b, _: jnp.linalg.solve(J.T, b))


def _matrix_free(y, p):
    return engine.matrix_free_system(lambda v: jax.jvp(lambda u: _residual(u, p), (y,), (v,))[1], y)


def _solve(system):
    def f(c, b):
        y, _ = engine.implicit_solve(_newton, _residual, system, (c, b), jnp.zeros(N))
        return y

    return f


def _loss(system):
    return lambda c, b: jnp.sum(jnp.sin(_solve(system)(c, b)) ** 2)


def test_implicit_derivatives_equal_finite_differences_in_both_modes():
    c, b = 0.7, jnp.linspace(0.5, 2.0, N)
    for system in (_dense, _matrix_free):
        f, loss = jax.jit(_solve(system)), jax.jit(_loss(system))
        y = f(c, b)
        np.testing.assert_allclose(np.asarray(_residual(y, (c, b))), 0.0, atol=1e-13)
        h = 1e-6
        fd_c = (f(c + h, b) - f(c - h, b)) / (2 * h)
        np.testing.assert_allclose(np.asarray(jax.jacfwd(f)(c, b)), np.asarray(fd_c), rtol=1e-7, atol=1e-10)
        jb = jax.jacrev(f, argnums=1)(c, b)
        fd_b = np.stack([(f(c, b.at[j].add(h)) - f(c, b.at[j].add(-h))) / (2 * h) for j in range(N)], 1)
        np.testing.assert_allclose(np.asarray(jb), fd_b, rtol=1e-7, atol=1e-10)
        # reverse mode of a scalar loss, and its second derivative through the rule again
        g = jax.grad(loss, argnums=(0, 1))(c, b)
        np.testing.assert_allclose(float(g[0]), float((loss(c + h, b) - loss(c - h, b)) / (2 * h)), rtol=1e-6)
        hc = jax.jacfwd(jax.grad(loss))(c, b)
        gc = jax.jit(jax.grad(loss))
        np.testing.assert_allclose(float(hc), float((gc(c + 1e-5, b) - gc(c - 1e-5, b)) / 2e-5), rtol=1e-5)


def test_diagonal_system_roots_elementwise():
    """Cube roots y^3 = x by Newton: dy/dx = 1 / (3 y^2), per element, in both modes."""

    def primal(x, y0):
        y = lax.fori_loop(0, 60, lambda _, y: y - (y ** 3 - x) / (3 * y ** 2), y0)
        return y, None

    def root(x):
        return engine.implicit_solve(primal, lambda y, x_: y ** 3 - x_,
                                     lambda y, x_: engine.diagonal_system(3 * y ** 2), x, jnp.ones_like(x))[0]

    x = jnp.array([0.5, 2.0, 8.0])
    np.testing.assert_allclose(np.asarray(root(x)), np.cbrt(np.asarray(x)), rtol=1e-14)
    want = 1.0 / (3 * np.cbrt(np.asarray(x)) ** 2)
    np.testing.assert_allclose(np.diag(np.asarray(jax.jacfwd(root)(x))), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.grad(lambda v: jnp.sum(root(v)))(x)), want, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(jax.vmap(jax.grad(lambda v: root(v)))(x)), want, rtol=1e-12)


def test_result_codes():
    R = engine.RESULTS
    codes = engine.result_code(converged=jnp.array([True, False, False, False, True]),
                               finite=jnp.array([True, False, True, True, True]),
                               capped=jnp.array([False, True, True, False, True]))
    assert np.asarray(codes).tolist() == [R.successful, R.nonfinite, R.max_steps_reached, R.residual_too_large,
                                          R.successful]
    text = R.describe(codes)
    for part in ("1 produced a non-finite", "1 hit the iteration cap", "1 stopped with a residual"):
        assert part in text
    assert R.describe(np.zeros(3, int)) == "all converged"


def test_an_unconverged_derivative_solve_raises_instead_of_returning_a_wrong_derivative():
    """A GMRES capped below what the system needs, in both modes, and `checked_solve` on a bad solve."""
    c, b = 0.7, jnp.linspace(0.5, 2.0, N)

    def starved(y, p):  # one Krylov vector, two steps: cannot reach 1e-12 on a 5x5 non-normal system
        return engine.matrix_free_system(lambda v: jax.jvp(lambda u: _residual(u, p), (y,), (v,))[1], y,
                                         restart=1, max_steps=2)

    f = jax.jit(_solve(starved))
    assert np.all(np.isfinite(np.asarray(f(c, b))))  # the primal solve does not use the linear solver
    with pytest.raises(Exception, match=r"implicit derivative \(lineax GMRES\)"):
        jax.block_until_ready(jax.jacfwd(f)(c, b))
    with pytest.raises(Exception, match="implicit derivative"):
        jax.block_until_ready(jax.grad(lambda c_: jnp.sum(f(c_, b)))(c))
    A = jnp.asarray(_A)
    mv = lambda v: A @ v  # noqa: E731
    x = jnp.linalg.solve(A, b)
    np.testing.assert_array_equal(np.asarray(engine.checked_solve(x, mv, b, rtol=1e-10, method="test")), np.asarray(x))
    with pytest.raises(Exception, match=r"implicit derivative \(a bad solve\)"):
        jax.block_until_ready(jax.jit(lambda x_: engine.checked_solve(x_, mv, b, rtol=1e-10, method="a bad solve"))(
            x * 1.001))
