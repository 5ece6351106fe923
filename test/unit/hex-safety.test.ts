/** Which conditions refuse a hex-view save and which ask first. */
import { strict as assert } from 'node:assert';
import { chmodSync } from 'node:fs';
import { writeBlockers, gatherWriteSafety, editBlocker } from '../../src/extension/hex-safety';
import { imageWarnings } from '../../src/extension/overview';
import { openImage } from '../../src/qcow2';
import { qemuImg, scratchDir } from '../helpers/qemu';

describe('hex view: write safety', () => {
  const base = { corrupt: false, cryptMethod: 0, workspaceTrusted: true };

  it('allows a plain writable image', () => {
    assert.deepEqual(writeBlockers(base), []);
  });

  it('names each refusal and asks when QEMU holds the image', () => {
    const all = writeBlockers({
      ...base,
      workspaceTrusted: false,
      readOnlyReason: 'Opened with the read-only QCOW2 editor.',
      fileNotWritable: 'EACCES',
      corrupt: true,
      cryptMethod: 2,
      inUse: { state: 'in-use', locks: [], message: 'the image seems to be in use by a running QEMU: x' },
    });
    assert.deepEqual(
      all.map((b) => [b.kind, b.action]),
      [
        ['untrusted', 'refuse'],
        ['read-only', 'refuse'],
        ['read-only', 'refuse'],
        ['corrupt', 'refuse'],
        ['encrypted', 'refuse'],
        ['in-use', 'ask'],
      ],
    );
    assert.match(all[1].message, /read-only QCOW2 editor\)$/);
    assert.match(all[4].message, /LUKS/);
  });

  it('an unlocked LUKS image is written like any other, with the same refusals; locked or legacy AES is refused', () => {
    assert.deepEqual(writeBlockers({ ...base, cryptMethod: 2, encryptedWritable: true }), []);
    const unlocked = writeBlockers({
      ...base,
      cryptMethod: 2,
      encryptedWritable: true,
      workspaceTrusted: false,
      readOnlyReason: 'Opened with the read-only QCOW2 editor.',
      inUse: { state: 'in-use', locks: [], message: 'the image seems to be in use by a running QEMU: x' },
    });
    assert.deepEqual(
      unlocked.map((b) => b.kind),
      ['untrusted', 'read-only', 'in-use'],
    );
    assert.match(writeBlockers({ ...base, cryptMethod: 2 })[0].message, /encrypted \(LUKS\) and locked; unlock it/);
    assert.match(writeBlockers({ ...base, cryptMethod: 1, encryptedWritable: false })[0].message, /legacy AES, which is read-only here/);
  });

  it('gathers the facts from a real image: corrupt bit, file mode, locks', async function () {
    const s = scratchDir('h6-safety-');
    try {
      const img = s.path('a.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
      // Set the corrupt bit (incompatible features bit 1, byte 79).
      const { openSync, writeSync, closeSync } = await import('node:fs');
      const fd = openSync(img, 'r+');
      writeSync(fd, Uint8Array.from([2]), 0, 1, 79);
      closeSync(fd);
      chmodSync(img, 0o444);
      const dev = await openImage(img, { readOnly: true });
      try {
        const facts = await gatherWriteSafety(img, dev, undefined, true);
        assert.equal(facts.corrupt, true);
        assert.equal(facts.inUse?.state, 'free');
        if (process.getuid?.() !== 0) assert.equal(facts.fileNotWritable, 'EACCES'); // root may write anyway
        assert.ok(writeBlockers(facts).some((b) => b.kind === 'corrupt'));
      } finally {
        await dev.close();
      }
    } finally {
      s.cleanup();
    }
  });

  it('refuses the dirty flag (the engine refuses those writes too)', () => {
    const b = writeBlockers({ ...base, dirty: true });
    assert.deepEqual(
      b.map((x) => [x.kind, x.action]),
      [['dirty', 'refuse']],
    );
  });

  it('an enabled bitmap made by qemu-img does not block edits (writes mark it); the Overview says what writes do, enabled or disabled', async () => {
    const s = scratchDir('h6-safety-');
    try {
      const img = s.path('bm.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
      qemuImg(['bitmap', '--add', img, 'b0']);
      let dev = await openImage(img, { readOnly: true });
      try {
        assert.equal(await editBlocker(img, dev, undefined, true), undefined);
        assert.match(
          imageWarnings(dev).find((w) => w.kind === 'bitmaps')!.message,
          /1 of them enabled: writes .* mark the ranges they touch in them, as QEMU does/,
        );
      } finally {
        await dev.close();
      }
      qemuImg(['bitmap', '--disable', img, 'b0']);
      dev = await openImage(img, { readOnly: true });
      try {
        assert.equal(await editBlocker(img, dev, undefined, true), undefined);
        assert.match(imageWarnings(dev).find((w) => w.kind === 'bitmaps')!.message, /none enabled, so writes leave them unchanged/);
      } finally {
        await dev.close();
      }
    } finally {
      s.cleanup();
    }
  });

  it('a running qemu-io holding the image blocks edits (the banner\'s "in use" case)', async () => {
    const s = scratchDir('h6-safety-');
    const { spawn } = await import('node:child_process');
    const { checkInUse } = await import('../../src/extension/in-use');
    const img = s.path('held.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    const holder = spawn('qemu-io', [img], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      const deadline = Date.now() + 10_000;
      // Wait for qemu-io's own lock on this file (other tests' qemu-io may hold locks on other files meanwhile).
      while ((await checkInUse(img)).state !== 'in-use' && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const dev = await openImage(img, { readOnly: true });
      try {
        const b = await editBlocker(img, dev, undefined, true);
        assert.equal(b?.kind, 'in-use');
        assert.match(b!.message, /in use by a running QEMU/);
      } finally {
        await dev.close();
      }
    } finally {
      holder.stdin!.end('quit\n');
      await new Promise((r) => (holder.exitCode !== null ? r(undefined) : holder.once('exit', r)));
      s.cleanup();
    }
  });
});
