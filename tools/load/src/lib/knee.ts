import { type KindSummary, OpenLoad, type Outcome } from './open-load';

/**
 * The knee of a target: the highest arrival rate at which it still holds (p99
 * under a bound, no failure), found by a short step search. Each step is one
 * open-model run at a constant rate (OpenLoad: latency from the intended send
 * time), judged on its own; the search doubles the rate from `startRate` while
 * steps hold, then bisects between the last rate that held and the first that
 * did not, until they are within `precision` of each other or a bound (steps,
 * seconds) is reached. A knee is a figure of one machine at one moment: a step
 * that failed by a hiccup of a shared machine ends the doubling early, and the
 * bisection then finds a lower knee, never a higher one.
 */

/** One step of the search: a rate and whether the target held at it. */
export interface KneeStep {
  /** Arrivals per second asked for. */
  rate: number;
  held: boolean;
  /** p99 from the intended send time, ms (NaN when nothing was sent). */
  p99Ms: number;
  /** Arrivals not answered 2xx: errors, refusals, dropped (the generator had too many waiting). */
  failures: number;
  /** Arrivals scheduled. */
  count: number;
  /** Requests sent per second of the step's window. */
  achievedRate: number;
  /** Why it did not hold: `p99 412 ms`, `3 failed (HTTP 503 x2, timeout x1)`. */
  why?: string;
}

export interface KneeSearchOptions {
  /** Runs one step at `rate` and judges it. */
  probe: (rate: number) => Promise<KneeStep>;
  /** The first rate tried (req/s). */
  startRate: number;
  /** Never tried above this: a knee equal to it means "at least". */
  maxRate: number;
  /** Below this the target is taken to hold nowhere (knee 0). Default startRate / 8. */
  minRate?: number;
  /** Bisection ends once the failing rate is within this fraction above the held one. Default 0.1. */
  precision?: number;
  /** At most this many steps. Default 12. */
  maxSteps?: number;
  /** No new step starts after this many seconds of search. Default 120. */
  budgetS?: number;
  /** Told of each step as it ends (a progress line). */
  onStep?: (step: KneeStep) => void;
}

export interface KneeResult {
  /** The highest rate that held (req/s); 0 when none did. */
  knee: number;
  /** The lowest rate that did not hold; undefined when every rate tried held. */
  failedAt?: number;
  /** Why the search ended. */
  ended: 'converged' | 'max_rate' | 'min_rate' | 'steps' | 'budget';
  steps: KneeStep[];
  seconds: number;
}

export async function findKnee(o: KneeSearchOptions): Promise<KneeResult> {
  if (!(o.startRate > 0) || !(o.maxRate >= o.startRate))
    throw new Error(`need 0 < startRate <= maxRate, got ${o.startRate} and ${o.maxRate}`);
  const precision = o.precision ?? 0.1;
  const maxSteps = o.maxSteps ?? 12;
  const minRate = o.minRate ?? o.startRate / 8;
  const t0 = performance.now();
  const steps: KneeStep[] = [];
  let held = 0;
  let failed: number | undefined;
  const result = (ended: KneeResult['ended']): KneeResult => ({
    knee: held,
    ...(failed === undefined ? {} : { failedAt: failed }),
    ended,
    steps,
    seconds: (performance.now() - t0) / 1000,
  });
  const out = (): KneeResult['ended'] | undefined => {
    if (steps.length >= maxSteps) return 'steps';
    if ((performance.now() - t0) / 1000 >= (o.budgetS ?? 120)) return 'budget';
    return undefined;
  };
  const step = async (rate: number): Promise<boolean> => {
    const s = await o.probe(rate);
    steps.push(s);
    o.onStep?.(s);
    if (s.held) held = Math.max(held, rate);
    else failed = Math.min(failed ?? Infinity, rate);
    return s.held;
  };

  // coarse: double while it holds (or halve while it does not, from the start)
  let rate = Math.round(o.startRate);
  const up = await step(rate);
  while (failed === undefined || held === 0) {
    const bound = out();
    if (bound) return result(bound);
    if (up) {
      if (rate >= o.maxRate) return result('max_rate');
      rate = Math.min(Math.round(o.maxRate), rate * 2);
    } else {
      rate = Math.round(rate / 2);
      if (rate < minRate) return result('min_rate');
    }
    await step(rate);
  }
  // fine: bisect between what held and what did not
  while ((failed as number) > held * (1 + precision)) {
    const bound = out();
    if (bound) return result(bound);
    const mid = Math.round((held + (failed as number)) / 2);
    if (mid <= held || mid >= (failed as number)) break;
    await step(mid);
  }
  return result('converged');
}

/**
 * Judges one step's figures: it held when every arrival was answered 2xx (no
 * error, refusal or drop; nothing skipped either, as a step sends one kind) and
 * p99 from the intended send time stayed under `p99LimitMs`.
 */
export function judgeStep(rate: number, k: KindSummary, p99LimitMs: number): KneeStep {
  const failures = k.errors + k.refused + k.dropped + k.skipped;
  const p99Ms = k.latencyMs.p99;
  const why: string[] = [];
  if (failures) {
    const reasons = Object.entries(k.reasons)
      .slice(0, 3)
      .map(([r, n]) => `${r} x${n}`);
    if (k.dropped) reasons.push(`dropped x${k.dropped}`);
    why.push(`${failures} failed (${reasons.join(', ')})`);
  }
  if (!(p99Ms < p99LimitMs)) why.push(`p99 ${Number.isNaN(p99Ms) ? '-' : Math.round(p99Ms)} ms`);
  return {
    rate,
    held: why.length === 0 && k.count > 0,
    p99Ms,
    failures,
    count: k.count,
    achievedRate: k.achievedRate,
    ...(why.length ? { why: why.join('; ') } : {}),
  };
}

export interface OpenLoadProbeOptions {
  /** Seconds of arrivals per step. */
  durationS: number;
  /** The p99 bound a step must stay under, ms. */
  p99LimitMs: number;
  /** A request not answered this long after its intended time is a failure. */
  timeoutMs: number;
  /** Sends arrival n of the step (n from 0 in every step) by its deadline. */
  send: (n: number, deadline: number) => Promise<Outcome>;
  /** Run after each step (a reset of what the step wrote, a pause for queues to drain). */
  after?: () => Promise<void>;
}

/** A {@link KneeSearchOptions.probe} that runs one open-model step of one kind of request. */
export function openLoadProbe(o: OpenLoadProbeOptions): (rate: number) => Promise<KneeStep> {
  return async (rate) => {
    const load = new OpenLoad({
      rate,
      durationS: o.durationS,
      timeoutMs: o.timeoutMs,
      weights: { step: 1 },
      send: (a) => o.send(a.n, a.deadline),
    });
    const summary = await load.run();
    await o.after?.();
    return judgeStep(rate, summary.total, o.p99LimitMs);
  };
}

/** `420 req/s (p99 83 ms, 1680 sent)` or `840 req/s: p99 1203 ms` for a progress line. */
export function stepLine(s: KneeStep): string {
  const p99 = Number.isNaN(s.p99Ms) ? '-' : s.p99Ms.toFixed(s.p99Ms >= 100 ? 0 : 1);
  return `${s.rate} req/s ${s.held ? 'held' : 'did not hold'}: p99 ${p99} ms, ${s.count} arrivals, ${Math.round(s.achievedRate)}/s sent${s.why ? `; ${s.why}` : ''}`;
}
