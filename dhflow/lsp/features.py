"""What the language server answers, as pure functions of the text and a character offset.

No protocol types here: dhflow/lsp/server.py converts offsets and results to LSP.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from dhflow.compiler.check.rules.templates import APP_STATIC_FIELDS, APP_STATIC_NAMES, BASE_NAMES
from dhflow.compiler.check.search_builder import SEARCH_METHODS
from dhflow.compiler.lang.expressions import FUNCTIONS
from dhflow.compiler.explain import code_page, word_doc
from dhflow.compiler.fmt.layout import format_value
from dhflow.compiler.check.model import (APP_KEYS, BLOCKS, LAUNCH_KEYS, RESOURCE_KEYS, RULE_KEYS, SAMPLERS,
                                         WORKFLOW_KEYS)
from dhflow.target import JOB_MODES, SCHEDULERS
from dhflow.lsp.outline import Outline, Stmt

BLOCK_KEYS = {"workflow": WORKFLOW_KEYS, "app": APP_KEYS, "rule": RULE_KEYS, "launch": LAUNCH_KEYS}
DOMAINS = ("int", "real", "choice")
OBJECTIVE_SOURCES = ("stdout", "data", "file")
_CODE = re.compile(r"\bDH\d{3}\b")
_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)(?::[a-z]*)?\}")

SNIPPETS = {
    "grid": "grid(levels=${1:5})", "random": "random(count=${1:10}, seed=${2:1})",
    "lhs": "lhs(count=${1:10}, seed=${2:1})", "points": 'points("${1:points.csv}")',
    "int": "int(${1:1}, ${2:10})", "real": "real(${1:0.0}, ${2:1.0})", "choice": "choice(${1})",
    "stdout": 'stdout("${1:DH-OUTPUT}")', "data": 'data("${1:dh_objective}")',
    "file": 'file("${1:metrics.json}", "${2:objective}")',
    **{m: f"{m}(evals=${{1:50}})" for m in SEARCH_METHODS},
}


@dataclass
class Symbol:
    name: str
    kind: str  # workflow, space, sample, app, rule, launch, key, parameter, env
    start: int
    end: int
    sel_start: int
    sel_end: int
    children: list["Symbol"] = field(default_factory=list)


@dataclass(frozen=True)
class Completion:
    label: str
    kind: str  # keyword, property, function, variable, value, module, reference
    detail: str = ""
    snippet: str | None = None


def _symbol(st: Stmt) -> Symbol:
    name = f"{st.key.text} {st.label.text}" if st.label else st.key.text
    if st.parent is None:
        kind = st.key.text if st.key.text in BLOCKS else "key"
    elif st.block == "space":
        kind = "parameter"
    elif st.block == "env":
        kind = "env"
    else:
        kind = "key"
    sel = st.label or st.key
    children = [_symbol(c) for c in st.children]
    end = max([st.end] + [c.end for c in children])
    return Symbol(name, kind, st.key.start, end, sel.start, sel.end, children)


def symbols(ol: Outline) -> list[Symbol]:
    """The outline: every top-level block with its keys, parameters and env entries."""
    return [_symbol(s) for s in ol.top]


def _field_at(tok, offset: int) -> str | None:
    """The name of the `{name}` template field under the offset inside a string token."""
    for m in _FIELD.finditer(tok.text):
        if tok.start + m.start() <= offset <= tok.start + m.end():
            return m.group(1)
    return None


def _referent(ol: Outline, offset: int) -> Stmt | None:
    tok = ol.token_at(offset)
    st = ol.stmt_at(offset)
    if tok is None or st is None:
        return None
    if tok.kind == "STRING":
        name = _field_at(tok, offset)
        return ol.params().get(name) if name else None
    if tok.kind != "NAME":
        return None
    if tok is st.label:
        return st
    if tok is st.key:
        return st if st.block == "space" else None
    if tok not in st.value:
        return None
    if st.block == "rule" and st.key.text == "app":
        return ol.labelled("app").get(tok.text)
    if st.block == "rule" and st.key.text == "after":
        return ol.labelled("rule").get(tok.text)
    return ol.params().get(tok.text)


def definition(ol: Outline, offset: int) -> tuple[int, int] | None:
    """Where the app, rule or parameter under the offset is defined: (start, end) offsets."""
    st = _referent(ol, offset)
    if st is None:
        return None
    tok = st.label or st.key
    return tok.start, tok.end


def _called(st: Stmt, tok) -> bool:
    i = st.value.index(tok) if tok in st.value else -1
    return 0 <= i < len(st.value) - 1 and st.value[i + 1].text == "("


def hover(ol: Outline, offset: int, diagnostics=()) -> str | None:
    """Markdown for the word under the offset: a diagnostic's page, a key, a function, a
    parameter's definition; `diagnostics` are (start, end, Diagnostic) from the last check."""
    parts = []
    for start, end, d in diagnostics:
        if start <= offset <= end:
            page = code_page(d.code)
            head = f"**{d.severity}[{d.code}]**: {d.message}" + (f"\n\nhelp: {d.help}" if d.help else "")
            parts.append(head + (f"\n\n---\n\n{page.body}" if page else ""))
    word = _word_hover(ol, offset)
    if word:
        parts.append(word)
    return "\n\n---\n\n".join(parts) or None


