import { build, type Histogram } from 'hdr-histogram-js';

/**
 * What became of one arrival: `ok` (2xx), `refused` (an answer the load
 * expects now and then: 409 nights taken, 429 a limit), `error` (5xx, an
 * unexpected 4xx, a timeout, a connection error), or `skipped` (the mix had
 * nothing to act on, e.g. no booking of the run left to cancel: nothing sent).
 */
export type Verdict = 'ok' | 'refused' | 'error' | 'skipped';

export interface Outcome {
  verdict: Verdict;
  /** HTTP status; 0 when no answer came. */
  status: number;
  /** For a refusal or an error: `HTTP 503`, `timeout`, `ECONNREFUSED`... */
  reason?: string;
  /**
   * `performance.now()` when the request got its connection and was written;
   * later than the intended time when the generator lagged or every connection
   * was busy. Undefined when it was never sent.
   */
  sentAt?: number;
}

export interface Arrival<K extends string = string> {
  /** Its index in the run: arrival n is due at `start + n / rate`. */
  n: number;
  kind: K;
  /** `performance.now()` at which it was due: its latency is measured from here. */
  intended: number;
  /** `performance.now()` after which the sender gives up (a timeout, an error). */
  deadline: number;
}

export interface OpenLoadOptions<K extends string> {
  /** Arrivals per second, at fixed intended times `start + n / rate`. */
  rate: number;
  /** Seconds over which arrivals are scheduled. */
  durationS: number;
  /** At most this many arrivals (the run ends at whichever bound comes first). */
  maxRequests?: number;
  /** Weight per kind: arrivals take the kinds in these shares, interleaved. */
  weights: Readonly<Record<K, number>>;
  /** Sends one arrival; should not reject (a rejection counts as an error). */
  send: (a: Arrival<K>) => Promise<Outcome>;
  /** Milliseconds from the intended time until a request counts as a timeout. */
  timeoutMs: number;
  /**
   * Arrivals sent and not answered yet, at most; one more is dropped (not sent,
   * counted) rather than queued without bound behind a stalled server.
   */
  maxPending?: number;
}

/** Requests written more than this long after their intended time count as late. */
export const LATE_MS = 10;
const DEFAULT_MAX_PENDING = 10_000;

export interface Percentiles {
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** The figures of one kind (or of all: `kind: 'all'`). */
export interface KindSummary {
  kind: string;
  /** Arrivals scheduled: ok + refused + errors + dropped + skipped. */
  count: number;
  ok: number;
  refused: number;
  errors: number;
  /** Not sent: `maxPending` requests were already waiting. */
  dropped: number;
  /** Not sent: nothing to act on (no booking of the run to cancel). */
  skipped: number;
  /** Sent more than {@link LATE_MS} after their intended time. */
  late: number;
  /** Milliseconds from the intended send time to the answer (or the failure): every sent request. */
  latencyMs: Percentiles;
  /** Milliseconds from the actual send to the answer: what a closed-model tool would report. */
  serviceMs: Percentiles;
  intendedRate: number;
  /** Requests sent per second of the schedule's window. */
  achievedRate: number;
  /** Refusals and errors by reason, most frequent first. */
  reasons: Record<string, number>;
}

export interface LoadSummary {
  rate: number;
  durationS: number;
  /** Seconds from the first intended time to the last arrival fired, plus one interval. */
  windowS: number;
  /** Whether it was stopped before its bounds (Ctrl-C). */
  stopped: boolean;
  kinds: KindSummary[];
  total: KindSummary;
}

/** Live figures for the progress line. */
export interface Progress {
  elapsedS: number;
  /** Arrivals fired so far (sent, dropped or skipped). */
  fired: number;
  /** Requests sent per second since the previous progress line. */
  rate: number;
  p50: number;
  p99: number;
  ok: number;
  refused: number;
  errors: number;
  dropped: number;
  inFlight: number;
}

const us = (ms: number) => Math.max(1, Math.round(ms * 1000));

function histogram(): Histogram {
  return build({ numberOfSignificantValueDigits: 3 });
}

function percentiles(h: Histogram): Percentiles {
  if (h.totalCount === 0) return { p50: NaN, p90: NaN, p99: NaN, p999: NaN, max: NaN, mean: NaN };
  // a percentile is the top of its bucket (3 significant digits); never above the exact max
  const at = (p: number) => Math.min(h.getValueAtPercentile(p), h.maxValue) / 1000;
  return {
    p50: at(50),
    p90: at(90),
    p99: at(99),
    p999: at(99.9),
    max: h.maxValue / 1000,
    mean: h.mean / 1000,
  };
}

class KindStats {
  count = 0;
  ok = 0;
  refused = 0;
  errors = 0;
  dropped = 0;
  skipped = 0;
  late = 0;
  readonly latency = histogram();
  readonly service = histogram();
  readonly reasons = new Map<string, number>();

