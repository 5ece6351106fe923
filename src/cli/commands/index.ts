import type { CliCommand } from '../command';

/** Every subcommand. Add new ones here, one line each. */
export const commands: CliCommand[] = [];
