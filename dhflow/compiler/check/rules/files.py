"""Checks of the files a rule names: `inputs:` with no parents to take them from, and the
`{here}/FILE` a first task runs that does not exist."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Iterator

from dhflow.compiler.check.model import Spec
from dhflow.compiler.diagnostics import WARNING, Diagnostic
from dhflow.compiler.code_files import CODE_SUFFIXES, exists, template_code


def files_without_parents(spec: Spec) -> Iterator[Diagnostic]:
    """`inputs:` links files from the parents' working directories: a rule with no `after` has none."""
    for rule in spec.rules:
        if rule.inputs and not rule.after:
            yield Diagnostic("DH302", f"rule `{rule.name}` has `inputs:` but no parents to take them from",
                             rule.inputs_span, severity=WARNING,
                             help="add `after: RULE`, or use `stage_in:` for files from elsewhere")


def missing_code(spec: Spec) -> Iterator[Diagnostic]:
    """A `{here}/FILE` in the command of a task that runs first (no `after:`) and does not
    exist fails at run time: say so before. (A task with parents may run what they build.)"""
    here = spec.source.here
    if spec.source.path.startswith("<"):
        return  # text given without a file: no directory to look in
    seen: set[str] = set()
    first = [r for r in spec.rules if not r.after]
    owners = [(f"app `{a.name}`", a, ("executable", "args", "preprocess", "postprocess")) for a in spec.apps
              if any(r.app and r.app[0] == a.name for r in first)]
    owners += [(f"rule `{r.name}`", r, ("shell", "args")) for r in first]
    for who, owner, fields in owners:
        for what in fields:
            t = getattr(owner, what)
            if t is None:
                continue
            for rel in template_code(t.text):
                if rel in seen or rel.endswith("/") or exists(here, rel):
                    continue
                seen.add(rel)
                yield missing_file(rel, what, who, t.span)


def missing_file(rel: str, what: str, who: str, span) -> Diagnostic:
    """DH114, saying what a missing file means: code the task runs fails it; any other file
    (an image, data) is a path handed to the program, which decides (it may fail or go on)."""
    suffix = PurePosixPath(rel).suffix.lower()
    if suffix in CODE_SUFFIXES or not suffix:
        return Diagnostic("DH114", f"`{{here}}/{rel}` in the {what} of {who} does not exist: the task "
                                   "fails when it runs it", span, severity=WARNING,
                          help=f"create {rel} next to the .dhflow file, or fix the path")
    return Diagnostic("DH114", f"`{{here}}/{rel}` in the {what} of {who} does not exist: the command is "
                               "given the path of a missing file", span, severity=WARNING,
                      help=f"whether the task fails is up to the program that reads it; create {rel} "
                           "next to the .dhflow file, or fix the path")


CHECKS = (files_without_parents, missing_code)
