"""Rendering the runtime's result objects as text (tables, JSON, notes)."""
from __future__ import annotations

import json
import sys
from json.encoder import encode_basestring_ascii as _jstr

from dhflow.cli.errors import note
from dhflow.errors import EXIT_OK, EXIT_RUNTIME


def report_write(written) -> None:
    """One summary line; the per-rule reconciliation table too when anything but 'new' or
    'unchanged' happened or when existing jobs were edited away (the reasons matter then)."""
    rec = written.reconciliation
    if rec is not None and (written.rerun or written.orphaned or written.pruned
                            or (written.created and written.kept)):
        for line in rec.render().rstrip("\n").splitlines():
            note(line)
    note(written.summary())


def note_substring_workflows(workflow: str, others: list[str]) -> None:
    """Warn that Balsam's own substring filters would mix other workflows with this one."""
    if others:
        shown = ", ".join(others[:5]) + (" ..." if len(others) > 5 else "")
        note(f"note: Balsam's own `--wf {workflow}` filters also match {shown} (substring match); "
             "dhflow's commands and launcher select workflow names exactly")


def launch_report(report, workflow: str) -> None:
    """How the launcher was started (stdout)."""
    if report is None:
        return
    if report.scheduler == "local":
        print(f"launcher started in the background (pid {report.pid}, {report.job_mode} mode); log: {report.log}")
    else:
        print(f"submitted {report.scheduler} job {report.scheduler_id} for workflow {workflow} "
              f"({report.nodes} nodes, {report.wall_time} min, {report.job_mode} mode); script: {report.script}")


def reconciliation_json(rec) -> str:
    """The reconciliation as JSON: per-rule counts, reasons, and every task that changes."""
    return "".join(reconciliation_json_chunks(rec))


def reconciliation_json_chunks(rec):
    """:func:`reconciliation_json` a piece at a time (the tasks one by one, as the
    reconciliation gives them: one matched in the database reads them as they go): the
    same text as ``json.dumps`` of the whole object with ``indent=2``."""
    head = json.dumps({"workflow": rec.workflow, "rules": rec.counts(), "reasons": rec.reason_counts()}, indent=2)
    yield head[:-2] + ',\n  "tasks": ['  # (head ends with "\n}")
    changed = getattr(rec, "changed", None)
    decisions = changed() if changed is not None else (d for d in rec.decisions if d.status != "unchanged")
    first = True
    for d in decisions:
        yield ("\n    " if first else ",\n    ") + _task_json(d)
        first = False
    yield "]\n}" if first else "\n  ]\n}"


def _j(value) -> str:
    return _jstr(value) if isinstance(value, str) else json.dumps(value)


def _task_json(d) -> str:
    """One listed decision as ``json.dumps(..., indent=2)`` writes it at depth 2, built
    directly (a million of them: the generic encoder's set-up per call is most of its cost)."""
    reasons = ("[\n        " + ",\n        ".join(map(_j, d.reasons)) + "\n      ]") if d.reasons else "[]"
    return (f'{{\n      "name": {_j(d.name)},\n      "rule": {_j(d.rule)},\n      "status": {_j(d.status)},\n'
            f'      "reasons": {reasons},\n      "job_id": {_j(d.job_id)}\n    }}')


def dry_run(dry, plan: dict, *, prune: bool, no_launch: bool) -> None:
    """``submit --dry-run``: what would change, the rows that would be written, the launcher."""
    print("# dry run: nothing written, nothing submitted")
    print(f"# database: {dry.path}")
    print(f"# {len(dry.apps)} applications (created or updated to match):")
    for app in dry.apps:
        print(f"#   {app['name']}: {app['executable']}")
    rec = dry.reconciliation
    if rec is None:
        print(f"# database not reachable ({dry.why_unread}): showing every task as new")
    else:
        print("# " + rec.render().rstrip("\n").replace("\n", "\n# "))
        if prune and rec.of("orphaned"):
            print(f"# --prune: the {len(rec.of('orphaned'))} orphaned jobs would be deleted")
        elif rec.of("orphaned"):
            print(f"# the {len(rec.of('orphaned'))} orphaned jobs would stay (--prune deletes them)")
    print(f"# {len(dry.rows)} new jobs of workflow {plan['workflow']} would be written:")
    for row in dry.rows:
        parents = json.loads(row["parents"])
        print(f"#   {row['name']}: app={row['application']} nodes={row['num_nodes']} "
              f"ranks_per_node={row['ranks_per_node']} threads_per_rank={row['threads_per_rank']} "
              f"wall_time={row['wall_time_minutes']} parents={len(parents)}"
              + (f" env={row['environ_vars']}" if row["environ_vars"] else ""))
    if no_launch:
        print("# --no-launch: no launcher would be submitted")
    elif dry.opts.scheduler == "local":
        print("# launcher that would start in the background on this machine:")
        print(dry.script)
    else:
        if dry.refused:
            print(f"# warning: a real submit would be refused: {dry.refused}")
        print(f"# batch script for {dry.opts.scheduler}:")
        sys.stdout.write(dry.script)


