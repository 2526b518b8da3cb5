"""Time the reading commands on a database that holds one big workflow (default 1M tasks).

Against a throwaway PostgreSQL (dhflow.balsam.localdb) in a temporary directory, the sweep
of benchmarks/submit_scale.py is submitted once (`submit --no-launch`), then each reading
command runs in its own process (wall time, peak memory of that process):

* `status` and `status --format json` of the unchanged file (answered without compiling:
  one aggregated query), and `status` of the same workflow after a comment was added to the
  file (a new input digest: the file is compiled and the jobs matched by key);
* `results --format json > /dev/null`; `history`; `plan --against-db --format json`;
* the progress poll of `dhflow run` (dhflow.balsam.poll.ProgressPoll, in one process with
  Balsam activated): a tick (one aggregated per-state query), the per-rule breakdown it
  refreshes when the totals change, and, for comparison, the former per-job-id query;
* what Balsam's own launcher asks the database on each of its ticks, on the same jobs:
  the runnable jobs counted and the first ones fetched in its order (``launch``), and the
  transitionable jobs counted (its idle-exit check), with the exact workflow filter.

* `plan --against-db` (table and JSON) of the unchanged file (answered without compiling)
  and of edited files (compiled in streaming mode, each task matched by key in the server),
  and `status` of those, each with its peak memory; ``--edits`` picks the edits: a comment
  (every task unchanged), an environment value (every key changes) and ten more samples (a
  few new tasks).  With ``--baseline DIR`` (another checkout of dhflow, e.g. an earlier
  commit exported with `git archive`) the same commands run with that dhflow too, on the
  same database, side by side, and whether both printed the same bytes.

    python benchmarks/read_scale.py [--size 1000000] [--keep] [--baseline DIR] [--against-db-only]
                                    [--edits comment,env,count]

Targets (issue 15): `status` under 2 s at 1M tasks; the poll's tick far below Balsam's own.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from submit_scale import DB, SPEC, run_measured, throwaway_db  # noqa: E402

# 1M-task plans are over the default task limit (200,000): raise it for the benchmark
os.environ.setdefault("DHFLOW_MAX_TASKS", "2000000")

POLL = textwrap.dedent("""
    import json, sys, time
    from dhflow.compiler.api import check_file
    from dhflow.compiler.expand.tasks import plan_head
    from dhflow.runtime import database
    path, wf = sys.argv[1], sys.argv[2]
    head = plan_head(check_file(path).spec).to_dict()
    database.open_database(None, head, path, create=False, quiet=True)
    from django.db import connection
    from dhflow.balsam import jobs
    from dhflow.balsam.poll import ProgressPoll
    with connection.cursor() as cur:  # the run's own bookkeeping (job id by task, rules): not timed
        cur.execute("SELECT data->>'dhflow_task', data->>'dhflow_rule', job_id::text FROM core_balsamjob "
                    "WHERE workflow = %s", [wf])
        rows = cur.fetchall()
    plan = {"workflow": wf, "tasks": [{"name": n, "rule": r} for n, r, _ in rows]}
    ids = {n: j for n, _, j in rows}
    def best(fn, n=3):
        out = []
        for _ in range(n):
            t0 = time.perf_counter(); fn(); out.append(time.perf_counter() - t0)
        return min(out)
    poll = ProgressPoll(plan, ids)
    fig = {"first": best(poll.snapshot, 1), "tick": best(poll.snapshot, 5), "detail": best(poll._detail),
           "per_id": best(lambda: jobs.state_counts(wf, list(ids.values())), 1)}
    from balsam.core import models
    from balsam.core.models import BalsamJob
    src = BalsamJob.source  # dhflow's launcher wrapper filters workflow = NAME (exact), as here
    def runnable():
        q = src.get_runnable(max_nodes=8, order_by=("-num_nodes", "-wall_time_minutes")).filter(workflow=wf)
        q.count(); list(q[:8])
    fig["balsam_launch"] = best(runnable)
    fig["balsam_exit_check"] = best(lambda: BalsamJob.objects.filter(
        state__in=models.PROCESSABLE_STATES, workflow=wf).count())
    fig["balsam_transitions"] = best(lambda: list(src.by_states(models.PROCESSABLE_STATES).filter(
        lock="", workflow=wf)[:100]))
    # mid-run: the `train` jobs runnable (PREPROCESSED), as Balsam's transitions leave them
    with connection.cursor() as cur:
        cur.execute("UPDATE core_balsamjob SET state = 'PREPROCESSED' WHERE workflow = %s "
                    "AND data->>'dhflow_rule' = 'train'", [wf])
        cur.execute("VACUUM ANALYZE core_balsamjob")
    fig["tick_runnable"] = best(poll.snapshot, 5)
    fig["balsam_launch_runnable"] = best(runnable)
    print(json.dumps(fig))
