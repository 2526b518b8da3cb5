"""Text -> lark parse tree; every lark error becomes a Diagnostic (syntax errors stop)."""
from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Tree
from lark import __version__ as lark_version
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.indenter import DedentError, Indenter

from dhflow.compiler.diagnostics import Diagnostic, DiagnosticError
from dhflow.compiler.parse.bounds import check_depth, check_text
from dhflow.compiler.source import SourceFile, Span


class _DhflowIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR"]
    CLOSE_PAREN_types = ["RPAR"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


def grammar_text() -> str:
    """The grammar: packaged in the wheel as dhflow/_grammar, or grammar/ in a checkout."""
    try:
        packaged = resources.files("dhflow") / "_grammar" / "dhflow.lark"
        if packaged.is_file():
            return packaged.read_text(encoding="utf-8")
    except (FileNotFoundError, ModuleNotFoundError):  # pragma: no cover - odd installs
        pass
    return (Path(__file__).resolve().parents[3] / "grammar" / "dhflow.lark").read_text(encoding="utf-8")


def _parser_cache(grammar: str) -> str | bool:
    """Where lark keeps the built parser between runs (building it takes a tenth of a second
    of every command): a file of this grammar under the user's cache directory, or False
    when that directory cannot be written.  lark checks the grammar's digest stored in the
    file and rebuilds (quietly) when it does not match or the file is unreadable."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "dhflow")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError:
        return False
    try:  # lark unpickles the file: only from a folder that is ours and private
        st = os.stat(folder)
    except OSError:
        return False
    if st.st_uid != os.geteuid() or st.st_mode & 0o022 or not os.access(folder, os.W_OK):
        return False
    digest = hashlib.sha256(grammar.encode("utf-8")).hexdigest()[:16]
    return os.path.join(folder, f"grammar-{digest}-lark{lark_version}-py{sys.version_info[0]}{sys.version_info[1]}.cache")


@functools.lru_cache(maxsize=1)
def parser() -> Lark:
    """The LALR parser, built once per process (and kept by lark between runs)."""
    grammar = grammar_text()
    return Lark(
        grammar,
        parser="lalr",
        postlex=_DhflowIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
        cache=_parser_cache(grammar),
    )


# Friendly names for the terminals lark reports as expected.
_TOKEN_NAMES = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "COLON": "`:`",
    "LPAR": "`(`", "RPAR": "`)`", "COMMA": "`,`", "_NL": "end of line", "_INDENT": "an indented block",
    "_DEDENT": "end of block", "EQUAL": "`=`", "COMP_OP": "a comparison", "ADD_OP": "`+`/`-`",
    "MUL_OP": "`*`, `/`, `//` or `%`", "POW_OP": "`**`", "$END": "end of file",
    "IF": "`if`", "ELSE": "`else`", "WHERE": "`where`", "TO": "`to`", "TRUE": "`true`", "FALSE": "`false`",
    "AND": "`and`", "OR": "`or`", "NOT": "`not`",
}

_TAB_INDENT = re.compile(r"^[ ]*\t", re.M)


def _expected(exp) -> str:
    names = sorted({_TOKEN_NAMES.get(e, e) for e in exp})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return ", ".join(names)


def _token_desc(tok: Token) -> str:
    if tok.type == "_NL":
        return "end of line"
    if tok.type == "_INDENT":
        return "indentation"
    if tok.type == "_DEDENT":
        return "end of block"
    if tok.type == "$END":
        return "end of file"
    return f"`{tok.value}`"


def _next_content(text: str, pos: int) -> int:
    while pos < len(text):
        ch = text[pos]
        if ch in " \t\r\n":
            pos += 1
        elif ch == "#":
            nl = text.find("\n", pos)
            pos = len(text) if nl < 0 else nl
        else:
            break
    return min(pos, max(0, len(text) - 1))


def _unclosed_paren(text: str, upto: int) -> int | None:
    """Offset of the innermost `(` still open at `upto` (strings and comments skipped)."""
    stack: list[int] = []
    i = 0
    while i < min(upto, len(text)):
        ch = text[i]
        if ch == '"':
            i += 1
            while i < len(text) and text[i] not in '"\n':
                i += 2 if text[i] == "\\" else 1
        elif ch == "#":
            while i < len(text) and text[i] != "\n":
                i += 1
        elif ch == "(":
            stack.append(i)
        elif ch == ")" and stack:
            stack.pop()
        i += 1
    return stack[-1] if stack else None


def _error_to_diagnostic(src: SourceFile, err: Exception) -> Diagnostic:
    text = src.text
    if isinstance(err, (UnexpectedToken, UnexpectedEOF)):
        tok = getattr(err, "token", None)
        at = tok.start_pos if tok is not None and tok.start_pos is not None and tok.type != "$END" else len(text)
        open_at = _unclosed_paren(text, at)
        # Inside parentheses newlines are ignored, so the parser only notices a missing `)`
        # lines later: point at the parenthesis instead.
        if open_at is not None and src.position(open_at)[0] < src.position(at)[0]:
            return Diagnostic("DH001", "`(` is never closed", src.span(open_at, open_at + 1),
                              help="close it with `)` on the same line or a later one")
    if isinstance(err, UnexpectedCharacters):
        pos = err.pos_in_stream
        ch = text[pos] if pos < len(text) else ""
        span = src.span(pos, pos + 1)
        if ch == '"':
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            return Diagnostic("DH002", "unterminated string", src.span(pos, end),
                              help='close the string with `"` on the same line')
        if ch == "\t":
            return Diagnostic("DH003", "tab character; use spaces", span)
        shown = f"`{ch}`" if ch.isprintable() else f"U+{ord(ch):04X}"  # a NUL, a form feed: named
        return Diagnostic("DH006", f"unexpected character {shown}", span)
    if isinstance(err, UnexpectedToken):
        tok = err.token
        if tok.type == "$END" or tok.line is None:
            pos = max(0, len(text.rstrip()) - 1)
            return Diagnostic("DH001", "unexpected end of file", src.span(pos, pos + 1),
                              help=f"expected {_expected(err.expected)}")
        start = tok.start_pos if tok.start_pos is not None else 0
        if tok.type == "_INDENT":
            # The indent token borrows the position of the newline before it; point at the
            # first character of the indented line (skipping blank and comment lines).
            end_ws = _next_content(text, start)
            return Diagnostic("DH004", "unexpected indentation", src.span(end_ws, end_ws + 1),
                              help="indent only the body of a block (the lines after a `...:` header)")
        if tok.type in ("_NL",):
            # A newline token starts at the line break: point just after the last character.
            span = src.span(start, start + 1)
            return Diagnostic("DH001", "unexpected end of line", span,
                              help=f"expected {_expected(err.expected)}")
        end = tok.end_pos if tok.end_pos is not None else start + 1
        return Diagnostic("DH001", f"unexpected {_token_desc(tok)}", src.span(start, end),
                          help=f"expected {_expected(err.expected)}")
    if isinstance(err, UnexpectedEOF):
        pos = max(0, len(text.rstrip()) - 1)
        return Diagnostic("DH001", "unexpected end of file", src.span(pos, pos + 1))
    return Diagnostic("DH001", f"invalid syntax: {err}", Span.point(1, 1))


def _dedent_diagnostic(src: SourceFile, err: DedentError) -> Diagnostic:
    # lark's message does not carry a position; find the first line whose indentation
    # matches no enclosing level.
    # The parser's lines end at `\n` only (a vertical tab or a lone `\r` in a comment is
    # comment text); the position is then the editor's, from the offset.
    levels = [0]
    offset = 0
    for line in src.text.split("\n"):
        start, offset = offset, offset + len(line) + 1
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#") or stripped == "\r":
            continue
        ind = len(line) - len(stripped)
        if ind > levels[-1]:
            levels.append(ind)
            continue
        while ind < levels[-1]:
            levels.pop()
        if ind != levels[-1]:
            lineno = src.position(start)[0]
            return Diagnostic("DH004", "indentation does not match any outer block",
                              Span(lineno, 1, lineno, ind + 1, start, start + ind),
                              help="indent body lines of a block by the same amount")
    return Diagnostic("DH004", "inconsistent indentation", Span.point(1, 1))


def parse_tree(src: SourceFile) -> Tree:
    """Parse a source file into a lark tree; raise DiagnosticError on the first syntax error."""
    m = _TAB_INDENT.search(src.text)
    if m:
        pos = m.end() - 1
        raise DiagnosticError([Diagnostic("DH003", "tab in indentation; indent with spaces",
                                          src.span(pos, pos + 1))])
    check_text(src)  # line length, token count, parenthesis depth: before paying the parser
    text = src.text if src.text.endswith("\n") else src.text + "\n"
    try:
        tree = parser().parse(text)
    except DedentError as err:
        raise DiagnosticError([_dedent_diagnostic(src, err)]) from None
    except UnexpectedInput as err:
        raise DiagnosticError([_error_to_diagnostic(src, err)]) from None
    except LarkError as err:  # anything else lark may raise: still a diagnostic
        raise DiagnosticError([Diagnostic("DH001", f"invalid syntax: {err}", Span.point(1, 1))]) from None
    check_depth(src, tree)
    return tree
