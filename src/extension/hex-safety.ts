/**
 * Safety checks before the hex view writes to an image (Save, Save As). Some conditions refuse the write,
 * one asks first; each says which applies. `writeBlockers` is pure and unit-tested; `confirmSafeToWrite`
 * adds the checks that need the system (file permissions, /proc/locks) and VS Code (trust, modal dialog).
 */
import { access, constants } from 'node:fs/promises';
import { AUTOCLEAR_BITMAPS, isSet, type Qcow2Dev } from '../qcow2';
import { checkInUse, type InUseResult } from './in-use';

export type BlockerKind = 'read-only' | 'corrupt' | 'damaged' | 'dirty' | 'encrypted' | 'untrusted' | 'in-use';

export interface WriteBlocker {
  kind: BlockerKind;
  /** 'refuse': no write; 'ask': write only after the user confirms. */
  action: 'refuse' | 'ask';
  message: string;
}

export interface WriteSafetyInput {
  /** Why the editor is read-only (variant, setting), if it is. */
  readOnlyReason?: string;
  /** The file cannot be opened for writing (permissions, read-only file system). */
  fileNotWritable?: string;
  corrupt: boolean;
  /** Damage found at open (qemu-img opens such images too): the engine refuses to write until repaired. */
  damage?: readonly string[];
  /** The dirty flag (lazy refcounts not closed cleanly): the engine refuses to write until repaired. */
  dirty?: boolean;
  cryptMethod: number;
  /** An encrypted image is open with its key and the engine can write it (LUKS; legacy AES stays read-only). */
  encryptedWritable?: boolean;
  workspaceTrusted: boolean;
  inUse?: InUseResult;
}

/** Every reason not to write now, refusals first. Empty when writing is safe. */
export function writeBlockers(s: WriteSafetyInput): WriteBlocker[] {
  const out: WriteBlocker[] = [];
  if (!s.workspaceTrusted) out.push({ kind: 'untrusted', action: 'refuse', message: 'the workspace is not trusted, so images open read-only' });
  if (s.readOnlyReason) out.push({ kind: 'read-only', action: 'refuse', message: `the image is open read-only (${s.readOnlyReason.replace(/\.$/, '')})` });
  if (s.fileNotWritable) out.push({ kind: 'read-only', action: 'refuse', message: `the image file is read-only (${s.fileNotWritable})` });
  if (s.corrupt) out.push({ kind: 'corrupt', action: 'refuse', message: 'the image is marked corrupt; repair it with qemu-img check -r all before writing' });
  if (s.damage?.length) {
    out.push({
      kind: 'damaged',
      action: 'refuse',
      message: `the image is damaged (${s.damage.join('; ')}); repair it with qemu-img check -r all before writing`,
    });
  }
  if (s.dirty)
    out.push({
      kind: 'dirty',
      action: 'refuse',
      message: 'the image has the dirty flag set (lazy refcounts, not closed cleanly); repair it with qemu-img check -r all before writing',
    });
  if (s.cryptMethod !== 0 && !s.encryptedWritable)
    out.push({
      kind: 'encrypted',
      action: 'refuse',
      message:
        s.cryptMethod === 2
          ? 'the image is encrypted (LUKS) and locked; unlock it with its passphrase first'
          : 'the image is encrypted with legacy AES, which is read-only here',
    });
  if (s.inUse?.state === 'in-use') out.push({ kind: 'in-use', action: 'ask', message: s.inUse.message });
  return out;
}

/** Gathers the inputs for `writeBlockers` from the file, the device's header and /proc/locks. */
export async function gatherWriteSafety(
  path: string,
  dev: Pick<Qcow2Dev, 'header' | 'info' | 'bitmaps'> & { openDamage?: readonly string[]; crypto?: Qcow2Dev['crypto'] },
  readOnlyReason: string | undefined,
  workspaceTrusted: boolean,
): Promise<WriteSafetyInput> {
  let fileNotWritable: string | undefined;
  try {
    await access(path, constants.W_OK);
  } catch (err) {
    fileNotWritable = (err as NodeJS.ErrnoException).code ?? 'not writable';
  }
  const inUse = await checkInUse(path).catch(() => undefined);
  return {
    readOnlyReason,
    fileNotWritable,
    corrupt: dev.info.corrupt,
    damage: dev.openDamage,
    dirty: dev.info.dirty,
    cryptMethod: dev.header.cryptMethod,
    encryptedWritable: dev.crypto?.writable === true,
    workspaceTrusted,
    inUse,
  };
}

/**
 * Bitmaps that writes mark, as QEMU does (the engine's write/bitmap-tracking.ts): the bitmaps autoclear bit set,
 * enabled and not in use. Enabled persistent bitmaps do not block writes.
 */
export function trackedBitmaps(dev: Pick<Qcow2Dev, 'header' | 'bitmaps'>): string[] {
  if (!isSet(dev.header.autoclearFeatures, AUTOCLEAR_BITMAPS)) return [];
  return dev.bitmaps.filter((b) => b.flagNames.includes('auto') && !b.flagNames.includes('in-use')).map((b) => b.name);
}

/**
 * Why hex edits cannot be saved now (the first blocker, refusals and "in use" alike), or undefined. The hex view
 * takes no edits while there is one, so nobody types bytes that Save will refuse.
 */
export async function editBlocker(
  path: string,
  dev: Pick<Qcow2Dev, 'header' | 'info' | 'bitmaps'> & { openDamage?: readonly string[]; crypto?: Qcow2Dev['crypto'] },
  readOnlyReason: string | undefined,
  workspaceTrusted: boolean,
): Promise<WriteBlocker | undefined> {
  return writeBlockers(await gatherWriteSafety(path, dev, readOnlyReason, workspaceTrusted))[0];
}

/**
 * Throws when a refusal applies; asks (modal) when the image seems to be in use. Resolves true when the
 * write may go ahead, false when the user declined.
 */
export async function confirmSafeToWrite(
  path: string,
  dev: Pick<Qcow2Dev, 'header' | 'info' | 'bitmaps'> & { openDamage?: readonly string[]; crypto?: Qcow2Dev['crypto'] },
  readOnlyReason: string | undefined,
): Promise<boolean> {
  const vscode = await import('vscode');
  const blockers = writeBlockers(await gatherWriteSafety(path, dev, readOnlyReason, vscode.workspace.isTrusted));
  const refusal = blockers.find((b) => b.action === 'refuse');
  if (refusal) throw new Error(vscode.l10n.t('Not saved: {0}.', refusal.message));
  const ask = blockers.find((b) => b.action === 'ask');
  if (!ask) return true;
  const go = vscode.l10n.t('Save Anyway');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t('Save to {0}?', path),
    { modal: true, detail: vscode.l10n.t('{0}. Writing while QEMU runs can corrupt the image or the guest file system.', ask.message) },
    go,
  );
  return answer === go;
}
