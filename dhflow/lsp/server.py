"""The dhflow language server (pygls 2 / lsprotocol): protocol glue over dhflow.lsp.features.

Diagnostics come from the compiler itself (dhflow.compiler.api.compile_source), so the editor shows
exactly what `dhflow check` prints; they are published on open and on every change.
"""
from __future__ import annotations

import logging

from lsprotocol import types as t
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path
from pygls.workspace import TextDocument, Workspace
from pygls.workspace.position_codec import ServerTextPosition

from dhflow import __version__
from dhflow.compiler.api import compile_source
from dhflow.compiler.diagnostics import WARNING, DiagnosticError, sort_key
from dhflow.compiler.fmt import format_text
from dhflow.compiler.source import SourceFile, split_lines
from dhflow.lsp import features
from dhflow.lsp.outline import build

log = logging.getLogger(__name__)

_SYMBOL_KINDS = {
    "workflow": t.SymbolKind.Module, "space": t.SymbolKind.Namespace, "sample": t.SymbolKind.Event,
    "app": t.SymbolKind.Class, "rule": t.SymbolKind.Function, "launch": t.SymbolKind.Object,
    "key": t.SymbolKind.Property, "parameter": t.SymbolKind.Variable, "env": t.SymbolKind.Constant,
}
_COMPLETION_KINDS = {
    "keyword": t.CompletionItemKind.Keyword, "property": t.CompletionItemKind.Property,
    "function": t.CompletionItemKind.Function, "variable": t.CompletionItemKind.Variable,
    "value": t.CompletionItemKind.EnumMember, "reference": t.CompletionItemKind.Reference,
}


class DhflowServer(LanguageServer):
    """A LanguageServer that remembers the last diagnostics of each document (for hover)."""

    def __init__(self):
        super().__init__("dhflow", __version__,
                         text_document_sync_kind=t.TextDocumentSyncKind.Incremental)
        self.last: dict[str, list] = {}


class _EditorDocument(TextDocument):
    """pygls's document with the protocol's line breaks, `\n`, `\r\n` and `\r` only: pygls
    splits with str.splitlines, which also breaks at a vertical tab or a form feed, so a
    comment holding one moved every later position (and misplaced incremental edits)."""

    @property
    def lines(self):
        return tuple(split_lines(self.source, keepends=True))

    def server_position_at_offset(self, offset: int) -> ServerTextPosition:
        # (pygls's own raises UnboundLocalError on an empty document)
        src = SourceFile.from_text(self.source)
        line, col = src.position(offset)
        return ServerTextPosition(line - 1, col - 1)


class _EditorWorkspace(Workspace):
    """The workspace whose documents are _EditorDocument."""

    def _create_text_document(self, doc_uri, source=None, version=None, language_id=None):
        return _EditorDocument(doc_uri, source=source, version=version, language_id=language_id,
                               sync_kind=self._sync_kind, position_codec=self._position_codec)


server = DhflowServer()


@server.feature(t.INITIALIZE)
def initialize(ls: DhflowServer, params: t.InitializeParams):
    """pygls has just made the workspace (no document is open yet): give it editor lines."""
    ls.workspace.__class__ = _EditorWorkspace


def _path(uri: str) -> str:
    try:
        path = to_fs_path(uri)
    except Exception:  # an odd URI scheme: compile as an anonymous file
        path = None
    return path or "<editor>"


def _range(doc: TextDocument, start: int, end: int) -> t.Range:
    return t.Range(doc.client_position_at_offset(start), doc.client_position_at_offset(end))


def _offset(src: SourceFile, line: int, col: int) -> int:
    """0-based offset of a 1-based line/column of the compiler."""
    starts = src._line_starts
    if line - 1 >= len(starts):
        return len(src.text)
    return min(starts[line - 1] + col - 1, len(src.text))


def _lsp_diagnostic(doc: TextDocument, uri: str, src: SourceFile, d, shift: int) -> tuple[t.Diagnostic, tuple]:
    """The LSP form of a compiler diagnostic; `shift` is 1 when the editor's text starts with
    a byte-order mark the compiler does not see."""
    if d.span is None:
        start = end = shift
    else:
        start = _offset(src, d.span.line, d.span.col) + shift
        end = _offset(src, d.span.end_line, d.span.end_col) + shift
    related = [t.DiagnosticRelatedInformation(
        t.Location(uri, _range(doc, _offset(src, lb.span.line, lb.span.col) + shift,
                               _offset(src, lb.span.end_line, lb.span.end_col) + shift)), lb.message)
        for lb in d.labels]
    diag = t.Diagnostic(
        range=_range(doc, start, end), message=d.message, code=d.code, source="dhflow",
        severity=t.DiagnosticSeverity.Warning if d.severity == WARNING else t.DiagnosticSeverity.Error,
        related_information=related or None, data={"help": d.help} if d.help else None)
    return diag, (start, end, d)


