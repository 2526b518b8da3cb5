"""Build time and size of `dhflow report` pages for 1,000 and 100,000 tasks.

    python benchmarks/report_scale.py [N ...]            # default: 1000 100000
    python benchmarks/report_scale.py --browser [N ...]  # also: seconds until Chromium has drawn it

The tasks are synthetic but go through the same pure path as a real report: a plan
with a 4-parameter space, job rows shaped like the database's (Balsam's state_history
text with RUNNING/RUN_DONE timestamps, the objective in the job's data, 2% failures),
then records -> figures -> the HTML page (plotly.js embedded). The database read is not
measured here (``dhflow results`` reads the same rows). With ``--browser`` the page is
opened in headless Chromium (chromium and chromedriver, through Selenium) and the time
until every figure has been drawn is printed too.
"""
from __future__ import annotations

import math
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dhflow.results.report import build  # noqa: E402


@dataclass
class Job:
    name: str
    state: str
    state_history: str
    data: dict
    workdir: str = "/nonexistent"


def _line(when: datetime, state: str, msg: str = "") -> str:
    return f"[{when.strftime('%m-%d-%Y %H:%M:%S.%f')} {state}] {msg}"


def synthetic(n: int, seed: int = 1):
    """(plan, jobs) of an n-task sweep that ran on 128 nodes, 4 tasks per node."""
    rnd = random.Random(seed)
    t0 = datetime(2026, 1, 1, 8, 0, 0)
    tasks, jobs = [], []
    slots = [0.0] * 512
    for i in range(n):
        point = {"units": rnd.randint(1, 100), "activation": rnd.choice(["relu", "tanh", "sigmoid"]),
                 "lr": math.exp(rnd.uniform(math.log(1e-4), math.log(1e-1))), "batch_size": rnd.choice([32, 64, 128])}
        key = f"k{i}"
        tasks.append({"name": f"train.{i}", "rule": "train", "index": i, "point": point, "key": key,
                      "num_nodes": 1, "node_packing_count": 4, "objective": {"source": "data", "key": "obj"}})
        slot = min(range(len(slots)), key=slots.__getitem__) if n <= 5000 else i % len(slots)
        start = slots[slot] + rnd.uniform(0, 2)
        dur = rnd.uniform(30, 120)
        slots[slot] = start + dur
        failed = rnd.random() < 0.02
        hist = "\n".join([_line(t0, "CREATED"), _line(t0 + timedelta(seconds=start), "RUNNING"),
                          _line(t0 + timedelta(seconds=start + dur), "RUN_ERROR" if failed else "RUN_DONE",
                                "nonzero return 1: diverged" if failed else ""),
                          _line(t0 + timedelta(seconds=start + dur + 1), "FAILED" if failed else "JOB_FINISHED")])
        obj = (1 - abs(math.log10(point["lr"]) + 2.5) / 3) * (0.9 if point["activation"] == "relu" else 0.7) \
            + point["units"] / 1000 + rnd.gauss(0, 0.03)
        jobs.append(Job(f"train.{i}", "FAILED" if failed else "JOB_FINISHED", hist,
                        {"dhflow_key": key, **({} if failed else {"obj": obj})}))
    plan = {"workflow": f"bench{n}", "objective": "maximize", "tasks": tasks,
            "launch": {"nodes": 128}, "description": f"synthetic sweep of {n} tasks"}
    return plan, jobs


def open_seconds(path: str) -> float:
    """Seconds from navigation until every Plotly figure of the page has been drawn."""
    from pathlib import Path

    from tests.report.browser import Browser

    with Browser() as b:
        t = time.perf_counter()
        b.driver.get(Path(path).resolve().as_uri())
        while b.driver.execute_script("const d = document.querySelectorAll('.plotly-graph-div');"
                                      "return Array.from(d).filter(g => !g._fullLayout).length;"):
            time.sleep(0.02)
        return time.perf_counter() - t


def measure(n: int, browser: bool = False) -> None:
    plan, jobs = synthetic(n)
    t = time.perf_counter()
    report = build.from_plan(plan, jobs, [])
    t_build = time.perf_counter() - t
    page = build.to_html(report)
    t_total = time.perf_counter() - t
    with tempfile.NamedTemporaryFile("w", suffix=".html", delete=False, encoding="utf-8") as fp:
        fp.write(page)
    size = os.path.getsize(fp.name)
    shown = f", drawn in Chromium in {open_seconds(fp.name):5.2f} s" if browser else ""
    os.unlink(fp.name)
    print(f"{n:>7,} tasks: records+figures {t_build:6.2f} s, page {t_total - t_build:5.2f} s, "
          f"total {t_total:6.2f} s, {size / 1e6:5.1f} MB, {len(report.figures)} figures{shown}")


if __name__ == "__main__":
    args = sys.argv[1:]
    with_browser = "--browser" in args
    for arg in ([a for a in args if a != "--browser"] or ["1000", "100000"]):
        measure(int(arg), with_browser)
