"""A lossless tokenizer for .dhflow text: every character belongs to exactly one token.

The formatter and the language server need what the parser throws away (comments, blank
lines, the exact text of numbers and strings). The patterns mirror grammar/dhflow.lark;
tests check that the significant tokens equal lark's own for every example.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

KEYWORDS = frozenset({"if", "else", "where", "and", "or", "not", "true", "false"})

_PATTERNS = [
    ("NEWLINE", r"\r?\n"),
    ("SPACE", r"[ \t\f]+"),
    # as the grammar's `#[^\n]*`: a lone `\r` is comment text, only the `\r` of `\r\n` ends it
    ("COMMENT", r"#(?:[^\r\n]|\r(?!\n))*"),
    ("STRING", r'"(?:[^"\\\n]|\\.)*"'),
    ("BADSTRING", r'"[^\n]*'),
    ("NUMBER", r"0[xX][0-9a-fA-F_]+|0[oO][0-7_]+|0[bB][01_]+"
               r"|(?:\d[\d_]*\.[\d_]*|\.\d[\d_]*|\d[\d_]*)(?:[eE][+-]?[\d_]+)?"),
    ("NAME", r"[A-Za-z_][A-Za-z0-9_]*"),
    ("OP", r"\*\*|//|<=|>=|==|!=|[-+*/%<>=(),:]"),
    ("OTHER", r"."),
]
_TOKEN = re.compile("|".join(f"(?P<{name}>{pat})" for name, pat in _PATTERNS), re.S)


@dataclass(frozen=True)
class Tok:
    """One token: kind (NEWLINE SPACE COMMENT STRING NUMBER NAME KEYWORD OP OTHER), text and
    0-based offsets."""

    kind: str
    text: str
    start: int
    end: int


def tokenize(text: str) -> list[Tok]:
    """Every token of `text`, in order; concatenating their texts gives `text` back."""
    out: list[Tok] = []
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup or "OTHER"
        value = m.group()
        if kind == "NAME" and value in KEYWORDS:
            kind = "KEYWORD"
        elif kind == "BADSTRING":
            kind = "OTHER"
        out.append(Tok(kind, value, m.start(), m.end()))
    return out


def significant(tokens: list[Tok]) -> list[Tok]:
    """The tokens the parser sees (no spaces, newlines or comments)."""
    return [t for t in tokens if t.kind not in ("SPACE", "NEWLINE", "COMMENT")]
