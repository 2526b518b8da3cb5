"""v2 fan-out in the builder: `values NAME: ...` lines, `foreach:` products and the file keys
of a rule (`inputs:`, `stage_in:`, `stage_out: ... to ...`).

Called by dhflow.compiler.check.builder with the builder itself (for its diagnostics and
value-shape helpers); cross-references (unknown dimensions, clashes) are checked later by
dhflow.compiler.check.rules.dimensions and .files, once every block is known.
"""
from __future__ import annotations

import re

from dhflow.compiler.check.model import TemplateStr, ValuesSpec
from dhflow.compiler.diagnostics import Label
from dhflow.compiler.parse import nodes as n
from dhflow.compiler.source import Span
from dhflow.target import TRANSFER_SCHEMES, transfer_url


def build_values(b, st: n.Stmt) -> ValuesSpec | None:
    """`values NAME: v1, v2, ...` -> ValuesSpec (literals only: numbers, strings, booleans)."""
    if not isinstance(st, n.Entry):
        b.err("DH013", f"`values {st.label}` takes its values on the same line: "
                       f"`values {st.label}: \"a\", \"b\"`", st.span)
        return None
    items = st.value.items if isinstance(st.value, n.TupleExpr) else (st.value,)
    values, spans = [], []
    for it in items:
        v = b._const(it)
        if v is None:
            b.err("DH203", "`values` lists literals: numbers, strings in double quotes, true or false", it.span,
                  help=f'write `values {st.label}: "a", "b", "c"`')
            return None
        if any(type(v) is type(w) and v == w for w in values):
            b.err("DH101", f"value `{b.src.text[it.span.start:it.span.end]}` is repeated in `values {st.label}`",
                  it.span, labels=[Label(spans[[type(v) is type(w) and v == w for w in values].index(True)],
                                         "first given here")])
            return None
        values.append(v)
        spans.append(it.span)
    return ValuesSpec(st.label, st.label_span, tuple(values), tuple(spans))


def empty_values(b, st: n.Section) -> None:
    """`values NAME:` with nothing after the colon."""
    b.err("DH212", f"`values {st.label}` is empty: a dimension needs at least one value", st.span,
          help=f'list them on the same line: `values {st.label}: "a", "b"`')


def _factors(e: n.Expr) -> list[n.Expr] | None:
    """`a * b * c` -> [a, b, c] (names only), None when it is not such a product."""
    if isinstance(e, n.BinOp) and e.op == "*":
        left, right = _factors(e.left), _factors(e.right)
        return None if left is None or right is None else left + right
    return [e] if isinstance(e, n.Name) else None


def rule_foreach(b, e: n.Expr) -> tuple[bool, Span | None, tuple[tuple[str, Span], ...]]:
    """`foreach:` -> (fans out over space, span of `space`, every dimension in written order)."""
    factors = _factors(e)
    if factors is None:
        b.err("DH206", "`foreach` takes `space`, a `values` name, or a product of them: `dataset * space`",
              e.span)
        return False, None, ()
    dims: list[tuple[str, Span]] = []
    for f in factors:
        first = next((s for d, s in dims if d == f.id), None)
        if first is not None:
            b.err("DH111", f"dimension `{f.id}` is used twice in `foreach`", f.span,
                  labels=[Label(first, "first used here")], help="each dimension appears once in a product")
            continue
        dims.append((f.id, f.span))
    space = next((s for d, s in dims if d == "space"), None)
    return space is not None, space, tuple(dims)


def _patterns(b, e: n.Expr, what: str) -> tuple[TemplateStr, ...]:
    items = e.items if isinstance(e, n.TupleExpr) else (e,)
    out = []
    for it in items:
        t = b.template(it, what)
        if t is not None:
            if not t.text.strip() or any(c.isspace() for c in t.text):
                # Balsam stores the patterns space-separated: a pattern cannot hold a space
                b.err("DH206", f"a pattern of {what} must be non-empty and without spaces", it.span)
                continue
            out.append(t)
    return tuple(out)


def rule_files(b, body: dict) -> dict:
    """The RuleSpec fields of `inputs:`, `stage_in:` and `stage_out: "p", ... to "URL"`."""
    out: dict = {}
    if "inputs" in body:
        out["inputs"] = _patterns(b, body["inputs"].value, "`inputs`")
        out["inputs_span"] = body["inputs"].key_span
    if "stage_in" in body:
        out["stage_in"] = _url(b, b.template(body["stage_in"].value, "`stage_in`"), "`stage_in`")
    if "stage_out" in body:
        v = body["stage_out"].value
        if not isinstance(v, n.To):
            b.err("DH206", "`stage_out` takes patterns and a destination: `stage_out: \"*.csv\" to \"URL\"`",
                  v.span)
        else:
            out["stage_out"] = _patterns(b, n.TupleExpr(v.items, v.span), "`stage_out`")
            out["stage_out_url"] = _url(b, b.template(v.url, "the `stage_out` destination"),
                                        "the `stage_out` destination")
    return out


# `NAME://...`, or `file:` however written (a relative path may hold a colon: left alone)
_SCHEME = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):(?=//)|(file):)", re.I)
_URL_FORMS = ("a path (`/data/out`), `file:///data/out`, `local:/data/out`, `scp://HOST/PATH` "
              "or `gsiftp://HOST/PATH`")


def _url(b, t: TemplateStr | None, what: str) -> TemplateStr | None:
    """A transfer URL that Balsam's stage-in/out would take for a path under the launcher's
    directory (an unknown scheme, a `file:` URL of another host) fails its task at run time:
    DH217 now. Only the literal start is checked: a URL a name begins (`{dest}`) is not.
    A local `file:` URL is fine: the rows are written with its path (dhflow.target.transfer_url)."""
    if t is None:
        return None
    m = _SCHEME.match(t.text)
    if m is None:
        return t
    written = m.group(1) or m.group(2)
    scheme = written.lower()
    if scheme in TRANSFER_SCHEMES:
        return t
    if scheme == "file":
        host = t.text[7:].split("/", 1)[0] if t.text[5:7] == "//" else ""
        if transfer_url(t.text) != t.text or "{" in host:  # a local path, or a host a name gives
            return t
        b.err("DH217", f"{what} is a `file:` URL that is not an absolute path on this machine", t.span,
              help="write `file:///ABSOLUTE/PATH` (three slashes) or the path itself; "
                   "use `scp://HOST/PATH` for another host")
        return None
    b.err("DH217", f"{what} uses `{written}:`, a kind of URL Balsam cannot transfer", t.span,
          help=f"Balsam copies from or to {_URL_FORMS}")
    return None
