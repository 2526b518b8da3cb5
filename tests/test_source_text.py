"""What a .dhflow file's characters mean for positions and for the database.

* Lines end at `\\n`, `\\r\\n` and `\\r` only, as in editors and the Language Server Protocol:
  a vertical tab, a form feed (or U+0085, U+2028 ...) in a comment is text, so the line of a
  diagnostic after it, and the source line shown under it, are the editor's. Python's
  `str.splitlines` once put a DH004 of line 5 on line 9, with an empty source line.
* A NUL in a string (or a points file) is DH216 at its line and column: PostgreSQL text
  cannot store it, and `check` used to pass the file on to a submit failing in the database.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.cli.main import main
from dhflow.compiler.api import compile_file, compile_source
from dhflow.compiler.diagnostics import render_text
from dhflow.compiler.explain import code_page
from dhflow.compiler.fmt import format_text
from dhflow.compiler.source import SourceFile, split_lines

ROOT = Path(__file__).resolve().parents[1]
#: Characters str.splitlines breaks at and editors do not.
NOT_BREAKS = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]
UNEXPECTED_INDENT = 'workflow w:\n# a{c}b\nrule a:\n    shell: "x"\n        nodes: 2\n'
DEDENT_MISMATCH = 'workflow w:\n# a{c}b\nrule a:\n    shell: "x"\n  nodes: 2\n'


def _only(src: SourceFile):
    [d] = compile_source(src).diagnostics
    return d


def test_split_lines_breaks_where_editors_do():
    assert split_lines("a\vb\fc\r\nd\re\nf") == ["a\vb\fc", "d", "e", "f"]
    assert split_lines("a\r\n", keepends=True) == ["a\r\n"]
    src = SourceFile.from_text("a\vb\r\nc\rd\ne")
    assert [src.line_text(i) for i in range(1, 5)] == ["a\vb", "c", "d", "e"]
    assert src.position(src.text.index("e")) == (4, 1) and src.position(src.text.index("b")) == (1, 3)


@pytest.mark.parametrize("char", NOT_BREAKS, ids=[f"U+{ord(c):04X}" for c in NOT_BREAKS])
@pytest.mark.parametrize("text,line,col,code_line", [
    (UNEXPECTED_INDENT, 5, 9, "        nodes: 2"),
    (DEDENT_MISMATCH, 5, 1, "  nodes: 2"),
], ids=["unexpected-indent", "dedent-mismatch"])
def test_a_comment_character_is_no_line_break(char, text, line, col, code_line):
    src = SourceFile.from_text(text.format(c=char), "t.dhflow")
    d = _only(src)
    assert (d.code, d.span.line, d.span.col) == ("DH004", line, col)
    shown = render_text(d, src).splitlines()
    assert shown[0].startswith(f"t.dhflow:{line}:{col}: error[DH004]")
    assert shown[2] == f"{line} | {code_line}"


def test_a_lone_carriage_return_and_crlf_are_line_breaks():
    # a lone \r in a comment: the editor shows two lines, so the error is one line lower
    d = _only(SourceFile.from_text(UNEXPECTED_INDENT.format(c="\r")))
    assert (d.span.line, d.span.col) == (6, 9)
    src = SourceFile.from_text(UNEXPECTED_INDENT.format(c="").replace("\n", "\r\n"), "t.dhflow")
    d = _only(src)
    assert (d.span.line, d.span.col) == (5, 9)
    assert render_text(d, src).splitlines()[2] == "5 |         nodes: 2"  # no \r shown


def test_check_reports_the_editor_line_through_the_cli(tmp_path, capsys):
    path = tmp_path / "vt.dhflow"
    path.write_text(DEDENT_MISMATCH.format(c="\v\f"), encoding="utf-8")
    assert main(["check", "--format", "json", str(path)]) == 1
    [d] = json.loads(capsys.readouterr().out)
    assert (d["code"], d["line"], d["col"]) == ("DH004", 5, 1)


@pytest.mark.parametrize("char", ["\v", "\f", "\r"])
def test_fmt_keeps_comment_characters_as_comment_text(char):
    # inside parentheses (kept as written) and on a line of its own
    text = ('workflow w:\nspace:\n    x: choice(1, # a{c}b\n      2)\n# c{c}d\nrule a:\n'
            '    shell: "echo {{x}}"\n    foreach: space\nsample: grid(levels=1)\n').format(c=char)
    out = format_text(text, "t.dhflow")
    assert f"# a{char}b" in out and f"# c{char}d" in out
    before, after = compile_source(SourceFile.from_text(text)), compile_source(SourceFile.from_text(out))
    assert before.ok and after.ok and after.plan.tasks == before.plan.tasks
    assert format_text(out, "t.dhflow") == out


# -- NUL ------------------------------------------------------------------------------------

NUL_PLACES = {
    "shell": 'workflow w:\nrule a:\n    shell: "echo a\0b"\n',
    "executable": 'workflow w:\napp p:\n    executable: "/bin/ec\0ho"\nrule a:\n    app: p\n',
    "args": 'workflow w:\napp p:\n    executable: "/bin/echo"\nrule a:\n    app: p\n    args: "x\0"\n',
    "env value": 'workflow w:\nrule a:\n    shell: "x"\n    env:\n        A: "\0"\n',
    "description": 'workflow w:\n    description: "a\0"\nrule a:\n    shell: "x"\n',
    "choice": 'workflow w:\nspace:\n    x: choice("a", "b\0")\nsample: grid(levels=2)\n'
              'rule a:\n    foreach: space\n    shell: "echo {x:quote}"\n',
    "values": 'workflow w:\nvalues d: "a", "\0b"\nrule a:\n    foreach: d\n    shell: "echo {d}"\n',
}


@pytest.mark.parametrize("place", sorted(NUL_PLACES))
def test_a_nul_in_a_string_is_dh216_at_its_column(place):
    text = NUL_PLACES[place]
    src = SourceFile.from_text(text)
    assert compile_source(SourceFile.from_text(text.replace("\0", ""))).ok  # only the NUL is wrong
    found = [(d.code, d.span.line, d.span.col) for d in compile_source(src).diagnostics]
    assert found == [("DH216", *src.position(text.index("\0")))]


def test_a_nul_in_a_points_file_is_dh216_naming_its_place(tmp_path):
    (tmp_path / "pts.csv").write_bytes(b"x\n1\n2\x00\n")
    (tmp_path / "t.dhflow").write_text('workflow w:\nspace:\n    x: int(0, 3)\nsample: points("pts.csv")\n'
                                       'rule a:\n    foreach: space\n    shell: "echo {x}"\n')
    [d] = compile_file(str(tmp_path / "t.dhflow")).diagnostics
    assert d.code == "DH216" and "pts.csv:3:2: a NUL character" in d.message
    assert (d.span.line, d.span.col) == (4, 16)  # the file's name in points("...")


def test_the_explain_example_triggers_dh216():
    example = code_page("DH216").body.split("```text\n")[1].split("```")[0].replace("<NUL>", "\0")
    assert [d.code for d in compile_source(SourceFile.from_text(example)).diagnostics] == ["DH216"]


def test_submit_dry_run_refuses_it_before_the_database(tmp_path):
    path = tmp_path / "nul.dhflow"
    path.write_text(NUL_PLACES["shell"], encoding="utf-8")
    env = {**os.environ, "BALSAM_DB_PATH": str(tmp_path / "db"), "PYTHONPATH": str(ROOT)}
    p = subprocess.run([sys.executable, "-m", "dhflow", "submit", str(path), "--dry-run"], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=60)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    lines = p.stderr.splitlines()
    assert lines[0] == f"{path}:3:19: error[DH216]: a NUL character in a string: the database cannot store it"
    assert lines[2] == '3 |     shell: "echo a\u2400b"' and lines[3] == "  |                   ^"
    assert not (tmp_path / "db").exists()
