// The @jazzer.js/fuzzer 4.0.0 prebuilt for linux-x64 needs glibc 2.38 and libstdc++
// 3.4.32 (GCC 13) for exactly three imports; Debian 12 has glibc 2.36 / GCC 12, so the
// addon fails to load and there is no source to rebuild it from (the build fetches
// LLVM from the network). The three imports are harmless to rewrite:
//  - __isoc23_strtol/__isoc23_strtoul are the C23 spellings of strtol/strtoul: point
//    their names at the tail of the same .dynstr string ("strtol"), unversioned;
//  - std::ios_base_library_init() is a link-only anchor GCC 13's <iostream> references
//    and never calls: make it an unversioned weak import (resolves to 0).
// Then both version requirements are marked weak so the loader does not refuse.
// Nothing else in the binary changes. Idempotent.
import { readFileSync, writeFileSync } from 'node:fs';

const SHT_DYNSYM = 11;
const SHT_GNU_VERSYM = 0x6fffffff;
const SHT_GNU_VERNEED = 0x6ffffffe;
const VER_FLG_WEAK = 2;
const C23_PREFIX = '__isoc23_';
const WEAK_ANCHORS = new Set(['_ZSt21ios_base_library_initv']);
const WEAK_VERSIONS = new Set(['GLIBC_2.38', 'GLIBCXX_3.4.32']);
const STB_WEAK = 1;

export function patchGlibc238(file) {
  const b = readFileSync(file);
  if (b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2 || b[5] !== 1) throw new Error(`${file}: not a 64-bit little-endian ELF`);
  const shoff = Number(b.readBigUInt64LE(0x28));
  const shentsize = b.readUInt16LE(0x3a);
  const shnum = b.readUInt16LE(0x3c);
  const sections = [];
  for (let i = 0; i < shnum; i++) {
    const o = shoff + i * shentsize;
    sections.push({
      type: b.readUInt32LE(o + 4),
      offset: Number(b.readBigUInt64LE(o + 24)),
      size: Number(b.readBigUInt64LE(o + 32)),
      link: b.readUInt32LE(o + 40),
      info: b.readUInt32LE(o + 44),
    });
  }
  const dynsym = sections.find((s) => s.type === SHT_DYNSYM);
  const versym = sections.find((s) => s.type === SHT_GNU_VERSYM);
  const verneed = sections.find((s) => s.type === SHT_GNU_VERNEED);
  if (!dynsym || !versym || !verneed) throw new Error(`${file}: missing dynsym/versym/verneed`);
  const dynstr = sections[dynsym.link];
  const cstr = (off) => {
    const start = dynstr.offset + off;
    return b.toString('latin1', start, b.indexOf(0, start));
  };

  let changed = 0;
  const count = dynsym.size / 24;
  for (let i = 0; i < count; i++) {
    const o = dynsym.offset + i * 24;
    const name = cstr(b.readUInt32LE(o));
    if (name.startsWith(C23_PREFIX)) {
      b.writeUInt32LE(b.readUInt32LE(o) + C23_PREFIX.length, o); // "__isoc23_strtol" -> "strtol"
      b.writeUInt16LE(1, versym.offset + i * 2); // unversioned global: binds to the default strtol
      changed++;
    } else if (WEAK_ANCHORS.has(name) && b.readUInt16LE(versym.offset + i * 2) !== 1) {
      b[o + 4] = (STB_WEAK << 4) | (b[o + 4] & 0xf);
      b.writeUInt16LE(1, versym.offset + i * 2);
      changed++;
    }
  }
  // Make the two version requirements non-fatal.
  let vn = verneed.offset;
  for (let n = 0; n < verneed.info; n++) {
    let aux = vn + b.readUInt32LE(vn + 8);
    const cnt = b.readUInt16LE(vn + 2);
    for (let k = 0; k < cnt; k++) {
      if (WEAK_VERSIONS.has(cstr(b.readUInt32LE(aux + 8)))) {
        const flags = b.readUInt16LE(aux + 4);
        if (!(flags & VER_FLG_WEAK)) {
          b.writeUInt16LE(flags | VER_FLG_WEAK, aux + 4);
          changed++;
        }
      }
      aux += b.readUInt32LE(aux + 12);
    }
    vn += b.readUInt32LE(vn + 12);
  }
  if (changed) writeFileSync(file, b);
  return changed;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(`patched ${patchGlibc238(process.argv[2])} entries`);
}
