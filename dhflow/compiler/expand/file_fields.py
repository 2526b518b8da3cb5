"""A rule's file fields rendered per task: Balsam's four columns from `inputs:`, `stage_in:`
and `stage_out: ... to ...`."""
from __future__ import annotations

from typing import Any

from dhflow.compiler.check.model import RuleSpec
from dhflow.compiler.lang.templates import parse_template, render


class RuleFiles:
    """A rule's `inputs:`, `stage_in:` and `stage_out:` templates, rendered per task."""

    def __init__(self, rule: RuleSpec):
        parse = lambda ts: [parse_template(t.text)[0] for t in ts]  # noqa: E731
        self.inputs = parse(rule.inputs)
        self.stage_out = parse(rule.stage_out)
        self.stage_in = parse_template(rule.stage_in.text)[0] if rule.stage_in else None
        self.url = parse_template(rule.stage_out_url.text)[0] if rule.stage_out_url else None
        self.any = bool(self.inputs or self.stage_out or self.stage_in or self.url)

    def render(self, ctx: dict[str, Any]) -> tuple[str, str, str, str]:
        """(input_files, stage_in_url, stage_out_files, stage_out_url), Balsam's four columns."""
        return (" ".join(render(p, ctx) for p in self.inputs),
                render(self.stage_in, ctx) if self.stage_in else "",
                " ".join(render(p, ctx) for p in self.stage_out),
                render(self.url, ctx) if self.url else "")
