"""The fast paths of a streaming submit give exactly what the plain definitions give.

Each test builds the reference the straightforward way (one call per item, the whole text
at once) and compares it with the path a million-task submit takes (whole blocks, pieces,
shared per class).  Pure: no database, no Balsam import.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import random
import uuid

from dhflow.balsam import copy as backend
from dhflow.balsam.rows import copy_lines
from dhflow.balsam.submissions import keys_digest
from dhflow.compiler.api import compile_source
from dhflow.compiler.expand import samplers
from dhflow.compiler.expand.pointlist import PointList
from dhflow.compiler.expand.rng import Stream
from dhflow.compiler.jsonfast import compact, compact_point
from dhflow.compiler.plan.model import content_key_text
from dhflow.compiler.source import SourceFile
from dhflow.reconcile.decision import PartsMaker, task_parts
from dhflow.reconcile.parts import _h, _h_sorted_strings

from .conftest import make_plan


def test_bulk_uniforms_are_the_same_draws_in_the_same_order():
    rnd = random.Random(5)
    for _ in range(100):
        seed, before, bulk, after = rnd.randrange(99), rnd.randrange(20), rnd.randrange(200), rnd.randrange(20)
        one, two = Stream(seed, "random"), Stream(seed, "random")
        expected = [one.uniform() for _ in range(before + bulk + after)]
        got = [two.uniform() for _ in range(before)] + two.uniforms(bulk) + [two.uniform() for _ in range(after)]
        assert got == expected


SPACE = """
workflow w:
space:
    units: int(1, 1000)
    act:   choice("relu", "tanh", 3, 2.5)
    lr:    real(1e-5, 1e-1, log)
    drop:  real(0.0, 0.5)
    few:   int(1, 4, log)
    fixed: 20
sample: random(count=1000, seed=11)
rule train:
    foreach: space
    shell: "train {units}"
