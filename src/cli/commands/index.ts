import type { CliCommand } from '../command';
import { mapCommand } from './map';
import { infoCommand } from './info';
import { convertCommand } from './convert';
import { readCommand } from './read';
import { createCommand } from './create';
import { writeCommand } from './write';
import { checkCommand } from './check';
import { usageCommand } from './usage';
import { fsCommand } from './fs';
import { rebaseCommand } from './rebase';
import { findCommand } from './find';
import { snapshotCommand } from './snapshot';
import { compareCommand } from './compare';
import { measureCommand } from './measure';
import { bitmapCommand } from './bitmap';

/** Every subcommand. Add new ones here, one line each. */
export const commands: CliCommand[] = [
  mapCommand,
  infoCommand,
  convertCommand,
  readCommand,
  createCommand,
  writeCommand,
  checkCommand,
  usageCommand,
  fsCommand,
  rebaseCommand,
  findCommand,
  snapshotCommand,
  compareCommand,
  measureCommand,
  bitmapCommand,
];
