"""Objectives of finished tasks, read from where the plan says they are.

Sources (``task["objective"]`` in the plan):

* ``{"source": "stdout", "marker": M}``: the last line of ``<workdir>/<task name>.out``
  (Balsam's captured standard output) that starts with M (with several ranks: rank 0's
  last, see :mod:`dhflow.results.marked_lines`); the number after M and an optional ``:``;
* ``{"source": "data", "key": K}``: the job's ``data[K]`` (written by the app through
  ``balsam.launcher.dag.current_job``);
* ``{"source": "file", "path": P, "key": K}``: key K of the JSON object in
  ``<workdir>/P`` (K may be a dotted path into nested objects when no top-level key
  has that exact name).

A value that cannot be read is never turned into a number: the record gets
``objective: null`` and an ``error`` that says why (job not finished, job failed and how,
file missing, marker absent, value not a finite number, ...).

This module is pure: it works on :class:`dhflow.balsam.jobs.JobView`-like objects
(attributes ``state``, ``state_history``, ``data``, ``workdir``, ``name``) and files.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import shlex
import shutil
from datetime import datetime
from decimal import Decimal

from dhflow.results.marked_lines import last_marked_line
from dhflow.results.pareto import directions, record_ranks
from dhflow.errors import UsageError
from dhflow.target import BALSAM_TIME_FORMAT, FAILED_FINAL_STATES

STATE_LINE = re.compile(r"^\[(\d+-\d+-\d{4}\s+\d+:\d+:\d+\.\d+)\s+(\w+)\s*\]\s?(.*)$")
#: The longest integer objective kept exactly (Python refuses to convert longer digit strings
#: to int and back, and no ranking needs more): longer ones are refused with the reason.
MAX_INT_DIGITS = 4000
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?|inf|nan|infinity)", re.I | re.A)


def history(state_history: str) -> list[tuple[datetime | None, str, str]]:
    """Balsam's state_history text -> [(time, state, message)], messages may span lines."""
    entries: list[list] = []
    for raw in (state_history or "").split("\n"):
        m = STATE_LINE.match(raw.strip())
        if m:
            try:
                when = datetime.strptime(m.group(1), BALSAM_TIME_FORMAT)
            except ValueError:
                when = None
            entries.append([when, m.group(2), m.group(3).rstrip()])
        elif entries:
            entries[-1][2] = (entries[-1][2] + "\n" + raw).strip("\n")
    return [tuple(e) for e in entries]  # type: ignore[misc]


def runtime_seconds(state_history: str) -> float | None:
    """Seconds from the last RUNNING to the next RUN_DONE/RUN_ERROR/RUN_TIMEOUT."""
    start = end = None
    for when, state, _ in history(state_history):
        if state == "RUNNING":
            start, end = when, None
        elif state in ("RUN_DONE", "RUN_ERROR", "RUN_TIMEOUT") and start is not None:
            end = when
    if start and end:
        return round((end - start).total_seconds(), 3)
    return None


def _one_line(text: str, limit: int = 200) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    out = lines[-1] if lines else ""
    return out if len(out) <= limit else out[: limit - 3] + "..."


def failure_reason(job) -> str:
    """Why a job is not finished successfully, in one line."""
    entries = history(job.state_history)
    if job.state == "USER_KILLED":
        msg = next((m for _, s, m in reversed(entries) if s == "USER_KILLED"), "")
        return "killed by the user" + (f": {_one_line(msg)}" if msg.strip() else "")
    run_error = next(((s, m) for _, s, m in reversed(entries) if s in ("RUN_ERROR", "RUN_TIMEOUT")), None)
    failed = next((m for _, s, m in reversed(entries) if s == "FAILED"), "")
    if run_error is not None:
        state, msg = run_error
        if state == "RUN_TIMEOUT":
            return "timed out" + (f": {_one_line(msg)}" if msg.strip() else "")
        code = re.search(r"nonzero return (-?\d+)", msg)
        # Balsam's own message carries the output's tail through `tail`, which breaks on
        # paths with spaces: the program's last output line, read by dhflow, comes first.
        detail = _tail_of_output(job) or _one_line(re.sub(r"^nonzero return -?\d+:\s*", "", msg.strip()))
        # a program that does not exist is the reason, whatever the launcher made of it
        # (serial mode: code 12345; mpirun: "execvp error ... No such file or directory")
        missing = _missing_executable(job)
        if missing:
            return missing
        text = f"exited with code {code.group(1)}" if code else "run error"
        return text + (f": {detail}" if detail else "")
    if failed.strip():
        return _one_line(failed)
    return f"job {job.state.lower()}"


