"""Templates in executable/args/shell/env strings: parsing, checking and rendering.

`{name}` is a value as text, `{name:quote}` one shell-quoted argument, `{point:json}` the
whole point as compact JSON quoted as one argument. `{{` and `}}` are literal braces.
"""
from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass
from typing import Any, Mapping

from dhflow.compiler.lang.expressions import format_value
from dhflow.compiler.jsonfast import compact

FORMATS = ("quote", "json")
#: Context key under which a caller may pass `compact(point)` it computed already.
POINT_COMPACT = "\0point-compact"
_FIELD = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class Field:
    name: str
    fmt: str | None
    start: int  # offset of `{` in the decoded string
    end: int


class TemplateError(ValueError):
    def __init__(self, message: str, start: int, end: int):
        super().__init__(message)
        self.message, self.start, self.end = message, start, end


def parse_template(text: str) -> tuple[tuple[str | Field, ...], tuple[Field, ...]]:
    """Split a template into literal strings and Fields; raise TemplateError on bad braces."""
    parts: list[str | Field] = []
    fields: list[Field] = []
    pos = 0
    buf = []
    for m in _FIELD.finditer(text):
        buf.append(text[pos:m.start()])
        tok = m.group(0)
        if tok == "{{":
            buf.append("{")
        elif tok == "}}":
            buf.append("}")
        elif tok in ("{", "}"):
            raise TemplateError(f"unmatched `{tok}` in a template", m.start(), m.start() + 1)
        else:
            inner = m.group(1)
            name, _, fmt = inner.partition(":")
            name = name.strip()
            if not _NAME.match(name):
                raise TemplateError(f"`{{{inner}}}` is not a template field", m.start(), m.end())
            if _ and fmt not in FORMATS:
                raise TemplateError(f"unknown format `:{fmt}` (use :quote, or :json for point)", m.start(), m.end())
            if fmt == "json" and name != "point":
                raise TemplateError(f"`:json` applies to `point` only (write {{{name}:quote}})", m.start(), m.end())
            if buf:
                parts.append("".join(buf))
                buf = []
            f = Field(name, fmt or None, m.start(), m.end())
            parts.append(f)
            fields.append(f)
        pos = m.end()
    buf.append(text[pos:])
    if "".join(buf):
        parts.append("".join(buf))
    return tuple(parts), tuple(fields)


_JSON_UNSAFE = re.compile(r"[\s~]")


def point_json(point: Mapping[str, Any], text: str | None = None) -> str:
    """Compact JSON of a point, safe against Balsam's whitespace collapsing and `~` expansion.

    Whitespace and `~` inside strings become \\uXXXX escapes: still valid JSON that decodes
    to the exact values, but with no character Balsam's command handling would alter.
    `text` may pass `compact(point)` when the caller has it already.
    """
    text = compact(point) if text is None else text
    if " " not in text and "~" not in text:
        return text  # fast path: ensure_ascii already escaped every other whitespace
    return _JSON_UNSAFE.sub(lambda m: "\\u%04x" % ord(m.group(0)), text)


def shell_safe(text: str) -> bool:
    """Whether a raw value stays one harmless word in a command line."""
    return shlex.quote(text) == text and "~" not in text


def render(parts: tuple[str | Field, ...], ctx: Mapping[str, Any]) -> str:
    """Render parsed template parts with a context (names already checked to exist)."""
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
        elif p.fmt == "json":
            out.append(shlex.quote(point_json(ctx["point"], ctx.get(POINT_COMPACT))))
        elif p.fmt == "quote":
            v = ctx[p.name]
            out.append(shlex.quote(point_json(v) if p.name == "point" else format_value(v)))
        else:
            v = ctx[p.name]
            out.append(shlex.quote(point_json(v)) if p.name == "point" else format_value(v))
    return "".join(out)
