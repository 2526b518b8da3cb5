"""Backend unit tests: pure functions and small real programs; no database, no Balsam import."""
from __future__ import annotations

import copy

import pytest

BASE_TASK = {
    "num_nodes": 1, "ranks_per_node": 1, "threads_per_rank": 1, "threads_per_core": 1,
    "node_packing_count": 1, "cpu_affinity": "none", "wall_time_minutes": 1,
    "auto_timeout_retry": True, "environ_vars": {}, "objective": None,
}


def make_plan(workflow="wf", tasks=None, apps=None, objective="maximize", launch=None):
    """A hand-written plan dict in the shape of Plan.to_dict()."""
    if apps is None:
        apps = [{"name": "run", "executable": "python3 /abs/model.py", "envscript": "", "preprocess": "",
                 "postprocess": "", "description": ""},
                {"name": f"{workflow}.prep", "executable": "/bin/sh -c", "envscript": "", "preprocess": "",
                 "postprocess": "", "description": "shell rule prep"}]
    if tasks is None:
        tasks = [
            {"name": "prep", "rule": "prep", "index": None, "point": None, "app": f"{workflow}.prep",
             "args": "'echo hi'", "parents": [], "key": "k-prep"},
            {"name": "train.0", "rule": "train", "index": 0, "point": {"x": 1}, "app": "run",
             "args": "'{\"x\":1}'", "parents": ["prep"], "key": "k-t0",
             "environ_vars": {"A": "1", "B": "two"},
             "objective": {"source": "stdout", "marker": "DH-OUTPUT"}},
            {"name": "train.1", "rule": "train", "index": 1, "point": {"x": 2}, "app": "run",
             "args": "'{\"x\":2}'", "parents": ["prep"], "key": "k-t1",
             "objective": {"source": "stdout", "marker": "DH-OUTPUT"}},
            {"name": "report", "rule": "report", "index": None, "point": None, "app": f"{workflow}.prep",
             "args": "'echo done'", "parents": ["train.0", "train.1"], "key": "k-rep"},
        ]
    full = []
    for t in tasks:
        task = copy.deepcopy(BASE_TASK)
        task.update(t)
        full.append(task)
    return {"workflow": workflow, "objective": objective,
            "source": {"path": "/abs/dir/x.dhflow", "sha256": "ab" * 32, "here": "/abs/dir"},
            "apps": apps, "launch": launch, "tasks": full}


@pytest.fixture
def plan():
    return make_plan()
