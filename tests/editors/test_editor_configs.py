"""The editor folders are consistent: the VS Code extension's manifest points at files that
exist, its JSON and regular expressions are valid, and every config starts `dhflow lsp`."""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VSCODE = ROOT / "editors" / "vscode"


def test_vscode_manifest_points_at_real_files():
    manifest = json.loads((VSCODE / "package.json").read_text())
    [lang] = manifest["contributes"]["languages"]
    assert lang["extensions"] == [".dhflow"]
    config = json.loads((VSCODE / lang["configuration"]).read_text())
    [grammar] = manifest["contributes"]["grammars"]
    tm = json.loads((VSCODE / grammar["path"]).read_text())
    assert tm["scopeName"] == grammar["scopeName"] == "source.dhflow"
    assert (VSCODE / manifest["main"]).is_file()
    props = manifest["contributes"]["configuration"]["properties"]
    assert [props["dhflow.server.command"]["default"], *props["dhflow.server.args"]["default"]] == ["dhflow", "lsp"]
    assert config["comments"]["lineComment"] == "#"
    for key in ("increaseIndentPattern", "decreaseIndentPattern"):
        re.compile(config["indentationRules"][key])
    header = re.compile(config["indentationRules"]["increaseIndentPattern"])
    assert header.match("rule train:") and header.match("    env:  # note") and not header.match("    nodes: 2")


def test_extension_script_is_valid_javascript():
    node = shutil.which("node")
    if not node:
        pytest.fail("node is needed to check the VS Code extension (scripts/setup.sh installs it)")
    proc = subprocess.run([node, "--check", str(VSCODE / "extension.js")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_configs_start_the_language_server():
    assert 'cmd = { "dhflow", "lsp" }' in (ROOT / "editors" / "neovim" / "dhflow.lua").read_text()
    helix = (ROOT / "editors" / "helix" / "languages.toml").read_text()
    assert 'command = "dhflow"' in helix and 'args = ["lsp"]' in helix
    proc = subprocess.run([sys.executable, "-m", "dhflow", "lsp", "--help"], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and "language server" in proc.stdout
