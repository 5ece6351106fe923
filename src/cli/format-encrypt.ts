/** The `encrypt` block of `qemu-img info` (QEMU 7.2): the LUKS header's public facts, or just the format for AES. */
import { readLuksHeader, type Qcow2Dev } from '../qcow2';

export interface LuksSlotJson {
  active: boolean;
  iters?: number;
  'key-offset': number;
  stripes?: number;
}

/** Keys in qemu-img's order (its QDict's, not the schema's). */
export interface EncryptJson {
  'ivgen-alg'?: string;
  'hash-alg'?: string;
  'cipher-alg'?: string;
  uuid?: string;
  'ivgen-hash-alg'?: string;
  format: 'luks' | 'aes';
  'cipher-mode'?: string;
  slots?: LuksSlotJson[];
  'payload-offset'?: number;
  'master-key-iters'?: number;
}

export async function encryptJson(dev: Qcow2Dev): Promise<EncryptJson | undefined> {
  const h = dev.header;
  if (h.cryptMethod === 1) return { format: 'aes' };
  if (h.cryptMethod !== 2 || !h.extensions.crypto) return undefined;
  const l = await readLuksHeader(dev.io, h.extensions.crypto, dev.fileSize, dev.path);
  const aesBits = (l.mode === 'xts' ? l.keyBytes / 2 : l.keyBytes) * 8;
  const out: EncryptJson = { 'ivgen-alg': l.ivgen, 'hash-alg': l.hash, 'cipher-alg': `aes-${aesBits}`, uuid: l.uuid } as EncryptJson;
  if (l.ivHash) out['ivgen-hash-alg'] = l.ivHash;
  out.format = 'luks';
  out['cipher-mode'] = l.mode;
  out.slots = l.slots.map((s) =>
    s.active ? { active: true, iters: s.iterations, 'key-offset': s.keyOffset, stripes: s.stripes } : { active: false, 'key-offset': s.keyOffset },
  );
  out['payload-offset'] = l.payloadOffset;
  out['master-key-iters'] = l.mkDigestIterations;
  return out;
}

/** The human lines, indented as qemu-img prints them under "Format specific information:". */
export function encryptHuman(e: EncryptJson): string[] {
  const lines = ['    encrypt:'];
  for (const [key, value] of Object.entries(e)) {
    const label = key.replace(/-/g, ' ');
    if (key !== 'slots') {
      lines.push(`        ${label}: ${value}`);
      continue;
    }
    lines.push('        slots:');
    (value as LuksSlotJson[]).forEach((s, n) => {
      lines.push(`            [${n}]:`);
      for (const [k, v] of Object.entries(s)) lines.push(`                ${k.replace(/-/g, ' ')}: ${v}`);
    });
  }
  return lines;
}