""")


def against_db_figures(py: list[str], env: dict, spec: Path, edited: dict[str, Path], baseline: str | None) -> None:
    """`plan --against-db` of the unchanged and the edited files (and `status` of those):
    wall s and peak MB, with this dhflow and (``baseline``) another checkout, alternated,
    on the same database; whether both printed the same bytes."""
    versions = [("this", env)]
    if baseline:
        versions.insert(0, ("baseline", dict(env, PYTHONPATH=str(Path(baseline).resolve()))))
    print(f"{'plan --against-db':<48}  " + "  ".join(f"{v + ' s':>12}  {v + ' MB':>12}" for v, _ in versions))
    runs = [("unchanged file, table", ["plan", str(spec), "--against-db"]),
            ("unchanged file, --format json", ["plan", str(spec), "--against-db", "--format", "json"])]
    for what, path in edited.items():
        runs += [(f"{what}, table", ["plan", str(path), "--against-db"]),
                 (f"{what}, --format json", ["plan", str(path), "--against-db", "--format", "json"]),
                 (f"status of the {what}", ["status", str(path)])]
    for label, argv in runs:
        cells = []
        outputs = set()
        for _, venv in versions:
            out = tempfile.TemporaryFile()
            # run outside any checkout: `python -m` would import the dhflow of the working
            # directory before PYTHONPATH's, and both columns would measure the same code
            wall, mb, err, code = run_measured(py + argv, venv, stdout=out, cwd=spec.parent)
            assert code == 0, err
            out.seek(0)
            outputs.add(hashlib.sha256(out.read()).hexdigest())
            cells.append(f"{wall:>12.2f}  {mb:>12.0f}")
        same = "" if len(outputs) == 1 else "  (outputs differ)"
        print(f"{label:<48}  " + "  ".join(cells) + same, flush=True)


#: the edits measured: a comment (same tasks, another input digest), an environment value
#: (every `train` key changes: a million new tasks and orphans), ten more samples (a few new)
EDITS = {
    "comment": ("edited file (compiled)", lambda text, size: text + "# edited\n"),
    "env": ("env edited (every key)", lambda text, size: text.replace('KERAS_BACKEND: "tensorflow"',
                                                                        'KERAS_BACKEND: "jax"')),
    "count": ("count +10 (a few new)", lambda text, size: text.replace(f"random(count={size},",
                                                                       f"random(count={size + 10},")),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory (the DB stopped)")
    ap.add_argument("--baseline", metavar="DIR", help="another dhflow checkout to run `plan --against-db` with too")
    ap.add_argument("--against-db-only", action="store_true", help="only the `plan --against-db` figures")
    ap.add_argument("--edits", default="comment", help="edits measured by `plan --against-db`, comma-separated, "
                                                       f"of {', '.join(EDITS)} (default: comment)")
    args = ap.parse_args()

    root, home, env, db, saved_home = throwaway_db("dhflow-read-")
    py = [sys.executable, "-m", "dhflow"]
    try:
        db.ensure_started(quiet=True)
        os.environ["HOME"] = saved_home or ""
        wf = f"bench_{args.size}"
        spec = root / f"{wf}.dhflow"
        spec.write_text(SPEC.format(count=args.size))
        wall, mb, err, code = run_measured(py + ["submit", str(spec), "--no-launch"], env)
        assert code == 0, err
        print(f"# {args.size + 2} jobs of workflow {wf} submitted in {wall:.1f} s (peak {mb:.0f} MB); "
              f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
        conn = DB(db.path)
        conn.vacuum()  # what autovacuum does after a bulk load (visibility map: index-only scans)
        conn.conn.close()
        edited = root / f"{wf}_edited.dhflow"  # same workflow and tasks, another input digest
        edited.write_text(spec.read_text() + "# edited\n")
        variants = {}
        for name in args.edits.split(","):
            label, edit = EDITS[name]
            variants[label] = root / f"{wf}_{name}.dhflow"
            variants[label].write_text(edit(spec.read_text(), args.size))
            assert variants[label].read_text() != spec.read_text(), name
        against_db_figures(py, env, spec, variants, args.baseline)
        if args.against_db_only:
            return
        print(f"{'command':<44}  {'wall s':>7}  {'peak MB':>7}")
        commands = [
            ("status (unchanged file)", ["status", str(spec)]),
            ("status --format json (unchanged file)", ["status", str(spec), "--format", "json"]),
            ("results --format json", ["results", str(spec), "--format", "json"]),
            ("history", ["history", str(spec)]),
            ("plan --against-db --format json", ["plan", str(spec), "--against-db", "--format", "json"]),
        ]
        for label, argv in commands:
            wall, mb, err, code = run_measured(py + argv, env)
            assert code == 0, err
            print(f"{label:<44}  {wall:>7.2f}  {mb:>7.0f}")
        wall, mb, err, code = run_measured(py + ["status", str(edited)], env)
        assert code == 0, err
        print(f"{'status (edited file: compiled, matched by key)':<44}  {wall:>7.2f}  {mb:>7.0f}")
        out = tempfile.TemporaryFile()
        wall, mb, err, code = run_measured([sys.executable, "-c", POLL, str(spec), wf], env, stdout=out)
        assert code == 0, err
        out.seek(0)
        import json
        fig = json.loads(out.read().decode().strip().splitlines()[-1])
        print(f"# progress poll of `dhflow run`, per tick: {fig['tick'] * 1000:.1f} ms (per-state totals); "
              f"per-rule breakdown when they change: {fig['detail'] * 1000:.0f} ms (at most "
              f"{int(100 * 0.1)}% of the time); first snapshot {fig['first'] * 1000:.0f} ms; "
              f"former per-job-id query: {fig['per_id'] * 1000:.0f} ms")
        print(f"# with the `train` jobs runnable: poll tick {fig['tick_runnable'] * 1000:.1f} ms; Balsam's launcher "
              f"counting and fetching the runnable jobs {fig['balsam_launch_runnable'] * 1000:.0f} ms")
        print(f"# Balsam's own launcher, per tick: runnable jobs counted and fetched {fig['balsam_launch'] * 1000:.0f} ms"
              f"; transitionable counted (idle-exit check) {fig['balsam_exit_check'] * 1000:.0f} ms; "
              f"transitionable fetched (transition processes) {fig['balsam_transitions'] * 1000:.0f} ms")
    finally:
        os.environ["HOME"] = str(home)
        try:
            if args.keep:
                db.stop()
            else:
                db.destroy()
        finally:
            if saved_home is not None:
                os.environ["HOME"] = saved_home
            if not args.keep:
                shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
