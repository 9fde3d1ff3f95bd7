/**
 * The chart endpoint against a fake Prometheus (an HTTP server on loopback that
 * answers query_range as Prometheus does), and against none: the series shaped
 * for the page, failovers found as markers, a query error kept to its chart,
 * Prometheus refused or silent answered as "unreachable" within the timeout,
 * the public view naming no URL and no error message. The real Prometheus is in
 * charts.e2e-spec.ts.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Test } from '@nestjs/testing';
import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { dashboardConfig } from '../config';
import { CHARTS_CACHE_MS, ChartsSource, markersFrom } from './chart-data';
import { CHART_QUERIES, chartWindow, MAX_SERIES_PER_CHART } from './chart-queries';
import { CHARTS_SOURCE, ChartsController } from './charts.controller';

type Handler = (
  params: URLSearchParams,
  res: http.ServerResponse,
) => void | 'hang' | Promise<void | 'hang'>;

/** A Prometheus stand-in: records every query_range it is asked, answers with `handler`. */
async function fakePrometheus(handler: Handler) {
  const asked: URLSearchParams[] = [];
  const hanging: http.ServerResponse[] = [];
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/v1/query_range') {
      res.writeHead(404).end();
      return;
    }
    asked.push(url.searchParams);
    void Promise.resolve(handler(url.searchParams, res)).then((r) => {
      if (r === 'hang') hanging.push(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    close: async () => {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

const json = (res: http.ServerResponse, status: number, body: unknown): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const matrix = (result: unknown[]) => ({
  status: 'success',
  data: { resultType: 'matrix', result },
});

/** A series over the window: `value(i)` at step i (undefined: no sample). */
function series(
  metric: Record<string, string>,
  params: URLSearchParams,
  value: (i: number) => string | undefined,
) {
  const start = Number(params.get('start'));
  const end = Number(params.get('end'));
  const step = Number(params.get('step')?.replace(/s$/, ''));
  const values: Array<[number, string]> = [];
  for (let t = start, i = 0; t <= end; t += step, i++) {
    const v = value(i);
    if (v !== undefined) values.push([t, v]);
  }
  return { metric, values };
}

/** Which query was asked: its PromQL for the rate window of any range. */
const idOf = (params: URLSearchParams) =>
  CHART_QUERIES.find((q) =>
    [30, 96, 576].some((rateWindowS) => q.expr({ rateWindowS }) === params.get('query')),
  )?.id;

/** A Prometheus with traffic on reservation, a 5xx on payment, a breaker opening and a failover. */
const healthy: Handler = (p, res) => {
  const q = p.get('query') ?? '';
  const id = idOf(p);
  const job = (name: string) => ({
    job: name,
    instance: `${name}-1`,
    __address__: '10.0.0.7:4001',
  });
  switch (id) {
    case 'requests':
      return json(
        res,
        200,
        matrix([
          series(job('reservation'), p, (i) => String(i < 10 ? 0 : 12.5)),
          series(job('payment'), p, () => '0'),
        ]),
      );
    case 'errors':
      return json(res, 200, matrix([series(job('payment'), p, (i) => (i === 20 ? '0.5' : '0'))]));
    case 'latency-p50':
    case 'latency-p99':
      // no request in a window: Prometheus' quantile is NaN
      return json(
        res,
        200,
        matrix([series(job('reservation'), p, (i) => (i < 10 ? 'NaN' : '0.012'))]),
      );
    case 'breakers':
      return json(
        res,
        200,
        matrix([
          series({ instance: 'reservation-1', dependency: 'recommendation' }, p, (i) =>
            i < 30 ? '0' : i < 40 ? '2' : '1',
          ),
        ]),
      );
    case 'replica-lag':
      return json(
        res,
        200,
        matrix([series({ replica: 'mariadb-2' }, p, (i) => (i < 50 ? '3' : '+Inf'))]),
      );
    case 'failovers':
      return json(
        res,
        200,
        matrix([
          // failover-agent-1 fails over at step 60; agent 2 restarts (its counter drops) at 70
          series({ instance: 'failover-agent-1', kind: 'failover' }, p, (i) =>
            i < 60 ? '0' : '1',
          ),
          series({ instance: 'failover-agent-2', kind: 'switchover' }, p, (i) =>
            i < 70 ? '2' : '0',
          ),
        ]),
      );
    default:
      return json(res, 400, { status: 'error', errorType: 'bad_data', error: `unknown ${q}` });
  }
};

describe('ChartsSource: the fixed queries against a fake Prometheus', () => {
  const now = Date.parse('2026-12-07T12:00:00.000Z');
  let fake: Awaited<ReturnType<typeof fakePrometheus>> | undefined;
  afterEach(async () => {
    await fake?.close();
    fake = undefined;
  });

  it('asks query_range for exactly the named queries over the bounded window, with its timeout', async () => {
    fake = await fakePrometheus(healthy);
    const answer = await new ChartsSource(fake.url, 2_000, 'public', () => now).charts('15m');
    const w = chartWindow('15m', now);
    expect(fake.asked.map((p) => p.get('query')).sort()).toEqual(
      CHART_QUERIES.map((q) => q.expr(w)).sort(),
    );
    for (const p of fake.asked)
      expect(Object.fromEntries(p)).toMatchObject({
        start: String(w.start),
        end: String(w.end),
        step: '6s',
        timeout: '2s',
      });
    expect(answer).toMatchObject({
      prometheus: { status: 'up' },
      range: '15m',
      rangeS: 900,
      stepS: 6,
      start: w.start,
      end: w.end,
    });
    expect(answer.prometheus.url).toBeUndefined();
    expect(answer.times).toHaveLength(151);
    expect(answer.times[0]).toBe(w.start);
    expect(answer.times[150]).toBe(w.end);
  });

  it('shapes the series for the page: only the listed labels, aligned on the steps, NaN and Inf as gaps', async () => {
    fake = await fakePrometheus(healthy);
    const answer = await new ChartsSource(fake.url, 2_000, 'full', () => now).charts('15m');
    expect(answer.charts.map((c) => c.id)).toEqual([
      'requests',
      'errors',
      'latency-p50',
      'latency-p99',
      'breakers',
      'replica-lag',
    ]);
    const chart = (id: string) => answer.charts.find((c) => c.id === id);
    const requests = chart('requests');
    expect(requests?.series.map((s) => s.name)).toEqual(['payment', 'reservation']);
    expect(requests?.series[1].labels).toEqual({ service: 'reservation' });
    expect(requests?.series[1].values[9]).toBe(0);
    expect(requests?.series[1].values[10]).toBe(12.5);
    expect(requests?.series[1].values).toHaveLength(answer.times.length);
    // no address, no raw Prometheus label anywhere in the answer
    expect(JSON.stringify(answer)).not.toMatch(/10\.0\.0\.7|__address__|"job"/);
    expect(chart('latency-p99')?.series[0].values.slice(8, 12)).toEqual([null, null, 0.012, 0.012]);
    expect(chart('breakers')?.series[0]).toMatchObject({
      name: 'reservation-1 → recommendation',
      labels: { caller: 'reservation-1', dependency: 'recommendation' },
    });
    expect(chart('breakers')?.series[0].values.slice(29, 41)).toEqual([
      0, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1,
    ]);
    expect(chart('replica-lag')?.series[0].values.slice(49, 51)).toEqual([3, null]);
    expect(chart('requests')?.unit).toBe('req/s');
    expect(chart('breakers')?.unit).toBe('breaker');
    expect(chart('requests')?.query).toBe(CHART_QUERIES[0].expr(chartWindow('15m', now)));
  });

  it("marks a failover where an agent's counter of done actions goes up, not where a restart drops it", async () => {
    fake = await fakePrometheus(healthy);
    const answer = await new ChartsSource(fake.url, 2_000, 'public', () => now).charts('15m');
    expect(answer.markers).toEqual([
      { at: answer.times[60], kind: 'failover', agent: 'failover-agent-1', count: 1 },
    ]);
  });

  it('finds markers across gaps, and none in a counter that only falls or starts high', () => {
    const times = [0, 10, 20, 30, 40, 50];
    const s = (values: Array<number | null>) => ({
      name: 'x',
      labels: { agent: 'failover-agent-1', kind: 'switchover' },
      values,
    });
    expect(markersFrom([s([0, 0, 1, 1, 3, 3])], times)).toEqual([
      { at: 20, kind: 'switchover', agent: 'failover-agent-1', count: 1 },
      { at: 40, kind: 'switchover', agent: 'failover-agent-1', count: 2 },
    ]);
    expect(markersFrom([s([0, null, null, 1, 1, 1])], times)).toEqual([]);
    expect(markersFrom([s([4, 4, 0, 0, null, 0])], times)).toEqual([]);
  });

  it('keeps at most MAX_SERIES_PER_CHART series per chart, the first by name, and says so', async () => {
    fake = await fakePrometheus((p, res) => {
      if (idOf(p) !== 'requests') return json(res, 200, matrix([]));
      const many = Array.from({ length: MAX_SERIES_PER_CHART + 5 }, (_, n) =>
        series({ job: `svc-${String(n).padStart(2, '0')}` }, p, () => '1'),
      );
      return json(res, 200, matrix(many));
    });
    const answer = await new ChartsSource(fake.url, 2_000, 'public', () => now).charts('5m');
    const requests = answer.charts.find((c) => c.id === 'requests');
    expect(requests?.series).toHaveLength(MAX_SERIES_PER_CHART);
    expect(requests?.truncated).toBe(true);
    expect(requests?.series[0].name).toBe('svc-00');
    expect(answer.charts.find((c) => c.id === 'errors')?.truncated).toBeUndefined();
  });

  it('keeps a failed query to its chart: the error in the full view, "query failed" in the public one', async () => {
    const failing: Handler = (p, res) =>
      idOf(p) === 'latency-p99'
        ? json(res, 422, {
            status: 'error',
            errorType: 'execution',
            error: 'query processing would load too many samples',
          })
        : idOf(p) === 'replica-lag'
          ? void res.writeHead(502, { 'content-type': 'text/html' }).end('<html>bad gateway</html>')
          : healthy(p, res);
    fake = await fakePrometheus(failing);
    const full = await new ChartsSource(fake.url, 2_000, 'full', () => now).charts('15m');
    expect(full.prometheus).toEqual({ status: 'up', url: fake.url });
    const chart = (a: typeof full, id: string) => a.charts.find((c) => c.id === id);
    expect(chart(full, 'latency-p99')).toMatchObject({
      series: [],
      error: 'HTTP 422: execution: query processing would load too many samples',
    });
    expect(chart(full, 'replica-lag')?.error).toBe("HTTP 502, not Prometheus' API (no JSON)");
    expect(chart(full, 'requests')?.series.length).toBe(2);
    const pub = await new ChartsSource(fake.url, 2_000, 'public', () => now).charts('15m');
    expect(chart(pub, 'latency-p99')?.error).toBe('query failed');
    expect(chart(pub, 'replica-lag')?.error).toBe('query failed');
    expect(JSON.stringify(pub)).not.toContain('127.0.0.1');
  });

  it('answers "unreachable" (refused) when nothing listens, naming the URL only in the full view', async () => {
    fake = await fakePrometheus(healthy);
    const url = fake.url;
    await fake.close();
    fake = undefined;
    const pub = await new ChartsSource(url, 2_000, 'public', () => now).charts('15m');
    expect(pub.prometheus).toEqual({ status: 'unreachable', error: 'refused' });
    expect(pub.charts).toEqual([]);
    expect(pub.markers).toEqual([]);
    expect(pub.times).toHaveLength(151);
    const full = await new ChartsSource(`${url}/`, 2_000, 'full', () => now).charts('15m');
    expect(full.prometheus).toMatchObject({ status: 'unreachable', url });
    expect(full.prometheus.error).toMatch(/^refused: fetch failed: .*ECONNREFUSED/);
  });

  it('answers "unreachable" (timeout) within its deadline when Prometheus does not answer', async () => {
    fake = await fakePrometheus(() => 'hang');
    const t0 = Date.now();
    const answer = await new ChartsSource(fake.url, 300, 'public', () => now).charts('15m');
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(answer.prometheus).toEqual({ status: 'unreachable', error: 'timeout' });
    expect(fake.asked).toHaveLength(CHART_QUERIES.length);
  });

  it('answers "not-configured" without asking anyone when PROMETHEUS_URL is empty', async () => {
    const answer = await new ChartsSource('', 2_000, 'full', () => now).charts('1h');
    expect(answer).toMatchObject({
      prometheus: { status: 'not-configured' },
      range: '1h',
      charts: [],
      markers: [],
    });
  });

  it('runs one set of queries per range for any number of pages within CHARTS_CACHE_MS', async () => {
    fake = await fakePrometheus(healthy);
    let clock = now;
    const source = new ChartsSource(fake.url, 2_000, 'public', () => clock);
    await Promise.all([source.charts('15m'), source.charts('15m'), source.charts('15m')]);
    expect(fake.asked).toHaveLength(CHART_QUERIES.length);
    await source.charts('5m');
    expect(fake.asked).toHaveLength(2 * CHART_QUERIES.length);
    clock += CHARTS_CACHE_MS;
    await source.charts('15m');
    expect(fake.asked).toHaveLength(3 * CHART_QUERIES.length);
  });

  it('sends a user and password in the URL as basic authentication, never in the URL', async () => {
    let auth: string | undefined;
    const server = http.createServer((req, res) => {
      auth = req.headers.authorization;
      json(res, 200, matrix([]));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const source = new ChartsSource(`http://ops:s%40cret@127.0.0.1:${port}`, 2_000, 'full');
      const answer = await source.charts('5m');
      expect(auth).toBe(`Basic ${Buffer.from('ops:s@cret').toString('base64')}`);
      expect(answer.prometheus).toEqual({ status: 'up', url: `http://127.0.0.1:${port}` });
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

describe('GET /dashboard/charts and /dashboard/assets', () => {
  let app: INestApplication;
  let fake: Awaited<ReturnType<typeof fakePrometheus>>;

  beforeAll(async () => {
    fake = await fakePrometheus(healthy);
    const moduleRef = await Test.createTestingModule({
      controllers: [ChartsController],
      providers: [
        { provide: CHARTS_SOURCE, useValue: new ChartsSource(fake.url, 2_000, 'public') },
      ],
    }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });

  afterAll(async () => {
    await app?.close();
    await fake?.close();
  });

  it('answers the charts of the default range (15m), never cached by the browser', async () => {
    const res = await request(app.getHttpServer()).get('/dashboard/charts').expect(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.body).toMatchObject({ prometheus: { status: 'up' }, range: '15m' });
    expect(res.body.charts.find((c: { id: string }) => c.id === 'requests').series).toHaveLength(2);
  });

  it('takes a range by name and nothing else: PromQL from a client is a 400', async () => {
    await request(app.getHttpServer()).get('/dashboard/charts?range=1h').expect(200);
    const bad = await request(app.getHttpServer()).get('/dashboard/charts?range=30d').expect(400);
    expect(bad.body.message).toBe('range: one of 5m, 15m, 1h, 6h (got "30d")');
    const asked = fake.asked.length;
    const promql = await request(app.getHttpServer())
      .get(`/dashboard/charts?range=5m&query=${encodeURIComponent('up{job="x"}')}`)
      .expect(400);
    expect(promql.body.message).toMatch(/^unknown parameter query: the charts take only range/);
    await request(app.getHttpServer()).get('/dashboard/charts?range=5m&range=1h').expect(400);
    expect(fake.asked.length).toBe(asked);
  });

  it('answers 200 "unreachable" when Prometheus is down, so the page can say so', async () => {
    const gone = await fakePrometheus(healthy);
    await gone.close();
    const moduleRef = await Test.createTestingModule({
      controllers: [ChartsController],
      providers: [
        {
          provide: CHARTS_SOURCE,
          useValue: new ChartsSource(gone.url, 2_000, 'public'),
        },
      ],
    }).compile();
    const down = moduleRef.createNestApplication({ logger: false });
    await down.init();
    try {
      const res = await request(down.getHttpServer()).get('/dashboard/charts').expect(200);
      expect(res.body.prometheus).toEqual({ status: 'unreachable', error: 'refused' });
    } finally {
      await down.close();
    }
  });

  it("serves uPlot from node_modules and the page's chart files, and nothing else", async () => {
    const js = await request(app.getHttpServer()).get('/dashboard/assets/uplot.js').expect(200);
    expect(js.headers['content-type']).toMatch(/^application\/javascript/);
    expect(js.text).toContain('uPlot');
    const css = await request(app.getHttpServer()).get('/dashboard/assets/uplot.css').expect(200);
    expect(css.headers['content-type']).toMatch(/^text\/css/);
    expect(css.text).toContain('.uplot');
    const charts = await request(app.getHttpServer())
      .get('/dashboard/assets/charts.js')
      .expect(200);
    expect(charts.text).toContain('/dashboard/charts?range=');
    await request(app.getHttpServer()).get('/dashboard/assets/charts.css').expect(200);
    for (const name of ['dashboard.html', '..%2Fconfig.ts', 'constructor', 'toString'])
      await request(app.getHttpServer()).get(`/dashboard/assets/${name}`).expect(404);
  });
});

describe('PROMETHEUS_URL', () => {
  const env = { HTTP_PORT: '4501', REDIS_SENTINELS: '127.0.0.1:26479', STAYLINE_PROFILE: 'dev' };

  it("is the native stack's Prometheus by default; empty means no charts; anything else is an http(s) URL", () => {
    expect(dashboardConfig(env)).toMatchObject({
      PROMETHEUS_URL: 'http://127.0.0.1:9490',
      PROMETHEUS_TIMEOUT_MS: 3_000,
    });
    expect(dashboardConfig({ ...env, PROMETHEUS_URL: '' }).PROMETHEUS_URL).toBe('');
    expect(
      dashboardConfig({ ...env, PROMETHEUS_URL: 'http://prometheus:9090/' }).PROMETHEUS_URL,
    ).toBe('http://prometheus:9090');
    for (const bad of ['prometheus:9090', 'ftp://prometheus', 'http://'])
      expect(() => dashboardConfig({ ...env, PROMETHEUS_URL: bad })).toThrow(/PROMETHEUS_URL/);
  });
});
