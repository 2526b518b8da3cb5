"""Names of a surface module imported from their modules on first use (PEP 562).

The backend's surface modules (:mod:`dhflow.balsam.jobstore`, :mod:`dhflow.balsam.servers`,
:mod:`dhflow.balsam.launchers`) list where each of their names lives; a command then
enters only the backend modules it uses (a sweep's submit imports no search module).
"""
from __future__ import annotations

import importlib


def loader(module_globals: dict, names: dict[str, tuple[str, str]]):
    """A module ``__getattr__`` giving ``names[name] = (module of dhflow.balsam, attribute)``,
    imported once and then kept in ``module_globals``."""
    owner = module_globals["__name__"]

    def __getattr__(name: str):
        if name not in names:
            raise AttributeError(f"module {owner!r} has no attribute {name!r}")
        module, attr = names[name]
        value = getattr(importlib.import_module(f"dhflow.balsam.{module}"), attr)
        module_globals[name] = value
        return value

    return __getattr__
