/** The "in use by a running QEMU" check: /proc/locks parsing and real lock holders (qemu-io, a python OFD lock). */
import { strict as assert } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { statSync } from 'node:fs';
import { checkInUse, devMajorMinor, locksOnInode } from '../../src/extension/in-use';
import { qemuImg, scratchDir } from '../helpers/qemu';

async function waitFor(cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 50));
  }
}

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

describe('hex view: in-use check (/proc/locks)', function () {
  const s = scratchDir('h6-inuse-');
  after(() => s.cleanup());

  it('parses /proc/locks lines, including blocked waiters', () => {
    const text = [
      '1: OFDLCK ADVISORY  READ -1 fe:00:2150114 100 101',
      '2: POSIX  ADVISORY  WRITE 4242 08:11:77 0 EOF',
      '2: -> POSIX  ADVISORY  WRITE 4343 08:11:77 0 EOF',
      '3: FLOCK  ADVISORY  WRITE 99 fe:00:5 0 EOF',
    ].join('\n');
    assert.deepEqual(locksOnInode(text, 0xfe, 0, 2150114), [{ kind: 'OFDLCK', mode: 'READ', pid: -1, start: '100', end: '101' }]);
    assert.deepEqual(
      locksOnInode(text, 8, 0x11, 77).map((l) => l.pid),
      [4242, 4343],
    );
    assert.deepEqual(locksOnInode(text, 0xfe, 0, 6), []);
    assert.deepEqual(devMajorMinor(0xfe00), { major: 254, minor: 0 });
    assert.deepEqual(devMajorMinor(0x811), { major: 8, minor: 17 });
    assert.deepEqual(devMajorMinor(0x10030101), { major: 0x301, minor: 0x10001 }); // large minor (glibc encoding)
  });

  it('finds the OFD locks of qemu-io holding the image, and none once it exits', async function () {
    const img = s.path('held.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    assert.equal((await checkInUse(img)).state, 'free');
    const holder = spawn('qemu-io', [img], { stdio: ['pipe', 'ignore', 'ignore'] });
    try {
      await waitFor(async () => (await checkInUse(img)).state === 'in-use');
      const r = await checkInUse(img);
      assert.ok(r.locks.every((l) => l.kind === 'OFDLCK' && l.pid === -1));
      assert.match(r.message, /in use by a running QEMU/);
    } finally {
      holder.stdin!.end('quit\n');
      await stop(holder);
    }
    await waitFor(async () => (await checkInUse(img)).state === 'free');
  });

  it('finds a plain python3 fcntl OFD lock holder', async function () {
    const img = s.path('py.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    const py = `
import fcntl, os, struct, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
F_OFD_SETLK = 37
fcntl.fcntl(fd, F_OFD_SETLK, struct.pack('hhqqi', fcntl.F_WRLCK, 0, 100, 1, 0))
print('locked', flush=True)
time.sleep(60)
`;
    const holder = spawn('python3', ['-c', py, img], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const r = await checkInUse(img);
      assert.equal(r.state, 'in-use');
      assert.deepEqual(
        r.locks.map((l) => [l.kind, l.mode, l.start]),
        [['OFDLCK', 'WRITE', '100']],
      );
      const st = statSync(img);
      assert.ok(st.ino > 0);
    } finally {
      await stop(holder);
    }
  });
});
