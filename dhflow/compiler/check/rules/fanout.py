"""v2 fan-out checks: dimensions named by `foreach`, `values` lists, file keys, named code."""
from __future__ import annotations

from pathlib import PurePosixPath
from typing import Iterator

from dhflow.compiler.check.fanout import value_label
from dhflow.compiler.check.model import Spec
from dhflow.compiler.diagnostics import WARNING, Diagnostic, Label, did_you_mean
from dhflow.compiler.plan.code import CODE_SUFFIXES, exists, template_code


def unknown_dimensions(spec: Spec) -> Iterator[Diagnostic]:
    """Every factor of `foreach` is `space` or a `values` name."""
    known = ["space", *(v.name for v in spec.values)]
    for rule in spec.rules:
        for d, span in rule.dims:
            if d not in known:
                yield Diagnostic("DH110", f"rule `{rule.name}` fans out over unknown dimension `{d}`", span,
                                 help=did_you_mean(d, known) or
                                 f"define it with `values {d}: ...` (the dimensions are: {', '.join(known)})")


def values_names(spec: Spec) -> Iterator[Diagnostic]:
    """A `values` name may not be a parameter, `space` or a name templates already give a meaning."""
    from dhflow.compiler.check.rules.templates import BASE_NAMES
    reserved = set(BASE_NAMES) | {"point", "index", "space"}
    params = {p.name: p for p in spec.params}
    for v in spec.values:
        if v.name in params:
            yield Diagnostic("DH113", f"`values {v.name}` has the name of a parameter of the space", v.span,
                             labels=(Label(params[v.name].span, "parameter defined here"),),
                             help="rename one of them: `{" + v.name + "}` would be ambiguous")
        elif v.name in reserved:
            yield Diagnostic("DH113", f"`values {v.name}` has a reserved name", v.span,
                             help="these names mean something in templates: " + ", ".join(sorted(reserved)))


def values_shapes(spec: Spec) -> Iterator[Diagnostic]:
    """Values of one dimension have one type, and give distinct task names."""
    for v in spec.values:
        kinds = {"number" if isinstance(x, (int, float)) and not isinstance(x, bool) else type(x).__name__
                 for x in v.values}
        if len(kinds) > 1:
            yield Diagnostic("DH213", f"`values {v.name}` mixes {' and '.join(sorted(kinds))} values", v.span,
                             severity=WARNING,
                             help="in expressions they compare unequal and sort apart; write them all as strings")
        seen: dict[str, int] = {}
        for i, x in enumerate(v.values):
            lab = value_label(x)
            if lab in seen:
                yield Diagnostic("DH214", f"values `{v.values[seen[lab]]}` and `{x}` of `{v.name}` give the same "
                                          f"task name part `{lab}`", v.value_spans[i],
                                 labels=(Label(v.value_spans[seen[lab]], "this one"),),
                                 help="task names keep letters, digits, `_`, `-` and `+`; make the values differ "
                                      "in those")
            else:
                seen[lab] = i


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


CHECKS = (unknown_dimensions, values_names, values_shapes, files_without_parents, missing_code)
