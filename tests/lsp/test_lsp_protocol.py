"""`dhflow lsp` driven over real stdio JSON-RPC (Content-Length framing) in a subprocess."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from .client import ROOT, LspClient

DIAG = sorted((ROOT / "tests" / "diagnostics").glob("DH*.dhflow"))
#: DH606 (`cbo` without DeepHyper) has nothing to report where the extra dhflow[deephyper] is
#: installed (tests/test_diagnostics_codes.py checks it with DeepHyper hidden).
NOTHING_TO_REPORT = {"DH606"} if importlib.util.find_spec("deephyper") else set()
EXAMPLE = ROOT / "examples" / "polynome2" / "polynome2.dhflow"


def _check_json(path: Path) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", "dhflow", "check", "--format", "json", str(path)],
                          capture_output=True, text=True, cwd=ROOT)
    return json.loads(proc.stdout)


@pytest.fixture(scope="module")
def checked() -> dict[Path, list[dict]]:
    """`dhflow check --format json` of every fixture (run a few at a time: CI has 2 cores)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(DIAG, pool.map(_check_json, DIAG)))


def _as_check(d: dict) -> dict:
    """An LSP diagnostic in the shape of a `check --format json` record."""
    r = d["range"]
    return {"line": r["start"]["line"] + 1, "col": r["start"]["character"] + 1,
            "end_line": r["end"]["line"] + 1, "end_col": r["end"]["character"] + 1,
            "severity": {1: "error", 2: "warning"}[d["severity"]], "code": d["code"],
            "message": d["message"], "help": (d.get("data") or {}).get("help"),
            "labels": [{"line": ri["location"]["range"]["start"]["line"] + 1,
                        "col": ri["location"]["range"]["start"]["character"] + 1,
                        "message": ri["message"]} for ri in d.get("relatedInformation") or []]}


def test_initialize_advertises_the_features(lsp):
    # a second initialize is refused by the protocol, so check a fresh server's answer
    client = LspClient()
    try:
        caps = client.initialize()["result"]["capabilities"]
        for cap in ("completionProvider", "hoverProvider", "definitionProvider",
                    "documentSymbolProvider", "documentFormattingProvider", "textDocumentSync"):
            assert caps.get(cap), cap
        assert client.shutdown() == 0
    finally:
        client.kill()


@pytest.mark.parametrize("path", DIAG, ids=[p.stem for p in DIAG])
def test_published_diagnostics_equal_check(lsp, checked, path):
    uri = lsp.open(path)
    published = sorted((_as_check(d) for d in lsp.diagnostics(uri, version=1)),
                       key=lambda d: (d["line"], d["col"], d["code"]))
    expected = sorted(({k: v for k, v in d.items() if k != "file"} for d in checked[path]),
                      key=lambda d: (d["line"], d["col"], d["code"]))
    assert expected or path.name[:5] in NOTHING_TO_REPORT, "every fixture gives at least one diagnostic"
    assert published == expected
    lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_diagnostics_follow_changes_and_clear_when_fixed(lsp, tmp_path):
    path = tmp_path / "t.dhflow"
    good = "workflow w:\nrule a:\n    shell: \"x\"\n"
    path.write_text(good)
    uri = lsp.open(path)
    assert lsp.diagnostics(uri, version=1) == []
    lsp.change(uri, good.replace("shell", "shel"), version=2)
    [d] = [d for d in lsp.diagnostics(uri, version=2) if d["code"] == "DH011"]
    assert d["range"]["start"] == {"line": 2, "character": 4}
    assert "did you mean `shell`" in d["data"]["help"]
    lsp.change(uri, good, version=3)
    assert lsp.diagnostics(uri, version=3) == []
    # an incremental edit (a range replaced), as editors send them
    lsp.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 4}, "contentChanges": [
        {"range": {"start": {"line": 2, "character": 11}, "end": {"line": 2, "character": 14}}, "text": "4"}]})
    [d] = lsp.diagnostics(uri, version=4)
    assert d["code"] == "DH203" and d["range"]["start"] == {"line": 2, "character": 11}


