"""``dhflow results --format json`` for a million tasks: records built one at a time,
written once to a temporary file, then printed best first.

The output is byte for byte ``json.dumps(records, indent=2)`` of
:func:`dhflow.results.objectives.collect`'s records: each record is encoded on its own at
the list's indentation and only its sort key and place in the file are kept in memory.
"""
from __future__ import annotations

import json
import tempfile
from typing import IO, Iterable

from dhflow.results.objectives import make_record


def records(tasks: Iterable[dict], jobs_by_key: dict):
    """(record, plan position) of each task that has an objective, in plan order; a job
    without data (``state`` and ``runtime`` only) is one whose objective is not readable yet."""
    for pos, task in enumerate(tasks):
        if not task.get("objective"):
            continue
        job = jobs_by_key.get(task["key"])
        # a jobs.LeanJob (no data) is not finished and not failed: its objective is not read
        yield make_record(task, job, lean=job is not None and not hasattr(job, "data")), pos


def write_json(recs, objective: str, out: IO[str]) -> None:
    """Print ``json.dumps([records sorted best first], indent=2)`` with bounded memory."""
    sign = -1 if objective == "maximize" else 1
    keys = []
    with tempfile.TemporaryFile("w+b") as spill:
        offset = 0
        for rec, pos in recs:
            # the record as json.dumps(list, indent=2) prints it: one level in
            data = ("  " + json.dumps(rec, indent=2).replace("\n", "\n  ")).encode("utf-8")
            keys.append(((1, 0.0, pos) if rec["objective"] is None else (0, sign * rec["objective"], pos),
                         offset, len(data)))
            spill.write(data)
            offset += len(data)
        if not keys:
            out.write("[]\n")
            return
        keys.sort(key=lambda k: k[0])
        out.write("[\n")
        last = len(keys) - 1
        for i, (_, start, length) in enumerate(keys):
            spill.seek(start)
            out.write(spill.read(length).decode("utf-8"))
            out.write(",\n" if i < last else "\n")
        out.write("]\n")
