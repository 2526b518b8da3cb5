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

from dhflow.results.objectives import make_record, order_key
from dhflow.results.pareto import directions, record_ranks


def records(tasks: Iterable[dict], jobs_by_key: dict):
    """(record, plan position) of each task that has an objective, in plan order; a job
    without data (``state`` and ``runtime`` only) is one whose objective is not readable yet."""
    for pos, task in enumerate(tasks):
        if not task.get("objective"):
            continue
        job = jobs_by_key.get(task["key"])
        # a jobs.LeanJob (no data) is not finished and not failed: its objective is not read
        yield make_record(task, job, lean=job is not None and not hasattr(job, "data")), pos


def write_json(recs, objective, out: IO[str]) -> None:
    """Print ``json.dumps([records sorted best first], indent=2)`` with bounded memory.

    ``objective`` is the plan's field: with several directions the records are ranked into
    Pareto fronts; only their objective vectors are held, and ``pareto_rank`` is appended
    to each ranked record's text as it is printed (where :func:`collect` puts it: last)."""
    dirs = directions(objective)
    several = len(dirs) > 1
    spans, vectors = [], []
    with tempfile.TemporaryFile("w+b") as spill:
        offset = 0
        for rec, pos in recs:
            # the record as json.dumps(list, indent=2) prints it: one level in
            data = ("  " + json.dumps(rec, indent=2).replace("\n", "\n  ")).encode("utf-8")
            spans.append((rec["objective"], pos, offset, len(data)))
            if several:
                vectors.append(rec.get("objectives"))
            spill.write(data)
            offset += len(data)
        if not spans:
            out.write("[]\n")
            return
        ranks = record_ranks(vectors, dirs) if several else None
        del vectors
        for i, (value, pos, start, length) in enumerate(spans):  # in place: one list at a time
            rank = ranks[i] if ranks is not None else None
            spans[i] = (order_key(value, rank, pos, dirs[0]), rank, start, length)
        spans.sort()  # the keys are unique (plan position): nothing after them is compared
        out.write("[\n")
        last = len(spans) - 1
        for i, (_, rank, start, length) in enumerate(spans):
            spill.seek(start)
            text = spill.read(length).decode("utf-8")
            if rank is not None:  # a record ends with "\n  }": the new key goes before it
                text = f'{text[:-4]},\n    "pareto_rank": {rank}{text[-4:]}'
            out.write(text)
            out.write(",\n" if i < last else "\n")
        out.write("]\n")
