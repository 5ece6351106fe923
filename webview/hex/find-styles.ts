/** Styles of the hex view's Find widget and hit marks, themed like VS Code's editor find widget (--vscode-* colours). */
export const FIND_CSS = `
.hx-body { position: relative; }
.hx-find { position: absolute; top: 0; right: 20px; z-index: 5; width: 540px; max-width: calc(100% - 40px); box-sizing: border-box; padding: 4px 6px; display: flex; flex-direction: column; gap: 4px;
  background: var(--vscode-editorWidget-background); color: var(--vscode-editorWidget-foreground, var(--vscode-foreground));
  border: 1px solid var(--vscode-editorWidget-border, var(--vscode-contrastBorder, transparent)); border-top: none;
  box-shadow: 0 0 8px 2px var(--vscode-widget-shadow, transparent); }
.hx-find[hidden] { display: none; }
/* Over the bytes, not over the data inspector when it is shown. */
.hx-body:has(> .hx-side:not([hidden])) > .hx-find { right: 320px; }
.hx-find-row { display: flex; align-items: center; gap: 2px; min-width: 0; }
.hx-find-input { flex: 1; min-width: 0; }
.hx-find vscode-single-select { width: 10em; margin-right: 4px; }
.hx-find-status { flex: 1; min-width: 0; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; color: var(--vscode-descriptionForeground); padding-left: 4px; }
.hx-find-status.hx-err { color: var(--vscode-errorForeground); }
.hx-find-progress { display: flex; align-items: center; gap: 4px; }
.hx-find-progress[hidden] { display: none; }
.hx-find-progress vscode-progress-bar { flex: 1; }
.hx-find-list[hidden] { display: none; }
.hx-find-summary { color: var(--vscode-descriptionForeground); padding: 2px 0; }
.hx-find-rows { max-height: 40vh; overflow: auto; border-top: 1px solid var(--vscode-editorWidget-border, var(--vscode-panel-border, transparent)); }
.hx-find-hit { display: flex; gap: 8px; padding: 1px 4px; cursor: pointer; white-space: pre; font-family: var(--vscode-editor-font-family, monospace); }
.hx-find-hit:hover { background: var(--vscode-list-hoverBackground); }
.hx-find-hit:focus { outline: 1px solid var(--vscode-list-focusOutline, var(--vscode-focusBorder)); outline-offset: -1px; }
.hx-find-hit[aria-selected="true"] { background: var(--vscode-list-inactiveSelectionBackground); color: var(--vscode-list-inactiveSelectionForeground, inherit); }
.hx-fo { min-width: 12ch; }
.hx-fl { min-width: 12ch; color: var(--vscode-descriptionForeground); }
.hx-fp { flex: none; width: 14ch; color: var(--vscode-descriptionForeground); overflow: hidden; text-overflow: ellipsis; }
.hx-fv { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; }
.hx-fo, .hx-fl { flex: none; }
.hx-find-ptext { color: var(--vscode-descriptionForeground); white-space: nowrap; }
.hx-fh { background: var(--vscode-editor-findMatchHighlightBackground); }
.hx-fc { background: var(--vscode-editor-findMatchBackground); outline: 1px solid var(--vscode-editor-findMatchBorder, transparent); outline-offset: -1px; }
`;

let installed = false;

export function installFindStyles(doc: Document): void {
  if (installed) return;
  installed = true;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(FIND_CSS);
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
}
