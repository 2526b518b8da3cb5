"""A compiled plan given as a file (``dhflow plan FILE --format json``), read and checked."""
from __future__ import annotations

import json
from pathlib import Path

from dhflow.errors import UsageError

#: Largest plan JSON file read (`dhflow plan --format json` of a few million tasks).
MAX_PLAN_JSON_BYTES = 4 << 30


def load_plan_json(path: str) -> dict:
    """A plan dict from ``dhflow plan FILE --format json`` output; UsageError when it is not one."""
    from dhflow.compiler.source import read_regular

    try:
        # the bounded reader: a FIFO or a device is refused at once, never waited on
        plan = json.loads(read_regular(path, MAX_PLAN_JSON_BYTES))
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: not a JSON plan ({exc})") from None
    if not isinstance(plan, dict) or "workflow" not in plan or "tasks" not in plan:
        raise UsageError(f"{path}: not a dhflow plan (needs 'workflow' and 'tasks')")
    plan.setdefault("apps", [])
    plan.setdefault("objective", "maximize")
    plan.setdefault("launch", None)
    if not plan.get("source"):
        here = str(Path(path).resolve().parent)
        plan["source"] = {"path": str(Path(path).resolve()), "sha256": "", "here": here}
    return plan
