"""A minimal LSP client for tests: `dhflow lsp` in a subprocess, JSON-RPC with Content-Length
framing over its stdin/stdout, read by a thread so that a hung server fails a test with a
timeout instead of hanging it."""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class LspClient:
    def __init__(self):
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "dhflow", "lsp"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=ROOT)
        self.messages: queue.Queue = queue.Queue()
        self.notifications: list[dict] = []
        self._id = 0
        threading.Thread(target=self._reader, daemon=True).start()

    def _reader(self):
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                line = line.strip()
                if not line:
                    break
                name, _, value = line.decode("ascii").partition(":")
                headers[name.strip().lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, payload: dict) -> None:
        data = json.dumps(payload).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(data) + data)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict | None = None) -> None:
        self.send({"jsonrpc": "2.0", "method": method, **({"params": params} if params is not None else {})})

    def _next(self, timeout: float) -> dict:
        msg = self.messages.get(timeout=timeout)
        if msg is None:
            raise EOFError("the server closed its output: " + self.proc.stderr.read().decode(errors="replace"))
        return msg

    def request(self, method: str, params: dict | None = None, timeout: float = 20) -> dict:
        """Send a request; the full response message (with `result` or `error`)."""
        self._id += 1
        rid = self._id
        self.send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params or {}})
        while True:
            msg = self._next(timeout)
            if msg.get("id") == rid and "method" not in msg:
                return msg
            self._note(msg)

    def _note(self, msg: dict) -> None:
        if "method" in msg and "id" in msg:  # a server->client request: answer it
            self.send({"jsonrpc": "2.0", "id": msg["id"], "result": None})
        else:
            self.notifications.append(msg)

    def diagnostics(self, uri: str, version: int | None = None, timeout: float = 20) -> list[dict]:
        """The next publishDiagnostics for a URI (for this version when given)."""
        while True:
            for i, msg in enumerate(self.notifications):
                p = msg.get("params", {})
                if msg.get("method") == "textDocument/publishDiagnostics" and p.get("uri") == uri \
                        and (version is None or p.get("version") == version):
                    del self.notifications[i]
                    return p["diagnostics"]
            self._note(self._next(timeout))

    def initialize(self) -> dict:
        resp = self.request("initialize", {"processId": os.getpid(), "rootUri": ROOT.as_uri(),
                                           "capabilities": {}})
        self.notify("initialized", {})
        return resp

    def open(self, path: Path, text: str | None = None, version: int = 1) -> str:
        uri = path.resolve().as_uri()
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "dhflow", "version": version,
            "text": path.read_text(encoding="utf-8") if text is None else text}})
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                               "contentChanges": [{"text": text}]})

    def shutdown(self, timeout: float = 20) -> int:
        """shutdown + exit; the process's exit code."""
        resp = self.request("shutdown")
        assert "error" not in resp, resp
        self.notify("exit")
        self.proc.stdin.close()
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
