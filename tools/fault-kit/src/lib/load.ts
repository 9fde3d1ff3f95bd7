import { bearer, HttpClient, HttpReply, HttpRequestOptions } from '@stayline/stack-kit';

/** One request of a load: when it ended, how long it took, what answered. */
export interface Sample {
  /** The request's index in its load (what `LoadOptions.request` was called with). */
  n?: number;
  /** `performance.now()` when the answer (or the error) came. */
  at: number;
  ms: number;
  /** HTTP status; 0 when the request failed without an answer. */
  status: number;
  /** The instance that answered (`X-Instance-Id`), when it said. */
  instance?: string;
  error?: string;
  reply?: HttpReply;
}

export interface LoadOptions {
  /** Concurrent closed-loop workers (each sends its next request when the last one answered). */
  workers: number;
  /** The request a worker sends; `n` counts the requests of this load. */
  request: (n: number) => { url: string } & HttpRequestOptions;
  /** Pause between a worker's requests (default 0: as fast as answers come). */
  pauseMs?: number;
  /** Keep each reply on its sample (for demos that read the bodies). */
  keepReplies?: boolean;
  /**
   * The token request `n` is sent with (`Authorization: Bearer`), unless the
   * request sets its own authorization: every `/api` route needs one. Fetched
   * before the request's clock starts, so a sample never includes issuing it;
   * the stack kit's `UserTokens` keeps and renews them (see the example).
   */
  token?: (n: number) => Promise<string> | string;
}

/**
 * A closed-loop load: `workers` loops, each waiting for its answer before
 * sending again, as a pool of callers does. Every answer is a {@link Sample}.
 *
 * @example
 *   const tokens = UserTokens.of(stack);
 *   const load = Load.start({
 *     workers: 8,
 *     request: () => ({ url: `${gw}/api/listings` }),
 *     token: (n) => tokens.token(`load-${n % 8}`),
 *   });
 *   await sleep(5_000);
 *   await load.stop();
 *   load.perInstance(); load.errors().length;
 */
export class Load {
  readonly samples: Sample[] = [];
  readonly client = new HttpClient({ maxSockets: 64 });
  private running = true;
  private sent = 0;
  private readonly loops: Promise<void>[];

  private constructor(private readonly o: LoadOptions) {
    this.loops = Array.from({ length: o.workers }, () => this.loop());
  }

  /**
   * `METHOD url` of the requests sent again after a connection was cut without
   * an answer (nginx closes connections on a reload): a GET, or a request with
   * an Idempotency-Key, as a client should (HttpClient).
   */
  get resent(): readonly string[] {
    return this.client.retries;
  }

  static start(o: LoadOptions): Load {
    return new Load(o);
  }

  private async loop(): Promise<void> {
    while (this.running) {
      const n = this.sent++;
      this.samples.push(await this.send(n, this.o.request(n)));
      if (this.o.pauseMs) await new Promise((r) => setTimeout(r, this.o.pauseMs));
    }
  }

  private async send(
    n: number,
    { url, ...init }: { url: string } & HttpRequestOptions,
  ): Promise<Sample> {
    if (this.o.token && !hasAuthorization(init.headers)) {
      try {
        init.headers = { ...init.headers, ...bearer(await this.o.token(n)) };
      } catch (err) {
        return { n, at: performance.now(), ms: 0, status: 0, error: `no token: ${String(err)}` };
      }
    }
    const t = performance.now();
    try {
      const reply = await this.client.request(url, init);
      const instance = reply.headers['x-instance-id'];
      return {
        n,
        at: performance.now(),
        ms: performance.now() - t,
        status: reply.status,
        instance: typeof instance === 'string' ? instance : undefined,
        reply: this.o.keepReplies ? reply : undefined,
      };
    } catch (err) {
      return {
        n,
        at: performance.now(),
        ms: performance.now() - t,
        status: 0,
        error: (err as Error).message,
      };
    }
  }

  /** Stops sending and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.running = false;
    await Promise.all(this.loops);
    this.client.close();
  }

  /** Samples that ended within `[from, to)` (`performance.now()` times). */
  between(from: number, to = Infinity): Sample[] {
    return this.samples.filter((s) => s.at >= from && s.at < to);
  }

  /** Answers that were not a success: no answer, or a 5xx. */
  errors(samples: Sample[] = this.samples): Sample[] {
    return samples.filter((s) => s.status === 0 || s.status >= 500);
  }

  /** Requests per answering instance, sorted by name. */
  perInstance(samples: Sample[] = this.samples): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const s of samples) if (s.instance) counts[s.instance] = (counts[s.instance] ?? 0) + 1;
    return Object.fromEntries(Object.entries(counts).sort(([a], [b]) => a.localeCompare(b)));
  }
}

function hasAuthorization(headers: Record<string, string> | undefined): boolean {
  return Object.keys(headers ?? {}).some((h) => h.toLowerCase() === 'authorization');
}

export function percentile(values: number[], p: number): number {
  if (!values.length) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** `{ p50, p99, max, n }` of latencies in ms. */
export function latency(samples: Sample[]): { p50: number; p99: number; max: number; n: number } {
  const ms = samples.map((s) => s.ms);
  return {
    p50: percentile(ms, 50),
    p99: percentile(ms, 99),
    max: percentile(ms, 100),
    n: ms.length,
  };
}
