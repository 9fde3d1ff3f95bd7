/**
 * The live page's charts on a real stack with a real Prometheus (Debian's package,
 * scraping every second), started as `npm start` starts it (startWholeStack: the
 * dashboard is given the Prometheus' URL): listings requested through the gateway
 * show as reservation's requests per second and latency; recommendation made to
 * hang opens reservation's breaker, drawn as "open"; the MariaDB primary SIGKILLed
 * becomes a failover marker. Then in a real browser (Debian's chromium through
 * playwright-core) through the gateway and its CSP: every chart is a canvas with
 * real points, the failover a vertical line, nothing blocked. Last, Prometheus
 * frozen answers "unreachable (timeout)" and Prometheus stopped "unreachable
 * (refused)", which the page shows instead of charts.
 *   DASHBOARD_CHARTS_SCREENSHOT=docs/images/dashboard-charts.png npm test -- charts.e2e
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  clearFlag,
  LOAD_GATEWAY_LIMITS,
  publishedTopology,
  setFlag,
  Stack,
  startWholeStack,
  UserTokens,
  waitFor,
} from '@stayline/stack-kit';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ChartsAnswer } from './chart-data';

jest.setTimeout(240_000);

/** Where to copy the charts' screenshot: then the test leaves time between events, for a picture with history. */
const PICTURE = process.env.DASHBOARD_CHARTS_SCREENSHOT;
const forThePicture = (ms: number) => (PICTURE ? sleep(ms) : Promise.resolve());

