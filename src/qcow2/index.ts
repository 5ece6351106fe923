/** The qcow2 engine's public surface. No vscode imports anywhere below src/qcow2. */
export * from './errors';
export * from './io';
export { NodeFileIo } from './io-node';
export { MemIo } from './io-mem';
export * from './header';
export * from './header-extensions';
export * from './info';
export * from './layer';
export { RawDev } from './raw-dev';
export { Qcow2Dev, type Qcow2DevParams, type Mapping, type MetaSlice } from './qcow2-dev';
export * from './open';
export type { Snapshot } from './snapshots';
export type { BitmapEntry } from './bitmaps';
export * from './refcount-codec';
export { mapEntries, detectMetadataPreallocation, qemuPathCombine, type MapEntry, type MapOptions } from './map';
