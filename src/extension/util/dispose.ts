/**
 * A base class for objects that own disposables: `_register` records one, `dispose()` releases them all once,
 * newest first. Follows the shape of VS Code's own extensions (media-preview's util/dispose.ts); written here.
 */
export interface IDisposable {
  dispose(): void;
}

/** Disposes every item, newest first; keeps going if one throws, then rethrows the first error. */
export function disposeAll(items: IDisposable[]): void {
  let first: unknown;
  while (items.length) {
    const item = items.pop()!;
    try {
      item.dispose();
    } catch (err) {
      first ??= err;
    }
  }
  if (first !== undefined) throw first;
}

export abstract class Disposable implements IDisposable {
  private _isDisposed = false;
  private readonly _disposables: IDisposable[] = [];

  protected get isDisposed(): boolean {
    return this._isDisposed;
  }

  /** Records `value` to be disposed with this object; after disposal it is disposed at once. */
  protected _register<T extends IDisposable>(value: T): T {
    if (this._isDisposed) value.dispose();
    else this._disposables.push(value);
    return value;
  }

  dispose(): void {
    if (this._isDisposed) return;
    this._isDisposed = true;
    disposeAll(this._disposables);
  }
}
