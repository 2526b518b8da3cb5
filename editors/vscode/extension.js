// The dhflow VS Code extension: the grammar and language configuration are declarative
// (package.json); this file starts `dhflow lsp` and connects VS Code's language client to it.
'use strict';
const vscode = require('vscode');
const { LanguageClient, TransportKind } = require('vscode-languageclient/node');

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration('dhflow');
  const command = config.get('server.command', 'dhflow');
  const args = config.get('server.args', ['lsp']);
  const server = { command, args, transport: TransportKind.stdio };
  client = new LanguageClient('dhflow', 'dhflow', { run: server, debug: server }, {
    documentSelector: [{ scheme: 'file', language: 'dhflow' }, { scheme: 'untitled', language: 'dhflow' }],
  });
  context.subscriptions.push({ dispose: () => client && client.stop() });
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
