/**
 * Polls `get` until `ok` holds; a throw counts as "not yet" (Redis in the middle
 * of a failover). Throws, naming `what` and the last value, after `timeoutMs`.
 */
export async function eventually<T>(
  what: string,
  get: () => T | Promise<T>,
  ok: (value: T) => boolean,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await get();
      if (ok(value)) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${String(last instanceof Error ? last.message : JSON.stringify(last))}`,
      );
    await new Promise((r) => setTimeout(r, 20));
  }
}
