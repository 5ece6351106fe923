/** Every palette command, one file each (the same shape as src/cli/commands/). Add new ones here, one line each. */
import type * as vscode from 'vscode';
import type { Editors } from '../editor-session';
import { checkIntegrityCommand } from './check-integrity';
import { createImageCommand } from './create-image';
import { findInGuestDiskCommand } from './find-in-guest-disk';
import { goToOffsetCommand } from './go-to-offset';
import { openReadOnlyCommand } from './open-read-only';
import { saveHexEditsCommand } from './save-hex-edits';
import { showFindingCommand } from './show-finding';
import { showInfoCommand } from './show-info';
import { forgetPassphraseCommand, unlockCommand } from './unlock';

export function registerCommands(editors: Editors, secrets: vscode.SecretStorage): vscode.Disposable[] {
  return [
    checkIntegrityCommand(editors),
    showInfoCommand(editors),
    showFindingCommand(editors),
    goToOffsetCommand(editors),
    findInGuestDiskCommand(editors),
    createImageCommand(),
    saveHexEditsCommand(editors),
    openReadOnlyCommand(editors),
    unlockCommand(editors),
    forgetPassphraseCommand(editors, secrets),
  ];
}
