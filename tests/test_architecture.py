"""The package's import structure: layers import only downward, no cycles, no private names across
modules (except from ``jaxqp.internal``).  Read from the source with ``ast``; nothing is imported."""

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "jaxqp"

# lowest first; a module may import its own layer (without cycles) and the layers below
LAYERS = [
    ("jaxqp.internal",),
    ("jaxqp.units", "jaxqp.distributions", "jaxqp.grids"),
    ("jaxqp.spectral.bulk",),
    ("jaxqp.materials",),
    ("jaxqp.geometry",),
    ("jaxqp.spectral", "jaxqp.selfconsistency"),
    ("jaxqp.junction", "jaxqp.observables", "jaxqp.kinetic"),
    ("jaxqp.devices",),
    ("jaxqp.io", "jaxqp.plot"),
    ("jaxqp.inference",),
    ("jaxqp.app",),
]


def _name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_name(p): p for p in PKG.rglob("*.py")}


def _layer(mod: str) -> int:
    best, rank = -1, None
    for i, group in enumerate(LAYERS):
        for prefix in group:
            if (mod == prefix or mod.startswith(prefix + ".")) and len(prefix) > best:
                best, rank = len(prefix), i
    if mod == "jaxqp":
        return len(LAYERS)  # the public API imports everything
    assert rank is not None, f"{mod} is in no layer: add it to LAYERS and to docs/architecture.md"
    return rank


def _imports(mod: str):
    """(target module, imported name or None, line) for every jaxqp import in ``mod``."""
    path = MODULES[mod]
    pkg = mod if path.name == "__init__.py" else mod.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "jaxqp":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    yield sub, None, node.lineno, alias.asname or alias.name
                else:
                    yield target, alias.name, node.lineno, None
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "jaxqp":
                    yield alias.name, None, node.lineno, alias.asname


def test_every_module_has_a_layer():
    for mod in MODULES:
        _layer(mod)


def test_imports_point_downward():
    bad = []
    for mod in MODULES:
        for target, _, line, _ in _imports(mod):
            if target == "jaxqp" and _layer(mod) < len(LAYERS) - 1:
                # only the application layer is a client of the public API
                bad.append(f"{mod}:{line} imports the top-level package; import the defining module")
            elif target != "jaxqp" and _layer(target) > _layer(mod):
                bad.append(f"{mod}:{line} imports {target}, a higher layer")
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    graph = {m: {t for t, _, _, _ in _imports(m) if t != m} for m in MODULES if m != "jaxqp"}
    # a package's __init__ runs before its submodules: importing jaxqp.a.b also imports jaxqp.a
    for m in list(graph):
        graph[m] = {t for t in graph[m] if t in graph}
    state: dict = {}

    def visit(m, stack):
        state[m] = 1
        for t in graph[m]:
            if state.get(t) == 1:
                raise AssertionError("import cycle: " + " -> ".join(stack[stack.index(t):] + [t]))
            if t not in state:
                visit(t, stack + [t])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])


def test_no_private_names_across_modules():
    bad = []
    for mod in MODULES:
        aliases = {}
        for target, name, line, alias in _imports(mod):
            if name is not None and name.startswith("_") and not name.startswith("__"):
                if not target.startswith("jaxqp.internal"):
                    bad.append(f"{mod}:{line} imports {target}.{name}")
            if name is None and alias and not target.startswith("jaxqp.internal"):
                aliases[alias] = target
        for node in ast.walk(ast.parse(MODULES[mod].read_text())):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                    and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{mod}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not bad, "\n".join(bad)


def test_every_package_says_what_it_may_import():
    for mod, path in MODULES.items():
        if path.name == "__init__.py" and mod != "jaxqp":
            doc = ast.get_docstring(ast.parse(path.read_text())) or ""
            assert "Imports:" in doc, f"{mod}'s docstring must say what the package may import"


def test_ruff_is_clean():
    """The lint rules of pyproject.toml (pyflakes, pycodestyle, isort, bugbear, pyupgrade) hold."""
    import subprocess
    import sys

    root = PKG.parent
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "jaxqp", "tests", "benchmarks",
                          "notebooks", "docs"], cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def test_docstrings_are_markdown():
    """One docstring style that mkdocstrings renders: Google sections, Markdown, math in $...$ / $$...$$."""
    import re

    rst = re.compile(r":(?:func|class|mod|meth|attr|data|obj|exc|math):`|^\s*\.\. (?:math|note|warning)::", re.M)
    bad = []
    for mod, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                doc = ast.get_docstring(node, clean=False) or ""
                if rst.search(doc):
                    bad.append(f"{mod}.{getattr(node, 'name', '')}")
    assert not bad, "reStructuredText in docstrings: " + ", ".join(bad)


def test_old_module_paths_still_import_with_a_deprecation_warning():
    """Modules that moved into ``inference`` and ``app`` keep their old names (the same module object)."""
    import importlib
    import sys
    import warnings

    import jaxqp
    from jaxqp.internal.moved import MOVED_MODULES

    for old, new in MOVED_MODULES.items():
        sys.modules.pop(old, None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            module = importlib.import_module(old)
        assert module is importlib.import_module(new)
        assert module.__spec__.name == new and module.__name__ == new
        assert any(issubclass(w.category, DeprecationWarning) and new in str(w.message) for w in caught), old
        assert getattr(jaxqp, old.rsplit(".", 1)[1]) is module


def test_public_api_type_checks(tmp_path):
    """mypy (configured in pyproject.toml) finds nothing in the whole library, the application layer included;
    in particular the constructors accept plain numbers where their fields convert to arrays."""
    import subprocess
    import sys

    targets = sorted(str(p.relative_to(PKG.parent)) for p in PKG.iterdir()
                     if p.suffix == ".py" or (p / "__init__.py").exists())
    probe = tmp_path / "user_code.py"
    probe.write_text("import jaxqp as qp\n"
                     "sc = qp.Superconductor(delta=1.0, h=0.2, gamma=1e-3)\n"
                     "w = qp.Wire(sc, 10.0, (qp.TunnelContact(5.0, 0.1, qp.NormalMetal(temperature=0.05)),),"
                     " temperature=0.05)\n")
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental", "--cache-dir", str(tmp_path / "cache"),
                          *targets, str(probe)], cwd=PKG.parent, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
