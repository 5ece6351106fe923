/** Chain description header by header, and the overview built from a qemu-img image. */
import * as assert from 'node:assert/strict';
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { describeChain } from '../../src/extension/chain';
import { buildOverview } from '../../src/extension/overview';
import { isInside, isReallyInside } from '../../src/extension/paths';
import { sniffQcow2 } from '../../src/extension/sniff';
import { openImage } from '../../src/qcow2';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

describe('extension: backing chain description', () => {
  const tmp = scratchDir('q2i-ext-chain-');
  after(() => tmp.cleanup());

  it('describes every layer of a three-layer chain with sizes and allocated share', async () => {
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('a.qcow2'), '64M']);
    qemuIo(tmp.path('a.qcow2'), ['write 0 16M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', 'a.qcow2', '-F', 'qcow2', tmp.path('b.qcow2')]);
    qemuIo(tmp.path('b.qcow2'), ['write 0 4M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', tmp.path('b.qcow2'), '-F', 'qcow2', tmp.path('c.qcow2'), '128M']);
    const layers = await describeChain(tmp.path('c.qcow2'), { allocationBudgetMs: 5000 });
    assert.deepEqual(
      layers.map((l) => [l.depth, l.path, l.format, l.virtualSize, l.clusterSize, l.shareAllocated, l.error]),
      [
        [0, tmp.path('c.qcow2'), 'qcow2', 128 * 2 ** 20, 65536, 0, undefined],
        [1, tmp.path('b.qcow2'), 'qcow2', 64 * 2 ** 20, 4096, 1 / 16, undefined],
        [2, tmp.path('a.qcow2'), 'qcow2', 64 * 2 ** 20, 65536, 1 / 4, undefined],
      ],
    );
    assert.equal(layers[2].recordedName, 'a.qcow2');
  });

  it('shows a raw base layer', async () => {
    writeFileSync(tmp.path('disk.raw'), Buffer.alloc(1 << 20));
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'disk.raw', '-F', 'raw', tmp.path('over-raw.qcow2')]);
    const layers = await describeChain(tmp.path('over-raw.qcow2'));
    assert.equal(layers[1].format, 'raw');
    assert.equal(layers[1].virtualSize, 1 << 20);
  });

  it('marks a missing backing file on its layer instead of failing', async () => {
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('gone.qcow2'), '1M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'gone.qcow2', '-F', 'qcow2', tmp.path('orphan.qcow2')]);
    renameSync(tmp.path('gone.qcow2'), tmp.path('gone-elsewhere.qcow2'));
    const layers = await describeChain(tmp.path('orphan.qcow2'));
    assert.equal(layers.length, 2);
    assert.equal(layers[0].error, undefined);
    assert.equal(layers[1].errorKind, 'missing');
    assert.match(layers[1].error!, /missing/);
  });

  it('marks a loop', async () => {
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('loop2.qcow2'), '1M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'loop2.qcow2', '-F', 'qcow2', tmp.path('loop1.qcow2')]);
    // Point loop2 back at loop1 (qemu-img rebase -u writes the name without opening it).
    qemuImg(['rebase', '-u', '-b', 'loop1.qcow2', '-F', 'qcow2', tmp.path('loop2.qcow2')]);
    const layers = await describeChain(tmp.path('loop1.qcow2'));
    assert.equal(layers.length, 3);
    assert.equal(layers[2].errorKind, 'loop');
  });

  it('does not open a backing file the trust policy refuses', async () => {
    const layers = await describeChain(tmp.path('c.qcow2'), { allowPath: (p) => !p.endsWith('b.qcow2') });
    assert.equal(layers.length, 2);
    assert.equal(layers[1].errorKind, 'untrusted');
    assert.equal(layers[1].format, 'unknown');
  });

  it('keeps a hostile backing name as plain data', async () => {
    const evil = '<img src=x onerror=alert(1)>';
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', evil, '-F', 'qcow2', '-u', tmp.path('evil.qcow2'), '1M']);
    const layers = await describeChain(tmp.path('evil.qcow2'));
    assert.equal(layers[1].recordedName, evil);
    assert.equal(layers[1].errorKind, 'missing');
    const dev = await openImage(tmp.path('evil.qcow2'), { readOnly: true, openBacking: false });
    try {
      const o = buildOverview(dev, 0);
      assert.ok(o.fields.some((f) => f.meaning === `backing file: ${evil}`));
    } finally {
      await dev.close();
    }
  });

  it('workspace containment for untrusted workspaces', () => {
    assert.equal(isInside('/ws', '/ws/a.qcow2'), true);
    assert.equal(isInside('/ws', '/ws/sub/a.qcow2'), true);
    assert.equal(isInside('/ws', '/ws2/a.qcow2'), false);
    assert.equal(isInside('/ws', '/ws/../etc/a'), false);
    assert.equal(isInside('/ws', '/a.qcow2'), false);
  });

  it('workspace containment judges where symlinks really point', () => {
    const ws = tmp.path('ws');
    const away = tmp.path('away');
    mkdirSync(`${ws}/sub`, { recursive: true });
    mkdirSync(away);
    writeFileSync(`${ws}/sub/in.qcow2`, '');
    writeFileSync(`${away}/out.qcow2`, '');
    symlinkSync(`${away}/out.qcow2`, `${ws}/link-out.qcow2`);
    symlinkSync(away, `${ws}/dir-out`);
    symlinkSync('sub/in.qcow2', `${ws}/link-in.qcow2`);
    symlinkSync(ws, tmp.path('ws-alias'));
    assert.equal(isReallyInside([ws], `${ws}/sub/in.qcow2`), true);
    assert.equal(isReallyInside([ws], `${ws}/link-in.qcow2`), true);
    assert.equal(isReallyInside([ws], `${ws}/link-out.qcow2`), false);
    assert.equal(isReallyInside([ws], `${ws}/dir-out/out.qcow2`), false);
    assert.equal(isReallyInside([ws], `${ws}/dir-out/missing.qcow2`), false, 'a missing file below a link that points out');
    assert.equal(isReallyInside([ws], `${ws}/missing.qcow2`), true);
    assert.equal(isReallyInside([tmp.path('ws-alias')], `${ws}/sub/in.qcow2`), true, 'the folder itself opened through a link');
    assert.equal(isReallyInside([ws], `${tmp.path('ws-alias')}/sub/in.qcow2`), true);
    assert.equal(isReallyInside([ws, away], `${ws}/link-out.qcow2`), true, 'inside another folder of the workspace');
  });
});

