"""`stage_in:`/`stage_out:` URLs: what Balsam 0.5's transfer takes (a path, `local:`, `scp:`,
`gsiftp:`), a local `file:` URL written as its path, and DH217 for the rest (which Balsam
would take for a path under the launcher's directory, failing the task after its run)."""
from __future__ import annotations

import pytest

from dhflow.target import transfer_url

from .helpers import codes, compile_text


@pytest.mark.parametrize("url, written", [
    ("file:///data/out", "/data/out"),
    ("file://localhost/data/out/", "/data/out/"),
    ("FILE://LOCALHOST/a%20b", "/a b"),
    ("file:/data/out", "/data/out"),
    ("/data/out", "/data/out"),
    ("local:/data/out", "local:/data/out"),
    ("gsiftp://host/data", "gsiftp://host/data"),
    ("scp://host/data", "scp://host/data"),
    ("file://elsewhere/data", "file://elsewhere/data"),  # not this machine: refused by check
    ("", ""),
])
def test_a_local_file_url_is_written_as_its_path(url, written):
    assert transfer_url(url) == written


def _flow(stage_in: str, dest: str) -> str:
    return f'''
    workflow w:
    rule a:
        stage_in: "{stage_in}"
        shell: "true"
        stage_out: "o.txt" to "{dest}"
    '''


@pytest.mark.parametrize("url", ["/data/x", "file:///data/x", "file://localhost/data/x", "local:/data/x",
                                 "scp://host/data/x", "gsiftp://host/data/x", "results", "run:1/x",
                                 "{here}/out", "file://{here}/out"])
def test_urls_balsam_transfers_compile(url):
    result = compile_text(_flow(url, url))
    assert result.ok and "DH217" not in codes(result), codes(result)


@pytest.mark.parametrize("url, message", [
    ("https://example.org/x", "uses `https:`, a kind of URL Balsam cannot transfer"),
    ("s3://bucket/x", "uses `s3:`"),
    ("file://elsewhere/data", "a `file:` URL that is not an absolute path on this machine"),
    ("file:results", "a `file:` URL that is not an absolute path on this machine"),
])
def test_urls_balsam_cannot_transfer_are_dh217_on_both_keys(url, message):
    result = compile_text(_flow(url, url))
    found = [d for d in result.diagnostics if d.code == "DH217"]
    assert [d.message.split(" ", 1)[0] for d in found] == ["`stage_in`", "the"]
    assert all(message in d.message for d in found) and not result.ok
    assert (found[0].span.line, found[0].span.col) == (3, 15)  # the string after `stage_in: `
