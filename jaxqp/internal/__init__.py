"""Building blocks shared by the solvers: semi-public, like ``equinox.internal``.

Stable enough to build on, but not part of the documented user API, and free to change between
minor versions.

- `config`: float64 switch, tolerances of the active precision, the
  persistent compilation cache.
- `validation`: checks of user input that raise clear errors (outside
  ``jit``) and that stay silent on traced values; the compiled boundaries that keep concrete zeros
  static (``jit_known_zeros``, and ``compiled_when_eager`` for core functions that are also called
  outside ``jit``).
- `engine`: the shared solver engine: result codes, linear systems (direct,
  diagonal, matrix-free with lineax GMRES) and implicit differentiation of any
  root in forward and reverse mode.
- `blocktri`: block-tridiagonal algebra (assembly, block Thomas, small
  batched solves, probed lineax solvers for large blocks).
- `stiff`: diffrax SDIRK steps that keep the probed Jacobian from step to step.
- `batching`: a function over a long leading axis in equal chunks
  (``lax.map``; bounded memory), and an elementwise function on batches padded
  to a few sizes (one compiled program for many shapes).
- `roots`: bracketed scalar Newton solves with implicit derivatives.
- `sharding`: the one way points are spread over devices and hosts
  (mesh, ``shard_map``, placement and gathering).

Imports: JAX, equinox, lineax, diffrax, numpy and other modules of this package only; nothing else of jaxqp.
"""

from . import config  # noqa: F401  (float64 is switched on before any solver module runs)
