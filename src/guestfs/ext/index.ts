/** The ext2/3/4 reader: `openExt(device)` gives a read-only GuestFs. */
export { openExt, ExtFs } from './ext-fs';
export { isExtSuperblock, parseSuperblock, type Superblock } from './superblock';
