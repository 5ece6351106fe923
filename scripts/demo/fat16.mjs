// A small FAT16 volume (Microsoft FAT spec, "FAT: General Overview of On-Disk Format") for the demo's EFI
// partition: a boot sector, two FATs, a root directory and files with VFAT long names (real case, LFN checksums).
// Hand-written because no npm FAT formatter fits (fatfs is read-mostly and broken per #13's notes) and `npm start`
// must not need mkfs.fat; fsck.fat, mtools and our `fs` commands read it back in test/cli/demo.test.ts.
// Bounded to what the demo needs: 4 KiB clusters, contiguous files, one volume up to 256 MiB.

const SECTOR = 512;
const CLUSTER = 4096;
const SECTORS_PER_CLUSTER = CLUSTER / SECTOR;
const RESERVED = 4;
const ROOT_ENTRIES = 512;
const ENTRY = 32;

/** FAT timestamps (a fixed date keeps the demo reproducible). */
const DATE = ((2026 - 1980) << 9) | (12 << 5) | 3;
const TIME = (12 << 11) | (0 << 5);

/** An 8.3 name for `name`, unique in `taken` (a Set of 11-char names): the basis name plus ~N when lossy. */
function shortName(name, taken) {
  const clean = (s) => s.toUpperCase().replace(/[^A-Z0-9!#$%&'()@^_`{}~-]/g, '');
  const dot = name.lastIndexOf('.');
  const base = dot > 0 ? name.slice(0, dot) : name;
  const ext = dot > 0 ? name.slice(dot + 1) : '';
  let b = clean(base);
  const e = clean(ext).slice(0, 3);
  const exact = b === base.toUpperCase() && e === ext.toUpperCase() && b.length <= 8 && ext.length <= 3;
  const pad = (s, n) => s.padEnd(n, ' ');
  if (exact && !taken.has(pad(b, 8) + pad(e, 3))) {
    const s = pad(b, 8) + pad(e, 3);
    taken.add(s);
    return s;
  }
  b ||= 'FILE';
  for (let n = 1; n < 1000000; n++) {
    const tail = `~${n}`;
    const s = pad(b.slice(0, 8 - tail.length) + tail, 8) + pad(e, 3);
    if (!taken.has(s)) {
      taken.add(s);
      return s;
    }
  }
  throw new Error(`fat16: no short name left for '${name}'`);
}

/** The LFN checksum of an 11-byte short name (the spec's ChkSum). */
export function lfnChecksum(short11) {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + short11.charCodeAt(i)) & 0xff;
  return sum;
}

/** The LFN entries (last part first, as they sit on disk) for `name` with the short name `short11`. */
function lfnEntries(name, short11) {
  if (name.length > 255) throw new Error(`fat16: '${name.slice(0, 40)}…' is longer than 255 characters`);
  const units = [...Buffer.from(name, 'utf16le').values()];
  const chars = [];
  for (let i = 0; i < units.length; i += 2) chars.push(units[i] | (units[i + 1] << 8));
  if (chars.length % 13) chars.push(0);
  while (chars.length % 13) chars.push(0xffff);
  const count = chars.length / 13;
  const sum = lfnChecksum(short11);
  const out = [];
  for (let n = count; n >= 1; n--) {
    const e = Buffer.alloc(ENTRY);
    e[0] = n | (n === count ? 0x40 : 0);
    e[11] = 0x0f;
    e[13] = sum;
    const part = chars.slice((n - 1) * 13, n * 13);
    const at = [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30];
    part.forEach((c, i) => e.writeUInt16LE(c, at[i]));
    out.push(e);
  }
  return out;
}

function shortEntry(short11, attr, cluster, size) {
  const e = Buffer.alloc(ENTRY);
  e.write(short11, 0, 'latin1');
  e[11] = attr;
  for (const at of [14, 22]) e.writeUInt16LE(TIME, at);
  for (const at of [16, 18, 24]) e.writeUInt16LE(DATE, at);
  e.writeUInt16LE(cluster, 26);
  e.writeUInt32LE(size, 28);
  return e;
}

/** The entries (with LFNs where the name is not a plain 8.3 name) of one directory's children. */
function directoryEntries(children) {
  const taken = new Set(['.          ', '..         ']);
  const out = [];
  for (const c of children) {
    const s = shortName(c.name, taken);
    const plain = s.slice(0, 8).trimEnd() + (s.slice(8).trim() ? `.${s.slice(8).trimEnd()}` : '') === c.name;
    if (!plain) out.push(...lfnEntries(c.name, s));
    out.push(shortEntry(s, c.children ? 0x10 : 0x20, c.cluster, c.children ? 0 : c.data.length));
  }
  return out;
}

/**
 * A FAT16 volume of `sectors` 512-byte sectors holding `tree` ({ name, children: [...] } for directories,
 * { name, data: Buffer } for files). Returns [byte offset in the volume, bytes] pieces; the rest stays zero.
 */
export function fat16Pieces(sectors, tree, { label = 'DEMO', volumeId = 0x2026_1203, hiddenSectors = 0 } = {}) {
  const rootSectors = (ROOT_ENTRIES * ENTRY) / SECTOR;
  let fatSectors = 1;
  for (;;) {
    const clusters = Math.floor((sectors - RESERVED - rootSectors - 2 * fatSectors) / SECTORS_PER_CLUSTER);
    if ((clusters + 2) * 2 <= fatSectors * SECTOR) break;
    fatSectors++;
  }
  const clusterCount = Math.floor((sectors - RESERVED - rootSectors - 2 * fatSectors) / SECTORS_PER_CLUSTER);
  if (clusterCount < 4085 || clusterCount > 65524) throw new Error(`fat16: ${sectors} sectors make ${clusterCount} clusters, not a FAT16 volume`);

  // Clusters, handed out in order: a directory's own clusters, then its children's.
  const fat = Buffer.alloc(fatSectors * SECTOR);
  fat.writeUInt16LE(0xfff8, 0);
  fat.writeUInt16LE(0xffff, 2);
  const data = [];
  let next = 2;
  const allocate = (bytes) => {
    const n = Math.max(1, Math.ceil(bytes / CLUSTER));
    if (next + n > clusterCount + 2) throw new Error('fat16: the files do not fit');
    const first = next;
    for (let c = first; c < first + n; c++) fat.writeUInt16LE(c === first + n - 1 ? 0xffff : c + 1, c * 2);
    next += n;
    return first;
  };
  const place = (dir, parentCluster) => {
    for (const c of dir.children) {
      if (c.children) continue;
      c.cluster = c.data.length ? allocate(c.data.length) : 0;
      if (c.data.length) data.push([c.cluster, c.data]);
    }
    for (const c of dir.children) {
      if (!c.children) continue;
      const bytes = (2 + directoryEntries(c.children.map((k) => ({ ...k, cluster: 0, data: k.data ?? [] }))).length) * ENTRY;
      c.cluster = allocate(bytes);
      place(c, c.cluster);
      const self = [shortEntry('.          ', 0x10, c.cluster, 0), shortEntry('..         ', 0x10, parentCluster, 0)];
      data.push([c.cluster, Buffer.concat([...self, ...directoryEntries(c.children)])]);
    }
  };
  place(tree, 0);
  const rootEntries = [shortEntry(label.toUpperCase().padEnd(11, ' ').slice(0, 11), 0x08, 0, 0), ...directoryEntries(tree.children)];
  if (rootEntries.length > ROOT_ENTRIES) throw new Error('fat16: too many entries in the root directory');

  const boot = Buffer.alloc(SECTOR);
  boot.set([0xeb, 0x3c, 0x90], 0);
  boot.write('QCOW2DMO', 3, 'latin1');
  boot.writeUInt16LE(SECTOR, 11);
  boot[13] = SECTORS_PER_CLUSTER;
  boot.writeUInt16LE(RESERVED, 14);
  boot[16] = 2; // FATs
  boot.writeUInt16LE(ROOT_ENTRIES, 17);
  boot.writeUInt16LE(sectors < 65536 ? sectors : 0, 19);
  boot[21] = 0xf8; // fixed disk
  boot.writeUInt16LE(fatSectors, 22);
  boot.writeUInt16LE(32, 24); // sectors per track
  boot.writeUInt16LE(64, 26); // heads
  boot.writeUInt32LE(hiddenSectors, 28);
  boot.writeUInt32LE(sectors < 65536 ? 0 : sectors, 32);
  boot[36] = 0x80; // drive number
  boot[38] = 0x29; // extended boot signature: the next three fields are valid
  boot.writeUInt32LE(volumeId, 39);
  boot.write(label.toUpperCase().padEnd(11, ' ').slice(0, 11), 43, 'latin1');
  boot.write('FAT16   ', 54, 'latin1');
  boot.writeUInt16LE(0xaa55, 510);

  const fatAt = RESERVED * SECTOR;
  const rootAt = fatAt + 2 * fatSectors * SECTOR;
  const dataAt = rootAt + rootSectors * SECTOR;
  return [
    [0, boot],
    [fatAt, fat],
    [fatAt + fatSectors * SECTOR, fat],
    [rootAt, Buffer.concat(rootEntries)],
    ...data.map(([cluster, bytes]) => [dataAt + (cluster - 2) * CLUSTER, bytes]),
  ];
}
