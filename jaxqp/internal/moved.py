"""Old import paths of modules that moved, kept working with a DeprecationWarning that names the new one."""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

#: old module name -> new module name
MOVED_MODULES = {
    **{f"jaxqp.{m}": f"jaxqp.inference.{m}" for m in ("fit", "models", "bayes", "data")},
    **{f"jaxqp.{m}": f"jaxqp.app.{m}" for m in ("cli", "runconfig", "fitconfig", "tasks", "runner", "sweep",
                                                "demo", "bench")},
}


def _caller_stacklevel() -> int:
    """The stack level of the first frame outside the import machinery and this module."""
    level = 1
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None and (frame.f_code.co_filename.startswith("<frozen importlib")
                                 or frame.f_code.co_filename == __file__):
        frame, level = frame.f_back, level + 1
    return level


class MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module name to the module at its new home (the same module object)."""

    def find_spec(self, name, path=None, target=None):
        if name in MOVED_MODULES:
            return importlib.util.spec_from_loader(name, self)
        return None

    def __init__(self):
        self._specs: dict = {}  # new module name -> its own spec

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} is now {new}: import it from there", DeprecationWarning,
                      stacklevel=_caller_stacklevel())
        module = importlib.import_module(new)
        self._specs.setdefault(new, module.__spec__)
        return module

    def exec_module(self, module):
        # the import system set the old name's spec on the module; give it back its own
        module.__spec__ = self._specs[module.__name__]


def install() -> None:
    if not any(isinstance(f, MovedModuleFinder) for f in sys.meta_path):
        sys.meta_path.append(MovedModuleFinder())
