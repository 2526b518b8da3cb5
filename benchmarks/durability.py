"""What the crash-safe database costs: dhflow on the durable server beside the old setting.

One throwaway project-local PostgreSQL (dhflow.balsam.localdb) in a temporary directory on
the same disk as the real ones, switched between settings with ALTER SYSTEM and a reload
(all three are reloadable; each is read back with SHOW before it is measured):

* old:     fsync = off, full_page_writes = off, synchronous_commit = off (what dhflow set
           before: an OS crash or a power loss could corrupt the database);
* durable: PostgreSQL's defaults, everything on (what dhflow ships);
* durable, async commit: fsync and full_page_writes on, synchronous_commit = off (an OS
           crash may lose the last ~0.6 s of commits, never corrupts): the comparison.

For each setting, in turns (setting A, B, C, then A, B, C again: --repeat), after a
CHECKPOINT so that no setting pays for another's dirty pages:

* submit:   `python -m dhflow submit FILE --no-launch` of the 100k-task sweep of
            benchmarks/submit_scale.py (the workflow deleted and vacuumed before);
* resubmit: the unchanged file submitted again (0 rows written);
* status:   `python -m dhflow status FILE` of the unchanged file;
* run:      `python -m dhflow run FILE` of a new 1-task workflow (`shell: "true"`), wall
            time of the command and its start-up (command start to the task RUNNING), the
            wait for another serial launcher on the host left out (benchmarks/run_latency.py);
* fan:      `python -m dhflow run FILE` of a new workflow of --fan independent no-op tasks
            (default 100): Balsam's launcher commits each job's state changes one at a time;
* commits of each command: the `balsam` database's committed transactions during it
            (pg_stat_database.xact_commit), what a synchronous commit pays a WAL flush for;
* commits/s: 1,000 one-row UPDATE transactions over one connection (what Balsam's launcher
            does for each state change of a job), per second.

    python benchmarks/durability.py [--size 100000] [--fan 100] [--repeat 3]

Each figure is the median of --repeat runs.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run_latency import Jobs, run_dhflow  # noqa: E402
from submit_scale import DB, SPEC, run_measured, throwaway_db  # noqa: E402

SETTINGS = {
    "old (fsync off)": {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"},
    "durable": {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "on"},
    "durable, async commit": {"fsync": "on", "full_page_writes": "on", "synchronous_commit": "off"},
}


class Conn(DB):
    """submit_scale's connection, which can reconnect (to read settings in a new session)."""

    def __init__(self, path: Path):
        self.path = path
        super().__init__(path)

    def reconnect(self) -> None:
        self.conn.close()
        super().__init__(self.path)


def configure(conn: Conn, values: dict) -> None:
    """ALTER SYSTEM + reload, then read every value back with SHOW (a new session)."""
    conn.conn.autocommit = True
    with conn.conn.cursor() as cur:
        for name, value in values.items():
            cur.execute(f"ALTER SYSTEM SET {name} = {value}")
        cur.execute("SELECT pg_reload_conf()")
    time.sleep(0.5)   # the postmaster re-reads the files asynchronously
    conn.reconnect()
    shown = {name: conn.q(f"SHOW {name}")[0][0] for name in values}
    if shown != values:
        raise SystemExit(f"benchmark: the server did not take {values}: SHOW says {shown}")


def checkpoint(conn: Conn) -> None:
    conn.conn.autocommit = True
    with conn.conn.cursor() as cur:
        cur.execute("CHECKPOINT")
    conn.conn.autocommit = False


def commits_per_s(conn: Conn, n: int = 1000) -> float:
    conn.q("CREATE TABLE IF NOT EXISTS bench_commit (id int PRIMARY KEY, n int)")
    conn.q("INSERT INTO bench_commit VALUES (1, 0) ON CONFLICT DO NOTHING")
    t0 = time.perf_counter()
    for _ in range(n):
        conn.q("UPDATE bench_commit SET n = n + 1 WHERE id = 1")
    return n / (time.perf_counter() - t0)


def committed(conn: Conn) -> int:
    """Transactions committed in the `balsam` database so far (the statistics of backends
    that exited are flushed by then: a second's wait)."""
    time.sleep(1.2)
    return conn.q("SELECT pg_stat_clear_snapshot(); "
                  "SELECT xact_commit FROM pg_stat_database WHERE datname = 'balsam'")[0][0]


