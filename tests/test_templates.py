import json
import shlex

import pytest

from dhflow.compiler.lang.templates import TemplateError, parse_template, point_json, render


def test_point_json_is_one_shell_argument_and_exact():
    point = {"name": "a b;c 'q' \"d\"", "tab": "x\ty", "home": "~/x", "n": 3, "r": 0.5, "f": False}
    parts, _ = parse_template("run {point:json}")
    cmd = render(parts, {"point": point})
    # Balsam collapses whitespace runs and splits on whitespace before shlex: simulate that.
    collapsed = " ".join(cmd.split())
    words = shlex.split(collapsed)
    assert words[0] == "run" and len(words) == 2
    assert json.loads(words[1]) == point
    assert " " not in words[1] and "~" not in words[1]


def test_quote_and_raw_fields():
    parts, fields = parse_template("--lr {lr} --name {name:quote} {{literal}}")
    assert [f.name for f in fields] == ["lr", "name"]
    out = render(parts, {"lr": 0.001, "name": "x y"})
    assert out == "--lr 0.001 --name 'x y' {literal}"


def test_booleans_render_lowercase():
    parts, _ = parse_template("{flag}")
    assert render(parts, {"flag": True}) == "true"


@pytest.mark.parametrize("bad", ["{", "}", "{a b}", "{x:upper}", "{lr:json}", "{}"])
def test_bad_templates(bad):
    with pytest.raises(TemplateError):
        parse_template(bad)


def test_point_json_compact_and_ascii():
    assert point_json({"a": "é", "b": 1}) == '{"a":"\\u00e9","b":1}'
