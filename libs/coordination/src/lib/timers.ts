/**
 * Timer helpers shared by every periodic task (renewals, sweeps, resyncs):
 * jittered so that a fleet started together does not beat in step, and
 * unref()ed so that a forgotten timer never keeps a process alive.
 */

/** A monotonic clock in milliseconds; injected in unit tests. */
export interface Clock {
  now(): number;
}

/** `performance.now()`: monotonic, unaffected by wall-clock steps, keeps running while a process is frozen. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** `ms` spread by ±`ratio` (0.1 = ±10 %). */
export function jittered(ms: number, ratio = 0.1): number {
  return Math.max(0, ms * (1 + ratio * (2 * Math.random() - 1)));
}

/** A one-shot timer that does not keep the process alive. */
export function unrefTimeout(fn: () => void, ms: number): NodeJS.Timeout {
  const t = setTimeout(fn, ms);
  t.unref();
  return t;
}

/** Resolves after `ms`. With `unref`, the wait does not keep the process alive on its own. */
export function delay(ms: number, { unref = false } = {}): Promise<void> {
  return new Promise((resolve) => (unref ? unrefTimeout(resolve, ms) : setTimeout(resolve, ms)));
}

/**
 * Start-up against a coordinator that may not answer yet (a loaded host, a
 * Redis still electing): runs `attempt` until it resolves, `retryMs` (jittered)
 * apart, and tells `onFailure` about each failure. Resolves with the result,
 * or with `undefined` once `stopped()` turns true. Never rejects.
 */
export async function keepTrying<T>(
  attempt: () => Promise<T>,
  o: { retryMs: number; stopped: () => boolean; onFailure?: (err: Error, attempt: number) => void },
): Promise<T | undefined> {
  for (let n = 1; !o.stopped(); n++) {
    try {
      return await attempt();
    } catch (err) {
      o.onFailure?.(err as Error, n);
      await delay(jittered(o.retryMs), { unref: true });
    }
  }
  return undefined;
}