def check_document(ls: DhflowServer, uri: str) -> None:
    """Compile the document and publish its diagnostics (an empty list clears them)."""
    doc = ls.workspace.get_text_document(uri)
    shift = 1 if doc.source.startswith("\ufeff") else 0
    src = SourceFile.from_text(doc.source[shift:], _path(uri))
    try:
        diags = sorted(compile_source(src).diagnostics, key=sort_key)
    except Exception as exc:  # a compiler bug must not take the editor session down
        log.exception("dhflow: internal error while checking %s", uri)
        ls.window_log_message(t.LogMessageParams(t.MessageType.Warning,
                                                 f"dhflow: internal error: {type(exc).__name__}: {exc}"))
        diags = []
    pairs = [_lsp_diagnostic(doc, uri, src, d, shift) for d in diags]
    ls.last[uri] = [p[1] for p in pairs]
    ls.text_document_publish_diagnostics(
        t.PublishDiagnosticsParams(uri=uri, diagnostics=[p[0] for p in pairs], version=doc.version))


@server.feature(t.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: DhflowServer, params: t.DidOpenTextDocumentParams):
    check_document(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: DhflowServer, params: t.DidChangeTextDocumentParams):
    check_document(ls, params.text_document.uri)


@server.feature(t.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: DhflowServer, params: t.DidSaveTextDocumentParams):
    check_document(ls, params.text_document.uri)  # a points file beside it may have changed


@server.feature(t.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: DhflowServer, params: t.DidCloseTextDocumentParams):
    ls.last.pop(params.text_document.uri, None)
    ls.text_document_publish_diagnostics(t.PublishDiagnosticsParams(uri=params.text_document.uri,
                                                                    diagnostics=[]))


def _doc_offset(ls: DhflowServer, params) -> tuple[TextDocument, int]:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    offset = doc.offset_at_position(params.position)
    return doc, max(0, min(offset, len(doc.source)))


@server.feature(t.TEXT_DOCUMENT_COMPLETION,
                t.CompletionOptions(trigger_characters=[":", "{", " ", "("]))
def completion(ls: DhflowServer, params: t.CompletionParams):
    doc, offset = _doc_offset(ls, params)
    items = []
    for c in features.completions(build(doc.source), offset):
        items.append(t.CompletionItem(
            label=c.label, kind=_COMPLETION_KINDS.get(c.kind), detail=c.detail or None,
            insert_text=c.snippet, insert_text_format=t.InsertTextFormat.Snippet if c.snippet else None))
    return t.CompletionList(is_incomplete=False, items=items)


@server.feature(t.TEXT_DOCUMENT_HOVER)
def hover(ls: DhflowServer, params: t.HoverParams):
    doc, offset = _doc_offset(ls, params)
    text = features.hover(build(doc.source), offset, ls.last.get(doc.uri, ()))
    if not text:
        return None
    return t.Hover(contents=t.MarkupContent(kind=t.MarkupKind.Markdown, value=text))


@server.feature(t.TEXT_DOCUMENT_DEFINITION)
def definition(ls: DhflowServer, params: t.DefinitionParams):
    doc, offset = _doc_offset(ls, params)
    where = features.definition(build(doc.source), offset)
    if where is None:
        return None
    return t.Location(uri=doc.uri, range=_range(doc, *where))


def _document_symbol(doc: TextDocument, s: features.Symbol) -> t.DocumentSymbol:
    return t.DocumentSymbol(
        name=s.name, kind=_SYMBOL_KINDS.get(s.kind, t.SymbolKind.Property),
        range=_range(doc, s.start, s.end), selection_range=_range(doc, s.sel_start, s.sel_end),
        children=[_document_symbol(doc, c) for c in s.children])


@server.feature(t.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
def document_symbol(ls: DhflowServer, params: t.DocumentSymbolParams):
    doc = ls.workspace.get_text_document(params.text_document.uri)
    return [_document_symbol(doc, s) for s in features.symbols(build(doc.source))]


@server.feature(t.TEXT_DOCUMENT_FORMATTING)
def formatting(ls: DhflowServer, params: t.DocumentFormattingParams):
    """The whole document in the `dhflow fmt` layout; no edit while it does not parse."""
    doc = ls.workspace.get_text_document(params.text_document.uri)
    try:
        new = format_text(doc.source, _path(doc.uri))
    except (DiagnosticError, RecursionError):
        return []
    if new == doc.source:
        return []
    end = doc.client_position_at_offset(len(doc.source))
    return [t.TextEdit(range=t.Range(t.Position(0, 0), end), new_text=new)]


def serve_stdio() -> None:
    """Run the server on stdin/stdout until the client sends shutdown and exit."""
    server.start_io()


__all__ = ["server", "serve_stdio"]
