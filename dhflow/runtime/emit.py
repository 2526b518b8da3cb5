"""The ``dhflow emit`` use case: a running job records its objective or a value in its own
``data``, from any language, with one command.

The job is found from its environment: Balsam's launcher runs every job with
``BALSAM_JOB_ID`` (the job's id) and ``BALSAM_DB_PATH`` (its database directory)
(``BalsamJob.get_envs``).  The app needs no Python and no Balsam: a Fortran program, a
container or a shell script runs ``dhflow emit objective 0.93`` or ``dhflow emit data loss
0.12``, and the rule's ``objective: data("...")`` (or ``data(...)`` in later rules) reads it.

* ``objective VALUE``: VALUE must be a finite number; it goes to the key the job's own
  objective names (``objective: data("KEY")``), else to ``dh_objective``.  When the rule
  reads its objective from standard output, the marker line is printed as well.
* ``data KEY VALUE``: VALUE is stored as JSON when it is JSON (``0.5``, ``true``,
  ``[1, 2]``, ``{"a": 1}``), else as text.  Keys starting with ``dhflow_`` are dhflow's own
  (the task's content key lives there) and are refused.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

from dhflow.errors import UsageError

#: Where ``emit objective`` writes when the job's objective names no data key.
DEFAULT_KEY = "dh_objective"
RESERVED_PREFIX = "dhflow_"


@dataclass
class Emitted:
    """What was recorded: the key, the JSON stored, and a marker line to print (or None)."""

    key: str
    value_json: str
    stdout_line: str | None = None
    note: str | None = None


def job_from_env(environ=None) -> tuple[str, str]:
    """(job id, database directory) of the Balsam job this process runs in."""
    environ = os.environ if environ is None else environ
    job_id, db = environ.get("BALSAM_JOB_ID", "").strip(), environ.get("BALSAM_DB_PATH", "").strip()
    if not job_id or not db:
        raise UsageError("dhflow emit records values of the Balsam job it runs in: BALSAM_JOB_ID and "
                         "BALSAM_DB_PATH are not set (Balsam's launcher sets them for every job)")
    return job_id, db


def _int_or_text(digits: str):
    try:
        return int(digits)
    except ValueError:  # more digits than Python converts: keep them as text
        return digits


def data_json(text: str) -> str:
    """VALUE as the JSON to store: itself when it is JSON (finite numbers), else a string."""
    def no_constants(name):
        raise ValueError(name)

    def finite(digits):
        number = float(digits)
        if not math.isfinite(number):
            raise ValueError(digits)  # 1e400: no JSON number holds it, keep the text
        return number

    try:
        value = json.loads(text, parse_int=_int_or_text, parse_float=finite, parse_constant=no_constants)
    except ValueError:
        value = text
    return json.dumps(value)


def objective_json(text: str) -> str:
    """VALUE as a JSON number; UsageError when it is not a finite number of sensible size."""
    from dhflow.results.objectives import as_number

    value, why = as_number(text, "the objective")
    if why is not None:
        raise UsageError(why)
    if isinstance(value, float) and not math.isfinite(value):
        raise UsageError(f"the objective {text!r} is not a finite number")
    return json.dumps(value)


def check_key(key: str) -> str:
    """A data key the app may write (not empty, not one of dhflow's own)."""
    if not key:
        raise UsageError("the data key is empty")
    if key.startswith(RESERVED_PREFIX):
        raise UsageError(f"data keys starting with {RESERVED_PREFIX!r} are dhflow's own (the task's content "
                         "key and provenance live there); choose another key")
    return key


def emit_objective(text: str, environ=None) -> Emitted:
    """Record the job's objective (see the module docstring)."""
    from dhflow.balsam import jobstore

    value_json = objective_json(text)
    job_id, db = job_from_env(environ)
    spec = jobstore.objective_spec(db, job_id) or {}
    source = spec.get("source")
    key = spec.get("key") if source == "data" and spec.get("key") else DEFAULT_KEY
    jobstore.put_job_data(db, job_id, key, value_json)
    out = Emitted(key, value_json)
    if source == "stdout" and spec.get("marker"):
        out.stdout_line = f"{spec['marker']} {value_json}"
    elif source == "file":
        out.note = (f"this rule reads its objective from the file {spec.get('path')!r}; "
                    f"the value was stored in data[{key!r}], which it does not read")
    return out


def emit_data(key: str, text: str, environ=None) -> Emitted:
    """Record ``data[KEY] = VALUE`` in the job's data."""
    from dhflow.balsam import jobstore

    key = check_key(key)
    value_json = data_json(text)
    job_id, db = job_from_env(environ)
    jobstore.put_job_data(db, job_id, key, value_json)
    return Emitted(key, value_json)
