"""`dhflow submit` of a search file: the search itself becomes a job of the workflow.

As DeepHyper's search job ran on Balsam, the driver runs inside the allocation: the plan
written holds the trials so far (so nothing is orphaned), the rules that run before the
search, and one more task, ``search-driver``, that runs ``dhflow search-driver FILE``. The
allocation's launcher starts it like any job; the driver then writes the evaluations as
jobs, which that same launcher runs. It starts no launcher of its own, and it finds its
database through the ``BALSAM_DB_PATH`` Balsam sets in every job's environment.

How it shares nodes (see docs/search.md):

* serial job mode: a single-rank task with ``node_packing_count`` :data:`DRIVER_PACKING`,
  so it takes a negligible share of one node and the evaluations keep the whole of it;
* MPI job mode: dhflow's launcher runs it beside the launcher, on no worker node
  (:mod:`dhflow.balsam.shims.driver_beside`); a stock ``balsam launcher`` gives it one node.

Which driver job: the one already written while it is pending, running or finished; a new
one (the next *generation*, a new content key) only when the last one failed or was killed
and the search is not complete. So submitting again after a crash continues the search
with one driver, and submitting a finished search writes nothing.
"""
from __future__ import annotations

import shlex
import site
import sys
import sysconfig
from pathlib import Path

from dhflow.compiler.plan.model import content_key
from dhflow.errors import BackendError
from dhflow.runtime import database
from dhflow.runtime.search_plan import SearchContext, plan_of
from dhflow.target import FINAL_STATES

DRIVER_TASK = "search-driver"
#: Serial mode: the driver's share of a node is 1/DRIVER_PACKING. Balsam's serial workers
#: start a task while the occupancy stays within 1.001, so a node running a whole-node
#: evaluation (occupancy 1) still takes the driver, and the driver never keeps one out.
DRIVER_PACKING = 10000


