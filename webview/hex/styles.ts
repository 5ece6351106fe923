/** The hex view's styles, themed with VS Code's --vscode-* variables. Installed as a constructed style sheet (CSP-safe). */
import { KIND_COLORS, SOURCE_KINDS } from '../kinds';

export const ROW_HEIGHT = 18;

const kindRules = SOURCE_KINDS.map((k, i) => `.hx-k${i} { color: ${KIND_COLORS[k]}; } .hx-sw${i} { background: ${KIND_COLORS[k]}; }`).join('\n');

export const HEX_CSS = `
.hx-root { display: flex; flex-direction: column; height: 100%; min-height: 0; color: var(--vscode-editor-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); }
.hx-toolbar { display: flex; flex-wrap: wrap; gap: 6px 10px; align-items: center; padding: 4px 6px; border-bottom: 1px solid var(--vscode-panel-border, transparent); }
.hx-toolbar label { display: inline-flex; gap: 4px; align-items: center; }
.hx-toolbar input, .hx-toolbar select, .hx-side select { background: var(--vscode-input-background); color: var(--vscode-input-foreground); border: 1px solid var(--vscode-input-border, var(--vscode-panel-border, transparent)); font: inherit; padding: 1px 4px; }
.hx-toolbar input { width: 16em; font-family: var(--vscode-editor-font-family); }
.hx-toolbar button, .hx-side button { background: var(--vscode-button-secondaryBackground, var(--vscode-button-background)); color: var(--vscode-button-secondaryForeground, var(--vscode-button-foreground)); border: none; padding: 2px 8px; cursor: pointer; font: inherit; }
.hx-toolbar button:hover, .hx-side button:hover { background: var(--vscode-button-secondaryHoverBackground, var(--vscode-button-hoverBackground)); }
.hx-status { color: var(--vscode-descriptionForeground); white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
.hx-status.hx-err { color: var(--vscode-errorForeground); }
.hx-live { position: absolute; width: 1px; height: 1px; overflow: hidden; clip-path: inset(50%); white-space: nowrap; }
.hx-sub { color: var(--vscode-descriptionForeground); font-size: 90%; }
.hx-body { flex: 1; display: flex; min-height: 0; }
.hx-grid { flex: 1; min-width: 0; overflow-x: auto; overflow-y: hidden; outline: none; font-family: var(--vscode-editor-font-family, monospace); font-size: var(--vscode-editor-font-size, 13px); white-space: pre; user-select: none; position: relative; }
.hx-grid:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: -1px; }
.hx-row { height: ${ROW_HEIGHT}px; line-height: ${ROW_HEIGHT}px; display: flex; contain: layout style; min-width: max-content; }
.hx-off, .hx-hex, .hx-txt { flex: none; }
.hx-rows { min-width: max-content; }
.hx-row.hx-pstart { box-shadow: inset 0 1px 0 var(--vscode-charts-yellow, #cca700); }
.hx-head { color: var(--vscode-descriptionForeground); border-bottom: 1px solid var(--vscode-panel-border, transparent); }
.hx-off { color: var(--vscode-editorLineNumber-foreground, var(--vscode-descriptionForeground)); padding: 0 12px 0 6px; }
.hx-hex, .hx-txt { white-space: pre; }
.hx-txt { padding-left: 14px; }
.hx-mark { padding-left: 12px; color: var(--vscode-charts-yellow, #cca700); overflow: hidden; text-overflow: ellipsis; flex: 1 1 0; min-width: 0; contain: inline-size; }
.hx-loading { color: var(--vscode-disabledForeground, #888); }
.hx-sel { background: var(--vscode-editor-selectionBackground); }
.hx-cur { outline: 1px solid var(--vscode-editorCursor-foreground, var(--vscode-focusBorder)); outline-offset: -1px; }
.hx-grid:not(:focus) .hx-cur { outline-style: dashed; }
.hx-pb { box-shadow: inset 2px 0 0 var(--vscode-charts-yellow, #cca700); }
.hx-nib { text-decoration: underline; }
${kindRules}
.hx-edit { color: var(--vscode-gitDecoration-modifiedResourceForeground, #e2c08d); font-weight: bold; }
.hx-sw-edit { background: var(--vscode-gitDecoration-modifiedResourceForeground, #e2c08d); }
.hx-scroll { width: 14px; position: relative; background: var(--vscode-scrollbar-shadow, transparent); border-left: 1px solid var(--vscode-panel-border, transparent); }
.hx-thumb { position: absolute; left: 2px; right: 2px; background: var(--vscode-scrollbarSlider-background); border-radius: 2px; }
.hx-thumb:hover { background: var(--vscode-scrollbarSlider-hoverBackground); }
.hx-thumb.hx-drag { background: var(--vscode-scrollbarSlider-activeBackground); }
.hx-toolbar button.hx-on { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
.hx-side[hidden] { display: none; }
.hx-side { width: 300px; flex: none; overflow: auto; border-left: 1px solid var(--vscode-panel-border, transparent); padding: 4px 8px; }
.hx-side h3 { font-size: 11px; text-transform: uppercase; margin: 10px 0 4px; color: var(--vscode-descriptionForeground); }
.hx-side table { border-collapse: collapse; width: 100%; }
.hx-side td, .hx-side th { padding: 1px 4px; text-align: left; vertical-align: top; }
.hx-side td.hx-v { font-family: var(--vscode-editor-font-family, monospace); word-break: break-all; }
.hx-owner-link { background: none; border: none; padding: 0; font: inherit; color: var(--vscode-textLink-foreground); text-decoration: underline; cursor: pointer; }
.hx-owner-link:focus-visible { outline: 1px solid var(--vscode-focusBorder); }
.hx-parts tr { cursor: pointer; }
.hx-parts tbody tr:hover { background: var(--vscode-list-hoverBackground); }
.hx-parts tbody tr:focus { outline: 1px solid var(--vscode-focusBorder); }
.hx-legend { display: flex; flex-wrap: wrap; gap: 4px 10px; }
.hx-legend span.hx-sw { display: inline-block; width: 10px; height: 10px; margin-right: 4px; vertical-align: middle; }
.hx-warn { color: var(--vscode-editorWarning-foreground); }
.hx-banner { padding: 4px 8px; color: var(--vscode-editorWarning-foreground, var(--vscode-foreground)); background: var(--vscode-inputValidation-warningBackground, transparent); border-bottom: 1px solid var(--vscode-inputValidation-warningBorder, var(--vscode-panel-border, transparent)); }
.hx-banner[hidden] { display: none; }
`;

let installed = false;

export function installStyles(doc: Document): void {
  if (installed) return;
  installed = true;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(HEX_CSS);
  doc.adoptedStyleSheets = [...doc.adoptedStyleSheets, sheet];
}