def _pos(text: str, needle: str, delta: int = 0) -> dict:
    offset = text.index(needle) + delta
    line = text.count("\n", 0, offset)
    return {"line": line, "character": offset - (text.rfind("\n", 0, offset) + 1)}


def _at(lsp, method, uri, text, needle, delta=0, **extra):
    resp = lsp.request(method, {"textDocument": {"uri": uri}, "position": _pos(text, needle, delta), **extra})
    assert "error" not in resp, resp
    return resp["result"]


@pytest.fixture(scope="module")
def example(lsp):
    text = EXAMPLE.read_text()
    uri = lsp.open(EXAMPLE)
    assert lsp.diagnostics(uri, version=1) == []
    return uri, text


def _labels(result) -> set[str]:
    items = result["items"] if isinstance(result, dict) else result
    return {i["label"] for i in items}


def test_completion_by_context(lsp, tmp_path):
    path = tmp_path / "c.dhflow"
    base = ('workflow w:\nspace:\n    lr: real(0.1, 0.2)\nsample: grid(levels=2)\n'
            'app trainer:\n    executable: "t"\nrule prep:\n    shell: "p"\nrule a:\n'
            '    foreach: space\n')
    cases = [
        ("", {"workflow", "space", "sample", "app", "rule", "launch"}),
        ("    ", {"after", "app", "shell", "nodes", "objective", "env"}),
        ("    app: ", {"trainer"}),
        ("    after: ", {"prep"}),
        ("    nodes: ", {"lr", "ceil", "max"}),
        ("    ranks_per_node: ", {"nodes", "lr"}),
        ("    objective: ", {"stdout", "data", "file"}),
        ('    shell: "run {', {"lr", "here", "point:json", "index", "nodes"}),
    ]
    for i, (line, want) in enumerate(cases):
        text = base + line
        uri = lsp.open(path.with_name(f"c{i}.dhflow"), text)
        resp = lsp.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": text.count("\n"), "character": len(line)}})
        assert "error" not in resp, resp
        got = _labels(resp["result"])
        assert want <= got, (line, got)
        if line == "    ":
            assert "foreach" not in got  # already given in this rule
    text = "workflow w:\nsample: "
    uri = lsp.open(path.with_name("s.dhflow"), text)
    got = _labels(lsp.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}})["result"])
    assert got == {"grid", "random", "lhs", "points"}
    text = "launch:\n    scheduler: "
    uri = lsp.open(path.with_name("l.dhflow"), text)
    got = _labels(lsp.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 15}})["result"])
    assert got == {"cobalt", "slurm", "pbs", "local"}



def test_completion_of_values_and_search(lsp, tmp_path):
    path = tmp_path / "v.dhflow"
    base = ('workflow w:\nvalues dataset: "a", "b"\nvalues seed: 1, 2\nspace:\n    lr: real(0.1, 0.2)\n'
            'rule prep:\n    foreach: dataset\n    shell: "p"\nrule a:\n')
    cases = [
        ("    foreach: ", {"space", "dataset", "seed"}, set()),
        ("    foreach: dataset * ", {"space", "seed"}, {"dataset"}),  # each dimension once
        ("    foreach: dataset * space\n    shell: \"run {", {"dataset", "lr", "here"}, {"seed"}),
        ("    foreach: dataset\n    nodes: ", {"dataset", "ceil"}, {"seed"}),
        ('    shell: "run {', {"here"}, {"dataset", "seed"}),  # no fan-out: no dimension
    ]
    for i, (lines, want, unwanted) in enumerate(cases):
        text = base + lines
        uri = lsp.open(path.with_name(f"v{i}.dhflow"), text)
        last = text.rsplit("\n", 1)[1]
        got = _labels(lsp.request("textDocument/completion", {
            "textDocument": {"uri": uri}, "position": {"line": text.count("\n"), "character": len(last)}})["result"])
        assert want <= got and not unwanted & got, (lines, got)
    text = "workflow w:\nsearch: "
    uri = lsp.open(path.with_name("s.dhflow"), text)
    got = _labels(lsp.request("textDocument/completion", {
        "textDocument": {"uri": uri}, "position": {"line": 1, "character": 8}})["result"])
    assert got == {"random", "tpe", "cmaes", "cbo", "nsga2"}

