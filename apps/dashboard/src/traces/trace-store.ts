import type { SpanRecord } from './otlp';

/** One trace in the list: what a row of the page shows. */
export interface TraceSummary {
  traceId: string;
  /** The span no other span of the trace is the parent of (the earliest if several). */
  root: { name: string; service: string };
  startedAt: string;
  durationMs: number;
  spanCount: number;
  services: string[];
  /** Whether any span ended in error. */
  error: boolean;
  /** Span events worth a glance in the list: retries, breaker moves, fallbacks. */
  notable: string[];
}

/** Filters of {@link TraceStore.list}. */
export interface TraceQuery {
  limit?: number;
  minDurationMs?: number;
  service?: string;
  errorOnly?: boolean;
}

interface Entry {
  spans: SpanRecord[];
  /** When a span of it last arrived: the least recently fed trace is evicted first. */
  touched: number;
}

/** The events a trace's list row names (see docs/observability.md, "Traces"). */
const NOTABLE = new Set([
  'retry',
  'breaker.transition',
  'breaker.skipped',
  'fallback',
  'bulkhead.rejected',
  'db.replica_failed',
  'db.stale_read',
  'db.primary_moved',
  'db.write_failed',
]);

/**
 * The recent traces, in memory and bounded: at most `maxTraces` traces (the
 * least recently fed leaves first) of at most `maxSpansPerTrace` spans each
 * (later ones are dropped and counted). A place to look at what just happened,
 * not a trace database: point the services' exporter at a collector for that
 * (docs/observability.md).
 */
export class TraceStore {
  private readonly traces = new Map<string, Entry>();
  private clock = 0;
  /** Spans dropped because their trace was full. */
  droppedSpans = 0;

  constructor(
    readonly maxTraces = 2_000,
    readonly maxSpansPerTrace = 1_000,
  ) {}

  add(spans: readonly SpanRecord[]): void {
    for (const span of spans) {
      let entry = this.traces.get(span.traceId);
      if (entry)
        this.traces.delete(span.traceId); // re-inserted last: most recently fed
      else entry = { spans: [], touched: 0 };
      entry.touched = ++this.clock;
      if (entry.spans.length < this.maxSpansPerTrace) entry.spans.push(span);
      else this.droppedSpans++;
      this.traces.set(span.traceId, entry);
    }
    while (this.traces.size > this.maxTraces) {
      const oldest = this.traces.keys().next().value as string;
      this.traces.delete(oldest);
    }
  }

  get size(): number {
    return this.traces.size;
  }

  /** The trace's spans, parents before children and each level by start time; undefined if unknown. */
  get(traceId: string): SpanRecord[] | undefined {
    const entry = this.traces.get(traceId.toLowerCase());
    return entry && inTreeOrder(entry.spans);
  }

  /** Summaries, the most recently started first. */
  list(q: TraceQuery = {}): TraceSummary[] {
    const out: TraceSummary[] = [];
    for (const [traceId, { spans }] of this.traces) {
      const s = summarize(traceId, spans);
      if (q.minDurationMs !== undefined && s.durationMs < q.minDurationMs) continue;
      if (q.service && !s.services.includes(q.service)) continue;
      if (q.errorOnly && !s.error) continue;
      out.push(s);
    }
    out.sort((a, b) => (a.startedAt < b.startedAt ? 1 : a.startedAt > b.startedAt ? -1 : 0));
    return out.slice(0, Math.max(1, Math.min(q.limit ?? 50, 500)));
  }
}

function summarize(traceId: string, spans: SpanRecord[]): TraceSummary {
  const ids = new Set(spans.map((s) => s.spanId));
  const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
  const root = roots.reduce((a, b) => (b.startMs < a.startMs ? b : a), roots[0] ?? spans[0]);
  const start = Math.min(...spans.map((s) => s.startMs));
  const end = Math.max(...spans.map((s) => s.startMs + s.durationMs));
  const notable = new Set<string>();
  for (const s of spans) for (const e of s.events) if (NOTABLE.has(e.name)) notable.add(e.name);
  return {
    traceId,
    root: { name: root.name, service: root.service },
    startedAt: new Date(start).toISOString(),
    durationMs: Math.round((end - start) * 1000) / 1000,
    spanCount: spans.length,
    services: [...new Set(spans.map((s) => s.service))].sort(),
    error: spans.some((s) => s.status === 'error'),
    notable: [...notable].sort(),
  };
}

/** Depth-first from the roots, siblings by start time: the waterfall's order. */
export function inTreeOrder(spans: readonly SpanRecord[]): SpanRecord[] {
  const ids = new Set(spans.map((s) => s.spanId));
  const children = new Map<string | undefined, SpanRecord[]>();
  for (const s of spans) {
    const parent = s.parentSpanId && ids.has(s.parentSpanId) ? s.parentSpanId : undefined;
    children.set(parent, [...(children.get(parent) ?? []), s]);
  }
  const out: SpanRecord[] = [];
  const seen = new Set<string>();
  const visit = (parent: string | undefined) => {
    for (const s of (children.get(parent) ?? []).sort((a, b) => a.startMs - b.startMs)) {
      if (seen.has(s.spanId)) continue; // a duplicated span id never loops
      seen.add(s.spanId);
      out.push(s);
      visit(s.spanId);
    }
  };
  visit(undefined);
  return out;
}
