"""Pure parts of the scale work: column-wise points, streamed plan JSON, the keys' sum."""
from __future__ import annotations

import hashlib
import random
import subprocess
import sys
from pathlib import Path

from dhflow.balsam.aggregates import keys_sum
from dhflow.compiler.api import compile_file, compile_file_streaming
from dhflow.compiler.expand.pointlist import PointList
from dhflow.compiler.expand.tasks import plan_head

REPO = Path(__file__).resolve().parents[1]

SWEEP = """
workflow scale_{n}:
    objective: maximize
space:
    units: int(1, 1000)
    act: choice("relu", "tanh")
    lr: real(1e-5, 1e-1, log)
    mix: choice(1, 2.5, "x")
    epochs: 20
sample: random(count={n}, seed=7)
rule prep:
    shell: "echo prep"
rule train:
    foreach: space
    after: prep
    shell: "echo {{point:json}}"
    nodes: 1 if units < 500 else 2
    objective: stdout("DH-OUTPUT")
rule report:
    after: train
    shell: "echo done"
"""


def test_point_list_gives_equal_dicts_of_equal_types():
    names = ("a", "b", "c", "d")
    pts = [{"a": random.random(), "b": random.randint(-5, 10**12), "c": random.choice(["x", "y"]),
            "d": random.choice([1, 2.5, True])} for _ in range(500)]
    pl = PointList(names, pts).compact()
    assert len(pl) == 500 and pl == pts and list(pl) == pts
    assert pl[-1] == pts[-1] and pl[3:6] == pts[3:6]
    for got, want in zip(pl, pts):
        assert [type(v) for v in got.values()] == [type(v) for v in want.values()]
    assert type(pl._columns[0]).__name__ == "array" and type(pl._columns[1]).__name__ == "array"
    assert isinstance(pl._columns[3], list)  # mixed int/float/bool: kept as objects


def test_point_list_refuses_other_keys():
    pl = PointList(("a", "b"))
    try:
        pl.append({"b": 1, "a": 2})
    except ValueError:
        pass
    else:
        raise AssertionError("keys in another order must be refused")


