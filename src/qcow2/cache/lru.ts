/** A bounded least-recently-used map. Map iteration order is insertion order, so re-inserting marks recency. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(
    private capacity: number,
    /** Called for each entry pushed out by capacity (not by delete/clear). */
    private readonly onEvict?: (key: K, value: V) => void,
  ) {
    if (!(capacity >= 1)) throw new RangeError('cache capacity must be at least 1');
  }

  get size(): number {
    return this.map.size;
  }

  get limit(): number {
    return this.capacity;
  }

  get(key: K): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  peek(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  set(key: K, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) {
      const [oldKey, oldValue] = this.map.entries().next().value as [K, V];
      this.map.delete(oldKey);
      this.onEvict?.(oldKey, oldValue);
    }
  }

  delete(key: K): boolean {
    return this.map.delete(key);
  }

  clear(): void {
    this.map.clear();
  }

  /** Least recently used first. */
  entries(): IterableIterator<[K, V]> {
    return this.map.entries();
  }

  /** The least recently used entry, without touching it. */
  oldest(): [K, V] | undefined {
    return this.map.entries().next().value as [K, V] | undefined;
  }

  resize(capacity: number): void {
    if (!(capacity >= 1)) throw new RangeError('cache capacity must be at least 1');
    this.capacity = capacity;
    while (this.map.size > this.capacity) {
      const [oldKey, oldValue] = this.map.entries().next().value as [K, V];
      this.map.delete(oldKey);
      this.onEvict?.(oldKey, oldValue);
    }
  }
}
