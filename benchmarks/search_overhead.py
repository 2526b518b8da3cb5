"""The search driver's own cost per proposal against a real PostgreSQL, at 100 and 2,000
finished trials: ask (Optuna's TPE over its study stored in the database), write (the trial
row and its job), read (the poll of the evaluations in flight and the objective) and tell.

Against a throwaway PostgreSQL (dhflow.balsam.localdb) in a temporary directory, a search
of polynome2 (ten integers in [-10, 10], TPE, the objective in the job's data) is given N
finished trials (written in one go, their jobs set JOB_FINISHED with an objective, the
study told), then proposals are made through the driver's own Balsam backend, as
`dhflow run` makes them. No launcher runs: each written job is set JOB_FINISHED with its
objective (untimed), as the launcher would leave it. Side by side, in the same run and on
the same database, alternating proposal by proposal:

* write: the incremental write (the new trial's tasks and row only, one transaction) and
  the previous full-reconcile write (the plan of every trial so far, reconciled with the
  workflow's jobs: `searchstore.write_batch(plan_of(all trials))`);
* read: the poll of the in-flight jobs only (by content key, indexed) and the previous
  read of every job of the workflow.

ask and tell work on the in-memory copy of the study; the stored study (PostgreSQL, schema
dhflow_optuna) is written by a background thread while the jobs run: its time per proposal
is printed last (waited for after each proposal, so that it never overlaps the figures).

    python benchmarks/search_overhead.py [--trials 100 2000] [--reps 15] [--keep]

Target (issue 8): ask + write + read + tell under 50 ms per proposal at 2,000 trials.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

SPEC = """workflow {wf}:
    objective: maximize

space:
{space}

search: tpe(evals=100000, parallel=1, seed=7, initial=8)

rule evaluate:
    foreach: space
    shell: "python3 -c 'print(1)' {{point:json}}"
    objective: data("dh_objective")
