"""Diagnostics: a registry of codes, the Diagnostic record, and its text/JSON rendering.

Families: DH0xx syntax, DH1xx names, DH2xx types and ranges, DH3xx graph,
DH4xx expansion (sampling, resources), DH5xx backend, DH6xx adaptive search.
"""
from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Iterable

from dhflow.compiler.limits import MAX_DIAGNOSTICS_PER_CODE
from dhflow.compiler.source import SourceFile, Span

ERROR = "error"
WARNING = "warning"

#: Every diagnostic code and its one-line meaning (`dhflow explain` prints these).
CODES: dict[str, str] = {
    "DH001": "invalid syntax",
    "DH002": "unterminated string",
    "DH003": "tab in indentation",
    "DH004": "bad indentation",
    "DH005": "invalid escape in a string",
    "DH006": "unexpected character",
    "DH007": "file cannot be read (missing, not UTF-8, not a regular file, over 1 MiB)",
    "DH008": "source over a size limit (a line over 10,000 characters, over 150,000 tokens)",
    "DH009": "nested too deeply (over 100 levels of parentheses, operators or blocks)",
    "DH010": "unknown block",
    "DH011": "unknown key",
    "DH012": "missing block or key",
    "DH013": "malformed block or entry",
    "DH101": "duplicate name",
    "DH102": "unknown app",
    "DH103": "unknown rule",
    "DH104": "unknown name in an expression",
    "DH105": "unknown function",
    "DH106": "unknown template name",
    "DH107": "reserved name",
    "DH110": "foreach names an unknown dimension",
    "DH111": "dimension used twice in one foreach",
    "DH112": "a dimension used in a rule that does not fan out over it",
    "DH113": "values name clashes with a parameter or a reserved name",
    "DH114": "a file named under {here} does not exist",
    "DH201": "lower bound not below upper bound",
    "DH202": "log scale needs a positive lower bound",
    "DH203": "wrong type",
    "DH204": "invalid parameter domain",
    "DH205": "invalid sampler",
    "DH206": "invalid value",
    "DH207": "invalid objective source",
    "DH208": "a rule needs exactly one of app or shell",
    "DH209": "objective on a rule without foreach",
    "DH210": "invalid template",
    "DH211": "environment value not representable in Balsam",
    "DH212": "empty values",
    "DH213": "values of mixed types",
    "DH214": "values that give the same task name",
    "DH215": "preprocess or postprocess is not a single executable path",
    "DH216": "text the database cannot store (a NUL character)",
    "DH217": "a stage_in or stage_out URL Balsam cannot transfer",
    "DH301": "dependency cycle",
    "DH302": "inputs on a rule without parents",
    "DH401": "foreach without a usable sampler",
    "DH402": "the sampler gives no usable point",
    "DH403": "explicit points do not fit the space",
    "DH404": "resource value out of range",
    "DH405": "task needs more nodes than the launcher has",
    "DH406": "task wall time exceeds the launcher's",
    "DH407": "expression cannot be evaluated",
    "DH408": "value is not shell-safe in a raw template",
    "DH409": "too many points, tasks, dependencies or task text (raise with --max-tasks)",
    "DH410": "task cannot run in the launcher's serial job mode",
    "DH411": "a search's `parallel` is more than the launch runs at once",
    "DH601": "unknown search method",
    "DH602": "invalid search argument",
    "DH603": "a search needs one foreach rule carrying the objective",
    "DH604": "search method does not fit the space or the objectives",
    "DH605": "objective sources and directions differ in number",
    "DH606": "search method needs an optional extra that is not installed",
    "DH607": "a design point of `sample:` that the search's `where` drops",
    "DH608": "a search's objective rule fans out over values",
}


@dataclass(frozen=True)
class Label:
    """A secondary location with a short message (for example one edge of a cycle)."""

    span: Span
    message: str


@dataclass(frozen=True)
class Diagnostic:
    """One problem in a source file."""

    code: str
    message: str
    span: Span | None
    severity: str = ERROR
    help: str | None = None
    labels: tuple[Label, ...] = field(default=())

    def to_dict(self, source: SourceFile | None = None) -> dict:
        """The JSON record of `--format json`."""
        d = {
            "file": source.path if source else None,
            "line": self.span.line if self.span else None,
            "col": self.span.col if self.span else None,
            "end_line": self.span.end_line if self.span else None,
            "end_col": self.span.end_col if self.span else None,
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "help": self.help,
            "labels": [
                {"line": lb.span.line, "col": lb.span.col, "message": lb.message}
                for lb in self.labels
            ],
        }
        return d


