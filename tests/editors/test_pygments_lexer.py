"""The Pygments lexer: no error tokens on the examples, and comments, strings, numbers and
block keywords classified as dhflow's own tokenizer sees them."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from pygments.token import Comment, Error, Keyword, Number, String

from dhflow.compiler.fmt.tokens import tokenize

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("dhflow_lexer", ROOT / "editors" / "pygments" / "dhflow_lexer.py")
lexer_module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(lexer_module)
FILES = sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file()) + sorted(p for p in (ROOT / "dhflow" / "scaffold" / "templates").rglob("*.dhflow") if p.is_file())
KINDS = {"COMMENT": Comment, "STRING": String, "NUMBER": Number}


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_lexer_agrees_with_the_tokenizer(path):
    text = path.read_text()
    types = {}
    for pos, ttype, value in lexer_module.DhflowLexer().get_tokens_unprocessed(text):
        assert ttype not in Error, (path.name, pos, value)
        for i in range(pos, pos + len(value)):
            types[i] = ttype
    for tok in tokenize(text):
        want = KINDS.get(tok.kind)
        if tok.kind == "NAME" and tok.text in ("workflow", "space", "app", "rule", "launch", "sample") \
                and (tok.start == 0 or text[tok.start - 1] == "\n"):
            want = Keyword
        if want is not None:
            assert all(types[i] in want for i in range(tok.start, tok.end)), (path.name, tok, types[tok.start])