"""


def polynome2(p):
    return -sum(p[f"e{i}"] ** 2 for i in range(10))


def _finish(cur, wf: str, key: str, value: float) -> None:
    """What the launcher and the app leave: the job final, its objective in its data (untimed)."""
    cur.execute("UPDATE core_balsamjob SET state = 'JOB_FINISHED', data = data || %s::jsonb "
                "WHERE workflow = %s AND data->>'dhflow_key' = %s", [json.dumps({"dh_objective": value}), wf, key])


def measure(root: Path, n: int, reps: int) -> dict[str, list[float]]:
    from django.db import connection

    from dhflow.balsam import searchstore
    from dhflow.runtime import database
    from dhflow.runtime.provenance import provenance
    from dhflow.runtime.search import BalsamBackend, NoLauncher
    from dhflow.runtime.experiment import load_search as load
    from dhflow.runtime.search_plan import plan_of, trial_key
    from dhflow.runtime.search_study import study_store
    from dhflow.search.factory import make_proposer
    from dhflow.search.proposer import Evaluation, SearchSetup

    wf = f"bench_search_{n}"
    spec = root / f"{wf}.dhflow"
    spec.write_text(SPEC.format(wf=wf, space="\n".join(f"    e{i}: int(-10, 10)" for i in range(10))))
    ctx = load(str(spec))
    first = plan_of(ctx, [])
    database.open_database(str(root / "db"), first, str(spec), create=True, quiet=True)
    prov = provenance(first)
    # N finished trials: random points, written and finished in one go (setup, untimed)
    rnd = make_proposer(SearchSetup("random", ctx.setup.dimensions, ctx.setup.directions, seed=3))
    points = rnd.ask(n, [], [], first=0)
    searchstore.ensure_table()
    rows = [searchstore.TrialRow(i, p, trial_key(ctx, i, p)) for i, p in enumerate(points)]
    searchstore.write_batch(plan_of(ctx, rows), ctx.fingerprint, rows, provenance=prov)
    with connection.cursor() as cur:
        cur.execute("UPDATE core_balsamjob SET state = 'JOB_FINISHED', data = data || jsonb_build_object("
                    "'dh_objective', -(SELECT sum((v::text)::int ^ 2) FROM jsonb_each(data->'dhflow_point') "
                    "AS e(k, v))) WHERE workflow = %s", [wf])
        cur.execute("VACUUM ANALYZE core_balsamjob")
    finished = [Evaluation(i, p, (float(polynome2(p)),)) for i, p in enumerate(points)]
    proposer = make_proposer(ctx.setup, resumed_at=n, store=study_store(ctx))
    proposer.sync(finished, [])  # the stored study told the N trials (setup, untimed)
    proposer.flush()
    backend = BalsamBackend(ctx, rows, NoLauncher(), provenance=prov, job_mode=None)
    fig: dict[str, list[float]] = {k: [] for k in ("ask", "write", "read", "tell", "write_full", "read_all",
                                                      "stored")}
    trial = n
    for _ in range(reps):
        for full in (False, True):  # alternate: the same conditions for both writes
            t0 = time.perf_counter()
            point = proposer.ask(1, [], [], first=trial)[0]
            t1 = time.perf_counter()
            if full:  # the previous write: the plan of every trial, reconciled as a whole
                row = searchstore.TrialRow(trial, point, trial_key(ctx, trial, point))
                backend.rows[trial] = row
                searchstore.write_batch(plan_of(ctx, backend.rows.values()), ctx.fingerprint, [row],
                                        provenance=prov)
            else:
                backend.submit([(trial, point)])
            t2 = time.perf_counter()
            with connection.cursor() as cur:
                _finish(cur, wf, backend.rows[trial].job_key, float(polynome2(point)))
            t3 = time.perf_counter()
            if full:  # the previous read: every job of the workflow
                by_key = backend._jobs()
                got = [backend.evaluation(trial, point, by_key)]
            else:
                got = backend.poll([Evaluation(trial, point)])
            t4 = time.perf_counter()
            assert got and got[0].values == (float(polynome2(point)),), got
            proposer.sync(got, [])
            t5 = time.perf_counter()
            proposer.flush()  # the stored study's writes, done off the path while jobs run
            fig["stored"].append(time.perf_counter() - t5)
            fig["ask"].append(t1 - t0)
            fig["tell"].append(t5 - t4)
            fig["write_full" if full else "write"].append(t2 - t1)
            fig["read_all" if full else "read"].append(t4 - t3)
            trial += 1
    return fig


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, nargs="+", default=[100, 2000])
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (the DB stopped)")
    args = ap.parse_args()

    from dhflow.balsam.localdb import LocalDB

    root = Path(tempfile.mkdtemp(prefix="dhflow-search-", dir="/tmp" if os.path.isdir("/tmp") else None))
    os.chmod(root, 0o755)  # the PostgreSQL server runs as `postgres` when we are root
    home = root / "home"
    home.mkdir()
    saved_home = os.environ.get("HOME")
    os.environ["HOME"] = str(home)
    db = LocalDB(root / "db")
    try:
        db.ensure_started(quiet=True)
        os.environ["HOME"] = saved_home or ""
        print(f"# search driver overhead per proposal (ms), min / median of {args.reps} proposals each; "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, load average "
              f"{os.getloadavg()[0]:.1f}")
        print(f"{'finished':>8}  {'ask':>13}  {'write':>13}  {'read':>13}  {'tell':>13}  {'total':>13}  "
              f"{'prev write (full)':>17}  {'prev read (all)':>15}  {'study (background)':>18}")
        for n in args.trials:
            fig = measure(root, n, args.reps)
            ms = {k: [1000 * x for x in v] for k, v in fig.items()}
            total = [sum(parts) for parts in zip(ms["ask"][0::2], ms["write"], ms["read"], ms["tell"][0::2])]

            def mm(v):
                return f"{min(v):5.1f} / {statistics.median(v):5.1f}"

            print(f"{n:>8}  {mm(ms['ask']):>13}  {mm(ms['write']):>13}  {mm(ms['read']):>13}  "
                  f"{mm(ms['tell']):>13}  {mm(total):>13}  {mm(ms['write_full']):>17}  {mm(ms['read_all']):>15}  "
                  f"{mm(ms['stored']):>18}")
    finally:
        db.stop()
        if args.keep:
            print(f"# kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