_ENVSCRIPT_WRAPPED = re.compile(r"""^/bin/sh -c '\. "\$0" && exec "\$@"' ('[^']*'|\S+) """)


def _missing_executable(job) -> str | None:
    """"executable not found: PATH" (or not executable) when the job's program cannot be
    started; None when it exists (the code then came from the program itself)."""
    command = _ENVSCRIPT_WRAPPED.sub("", (getattr(job, "executable", "") or "").strip())
    try:
        exe = shlex.split(command)[0] if command else ""
    except ValueError:
        exe = command.split()[0] if command.split() else ""
    if not exe:
        return None
    found = exe if os.sep in exe else shutil.which(exe)
    if not found or not os.path.exists(found):
        return f"executable not found: {exe}"
    if os.path.isdir(found) or not os.access(found, os.X_OK):
        return f"not an executable file: {exe}"
    return None


def _tail_of_output(job) -> str:
    path = os.path.join(job.workdir, f"{job.name}.out")
    try:
        with open(path, "rb") as fp:
            fp.seek(0, os.SEEK_END)
            size = fp.tell()
            fp.seek(max(0, size - 4096))
            text = fp.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return _one_line(text)


def _shown(text: str, limit: int = 60) -> str:
    """A value quoted for a reason line, shortened when long."""
    return repr(text) if len(text) <= limit else repr(text[:limit]) + f"... ({len(text)} characters)"


def _number(value, what: str) -> tuple[float | None, str | None]:
    if isinstance(value, bool) or value is None:
        return None, f"{what} is {json.dumps(value)}, not a number"
    if isinstance(value, (int, float)):
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"{what} is {value}, not a finite number"
        return value, None
    if isinstance(value, str):
        text = value.strip()
        # Plain ASCII numbers only (float() would also take `1_000` or other scripts' digits).
        if not _NUMBER.fullmatch(text):
            return None, f"{what} is {_shown(value)}, not a number"
        if re.fullmatch(r"[+-]?\d+", text):
            digits = len(text.lstrip("+-"))
            if digits > MAX_INT_DIGITS:
                return None, (f"{what} is an integer of {digits} digits, too large to rank "
                              f"(at most {MAX_INT_DIGITS})")
            return int(text), None  # exact
        number = float(text)
        if not math.isfinite(number):
            return None, f"{what} is {_shown(value)}, not a finite number"
        return number, None
    return None, f"{what} is a {type(value).__name__}, not a number"


def json_int(text: str):
    """``parse_int`` for ``json.loads``: an int, or the digits as text when there are too many
    to convert (:func:`_number` then refuses them with the reason instead of crashing)."""
    return int(text) if len(text) <= MAX_INT_DIGITS else text


def as_number(value, what: str) -> tuple[float | int | None, str | None]:
    """(number, None) or (None, why not): the rules every objective source follows."""
    return _number(value, what)


def read_stdout(job, marker: str) -> tuple[float | None, str | None]:
    """The number on the objective's marked line of the job's ``.out``: the last one, or, for a
    task of several ranks whose lines MPICH labelled, rank 0's last one (see marked_lines)."""
    path = os.path.join(job.workdir, f"{job.name}.out")
    try:
        # Line by line: a training log may be gigabytes; only the last marked lines are kept.
        with open(path, encoding="utf-8-sig", errors="replace", newline=None) as fp:
            rank, found = last_marked_line(fp, marker)
    except FileNotFoundError:
        return None, f"no output file {path}"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror}"
    if found is None:
        return None, f"no line starting with {marker!r} in {job.name}.out"
    rest = found[len(marker):].strip()
    if rest.startswith(":"):
        rest = rest[1:].strip()
    token = rest.split()[0] if rest.split() else ""
    whose = f" (rank {rank}'s line)" if rank is not None else ""
    if not token:
        return None, f"nothing after {marker!r} in {job.name}.out{whose}"
    return _number(token, f"the value after {marker!r}{whose}")


def read_data(job, key: str) -> tuple[float | None, str | None]:
    data = job.data or {}
    if key not in data:
        return None, f"job data has no key {key!r}"
    return _number(data[key], f"data[{key!r}]")


