"""`dhflow submit` of a search file: the search itself becomes a job of the workflow.

As DeepHyper's search job ran on Balsam, the driver runs inside the allocation: the plan
written holds the trials so far (so nothing is orphaned), the rules that run before the
search, and one more task, ``search-driver``, that runs ``python -m dhflow search-driver
FILE``. The allocation's launcher starts it like any job; the driver then writes the
evaluations as jobs, which that same launcher runs. It needs no launcher of its own.

How it shares nodes: it is a single-node, single-rank task. In serial job mode its
``node_packing_count`` lets it take one slot of a node (the evaluations fill the others);
in MPI mode Balsam gives it a node of its own for the allocation's duration (count it in
``launch.nodes``). It is retried after a timeout (Balsam's ``auto_timeout_retry``), and a
driver started again continues the same search.
"""
from __future__ import annotations

import shlex
import sys
from pathlib import Path

from dhflow.compiler.plan.model import content_key
from dhflow.runtime import database
from dhflow.runtime.search_plan import SearchContext, plan_of

DRIVER_TASK = "search-driver"
#: Serial mode: the driver takes 1/PACKING of a node's worker slots.
DRIVER_PACKING = 16


def driver_app(ctx: SearchContext) -> dict:
    """The ApplicationDefinition of the driver: this Python running dhflow."""
    return {"name": f"{ctx.workflow}.{DRIVER_TASK}", "executable": f"{shlex.quote(sys.executable)} -m dhflow",
            "envscript": "", "preprocess": "", "postprocess": "",
            "description": f"adaptive search driver of {ctx.workflow}"}


def driver_task(ctx: SearchContext, db: str | None, recorded: int = 0) -> dict:
    """The driver's task: runs `dhflow search-driver FILE`. Its key holds `evals` and the
    number of trials recorded when it is submitted: raising `evals`, or submitting again a
    search whose driver was stopped before the end (its job then looks final to Balsam),
    writes a new driver job, which continues the search."""
    args = f"search-driver {shlex.quote(str(Path(ctx.file).resolve()))}"
    if db:
        args += f" --db {shlex.quote(str(Path(db).resolve()))}"
    wall = (ctx.spec.launch.wall_time if ctx.spec.launch and ctx.spec.launch.wall_time else 60)
    definition = {"driver": ctx.fingerprint, "evals": ctx.budget.evals, "args": args, "recorded": recorded}
    return {"name": DRIVER_TASK, "rule": DRIVER_TASK, "index": None, "point": None,
            "app": driver_app(ctx)["name"], "args": args, "num_nodes": 1, "ranks_per_node": 1,
            "threads_per_rank": 1, "threads_per_core": 1, "node_packing_count": DRIVER_PACKING,
            "cpu_affinity": "none", "wall_time_minutes": wall, "auto_timeout_retry": True,
            "environ_vars": {}, "parents": [], "objective": None,
            "key": content_key(definition, ctx.spec.source.here, ())}


def submit_plan(ctx: SearchContext, db: str | None, *, read_db: bool = True) -> dict:
    """The plan `dhflow submit` writes for a search: trials so far, before rules, the driver."""
    trials = []
    if read_db:
        from dhflow.balsam import searchstore

        database.open_database(db, plan_of(ctx, []), ctx.file, create=True)
        trials = searchstore.load_trials(ctx.workflow, ctx.fingerprint)
    plan = plan_of(ctx, trials)
    plan["apps"] = list(plan["apps"]) + [driver_app(ctx)]
    plan["tasks"] = plan["tasks"] + [driver_task(ctx, db, len(trials))]
    return plan
