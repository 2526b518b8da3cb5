"""`dhflow fmt`: same plan, comments kept, idempotent, on every example and golden input."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from dhflow.compiler.api import compile_source
from dhflow.compiler.diagnostics import DiagnosticError
from dhflow.compiler.fmt import format_text, is_formatted
from dhflow.compiler.fmt.tokens import significant, tokenize
from dhflow.compiler.source import SourceFile
from dhflow.compiler.parse.syntax import parser

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file()) + [ROOT / "tests" / "fixtures" / "language_example.dhflow"]
FIXTURES = sorted((ROOT / "tests" / "diagnostics").glob("*.dhflow"))


def _plan(text: str, path: Path) -> dict:
    result = compile_source(SourceFile.from_text(text, str(path)))
    assert result.ok, result.diagnostics
    plan = result.plan.to_dict()
    plan["source"].pop("sha256")  # the text's digest is the one thing that must change
    return plan


def _comments(text: str) -> list[str]:
    return [t.text.rstrip() for t in tokenize(text) if t.kind == "COMMENT"]


def _parses(text: str) -> bool:
    try:
        format_text(text)
        return True
    except DiagnosticError:
        return False


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_examples_same_plan_comments_kept_idempotent(path):
    text = path.read_text()
    out = format_text(text)
    assert _plan(out, path) == _plan(text, path)
    assert json.dumps(_plan(out, path), sort_keys=True) == json.dumps(_plan(text, path), sort_keys=True)
    assert _comments(out) == _comments(text)
    assert [t.text for t in significant(tokenize(out))] == [t.text for t in significant(tokenize(text))]
    assert format_text(out) == out
    assert is_formatted(out)


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_diagnostic_fixtures_keep_their_diagnostics(path):
    text = path.read_text()
    if not _parses(text):
        with pytest.raises(DiagnosticError):
            format_text(text)  # a file that does not parse is refused, never rewritten
        return
    out = format_text(text)
    before = compile_source(SourceFile.from_text(text, str(path))).diagnostics
    after = compile_source(SourceFile.from_text(out, str(path))).diagnostics
    assert sorted((d.code, d.message) for d in after) == sorted((d.code, d.message) for d in before)
    assert _comments(out) == _comments(text)
    assert format_text(out) == out


@pytest.mark.parametrize("path", EXAMPLES + FIXTURES, ids=[p.stem for p in EXAMPLES + FIXTURES])
def test_tokenizer_agrees_with_the_parser(path):
    text = path.read_text()
    if "\t" in text or not _parses(text):
        return
    ours = [t.text for t in significant(tokenize(text))]
    lark = [t.value for t in parser().lex(text) if not t.type.startswith("_") and t.type != "COMMENT"]
    assert ours == lark


def _fmt(text: str) -> str:
    return format_text(textwrap.dedent(text).lstrip("\n"))


def test_layout_rules():
    src = """
    workflow   w :
      objective:maximize   # best is highest
    space:
      lr:real( 1e-4,1e-1 ,log)
      batch_size :  choice(32,64)


    sample:grid( levels = 2 )where lr<0.01 and not(batch_size==64)
    rule a :
      foreach: space
      shell:"x"
      nodes: max(1,
                 batch_size//32)
      ranks_per_node: -1*-2 if batch_size>=64 else 2**-0+1
    """
    assert _fmt(src) == textwrap.dedent("""\
    workflow w:
        objective: maximize  # best is highest
    space:
        lr:         real(1e-4, 1e-1, log)
        batch_size: choice(32, 64)

    sample: grid(levels=2) where lr < 0.01 and not (batch_size == 64)
    rule a:
        foreach: space
        shell: "x"
        nodes: max(1, batch_size // 32)
        ranks_per_node: -1 * -2 if batch_size >= 64 else 2 ** -0 + 1
    """)


def test_comments_stay_in_their_block():
    src = """
    # head
    rule a:
      # about the shell
      shell: "x"
      env:
          A: "1"    # one
          BB: "2"  # two
        # back in the rule
      wall_time: 2
    # between blocks

    workflow w:
    """
    assert _fmt(src) == textwrap.dedent("""\
    # head
    rule a:
        # about the shell
        shell: "x"
        env:
            A: "1"   # one
            BB: "2"  # two
        # back in the rule
        wall_time: 2
    # between blocks

    workflow w:
    """)


def test_a_comment_inside_parentheses_keeps_the_statement_as_written():
    src = 'workflow w:\nrule a:\n    shell: "x"\n    nodes: max(1,  # at least one\n               2)\n'
    assert format_text(src) == src
    assert _comments(format_text(src)) == ["# at least one"]


def test_crlf_bom_and_blank_lines():
    assert format_text('\ufeff\r\n\r\nworkflow w:\r\n\r\n\r\n\r\nrule a:\r\n    shell: "x"   \r\n\r\n') == \
        'workflow w:\n\nrule a:\n    shell: "x"\n'


def _run(*args, stdin=None):
    return subprocess.run([sys.executable, "-m", "dhflow", "fmt", *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, input=stdin)


def test_cli_check_diff_and_write(tmp_path):
    ugly = 'workflow w:\nrule a:\n    shell:"x"\n    nodes:1+1\n'
    f = tmp_path / "u.dhflow"
    f.write_text(ugly)
    proc = _run("--check", f)
    assert proc.returncode == 1 and "would be reformatted" in proc.stderr
    assert f.read_text() == ugly
    proc = _run("--diff", f)
    assert proc.returncode == 0 and '-    nodes:1+1\n' in proc.stdout and '+    nodes: 1 + 1\n' in proc.stdout
    assert f.read_text() == ugly
    proc = _run("--check", "--diff", f)
    assert proc.returncode == 1 and "+    nodes: 1 + 1" in proc.stdout and f.read_text() == ugly
    proc = _run(tmp_path)  # a directory: every .dhflow below it
    assert proc.returncode == 0 and "reformatted" in proc.stderr
    assert f.read_text() == format_text(ugly)
    assert _run("--check", f).returncode == 0
    proc = _run("-", stdin=ugly)
    assert proc.returncode == 0 and proc.stdout == format_text(ugly)


def test_cli_refuses_a_file_that_does_not_parse(tmp_path):
    f = tmp_path / "bad.dhflow"
    bad = 'workflow w:\nrule a:\n    shell: "x" +\n'
    f.write_text(bad)
    proc = _run(f)
    assert proc.returncode == 1 and "error[DH001]" in proc.stderr and "Traceback" not in proc.stderr
    assert f.read_text() == bad
    proc = _run(tmp_path / "missing.dhflow")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_fmt_refuses_special_files_without_reading_them(tmp_path, capsys):
    """`dhflow fmt /dev/zero` or a FIFO is refused at once (the compiler's reading bounds)."""
    import os

    from dhflow.cli.main import main

    fifo = tmp_path / "pipe.dhflow"
    os.mkfifo(fifo)
    for path in ("/dev/zero", str(fifo)):
        assert main(["fmt", path]) == 1
        assert "not a regular file" in capsys.readouterr().err
