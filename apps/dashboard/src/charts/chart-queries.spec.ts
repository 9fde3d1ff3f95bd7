import fs from 'node:fs';
import path from 'node:path';
import {
  CHART_POINTS,
  CHART_QUERIES,
  CHART_RANGES,
  chartWindow,
  isChartRange,
  type ChartRange,
} from './chart-queries';

const ROOT = path.resolve(__dirname, '../../../..');

/** Every metric name a library or an app registers (counter/gauge/histogram('name', ...)). */
function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory() && e.name !== 'node_modules') walk(p);
      else if (e.name.endsWith('.ts') && !/spec\.ts$/.test(e.name)) {
        const text = fs.readFileSync(p, 'utf8');
        for (const m of text.matchAll(/\b(?:counter|gauge|histogram)\(\s*'([a-z_:]+)'/g))
          names.add(m[1]);
      }
    }
  };
  walk(path.join(ROOT, 'libs'));
  walk(path.join(ROOT, 'apps'));
  return names;
}

describe('the charts: a fixed set of named queries', () => {
  const at = Date.parse('2026-12-07T12:00:00.000Z');

  it('names each query once and keeps only the labels it lists', () => {
    const ids = CHART_QUERIES.map((q) => q.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual([
      'requests',
      'errors',
      'latency-p50',
      'latency-p99',
      'breakers',
      'replica-lag',
      'failovers',
    ]);
    for (const q of CHART_QUERIES) {
      // no address label is ever read: Prometheus' `instance` is an instance id or an agent's name
      expect(Object.keys(q.labels)).not.toContain('__address__');
      // every label the query keeps is one it groups by
      for (const label of Object.keys(q.labels))
        expect(q.expr(chartWindow('15m', at))).toMatch(
          new RegExp(`by \\(([\\w, ]*\\b)?${label}\\b`),
        );
    }
    expect(CHART_QUERIES.filter((q) => q.kind === 'markers').map((q) => q.id)).toEqual([
      'failovers',
    ]);
  });

  it('reads only metrics that a service, a library or an agent exports', () => {
    const exported = exportedMetrics();
    expect(exported).toContain('http_server_requests_total');
    for (const q of CHART_QUERIES) {
      const expr = q.expr(chartWindow('1h', at));
      const names = [...expr.matchAll(/\b([a-z_]+(?:_total|_bucket|_state|_ms))\b/g)].map((m) =>
        m[1].replace(/_bucket$/, ''),
      );
      expect({ id: q.id, names: names.length }).not.toEqual({ id: q.id, names: 0 });
      for (const name of names)
        expect({ id: q.id, name, exported: exported.has(name) }).toEqual({
          id: q.id,
          name,
          exported: true,
        });
    }
  });

  it('is the PromQL the docs give: RED per service, quantiles over the buckets, breakers ranked by severity', () => {
    const w = chartWindow('15m', at);
    const expr = Object.fromEntries(CHART_QUERIES.map((q) => [q.id, q.expr(w)]));
    expect(expr.requests).toBe('sum by (job) (rate(http_server_requests_total[30s]))');
    expect(expr.errors).toBe(
      'sum by (job) (rate(http_server_requests_total{status=~"5.."}[30s]))' +
        ' or sum by (job) (rate(http_server_requests_total[30s])) * 0',
    );
    expect(expr['latency-p50']).toBe(
      'histogram_quantile(0.5, sum by (job, le) (rate(http_server_request_duration_seconds_bucket[30s])))',
    );
    expect(expr['latency-p99']).toContain('histogram_quantile(0.99, ');
    // 0 closed, 1 open, 2 half-open in the gauge: 0 closed, 1 half-open, 2 open here
    expect(expr.breakers).toBe(
      'max by (instance, dependency) ((resilience_breaker_state == 1) * 2' +
        ' or (resilience_breaker_state == 2) - 1 or (resilience_breaker_state == 0) * 0)',
    );
    expect(expr['replica-lag']).toBe('max by (replica) (stayline_db_replica_lag_ms)');
    expect(expr.failovers).toBe(
      'max by (instance, kind) (stayline_failover_actions_total{outcome="done"})',
    );
  });

  it('names series from the kept labels', () => {
    const name = (id: string, labels: Record<string, string>) =>
      CHART_QUERIES.find((q) => q.id === id)?.name(labels);
    expect(name('requests', { service: 'reservation' })).toBe('reservation');
    expect(name('breakers', { caller: 'reservation-1', dependency: 'payment' })).toBe(
      'reservation-1 → payment',
    );
    expect(name('replica-lag', { replica: 'mariadb-2' })).toBe('mariadb-2');
  });

  it('bounds every window: a range from a short list, at most 151 points, a rate window of four steps or 30 s', () => {
    expect(Object.keys(CHART_RANGES)).toEqual(['5m', '15m', '1h', '6h']);
    expect(isChartRange('15m')).toBe(true);
    for (const bad of ['1d', '', 'toString', '__proto__', 15, undefined])
      expect(isChartRange(bad)).toBe(false);
    const steps: Record<string, number> = {};
    for (const range of Object.keys(CHART_RANGES) as ChartRange[]) {
      const w = chartWindow(range, at + 1_234);
      steps[range] = w.stepS;
      expect(w.end - w.start).toBe(CHART_RANGES[range]);
      expect((w.end - w.start) / w.stepS).toBeLessThanOrEqual(CHART_POINTS);
      // the end on a whole step: pages asking within one step ask for the same window
      expect(w.end % w.stepS).toBe(0);
      expect(w.end).toBeLessThanOrEqual((at + 1_234) / 1000);
      expect(w.rateWindowS).toBe(Math.max(30, 4 * w.stepS));
    }
    expect(steps).toEqual({ '5m': 2, '15m': 6, '1h': 24, '6h': 144 });
  });
});
