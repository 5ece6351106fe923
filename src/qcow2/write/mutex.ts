/** A first-come-first-served async mutex: writes and metadata flushes run one at a time. */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();

  /** Runs fn once every earlier caller has finished; a failure does not block later callers. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
