"""The vectorised bracketed root finder."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxqp.internal.roots import bracketed_newton, first_sign_changes, newton_polish


def test_bracketed_newton_many_brackets_including_exact_hits():
    c = jnp.array([0.5, 0.123, 0.9, 2.0 / 3.0])

    def f_and_df(x):
        return jax.jvp(lambda y: (y - c) * (1 + y * y), (x,), (jnp.ones_like(x),))

    a, b = jnp.zeros(4), jnp.ones(4)
    fa, fb = f_and_df(a)[0], f_and_df(b)[0]
    # the first bracket's regula-falsi start lands exactly on the root (f == 0)
    x, conv, df = bracketed_newton(f_and_df, a, b, fa, fb)
    np.testing.assert_allclose(np.asarray(x), np.asarray(c), atol=1e-13)
    assert bool(conv.all())
    np.testing.assert_allclose(np.asarray(df), np.asarray(1 + c * c), rtol=1e-10)
    # Newton steps that leave the bracket fall back to bisection
    g = lambda x: (jnp.arctan(10 * (x - 0.3)), 10 / (1 + (10 * (x - 0.3)) ** 2))  # noqa: E731
    x, conv, _ = bracketed_newton(g, jnp.array([-5.0]), jnp.array([5.0]), g(-5.0)[0][None], g(5.0)[0][None])
    assert abs(float(x[0]) - 0.3) < 1e-12 and bool(conv[0])


def test_inactive_brackets_are_left_alone():
    """Placeholder brackets (no sign change: no root inside) are not refined and report not converged;
    the active ones are refined exactly as alone."""
    c = jnp.array([0.25, 0.5, 0.75])

    def f_and_df(x):
        return jax.jvp(lambda y: jnp.tanh(3 * (y - c)), (x,), (jnp.ones_like(x),))

    a = jnp.array([0.0, 0.6, 0.0])  # the middle bracket [0.6, 0.9] holds no root
    b = jnp.array([1.0, 0.9, 1.0])
    fa, fb = f_and_df(a)[0], f_and_df(b)[0]
    active = jnp.array([True, False, True])
    x, conv, df = bracketed_newton(f_and_df, a, b, fa, fb, active=active)
    assert conv.tolist() == [True, False, True]
    np.testing.assert_allclose(np.asarray(x)[[0, 2]], [0.25, 0.75], atol=1e-13)
    np.testing.assert_allclose(np.asarray(df)[[0, 2]], [3.0, 3.0], rtol=1e-12)
    assert 0.6 <= float(x[1]) <= 0.9


def test_first_sign_changes_and_polish():
    v = jnp.array([[1.0, -1.0, -2.0, 3.0, -1.0], [1.0, 2.0, 3.0, 4.0, 5.0]])
    idx, found = first_sign_changes(v, 3)
    assert idx[0].tolist() == [0, 2, 3] and found[0].tolist() == [True, True, True]
    assert found[1].tolist() == [False, False, False]

    # the polished root carries the implicit derivative dx/dp = -f_p / f_x
    def root(p):
        x = jax.lax.stop_gradient(jnp.sqrt(p))
        return newton_polish(x, x * x - p, jax.lax.stop_gradient(2 * x))

    assert float(jax.grad(root)(4.0)) == 0.25
