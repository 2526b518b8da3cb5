"""The `results` table and CSV (dhflow/results/objectives.py): a search's `trial` column, a
`rule` column when several rules carry objectives, long numbers shortened in the table only,
and `--rule`'s selection."""
from __future__ import annotations

import csv
import io
import json

import pytest

from dhflow.errors import UsageError
from dhflow.results import objectives


def rec(name, objective, *, rule="f", trial=None, point=None):
    return {"rule": rule, "name": name, "index": 0, "point": point or {"x": 1}, "state": "JOB_FINISHED",
            "objective": objective, "error": None, "runtime": 1.0, "trial": trial}


def _header(table: str) -> list[str]:
    return table.splitlines()[0].split()


def test_a_search_has_a_trial_column_in_table_and_csv():
    records = [rec("f.3", 0.5, trial=3), rec("f.0", 0.7, trial=0)]
    table = objectives.format_table(records)
    assert _header(table) == ["#", "trial", "task", "x", "state", "objective", "runtime", "note"]
    assert [line.split()[:3] for line in table.splitlines()[2:]] == [["1", "3", "f.3"], ["2", "0", "f.0"]]
    rows = list(csv.reader(io.StringIO(objectives.format_csv(records))))
    assert rows[0] == ["rule", "name", "index", "trial", "x", "state", "objective", "runtime", "error"]
    assert [r[3] for r in rows[1:]] == ["3", "0"]


def test_a_sweep_of_one_rule_has_neither_column():
    records = [rec("f.0", 0.5), rec("f.1", 0.7)]
    assert _header(objectives.format_table(records)) == ["#", "task", "x", "state", "objective", "runtime", "note"]
    assert objectives.format_csv(records).splitlines()[0] == "rule,name,index,x,state,objective,runtime,error"


def test_several_rules_get_a_rule_column():
    records = [rec("a.0", 0.5, rule="a"), rec("b.0", 0.7, rule="b")]
    table = objectives.format_table(records)
    assert _header(table) == ["#", "rule", "task", "x", "state", "objective", "runtime", "note"]
    assert [line.split()[1] for line in table.splitlines()[2:]] == ["a", "b"]


def test_long_numbers_shortened_in_the_table_only():
    long_float, huge_float, huge_int = 0.1234567890123456789, 1e300, 12345678901234567890123
    records = [rec("f.0", long_float, point={"x": huge_int}), rec("f.1", huge_float, point={"x": 7}),
               rec("f.2", -10 ** 400, point={"x": 123456789012})]
    table = objectives.format_table(records)
    cells = [line.split() for line in table.splitlines()[2:]]
    assert [(c[2], c[4]) for c in cells] == [("1.23457e+22", "0.123457"), ("7", "1e+300"),
                                             ("123456789012", "-1e+400")]  # 12 digits: whole
    assert "0.12345678901234568" not in table and str(huge_int) not in table
    # JSON and CSV keep every digit
    back = json.loads(objectives.format_json(records))
    assert back[0]["objective"] == long_float and back[0]["point"]["x"] == huge_int
    assert back[2]["objective"] == -10 ** 400
    text = objectives.format_csv(records)
    assert repr(long_float) in text and repr(huge_float) in text and str(huge_int) in text and str(-10 ** 400) in text


def test_select_rule():
    records = [rec("a.0", 0.5, rule="a"), rec("b.0", 0.7, rule="b"), rec("a.1", 0.9, rule="a")]
    assert [r["name"] for r in objectives.select_rule(records, "a")] == ["a.0", "a.1"]
    assert objectives.select_rule(records, None) is records
    with pytest.raises(UsageError) as err:
        objectives.select_rule(records, "c")
    assert str(err.value) == "--rule c: no such rule carries an objective; the rules that do: a, b"
    assert err.value.exit_code == 2
    with pytest.raises(UsageError, match="none"):
        objectives.select_rule([], "a")
