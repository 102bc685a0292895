"""The module paths of jaxgd 0.1 (before the layered layout), kept for this release.

``import jaxgd.train`` still works: it gives the module's new home
(`jaxgd.training.engine`) with a `DeprecationWarning` that names it. A module that
was split (``jaxgd.base``, ``jaxgd.rundir``) gives a module holding the names of
all its new homes. Installed as an import hook by ``jaxgd/__init__.py``.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
import warnings

MOVED: dict[str, tuple[str, ...]] = {
    "base": ("core.transform", "core.tree"),
    "errors": ("core.errors",),
    "models": ("nn.models",), "losses": ("nn.losses",), "backprop": ("nn.backprop",),
    "dataset": ("data.dataset",), "synthetic": ("data.synthetic",), "realdata": ("data.real",),
    "datafiles": ("data.files",), "splits": ("data.splits",),
    "train": ("training.engine",), "chunks": ("training.chunks",), "parallel": ("training.parallel",),
    "checkpoint": ("training.checkpoint",), "problems": ("training.problems",),
    "crosscheck_leaves": ("crosscheck.leaves",), "crosscheck_report": ("crosscheck.report",),
    "crosscheck_rows": ("crosscheck.rows",),
    "config": ("experiments.config",), "build": ("experiments.build",),
    "experiment": ("experiments.run",), "runfolder": ("experiments.runfolder",),
    "compare": ("experiments.compare",), "plots": ("experiments.plots",),
    "rundir": ("core.io", "experiments.outdir", "experiments.lock", "experiments.records"),
    "sweep": ("experiments.sweep.engine",), "sweep_grid": ("experiments.sweep.grid",),
    "sweep_plan": ("experiments.sweep.plan",), "sweep_report": ("experiments.sweep.report",),
}


class OldPaths(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds ``jaxgd.OLD`` for each OLD in `MOVED` and loads its new home."""

    def __init__(self):
        self.specs: dict = {}

    def find_spec(self, fullname, path=None, target=None):
        prefix, _, old = fullname.partition(".")
        if prefix == "jaxgd" and old in MOVED:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        old = spec.name.split(".", 1)[1]
        homes = [f"jaxgd.{m}" for m in MOVED[old]]
        warnings.warn(f"{spec.name} has moved to {' and '.join(homes)}; import it from there "
                      "(the old path is kept for this release only).", DeprecationWarning, stacklevel=2)
        modules = [importlib.import_module(h) for h in homes]
        if len(modules) == 1:
            self.specs[spec.name] = modules[0].__spec__  # the import system overwrites it
            return modules[0]  # the same module object: patching it patches the real one
        merged = types.ModuleType(spec.name, f"Deprecated: the names of {', '.join(homes)}.")
        for m in modules:
            merged.__dict__.update({k: v for k, v in vars(m).items() if not k.startswith("__")})
        return merged

    def exec_module(self, module):
        real = self.specs.pop(module.__spec__.name, None)
        if real is not None:
            module.__spec__ = real
            module.__loader__ = real.loader


def install() -> None:
    """Put the finder on `sys.meta_path` once."""
    if not any(isinstance(f, OldPaths) for f in sys.meta_path):
        sys.meta_path.append(OldPaths())
