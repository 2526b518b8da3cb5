"""Golden files per pipeline stage for every example: plan JSON, task DOT, rule DOT/mermaid.

Run `pytest tests/test_golden.py --update-goldens` to rewrite them after an intended change.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from dhflow.compiler.plan import graph
from dhflow.compiler.api import compile_file
from dhflow.compiler.plan.model import Plan

ROOT = Path(__file__).resolve().parent.parent
# Files only: `dhflow run` leaves a project-local `.dhflow/` database directory beside them.
EXAMPLES = sorted(p for p in (ROOT / "examples").glob("*/*.dhflow") if p.is_file())
GOLDEN = Path(__file__).parent / "golden"


def _normalise(text: str, plan: Plan) -> str:
    """Make outputs independent of where the checkout lives."""
    here = plan.source["here"]
    text = text.replace(json.dumps(here)[1:-1], "{here}").replace(here, "{here}")
    return text.replace(json.dumps(plan.source["path"])[1:-1], "{path}")


def _outputs(path: Path) -> dict[str, str]:
    result = compile_file(str(path))
    assert result.ok, [d.message for d in result.diagnostics]
    plan = result.plan
    return {
        "plan.json": _normalise(plan.to_json(), plan),
        "tasks.dot": _normalise(graph.to_dot(graph.task_graph(plan), plan.workflow), plan),
        "rules.dot": graph.to_dot(graph.rule_graph(plan), plan.workflow, rules=True),
        "rules.mmd": graph.to_mermaid(graph.rule_graph(plan), rules=True),
    }


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_golden(path: Path, update_goldens: bool):
    outdir = GOLDEN / path.stem
    for name, text in _outputs(path).items():
        target = outdir / name
        if update_goldens:
            outdir.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            continue
        assert target.exists(), f"missing golden {target}; run pytest --update-goldens"
        assert text == target.read_text(), f"{target} differs; if intended, run pytest --update-goldens"


def test_every_example_has_goldens():
    assert EXAMPLES, "no examples found"
    for path in EXAMPLES:
        assert (GOLDEN / path.stem / "plan.json").exists(), path
