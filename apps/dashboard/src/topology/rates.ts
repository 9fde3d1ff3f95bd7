/**
 * Requests per second from two readings of an instance's counters (its
 * readiness answer's `details.discovery.completed` and `failed`, counters that
 * only grow from the instance's start): the difference over the time between
 * the two polls. An instance that restarted (a new start time, or a counter
 * lower than before) starts over rather than showing a negative rate; one that
 * does not report the counters (an older build) has no rate.
 */

/** What one readiness answer says about the counters, and when it came. */
export interface CounterReading {
  /** Requests and messages finished since the instance started. */
  completed?: number;
  /** The failed (5xx) among them. */
  failed?: number;
  /** When the answer arrived, in ms (a monotonic clock). */
  atMs: number;
}

export interface InstanceRate {
  requestsPerS?: number;
  errorsPerS?: number;
}

interface Baseline {
  startedAt: string;
  completed: number;
  failed?: number;
  atMs: number;
  rate: InstanceRate;
}

/** Rates are shown to one decimal: finer would only make every snapshot differ. */
const perS = (delta: number, ms: number) => Math.round((delta * 10_000) / ms) / 10;

/**
 * One instance's rate after a new reading, given the previous one (pure):
 * `rate` undefined until two readings of the same run are at least
 * `minIntervalMs` apart; a reading closer than that to its baseline (a probe
 * of a new instance followed by the round's) keeps the baseline and its rate.
 */
export function nextRate(
  previous: Baseline | undefined,
  startedAt: string,
  reading: CounterReading,
  minIntervalMs: number,
): Baseline | undefined {
  const { completed, failed, atMs } = reading;
  if (completed === undefined) return undefined;
  const fresh: Baseline = { startedAt, completed, failed, atMs, rate: {} };
  if (!previous || previous.startedAt !== startedAt || completed < previous.completed) return fresh;
  const ms = atMs - previous.atMs;
  if (ms < minIntervalMs) return previous;
  const errors =
    failed !== undefined && previous.failed !== undefined && failed >= previous.failed
      ? perS(failed - previous.failed, ms)
      : undefined;
  return {
    ...fresh,
    rate: { requestsPerS: perS(completed - previous.completed, ms), errorsPerS: errors },
  };
}

/** The baselines of every instance shown, by instance id. */
export class RateMeter {
  private readonly baselines = new Map<string, Baseline>();

  constructor(private readonly minIntervalMs: number) {}

  /** Takes a new reading of `id`'s counters. */
  read(id: string, startedAt: string, reading: CounterReading): void {
    const next = nextRate(this.baselines.get(id), startedAt, reading, this.minIntervalMs);
    if (next) this.baselines.set(id, next);
    else this.baselines.delete(id);
  }

  /** `id`'s rate now (empty until two readings). */
  rate(id: string): InstanceRate {
    return this.baselines.get(id)?.rate ?? {};
  }

  forget(id: string): void {
    this.baselines.delete(id);
  }
}
