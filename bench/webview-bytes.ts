/**
 * `npx tsx bench/webview-bytes.ts`: hex pages (host → webview) and edits (webview → host) as base64 strings or
 * as Uint8Array, through a model of VS Code's webview messaging (not a bench/*.bench.ts: there is no qemu-img
 * side). Since VS Code 1.57 (our engines field asks ^1.95) the extension host's Webview.postMessage and the
 * webview's postMessage JSON-serialize a message with every ArrayBuffer (and typed-array view) taken out of the
 * JSON and sent as a binary buffer beside it, then put back (extHostWebviewMessaging.ts: serializeWebviewMessage,
 * deserializeWebviewMessage). Each round here does what one message costs on both sides:
 *   base64:     encode (host: Buffer base64; webview: btoa over String.fromCharCode chunks, host-link.ts before),
 *               JSON.stringify, the IPC hop (UTF-8 encode + decode of the JSON), the renderer → webview hop
 *               (structuredClone), JSON.parse, decode (webview: atob + charCodeAt loop; host: strict base64 check
 *               and Buffer decode, messages.ts before);
 *   Uint8Array: JSON.stringify with VS Code's replacer (the bytes leave the JSON as a reference), the IPC hop
 *               (UTF-8 of the small JSON + one copy of the bytes), structuredClone of both, JSON.parse with the
 *               reviver that makes the Uint8Array again, then the host's check (a Uint8Array of bounded length).
 * Node's atob/btoa are much slower than Chromium's, so the webview's half (decode a page, encode an edit, with the
 * structured clone of the hop) is timed again in Chromium (/usr/bin/chromium through playwright-core).
 */
import { randomBytes } from 'node:crypto';
import { chromium } from 'playwright-core';

const REF = '$$vscode_array_buffer_reference$$';

interface Wire {
  json: string;
  buffers: Uint8Array[];
}

/** VS Code's serializeWebviewMessage (1.57+): typed arrays and ArrayBuffers leave the JSON as references. */
function serialize(message: unknown): Wire {
  const buffers: ArrayBufferLike[] = [];
  const json = JSON.stringify(message, (_key, value) => {
    if (ArrayBuffer.isView(value)) {
      let index = buffers.indexOf(value.buffer);
      if (index < 0) index = buffers.push(value.buffer) - 1;
      return { [REF]: true, index, view: { type: 'Uint8Array', byteLength: value.byteLength, byteOffset: value.byteOffset } };
    }
    return value;
  });
  return { json, buffers: buffers.map((b) => new Uint8Array(b)) };
}

/** VS Code's deserializeWebviewMessage: the references become Uint8Arrays over the buffers again. */
function deserialize(wire: Wire): unknown {
  return JSON.parse(wire.json, (_key, value) => {
    if (value && typeof value === 'object' && value[REF]) {
      const buf = wire.buffers[value.index].buffer;
      return value.view ? new Uint8Array(buf, value.view.byteOffset, value.view.byteLength) : buf;
    }
    return value;
  });
}

/** The hops between the two sides: ext host → renderer (IPC: UTF-8 JSON + binary buffers), renderer → webview (structured clone). */
function hop(wire: Wire): Wire {
  const ipcJson = new TextDecoder().decode(new TextEncoder().encode(wire.json));
  const ipcBuffers = wire.buffers.map((b) => b.slice());
  return structuredClone({ json: ipcJson, buffers: ipcBuffers });
}

// The base64 helpers as they were (webview/hex/host-link.ts, src/extension/messages.ts).
function webviewFromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function webviewToBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
function hostDecodeBase64(s: string): Uint8Array {
  if (s.length % 4 !== 0 || !BASE64.test(s)) throw new Error('data must be base64');
  const buf = Buffer.from(s, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.length);
}

const runs = [
  { start: 0, length: 4096, kind: 'data', depth: 0 },
  { start: 4096, length: 4096, kind: 'zero', depth: 0 },
];

function pageBase64(bytes: Uint8Array): number {
  const data = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64');
  const msg = deserialize(hop(serialize({ type: 'hexPage', requestId: 7, offset: 0, data, runs, pending: [] }))) as { data: string };
  return webviewFromBase64(msg.data).length;
}
function pageBytes(bytes: Uint8Array): number {
  const msg = deserialize(hop(serialize({ type: 'hexPage', requestId: 7, offset: 0, data: bytes, runs, pending: [] }))) as { data: Uint8Array };
  return msg.data.length;
}
function editBase64(bytes: Uint8Array): number {
  const msg = deserialize(hop(serialize({ type: 'hexEdit', offset: 0, data: webviewToBase64(bytes), label: 'Edit bytes' }))) as { data: string };
  return hostDecodeBase64(msg.data).length;
}
function editBytes(bytes: Uint8Array): number {
  const msg = deserialize(hop(serialize({ type: 'hexEdit', offset: 0, data: bytes, label: 'Edit bytes' }))) as { data: unknown };
  if (!(msg.data instanceof Uint8Array) || msg.data.length > 64 * 1024) throw new Error('data must be bytes');
  return msg.data.length;
}

/** Median µs per round over `rounds` (after a warm-up). */
function time(fn: (b: Uint8Array) => number, bytes: Uint8Array, rounds: number): number {
  for (let i = 0; i < Math.min(rounds, 20); i++) fn(bytes);
  const samples: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    fn(bytes);
    samples.push((performance.now() - t0) * 1000);
  }
  samples.sort((a, b) => a - b);
  return samples[samples.length >> 1];
}

