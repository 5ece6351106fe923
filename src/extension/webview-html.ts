/** The webview's HTML: a strict CSP with a per-load nonce; scripts and styles only from dist/. */
import * as vscode from 'vscode';
import { contentSecurityPolicy, nonce } from './csp';

export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
  const n = nonce();
  const asset = (p: string): string => webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', p)).toString();
  return `<!DOCTYPE html>
<html lang="${vscode.env.language}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${contentSecurityPolicy(webview.cspSource, n)}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${asset('media/codicon.css')}" id="vscode-codicon-stylesheet" nonce="${n}">
<link rel="stylesheet" href="${asset('media/editor.css')}" nonce="${n}">
<title>QCOW2 Inspector</title>
</head>
<body>
<div id="app" data-nonce="${n}"></div>
<script nonce="${n}" src="${asset('webview.js')}"></script>
</body>
</html>`;
}
