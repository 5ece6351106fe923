/**
 * `npm start`'s browser path: code-server on 127.0.0.1 with this repo installed as an extension (linked, so a
 * rebuild plus a window reload picks up changes), opening FOLDER and FILE. Prints the URL and runs until Ctrl+C.
 *   node --import tsx scripts/e2e/serve.ts FOLDER [FILE]
 */
import { startCodeServer } from './code-server';

async function main(): Promise<void> {
  const [folder, file] = process.argv.slice(2);
  if (!folder) throw new Error('usage: serve.ts FOLDER [FILE]');
  const server = await startCodeServer({ mode: 'person', settings: { 'workbench.startupEditor': 'none' } });
  console.log(`\nQCOW2 Inspector is running in code-server (VS Code in the browser). Open:\n\n  ${server.workbenchUrl(folder, { openFile: file })}\n`);
  console.log(`Server log: ${server.logFile}. Press Ctrl+C to stop.`);
  // Keep running; SIGINT/SIGTERM stop the server (handlers in code-server.ts).
  setInterval(() => {}, 1 << 30);
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