"""


def test_random_columns_equal_the_points_drawn_one_at_a_time():
    spec = compile_source(SourceFile.from_text(SPACE, "<t>")).spec
    params = spec.params
    expected = list(itertools.islice(samplers._random_points(params, Stream(11, "random")), 1000))
    got = samplers._random_columns(params, Stream(11, "random"), 1000, batch=64)  # batches that do not divide
    assert [dict(p) for p in got] == expected
    assert [[type(v) for v in p.values()] for p in got] == [[type(v) for v in p.values()] for p in expected]
    # compacted as compact() would: the mixed choice stays a list, the rest become C arrays
    reference = PointList(got.names, expected).compact()
    assert [type(c) for c in got._points._columns] == [type(c) for c in reference._columns]


def test_columns_fall_back_to_a_list_when_a_later_batch_does_not_fit_the_array():
    pts = PointList(("a",))
    pts.extend_columns([[1.5, 2.5]], 2)
    pts.extend_columns([[3, 4.5]], 2)       # an int among the floats
    pts.extend_columns([[1 << 70, 2]], 2)   # an int no C array holds
    assert [p["a"] for p in pts] == [1.5, 2.5, 3, 4.5, 1 << 70, 2]
    assert [type(p["a"]) for p in pts] == [float, float, int, float, int, int]


def test_a_space_without_parameters_gives_its_count_of_empty_points():
    spec = compile_source(SourceFile.from_text(SPACE.split("space:")[0] + "space:\n\nsample: random(count=3, seed=1)\n"
                                               "rule train:\n    foreach: space\n    shell: \"t\"\n", "<t>")).spec
    points = samplers.sample(spec)
    assert len(points) == 3 and list(points) == [{}, {}, {}]


def test_compact_point_returns_the_text_of_that_very_object():
    a, b = {"x": 1.5}, {"x": 1.5}
    assert compact_point(a) == compact(a) and compact_point(b) == compact(b)
    c = {"y": [1, "z"]}
    assert compact_point(c) == compact_point(c) == compact(c)


def test_hashing_in_pieces_equals_hashing_the_whole_text():
    rnd = random.Random(3)
    for n in (0, 1, 4095, 4096, 4097, 9000):
        keys = [os.urandom(32).hex() for _ in range(n)]
        whole = hashlib.sha256(f"{n}\n".encode())
        whole.update("\n".join(sorted(keys)).encode())
        assert keys_digest(keys) == whole.hexdigest()
        odd = [rnd.choice(["a\"b", "\u00e9", "x\\y", "k"]) + k for k in keys]
        assert _h_sorted_strings(sorted(odd), piece=1000) == _h(sorted(odd))
        text = '{"rule":"r"}'
        one_by_one = hashlib.sha256(text.encode())
        for k in sorted(keys):
            one_by_one.update(k.encode("ascii"))
        assert content_key_text(text, "", keys) == one_by_one.hexdigest()


def _plan_with_gather(n: int, here: str) -> dict:
    tasks = [{"name": "prep", "rule": "prep", "index": None, "point": None, "app": "wf.prep", "args": "'p'",
              "parents": [], "key": "k-prep"}]
    tasks += [{"name": f"t.{i}", "rule": "t", "index": i, "point": {"x": i}, "app": "run",
               "args": f"{here}/own.py {i}" if i % 3 == 0 else f"'{{\"x\":{i}}}'", "parents": ["prep"],
               "key": f"k{i:05d}", "environ_vars": {"A": "1"} if i % 2 else {}} for i in range(n)]
    tasks.append({"name": "all", "rule": "all", "index": None, "point": None, "app": "wf.prep", "args": "'g'",
                  "parents": [f"t.{i}" for i in range(n)], "key": "k-all"})
    plan = make_plan(tasks=tasks)
    plan["source"] = {"path": f"{here}/wf.dhflow", "sha256": "s", "here": here}
    plan["apps"][0]["executable"] = f"python3 {here}/model.py"
    return plan


def test_rows_of_classes_and_big_gathers_carry_the_plain_values(tmp_path):
    here = str(tmp_path)
    for name in ("model.py", "own.py"):
        (tmp_path / name).write_text("print(1)\n")
    plan = _plan_with_gather(5000, here)
    ids = {t["name"]: str(uuid.uuid4()) for t in plan["tasks"]}
    chunks = list(copy_lines(plan, plan["tasks"], ids, provenance_json="null", tick="T",
                             history=backend.history_line("CREATED", "x"), chunk_rows=7))
    rows = backend.decode_lines(chunks)
    keys = {t["name"]: t["key"] for t in plan["tasks"]}
    apps = {a["name"]: a for a in plan["apps"]}
    parts = PartsMaker(plan)
    for t, row in zip(plan["tasks"], rows, strict=True):
        assert row["parents"] == json.dumps([ids[p] for p in t["parents"]])
        data = json.loads(row["data"])
        assert data["dhflow_parts"] == task_parts(t, keys, apps) | parts.code(t)
        assert data["dhflow_point"] == t["point"] and data["dhflow_key"] == t["key"]
        assert row["environ_vars"] == ("A=1" if t["environ_vars"] else "")
    assert any(k.startswith("code:own.py") for k in json.loads(rows[1]["data"])["dhflow_parts"])


def test_an_environment_memo_tells_minus_zero_from_zero(tmp_path):
    # -0.0 == 0.0 with the same hash: the memo of rendered environments must not share them
    (tmp_path / "p.json").write_text('[{"x": 0.0}, {"x": -0.0}, {"x": 0.0}]')
    text = ('workflow z:\n\nspace:\n    x: real(-1, 1)\n\nsample: points("p.json")\n\napp a:\n    executable: "echo"\n\n'
            'rule r:\n    app: a\n    foreach: space\n    args: "{x}"\n    env:\n        X: "v{x}"\n')
    (tmp_path / "z.dhflow").write_text(text)
    from dhflow.compiler.api import compile_file

    result = compile_file(str(tmp_path / "z.dhflow"))
    assert result.ok, result.diagnostics
    tasks = result.plan.to_dict()["tasks"]
    assert [(t["args"], t["environ_vars"]["X"]) for t in tasks] == [("0.0", "v0.0"), ("-0.0", "v-0.0"), ("0.0", "v0.0")]
