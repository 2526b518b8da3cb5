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


def test_container_template_warns_the_truth_and_never_falls_back_silently(tmp_path):
    """DH114 on the missing image says what happens (the path of a missing file is handed to
    the program), and run-in-container.sh runs outside the container only when told to."""
    target = tmp_path / "ct"
    assert _dhflow("init", target, "--template", "container").returncode == 0
    check = _dhflow("check", target / "ct.dhflow")
    assert check.returncode == 0, check.stderr
    assert "warning[DH114]: `{here}/model.sif`" in check.stderr
    assert "given the path of a missing file" in check.stderr and "fails when it runs it" not in check.stderr
    assert "--or-direct {here}/model.sif" in (target / "ct.dhflow").read_text()
    script = target / "run-in-container.sh"
    env = {"PATH": "/usr/bin:/bin"}  # no apptainer or singularity here
    strict = subprocess.run(["sh", script, target / "model.sif", "echo", "ran"], capture_output=True, text=True,
                            env=env)
    assert strict.returncode == 3 and strict.stdout == "" and "not running" in strict.stderr
    direct = subprocess.run(["sh", script, "--or-direct", target / "model.sif", "echo", "ran"], capture_output=True,
                            text=True, env=env)
    assert direct.returncode == 0 and direct.stdout == "ran\n" and "WITHOUT the container" in direct.stderr


def test_dh114_says_a_missing_script_fails_the_task(tmp_path):
    exp = tmp_path / "w.dhflow"
    exp.write_text('workflow w:\nrule train:\n    shell: "python3 {here}/nope.py {here}/data.csv"\n')
    check = _dhflow("check", exp)
    assert check.returncode == 0
    assert "`{here}/nope.py` in the shell of rule `train` does not exist: the task fails when it runs it" in check.stderr
    assert "`{here}/data.csv` in the shell of rule `train` does not exist: the command is given" in check.stderr
