"""How long `dhflow run` waits: start-up, per-DAG-level overhead and no-op task throughput,
beside the same jobs run by the stock `balsam launcher`, in one run.

Three workflows of no-op tasks (`shell: "true"`) in one project, on its project-local
Balsam DB (`dhflow db start`, timed separately: the figures are "once the DB is up"):

* one:   a single task;
* chain: LEVELS tasks, each after the previous one (default 10);
* fan:   COUNT independent tasks of one rule (default 200).

For each workflow, first `python -m dhflow run FILE` (compile, write the jobs, run dhflow's
launcher wrapper, exit when every job is final), then the same jobs reset
(`dhflow submit FILE --rerun all --no-launch`) and run by Balsam's own, unpatched
`balsam launcher --wf-filter NAME --job-mode serial` (stopped once every job is final, as
dhflow does: its 120 s idle linger is not counted).  The figures come from the jobs' own
Balsam state history (timestamps written by Balsam):

* start-up: from the command's start to the first task RUNNING (for the stock launcher the
  jobs are already written: its start-up excludes dhflow's compile and write);
* per level: chain only, (RUNNING of the last level - RUNNING of the first) / (LEVELS - 1);
* tasks/s: fan only, COUNT / (last JOB_FINISHED - first RUNNING);
* wall: the command's start to its exit (dhflow) or to every job being final (stock).

Serial launchers share one ZMQ port per host, so every run holds (or waits for) dhflow's
host-wide serial-launcher lock.  On a shared machine a `dhflow run` may have to wait for
another launcher: that wait is measured from dhflow's own messages and left out of its
figures (the total is printed beside them).

    python benchmarks/run_latency.py [--levels 10] [--count 200] [--repeat 1] [--no-stock]

Goals (issue 10): start-up < 2 s, per-level overhead < 1 s, 200 no-op tasks < 20 s (2 cores).
With --repeat N the dhflow figures are the median of N runs (stock: one run).
"""
from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

FINAL = ("JOB_FINISHED", "FAILED", "USER_KILLED")
HISTORY = re.compile(r"\[(\d\d-\d\d-\d{4} \d\d:\d\d:\d\d\.\d+) (\w+)\s*\]")


# ------------------------------------------------------------------ specs
def spec_one() -> str:
    return 'workflow lat_one:\n    objective: maximize\n\nrule only:\n    shell: "true"\n'


def spec_chain(levels: int) -> str:
    parts = ["workflow lat_chain:\n    objective: maximize\n"]
    for i in range(levels):
        after = f"    after: l{i - 1:02d}\n" if i else ""
        parts.append(f'rule l{i:02d}:\n{after}    shell: "true"\n')
    return "\n".join(parts)


def spec_fan(count: int) -> str:
    return (f"workflow lat_fan:\n    objective: maximize\n\nspace:\n    i: int(0, {count - 1})\n\n"
            f"sample: grid(levels={count})\n\nrule fan:\n    foreach: space\n    shell: \"true\"\n")


# --------------------------------------------------------------- database
class Jobs:
    """Reads a workflow's Balsam state histories (psycopg2, independent of dhflow)."""

    def __init__(self, db_path: Path):
        import psycopg2

        info = json.loads((db_path / "server-info").read_text())
        self.conn = psycopg2.connect(host=info["host"], port=info["port"], dbname="balsam",
                                     user=os.environ.get("BALSAM_USER") or getpass.getuser(),
                                     password=info.get("password"))
        self.conn.autocommit = True

    def states(self, wf: str) -> list[str]:
        with self.conn.cursor() as cur:
            cur.execute("SELECT state FROM core_balsamjob WHERE workflow = %s", [wf])
            return [r[0] for r in cur.fetchall()]

    def events(self, wf: str, since: float) -> dict[str, list[tuple[float, str]]]:
        """name -> [(epoch seconds, state)] of the transitions recorded after ``since``."""
        with self.conn.cursor() as cur:
            cur.execute("SELECT name, state_history FROM core_balsamjob WHERE workflow = %s", [wf])
            rows = cur.fetchall()
        out = {}
        for name, history in rows:
            evs = []
            for stamp, state in HISTORY.findall(history):
                t = datetime.strptime(stamp, "%m-%d-%Y %H:%M:%S.%f").replace(tzinfo=timezone.utc).timestamp()
                if t >= since - 0.05:
                    evs.append((t, state))
            out[name] = evs
        return out


