"""Semantic checks over a Spec: one module per family, each a tuple of small functions.

Every check is `check(spec) -> Iterable[Diagnostic]`; all of them run, so one `dhflow
check` shows every problem in the file at once.
"""
from __future__ import annotations

from dhflow.compiler.diagnostics import Diagnostic
from dhflow.compiler.check.model import Spec
from dhflow.compiler.check.rules import (apps, concurrency, dependencies, dimensions, expressions, files,
                                         references, sampling, search, templates)

CHECKS = (
    *references.CHECKS,
    *dependencies.CHECKS,
    *sampling.CHECKS,
    *expressions.CHECKS,
    *templates.CHECKS,
    *search.CHECKS,
    *dimensions.CHECKS,
    *files.CHECKS,
    *apps.CHECKS,
    *concurrency.CHECKS,
)


def run_checks(spec: Spec) -> list[Diagnostic]:
    """Run every check and return all diagnostics found."""
    out: list[Diagnostic] = []
    for check in CHECKS:
        out.extend(check(spec))
    return out
