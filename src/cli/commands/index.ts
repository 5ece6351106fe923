import type { CliCommand } from '../command';
import { mapCommand } from './map';
import { infoCommand } from './info';

/** Every subcommand. Add new ones here, one line each. */
export const commands: CliCommand[] = [
  mapCommand,
  infoCommand,
];
