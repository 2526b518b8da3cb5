"""Seeded fuzz of the formatter: for thousands of mutated documents that still parse, the
layout keeps every token and comment, parses again, and is a fixed point."""
from __future__ import annotations

import random
from pathlib import Path

from dhflow.compiler.diagnostics import DiagnosticError
from dhflow.compiler.fmt import format_text
from dhflow.compiler.fmt.tokens import significant, tokenize
from dhflow.compiler.source import SourceFile
from dhflow.compiler.parse.syntax import parse_tree

from ..lsp.test_lsp_fuzz import PIECES, _mutate

ROOT = Path(__file__).resolve().parents[2]
EXTRA = ["  ", "\n\n\n", "# note\n", "    # indented note\n", "(", ")", "not ", " if 1 else 2", "-", "**"]


def test_formatter_on_mutated_documents():
    rng = random.Random(7)
    seeds = [p.read_text() for p in sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file())]
    seeds += [p.read_text() for p in sorted((ROOT / "tests" / "diagnostics").glob("*.dhflow"))]
    formatted = 0
    for _ in range(6000):
        text = _mutate(rng, rng.choice(seeds))
        if rng.random() < 0.5:
            i = rng.randrange(len(text) + 1)
            text = text[:i] + rng.choice(EXTRA + PIECES) + text[i:]
        try:
            out = format_text(text)
        except (DiagnosticError, RecursionError):
            continue
        formatted += 1
        assert [t.text for t in significant(tokenize(out))] == [t.text for t in significant(tokenize(text))], text
        assert [t.text.rstrip() for t in tokenize(out) if t.kind == "COMMENT"] == \
            [t.text.rstrip() for t in tokenize(text) if t.kind == "COMMENT"], text
        assert format_text(out) == out, text
        # the same tree (lark compares rule names and token values): the same meaning
        assert parse_tree(SourceFile.from_text(out)) == parse_tree(SourceFile.from_text(text.lstrip("\ufeff"))), text
    print(f"{formatted} of 6000 mutants parsed and were formatted")
    assert formatted > 1000  # enough of the mutants parse for the test to mean something