  record(o: Outcome, latencyMs: number, serviceMs: number | undefined, late: boolean): void {
    if (o.verdict === 'skipped') {
      this.skipped++;
      return;
    }
    if (o.verdict === 'ok') this.ok++;
    else {
      if (o.verdict === 'refused') this.refused++;
      else this.errors++;
      const reason = o.reason ?? `HTTP ${o.status}`;
      this.reasons.set(reason, (this.reasons.get(reason) ?? 0) + 1);
    }
    this.latency.recordValue(us(latencyMs));
    if (serviceMs !== undefined) this.service.recordValue(us(serviceMs));
    if (late) this.late++;
  }

  summary(kind: string, intendedRate: number, windowS: number): KindSummary {
    const sent = this.count - this.dropped - this.skipped;
    return {
      kind,
      count: this.count,
      ok: this.ok,
      refused: this.refused,
      errors: this.errors,
      dropped: this.dropped,
      skipped: this.skipped,
      late: this.late,
      latencyMs: percentiles(this.latency),
      serviceMs: percentiles(this.service),
      intendedRate,
      achievedRate: windowS > 0 ? sent / windowS : 0,
      reasons: Object.fromEntries([...this.reasons].sort((a, b) => b[1] - a[1])),
    };
  }
}

/**
 * Picks kinds in the shares of their weights, interleaved rather than in
 * streaks (nginx's smooth weighted round robin): over any stretch of arrivals
 * each kind's count stays within one of its share.
 */
export class WeightedSequence<K extends string> {
  private readonly entries: Array<{ kind: K; weight: number; current: number }>;
  private readonly sum: number;

  constructor(weights: Readonly<Record<K, number>>) {
    this.entries = (Object.entries(weights) as Array<[K, number]>)
      .filter(([, w]) => w > 0)
      .map(([kind, weight]) => ({ kind, weight, current: 0 }));
    this.sum = this.entries.reduce((s, e) => s + e.weight, 0);
    if (!this.entries.length) throw new Error('no kind has a weight above 0');
  }

  share(kind: K): number {
    return (this.entries.find((e) => e.kind === kind)?.weight ?? 0) / this.sum;
  }

  next(): K {
    let best = this.entries[0];
    for (const e of this.entries) {
      e.current += e.weight;
      if (e.current > best.current) best = e;
    }
    best.current -= this.sum;
    return best.kind;
  }
}

/**
 * An open-model load: arrival n is due at `start + n / rate` whatever became
 * of the earlier ones (no worker waits for its last answer before sending
 * again), and its latency is measured from that intended time, not from when
 * it was actually sent. A server that stalls, or a generator that falls behind,
 * shows in every arrival that was due meanwhile: the correction for
 * coordinated omission (docs/load.md). Latencies go to HdrHistograms
 * (3 significant digits, microseconds), one per kind and one for all.
 *
 * @example
 *   const load = new OpenLoad({ rate: 50, durationS: 10, timeoutMs: 10_000,
 *     weights: { browse: 1 }, send: async (a) => ({ verdict: 'ok', status: 200, sentAt: performance.now() }) });
 *   const summary = await load.run();
 */
export class OpenLoad<K extends string> {
  private readonly stats = new Map<K, KindStats>();
  private readonly all = new KindStats();
  private readonly sequence: WeightedSequence<K>;
  private readonly total: number;
  private readonly intervalMs: number;
  private t0 = 0;
  private lastFired = 0;
  private fired = 0;
  private pending = 0;
  private stopRequested = false;
  private drained?: () => void;
  private timer?: NodeJS.Timeout;
  private stopResolve?: () => void;
  /** Arrivals sent (not dropped), and the count and time at the last progress line. */
  private sent = 0;
  private lastProgress = { at: 0, sent: 0 };