def _word_hover(ol: Outline, offset: int) -> str | None:
    tok = ol.token_at(offset)
    st = ol.stmt_at(offset)
    if tok is None:
        return None
    if tok.kind == "COMMENT":
        m = next((m for m in _CODE.finditer(tok.text)
                  if tok.start + m.start() <= offset <= tok.start + m.end()), None)
        page = code_page(m.group()) if m else None
        return page.markdown() if page else None
    if st is None:
        return None
    if tok is st.key:
        if st.parent is None:
            return word_doc("block", tok.text)
        if st.block in BLOCK_KEYS:
            return word_doc("key", tok.text, st.block)
    ref = _referent(ol, offset)
    if ref is not None and ref.block == "space":
        value = format_value(ref.value)
        return f"parameter `{ref.key.text}`\n\n```dhflow\n{ref.key.text}: {value}\n```"
    if ref is not None and ref.label is not None and ref is not st:
        return f"```dhflow\n{ref.key.text} {ref.label.text}:\n```"
    if tok.kind == "NAME" and tok in st.value and _called(st, tok):
        if st.key.text == "sample" and st.parent is None:
            return word_doc("sampler", tok.text)
        if st.key.text == "search" and st.parent is None:
            return word_doc("search", tok.text)
        if st.block == "space":
            return word_doc("domain", tok.text)
        if st.key.text == "objective" and st.block == "rule":
            return word_doc("objective", tok.text)
        return word_doc("function", tok.text)
    return None


def _line_context(text: str, offset: int) -> tuple[str, int]:
    start = text.rfind("\n", 0, offset) + 1
    before = text[start:offset]
    return before, len(before) - len(before.lstrip(" "))


def _enclosing(ol: Outline, text: str, offset: int, indent: int) -> Stmt | None:
    """The header of the block a line with this indentation at the offset would belong to."""
    owner = None
    for st in ol.stmts:
        if st.key.start >= offset:
            break
        if st.header and st.indent < indent:
            owner = st
        elif st.indent <= (owner.indent if owner else -1):
            owner = None
    while owner is not None and owner.indent >= indent:
        owner = owner.parent
    return owner


def _in_string(before: str) -> bool:
    """Whether the text before the cursor leaves a string open (comments aside)."""
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', before)
    return '"' in code.split("#", 1)[0] and code.split("#", 1)[0].count('"') % 2 == 1


def _dimensions(ol: Outline, rule: Stmt | None) -> list[Completion]:
    """The `values` dimensions the rule fans out over (its `foreach:`), as names."""
    if rule is None or rule.key.text != "rule":
        return []
    dims = ol.labelled("values")
    used = {t.text for c in rule.children if c.key.text == "foreach" for t in c.value}
    return [Completion(d, "variable", "values dimension") for d in dims if d in used]


