"""Ready-made models of the devices in published experiments and theory papers (one module each).

Paper constants (geometries, fitted parameters, figure axes) live here and nowhere else.

Imports: every physics layer (``internal`` up to ``kinetic``, ``junction`` and ``observables``);
never the inference or the application layer.
"""

from . import nonlocal_wire, spin_energy_mode, spin_supercurrent, thermospin

#: The papers whose devices these modules model ("seed 000" ... "seed 004" in the documentation):
#: label -> (citation, identifier).  ``docs/references.md`` lists the same papers.
PAPERS = {
    "000": ("M. Kuzmanovic, B. Y. Wu, M. Weideneder, C. H. L. Quay and M. Aprili, Evidence for spin-dependent "
            "energy transport in a superconductor, Nat. Commun. 11, 4336 (2020); arXiv:2001.04422",
            "10.1038/s41467-020-18161-w"),
    "001": ("K. M. Ryan, D. Beckmann and V. Chandrasekhar, Non-local tunneling spectroscopy of inelastic "
            "quasiparticle relaxation in superconducting 1-D wires, arXiv:2604.26862 (2026)", "arXiv:2604.26862"),
    "002": ("I. V. Tokatly, Y. Lu and F. S. Bergeret, Spin-galvanic response to non-equilibrium spin injection in "
            "superconductors with spin-orbit coupling, arXiv:2512.23536 (2025)", "arXiv:2512.23536"),
    "003": ("J. A. Ouassou, J. W. A. Robinson and J. Linder, Controlling spin supercurrents via nonequilibrium "
            "spin injection, Sci. Rep. 9, 12731 (2019)", "10.1038/s41598-019-48945-0"),
    "004": ("G. Germanese, F. Paolucci, G. Marchegiani, A. Braggio and F. Giazotto, Spontaneous symmetry "
            "breaking induced thermospin effect in superconducting tunnel junctions, arXiv:2105.01527 (2021)",
            "arXiv:2105.01527"),
}

__all__ = ["PAPERS", "nonlocal_wire", "spin_energy_mode", "spin_supercurrent", "thermospin"]