class DiagnosticError(Exception):
    """Raised by a stage that cannot go on; carries the diagnostics collected so far."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = list(diagnostics)
        super().__init__("; ".join(d.message for d in self.diagnostics))


def did_you_mean(name: str, candidates: Iterable[str]) -> str | None:
    """A 'did you mean' hint for a misspelled name, or None."""
    pool = set(candidates)
    if len(pool) > 2000:  # difflib is slow on huge lists; a hint is not worth seconds
        return None
    matches = difflib.get_close_matches(name, sorted(pool), n=1, cutoff=0.6)
    return f"did you mean `{matches[0]}`?" if matches else None


def has_errors(diags: Iterable[Diagnostic]) -> bool:
    return any(d.severity == ERROR for d in diags)


def sort_key(d: Diagnostic) -> tuple:
    # Diagnostics without a place (the summaries of limit_per_code) come last.
    return (d.span.line, d.span.col) if d.span else (float("inf"), 0)


def limit_per_code(diags: Iterable[Diagnostic], limit: int | None = None) -> list[Diagnostic]:
    """The diagnostics in source order, at most `limit` of each code (default
    MAX_DIAGNOSTICS_PER_CODE), each code's rest counted in one summary diagnostic:
    300,000 copies of one mistake are one problem, not 300,000 screens."""
    limit = MAX_DIAGNOSTICS_PER_CODE if limit is None else limit
    shown: list[Diagnostic] = []
    seen: dict[str, int] = {}
    severity: dict[str, str] = {}
    for d in sorted(diags, key=sort_key):
        if d.span is None and d.message.startswith("... and "):
            d = Diagnostic(d.code, d.message, None, d.severity)  # an earlier summary: recount below
            seen[d.code] = seen.get(d.code, 0) + int(d.message.split()[2].replace(",", ""))
            severity.setdefault(d.code, d.severity)
            continue
        n = seen[d.code] = seen.get(d.code, 0) + 1
        if n <= limit:
            shown.append(d)
        else:
            severity[d.code] = ERROR if d.severity == ERROR else severity.get(d.code, d.severity)
    for code in sorted(c for c, n in seen.items() if n > limit):
        more = seen[code] - limit
        word = "errors" if severity[code] == ERROR else "warnings"
        shown.append(Diagnostic(code, f"... and {more:,} more {code} {word} (the first {limit} are shown)",
                                None, severity[code]))
    return shown


_MAX_SHOWN = 120
_CONTROL_PICTURES = {**{c: 0x2400 + c for c in range(32)}, 0x7F: 0x2421}


def _snippet(source: SourceFile, span: Span, message: str = "", marker: str = "^", gutter: int = 0) -> list[str]:
    text = source.line_text(span.line)
    gutter = max(gutter, len(str(span.line)))
    width = 1
    if span.end_line == span.line:
        width = max(1, span.end_col - span.col)
    else:
        width = max(1, len(text) - span.col + 1)
    pad = " " * gutter
    # Tabs would misalign the caret; show them as single spaces. Other control characters
    # (a NUL, an escape that would restyle the terminal) as their one-column pictures: ␀, ␛.
    shown = text.replace("\t", " ").translate(_CONTROL_PICTURES)
    col = span.col
    if len(shown) > _MAX_SHOWN:
        # A very long line is shown as a window around the caret.
        start = max(0, col - 1 - _MAX_SHOWN // 3)
        end = start + _MAX_SHOWN
        shown = ("..." if start else "") + shown[start:end] + ("..." if end < len(shown) else "")
        col = col - start + (3 if start else 0)
        width = min(width, _MAX_SHOWN - (col - 1) + 3)
    caret = " " * (col - 1) + marker * max(1, width)
    out = [f"{pad} |", f"{str(span.line).rjust(gutter)} | {shown}", f"{pad} | {caret}" + (f" {message}" if message else "")]
    return out


def render_text(diag: Diagnostic, source: SourceFile | None) -> str:
    """`FILE:LINE:COL: error[CODE]: message`, the source line, a caret, labels and help."""
    path = source.path if source else "<input>"
    if diag.span:
        head = f"{path}:{diag.span.line}:{diag.span.col}: {diag.severity}[{diag.code}]: {diag.message}"
    else:
        head = f"{path}: {diag.severity}[{diag.code}]: {diag.message}"
    lines = [head]
    spans = ([diag.span] if diag.span else []) + [lb.span for lb in diag.labels]
    gutter = max((len(str(s.line)) for s in spans), default=1)
    if diag.span and source:
        lines += _snippet(source, diag.span, gutter=gutter)
    if source:
        for lb in diag.labels:
            lines += _snippet(source, lb.span, lb.message, marker="-", gutter=gutter)
    if diag.help:
        lines.append(f"{' ' * gutter} = help: {diag.help}")
    return "\n".join(lines)


def render_all(diags: Iterable[Diagnostic], source: SourceFile | None, fmt: str = "text") -> str:
    """Render every diagnostic, in source order, as text or as a JSON list."""
    ordered = limit_per_code(diags)
    if fmt == "json":
        return json.dumps([d.to_dict(source) for d in ordered], indent=2)
    return "\n".join(render_text(d, source) for d in ordered)
