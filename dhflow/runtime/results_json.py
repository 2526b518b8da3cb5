"""The results use case for ``--format json`` at any size: the plan streamed from the
compiler, the jobs read once through a server-side cursor, the records printed best first
from a temporary file (:mod:`dhflow.results.stream`); the same bytes as the in-memory path."""
from __future__ import annotations

from typing import IO

from dhflow.errors import CompileFailed
from dhflow.runtime.plans import LoadedPlan, load_plan_json


def write_results_json(db: str | None, file: str, out: IO[str]) -> LoadedPlan:
    """Print the results of FILE as JSON to ``out``; returns the head and the compile's
    warnings (to show).  CompileFailed when the file does not compile (nothing printed)."""
    from dhflow.compiler.diagnostics import DiagnosticError
    from dhflow.results.stream import records, write_json
    from dhflow.runtime.inspect import open_existing

    if file.endswith(".json"):
        head = load_plan_json(file)
        tasks, loaded = head["tasks"], LoadedPlan(head)
    else:
        from dhflow.compiler.api import compile_file_streaming

        stream = compile_file_streaming(file)
        if not stream.ok:
            raise CompileFailed(stream.diagnostics, stream.source)
        head, tasks = stream.head, stream.tasks
        loaded = LoadedPlan(head, stream.diagnostics, stream.source)
    open_existing(db, head, file)
    from dhflow.balsam import jobs

    by_key = jobs.jobs_for_results(head["workflow"])
    try:
        write_json(records(tasks, by_key), head.get("objective", "maximize"), out)
    except DiagnosticError as exc:
        diags = list(loaded.warnings)
        diags += [d for d in exc.diagnostics if not any(d is x for x in diags)]
        raise CompileFailed(diags, loaded.source) from None
    return loaded