describe('charts on the live page, fed by a real Prometheus', () => {
  let stack: Stack;
  let gw: string;
  let tokens: UserTokens;
  let browser: Browser | undefined;
  let sending = false;
  let traffic: Promise<void> = Promise.resolve();
  const statuses: number[] = [];

  const charts = async (range = '5m') => {
    const res = await fetch(`${gw}/dashboard/charts?range=${range}`, {
      signal: AbortSignal.timeout(10_000),
    });
    expect(res.status).toBe(200);
    return (await res.json()) as ChartsAnswer;
  };
  const seriesOf = (a: ChartsAnswer, chart: string, name: string) =>
    a.charts.find((c) => c.id === chart)?.series.find((s) => s.name === name);

  beforeAll(async () => {
    // as `npm start` runs it, one instance of each service; the load goes through one address
    stack = await startWholeStack({
      instances: 1,
      prometheus: { intervalS: 1 },
      gatewayLimits: LOAD_GATEWAY_LIMITS,
    });
    gw = stack.nginx.url;
    tokens = UserTokens.of(stack);
    // listings through the gateway all along, ~10 a second: reservation asks recommendation
    sending = true;
    const headers = await tokens.headers('alice');
    traffic = (async () => {
      while (sending) {
        const res = await fetch(`${gw}/api/listings?city=Jeju&limit=3`, {
          headers,
          signal: AbortSignal.timeout(5_000),
        }).catch(() => undefined);
        statuses.push(res?.status ?? 0);
        await sleep(100);
      }
    })();
    await forThePicture(120_000);
  });

  afterAll(async () => {
    sending = false;
    await traffic;
    await browser?.close();
    await stack?.stop();
  });

  it('gives the dashboard the Prometheus that runs, and answers real series for every query', async () => {
    const prometheus = stack.component('prometheus');
    let a: ChartsAnswer | undefined;
    await waitFor(
      "reservation's requests and latency, and auth's requests, in Prometheus",
      async () => {
        a = await charts();
        const requests = seriesOf(a, 'requests', 'reservation');
        const p50 = seriesOf(a, 'latency-p50', 'reservation');
        // auth's line too: a rate needs two of its scrapes in the window, which may come later
        return (
          !!requests?.values.some((v) => v !== null && v > 0) &&
          !!p50?.values.some((v) => v) &&
          !!seriesOf(a, 'requests', 'auth')
        );
      },
      { timeoutMs: 60_000, intervalMs: 1_000 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(a?.charts.map((c) => [c.id, c.error]))}`);
    });
    const answer = a as ChartsAnswer;
    // the dev stack's dashboard runs the full view: it names the Prometheus it reads
    expect(answer.prometheus).toEqual({
      status: 'up',
      url: `http://127.0.0.1:${prometheus.port}`,
    });
    expect(answer.charts.filter((c) => c.error)).toEqual([]);
    expect(answer.charts.map((c) => c.id)).toEqual([
      'requests',
      'errors',
      'latency-p50',
      'latency-p99',
      'breakers',
      'replica-lag',
    ]);
    const names = (id: string) => answer.charts.find((c) => c.id === id)?.series.map((s) => s.name);
    // HTTP requests: the gateway's listings reach reservation (which asks recommendation over TCP)
    expect(names('requests')).toEqual(expect.arrayContaining(['reservation', 'auth']));
    // a service without a 5xx is a line at 0
    expect(names('errors')).toEqual(expect.arrayContaining(['reservation']));
    const p99 = seriesOf(answer, 'latency-p99', 'reservation')?.values.filter(
      (v): v is number => v !== null,
    );
    expect(Math.max(...(p99 ?? [0]))).toBeGreaterThan(0);
    expect(Math.max(...(p99 ?? [0]))).toBeLessThan(10);
    // a caller's breakers exist once it has called: listings ask recommendation
    expect(names('breakers')).toContain('reservation-1 → recommendation');
    expect(names('replica-lag')).toEqual(
      expect.arrayContaining(stack.mariadb.replicas.map((r) => r.name)),
    );
    expect(answer.times).toHaveLength(answer.rangeS / answer.stepS + 1);
    console.log(
      `charts: reservation at up to ${Math.max(
        ...(seriesOf(answer, 'requests', 'reservation')?.values ?? []).map((v) => v ?? 0),
      ).toFixed(1)} req/s, p99 up to ${(Math.max(...(p99 ?? [0])) * 1000).toFixed(0)} ms`,
    );
  });

  it('draws a breaker opening when recommendation hangs', async () => {
    // setFlag throws unless the admin API took the flag
    await setFlag(stack, 'fault.recommendation.all.latencyMs', { kind: 'number', value: 1_000 });
    try {
      await waitFor(
        'reservation-1 → recommendation open on the chart',
        async () =>
          !!seriesOf(await charts(), 'breakers', 'reservation-1 → recommendation')?.values.some(
            (v) => v === 2,
          ),
        { timeoutMs: 60_000, intervalMs: 1_000 },
      );
    } finally {
      await clearFlag(stack, 'fault.recommendation.all.latencyMs');
    }
    // nothing but recommendation was in trouble: no other breaker left closed
    const a = await charts();
    const others = a.charts
      .find((c) => c.id === 'breakers')
      ?.series.filter((s) => s.labels.dependency !== 'recommendation');
    for (const s of others ?? [])
      expect({ [s.name]: Math.max(0, ...s.values.map((v) => v ?? 0)) }).toEqual({ [s.name]: 0 });
  });

  it('marks a failover when the MariaDB primary is SIGKILLed', async () => {
    await forThePicture(20_000);
    const before = await publishedTopology(stack);
    const old = before?.primary.name as string;
    const t0 = Date.now();
    stack.kill(old, 'SIGKILL');
    let a: ChartsAnswer | undefined;
    await waitFor(
      'a failover marker',
      async () => {
        a = await charts();
        return a.markers.some((m) => m.kind === 'failover');
      },
      { timeoutMs: 90_000, intervalMs: 1_000 },
    );
    const marker = a?.markers.find((m) => m.kind === 'failover');
    expect(marker?.agent).toMatch(/^failover-agent-\d$/);
    expect(marker?.count).toBe(1);
    // on the step at or after the kill, within the time it took to see it
    expect((marker?.at ?? 0) * 1000).toBeGreaterThanOrEqual(t0 - (a?.stepS ?? 0) * 1000);
    expect((marker?.at ?? 0) * 1000).toBeLessThanOrEqual(Date.now());
    const now = await publishedTopology(stack);
    expect(now?.primary.name).not.toBe(old);
    console.log(
      `charts: failover marker at ${new Date((marker?.at ?? 0) * 1000).toISOString()}, ` +
        `${((marker?.at ?? 0) * 1000 - t0).toFixed(0)} ms after the kill (step ${a?.stepS} s)`,
    );
  });

  it('in a browser through the gateway: every chart a canvas with real points, the failover a line, nothing blocked', async () => {
    await forThePicture(25_000);
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless=new',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 1400 } });
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to|Failed to load/i.test(m.text()))
        blocked.push(m.text());
    });
    page.on('pageerror', (e) => blocked.push(`page error: ${e.message}`));
    const res = await page.goto(`${gw}/dashboard`);
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self' 'sha256-/);
    await page.selectOption('#charts-range', '5m');
    await page.locator('#charts-status[data-status="up"]').waitFor({ timeout: 20_000 });
    await page
      .locator('.chart[data-chart="requests"][data-nonzero*="reservation"] canvas')
      .waitFor({ timeout: 20_000 });
    await page.locator('[data-marker="failover"]').waitFor({ timeout: 20_000 });
    for (const id of [
      'requests',
      'errors',
      'latency-p50',
      'latency-p99',
      'breakers',
      'replica-lag',
    ])
      expect(await page.locator(`.chart[data-chart="${id}"] canvas`).count()).toBe(1);
    expect(await page.locator('#charts-section').innerText()).not.toMatch(/unreachable/i);

    const drawn = await drawnOf(page, 'requests', 'reservation');
    console.log(`browser: requests chart ${JSON.stringify(drawn)}`);
    // a point every 2 s since Prometheus started (the whole stack is younger than the range)
    expect(drawn.points).toBeGreaterThanOrEqual(3);
    expect(drawn.max).toBeGreaterThan(0);
    // the line itself, in its colour, on the canvas
    expect(drawn.pixels).toBeGreaterThan(50);
    // the failover's vertical line, in the marker colour, on every chart's canvas
    expect((await drawnOf(page, 'replica-lag', undefined, '#c53030')).pixels).toBeGreaterThan(50);
    // breaker states: the opening drawn (2, "open"), and each breaker's state now in words
    expect((await drawnOf(page, 'breakers', 'reservation-1 → recommendation')).max).toBe(2);
    const state = page.locator(
      '.chart[data-chart="breakers"] [data-series="reservation-1 → recommendation"]',
    );
    expect(await state.getAttribute('data-state')).toMatch(/^(closed|half-open|open)$/);
    expect(await state.innerText()).toMatch(
      /^reservation-1 → recommendation: (closed|half-open|open)$/,
    );
    expect(blocked).toEqual([]);

    const shot = path.join(stack.stateDir, 'dashboard-charts.png');
    await page.locator('#charts-section').screenshot({ path: shot });
    console.log(`screenshot: ${shot} (kept with STAYLINE_KEEP_STATE=1)`);
    if (PICTURE) {
      fs.mkdirSync(path.dirname(path.resolve(PICTURE)), { recursive: true });
      fs.copyFileSync(shot, path.resolve(PICTURE));
    }
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(50);
  });

  it('says "Prometheus unreachable" when Prometheus is frozen (timeout) or stopped (refused)', async () => {
    const page = await (browser as Browser).newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(`${gw}/dashboard`);
    await page.locator('#charts-status[data-status="up"]').waitFor({ timeout: 20_000 });
    stack.kill('prometheus', 'SIGSTOP');
    try {
      const t0 = Date.now();
      const frozen = await charts('1h');
      expect(frozen.prometheus.status).toBe('unreachable');
      expect(frozen.prometheus.error).toMatch(/^timeout: /);
      expect(frozen.charts).toEqual([]);
      // PROMETHEUS_TIMEOUT_MS (3 s) and no more: the page is not held up
      expect(Date.now() - t0).toBeLessThan(6_000);
    } finally {
      stack.kill('prometheus', 'SIGCONT');
    }
    await waitFor('Prometheus back', async () => (await charts('6h')).prometheus.status === 'up', {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    stack.kill('prometheus', 'SIGKILL');
    await waitFor(
      'refused',
      async () => (await charts('15m')).prometheus.error?.startsWith('refused') ?? false,
      { timeoutMs: 10_000, intervalMs: 500 },
    );
    // an answer cut by the kill (ECONNRESET) says "unreachable"; the next refresh "refused"
    await page
      .locator('#charts-status[data-status="unreachable"]', { hasText: 'refused' })
      .waitFor({ timeout: 15_000 });
    const status = await page.locator('#charts-status').innerText();
    expect(status).toMatch(/^Prometheus unreachable \(refused/);
    expect(await page.locator('#charts canvas').count()).toBe(0);
    // the rest of the page lives on: the topology still streams
    expect(await page.locator('#conn.live').count()).toBe(1);
    await page.close();
  });
});

/**
 * What uPlot holds and drew for one chart: the points of series `name` (or none),
 * their largest value, and how many canvas pixels have `color` (default: the
 * series' own stroke).
 */
async function drawnOf(page: Page, chart: string, name?: string, color?: string) {
  return page.evaluate(
    ({ chart, name, color }) => {
      type Plot = {
        data: Array<Array<number | null>>;
        series: Array<{ label?: string; stroke?: unknown }>;
        ctx: {
          canvas: { width: number; height: number };
          getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray };
        };
      };
      // the page's charts by id (charts.js); this function runs in the browser
      const plots = (globalThis as unknown as { staylineCharts: Map<string, { plot: Plot }> })
        .staylineCharts;
      const u = (plots.get(chart) as { plot: Plot }).plot;
      const i = name ? u.series.findIndex((s) => s.label === name) : -1;
      const values = i > 0 ? u.data[i].filter((v): v is number => v !== null) : [];
      // uPlot keeps a series' stroke as a function of the plot and the series' index
      const own = u.series[i]?.stroke;
      const stroke = String(
        color ?? (typeof own === 'function' ? (own as (u: Plot, i: number) => string)(u, i) : own),
      );
      const rgb = [1, 3, 5].map((k) => parseInt(stroke.slice(k, k + 2), 16));
      const { width, height } = u.ctx.canvas;
      const img = u.ctx.getImageData(0, 0, width, height).data;
      let pixels = 0;
      for (let p = 0; p < img.length; p += 4)
        if (rgb.every((c, k) => Math.abs(img[p + k] - c) <= 12) && img[p + 3] > 100) pixels++;
      return {
        points: values.length,
        max: values.length ? Math.max(...values) : 0,
        pixels,
        stroke,
      };
    },
    { chart, name, color },
  );
}
