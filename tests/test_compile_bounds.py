"""Issue 14, the compiler half: every cost a file controls is bounded before it is paid.

Each reproduction case of the issue (tests/bounds_cases.py) must end in its diagnostic
(benchmarks/compile_bounds.py prints how long each takes; no timing is asserted here).
"""
from __future__ import annotations

import os
import threading

import pytest

from dhflow.cli.main import main
from dhflow.compiler.api import compile_file, compile_source
from dhflow.compiler.diagnostics import Diagnostic, limit_per_code
from dhflow.compiler.limits import MAX_DIAGNOSTICS_PER_CODE, MAX_SOURCE_BYTES, Limits, using
from dhflow.compiler.source import SourceFile, Span
from tests.bounds_cases import CASES
from tests.helpers import codes, compile_text


@pytest.mark.parametrize("name", list(CASES))
def test_reproduction_case_gives_its_diagnostic(name):
    gen, code = CASES[name]
    r = compile_source(SourceFile.from_text(gen(), "/tmp/dhflow-test/bounds.dhflow"))
    if code is None:
        assert r.ok, r.diagnostics
    else:
        assert code in codes(r), r.diagnostics
        assert not r.ok
    # never more than the per-code cap plus one summary per code
    for c in set(codes(r)):
        assert codes(r).count(c) <= MAX_DIAGNOSTICS_PER_CODE + 1


def test_huge_integers_are_refused_before_computing():
    r = compile_text('workflow w:\nrule r:\n    shell: "x"\n    nodes: 4096 ** 4096\n')
    assert codes(r) == ["DH407"] and "too large" in r.diagnostics[0].message
    # results, not only powers: 2**62 * 4 and int(1e300) are out of range too
    for expr in ("2 ** 62 * 4", "int(1e300)", "3 ** 40", "-(2 ** 62) - 2 ** 62 - 1"):
        r = compile_text(f'workflow w:\nrule r:\n    shell: "x"\n    nodes: {expr}\n')
        assert codes(r) == ["DH407"], (expr, r.diagnostics)
    # what fits still works: 2 ** 62 // 2 ** 60 is 4
    r = compile_text('workflow w:\nrule r:\n    shell: "x"\n    nodes: 2 ** 62 // 2 ** 60\n')
    assert r.ok and r.plan.tasks[0].num_nodes == 4


def test_where_fails_as_soon_as_it_keeps_too_little():
    r = compile_text(CASES["random(count=200000) where x > 2"][0]())
    d = r.diagnostics[0]
    assert d.code == "DH402" and "of 1,000 drawn points" in d.message, d.message
    # a filter that keeps about half still gets all its points
    r = compile_text('workflow w:\nspace:\n    x: real(0, 1)\nsample: random(count=500, seed=1) where x > 0.5\n'
                     'rule r:\n    foreach: space\n    shell: "x"\n')
    assert r.ok and len(r.plan.tasks) == 500


def test_diagnostics_per_code_are_capped_with_a_summary():
    r = compile_text(CASES["after: 3,000 repeated names"][0]())
    dh101 = [d for d in r.diagnostics if d.code == "DH101"]
    assert len(dh101) == MAX_DIAGNOSTICS_PER_CODE + 1
    summary = dh101[-1]
    assert summary.span is None and summary.message.startswith("... and 2,979 more DH101 errors")
    # capping twice (compile, then render) keeps the count
    again = limit_per_code(r.diagnostics)
    assert [d.message for d in again] == [d.message for d in r.diagnostics]
    few = [Diagnostic("DH001", "x", Span.point(1, 1))] * 3
    assert limit_per_code(few) == few


def test_cli_renders_the_summary_last(tmp_path, capsys):
    f = tmp_path / "keys.dhflow"
    f.write_text(CASES["30,000 unknown keys"][0]())
    assert main(["check", str(f)]) == 1
    err = capsys.readouterr().err
    assert err.count("error[DH011]") == MAX_DIAGNOSTICS_PER_CODE + 1
    assert err.rstrip().splitlines()[-1].endswith("... and 29,980 more DH011 errors (the first 20 are shown)")


def test_source_must_be_a_small_regular_file(tmp_path):
    big = tmp_path / "big.dhflow"
    big.write_text("# " + "x" * MAX_SOURCE_BYTES + "\n")
    d = compile_file(str(big)).diagnostics[0]
    assert d.code == "DH007" and "over the limit of 1,048,576" in d.message
    d = compile_file(str(tmp_path)).diagnostics[0]
    assert d.code == "DH007" and "a directory" in d.message
    if os.path.exists("/dev/zero"):
        d = compile_file("/dev/zero").diagnostics[0]
        assert d.code == "DH007" and "character device" in d.message


