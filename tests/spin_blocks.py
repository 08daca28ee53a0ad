"""The spin solver's analytic Jacobian blocks and the coloured Jacobian-vector products they must equal,
in one compiled program per structure (shared by the spin and gauge-field tests)."""

import equinox as eqx

from jaxqp.spectral import spin as S


@eqx.filter_jit
def analytic_and_coloured_blocks(structure, z):
    """``[(analytic, coloured)]`` block triples at a perturbed bulk guess, for a reservoir at the left
    end and for none."""
    loc, nd = S.node_terms(structure, z, None)
    Y = (S._guess(structure, nd, z + 0.3j) * 1.1).astype(complex)
    return [(S._blocks(Y, loc, dirichlet, 0.01), S._jvp_blocks(Y, loc, dirichlet, 0.01))
            for dirichlet in ((True, False), (False, False))]