def read_file(job, relpath: str, key: str) -> tuple[float | None, str | None]:
    path = relpath if os.path.isabs(relpath) else os.path.join(job.workdir, relpath)
    try:
        with open(path, encoding="utf-8") as fp:
            content = json.load(fp, parse_int=json_int)
    except FileNotFoundError:
        return None, f"no file {relpath} in the job's working directory"
    except (OSError, ValueError) as exc:
        return None, f"cannot read {relpath} as JSON: {exc}"
    if not isinstance(content, dict):
        return None, f"{relpath} holds a JSON {type(content).__name__}, not an object"
    if key in content:
        return _number(content[key], f"{relpath}[{key!r}]")
    node = content
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None, f"{relpath} has no key {key!r}"
    return _number(node, f"{relpath}[{key!r}]")


def read_objective(spec: dict, job) -> tuple[float | None, str | None]:
    """(value, None) or (None, reason) for one job."""
    if job is None:
        return None, "not submitted (no job in the database)"
    if job.state != "JOB_FINISHED":
        if job.state in FAILED_FINAL_STATES:
            return None, f"{job.state}: {failure_reason(job)}"
        return None, f"not finished (state {job.state})"
    source = spec.get("source")
    if source == "stdout":
        return read_stdout(job, spec.get("marker", ""))
    if source == "data":
        return read_data(job, spec.get("key", ""))
    if source == "file":
        return read_file(job, spec.get("path", ""), spec.get("key", ""))
    if source == "several":  # the first objective stands for the record's `objective`
        values, error = read_values(spec, job)
        return (values[0], None) if values else (None, error)
    return None, f"unknown objective source {source!r}"


def read_values(spec: dict, job) -> tuple[tuple[float, ...] | None, str | None]:
    """Every objective of a job (one, or `several` sources): (values, None) or (None, reason)."""
    sources = spec.get("sources") if spec.get("source") == "several" else [spec]
    values = []
    for one in sources:
        value, error = read_objective(one, job)
        if value is None:
            return None, error
        values.append(value)
    return tuple(values), None


def make_record(task: dict, job, *, lean: bool = False) -> dict:
    """The results record of one task with an objective (its job, or None: not submitted).

    ``lean``: the job carries its state and runtime only (not finished, not failed), so its
    objective is not read."""
    spec = task["objective"]
    if lean:
        value, error = None, f"not finished (state {job.state})"
        state, runtime = job.state, job.runtime
    else:
        value, error = read_objective(spec, job)
        state = job.state if job is not None else "NOT_SUBMITTED"
        runtime = runtime_seconds(job.state_history) if job is not None else None
    record = {"rule": task.get("rule"), "name": task["name"], "index": task.get("index"),
              "point": task.get("point"), "state": state, "objective": value, "error": error,
              "runtime": runtime,
              "trial": task.get("trial")}  # the proposal number in a search, else None
    if task.get("values") is not None:  # fan-out: the task's value on each dimension
        record["values"] = task["values"]
    if spec.get("source") == "several":
        values, _ = read_values(spec, job) if job is not None and not lean else (None, None)
        record["objectives"] = list(values) if values else None
    return record


def order_key(objective, rank: int | None, pos: int, first_direction: str) -> tuple:
    """Where a record goes in ``results``: the Pareto fronts in order (several objectives),
    inside one best first objective first, ties in plan order; no objective last."""
    if objective is None:
        return (1, 0, 0.0, pos)
    sign = -1 if first_direction == "maximize" else 1
    return (0, rank or 0, sign * objective, pos)


def collect(plan: dict, jobs_by_key: dict) -> list[dict]:
    """One record per task that has an objective, best first (no objective: last); with
    several objectives the Pareto front first, each ranked record with its ``pareto_rank``."""
    records, places = [], []
    for pos, task in enumerate(plan.get("tasks", [])):
        if task.get("objective"):
            records.append(make_record(task, jobs_by_key.get(task["key"])))
            places.append(pos)
    dirs = directions(plan.get("objective"))
    ranks = record_ranks([rec.get("objectives") for rec in records], dirs)
    keyed = []
    for rec, rank, pos in zip(records, ranks, places):
        if rank is not None:
            rec["pareto_rank"] = rank  # the last key: the streamed JSON appends it there too
        keyed.append((order_key(rec["objective"], rank, pos, dirs[0]), rec))
    keyed.sort(key=lambda kr: kr[0])  # keys are unique (plan position): records never compared
    return [rec for _, rec in keyed]


