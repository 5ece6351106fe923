import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Every .ts file below `dir`, recursively (for tests that scan the sources). */
export function tsFilesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? tsFilesUnder(p) : p.endsWith('.ts') ? [p] : [];
  });
}
