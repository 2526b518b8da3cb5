"""The TextMate grammar (editors/vscode/syntaxes) tokenized by the real engine VS Code uses:
vscode-textmate with vscode-oniguruma, in node. The scopes of a golden file are pinned, and
every example and diagnostic fixture is cross-checked against dhflow's own tokenizer.

node and npm are required (scripts/setup.sh installs them and runs `npm ci` here); a missing
node fails these tests rather than skipping them. Regenerate the golden file with
DHFLOW_UPDATE_GOLDEN=1 after an intended grammar change.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from dhflow.compiler.fmt.tokens import tokenize

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
GRAMMAR = ROOT / "editors" / "vscode" / "syntaxes" / "dhflow.tmLanguage.json"
GOLDEN_INPUT = ROOT / "examples" / "polynome2" / "polynome2.dhflow"
GOLDEN = HERE / "golden" / "polynome2.scopes.txt"
FILES = sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file()) + sorted((ROOT / "tests" / "diagnostics").glob("*.dhflow")) \
    + sorted(p for p in (ROOT / "dhflow" / "scaffold" / "templates").rglob("*.dhflow") if p.is_file())


@pytest.fixture(scope="module")
def tokens() -> dict[str, list]:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.fail("node and npm are needed to test the TextMate grammar (scripts/setup.sh installs them)")
    if not (HERE / "node_modules" / "vscode-textmate").is_dir():
        subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=HERE, check=True, capture_output=True)
    proc = subprocess.run([node, str(HERE / "tokenize.js"), str(GRAMMAR), *map(str, FILES)],
                          cwd=HERE, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def _codepoints(line: str, utf16: int) -> int:
    """A UTF-16 index (JavaScript's) of a line as a code point index."""
    units = 0
    for i, ch in enumerate(line):
        if units >= utf16:
            return i
        units += 2 if ord(ch) > 0xFFFF else 1
    return len(line)


def _render(path: Path, toks: list) -> str:
    lines = path.read_text(encoding="utf-8").split("\n")
    out = []
    for line, start, end, scopes in toks:
        text = lines[line - 1]
        s, e = _codepoints(text, start), _codepoints(text, end)
        if text[s:e].strip():
            out.append(f"{line}:{s}-{e} {text[s:e]!r} {' '.join(scopes[1:])}")
    return "\n".join(out) + "\n"


def test_golden_scopes(tokens):
    got = _render(GOLDEN_INPUT, tokens[str(GOLDEN_INPUT)])
    if os.environ.get("DHFLOW_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()


def _scope_map(path: Path, toks: list) -> dict[tuple[int, int], list[str]]:
    """(line, code point column) -> scopes of that character."""
    lines = path.read_text(encoding="utf-8").split("\n")
    at = {}
    for line, start, end, scopes in toks:
        text = lines[line - 1]
        for c in range(_codepoints(text, start), _codepoints(text, end)):
            at[(line, c)] = scopes
    return at


def _expected(tok, text: str, line_start: int) -> str | None:
    if tok.kind == "COMMENT":
        return "comment.line.number-sign.dhflow"
    if tok.kind == "STRING":
        return "string.quoted.double.dhflow"
    if tok.kind == "NUMBER":
        return "constant.numeric.dhflow"
    if tok.kind == "KEYWORD":
        return {"true": "constant.language.boolean.dhflow", "false": "constant.language.boolean.dhflow",
                "and": "keyword.operator.logical.dhflow", "or": "keyword.operator.logical.dhflow",
                "not": "keyword.operator.logical.dhflow"}.get(tok.text, "keyword.control.dhflow")
    if tok.kind == "NAME" and tok.start == line_start and \
            tok.text in ("workflow", "space", "sample", "app", "rule", "launch"):
        return "keyword.other.block.dhflow"
    return None


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_scopes_agree_with_the_tokenizer(tokens, path):
    text = path.read_text(encoding="utf-8")
    at = _scope_map(path, tokens[str(path)])
    checked = 0
    for tok in tokenize(text):
        line_start = text.rfind("\n", 0, tok.start) + 1
        want = _expected(tok, text, line_start)
        if want is None:
            continue
        line = text.count("\n", 0, tok.start) + 1
        col = tok.start - line_start
        for c in range(col, col + len(tok.text)):
            assert want in at.get((line, c), []), (path.name, line, c, tok, at.get((line, c)))
        checked += 1
    assert checked > 0