def _template_names(ol: Outline, rule: Stmt | None = None) -> list[Completion]:
    names = [Completion(n, "variable", "template value") for n in BASE_NAMES]
    names += [Completion("point:json", "variable", "the whole point as JSON, one shell word"),
              Completion("index", "variable", "the point's index"), Completion("point", "variable")]
    names += [Completion(p, "variable", "parameter") for p in ol.params()]
    return names + _dimensions(ol, rule)


def _expression_names(ol: Outline, key: str | None = None, rule: Stmt | None = None) -> list[Completion]:
    out = [Completion(p, "variable", "parameter: " + format_value(s.value))
           for p, s in ol.params().items()]
    out += _dimensions(ol, rule)
    out += [Completion(f, "function", f"function {f}") for f in FUNCTIONS]
    if key in RESOURCE_KEYS:
        out += [Completion(k, "variable", "resource key") for k in RESOURCE_KEYS[:RESOURCE_KEYS.index(key)]]
    return out


def completions(ol: Outline, offset: int) -> list[Completion]:
    """What may stand at the offset: block keywords, keys, samplers, names ..."""
    text = ol.text
    before, indent = _line_context(text, offset)
    owner = _enclosing(ol, text, offset, indent)
    if _in_string(before):
        if before.rfind("{") <= before.rfind("}"):
            return []
        key = before.split(":", 1)[0].strip()
        if owner is not None and owner.key.text == "app" and key in APP_STATIC_FIELDS:
            # one ApplicationDefinition for every task: only what is the same for all of them
            return [Completion(n, "variable", "template value") for n in APP_STATIC_NAMES]
        return _template_names(ol, owner)
    if ":" not in before:
        if owner is None:
            return [Completion(b, "keyword", "block", f"{b} ${{1:name}}:" if b in ("app", "rule") else None)
                    for b in BLOCKS]
        line_start = offset - len(before)
        given = {c.key.text for c in owner.children if not line_start <= c.key.start <= offset}
        keys = [k for k in BLOCK_KEYS.get(owner.key.text, ()) if k not in given]
        return [Completion(k, "property", f"{owner.key.text} key") for k in keys]
    key = before.split(":", 1)[0].split()[0] if before.split(":", 1)[0].split() else ""
    after = before.split(":", 1)[1]
    block = owner.key.text if owner else None
    if block is None and key == "sample":
        if re.search(r"\bwhere\b", after):
            return _expression_names(ol)
        return [Completion(s, "function", "sampler", SNIPPETS[s]) for s in SAMPLERS]
    if block is None and key == "search":
        if re.search(r"\bwhere\b", after):
            return _expression_names(ol)
        return [Completion(m, "function", "search method", SNIPPETS[m]) for m in SEARCH_METHODS]
    if block == "space":
        return [Completion(d, "function", "domain", SNIPPETS[d]) for d in DOMAINS]
    if block == "workflow" and key == "objective":
        return [Completion(v, "value") for v in ("maximize", "minimize")]
    if block == "launch":
        choices = {"scheduler": SCHEDULERS, "job_mode": JOB_MODES}.get(key, ())
        return [Completion(v, "value") for v in choices]
    if block == "rule":
        if key == "app":
            return [Completion(a, "reference", "app") for a in ol.labelled("app")]
        if key == "after":
            return [Completion(r, "reference", "rule") for r in ol.labelled("rule")
                    if owner.label is None or r != owner.label.text]
        if key == "foreach":  # a product: `dataset * space`; each dimension once
            given = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", after.rsplit("*", 1)[0] if "*" in after else ""))
            dims = [Completion("space", "keyword")]
            dims += [Completion(d, "variable", "values dimension") for d in ol.labelled("values")]
            return [c for c in dims if c.label not in given]
        if key == "objective":
            return [Completion(s, "function", "objective source", SNIPPETS[s]) for s in OBJECTIVE_SOURCES]
        if key == "cpu_affinity":
            return [Completion(v, "value") for v in ("none", "depth")]
        if key == "retry_on_timeout":
            return [Completion(v, "value") for v in ("true", "false")]
        if key in RESOURCE_KEYS:
            return _expression_names(ol, key, owner)
    return []
