/** A first-come-first-served async mutex: the write path's one lock (see write/index.ts). */
export class AsyncMutex {
  private tail: Promise<void> = Promise.resolve();
  private waiting = 0;

  /** Callers queued or running. While any are, fast in-place writes queue behind them too. */
  get busy(): boolean {
    return this.waiting > 0;
  }

  /** Runs fn once every earlier caller has finished; a failure does not block later callers. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.waiting++;
    const result = this.tail.then(fn).finally(() => this.waiting--);
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