def test_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "f.dhflow"
    os.mkfifo(fifo)
    result = []
    t = threading.Thread(target=lambda: result.append(compile_file(str(fifo))), daemon=True)
    t.start()
    t.join(30)  # a hang guard only: it returns at once
    assert result, "compiling a FIFO blocked"
    d = result[0].diagnostics[0]
    assert d.code == "DH007" and "FIFO" in d.message


def test_points_file_must_be_a_regular_file(tmp_path):
    os.mkfifo(tmp_path / "p.csv")
    f = tmp_path / "w.dhflow"
    f.write_text('workflow w:\nspace:\n    a: int(1, 3)\nsample: points("p.csv")\nrule r:\n'
                 '    foreach: space\n    shell: "x"\n')
    d = compile_file(str(f)).diagnostics[0]
    assert d.code == "DH403" and "FIFO" in d.message


def test_points_file_json_with_a_huge_integer(tmp_path):
    (tmp_path / "p.json").write_text('[{"a": ' + "9" * 5000 + "}]")
    f = tmp_path / "w.dhflow"
    f.write_text('workflow w:\nspace:\n    a: int(1, 3)\nsample: points("p.json")\nrule r:\n'
                 '    foreach: space\n    shell: "x"\n')
    assert codes(compile_file(str(f))) == ["DH403"]


def test_points_of_a_big_choice_are_matched(tmp_path):
    values = ",\n        ".join(f'"v{i}"' for i in range(5000))
    (tmp_path / "p.csv").write_text("a\n" + "\n".join(f"v{i}" for i in range(0, 5000, 7)) + "\nnope\n")
    f = tmp_path / "w.dhflow"
    f.write_text(f'workflow w:\nspace:\n    a: choice(\n        {values})\nsample: points("p.csv")\n'
                 'rule r:\n    foreach: space\n    shell: "x"\n')
    d = compile_file(str(f)).diagnostics
    assert [x.code for x in d] == ["DH403"] and "(5,000 values)" in d[0].message
    (tmp_path / "p.csv").write_text("a\nv4999\nv0\n")
    assert [t.point["a"] for t in compile_file(str(f)).plan.tasks] == ["v4999", "v0"]


def test_choice_lookup_keeps_first_match_semantics():
    r = compile_text('workflow w:\nspace:\n    a: choice(1.0, 2, "x")\nsample: grid(levels=2)\n'
                     'rule r:\n    foreach: space\n    shell: "{a}"\n')
    assert r.ok and [t.point["a"] for t in r.plan.tasks] == [1.0, 2, "x"]


def test_task_limit_can_be_lowered_and_raised(tmp_path, capsys, monkeypatch):
    f = tmp_path / "w.dhflow"
    f.write_text('workflow w:\nspace:\n    a: int(1, 20)\nsample: grid(levels=20)\nrule r:\n'
                 '    foreach: space\n    shell: "x"\n')
    assert main(["check", str(f)]) == 0
    assert main(["check", "--max-tasks", "10", str(f)]) == 1
    assert "error[DH409]" in capsys.readouterr().err
    monkeypatch.setenv("DHFLOW_MAX_TASKS", "10")
    assert main(["check", str(f)]) == 1
    assert main(["check", "--max-tasks", "20", str(f)]) == 0  # the flag wins over the variable
    monkeypatch.setenv("DHFLOW_MAX_TASKS", "lots")
    assert main(["check", str(f)]) == 2
    assert "DHFLOW_MAX_TASKS" in capsys.readouterr().err
    # in-process callers choose their own limits
    with using(Limits(max_tasks=5)):
        assert codes(compile_file(str(f))) == ["DH409"]
    assert compile_file(str(f)).ok


def test_dependencies_are_counted_before_expanding():
    r = compile_text(CASES["1,000,000 dependencies"][0]())
    assert codes(r) == ["DH409"] and "1,000,000 dependencies" in r.diagnostics[0].message


@pytest.mark.parametrize("text", [
    'workflow w:\nrule a:\n    shell: "x"\n  # note\n        nodes: 2\n',
    'workflow w:\nrule a:\n    shell: "x"\n# note\n  nodes: 2\n',
    'workflow w:\nrule a:\n    shell: "x"\n        # note\n  nodes: 2\n',
    'workflow w:\nrule a:\n    shell: "x" # trailing\n        nodes: 2\n',
    'workflow w:\nrule a:\n    shell: "x"\n    # c1\n  # c2\n\n        nodes: 2\n',
])
def test_indentation_errors_point_at_the_bad_line_not_a_comment(text):
    r = compile_text(text)
    d = r.diagnostics[0]
    assert d.code == "DH004" and r.source.line_text(d.span.line).strip() == "nodes: 2", d