def select_rule(records: list[dict], rule: str | None) -> list[dict]:
    """The records of rule `rule` (`results --rule R`), in their order; all of them for None.
    A rule no record is of is a UsageError naming the rules that carry objectives."""
    if rule is None:
        return records
    rules = list(dict.fromkeys(rec["rule"] for rec in records))
    if rule not in rules:
        known = ", ".join(rules) if rules else "none (no task of this workflow has an objective)"
        raise UsageError(f"--rule {rule}: no such rule carries an objective; the rules that do: {known}")
    return [rec for rec in records if rec["rule"] == rule]


# ------------------------------------------------------------------- formatting
#: An integer of more digits is shortened in the table (%.6g-style); JSON and CSV keep it whole.
MAX_TABLE_DIGITS = 12


def _fmt_value(value) -> str:
    """A value as the table shows it: numbers to 6 significant digits (long ones shortened)."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, int) and not isinstance(value, bool) and len(str(abs(value))) > MAX_TABLE_DIGITS:
        return _short_int(value)
    return str(value)


def _short_int(value: int) -> str:
    """A long integer as %.6g would write it, exactly (a float would overflow past 1e308)."""
    mantissa, _, exponent = format(Decimal(value), ".6g").partition("e")
    if "." in mantissa:  # %.6g drops trailing zeros; Decimal keeps them
        mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{exponent}"


def format_json(records: list[dict]) -> str:
    return json.dumps(records, indent=2)


def _dims(records: list[dict]) -> list[str]:
    """The fan-out dimensions of the records, in first-seen order (a column each)."""
    return list(dict.fromkeys(k for rec in records for k in (rec.get("values") or {})))


def _params(records: list[dict]) -> list[str]:
    """The point parameters of the records, in first-seen order (a column each)."""
    return list(dict.fromkeys(k for rec in records for k in (rec["point"] or {})))


def _has_trials(records: list[dict]) -> bool:
    """A search's records (they carry their trial number): a `trial` column."""
    return any(rec.get("trial") is not None for rec in records)


def format_csv(records: list[dict]) -> str:
    """CSV of the records, numbers whole; a search's gains `trial` after `index`."""
    params = _params(records)
    dims = _dims(records)
    trials = _has_trials(records)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["rule", "name", "index", *(["trial"] if trials else []), *dims, *params,
                     "state", "objective", "runtime", "error"])
    for rec in records:
        point = rec["point"] or {}
        values = rec.get("values") or {}
        trial = [] if not trials else ["" if rec.get("trial") is None else rec["trial"]]
        writer.writerow([rec["rule"], rec["name"], "" if rec["index"] is None else rec["index"], *trial,
                         *[values.get(d, "") for d in dims],
                         *[json.dumps(point[p]) if isinstance(point.get(p), (dict, list)) else
                           ("" if p not in point else point[p]) for p in params],
                         rec["state"], "" if rec["objective"] is None else rec["objective"],
                         "" if rec["runtime"] is None else rec["runtime"], rec["error"] or ""])
    return buf.getvalue()


def format_table(records: list[dict]) -> str:
    """The records best first, one row each: a `trial` column for a search's, a `rule` column
    when several rules carry objectives; long numbers shortened (JSON and CSV keep them whole)."""
    if not records:
        return "no task of this workflow has an objective"
    params = _params(records)
    dims = _dims(records)
    trials = _has_trials(records)
    rules = len({rec["rule"] for rec in records}) > 1
    header = ["#", *(["trial"] if trials else []), *(["rule"] if rules else []), "task", *dims, *params,
              "state", "objective", "runtime", "note"]
    rows = []
    for rank, rec in enumerate(records, 1):
        point = rec["point"] or {}
        values = rec.get("values") or {}
        rows.append([str(rank), *([_fmt_value(rec.get("trial"))] if trials else []),
                     *([rec["rule"] or "-"] if rules else []), rec["name"],
                     *[_fmt_value(values.get(d)) for d in dims],
                     *[_fmt_value(point.get(p)) for p in params], rec["state"],
                     _fmt_value(rec["objective"]),
                     "-" if rec["runtime"] is None else f"{rec['runtime']:.1f}s",
                     rec["error"] or ""])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