def figures(events: dict, t0: float, kind: str, wall: float) -> dict:
    def first(name, state):
        return min((t for t, s in events[name] if s == state), default=None)

    running = [first(n, "RUNNING") for n in events]
    finished = [first(n, "JOB_FINISHED") for n in events]
    if None in running or None in finished:
        raise SystemExit(f"benchmark: some {kind} jobs did not run and finish: "
                         + ", ".join(sorted(n for n in events if first(n, "JOB_FINISHED") is None)))
    fig = {"wall": wall, "startup": min(running) - t0}
    if kind == "chain":
        levels = sorted(events)
        starts = [first(n, "RUNNING") for n in levels]
        fig["per_level"] = (starts[-1] - starts[0]) / max(1, len(levels) - 1)
        # where a level's time goes: mean latency of each hop of Balsam's state machine
        hops = {"parent JOB_FINISHED -> PREPROCESSED": [
                    first(child, "PREPROCESSED") - first(parent, "JOB_FINISHED")
                    for parent, child in zip(levels, levels[1:])],
                "PREPROCESSED -> RUNNING": [first(n, "RUNNING") - first(n, "PREPROCESSED") for n in levels],
                "RUNNING -> RUN_DONE": [first(n, "RUN_DONE") - first(n, "RUNNING") for n in levels],
                "RUN_DONE -> JOB_FINISHED": [first(n, "JOB_FINISHED") - first(n, "RUN_DONE") for n in levels]}
        fig["hops"] = {hop: statistics.mean(v) for hop, v in hops.items() if None not in v and v}
    if kind == "fan":
        fig["tasks_per_s"] = len(events) / max(1e-9, max(finished) - min(running))
    return fig


# ---------------------------------------------------------------- runners
def dhflow(args, env, cwd, check=True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "dhflow", *map(str, args)], env=env, cwd=cwd,
                          capture_output=True, text=True)
    if check and proc.returncode != 0:
        raise SystemExit(f"benchmark: dhflow {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stderr}")
    return proc


