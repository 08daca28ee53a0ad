"""The documentation site builds without warnings; the notebooks are valid jupytext with a small version."""

import re
import subprocess
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]


def test_site_builds_strictly(tmp_path):
    """mkdocs --strict: every page in the nav exists, every API reference resolves, the generated
    benchmark index and parameter tables are filled in."""
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(tmp_path / "site")],
                         cwd=ROOT, capture_output=True, text=True, timeout=300,
                         env={"NO_MKDOCS_2_WARNING": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert res.returncode == 0, res.stdout + res.stderr
    bench = (tmp_path / "site" / "benchmarks" / "index.html").read_text()
    assert "benchmark-index" not in bench and "spin_supercurrent_cpu.json" in bench
    configs = (tmp_path / "site" / "configs" / "index.html").read_text()
    assert "run-parameters" not in configs and "self_consistent" in configs
    # only documentation is published: not the build hook, not Python caches
    assert not list((tmp_path / "site").rglob("*.py")) and not list((tmp_path / "site").rglob("__pycache__"))
    api = (tmp_path / "site" / "api" / "index.html").read_text()
    for name in ("solve_kinetic", "junction_response", "self_consistent_gap", "symmetric_parts", "open_result"):
        assert name in api, name


def test_notebooks_are_jupytext_with_a_small_version():
    nbs = sorted(p for p in (ROOT / "notebooks").glob("*.py") if p.name != "run_all.py")
    assert len(nbs) >= 6
    for p in nbs:
        nb = jupytext.read(p)
        assert nb.metadata["jupytext"]["text_representation"]["format_name"] == "percent", p.name
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        assert re.search(r'os\.environ\.get\("JAXQP_FAST"', code), f"{p.name} has no JAXQP_FAST small version"
    ci = (ROOT / ".ci" / "run").read_text()
    assert "notebooks/run_all.py" in ci


def test_every_run_configuration_in_the_docs_validates():
    import tomllib

    from jaxqp.app import runconfig

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
    n = 0
    for page in pages:
        for block in re.findall(r"```toml\n(.*?)```", page.read_text(), re.S):
            raw = tomllib.loads(block)
            if "task" in raw:
                runconfig.from_dict(raw, ROOT)
                n += 1
    assert n >= 4


def test_every_seed_device_tutorial_and_notebook_cites_its_paper():
    """The seed papers (`jaxqp.devices.PAPERS`) are cited by identifier (DOI or arXiv) in their device
    module, tutorial and notebooks, in the references page and in the README."""
    import importlib

    from jaxqp.devices import PAPERS

    homes = {"000": ("spin_energy_mode", "seed000_spin_energy_mode", ("seed000_001_kinetics", "seed000_001_inference")),
             "001": ("nonlocal_wire", "seed001_nonlocal_conductance",
                     ("seed000_001_kinetics", "seed000_001_inference", "seed001_inelastic")),
             "002": ("spin_injection", "seed002_spin_injection", ("seed002_spin_injection",)),
             "003": ("spin_supercurrent", "seed003_spin_supercurrents", ("seed003_spin_supercurrent",
                                                                          "seed003_contact_driven")),
             "004": ("thermospin", "seed004_thermospin", ("seed004_thermospin",))}
    assert set(homes) == set(PAPERS)
    refs = (ROOT / "docs" / "references.md").read_text()
    readme = (ROOT / "README.md").read_text()
    for seed, (module, tutorial, notebooks) in homes.items():
        citation, ident = PAPERS[seed]
        key = ident.removeprefix("arXiv:")
        texts = {f"jaxqp.devices.{module}": importlib.import_module(f"jaxqp.devices.{module}").__doc__,
                 f"tutorial {tutorial}": (ROOT / "docs" / "tutorials" / f"{tutorial}.md").read_text(),
                 "docs/references.md": refs, "README.md": readme}
        texts |= {f"notebook {nb}": (ROOT / "notebooks" / f"{nb}.py").read_text() for nb in notebooks}
        for where, text in texts.items():
            assert key in text, (seed, where)
        # the first author's surname is there too (a citation, not a bare link)
        surname = citation.split(",")[0].split()[-1]
        assert all(surname in t for t in texts.values()), (seed, surname)
