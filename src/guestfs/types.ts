/**
 * The contract every guest file-system reader keeps (ext2/3/4, FAT, NTFS, …), and the read-only device they read.
 * Readers are pure TypeScript over a `ReadOnlyDevice`: no `vscode` import, no write method anywhere, so browsing a
 * guest can never write to the image. Everything read from the guest is untrusted: bound counts and sizes before
 * allocating or looping, break cycles, and throw `GuestFsError` with a one-line reason.
 */

/** A byte range of the guest disk (a partition, an LVM logical volume, or the whole disk), readable and nothing else. */
export interface ReadOnlyDevice {
  /** Size in bytes. */
  readonly size: number;
  /** Fills `buf` from `offset` (bytes, relative to this device). Reads past `size` throw. */
  readAt(buf: Uint8Array, offset: number): Promise<void>;
  /** Where byte 0 of this device lies on the guest disk, so extents can be given as guest-disk offsets. */
  readonly diskOffset: number;
  /**
   * For a device that is not contiguous on the disk (an LVM logical volume with several segments): the guest-disk
   * offset of a device offset. Omitted when the device is contiguous (guest offset = diskOffset + device offset).
   */
  toDiskOffset?(deviceOffset: number): number;
}

export type FileType = 'file' | 'dir' | 'symlink' | 'other';

export interface DirEntry {
  name: string;
  type: FileType;
  /** Inode number (ext), MFT record number (NTFS), or first cluster / directory-entry position (FAT). */
  id: number;
  /** Filled when the directory itself records it (FAT, NTFS); otherwise left for `stat`. */
  size?: number;
  mtime?: Date;
}

export interface FileStat {
  id: number;
  type: FileType;
  size: number;
  mtime?: Date;
  atime?: Date;
  ctime?: Date;
  /** Creation time, where the file system records one. */
  crtime?: Date;
  /** POSIX mode bits (ext). */
  mode?: number;
  uid?: number;
  gid?: number;
  links?: number;
  /** FAT/NTFS attribute names ("hidden", "system", "compressed", "sparse", …). */
  attributes?: string[];
  /** Symlink target, where the file is a symlink. */
  target?: string;
  /** NTFS alternate data streams (names), excluding the unnamed one. */
  streams?: string[];
}

/** One contiguous piece of a file: `length` bytes at file offset `logical` lie at guest-disk offset `diskOffset`. */
export interface Extent {
  logical: number;
  diskOffset: number;
  length: number;
}

/** What a byte of a file system is, for `owner()`. */
export type Owner = { kind: 'file' | 'dir'; path: string; logical: number } | { kind: 'metadata'; what: string } | { kind: 'free' };

export interface FsInfo {
  /** 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32' | 'ntfs' */
  type: string;
  label: string;
  uuid: string;
  size: number;
  blockSize: number;
  /** False when the file system was not cleanly unmounted (ext needs_recovery / not clean, FAT dirty bit, NTFS dirty). */
  clean: boolean;
  warnings: string[];
}

/** A mounted, read-only guest file system. Paths are absolute, '/'-separated, as the guest names them. */
export interface GuestFs {
  readonly info: FsInfo;
  list(path: string): Promise<DirEntry[]>;
  stat(path: string): Promise<FileStat>;
  /** Up to `length` bytes from `offset`; shorter at end of file. Sparse ranges read as zeros. */
  read(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Logical ranges to guest-disk byte ranges, in logical order; holes (sparse, unwritten) are left out. */
  extents(path: string): Promise<Extent[]>;
  /**
   * What the byte at this device offset is. May build a one-time index on first use (bounded by the file system's
   * metadata, cancellable through the signal).
   */
  owner(deviceOffset: number, signal?: AbortSignal): Promise<Owner>;
  /**
   * Where the file system's own structures lie (superblocks, group descriptors, bitmaps, inode tables and journal;
   * boot sector, FATs and root directory; the MFT and the other system files), as device ranges, sorted or not.
   * Bounded by the metadata (one range per group, table or run), not by the size; cancellable.
   */
  metadataRanges?(signal?: AbortSignal): Promise<DeviceRange[]>;
}

/** `length` bytes at `offset` of a device. */
export interface DeviceRange {
  offset: number;
  length: number;
}

/** A guest file-system error: a one-line reason, naming the path where there is one. */
export class GuestFsError extends Error {
  constructor(
    readonly code: 'not-found' | 'not-dir' | 'is-dir' | 'bad-fs' | 'unsupported' | 'too-large',
    message: string,
  ) {
    super(message);
    this.name = 'GuestFsError';
  }
}
