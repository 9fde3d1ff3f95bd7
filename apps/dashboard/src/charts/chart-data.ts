import type { DashboardView } from '../topology/snapshot';
import {
  CHART_QUERIES,
  chartWindow,
  type ChartQuery,
  type ChartRange,
  type ChartUnit,
  type ChartWindow,
  MAX_SERIES_PER_CHART,
} from './chart-queries';
import {
  PrometheusClient,
  PrometheusQueryError,
  PrometheusUnreachable,
  type RangeSeries,
} from './prometheus-client';

/** One line of a chart: values aligned with the answer's `times` (null: no sample). */
export interface ChartSeries {
  name: string;
  labels: Record<string, string>;
  values: Array<number | null>;
}

export interface ChartData {
  id: string;
  title: string;
  unit: ChartUnit;
  /** The PromQL that was run (the same for every client: fixed by the dashboard). */
  query: string;
  series: ChartSeries[];
  /** More series than {@link MAX_SERIES_PER_CHART}: the first ones by name are kept. */
  truncated?: boolean;
  /** Prometheus answered this query with an error (public view: `error` only). */
  error?: string;
}

/** A completed failover or switchover: an agent's counter of done actions went up. */
export interface ChartMarker {
  /** Unix seconds: the first step at which the counter was seen higher. */
  at: number;
  kind: string;
  agent: string;
  count: number;
}

export type PrometheusStatus = 'up' | 'unreachable' | 'not-configured';

/** What `GET /dashboard/charts` answers (always 200: the dashboard itself is fine). */
export interface ChartsAnswer {
  prometheus: {
    status: PrometheusStatus;
    /** Why it is unreachable: `timeout`, `refused`, `unreachable` (public); the full message (full view). */
    error?: string;
    /** Its URL without credentials: full view only. */
    url?: string;
  };
  range: ChartRange;
  rangeS: number;
  stepS: number;
  rateWindowS: number;
  start: number;
  end: number;
  /** Unix seconds, one per step from `start` to `end`. */
  times: number[];
  charts: ChartData[];
  markers: ChartMarker[];
  /** When the dashboard asked Prometheus (answers are shared for {@link CHARTS_CACHE_MS}). */
  at: string;
}

/** Answers are reused this long per range: any number of pages cost one set of queries per range. */
export const CHARTS_CACHE_MS = 2_000;

const PUBLIC_QUERY_ERROR = 'query failed';

/** A sample's value; NaN and infinities (a quantile of no request) as no point. */
function sampleValue(v: string): number | null {
  const n = Number(v);
  return Number.isFinite(n) ? n : null;
}

/** The series of one query, keeping only its labels, aligned on the window's steps. */
export function alignSeries(
  q: ChartQuery,
  result: RangeSeries[],
  w: ChartWindow,
): { series: ChartSeries[]; truncated: boolean } {
  const points = Math.round((w.end - w.start) / w.stepS) + 1;
  const byName = new Map<string, ChartSeries>();
  for (const r of result) {
    const labels: Record<string, string> = {};
    for (const [from, to] of Object.entries(q.labels)) labels[to] = r.metric[from] ?? '';
    const name = q.name(labels);
    let s = byName.get(name);
    if (!s) {
      s = { name, labels, values: new Array<number | null>(points).fill(null) };
      byName.set(name, s);
    }
    for (const [t, v] of r.values) {
      const i = Math.round((Number(t) - w.start) / w.stepS);
      if (i < 0 || i >= points) continue;
      const value = sampleValue(v);
      // two source series under one name (labels dropped): the larger value
      if (value !== null) s.values[i] = Math.max(s.values[i] ?? -Infinity, value);
    }
  }
  const all = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return {
    series: all.slice(0, MAX_SERIES_PER_CHART),
    truncated: all.length > MAX_SERIES_PER_CHART,
  };
}

/**
 * The markers: for each agent and kind, every step at which its counter of done
 * actions is higher than at the step before. A counter lower than before (the
 * agent restarted) or a gap is not an action.
 */
