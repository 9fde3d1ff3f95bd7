import { setTimeout as sleep } from 'node:timers/promises';

/** How long to poll, and how often. */
export interface PollOptions {
  /** Give up after this long (default 20 s). */
  timeoutMs?: number;
  /** Pause between two looks (default 50 ms). */
  intervalMs?: number;
}

/**
 * Thrown by a check when waiting longer cannot help (the process waited on has
 * exited): {@link waitFor} gives up at once with it instead of polling on.
 */
export class GiveUp extends Error {}

/**
 * Polls until `check` holds; a throw counts as "not yet" (a datastore in the
 * middle of a failover), except a {@link GiveUp}, which ends the wait at once.
 * Resolves with the milliseconds it took; throws, naming `what` and the last
 * error, after `timeoutMs`.
 */
export async function waitFor(
  what: string,
  check: () => boolean | Promise<boolean>,
  { timeoutMs = 20_000, intervalMs = 50 }: PollOptions = {},
): Promise<number> {
  const t0 = performance.now();
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return performance.now() - t0;
    } catch (err) {
      if (err instanceof GiveUp) throw err;
      lastError = err;
    }
    if (performance.now() - t0 > timeoutMs) break;
    await sleep(intervalMs);
  }
  const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${reason}`);
}

/**
 * Polls `get` until `ok` holds for its value, and resolves with that value; a
 * throw counts as "not yet". Throws, naming `what` and the last value or
 * error, after `timeoutMs`.
 */
export async function eventually<T>(
  what: string,
  get: () => T | Promise<T>,
  ok: (value: T) => boolean,
  { timeoutMs = 10_000, intervalMs = 20 }: PollOptions = {},
): Promise<T> {
  let last: unknown;
  let value: T | undefined;
  try {
    await waitFor(
      what,
      async () => {
        try {
          value = await get();
          last = value;
          return ok(value);
        } catch (err) {
          last = err;
          return false;
        }
      },
      { timeoutMs, intervalMs },
    );
  } catch {
    const shown = last instanceof Error ? last.message : JSON.stringify(last);
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${shown}`);
  }
  return value as T;
}
