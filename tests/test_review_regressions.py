"""Regression tests for problems found in review: each once crashed or misbehaved."""
from __future__ import annotations

import json
import shlex

import pytest

from dhflow.compiler.api import compile_file

from .helpers import codes, compile_text


def balsam_words(executable: str, args: str) -> list[str]:
    """What Balsam runs: join, split on whitespace, re-join, expand `~` per word, shlex.split."""
    import os
    line = " ".join(os.path.expanduser(w) for w in f"{executable} {args}".split())
    return shlex.split(line)


def test_deep_nesting_is_a_diagnostic():
    r = compile_text("workflow w:\nrule a:\n    shell: \"x\"\n    nodes: " + "1 if true else " * 600 + "1\n")
    assert codes(r) == ["DH009"] and r.diagnostics[0].span.line == 4


def test_unused_app_with_bad_templates_is_checked():
    r = compile_text('workflow w:\napp u:\n    executable: "run {bogus}"\napp v:\n    executable: "x {here"\n'
                     'rule r:\n    shell: "x"\n')
    assert sorted(codes(r)) == ["DH106", "DH210"]


def test_repeated_points_get_distinct_keys():
    r = compile_text("workflow w:\nspace:\n    a: choice(1, 2)\nsample: random(count=6, seed=1)\n"
                     "rule t:\n    foreach: space\n    shell: \"x {a}\"\n")
    keys = [t.key for t in r.plan.tasks]
    assert len(set(keys)) == len(keys) == 6


def test_quote_values_that_balsam_would_alter_warn():
    r = compile_text('workflow w:\nspace:\n    s: choice("a  b", "x ~/y", "ok one")\nsample: grid(levels=3)\n'
                     'app a:\n    executable: "prog"\n    args: "--s {s:quote}"\nrule t:\n    foreach: space\n    app: a\n')
    assert r.ok and codes(r).count("DH408") == 1  # warned once per template field
    by_value = {t.point["s"]: t for t in r.plan.tasks}
    assert balsam_words("prog", by_value["ok one"].args) == ["prog", "--s", "ok one"]


def test_point_json_survives_balsam_exactly():
    r = compile_text('workflow w:\nspace:\n    s: choice("a  b", "x ~/y", "t\\tz", "nb\u00a0sp")\n'
                     'sample: grid(levels=4)\napp a:\n    executable: "prog"\n    args: "{point:json}"\n'
                     'rule t:\n    foreach: space\n    app: a\n')
    for t in r.plan.tasks:
        words = balsam_words("prog", t.args)
        assert len(words) == 2 and json.loads(words[1]) == t.point


def test_env_quote_format_is_not_a_colon():
    r = compile_text('workflow w:\nspace:\n    s: choice("a")\nsample: grid(levels=1)\n'
                     'rule t:\n    foreach: space\n    shell: "x"\n    env:\n        Q: "{s:quote}"\n        N: -1\n'
                     '        F: 1e-5\n')
    assert r.ok, [d.message for d in r.diagnostics]
    assert r.plan.tasks[0].environ_vars == {"Q": "a", "N": "-1", "F": "1e-5"}


def test_template_columns_account_for_escapes():
    r = compile_text('workflow w:\nrule r:\n    shell: "echo \\"\\\\\\"\\" {bogus}"\n')
    d = r.diagnostics[0]
    line = 'shell: "echo \\"\\\\\\"\\" {bogus}"'
    assert d.code == "DH106" and d.span.col == 5 + line.index("{bogus}")


def test_after_order_does_not_change_keys():
    base = "workflow w:\nrule a:\n    shell: \"a\"\nrule b:\n    shell: \"b\"\nrule c:\n    after: {}\n    shell: \"c\"\n"
    k1 = compile_text(base.format("a, b")).plan.tasks[-1].key
    k2 = compile_text(base.format("b, a")).plan.tasks[-1].key
    assert k1 == k2


def test_bom_in_spec_and_points(tmp_path):
    (tmp_path / "p.csv").write_bytes("\ufeffa\n1\n2\n".encode())
    (tmp_path / "p.json").write_bytes('\ufeff[{"a": 1}]'.encode())
    for pts in ("p.csv", "p.json"):
        f = tmp_path / "x.dhflow"
        f.write_bytes(("\ufeffworkflow w:\nspace:\n    a: int(0, 5)\nsample: points(\"" + pts + "\")\n"
                       "rule t:\n    foreach: space\n    shell: \"x\"\n").encode())
        r = compile_file(str(f))
        assert r.ok, [d.message for d in r.diagnostics]


def test_points_csv_integral_float_duplicate_header_and_null(tmp_path):
    spec = "workflow w:\nspace:\n    a: int(0, 5)\nsample: points(\"{}\")\nrule t:\n    foreach: space\n    shell: \"x\"\n"
    (tmp_path / "ok.csv").write_text("a\n5.0\n")
    (tmp_path / "dup.csv").write_text("a,a\n1,2\n")
    (tmp_path / "null.json").write_text('[{"a": null}]')
    f = tmp_path / "x.dhflow"
    f.write_text(spec.format("ok.csv"))
    assert compile_file(str(f)).plan.tasks[0].point == {"a": 5}
    f.write_text(spec.format("dup.csv"))
    assert "appears more than once" in compile_file(str(f)).diagnostics[0].message
    f.write_text(spec.format("null.json"))
    assert "= null is not a number" in compile_file(str(f)).diagnostics[0].message


@pytest.mark.parametrize("num,ok", [("007", False), ("1__0", False), ("1_", False), ("0x10", True),
                                    ("1_000", True), (".5e1", True)])
def test_numbers_follow_python(num, ok):
    r = compile_text(f"workflow w:\nrule a:\n    shell: \"x\"\n    wall_time: max(1, int({num}))\n")
    assert r.ok is ok, [d.message for d in r.diagnostics]


def test_chained_comparisons():
    r = compile_text("workflow w:\nspace:\n    a: int(0, 9)\nsample: grid(levels=10) where 1 < a <= 3\n"
                     "rule t:\n    foreach: space\n    shell: \"x\"\n")
    assert [t.point["a"] for t in r.plan.tasks] == [2, 3]


def test_call_shape_checked_before_expansion():
    r = compile_text("workflow w:\nrule a:\n    shell: \"x\"\n    nodes: ceil(1, 2)\n    wall_time: min(1, key=2)\n")
    assert codes(r) == ["DH203", "DH203"]


def test_unreadable_bytes_have_a_position(tmp_path):
    f = tmp_path / "x.dhflow"
    f.write_bytes(b"workflow w:\nrule a:\n    shell: \"\xff\"\n")
    d = compile_file(str(f)).diagnostics[0]
    assert d.code == "DH007" and (d.span.line, d.span.col) == (3, 13)


def test_plan_output_to_missing_directory_is_a_usage_error(tmp_path):
    import subprocess
    import sys
    f = tmp_path / "x.dhflow"
    f.write_text("workflow w:\nrule a:\n    shell: \"x\"\n")
    p = subprocess.run([sys.executable, "-m", "dhflow", "plan", str(f), "--format", "json", "-o",
                        str(tmp_path / "no" / "such.json")], capture_output=True, text=True)
    assert p.returncode == 2 and "cannot write" in p.stderr and "Traceback" not in p.stderr