  constructor(private readonly o: OpenLoadOptions<K>) {
    if (!(o.rate > 0)) throw new Error(`rate must be above 0, got ${o.rate}`);
    this.sequence = new WeightedSequence(o.weights);
    this.intervalMs = 1000 / o.rate;
    this.total = Math.min(o.maxRequests ?? Infinity, Math.max(1, Math.round(o.rate * o.durationS)));
    for (const k of Object.keys(o.weights) as K[]) this.stats.set(k, new KindStats());
  }

  /** Arrivals this run schedules at most. */
  get scheduled(): number {
    return this.total;
  }

  /** Schedules every arrival, waits for the last answer, and sums up. */
  async run(): Promise<LoadSummary> {
    this.t0 = performance.now();
    await new Promise<void>((resolve) => {
      const tick = () => {
        const now = performance.now();
        while (this.fired < this.total && !this.stopRequested) {
          const intended = this.t0 + this.fired * this.intervalMs;
          if (intended > now) break;
          this.fire(this.fired++, intended);
        }
        if (this.fired >= this.total || this.stopRequested) return resolve();
        const due = this.t0 + this.fired * this.intervalMs;
        this.timer = setTimeout(tick, Math.max(0, due - performance.now()));
      };
      this.stopResolve = () => {
        clearTimeout(this.timer);
        resolve();
      };
      tick();
    });
    if (this.pending > 0) await new Promise<void>((resolve) => (this.drained = resolve));
    return this.summary();
  }

  /** Stops scheduling (Ctrl-C); {@link run} resolves once the requests in flight are answered. */
  stop(): void {
    this.stopRequested = true;
    this.stopResolve?.();
  }

  private fire(n: number, intended: number): void {
    const kind = this.sequence.next();
    const stats = [this.stats.get(kind) ?? new KindStats(), this.all];
    for (const s of stats) s.count++;
    this.lastFired = intended;
    if (this.pending >= (this.o.maxPending ?? DEFAULT_MAX_PENDING)) {
      for (const s of stats) s.dropped++;
      return;
    }
    this.pending++;
    this.sent++;
    const settle = (o: Outcome) => {
      const done = performance.now();
      const late = o.sentAt !== undefined && o.sentAt - intended > LATE_MS;
      const service = o.sentAt === undefined ? undefined : done - o.sentAt;
      for (const s of stats) s.record(o, done - intended, service, late);
      if (--this.pending === 0) this.drained?.();
    };
    this.o
      .send({ n, kind, intended, deadline: intended + this.o.timeoutMs })
      .then(settle, (err: unknown) =>
        settle({ verdict: 'error', status: 0, reason: (err as Error)?.message ?? String(err) }),
      );
  }

  /** The figures so far, for a progress line; its rate is since the previous call. */
  progress(): Progress {
    const now = performance.now();
    const all = this.all;
    const since = this.lastProgress.at ? this.lastProgress : { at: this.t0, sent: 0 };
    const rate = now > since.at ? ((this.sent - since.sent) * 1000) / (now - since.at) : 0;
    this.lastProgress = { at: now, sent: this.sent };
    const p = percentiles(all.latency);
    return {
      elapsedS: (now - this.t0) / 1000,
      fired: this.fired,
      rate,
      p50: p.p50,
      p99: p.p99,
      ok: all.ok,
      refused: all.refused,
      errors: all.errors,
      dropped: all.dropped,
      inFlight: this.pending,
    };
  }

  summary(): LoadSummary {
    const windowS = this.fired ? (this.lastFired - this.t0 + this.intervalMs) / 1000 : 0;
    const kinds = [...this.stats].map(([k, s]) =>
      s.summary(k, this.o.rate * this.sequence.share(k), windowS),
    );
    return {
      rate: this.o.rate,
      durationS: this.o.durationS,
      windowS,
      stopped: this.stopRequested,
      kinds,
      total: this.all.summary('all', this.o.rate, windowS),
    };
  }
}
