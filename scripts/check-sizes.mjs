// `node scripts/check-sizes.mjs [DIR…]`: lists the source files over 400 lines and the classes over 300 lines in
// src/ and webview/ (or the given folders), the project's size guide ("small files with one job", about 400 and
// about 300). Exits 1 if any is more than a tenth over it, so the guide holds itself in `npm run lint`.
// Classes are found with the TypeScript compiler's own parser, so nested braces in strings or templates do not fool it.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const MAX_FILE_LINES = 400;
const MAX_CLASS_LINES = 300;
/** "About": what is over the guide is listed; what is over it by more than this fails. */
const SLACK = 1.1;

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const roots = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['src', 'webview'];

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      if (name !== 'node_modules' && name !== 'build') yield* walk(path);
    } else if (/\.(ts|tsx|mts|cts)$/.test(name) && !name.endsWith('.d.ts')) yield path;
  }
}

const found = [];
let failed = false;
for (const root of roots) {
  for (const path of walk(resolve(repo, root))) {
    const text = readFileSync(path, 'utf8');
    const rel = relative(repo, path);
    const lines = text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
    failed ||= lines > MAX_FILE_LINES * SLACK;
    if (lines > MAX_FILE_LINES) found.push(`${rel}: file of ${lines} lines (> ${MAX_FILE_LINES})`);
    const sf = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true);
    const visit = (node) => {
      if (ts.isClassDeclaration(node) || ts.isClassExpression(node)) {
        const first = sf.getLineAndCharacterOfPosition(node.getStart(sf)).line;
        const last = sf.getLineAndCharacterOfPosition(node.getEnd()).line;
        const n = last - first + 1;
        failed ||= n > MAX_CLASS_LINES * SLACK;
        if (n > MAX_CLASS_LINES) found.push(`${rel}:${first + 1}: class ${node.name?.text ?? '(anonymous)'} of ${n} lines (> ${MAX_CLASS_LINES})`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
  }
}
for (const f of found) console.log(`${failed ? '' : 'note: '}${f}`);
if (failed) console.log(`check-sizes: a file or class is more than ${Math.round((SLACK - 1) * 100)} % over the size guide`);
process.exitCode = failed ? 1 : 0;