def dhflow_command() -> str:
    """This Python running this very dhflow: `python -m dhflow`, or, when dhflow is not in the
    interpreter's own site-packages (a checkout on PYTHONPATH, which a batch job does not
    inherit), a bootstrap that puts this dhflow's directory first on sys.path."""
    root = str(Path(__file__).resolve().parents[2])
    py = shlex.quote(sys.executable)
    own = {str(Path(p).resolve()) for p in (*site.getsitepackages(), site.getusersitepackages(),
                                             sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"])}
    if root in own:
        return f"{py} -m dhflow"
    boot = (f"import sys, runpy; sys.path.insert(0, {root!r}); "
            "runpy.run_module('dhflow', run_name='__main__', alter_sys=True)")
    return f"{py} -c {shlex.quote(boot)}"


def driver_app(ctx: SearchContext) -> dict:
    """The ApplicationDefinition of the driver: this Python running this dhflow."""
    return {"name": f"{ctx.workflow}.{DRIVER_TASK}", "executable": dhflow_command(),
            "envscript": "", "preprocess": "", "postprocess": "",
            "description": f"adaptive search driver of {ctx.workflow}"}


def driver_args(ctx: SearchContext) -> str:
    """`search-driver FILE`: no --db, the job's own BALSAM_DB_PATH is the database that holds it."""
    return f"search-driver {shlex.quote(str(Path(ctx.file).resolve()))}"


def driver_key(ctx: SearchContext, generation: int) -> str:
    """The content key of the driver job of this search, `evals` and generation."""
    definition = {"driver": ctx.fingerprint, "evals": ctx.budget.evals, "args": driver_args(ctx),
                  "generation": generation}
    return content_key(definition, ctx.spec.source.here, ())


def driver_task(ctx: SearchContext, generation: int = 0) -> dict:
    """The driver's task (auto_timeout_retry: a driver stopped with its launcher runs again
    in the next allocation)."""
    wall = (ctx.spec.launch.wall_time if ctx.spec.launch and ctx.spec.launch.wall_time else 60)
    return {"name": DRIVER_TASK, "rule": DRIVER_TASK, "index": None, "point": None,
            "app": driver_app(ctx)["name"], "args": driver_args(ctx), "num_nodes": 1, "ranks_per_node": 1,
            "threads_per_rank": 1, "threads_per_core": 1, "node_packing_count": DRIVER_PACKING,
            "cpu_affinity": "none", "wall_time_minutes": wall, "auto_timeout_retry": True,
            "environ_vars": {}, "parents": [], "objective": None, "key": driver_key(ctx, generation)}


def choose_generation(ctx: SearchContext, states: dict[str, str], complete: bool) -> int:
    """The driver generation to write, from the states of the driver jobs by key."""
    last = -1
    while driver_key(ctx, last + 1) in states:
        last += 1
    if last < 0:
        return 0
    state = states[driver_key(ctx, last)]
    if complete or state not in FINAL_STATES or state == "JOB_FINISHED":
        return last  # pending, running, done, or nothing left to do: keep it (nothing written)
    return last + 1  # failed or killed before the end: a new driver continues the search


def search_complete(ctx: SearchContext, trials) -> bool:
    """Whether nothing is left for a driver: `evals` (or `max_failures`) reached, nothing in
    flight, and the gathers after the search final."""
    from dhflow.runtime.search import BalsamBackend, resume_state

    backend = BalsamBackend(ctx, trials, None, provenance={}, job_mode=None)
    finished, flying = resume_state(backend)
    failures = sum(1 for e in finished if e.values is None)
    if flying or (len(finished) < ctx.budget.evals and failures < ctx.budget.max_failures):
        return False
    if not ctx.after_rules:
        return True
    from dhflow.balsam import jobstore

    by_key = {j.key: j.state for j in jobstore.fetch_jobs(ctx.workflow) if j.key}
    after = [t for t in plan_of(ctx, trials, with_after=True)["tasks"] if t["rule"] in ctx.after_rules]
    return all(by_key.get(t["key"]) in FINAL_STATES for t in after)


def submit_plan(ctx: SearchContext, db: str | None, *, dry_run: bool = False, profile: str = "local") -> dict:
    """The plan `dhflow submit` writes for a search: trials so far, before rules, the driver.
    A dry run reads the database when there is one, and creates none. `profile`: the Balsam
    settings profile of the launcher (a process activates Balsam with one profile only)."""
    trials, generation = [], 0
    first = plan_of(ctx, [])
    if not dry_run or database.locate(db, first, ctx.file).exists:
        from dhflow.balsam import jobstore

        database.open_database(db, first, ctx.file, create=not dry_run, quiet=dry_run, profile=profile)
        trials = jobstore.load_trials(ctx.workflow, ctx.fingerprint)
        states = jobstore.driver_states(ctx.workflow, DRIVER_TASK)
        generation = choose_generation(ctx, states, bool(states) and search_complete(ctx, trials))
        if not dry_run and driver_key(ctx, generation) not in states and jobstore.driver_busy(ctx.workflow):
            # a `dhflow run` drives it in its own process: a driver job written now could not start
            raise BackendError(f"a search driver is running workflow {ctx.workflow} now (a `dhflow run`, or the "
                               "driver job of an earlier submission): another driver could not start beside it; "
                               "wait for it to finish or stop it, then submit again (nothing was written)")
    plan = plan_of(ctx, trials)
    plan["apps"] = list(plan["apps"]) + [driver_app(ctx)]
    plan["tasks"] = plan["tasks"] + [driver_task(ctx, generation)]
    return plan


def driver_jobs(ctx: SearchContext, db: str | None) -> list[tuple[str, str]]:
    """(state, output file) of the workflow's driver jobs, newest last: where a submitted
    search's driver writes its progress and errors (`dhflow status` shows them)."""
    from dhflow.balsam import jobstore

    database.open_database(db, plan_of(ctx, []), ctx.file, create=False, quiet=True)
    found = [j for j in jobstore.fetch_jobs(ctx.workflow, name=DRIVER_TASK) if j.application.endswith("." + DRIVER_TASK)]
    from datetime import datetime

    from dhflow.results.objectives import history

    found.sort(key=lambda j: next((t for t, _, _ in history(j.state_history) if t), datetime.min))
    return [(j.state, str(Path(j.workdir) / f"{DRIVER_TASK}.out")) for j in found]