def test_hover(lsp, example):
    uri, text = example
    h = _at(lsp, "textDocument/hover", uri, text, "threads_per_rank:", 2)
    assert "threads per rank" in h["contents"]["value"]
    h = _at(lsp, "textDocument/hover", uri, text, "ceil(batch_size / 256)", 1)
    assert "smallest integer" in h["contents"]["value"]
    h = _at(lsp, "textDocument/hover", uri, text, "batch_size / 256", 2)
    assert "choice(32, 64, 128, 256)" in h["contents"]["value"]
    h = _at(lsp, "textDocument/hover", uri, text, "random(count=8", 1)
    assert "independent" in h["contents"]["value"]
    assert _at(lsp, "textDocument/hover", uri, text, "rule train:", 1)["contents"]["value"].startswith("`rule NAME:`")


def test_hover_on_a_diagnostic_shows_the_explain_page(lsp):
    path = ROOT / "tests" / "diagnostics" / "DH104_unknown_parameter.dhflow"
    text = path.read_text()
    uri = lsp.open(path)
    lsp.diagnostics(uri, version=1)
    value = _at(lsp, "textDocument/hover", uri, text, "batchsize", 2)["contents"]["value"]
    from dhflow.compiler.explain import code_page
    assert "error[DH104]" in value and code_page("DH104").body in value


def test_definition(lsp, example):
    uri, text = example
    cases = [("app: run_poly2", 6, "app run_poly2:", 4), ("after: prepare", 8, "rule prepare:", 5),
             ("after: train", 8, "rule train:", 5), ("nodes: ceil(batch_size / 256)", 13, "    batch_size:", 4)]
    for needle, delta, target, tdelta in cases:
        loc = _at(lsp, "textDocument/definition", uri, text, needle, delta)
        assert loc["uri"] == uri
        assert loc["range"]["start"] == _pos(text, target, tdelta), needle


def test_definition_from_a_template_and_a_where(lsp, tmp_path):
    text = ('workflow w:\nspace:\n    lr: real(0.1, 0.2)\nsample: grid(levels=2) where lr > 0.1\n'
            'app t:\n    executable: "{here}/t"\nrule a:\n    foreach: space\n    shell: "train --lr {lr}"\n')
    uri = lsp.open(tmp_path / "d.dhflow", text)
    for needle in ("{lr}", "lr > 0.1"):
        loc = _at(lsp, "textDocument/definition", uri, text, needle, 1)
        assert loc["range"]["start"] == _pos(text, "    lr:", 4), needle
    got = _labels(lsp.request("textDocument/completion", {"textDocument": {"uri": uri},
                                                        "position": _pos(text, "here}/t")})["result"])
    assert got == {"here", "workflow"}  # an app's executable is shared by all its tasks


def test_document_symbols(lsp, example):
    uri, text = example
    resp = lsp.request("textDocument/documentSymbol", {"textDocument": {"uri": uri}})
    syms = resp["result"]
    assert [s["name"] for s in syms] == ["workflow polynome2", "space", "sample", "app run_poly2",
                                         "rule prepare", "rule train", "rule report", "launch"]
    space = syms[1]
    assert [c["name"] for c in space["children"]] == ["units", "activation", "lr", "batch_size", "epochs"]
    train = syms[5]
    assert "objective" in [c["name"] for c in train["children"]]


def test_formatting_equals_fmt(lsp, example):
    from dhflow.compiler.fmt import format_text
    uri, text = example
    resp = lsp.request("textDocument/formatting", {"textDocument": {"uri": uri},
                                                   "options": {"tabSize": 4, "insertSpaces": True}})
    [edit] = resp["result"]
    assert edit["range"]["start"] == {"line": 0, "character": 0}
    assert edit["newText"] == format_text(text)


def test_shutdown_and_exit_end_the_process():
    client = LspClient()
    try:
        client.initialize()
        assert client.shutdown() == 0
    finally:
        client.kill()
