#!/usr/bin/env python3
"""
An independent reader of LUKS-encrypted qcow2 guest bytes, for checking what QEMU cannot open: QEMU 7.2 asserts
(block.c: QEMU_IS_ALIGNED(len, sectorsize)) on any aes-192-cbc LUKS image, so our aes-192-cbc images are read
here instead. Written from the LUKS1 spec and qcow2 spec with Python's hashlib and the `cryptography` package
(python3-cryptography), sharing no code with the engine. Checked against qemu-made images in the test that uses it.

usage: luks1_read.py IMAGE PASSPHRASE OFFSET LENGTH   (guest bytes to stdout; unallocated clusters read as zeros)
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def ivs(sector, ivgen, essiv_key):
    if ivgen == 'plain':
        iv = struct.pack('<I', sector & 0xFFFFFFFF) + bytes(12)
    else:
        iv = struct.pack('<Q', sector) + bytes(8)
    if essiv_key is not None:
        enc = Cipher(algorithms.AES(essiv_key), modes.ECB()).encryptor()
        iv = enc.update(iv) + enc.finalize()
    return iv


def decrypt_sectors(data, key, mode, ivgen, ivhash, first_sector):
    essiv_key = hashlib.new(ivhash, key).digest() if ivgen == 'essiv' else None
    out = bytearray()
    for i in range(0, len(data), 512):
        iv = ivs(first_sector + i // 512, ivgen, essiv_key)
        m = modes.XTS(iv) if mode == 'xts' else modes.CBC(iv)
        d = Cipher(algorithms.AES(key), m).decryptor()
        out += d.update(data[i:i + 512]) + d.finalize()
    return bytes(out)


def af_merge(material, key_bytes, stripes, hash_name):
    digest_len = hashlib.new(hash_name).digest_size
    acc = bytearray(key_bytes)
    for s in range(stripes):
        block = material[s * key_bytes:(s + 1) * key_bytes]
        acc = bytearray(a ^ b for a, b in zip(acc, block))
        if s < stripes - 1:
            out = bytearray()
            for i in range(0, key_bytes, digest_len):
                piece = acc[i:i + digest_len]
                out += hashlib.new(hash_name, struct.pack('>I', i // digest_len) + piece).digest()[:len(piece)]
            acc = out
    return bytes(acc)


def main():
    path, passphrase, offset, length = sys.argv[1], sys.argv[2].encode(), int(sys.argv[3]), int(sys.argv[4])
    f = open(path, 'rb')
    hdr = f.read(4096)
    cluster_bits = struct.unpack('>I', hdr[20:24])[0]
    l1_offset = struct.unpack('>Q', hdr[40:48])[0]
    assert struct.unpack('>I', hdr[32:36])[0] == 2, 'not LUKS'
    pos = struct.unpack('>I', hdr[100:104])[0]
    luks_at = None
    while True:
        t, n = struct.unpack('>II', hdr[pos:pos + 8])
        if t == 0:
            break
        if t == 0x0537BE77:
            luks_at = struct.unpack('>Q', hdr[pos + 8:pos + 16])[0]
        pos += 8 + (n + 7) // 8 * 8
    f.seek(luks_at)
    lh = f.read(592)
    mode_spec = lh[40:72].rstrip(b'\0').decode()
    hash_name = lh[72:104].rstrip(b'\0').decode()
    key_bytes = struct.unpack('>I', lh[108:112])[0]
    mk_digest, mk_salt, mk_iters = lh[112:132], lh[132:164], struct.unpack('>I', lh[164:168])[0]
    mode, ivspec = mode_spec.split('-', 1)
    ivgen, _, ivhash = ivspec.partition(':')
    master = None
    for i in range(8):
        active, iters, salt, key_sector, stripes = struct.unpack('>II32sII', lh[208 + 48 * i:256 + 48 * i])
        if active != 0x00AC71F3:
            continue
        slot_key = hashlib.pbkdf2_hmac(hash_name, passphrase, salt, iters, key_bytes)
        f.seek(luks_at + key_sector * 512)
        n = (key_bytes * stripes + 511) // 512 * 512
        material = decrypt_sectors(f.read(n), slot_key, mode, ivgen, ivhash or 'sha256', 0)
        candidate = af_merge(material, key_bytes, stripes, hash_name)
        if hashlib.pbkdf2_hmac(hash_name, candidate, mk_salt, mk_iters, 20) == mk_digest:
            master = candidate
            break
    if master is None:
        sys.exit('no key slot matches')
    cs = 1 << cluster_bits
    out = bytearray()
    for sector in range(offset // 512, (offset + length + 511) // 512):
        guest = sector * 512
        l2_entries = cs // 8
        f.seek(l1_offset + (guest // cs // l2_entries) * 8)
        l2 = struct.unpack('>Q', f.read(8))[0] & 0x00FFFFFFFFFFFE00
        host = 0
        if l2:
            f.seek(l2 + (guest // cs % l2_entries) * 8)
            host = struct.unpack('>Q', f.read(8))[0] & 0x00FFFFFFFFFFFE00
        if host == 0:
            out += bytes(512)
        else:
            f.seek(host + guest % cs)
            out += decrypt_sectors(f.read(512), master, mode, ivgen, ivhash or 'sha256', (host + guest % cs) // 512)
    start = offset % 512
    sys.stdout.buffer.write(bytes(out[start:start + length]))


main()
