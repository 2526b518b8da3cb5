"""The statements of a document, from tokens: works on files that do not parse.

The language server answers symbols, definitions, hovers and completions while the user
types, when the file is often broken; so its view of the file is line based (a statement is
`KEY [LABEL]: VALUE`, its block is given by indentation) and never needs the parser.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from dhflow.compiler.fmt.tokens import Tok, tokenize


@dataclass
class Stmt:
    """One logical line with code."""

    key: Tok
    label: Tok | None
    colon: Tok | None
    value: list[Tok]
    indent: int
    level: int = 0
    parent: "Stmt | None" = None
    children: list["Stmt"] = field(default_factory=list)
    end: int = 0  # offset just after the last token

    @property
    def header(self) -> bool:
        """A `KEY [LABEL]:` line that opens a block."""
        return self.colon is not None and not self.value

    @property
    def block(self) -> str | None:
        """The key of the enclosing block (None at the top level)."""
        return self.parent.key.text if self.parent else None


@dataclass
class Outline:
    text: str
    tokens: list[Tok]
    stmts: list[Stmt]  # every statement, in order

    @property
    def top(self) -> list[Stmt]:
        return [s for s in self.stmts if s.parent is None]

    def blocks(self, key: str) -> list[Stmt]:
        return [s for s in self.top if s.key.text == key]

    def labelled(self, key: str) -> dict[str, Stmt]:
        """`app NAME:` / `rule NAME:` headers by name (the first of each name)."""
        out: dict[str, Stmt] = {}
        for s in self.blocks(key):
            if s.label is not None:
                out.setdefault(s.label.text, s)
        return out

    def params(self) -> dict[str, Stmt]:
        """The parameters of the `space:` block(s), by name."""
        out: dict[str, Stmt] = {}
        for b in self.blocks("space"):
            for c in b.children:
                out.setdefault(c.key.text, c)
        return out

    def token_at(self, offset: int) -> Tok | None:
        """The token under an offset (a name just before the cursor counts)."""
        for tok in self.tokens:
            if tok.start <= offset < tok.end or (tok.end == offset and tok.kind in ("NAME", "KEYWORD")):
                if tok.kind not in ("SPACE", "NEWLINE"):
                    return tok
        return None

    def stmt_at(self, offset: int) -> Stmt | None:
        """The statement whose line(s) contain an offset."""
        best = None
        for s in self.stmts:
            line_start = self.text.rfind("\n", 0, s.key.start) + 1
            line_end = self.text.find("\n", s.end)
            line_end = len(self.text) if line_end < 0 else line_end
            if line_start <= offset <= line_end:
                best = s
        return best


def build(text: str) -> Outline:
    """Split a document into statements and nest them by indentation."""
    tokens = tokenize(text)
    lines: list[tuple[int, list[Tok]]] = []
    cur: list[Tok] = []
    indent, depth, at_start = 0, 0, True
    for tok in tokens:
        if tok.kind == "NEWLINE" and depth == 0:
            if cur:
                lines.append((indent, cur))
            cur, indent, at_start = [], 0, True
            continue
        if tok.kind in ("SPACE", "NEWLINE", "COMMENT"):
            if at_start and tok.kind == "SPACE":
                indent = len(tok.text.expandtabs(8))
            continue
        at_start = False
        if tok.text == "(":
            depth += 1
        elif tok.text == ")":
            depth = max(0, depth - 1)
        cur.append(tok)
    if cur:
        lines.append((indent, cur))
    stmts: list[Stmt] = []
    stack: list[Stmt] = []
    for indent, toks in lines:
        key = toks[0]
        label = toks[1] if len(toks) > 2 and toks[1].kind == "NAME" and toks[2].text == ":" else None
        colon_at = 2 if label is not None else 1
        colon = toks[colon_at] if len(toks) > colon_at and toks[colon_at].text == ":" else None
        value = toks[colon_at + 1:] if colon is not None else toks[1:]
        st = Stmt(key, label, colon, value, indent, end=toks[-1].end)
        while stack and (indent <= stack[-1].indent or not stack[-1].header):
            stack.pop()
        if stack:
            st.parent = stack[-1]
            st.level = stack[-1].level + 1
            stack[-1].children.append(st)
        stmts.append(st)
        stack.append(st)
    return Outline(text, tokens, stmts)