const rows: string[][] = [['message', 'size', 'base64 µs', 'Uint8Array µs', 'speed-up']];
const cases: Array<[string, number, (b: Uint8Array) => number, (b: Uint8Array) => number]> = [
  ['hexPage', 4 * 1024, pageBase64, pageBytes],
  ['hexPage', 64 * 1024, pageBase64, pageBytes],
  ['hexPage', 1024 * 1024, pageBase64, pageBytes],
  ['hexEdit', 1, editBase64, editBytes],
  ['hexEdit', 16, editBase64, editBytes],
  ['hexEdit', 256, editBase64, editBytes],
  ['hexEdit', 4 * 1024, editBase64, editBytes],
  ['hexEdit', 64 * 1024, editBase64, editBytes],
];
for (const [name, size, viaBase64, viaBytes] of cases) {
  const bytes = new Uint8Array(randomBytes(size));
  const rounds = size >= 1024 * 1024 ? 30 : 300;
  const a = time(viaBase64, bytes, rounds);
  const b = time(viaBytes, bytes, rounds);
  rows.push([
    name,
    size >= 1024 * 1024 ? `${size / 1024 / 1024} MiB` : size >= 1024 ? `${size / 1024} KiB` : `${size} B`,
    a.toFixed(1),
    b.toFixed(1),
    `${(a / b).toFixed(1)}×`,
  ]);
}
const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
for (const r of rows) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));

/** The webview's half in Chromium: median µs per message, base64 and Uint8Array, for each case. */
function webviewHalf(sizes: Array<[string, number]>): Array<[number, number]> {
  const REF = '$$vscode_array_buffer_reference$$';
  // Chromium's clock ticks in 100 µs steps here: each sample times a batch of messages.
  let batch = 1;
  const median = (fn: () => unknown, rounds: number) => {
    for (let i = 0; i < Math.min(rounds, 20); i++) fn();
    const t: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const t0 = performance.now();
      for (let j = 0; j < batch; j++) fn();
      t.push(((performance.now() - t0) * 1000) / batch);
    }
    t.sort((a, b) => a - b);
    return t[t.length >> 1];
  };
  const reviver = (buffers: Uint8Array[]) => (_k: string, v: { [k: string]: unknown; index: number; view?: { byteOffset: number; byteLength: number } }) =>
    v && typeof v === 'object' && v[REF] ? new Uint8Array(buffers[v.index].buffer, v.view!.byteOffset, v.view!.byteLength) : v;
  const replacer = (buffers: ArrayBufferLike[]) => (_k: string, v: unknown) =>
    ArrayBuffer.isView(v)
      ? { [REF]: true, index: buffers.push(v.buffer) - 1, view: { type: 'Uint8Array', byteOffset: v.byteOffset, byteLength: v.byteLength } }
      : v;
  const out: Array<[number, number]> = [];
  for (const [name, size] of sizes) {
    const bytes = new Uint8Array(size);
    crypto.getRandomValues(bytes.subarray(0, Math.min(size, 65536)));
    const rounds = size >= 1024 * 1024 ? 30 : 100;
    batch = Math.min(500, Math.max(1, Math.floor((256 * 1024) / size)));
    let bin = '';
    for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    const b64 = btoa(bin);
    if (name === 'hexPage') {
      const json = JSON.stringify({ type: 'hexPage', requestId: 7, offset: 0, data: b64, runs: [], pending: [] });
      const a = median(() => {
        const m = JSON.parse(structuredClone({ json }).json);
        const s = atob(m.data);
        const o = new Uint8Array(s.length);
        for (let i = 0; i < s.length; i++) o[i] = s.charCodeAt(i);
        return o;
      }, rounds);
      const bufs: ArrayBufferLike[] = [];
      const wireJson = JSON.stringify({ type: 'hexPage', requestId: 7, offset: 0, data: bytes, runs: [], pending: [] }, replacer(bufs));
      const b = median(() => {
        const w = structuredClone({ json: wireJson, buffers: bufs.map((x) => new Uint8Array(x)) });
        return JSON.parse(w.json, reviver(w.buffers));
      }, rounds);
      out.push([a, b]);
    } else {
      const a = median(() => {
        let s = '';
        for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
        return structuredClone({ json: JSON.stringify({ type: 'hexEdit', offset: 0, data: btoa(s), label: 'Edit bytes' }) });
      }, rounds);
      const b = median(() => {
        const bufs: ArrayBufferLike[] = [];
        const json = JSON.stringify({ type: 'hexEdit', offset: 0, data: bytes, label: 'Edit bytes' }, replacer(bufs));
        return structuredClone({ json, buffers: bufs.map((x) => new Uint8Array(x)) });
      }, rounds);
      out.push([a, b]);
    }
  }
  return out;
}

async function inChromium(): Promise<void> {
  const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
  try {
    const page = await browser.newPage();
    await page.goto('about:blank');
    const sizes = cases.map(([name, size]) => [name, size] as [string, number]);
    const result = (await page.evaluate(`var __name = (f) => f; (${webviewHalf.toString()})(${JSON.stringify(sizes)})`)) as Array<[number, number]>;
    console.log('\nThe webview half alone, in Chromium:');
    const r2 = [['message', 'size', 'base64 µs', 'Uint8Array µs', 'speed-up']];
    result.forEach(([a, b], i) => r2.push([cases[i][0], rows[i + 1][1], a.toFixed(1), b.toFixed(1), `${(a / b).toFixed(1)}×`]));
    for (const r of r2) console.log(r.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  '));
  } finally {
    await browser.close();
  }
}

if (process.argv.includes('--chromium')) void inChromium();
