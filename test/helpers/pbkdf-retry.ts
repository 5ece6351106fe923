/**
 * QEMU times PBKDF2 on the CPU when it makes a LUKS image, and on a loaded machine that benchmark sometimes fails
 * with "Unable to get accurate CPU usage". That one failure is retried, after letting the load pass a little; any
 * other failure is thrown at once. No imports, so the extension-host test bundle can use it too.
 */
export function retryPbkdfBenchmark<T>(run: () => T, attempts = 12): T {
  for (let attempt = 0; ; attempt++) {
    try {
      return run();
    } catch (err) {
      if (attempt === attempts - 1 || !/accurate CPU usage/.test(String(err))) throw err;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100 + attempt * 100);
    }
  }
}
