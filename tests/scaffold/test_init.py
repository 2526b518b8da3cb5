"""`dhflow init`: every template gives an experiment that compiles, in the canonical layout."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from dhflow.compiler.fmt import is_formatted
from dhflow.cli.init_command import TEMPLATES

ROOT = Path(__file__).resolve().parents[2]


def _dhflow(*args, cwd=ROOT):
    return subprocess.run([sys.executable, "-m", "dhflow", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})


@pytest.mark.parametrize("template", TEMPLATES)
def test_template_compiles_and_is_formatted(template, tmp_path):
    target = tmp_path / f"my {template}-1"
    proc = _dhflow("init", target, "--template", template)
    assert proc.returncode == 0, proc.stderr
    exp = target / f"my_{template}_1.dhflow"
    assert exp.is_file() and (target / "README.md").is_file()
    assert "__NAME__" not in (target / "README.md").read_text() and exp.name in (target / "README.md").read_text()
    check = _dhflow("check", exp)
    assert check.returncode == 0, check.stderr
    assert "workflow my_" + template + "_1" in check.stderr
    assert is_formatted(exp.read_text())
    assert _dhflow("init", target, "--template", template).returncode == 2  # never overwrites
    assert _dhflow("init", target, "--template", template, "--force").returncode == 0


def test_bad_name(tmp_path):
    proc = _dhflow("init", tmp_path, "--name", "1-bad")
    assert proc.returncode == 2 and "identifier" in proc.stderr
