/** Number formatting and offset parsing shared by the host and the webview. */
import * as assert from 'node:assert/strict';
import { formatBytes, hex, hexDumpLines, parseOffset, percent, formatRange } from '../../src/shared/format';
import { formatVmClock } from '../../src/extension/overview';

describe('extension: formatting', () => {
  it('formats sizes in binary units', () => {
    assert.equal(formatBytes(0), '0 B');
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(65536), '64 KiB');
    assert.equal(formatBytes(1536), '1.50 KiB');
    assert.equal(formatBytes(256 * 2 ** 30), '256 GiB');
    assert.equal(formatBytes(4 * 2 ** 40), '4 TiB');
    assert.equal(formatBytes(1.44 * 2 ** 20), '1.44 MiB');
  });

  it('formats hex, ranges and percentages', () => {
    assert.equal(hex(0x50000), '0x50000');
    assert.equal(hex(255, 4), '0x00ff');
    assert.equal(formatRange(0x1000, 0x1000), '0x1000–0x1fff (4 KiB)');
    assert.equal(percent(0.5), '50%');
    assert.equal(percent(0.002), '0.2%');
    assert.equal(percent(0), '0%');
  });

  it('parses offsets as people type them', () => {
    assert.equal(parseOffset('4096'), 4096);
    assert.equal(parseOffset('0x1000'), 4096);
    assert.equal(parseOffset('4k'), 4096);
    assert.equal(parseOffset('1.5M'), 1.5 * 2 ** 20);
    assert.equal(parseOffset('2GiB'), 2 * 2 ** 30);
    assert.equal(parseOffset('lba 2048'), 2048 * 512);
    assert.equal(parseOffset('2048s', 4096), 2048 * 4096);
    assert.equal(parseOffset('1_000'), 1000);
    for (const bad of ['', 'abc', '-1', '0x', '1.5', '1e3', '99999999999999999999', '0x1g']) assert.equal(parseOffset(bad), undefined, bad);
  });

  it('dumps bytes like hexdump -C', () => {
    const b = new Uint8Array(20).map((_, i) => 0x41 + i);
    b[1] = 0;
    const lines = hexDumpLines(b, 0x1f0);
    assert.equal(lines[0], '000001f0  41 00 43 44 45 46 47 48 49 4a 4b 4c 4d 4e 4f 50  |A.CDEFGHIJKLMNOP|');
    assert.equal(lines[1], '00000200  51 52 53 54                                      |QRST|');
  });

  it('formats the VM clock as qemu-img snapshot -l does', () => {
    assert.equal(formatVmClock(0), '00:00:00.000');
    assert.equal(formatVmClock(3_723_456_000_000), '01:02:03.456');
  });
});