def one_task_spec(name: str) -> str:
    return f'workflow {name}:\n    objective: maximize\n\nrule only:\n    shell: "true"\n'


def fan_spec(name: str, count: int) -> str:
    return (f"workflow {name}:\n    objective: maximize\n\nspace:\n    i: int(0, {count - 1})\n\n"
            f"sample: grid(levels={count})\n\nrule fan:\n    foreach: space\n    shell: \"true\"\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=100_000)
    ap.add_argument("--fan", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    root, home, env, db, saved_home = throwaway_db("dhflow-bench-")
    try:
        db.ensure_started(quiet=True, keep=True)
        os.environ["HOME"] = saved_home or ""
        conn = Conn(db.path)
        jobs = Jobs(db.path)
        wf = f"bench_{args.size}"
        spec = root / f"{wf}.dhflow"
        spec.write_text(SPEC.format(count=args.size))
        submit = [sys.executable, "-m", "dhflow", "submit", str(spec), "--no-launch"]
        print(f"# throwaway PostgreSQL in {db.path}; python {sys.version.split()[0]}, {os.cpu_count()} cpus; "
              f"median of {args.repeat}; {args.size + 2} tasks")
        results: dict[str, dict[str, list[float]]] = {name: {} for name in SETTINGS}
        for i in range(args.repeat):
            for name, values in SETTINGS.items():
                configure(conn, values)
                fig = results[name]
                conn.clear(wf)
                checkpoint(conn)
                before = committed(conn)
                wall, _, err, code = run_measured(submit, env)
                assert code == 0, err
                fig.setdefault("submit commits", []).append(committed(conn) - before)
                m = re.search(r"(\d+) new jobs? written", err)
                assert m and int(m.group(1)) == args.size + 2, err
                fig.setdefault("submit", []).append(wall)
                wall, _, err, code = run_measured(submit, env)
                assert code == 0 and "0 new jobs written" in err, err
                fig.setdefault("resubmit", []).append(wall)
                wall, _, err, code = run_measured([sys.executable, "-m", "dhflow", "status", str(spec)], env)
                assert code == 0, err
                fig.setdefault("status", []).append(wall)
                checkpoint(conn)
                one = f"dur_one_{i}_{list(SETTINGS).index(name)}"
                one_spec = root / f"{one}.dhflow"
                one_spec.write_text(one_task_spec(one))
                before = committed(conn)
                run = run_dhflow(one_spec, one, "one", env, jobs, rerun=False)
                fig.setdefault("run commits", []).append(committed(conn) - before)
                fig.setdefault("run", []).append(run["wall"])
                fig.setdefault("run start-up", []).append(run["startup"])
                fan = f"dur_fan_{i}_{list(SETTINGS).index(name)}"
                fan_path = root / f"{fan}.dhflow"
                fan_path.write_text(fan_spec(fan, args.fan))
                before = committed(conn)
                fig.setdefault(f"run {args.fan}", []).append(run_dhflow(fan_path, fan, "fan", env, jobs, rerun=False)["wall"])
                fig.setdefault(f"run {args.fan} commits", []).append(committed(conn) - before)
                fig.setdefault("commits/s", []).append(commits_per_s(conn))
        conn.clear(wf)
        columns = ["submit", "resubmit", "status", "run", "run start-up", f"run {args.fan}", "commits/s"]
        counts = ["submit commits", "run commits", f"run {args.fan} commits"]

        def digits(c: str) -> int:
            return 0 if "commits" in c else 2

        print(f"{'setting':<22}" + "".join(f"{c + ('' if 'commits' in c else ' s'):>15}" for c in columns))
        for name, fig in results.items():
            print(f"{name:<22}" + "".join(f"{statistics.median(fig[c]):>15.{digits(c)}f}" for c in columns))
        for name, fig in results.items():
            print(f"# {name}: every run: " + "; ".join(
                f"{c} " + ", ".join(f"{v:.{digits(c)}f}" for v in fig[c]) for c in columns + counts))
        conn.conn.close()
        jobs.conn.close()
    finally:
        os.environ["HOME"] = str(home)
        try:
            db.destroy()
        finally:
            if saved_home is not None:
                os.environ["HOME"] = saved_home
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
