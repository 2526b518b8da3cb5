"""Positions in `dhflow lsp` use the protocol's line breaks only (`\\n`, `\\r\\n`, `\\r`): a
vertical tab or a form feed in a comment is text, for the published diagnostics and for the
incremental edits editors send (pygls's own documents split with str.splitlines)."""
from __future__ import annotations

import pytest

TEXT = 'workflow w:\n# a{c}b\nrule a:\n    shell: "x"\n        nodes: 2\n'


@pytest.mark.parametrize("char", ["\v", "\f", "\u2028"])
def test_diagnostics_and_edits_after_a_comment_character(lsp, tmp_path, char):
    path = tmp_path / "t.dhflow"
    path.write_text("", encoding="utf-8")
    uri = lsp.open(path, TEXT.format(c=char))
    [d] = lsp.diagnostics(uri, version=1)
    assert d["code"] == "DH004" and d["range"]["start"] == {"line": 4, "character": 8}
    # an incremental edit, as an editor counts lines: line 4 loses 4 spaces of indentation
    lsp.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": 2}, "contentChanges": [
        {"range": {"start": {"line": 4, "character": 0}, "end": {"line": 4, "character": 4}}, "text": ""}]})
    assert lsp.diagnostics(uri, version=2) == []  # the edit landed on that line, the file is right
    lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_a_lone_carriage_return_is_a_line_break(lsp, tmp_path):
    path = tmp_path / "cr.dhflow"
    path.write_text("", encoding="utf-8")
    uri = lsp.open(path, TEXT.format(c="\r"))
    [d] = lsp.diagnostics(uri, version=1)
    assert d["range"]["start"] == {"line": 5, "character": 8}
    lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})


def test_an_emptied_document_gets_its_diagnostics(lsp, tmp_path):
    # pygls's own offset-to-position raised UnboundLocalError on an empty document (found by
    # tests/lsp/test_lsp_fuzz.py): no diagnostics were published for it
    path = tmp_path / "e.dhflow"
    path.write_text("", encoding="utf-8")
    uri = lsp.open(path, 'workflow w:\nrule a:\n    shell: "x"\n')
    assert lsp.diagnostics(uri, version=1) == []
    lsp.change(uri, "", version=2)
    found = lsp.diagnostics(uri, version=2)
    assert [d["code"] for d in found] == ["DH012", "DH012"]
    assert all(d["range"]["start"] == {"line": 0, "character": 0} for d in found)
    lsp.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
