/** "QCOW2: Show Image Info": the header and what it means, in the log and a notification (no key needed for LUKS). */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { asQcow2Error, openImage } from '../../qcow2';
import { formatBytes } from '../../shared/format';
import type { OverviewData } from '../../shared/protocol';
import type { Editors } from '../editor-session';
import { buildOverview } from '../overview';
import { readSettings } from '../settings';
import { log } from '../log';
import { isEncryptedRefusal, openEncryptedForOverview } from '../encrypted-open';
import { targetFile } from './target-file';

export function showInfoCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.showInfo', (arg?: unknown) => showInfo(editors, arg));
}

async function showInfo(editors: Editors, arg: unknown): Promise<OverviewData | undefined> {
  const path = await targetFile(editors, arg, vscode.l10n.t('Show Image Info'));
  if (!path) return undefined;
  try {
    const t0 = Date.now();
    const l2CacheSlices = readSettings().l2CacheSlices;
    const dev = await openImage(path, { readOnly: true, openBacking: false, l2CacheSlices }).catch((err) => {
      // An encrypted image shows its header without a key (encrypted-open.ts).
      if (isEncryptedRefusal(asQcow2Error(err, path).reason)) return openEncryptedForOverview(path, { l2CacheSlices });
      throw err;
    });
    try {
      const o = buildOverview(dev, Date.now() - t0);
      const ch = log();
      ch.info(`info ${path}`);
      ch.info(`  virtual size: ${formatBytes(o.virtualSize)} (${o.virtualSize} bytes), file size ${formatBytes(o.fileSize)}, cluster size ${o.clusterSize}`);
      for (const f of o.fields) ch.info(`  ${f.name} = ${f.raw}  (${f.meaning})`);
      for (const w of o.warnings) ch.warn(`  ${w.message}`);
      ch.show(true);
      const s = editors.activeSession();
      if (s && s.doc.path === path) s.show('overview');
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          '{0}: qcow2 v{1}, virtual size {2}, cluster size {3}',
          nodePath.basename(path),
          String(o.version),
          formatBytes(o.virtualSize),
          formatBytes(o.clusterSize),
        ),
      );
      return o;
    } finally {
      await dev.close();
    }
  } catch (err) {
    void vscode.window.showErrorMessage(asQcow2Error(err, path).message);
    return undefined;
  }
}
