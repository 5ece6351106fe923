/**
 * Hostile and broken images (issue #2's malformed images, issue #7's bounds): each one must fail with one clear
 * line that names the file and the reason, within seconds, without big allocations, and without changing the file.
 * The images are built at test time from qemu-img images (test/fuzz/malformed-cases.ts).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { openImage } from '../../src/qcow2/open';
import { NodeFileIo } from '../../src/qcow2/io/node';
import { Qcow2Error } from '../../src/qcow2/errors';
import type { Qcow2IoOps } from '../../src/qcow2/io/ops';
import { commands } from '../../src/cli/commands/index';
import { cli, scratchDir } from '../helpers/qemu';
import { CaseDir, malformedCases, type MalformedCase } from '../fuzz/malformed-cases';

const MAX_SECONDS = 5;
/** Peak RSS growth allowed while one case fails; the images are at most a few MiB. */
const MAX_RSS_GROWTH = 64 * 1024 * 1024;

/** Opens real files, remembering the largest single read (a proxy for the largest buffer the engine made). */
function trackingOpen(stats: { maxRead: number }) {
  return async (path: string, readOnly: boolean): Promise<Qcow2IoOps> => {
    const io = await NodeFileIo.open(path, readOnly);
    const readAt = io.readAt.bind(io);
    io.readAt = (buf: Uint8Array, offset: number) => {
      stats.maxRead = Math.max(stats.maxRead, buf.length);
      return readAt(buf, offset);
    };
    return io;
  };
}

/** Opens the image (and reads guest offset 0 for read-time cases); returns what was thrown. */
async function failure(c: MalformedCase, path: string, readOnly: boolean, stats: { maxRead: number }): Promise<unknown> {
  let dev;
  try {
    dev = await openImage(path, { readOnly, openIo: trackingOpen(stats) });
  } catch (err) {
    if (c.when === 'open') return err;
    throw new Error(`expected the open to succeed and the read to fail, but the open failed: ${(err as Error).message}`, { cause: err });
  }
  try {
    if (c.when === 'open') return new Error('the image opened');
    await dev.readAt(new Uint8Array(65536), 0);
    if (c.when === 'read') return new Error('the read succeeded');
    await dev.writeAt(new Uint8Array(512), 0);
    return new Error('the write succeeded');
  } catch (err) {
    return err;
  } finally {
    await dev.close();
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Hashes of every file in the folder (in-process: the folder holds ~60 small images). */
function shaAll(dir: string): Map<string, string> {
  return new Map(
    readdirSync(dir).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(`${dir}/${f}`))
        .digest('hex'),
    ]),
  );
}

const scratch = scratchDir('q2i-malformed-');
const d = new CaseDir(scratch.dir);
after(() => scratch.cleanup());
/** Each case is built once and used by both the engine and the CLI tests (which check it stays unchanged). */
const built = new Map<MalformedCase, string>();
const buildOnce = (c: MalformedCase): string => built.get(c) ?? (built.set(c, c.build(d)), built.get(c)!);

describe('malformed images', function () {
  this.timeout(60_000);

  it('has at least 20 cases', () => assert.ok(malformedCases.length >= 20, `${malformedCases.length} cases`));

  for (const c of malformedCases) {
    it(`${c.name}: one-line Qcow2Error naming the file, fast, bounded, file unchanged`, async () => {
      const path = buildOnce(c);
      const sums = shaAll(scratch.dir);
      const named = c.names ? c.names(d) : path;
      const fileSize = statSync(path).size;
      for (const readOnly of c.when === 'write' ? [false] : [true, false]) {
        const stats = { maxRead: 0 };
        const rssBefore = process.resourceUsage().maxRSS * 1024;
        const t0 = performance.now();
        const err = await failure(c, path, readOnly, stats);
        const seconds = (performance.now() - t0) / 1000;
        const rssGrowth = process.resourceUsage().maxRSS * 1024 - rssBefore;

        assert.ok(err instanceof Qcow2Error, `expected a Qcow2Error, got ${(err as Error)?.stack ?? String(err)}`);
        assert.ok(!/[\r\n]/.test(err.message), `message spans lines: ${JSON.stringify(err.message)}`);
        assert.match(err.message, new RegExp(`^${escapeRe(named)}: `), `message does not start with the file name`);
        assert.match(err.reason, c.reason);
        assert.ok(seconds < MAX_SECONDS, `took ${seconds.toFixed(2)} s`);
        assert.ok(rssGrowth < MAX_RSS_GROWTH, `peak RSS grew by ${(rssGrowth / 2 ** 20).toFixed(1)} MiB`);
        // Nothing read in one piece is larger than the file (or a few clusters for a compressed one).
        assert.ok(stats.maxRead <= Math.max(fileSize, 4 * 65536 + 512), `read ${stats.maxRead} bytes at once from a ${fileSize}-byte file`);
      }
      assert.deepEqual(shaAll(scratch.dir), sums, 'a file changed');
    });
  }
});

describe('malformed images through the CLI', function () {
  this.timeout(60_000);

  for (const c of malformedCases) {
    // info (like qemu-img info) does not open the backing chain unless asked to.
    const when = c.cliWhen ?? c.when;
    const argv = (p: string) =>
      when === 'read' || c.cliRead ? ['read', p, '0', '65536'] : when === 'write' ? ['write', '-z', p, '0', '512'] : ['info', '--backing-chain', p];
    it(`${c.name}: ${argv('x').slice(0, -1).join(' ')} exits 1 with one line on stderr`, async function () {
      assert.ok(
        commands.some((cmd) => cmd.name === argv('')[0]),
        `the CLI has no ${argv('')[0]} command`,
      );
      const path = buildOnce(c);
      const sums = shaAll(scratch.dir);
      const r = await cli(argv(path));
      assert.equal(r.code, 1, `exit code ${r.code}, stderr ${r.stderr}`);
      assert.equal(r.stdout.length, 0);
      const lines = r.stderr.split('\n');
      assert.equal(lines.length, 2, `stderr is not one line: ${JSON.stringify(r.stderr)}`);
      assert.equal(lines[1], '');
      const named = c.names ? c.names(d) : path;
      const prefix = `qcow2-inspector: ${named}: `;
      assert.ok(lines[0].startsWith(prefix), lines[0]);
      assert.match(lines[0].slice(prefix.length), c.reason);
      assert.doesNotMatch(lines[0], /internal error| {4}at /);
      assert.deepEqual(shaAll(scratch.dir), sums, 'a file changed');
    });
  }
});
