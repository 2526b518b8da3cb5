"""Names that refer to other blocks: a rule's app and its `after` rules."""
from __future__ import annotations

from typing import Iterator

from ..diagnostics import Diagnostic, did_you_mean
from ..spec import Spec


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
    for rule in spec.rules:
        for dep, span in rule.after:
            if dep not in names:
                yield Diagnostic("DH103", f"rule `{rule.name}` runs after unknown rule `{dep}`", span,
                                 help=did_you_mean(dep, names) or f"the rules are: {', '.join(names)}")


CHECKS = (unknown_apps, unknown_rules)
