/** Searching the guest disk of an image through its whole backing chain (issue #12). Imports the engine only via src/qcow2. */
export { compilePattern, parseHex, MAX_PATTERN_BYTES, type PatternSpec, type PatternMode, type CompiledPattern } from './pattern';
export { PatternError } from './errors';
export { searchDisk, DEFAULT_HIT_LIMIT, MAX_HIT_LIMIT, type SearchHit, type SearchOptions, type SearchResult } from './search';
export { partitionRange } from './scope';
export type { SearchTarget } from './range-scan';
export { fileTarget, diskOffsetOf, placeFileHits, type FileHit } from './file-scope';