describe('extension: overview and sniffing', () => {
  const tmp = scratchDir('q2i-ext-ov-');
  after(() => tmp.cleanup());

  it('lists header fields, features from the feature name table, extensions, snapshots and warnings', async () => {
    const p = tmp.path('ov.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on,compression_type=zstd', p, '32M']);
    qemuImg(['snapshot', '-c', 'first <b>snap</b>', p]);
    qemuImg(['bitmap', '--add', p, 'bm0']);
    const dev = await openImage(p, { readOnly: true });
    try {
      const o = buildOverview(dev, 5);
      const field = (n: string) => o.fields.find((f) => f.name === n)!;
      assert.equal(field('size').raw, String(32 * 2 ** 20));
      assert.equal(field('cluster_bits').raw, '16');
      assert.equal(field('nb_snapshots').raw, '1');
      assert.equal(field('compression_type').meaning, 'zstd');
      const names = o.features.map((f) => `${f.group}:${f.bit}:${f.name}:${f.fromTable}`);
      assert.ok(names.includes('compatible:0:lazy refcounts:true'), names.join());
      assert.ok(names.includes('incompatible:3:compression type:true'), names.join());
      assert.ok(names.includes('autoclear:0:bitmaps:true'), names.join());
      assert.ok(o.extensions.some((e) => e.name === 'feature name table'));
      assert.ok(o.extensions.some((e) => e.name === 'bitmaps'));
      assert.equal(o.snapshots[0].name, 'first <b>snap</b>');
      assert.equal(o.bitmaps[0].name, 'bm0');
      assert.ok(o.warnings.some((w) => w.kind === 'bitmaps'));
    } finally {
      await dev.close();
    }
  });

  it('tells qcow2 files from others by their magic', async () => {
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('yes.img'), '1M']);
    writeFileSync(tmp.path('no.img'), Buffer.from('hello world'));
    writeFileSync(tmp.path('tiny.img'), Buffer.from('QF'));
    assert.deepEqual(await sniffQcow2(tmp.path('yes.img')), { ok: true });
    const no = await sniffQcow2(tmp.path('no.img'));
    assert.ok(!no.ok && /does not start with the qcow2 magic/.test(no.reason));
    const tiny = await sniffQcow2(tmp.path('tiny.img'));
    assert.ok(!tiny.ok && /too small/.test(tiny.reason));
    const missing = await sniffQcow2(tmp.path('missing.img'));
    assert.ok(!missing.ok && /ENOENT/.test(missing.reason));
  });
});
