"""Job rows and plans for the report's tests, shaped like the database's."""
from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

T0 = datetime(2026, 3, 1, 9, 0, 0)


@dataclass
class Job:
    """A row like dhflow.balsam.jobs.JobView."""

    name: str
    state: str
    state_history: str
    data: dict = field(default_factory=dict)
    workdir: str = "/nonexistent"


def line(seconds: float, state: str, msg: str = "") -> str:
    when = T0 + timedelta(seconds=seconds)
    return f"[{when.strftime('%m-%d-%Y %H:%M:%S.%f')} {state}] {msg}"


def history(start: float, end: float, *, failed: bool = False, msg: str = "") -> str:
    return "\n".join([line(0, "CREATED"), line(start, "RUNNING"),
                      line(end, "RUN_ERROR" if failed else "RUN_DONE", msg),
                      line(end + 0.5, "FAILED" if failed else "JOB_FINISHED")])


def sweep(n: int, *, seed: int = 3, fail_every: int = 0, direction: str = "maximize"):
    """(plan, jobs) of an n-point sweep where `lr` decides the objective (peak at 1e-2.5)."""
    rnd = random.Random(seed)
    tasks, jobs = [], []
    for i in range(n):
        point = {"lr": 10 ** rnd.uniform(-4, -1), "act": rnd.choice(["relu", "tanh"]),
                 "units": rnd.randint(1, 64), "epochs": 20}
        key = f"key-{i}"
        tasks.append({"name": f"train.{i}", "rule": "train", "index": i, "point": point, "key": key,
                      "num_nodes": 1, "node_packing_count": 2, "objective": {"source": "data", "key": "obj"}})
        failed = bool(fail_every) and i % fail_every == fail_every - 1
        value = -abs(math.log10(point["lr"]) + 2.5) + rnd.gauss(0, 0.05)
        start = 10.0 * (i // 4)
        jobs.append(Job(f"train.{i}", "FAILED" if failed else "JOB_FINISHED",
                        history(start, start + 8, failed=failed, msg="nonzero return 2: diverged"),
                        {"dhflow_key": key, **({} if failed else {"obj": value})}))
    plan = {"workflow": "sweep", "objective": direction, "tasks": tasks, "launch": {"nodes": 2}}
    return plan, jobs
