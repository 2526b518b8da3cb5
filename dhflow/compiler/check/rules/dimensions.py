"""Checks of the fan-out dimensions: the names `foreach` multiplies, and the `values` lists."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.check.model import Spec, value_label
from dhflow.compiler.diagnostics import WARNING, Diagnostic, Label, did_you_mean


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


CHECKS = (unknown_dimensions, values_names, values_shapes)