def test_streamed_plan_json_is_the_full_compile_json(tmp_path):
    path = tmp_path / "s.dhflow"
    path.write_text(SWEEP.format(n=3000))
    full = compile_file(str(path)).plan.to_json()
    stream = compile_file_streaming(str(path), as_dicts=False)
    assert stream.ok
    assert "".join(plan_head(stream.spec).iter_json(stream.tasks)) == full
    out = tmp_path / "plan.json"
    proc = subprocess.run([sys.executable, "-m", "dhflow", "plan", str(path), "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == full
    proc = subprocess.run([sys.executable, "-m", "dhflow", "plan", str(path), "--format", "json"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.stdout == full


def test_streamed_plan_json_expansion_error_leaves_no_file(tmp_path):
    path = tmp_path / "bad.dhflow"
    # the 3rd point's resource is bad: found only while expanding, after tasks were printed
    path.write_text(SWEEP.format(n=50).replace("nodes: 1 if units < 500 else 2", "nodes: 1 if units < 500 else 0"))
    out = tmp_path / "plan.json"
    proc = subprocess.run([sys.executable, "-m", "dhflow", "plan", str(path), "--format", "json", "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 1
    assert "error" in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".dhflow-plan-*"))
    full = subprocess.run([sys.executable, "-m", "dhflow", "check", str(path)], capture_output=True, text=True,
                          cwd=REPO)
    assert full.returncode == 1 and full.stderr.strip() in proc.stderr  # every diagnostic of a full compile


def test_keys_sum_is_a_multiset_digest():
    keys = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(1000)]
    shuffled = random.sample(keys, len(keys))
    assert keys_sum(keys) == keys_sum(shuffled)
    assert keys_sum(keys).startswith("1000:")
    assert keys_sum(keys[:-1]) != keys_sum(keys)
    assert keys_sum(keys[:-1] + keys[:1]) != keys_sum(keys)  # a duplicate instead of a key


def test_streamed_plan_json_writes_through_a_symlink_and_keeps_a_files_mode(tmp_path):
    path = tmp_path / "s.dhflow"
    path.write_text(SWEEP.format(n=20))
    target = tmp_path / "target.json"
    target.write_text("old")
    target.chmod(0o600)
    link = tmp_path / "link.json"
    link.symlink_to(target)
    for out in (link, target):
        proc = subprocess.run([sys.executable, "-m", "dhflow", "plan", str(path), "--format", "json", "-o", str(out)],
                              capture_output=True, text=True, cwd=REPO)
        assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and target.read_text().startswith("{\n")
    assert target.stat().st_mode & 0o777 == 0o600


RESULTS = """
workflow scale_results:
    objective: minimize
space:
    x: int(1, 30)
sample: grid(levels=30)
rule train:
    foreach: space
    shell: "echo {x}"
    objective: data("loss")
rule report:
    after: train
    shell: "echo done"
"""


def test_streamed_results_json_is_the_in_memory_json(tmp_path):
    import io

    from dhflow.balsam.jobs import JobView, LeanJob
    from dhflow.results import objectives
    from dhflow.results.stream import records, write_json

    path = tmp_path / "r.dhflow"
    path.write_text(RESULTS)
    plan = compile_file(str(path)).plan.to_dict()
    hist = ("[01-02-2026 10:00:00.000000 CREATED]\n[01-02-2026 10:00:01.000000 RUNNING]\n"
            "[01-02-2026 10:00:03.500000 RUN_DONE]\n")
    full, lean = {}, {}
    for i, t in enumerate(plan["tasks"][:25]):
        if i < 10:  # finished, ties included, one value unreadable
            data = {"loss": [3.5, 1, 2.25, 1, "x"][i % 5]} if i != 7 else {}
            job = JobView(str(i), t["name"], "scale_results", "JOB_FINISHED", hist, data, str(tmp_path))
        elif i < 15:
            job = JobView(str(i), t["name"], "scale_results", "FAILED",
                          hist + "[01-02-2026 10:00:04.000000 FAILED] boom\n", {}, str(tmp_path))
        else:
            job = JobView(str(i), t["name"], "scale_results", "READY" if i % 2 else "CREATED",
                          hist if i % 2 else "", {}, str(tmp_path))
            lean[t["key"]] = LeanJob(job.state, objectives.runtime_seconds(job.state_history))
        full[t["key"]] = job
    mixed = {**full, **lean}
    want = objectives.format_json(objectives.collect(plan, full)) + "\n"
    got = io.StringIO()
    write_json(records(plan["tasks"], mixed), plan["objective"], got)
    assert got.getvalue() == want
    empty = io.StringIO()
    write_json(records([t for t in plan["tasks"] if not t.get("objective")], mixed), "minimize", empty)
    assert empty.getvalue() == objectives.format_json([]) + "\n"


def test_drawn_points_are_the_eager_draws_in_any_order_of_reading():
    """A random sample drawn on demand (a batch at a time, kept once drawn) gives the points
    an eager draw gives, whether read in order, by index out of order, or twice."""
    import itertools

    from dhflow.compiler.expand import samplers
    from dhflow.compiler.expand.rng import Stream

    spec = _spec(SWEEP.format(n=10))
    expected = list(itertools.islice(samplers._random_points(spec.params, Stream(5, "random")), 300))
    lazy = samplers._random_columns(spec.params, Stream(5, "random"), 300, batch=64)
    assert len(lazy) == 300 and len(lazy._points) == 0  # nothing drawn before it is read
    assert lazy[250] == expected[250] and lazy[-1] == expected[-1]
    assert len(lazy._points) == 300
    assert list(lazy) == expected and list(lazy) == expected  # read twice: drawn once
    assert lazy[10:13] == expected[10:13]
    fresh = samplers._random_columns(spec.params, Stream(5, "random"), 300, batch=64)
    assert [dict(p) for p in fresh] == expected  # in order from the start
    assert [[type(v) for v in p.values()] for p in fresh] == [[type(v) for v in p.values()] for p in expected]


def _spec(text: str):
    from dhflow.compiler.api import compile_source
    from dhflow.compiler.source import SourceFile

    return compile_source(SourceFile.from_text(text, "<t>")).spec


def test_a_big_gathers_plan_line_and_key_are_those_of_the_plain_encoding():
    """The pieces a million-parent gather is written in (its parents' JSON, the offsets of a
    gather as a range, a single parent's key digest) give the bytes the plain code gives."""
    import json as _json

    from dhflow.compiler.jsonfast import plan_line
    from dhflow.compiler.plan.model import Task, content_key_text, task_json

    from dhflow.compiler.expand.samplers import sample
    from dhflow.compiler.expand.tasks import expand

    spec = _spec(SWEEP.format(n=5000))
    full, _ = expand(spec, sample(spec))
    report = full.tasks[-1]
    assert len(report.parents) == 5000 and isinstance(report, Task)
    assert task_json(report) == plan_line(report.to_dict())
    assert report.parents == tuple(f"train.{i}" for i in range(5000))
    # a single parent's digest is that of the general path
    h = hashlib.sha256(b'{"x":1}')
    h.update(("a" * 64).encode())
    assert content_key_text('{"x":1}', "", ["a" * 64]) == h.hexdigest()
    assert content_key_text('{"x":1}', "", ("b" * 64, "a" * 64)) == content_key_text('{"x":1}', "", iter(["a" * 64, "b" * 64]))
    assert _json.loads(task_json(report))["parents"][4999] == "train.4999"