def run_dhflow(spec: Path, wf: str, kind: str, env, jobs: Jobs, rerun: bool) -> dict:
    """One `dhflow run` (the jobs reset first when ``rerun``).  Time spent waiting for
    another serial launcher on the host (between dhflow's "waiting for another serial-mode
    launcher" and "... is done: starting" lines, timed as they arrive) is left out."""
    import threading

    t0 = time.time()
    proc = subprocess.Popen([sys.executable, "-m", "dhflow", "run", str(spec)] + (["--rerun", "all"] if rerun else []),
                            env=env, cwd=spec.parent, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    lines: list[tuple[float, str]] = []

    def read():
        for line in proc.stderr:
            lines.append((time.time(), line))

    reader = threading.Thread(target=read)
    reader.start()
    proc.wait()
    wall = time.time() - t0
    reader.join()
    if proc.returncode != 0:
        raise SystemExit(f"benchmark: dhflow run {spec} failed ({proc.returncode}):\n"
                         + "".join(line for _, line in lines))
    waiting = next((t for t, line in lines if "waiting for another serial-mode launcher" in line), None)
    started = next((t for t, line in lines if "serial-mode launcher is done: starting" in line), None)
    waited = started - waiting if waiting is not None and started is not None else 0.0
    fig = figures(jobs.events(wf, t0), t0, kind, wall)
    fig["startup"] -= waited
    fig["wall"] -= waited
    fig["waited"] = waited
    return fig


def run_stock(spec: Path, wf: str, kind: str, env, jobs: Jobs, db_path: Path, timeout: float) -> dict:
    """The same jobs, reset, run by Balsam's own `balsam launcher` (no dhflow code in it)."""
    from dhflow.balsam import launcher as launch
    from dhflow.balsam import env as envmod

    dhflow(["submit", spec, "--rerun", "all", "--no-launch"], env, spec.parent)
    extra_path, extra_env = launch.launcher_path_dirs(str(db_path))
    stock_env = dict(env)
    stock_env.update(extra_env)
    stock_env.update({"BALSAM_DB_PATH": str(db_path),
                      "HOME": str(envmod.ensure_profile(db_path, "local")),
                      "PATH": os.pathsep.join(extra_path + [env.get("PATH", "")])})
    stock_env.pop("PYTHONPATH", None)
    balsam = shutil.which("balsam", path=os.path.dirname(sys.executable)) or shutil.which("balsam")
    if balsam is None:
        raise SystemExit("benchmark: the `balsam` command (balsam-flow) is not installed")
    lock = launch.acquire_serial_lock()
    log = open(db_path / "log" / f"stock-launcher-{wf}.out", "ab")
    try:
        t0 = time.time()
        proc = subprocess.Popen([balsam, "launcher", "--wf-filter", wf, "--job-mode", "serial"],
                                env=stock_env, cwd=db_path, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            while True:
                states = jobs.states(wf)
                if states and all(s in FINAL for s in states):
                    wall = time.time() - t0
                    break
                if proc.poll() is not None:
                    raise SystemExit(f"benchmark: the stock launcher exited ({proc.returncode}); "
                                     f"see {log.name}")
                if time.time() - t0 > timeout:
                    raise SystemExit(f"benchmark: the stock launcher did not finish {wf} in {timeout:.0f} s")
                time.sleep(0.1)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError):  # stragglers of its session
                os.killpg(proc.pid, signal.SIGKILL)
    finally:
        log.close()
        os.close(lock)
    return figures(jobs.events(wf, t0), t0, kind, wall)


# ------------------------------------------------------------------ report
def fmt(value, unit, width=9):
    return f"{value:{width - len(unit)}.2f}{unit}" if value is not None else " " * (width - 1) + "-"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--levels", type=int, default=10)
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=1, help="dhflow runs per workflow (median)")
    ap.add_argument("--no-stock", action="store_true", help="skip the stock balsam launcher runs")
    ap.add_argument("--stock-timeout", type=float, default=900)
    ap.add_argument("--keep", action="store_true", help="keep the temporary project and DB")
    args = ap.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="dhflow-run-latency-", dir="/tmp" if os.path.isdir("/tmp") else None))
    os.chmod(root, 0o755)  # the postgres user (when run as root) must reach the DB directory
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("BALSAM_DB_PATH", None)
    env.pop("DHFLOW_LAUNCHER_FAST", None)
    specs = {"one": ("lat_one", spec_one()), "chain": ("lat_chain", spec_chain(args.levels)),
             "fan": ("lat_fan", spec_fan(args.count))}
    paths = {}
    for kind, (wf, text) in specs.items():
        paths[kind] = root / f"{wf}.dhflow"
        paths[kind].write_text(text)
    db_path = root / ".dhflow" / "db"
    try:
        t = time.time()
        dhflow(["db", "start", paths["one"]], env, root)
        db_start = time.time() - t
        jobs = Jobs(db_path)
        from dhflow.balsam.env import real_mpirun_kind

        mpi = real_mpirun_kind() or "none (dhflow's mpirun stand-in)"
        print(f"cores: {os.cpu_count()}, mpirun: {mpi}, DB start: {db_start:.2f} s "
              f"(not counted below), levels: {args.levels}, fan-out: {args.count}", flush=True)
        results = {}
        for kind, (wf, _) in specs.items():
            runs = [run_dhflow(paths[kind], wf, kind, env, jobs, rerun=i > 0) for i in range(args.repeat)]
            merged = {k: statistics.median(r[k] for r in runs) for k in runs[0] if k not in ("waited", "hops")}
            if "hops" in runs[0]:
                merged["hops"] = {h: statistics.median(r["hops"][h] for r in runs) for h in runs[0]["hops"]}
            merged["waited"] = sum(r["waited"] for r in runs)
            results[("dhflow run", kind)] = merged
            print(f"  dhflow run   {kind:5} done: {merged['wall']:.2f} s", flush=True)
            if not args.no_stock:
                results[("stock", kind)] = run_stock(paths[kind], wf, kind, env, jobs, db_path, args.stock_timeout)
                print(f"  stock        {kind:5} done: {results[('stock', kind)]['wall']:.2f} s", flush=True)
        print()
        print(f"{'':28}{'start-up':>10}{'per level':>11}{'tasks/s':>10}{'wall':>10}")
        rows = [("one", "1 task"), ("chain", f"{args.levels}-level chain"), ("fan", f"{args.count}-task fan-out")]
        for runner in ("dhflow run", "stock"):
            for kind, label in rows:
                fig = results.get((runner, kind))
                if fig is None:
                    continue
                note = f"  ({fig['waited']:.1f} s waiting for the host lock left out)" if fig.get("waited") else ""
                tps = f"{fig['tasks_per_s']:10.1f}" if "tasks_per_s" in fig else f"{'-':>10}"
                print(f"{runner + ' ' + label:28}{fmt(fig['startup'], ' s', 10)}"
                      f"{fmt(fig.get('per_level'), ' s', 11)}{tps}{fmt(fig['wall'], ' s', 10)}{note}")
        print()
        print(f"where a chain level's time goes (mean per hop, from Balsam's state history):")
        for hop in results[("dhflow run", "chain")]["hops"]:
            stock = results.get(("stock", "chain"), {}).get("hops", {}).get(hop)
            print(f"  {hop:38} dhflow run {results[('dhflow run', 'chain')]['hops'][hop]:6.2f} s"
                  + (f"   stock {stock:6.2f} s" if stock is not None else ""))
        fast = {k: results[("dhflow run", k)] for k, _ in rows}
        print()
        print("goals: start-up < 2 s: {}; per level < 1 s: {}; {} tasks < 20 s: {}".format(
            "met" if fast["one"]["startup"] < 2 else "NOT met",
            "met" if fast["chain"]["per_level"] < 1 else "NOT met",
            args.count, "met" if fast["fan"]["wall"] < 20 else "NOT met"))
        return 0
    finally:
        dhflow(["db", "stop", paths["one"]], env, root, check=False)
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
