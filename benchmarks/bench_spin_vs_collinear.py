"""The general (4x4, non-collinear) spin solver against the collinear one where both apply.

Problem: a superconducting wire (Delta = 1, h = 0.3 along z, Gamma = 0.02, L = 4 xi) with a
reservoir at x = 0 and a vacuum end, with and without spin-orbit scattering (b_so = 0.04, which
couples the two spin sectors of the collinear solver).  Both solvers on the same uniform grid of
n_x nodes and n_E energies; warm = second call.  The results agree to 1e-10 (tests/test_spin.py).
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from _common import timed, write

import jaxqp as qp
from jaxqp.spectral import spin as S
from jaxqp.spectral import wire as W


def main():
    rows = []
    for n_x, n_E in ((41, 400), (81, 1000)):
        E = jnp.linspace(0.0, 3.0, n_E)
        for b_so in (0.0, 0.04):
            m = qp.Superconductor(delta=1.0, h=0.3, gamma=0.02, b_so=b_so)
            chain = W.Chain((W.Segment(m, 4.0, n_x=n_x),), ends=("reservoir", "vacuum"))
            sw = S.SpinWire(m, 4.0, n_x, ends=("reservoir", "vacuum"))
            c_cold, c_warm, ref = timed(lambda chain=chain, E=E: W.solve_proximity(chain, E).gamma, repeat=2)
            s_cold, s_warm, sol = timed(lambda sw=sw, E=E: S.solve_spin(sw, E).gamma, repeat=2)
            dos_ref = np.asarray(W.solve_proximity(chain, E).dos[..., 0])
            dos = np.asarray(S.solve_spin(sw, E).spin_dos()[2, 0])
            rows.append({"n_x": n_x, "n_energy": n_E, "b_so": b_so, "collinear_cold_s": c_cold,
                         "collinear_warm_s": c_warm, "general_cold_s": s_cold, "general_warm_s": s_warm,
                         "warm_ratio": s_warm / c_warm, "max_dos_difference": float(np.max(np.abs(dos - dos_ref)))})
            print(rows[-1], flush=True)
    write("spin_vs_collinear", {"rows": rows})


if __name__ == "__main__":
    main()