def history_table(workflow: str, path: str, rows: list[dict]) -> None:
    """The submissions of a workflow, newest first, as an aligned table."""
    if not rows:
        print(f"workflow {workflow} has no recorded submissions in {path}")
        return
    header = ["#", "submitted (UTC)", "command", "commit", "dirty", "added", "kept", "rerun", "pruned",
              "orphaned", "spec sha256"]
    table = [header]
    for r in rows:
        table.append([str(r["id"]), (r["submitted_at"] or "")[:19].replace("T", " "),
                      (r["command"] + (" " + r["options"] if r["options"] else "")),
                      (r["git_commit"] or "-")[:10],
                      "-" if r["git_dirty"] is None else ("yes" if r["git_dirty"] else "no"),
                      str(r["added"]), str(r["kept"]), str(r["rerun"]), str(r["pruned"]), str(r["orphaned"]),
                      (r["spec_sha256"] or "-")[:12]])
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print(f"workflow {workflow}: {len(rows)} submission{'s' if len(rows) != 1 else ''}, newest first "
          f"(database {path})")
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())


def db_state(verb: str, state) -> int:
    """``dhflow db VERB``: print the database's state; the exit code."""
    path = state.path
    if verb == "start":
        st = state.status
        print(f"Balsam DB {'created and ' if state.created else ''}running on {st.host}:{st.port}")
        if state.listen:
            print(f"served on {state.listen} (password required; it is in {path}/server-info)")
        print(f"export BALSAM_DB_PATH={path}")
        return EXIT_OK
    if verb == "stop":
        print(f"stopped the Balsam DB in {path}" if state.stopped else f"the Balsam DB in {path} is not running")
        return EXIT_OK
    if not state.managed:
        info = state.server_info or {}
        print(f"Balsam DB (not managed by dhflow): {path}")
        print(f"server-info: {info.get('host') or '-'}:{info.get('port') or '-'}")
        return EXIT_OK
    st = state.status
    print(f"Balsam DB: {path}")
    print(f"state: {st.message}")
    print("served to compute nodes: " + (f"on {state.listen}" if state.listen else
                                         "no (127.0.0.1 only; `dhflow db start --listen ADDRESS`)"))
    if state.stops:
        known = {"kept": "no (started with `dhflow db start`, or served with --listen)",
                 "idle (no watcher)": "when the next command that uses it has started its watcher"}
        # (the default only for `idle N s`: evaluated eagerly, it failed on the others)
        print("stops by itself: " + (known.get(state.stops) or f"after {state.stops.split()[1]} s without a client"))
    if st.exists:
        print(f"data directory: {state.pgdata}")
    if st.reachable:
        print(f"export BALSAM_DB_PATH={path}")
    return EXIT_OK if st.exists else EXIT_RUNTIME


def db_servers(servers: list, fmt: str) -> int:
    """``dhflow db list``: this user's project-local servers on this host; the exit code."""
    import json
    import time

    def since(t: float) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(t))

    if fmt == "json":
        print(json.dumps([{"directory": s.path, "port": s.port, "since": since(s.since), "since_epoch": s.since,
                           "clients": s.clients, "stops": s.stops} for s in servers], indent=1))
        return EXIT_OK
    if not servers:
        print("no project-local Balsam DB server of yours is running on this host")
        return EXIT_OK
    table = [["DIRECTORY", "PORT", "SINCE", "CLIENTS", "STOPS"]]
    table += [[s.path, str(s.port), since(s.since), str(s.clients) if isinstance(s.clients, int) else "?",
               s.stops] for s in servers]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    return EXIT_OK
