/** One series of a `query_range` answer: its labels, and `[unix seconds, "value"]` pairs. */
export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, string]>;
}

/** Prometheus could not be reached or did not answer in time: no query can succeed. */
export class PrometheusUnreachable extends Error {
  constructor(
    /** `timeout`, `refused` or `unreachable`: safe to show to anyone. */
    readonly reason: 'timeout' | 'refused' | 'unreachable',
    message: string,
  ) {
    super(message);
    this.name = 'PrometheusUnreachable';
  }
}

/** Prometheus answered, but not with data (a query error, an HTTP error, not its API). */
export class PrometheusQueryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PrometheusQueryError';
  }
}

/** The network error under a failed fetch: refused, timed out, or otherwise unreachable. */
function unreachable(err: unknown): PrometheusUnreachable {
  const e = err as Error & { cause?: Error & { code?: string } };
  const message = e.cause?.message ? `${e.message}: ${e.cause.message}` : String(e?.message ?? e);
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError')
    return new PrometheusUnreachable('timeout', message);
  if (e?.cause?.code === 'ECONNREFUSED') return new PrometheusUnreachable('refused', message);
  return new PrometheusUnreachable('unreachable', message);
}

/**
 * Prometheus' HTTP API, `query_range` only. `baseUrl` may carry a path prefix and
 * a user and password (sent as basic authentication, never in the URL).
 */
export class PrometheusClient {
  private readonly base: string;
  private readonly headers: Record<string, string> = { accept: 'application/json' };

  constructor(
    baseUrl: string,
    private readonly timeoutMs: number,
  ) {
    const url = new URL(baseUrl);
    if (url.username || url.password) {
      const user = decodeURIComponent(url.username);
      const password = decodeURIComponent(url.password);
      this.headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
      url.username = '';
      url.password = '';
    }
    this.base = url.toString().replace(/\/+$/, '');
  }

  /** The URL without credentials (the full view shows it). */
  get url(): string {
    return this.base;
  }

  /**
   * `GET /api/v1/query_range`, bounded by the client's timeout (also sent as
   * Prometheus' own `timeout`, so it stops evaluating when the dashboard stops waiting).
   */
  async queryRange(
    expr: string,
    w: { start: number; end: number; stepS: number },
  ): Promise<RangeSeries[]> {
    const params = new URLSearchParams({
      query: expr,
      start: String(w.start),
      end: String(w.end),
      step: `${w.stepS}s`,
      timeout: `${Math.max(1, Math.floor(this.timeoutMs / 1000))}s`,
    });
    let res: Response;
    let text: string;
    try {
      res = await fetch(`${this.base}/api/v1/query_range?${params}`, {
        headers: this.headers,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw unreachable(err);
    }
    let body: { status?: string; error?: string; errorType?: string; data?: unknown };
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrometheusQueryError(`HTTP ${res.status}, not Prometheus' API (no JSON)`);
    }
    if (body.status !== 'success')
      throw new PrometheusQueryError(
        `HTTP ${res.status}: ${body.errorType ?? 'error'}: ${body.error ?? 'no data'}`,
      );
    const data = body.data as { resultType?: string; result?: RangeSeries[] } | undefined;
    if (data?.resultType !== 'matrix' || !Array.isArray(data.result))
      throw new PrometheusQueryError(`a ${data?.resultType ?? 'missing'} result, not a matrix`);
    return data.result;
  }
}
