/** The extension's settings (contributes.configuration in package.json). */
import * as vscode from 'vscode';

export interface InspectorSettings {
  l2CacheSlices: number;
  openReadOnly: boolean;
  sectorSize: number;
  /** Let VS Code's auto-save write hex edits (off: only an explicit save writes). */
  hexAutoSave: boolean;
}

export function readSettings(): InspectorSettings {
  const c = vscode.workspace.getConfiguration('qcow2Inspector');
  const l2 = c.get<number>('l2CacheSlices', 256);
  const sector = c.get<number>('sectorSize', 512);
  return {
    l2CacheSlices: Number.isInteger(l2) && l2 >= 1 && l2 <= 65536 ? l2 : 256,
    openReadOnly: c.get<boolean>('openReadOnly', false),
    sectorSize: [512, 1024, 2048, 4096].includes(sector) ? sector : 512,
    hexAutoSave: c.get<boolean>('hex.autoSave', false) === true,
  };
}
