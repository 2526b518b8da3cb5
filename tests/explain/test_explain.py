"""`dhflow explain CODE`: a full page (meaning, an example that triggers it, the fix) for
every code, from the same source as the language server's hover."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.diagnostics import CODES
from dhflow.compiler.explain import code_page, explain_code, word_doc
from dhflow.compiler.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("code", sorted(CODES))
def test_every_code_has_a_page_whose_example_triggers_it(code, tmp_path, monkeypatch):
    page = code_page(code)
    if code == "DH606":  # a missing extra: hide DeepHyper, as where it is not installed
        monkeypatch.setitem(sys.modules, "deephyper", None)
    assert page.body != CODES[code] and "Fix:" in page.body
    if code in ("DH007", "DH216"):  # an unreadable file, a NUL: not shown as file content
        assert page.example is None
        return
    src = SourceFile.from_text(page.example, str(tmp_path / "example.dhflow"))
    codes = [d.code for d in compile_source(src).diagnostics]
    assert code in codes, codes


def test_cli_prints_the_page():
    proc = subprocess.run([sys.executable, "-m", "dhflow", "explain", "dh104"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 0
    assert proc.stdout == explain_code("DH104")
    assert proc.stdout.startswith("DH104: unknown name in an expression\n")
    assert "    nodes: ceil(batchsize / 64)" in proc.stdout and "Fix:" in proc.stdout
    proc = subprocess.run([sys.executable, "-m", "dhflow", "explain", "DH999"], capture_output=True,
                          text=True, cwd=ROOT)
    assert proc.returncode == 2 and "unknown code DH999" in proc.stderr


def test_every_key_block_and_function_is_documented():
    from dhflow.compiler.lang.expressions import FUNCTIONS
    from dhflow.lsp.features import BLOCK_KEYS, DOMAINS, OBJECTIVE_SOURCES
    from dhflow.compiler.check.model import BLOCKS, SAMPLERS
    missing = [b for b in BLOCKS if not word_doc("block", b)]
    missing += [f"{k} in {b}" for b, keys in BLOCK_KEYS.items() for k in keys if not word_doc("key", k, b)]
    missing += [f for f in FUNCTIONS if not word_doc("function", f)]
    missing += [s for s in SAMPLERS if not word_doc("sampler", s)]
    missing += [d for d in DOMAINS if not word_doc("domain", d)]
    missing += [o for o in OBJECTIVE_SOURCES if not word_doc("objective", o)]
    assert not missing
