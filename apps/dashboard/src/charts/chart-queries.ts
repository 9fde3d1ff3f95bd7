/**
 * The charts of the live page: a FIXED set of named PromQL queries, run with
 * Prometheus' `query_range` over a window the dashboard chooses from a short
 * list. Nothing a client sends becomes PromQL: it picks a range by name, and
 * every series keeps only the labels its query lists (the Prometheus label
 * `instance` of a failover agent is its name, of a service instance its id;
 * no address label is ever read).
 */

/** The ranges a page may ask for, in seconds. */
export const CHART_RANGES = { '5m': 300, '15m': 900, '1h': 3_600, '6h': 21_600 } as const;
export type ChartRange = keyof typeof CHART_RANGES;
export const DEFAULT_CHART_RANGE: ChartRange = '15m';

/** Points per series at most (plus one): the step is the range over this, in whole seconds. */
export const CHART_POINTS = 150;

/** Series kept per chart at most, by name; the rest are dropped and the chart says so. */
export const MAX_SERIES_PER_CHART = 40;

export function isChartRange(v: unknown): v is ChartRange {
  return typeof v === 'string' && Object.prototype.hasOwnProperty.call(CHART_RANGES, v);
}

/** Where and how finely the queries are evaluated. Times in Unix seconds. */
export interface ChartWindow {
  range: ChartRange;
  rangeS: number;
  /** query_range's `step`. */
  stepS: number;
  /** `end` on a whole step, `start` one range before it: the same window for every page asking within a step. */
  start: number;
  end: number;
  /** The `[...]` of rate(): at least 30 s (six scrapes at `npm start`'s 5 s), and four steps. */
  rateWindowS: number;
}

export function chartWindow(range: ChartRange, nowMs: number): ChartWindow {
  const rangeS = CHART_RANGES[range];
  const stepS = Math.max(1, Math.ceil(rangeS / CHART_POINTS));
  const end = Math.floor(nowMs / 1000 / stepS) * stepS;
  return {
    range,
    rangeS,
    stepS,
    start: end - rangeS,
    end,
    rateWindowS: Math.max(30, 4 * stepS),
  };
}

/** What a chart's values mean. `breaker`: 0 closed, 1 half-open, 2 open. */
export type ChartUnit = 'req/s' | 's' | 'ms' | 'breaker' | 'count';

export interface ChartQuery {
  id: string;
  title: string;
  unit: ChartUnit;
  /** Prometheus label -> the answer's label: the only labels a series keeps. */
  labels: Readonly<Record<string, string>>;
  /** A series' name from its kept labels. */
  name(labels: Readonly<Record<string, string>>): string;
  /** The PromQL, for a window. */
  expr(w: Pick<ChartWindow, 'rateWindowS'>): string;
  /** `markers`: not drawn as a chart; its increases become vertical lines on every chart. */
  kind: 'chart' | 'markers';
}

const rateOf = (selector: string, w: Pick<ChartWindow, 'rateWindowS'>) =>
  `rate(${selector}[${w.rateWindowS}s])`;

const latency = (q: number, id: string, title: string): ChartQuery => ({
  id,
  title,
  unit: 's',
  labels: { job: 'service' },
  name: (l) => l.service,
  expr: (w) =>
    `histogram_quantile(${q}, sum by (job, le) (${rateOf('http_server_request_duration_seconds_bucket', w)}))`,
  kind: 'chart',
});

/**
 * The queries, in the order the page shows them. `job` is the service (the
 * label Prometheus' service discovery gives every instance); the probes are
 * not in `http_server_requests_total` (docs/observability.md).
 */
export const CHART_QUERIES: readonly ChartQuery[] = [
  {
    id: 'requests',
    title: 'Requests / s per service',
    unit: 'req/s',
    labels: { job: 'service' },
    name: (l) => l.service,
    expr: (w) => `sum by (job) (${rateOf('http_server_requests_total', w)})`,
    kind: 'chart',
  },
  {
    id: 'errors',
    title: '5xx / s per service',
    unit: 'req/s',
    labels: { job: 'service' },
    name: (l) => l.service,
    // a service without a 5xx is a line at 0, not a missing one
    expr: (w) =>
      `sum by (job) (${rateOf('http_server_requests_total{status=~"5.."}', w)})` +
      ` or sum by (job) (${rateOf('http_server_requests_total', w)}) * 0`,
    kind: 'chart',
  },
  latency(0.5, 'latency-p50', 'p50 latency per service'),
  latency(0.99, 'latency-p99', 'p99 latency per service'),
  {
    id: 'breakers',
    title: 'Breakers per caller → dependency (worst endpoint)',
    unit: 'breaker',
    labels: { instance: 'caller', dependency: 'dependency' },
    name: (l) => `${l.caller} → ${l.dependency}`,
    // the gauge is 0 closed, 1 open, 2 half-open: ranked 0 closed, 1 half-open, 2 open, so
    // max() over a dependency's endpoints is the worst of them
    expr: () =>
      'max by (instance, dependency) (' +
      '(resilience_breaker_state == 1) * 2' +
      ' or (resilience_breaker_state == 2) - 1' +
      ' or (resilience_breaker_state == 0) * 0)',
    kind: 'chart',
  },
  {
    id: 'replica-lag',
    title: 'Replica lag (worst router view)',
    unit: 'ms',
    labels: { replica: 'replica' },
    name: (l) => l.replica,
    expr: () => 'max by (replica) (stayline_db_replica_lag_ms)',
    kind: 'chart',
  },
  {
    id: 'failovers',
    title: 'Failovers and switchovers done',
    unit: 'count',
    labels: { instance: 'agent', kind: 'kind' },
    name: (l) => `${l.agent} ${l.kind}`,
    // per agent: a marker where its counter of completed actions goes up (a restart's
    // drop to 0 is not one)
    expr: () => 'max by (instance, kind) (stayline_failover_actions_total{outcome="done"})',
    kind: 'markers',
  },
];
