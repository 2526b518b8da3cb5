"""Template strings: well-formed braces, known names for the rule that renders them."""
from __future__ import annotations

from typing import Iterator

from dhflow.compiler.diagnostics import Diagnostic, Label, did_you_mean
from dhflow.compiler.source import Span
from dhflow.compiler.check.model import RESOURCE_KEYS, AppSpec, RuleSpec, Spec, TemplateStr
from dhflow.target import ENV_SEPARATOR
from dhflow.compiler.lang.templates import TemplateError, parse_template

BASE_NAMES = ("workflow", "rule", "task", "here", *RESOURCE_KEYS, "cpu_affinity")
#: App fields that become one ApplicationDefinition shared by all its tasks: only names
#: that are the same for every task may appear in them.
APP_STATIC_FIELDS = ("executable", "envscript", "preprocess", "postprocess")
APP_STATIC_NAMES = ("here", "workflow")


def _raw_offset(raw: str, decoded_index: int) -> int:
    """Offset in the raw literal (between the quotes) of a character of the decoded string."""
    i = d = 0
    while i < len(raw) and d < decoded_index:
        i += 2 if raw[i] == "\\" else 1
        d += 1
    return i


def inner_span(t: TemplateStr, start: int, end: int) -> Span:
    """The span of characters start..end of a template's decoded text (escapes accounted for)."""
    s = t.span
    raw = t.raw if t.raw is not None else t.text
    a = min(s.start + 1 + _raw_offset(raw, start), s.end - 1)
    b = min(s.start + 1 + _raw_offset(raw, end), s.end - 1)
    line = s.line
    return Span(line, s.col + (a - s.start), line, s.col + (max(b, a + 1) - s.start), a, max(b, a + 1))


def context_names(spec: Spec, rule: RuleSpec) -> tuple[str, ...]:
    names = list(BASE_NAMES)
    if rule.foreach:
        names += ["point", "index"] + [p.name for p in spec.params]
    names += list(rule.value_dims)  # v2: each `values` dimension the rule fans out over
    return tuple(names)


def _rule_templates(rule: RuleSpec, app: AppSpec | None):
    out: list[tuple[str, TemplateStr, bool]] = []  # (what, template, owned by the app)
    if rule.shell:
        out.append(("shell", rule.shell, False))
    if rule.args:
        out.append(("args", rule.args, False))
    for k, v in rule.env:
        out.append((f"env {k}", v, False))
    out += [("inputs", t, False) for t in rule.inputs] + [("stage_out", t, False) for t in rule.stage_out]
    out += [(w, t, False) for w, t in (("stage_in", rule.stage_in), ("stage_out", rule.stage_out_url)) if t]
    if app is not None:
        for what in ("executable", "args", "envscript", "preprocess", "postprocess"):
            t = getattr(app, what)
            if t is not None and not (what == "args" and rule.args is not None):
                out.append((what, t, True))
        overridden = {k for k, _ in rule.env}
        out.extend((f"env {k}", v, True) for k, v in app.env if k not in overridden)
    return out


def template_names(spec: Spec) -> Iterator[Diagnostic]:
    """Each template is checked for every rule that renders it (an app's, for each user)."""
    reported: set[tuple] = set()
    for rule in spec.rules:
        app = spec.app(rule.app[0]) if rule.app else None
        rule_names = context_names(spec, rule)
        for what, t, from_app in _rule_templates(rule, app):
            static = from_app and what in APP_STATIC_FIELDS
            names = APP_STATIC_NAMES if static else rule_names
            try:
                _, fields = parse_template(t.text)
            except TemplateError as exc:
                key = ("syntax", t.span)
                if key not in reported:
                    reported.add(key)
                    yield Diagnostic("DH210", exc.message, inner_span(t, exc.start, exc.end),
                                     help="write `{{` and `}}` for literal braces")
                continue
            for f in fields:
                if f.name in names:
                    continue
                key = ("name", t.span, f.start, rule.foreach)
                if key in reported:
                    continue
                reported.add(key)
                params = [p.name for p in spec.params]
                if static and f.name in rule_names + tuple(params):
                    msg = (f"`{{{f.name}}}` cannot be used in the app's {what}: it is one "
                           f"ApplicationDefinition shared by every task")
                    hint = "only {here} and {workflow} may appear here; move per-task values into `args`"
                elif spec.dimension(f.name) is not None and not static:
                    msg = f"`{{{f.name}}}` in {what}, but rule `{rule.name}` does not fan out over `{f.name}`"
                    hint = f"write `foreach: {' * '.join([*rule.value_dims, f.name] + (['space'] if rule.foreach else []))}`"
                    yield Diagnostic("DH112", msg, inner_span(t, f.start, f.end), help=hint)
                    continue
                elif (f.name in params or f.name in ("point", "index")) and not rule.foreach:
                    msg = f"`{{{f.name}}}` in {what} needs a point, but rule `{rule.name}` has no `foreach: space`"
                    hint = None
                else:
                    msg = f"unknown template name `{{{f.name}}}` in {what}"
                    hint = did_you_mean(f.name, names) or f"names here: {', '.join(names)}"
                labels = (Label(rule.app[1], f"rendered for rule `{rule.name}`"),) if from_app and rule.app else ()
                yield Diagnostic("DH106", msg, inner_span(t, f.start, f.end), help=hint, labels=labels)


def app_static_templates(spec: Spec) -> Iterator[Diagnostic]:
    """Every app's shared fields (also of apps no rule uses) take only {here} and {workflow}."""
    used = {r.app[0] for r in spec.rules if r.app}
    for app in spec.apps:
        for what in APP_STATIC_FIELDS:
            t = getattr(app, what)
            if t is None:
                continue
            try:
                _, fields = parse_template(t.text)
            except TemplateError as exc:
                if app.name not in used:  # used apps are reported by template_names
                    yield Diagnostic("DH210", exc.message, inner_span(t, exc.start, exc.end),
                                     help="write `{{` and `}}` for literal braces")
                continue
            if app.name in used:
                continue
            for f in fields:
                if f.name not in APP_STATIC_NAMES:
                    yield Diagnostic("DH106", f"`{{{f.name}}}` cannot be used in the app's {what}: only "
                                              "{here} and {workflow} are known for an app's shared fields",
                                     inner_span(t, f.start, f.end))


def env_values(spec: Spec) -> Iterator[Diagnostic]:
    """Balsam stores the environment as K=V:K2=V2, so a value cannot contain `:`."""
    for owner in (*spec.apps, *spec.rules):
        for k, v in owner.env:
            try:
                parts, _ = parse_template(v.text)
            except TemplateError:
                continue  # reported by template_names
            literal = "".join(p for p in parts if isinstance(p, str))
            if ENV_SEPARATOR in literal:
                # Offsets in `literal` differ from the text's once braces are involved; find
                # the first `:` outside a field in the text itself.
                i = _first_literal_colon(v.text)
                yield Diagnostic("DH211", f"environment value of `{k}` contains `:`, which Balsam cannot store",
                                 inner_span(v, i, i + 1),
                                 help="Balsam joins variables as K=V:K2=V2; set PATH-like values in an envscript")


def _first_literal_colon(text: str) -> int:
    depth = 0
    for i, ch in enumerate(text):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth = max(0, depth - 1)
        elif ch == ENV_SEPARATOR and depth == 0:
            return i
    return 0


CHECKS = (template_names, app_static_templates, env_values)
