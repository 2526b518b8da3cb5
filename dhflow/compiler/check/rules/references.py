"""Names that refer to other blocks: a rule's app and its `after` rules."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.diagnostics import Diagnostic, did_you_mean
from dhflow.compiler.check.model import Spec


def unknown_apps(spec: Spec) -> Iterator[Diagnostic]:
    """`app: NAME` must name an app block.

    >>> # rule train: app: trainer  (no `app trainer:`)  -> DH102
    """
    names = [a.name for a in spec.apps]
    for rule in spec.rules:
        if rule.app and rule.app[0] not in names:
            yield Diagnostic("DH102", f"rule `{rule.name}` uses unknown app `{rule.app[0]}`", rule.app[1],
                             help=did_you_mean(rule.app[0], names) or
                             (f"the apps are: {', '.join(names)}" if names else "define it with `app NAME:`"))


def unknown_rules(spec: Spec) -> Iterator[Diagnostic]:
    """Every name in `after:` must be a rule."""
    names = [r.name for r in spec.rules]
    known = set(names)
    for rule in spec.rules:
        for dep, span in rule.after:
            if dep not in known:
                yield Diagnostic("DH103", f"rule `{rule.name}` runs after unknown rule `{dep}`", span,
                                 help=did_you_mean(dep, names) or f"the rules are: {', '.join(names)}")


def reserved_parameter_names(spec: Spec) -> Iterator[Diagnostic]:
    """A parameter may not take a name that templates and resource rules already give a
    meaning (`{nodes}`, `{index}`, `{here}` ...): it would be ambiguous which one is meant."""
    from dhflow.compiler.check.rules.templates import BASE_NAMES
    reserved = set(BASE_NAMES) | {"point", "index"}
    for p in spec.params:
        if p.name in reserved:
            yield Diagnostic("DH107", f"parameter `{p.name}` has a reserved name", p.span,
                             help="these names mean something in templates and resource rules: "
                                  + ", ".join(sorted(reserved)))


CHECKS = (unknown_apps, unknown_rules, reserved_parameter_names)
