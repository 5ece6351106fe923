/**
 * "QCOW2: Find in Guest Disk" on the active image: asks for a mode and a pattern, runs the engine search
 * (src/search) with cancellable progress, and lists the hits (offset, LBA, layer, host offset, a context preview);
 * picking one shows it in the hex view. The search opens its own read-only device, so it never touches the
 * document's pending edits or write path.
 */
import * as vscode from 'vscode';
import { keyOptions } from '../unlocked-keys';
import { asQcow2Error, openImage } from '../../qcow2';
import { compilePattern, PatternError, searchDisk, type PatternMode } from '../../search';
import type { Editors } from '../editor-session';
import { allowPathForTrust } from '../trust';
import { readSettings } from '../settings';

const RESULT_LIMIT = 10_000;
const PREVIEW_BYTES = 24;

/** Automation and tests: search without prompts and show hit number `pick` (default the first). */
interface FindArgs {
  mode: PatternMode;
  pattern: string;
  ignoreCase?: boolean;
  pick?: number;
}

function isFindArgs(a: unknown): a is FindArgs {
  const f = a as FindArgs;
  return typeof a === 'object' && a !== null && typeof f.pattern === 'string' && ['hex', 'text', 'utf16', 'regex'].includes(f.mode);
}

export function findInGuestDiskCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.findInGuestDisk', (arg?: unknown) => findInGuestDisk(editors, arg));
}

async function findInGuestDisk(editors: Editors, arg?: unknown): Promise<number | undefined> {
  const s = editors.activeSession();
  if (!s) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a qcow2 image in the QCOW2 editor first.'));
    return undefined;
  }
  const modes: { label: string; mode: PatternMode; ignoreCase: boolean }[] = [
    { label: vscode.l10n.t('Text (UTF-8)'), mode: 'text', ignoreCase: false },
    { label: vscode.l10n.t('Text, ignore case'), mode: 'text', ignoreCase: true },
    { label: vscode.l10n.t('Hex bytes (?? = any byte)'), mode: 'hex', ignoreCase: false },
    { label: vscode.l10n.t('Text as UTF-16LE'), mode: 'utf16', ignoreCase: false },
    { label: vscode.l10n.t('Regular expression over bytes'), mode: 'regex', ignoreCase: false },
  ];
  const auto = isFindArgs(arg) ? arg : undefined;
  const picked = auto
    ? { label: auto.mode, mode: auto.mode, ignoreCase: auto.ignoreCase ?? false }
    : await vscode.window.showQuickPick(modes, { title: vscode.l10n.t('Find in Guest Disk') });
  if (!picked) return undefined;
  const source = auto
    ? auto.pattern
    : await vscode.window.showInputBox({
        title: vscode.l10n.t('Find in Guest Disk'),
        prompt: picked.label,
        validateInput: (v) => {
          try {
            compilePattern({ mode: picked.mode, source: v, ignoreCase: picked.ignoreCase });
            return undefined;
          } catch (err) {
            return err instanceof PatternError ? err.message : String(err);
          }
        },
      });
  if (!source) return undefined;
  const path = s.doc.path;
  try {
    const dev = await openImage(path, { readOnly: true, allowPath: allowPathForTrust(), ...keyOptions(s.doc.encryptionKey) });
    try {
      const pattern = compilePattern({ mode: picked.mode, source, ignoreCase: picked.ignoreCase });
      const result = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Searching {0}', path), cancellable: true },
        async (progress, token) => {
          const ac = new AbortController();
          token.onCancellationRequested(() => ac.abort());
          let last = 0;
          return searchDisk(dev, pattern, {
            limit: RESULT_LIMIT,
            signal: ac.signal,
            onProgress: (done, total) => {
              const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
              if (pct > last) progress.report({ increment: pct - last });
              last = pct;
            },
          });
        },
      );
      if (result.hits.length === 0) {
        void vscode.window.showInformationMessage(result.cancelled ? vscode.l10n.t('Search cancelled.') : vscode.l10n.t('No match in the guest disk.'));
        return undefined;
      }
      if (auto) {
        const hit = result.hits[Math.max(0, Math.min(result.hits.length - 1, auto.pick ?? 0))];
        s.show('hex', hit.offset);
        return hit.offset;
      }
      const sector = readSettings().sectorSize;
      const items: (vscode.QuickPickItem & { offset: number })[] = [];
      for (const h of result.hits.slice(0, 1000)) {
        const bytes = new Uint8Array(Math.min(PREVIEW_BYTES, dev.virtualSize - h.offset));
        await dev.readAt(bytes, h.offset);
        items.push({
          offset: h.offset,
          label: `0x${h.offset.toString(16)}`,
          description: `LBA ${Math.floor(h.offset / sector)} · layer ${h.layer} · host ${h.hostOffset === null ? '–' : `0x${h.hostOffset.toString(16)}`}`,
          detail: Array.from(bytes, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join(''),
        });
      }
      const more = result.limitReached
        ? vscode.l10n.t(' (stopped at {0}; there may be more)', RESULT_LIMIT)
        : result.cancelled
          ? vscode.l10n.t(' (cancelled)')
          : '';
      const choice = await vscode.window.showQuickPick(items, { title: vscode.l10n.t('{0} hits', result.hits.length) + more, matchOnDetail: true });
      if (!choice) return undefined;
      s.show('hex', choice.offset);
      return choice.offset;
    } finally {
      await dev.close();
    }
  } catch (err) {
    void vscode.window.showErrorMessage(asQcow2Error(err, path).message);
    return undefined;
  }
}
