"""A seeded fuzz test: thousands of mutated documents through one `dhflow lsp`; after every
change the server publishes diagnostics, and requests at random positions keep getting
answers without errors. Deterministic (fixed seed); about 10-20 s."""
from __future__ import annotations

import random

from .client import ROOT, LspClient

SEED = 2026
DOCS = 4000
PIECES = [":", "(", ")", '"', "{", "}", "\t", "    ", "\n", "#", ",", "=", "-", "**", "where",
          "if", "else", "rule", "app", "space", "foreach", "nodes", "1e999", "0x", "'", "\\",
          "é", "\U0001f600", "{point:json}", "{", "after: ", "sample: grid(levels=3)"]


def _mutate(rng: random.Random, text: str) -> str:
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(5)
        i = rng.randrange(len(text) + 1)
        j = min(len(text), i + rng.randint(1, 20))
        if op == 0:
            text = text[:i] + text[j:]                       # delete a run
        elif op == 1:
            text = text[:i] + rng.choice(PIECES) + text[i:]  # insert a piece
        elif op == 2:
            lines = text.split("\n")                         # duplicate or drop a line
            k = rng.randrange(len(lines))
            lines.insert(k, lines[k]) if rng.random() < 0.5 else lines.pop(k)
            text = "\n".join(lines)
        elif op == 3:
            text = text[:i] + text[i:j][::-1] + text[j:]     # reverse a run
        else:
            text = text[:i] + chr(rng.randrange(32, 0x250)) + text[j:]
    return text


def test_server_survives_mutated_documents(tmp_path):
    rng = random.Random(SEED)
    seeds = [p.read_text() for p in sorted(p for p in (ROOT / "examples").rglob("*.dhflow") if p.is_file())]
    seeds += [p.read_text() for p in sorted((ROOT / "tests" / "diagnostics").glob("*.dhflow"))]
    client = LspClient()
    try:
        client.initialize()
        path = tmp_path / "fuzz.dhflow"
        uri = client.open(path, seeds[0])
        client.diagnostics(uri, version=1)
        answered = 0
        for version in range(2, DOCS + 2):
            text = _mutate(rng, rng.choice(seeds))
            client.change(uri, text, version)
            client.diagnostics(uri, version=version)  # published for every change
            if version % 5 == 0:
                lines = text.split("\n")
                line = rng.randrange(len(lines) + 1)
                char = rng.randrange(len(lines[line]) + 2) if line < len(lines) else 0
                pos = {"textDocument": {"uri": uri}, "position": {"line": line, "character": char}}
                method = rng.choice(["textDocument/completion", "textDocument/hover",
                                     "textDocument/definition", "textDocument/documentSymbol",
                                     "textDocument/formatting"])
                params = pos if method not in ("textDocument/documentSymbol", "textDocument/formatting") \
                    else {"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": True}}
                resp = client.request(method, params)
                assert "error" not in resp, (method, params, text, resp)
                answered += 1
        errors = [m for m in client.notifications
                  if m.get("method") in ("window/showMessage", "window/logMessage")
                  and m["params"].get("type") in (1, 2)]
        assert not errors, errors[:3]
        assert answered == DOCS // 5
        assert client.shutdown() == 0
    finally:
        client.kill()
