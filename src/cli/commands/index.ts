import type { CliCommand } from '../command';
import { mapCommand } from './map';
import { infoCommand } from './info';
import { convertCommand } from './convert';
import { readCommand } from './read';

/** Every subcommand. Add new ones here, one line each. */
export const commands: CliCommand[] = [
  mapCommand,
  infoCommand,
  convertCommand,
  readCommand,
];
