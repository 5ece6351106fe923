/**
 * The write path of a qcow2 image, and its concurrency contract (in the spirit of qcow2-rs's lock hierarchy;
 * enforced by Qcow2Dev through WriterSlot (writer-slot.ts); the folder sees the device only as a WritableImage).
 *
 * The one lock. Each device has one AsyncMutex (write/mutex.ts), first come first served. There is no other lock
 * and no lock order to respect. It is taken by:
 *   - writes that may change metadata (allocation, copy-on-write, zero/compressed/shared clusters): Qcow2Writer.submit;
 *   - the writer's creation (first-write checks, autoclear header update; WriterSlot.create);
 *   - flushMeta, fsyncRange, shrinkCaches;
 *   - check (with or without repair) and clusterUsage, for their whole run;
 *   - close, before it closes the files.
 * It is not taken by:
 *   - reads (readAt, blockStatus, getMapping, map): they only read cached or on-disk metadata;
 *   - fast in-place overwrites (write/in-place.ts): clusters this image owns, whose mapping cannot change, and only
 *     while nobody holds or awaits the lock and no overlapping write is in flight. Whoever takes the lock first waits
 *     for the fast writes in flight (Qcow2Writer.settleInFlight), so issue order holds for overlapping writes.
 *
 * No-await windows (the lock does not cover reads, so these must be synchronous):
 *   - Qcow2Dev.writeAt, once the writer exists, up to submit: concurrent writes keep their issue order;
 *   - submit's fast-path decision (planInPlace reads cached slices only);
 *   - block status between l2Now and the return: an l2Now slice's buffer may be reused once it is evicted
 *     (buffers are never recycled once a writer exists, since it holds slices across awaits).
 *
 * Dirty bitmaps (write/bitmap-tracking.ts). Marking the enabled bitmaps in use on disk runs under the lock before the
 * first guest write (no fast write starts until it is done); each write then sets its bits in memory, synchronously
 * (the fast path too). Close, and check with repair, store the bitmaps under the lock after the metadata flush.
 *
 * Deferred decrements. A cluster dropped by copy-on-write or a replaced table is only queued (pendingDecrements)
 * and freed by MetaWriteback.flush, after the tables that dropped it are on disk, and only at a moment with no read
 * in flight (Qcow2Dev.activeReads === 0): a read may still be using the old mapping. Until then it is not reused.
 *
 * Check with repair, usage and close wait for every write in flight (fast ones included) and flush metadata first,
 * and no write starts while they run: a repair rewrites refcounts and tables behind the caches, which the device
 * then drops and reloads (the writer too). Reads may overlap a repair: it moves no data and frees only clusters
 * nothing references.
 */
export { WriterSlot } from './writer-slot';
export type { WritableImage } from './writable-image';