export function markersFrom(series: ChartSeries[], times: number[]): ChartMarker[] {
  const markers: ChartMarker[] = [];
  for (const s of series) {
    let before: number | null = null;
    s.values.forEach((v, i) => {
      if (v !== null && before !== null && v > before)
        markers.push({
          at: times[i],
          kind: s.labels.kind,
          agent: s.labels.agent,
          count: Math.round(v - before),
        });
      before = v;
    });
  }
  return markers.sort((a, b) => a.at - b.at || a.kind.localeCompare(b.kind));
}

/**
 * Runs the fixed query set against Prometheus and shapes the answer for the page,
 * in the dashboard's view: the public view names no URL and gives short reasons
 * instead of error messages; the series are the same in both (aggregates and the
 * names the public snapshot already shows: services, instance ids, replicas, agents).
 */
export class ChartsSource {
  private readonly client?: PrometheusClient;
  private readonly cache = new Map<ChartRange, { at: number; answer: Promise<ChartsAnswer> }>();

  constructor(
    prometheusUrl: string,
    timeoutMs: number,
    private readonly view: DashboardView,
    private readonly now: () => number = Date.now,
  ) {
    if (prometheusUrl) this.client = new PrometheusClient(prometheusUrl, timeoutMs);
  }

  /** The charts for a range; concurrent and close requests share one set of queries. */
  charts(range: ChartRange): Promise<ChartsAnswer> {
    const now = this.now();
    const hit = this.cache.get(range);
    if (hit && now - hit.at < CHARTS_CACHE_MS) return hit.answer;
    const answer = this.query(range, now);
    this.cache.set(range, { at: now, answer });
    return answer;
  }

  private async query(range: ChartRange, now: number): Promise<ChartsAnswer> {
    const w = chartWindow(range, now);
    const times: number[] = [];
    for (let t = w.start; t <= w.end; t += w.stepS) times.push(t);
    const base = {
      range,
      rangeS: w.rangeS,
      stepS: w.stepS,
      rateWindowS: w.rateWindowS,
      start: w.start,
      end: w.end,
      times,
      at: new Date(now).toISOString(),
    };
    const client = this.client;
    if (!client)
      return { prometheus: { status: 'not-configured' }, ...base, charts: [], markers: [] };
    const url = this.view === 'full' ? { url: client.url } : {};
    const results = await Promise.allSettled(
      CHART_QUERIES.map((q) => client.queryRange(q.expr(w), w)),
    );
    const down = results.find(
      (r): r is PromiseRejectedResult =>
        r.status === 'rejected' && r.reason instanceof PrometheusUnreachable,
    );
    if (down && results.every((r) => r.status === 'rejected')) {
      const err = down.reason as PrometheusUnreachable;
      return {
        prometheus: {
          status: 'unreachable',
          error: this.view === 'full' ? `${err.reason}: ${err.message}` : err.reason,
          ...url,
        },
        ...base,
        charts: [],
        markers: [],
      };
    }
    const charts: ChartData[] = [];
    let markers: ChartMarker[] = [];
    CHART_QUERIES.forEach((q, n) => {
      const r = results[n];
      const query = q.expr(w);
      if (r.status === 'rejected') {
        const err = r.reason as Error;
        const error =
          this.view === 'full'
            ? err.message
            : err instanceof PrometheusUnreachable
              ? err.reason
              : err instanceof PrometheusQueryError
                ? PUBLIC_QUERY_ERROR
                : 'error';
        if (q.kind === 'chart')
          charts.push({ id: q.id, title: q.title, unit: q.unit, query, series: [], error });
        return;
      }
      const { series, truncated } = alignSeries(q, r.value, w);
      if (q.kind === 'markers') markers = markersFrom(series, times);
      else
        charts.push({
          id: q.id,
          title: q.title,
          unit: q.unit,
          query,
          series,
          ...(truncated ? { truncated } : {}),
        });
    });
    return { prometheus: { status: 'up', ...url }, ...base, charts, markers };
  }
}
