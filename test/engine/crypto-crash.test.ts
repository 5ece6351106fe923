/**
 * Crash safety of encrypted writes (issue #17): a LUKS image under the same fault injection as crash-eio (the
 * N-th write or fsync fails with EIO, once or for good) and crash-powerloss (power lost at the N-th write, unsynced
 * writes dropped or half kept, torn into sectors). The image left
 * behind must pass `qemu-img check` (with the secret) without corruptions and every durable write must read back
 * decrypted, so the write order (data first, then tables) holds with encryption too.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { FailingIo, PowerLossIo, PowerSupply } from '../../src/qcow2/io/fault';
import { genWorkload } from '../helpers/workload';
import { fastScratchDir, pickNs, runWithIo, verifyCrashImage, type CrashWorkload } from '../helpers/crash';
import { luksGuestBytes, luksIo, makeLuks, PASSPHRASE } from '../helpers/luks';

const K = 1024;
const M = 1024 * K;

describe('crash safety: encrypted (LUKS) writes', function () {
  this.timeout(600_000);
  const tmp = fastScratchDir('q2i-crash-luks-');
  after(() => tmp.cleanup());

  let w: CrashWorkload;
  let initial: Uint8Array;
  let initialRaw: Uint8Array;
  before(() => {
    const path = makeLuks(tmp.path('luks.qcow2'), '4M', 'cluster_size=4096');
    luksIo(path, ['write -P 0x42 0 300k', 'write -P 0x43 1M 64k']);
    const g = { virtualSize: 4 * M, clusterSize: 4 * K, l2Span: 512 * 4 * K };
    w = {
      name: 'LUKS, 4 KiB clusters',
      path,
      virtualSize: g.virtualSize,
      ops: genWorkload(601, g, { count: 24, maxLength: 20 * K }),
      syncEvery: 4,
      passphrase: PASSPHRASE,
    };
    initial = new Uint8Array(readFileSync(path));
    initialRaw = luksGuestBytes(path, tmp.path('initial.raw'));
  });

  it('EIO on the N-th write (sticky and transient) or fsync: no corruption, durable writes read back', async () => {
    const path = w.path;
    const probe = new FailingIo(initial, path, {});
    assert.equal((await runWithIo(w, probe, false)).error, undefined);
    const total = probe.writes;
    let runs = 0;
    for (const n of pickNs(total, 20, 40)) {
      for (const mode of n % 2 ? (['sticky', 'once'] as const) : (['sticky'] as const)) {
        const io = new FailingIo(initial, path, { failAtWrite: n, mode });
        const outcome = await runWithIo(w, io, mode === 'once');
        if (n <= total) assert.match(outcome.error?.message ?? '', /EIO/, `write ${n} failed silently`);
        await verifyCrashImage(io.bytes(), tmp.path('eio.qcow2'), tmp.path('eio.raw'), initialRaw, w, outcome, `EIO at write ${n}/${total} (${mode})`);
        runs++;
      }
    }
    for (const s of pickNs(probe.syncs, 5, 10)) {
      const io = new FailingIo(initial, path, { failAtSync: s, mode: 'sticky' });
      const outcome = await runWithIo(w, io, false);
      await verifyCrashImage(io.bytes(), tmp.path('eio.qcow2'), tmp.path('eio.raw'), initialRaw, w, outcome, `EIO at fsync ${s}`);
      runs++;
    }
    assert.ok(runs > 20);
  });

  it('power lost at the N-th write: no corruption, durable writes read back', async () => {
    const probe = new PowerLossIo(initial, w.path, { failAtWrite: Infinity, power: new PowerSupply() });
    assert.equal((await runWithIo(w, probe, false)).error, undefined);
    const total = probe.writes;
    for (const n of pickNs(total, 20, 40)) {
      for (const keep of n % 2 ? [0, 0.5] : [0]) {
        const torn = keep > 0 && n % 4 === 1;
        const io = new PowerLossIo(initial, w.path, { failAtWrite: n, keepProbability: keep, seed: 700 + n, tornWrites: torn, power: new PowerSupply() });
        const outcome = await runWithIo(w, io, false);
        const label = `power lost at write ${n}/${total}${keep ? ', half of unsynced kept' : ''}${torn ? ', torn' : ''}`;
        await verifyCrashImage(await io.crashImage(), tmp.path('pl.qcow2'), tmp.path('pl.raw'), initialRaw, w, outcome, label);
      }
    }
  });
});
