/**
 * Traces across real processes: nginx starts the trace, reservation, payment
 * and recommendation (OpenTelemetry SDK, OTLP/HTTP JSON) send their spans to
 * the dashboard, which keeps them. A booking's trace crosses gateway ->
 * reservation -> payment over Nest TCP down to MariaDB; a listing served while
 * recommendation hangs shows the breaker opening and the fallback; a booking
 * made while a payment instance is dead shows the retry on the other one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium, type Browser } from 'playwright-core';
import {
  clearFlag,
  type Component,
  setFlag,
  Stack,
  startService,
  startServices,
  startStack,
  tracingEnv,
  UserTokens,
  waitFor,
} from '@stayline/stack-kit';
import type { SpanRecord } from './otlp';

jest.setTimeout(120_000);

const SERVICES = ['auth', 'payment', 'recommendation', 'reservation'];
const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

describe('traces across the services, seen by the dashboard', () => {
  let stack: Stack;
  let dashboard: Component;
  let tokens: UserTokens;
  let nextDay = 10;
  /** The retried booking's trace (the third case), drawn by the browser case. */
  let retriedTraceId: string | undefined;
  let browser: Browser | undefined;

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, sentinel: true, nginx: true });
    await startServices(stack, { instances: 1, services: SERVICES, dashboard: true });
    dashboard = stack.byKind('service').find((c) => c.meta?.service === 'dashboard') as Component;
    tokens = UserTokens.of(stack);
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  /** The trace's spans once `done` holds for them (they arrive about a second after the request). */
  async function traceOf(
    traceId: string,
    done: (spans: SpanRecord[]) => boolean,
  ): Promise<SpanRecord[]> {
    let spans: SpanRecord[] = [];
    await waitFor(
      `trace ${traceId}`,
      async () => {
        const res = await fetch(
          `http://${dashboard.host}:${dashboard.port}/dashboard/trace-data/${traceId}`,
        );
        if (res.status !== 200) return false;
        spans = ((await res.json()) as { spans: SpanRecord[] }).spans;
        return done(spans);
      },
      { timeoutMs: 15_000, intervalMs: 250 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(spans.map((s) => [s.service, s.name]))}`);
    });
    return spans;
  }

  const book = async (base = stack.nginx.url, extraHeaders: Record<string, string> = {}) => {
    const from = nextDay++;
    const res = await fetch(`${base}/api/reservations`, {
      method: 'POST',
      headers: {
        ...extraHeaders,
        'content-type': 'application/json',
        'idempotency-key': `trace-${Date.now()}-${from}`,
        ...(await tokens.headers('trace-e2e')),
      },
      body: JSON.stringify({
        listingId: 'seoul-01',
        checkIn: day(from),
        checkOut: day(from + 1),
        guests: 1,
      }),
    });
    return { res, traceId: String(res.headers.get('x-request-id')) };
  };

  /**
   * Every span of a request through reservation and payment has arrived: each process
   * exports its spans in the order they end and its server span ends last, so once both
   * server spans are here, so is the rest (the two processes export on their own clocks).
   */
  const servedBy =
    (...services: string[]) =>
    (spans: SpanRecord[]) =>
      services.every((service) => spans.some((x) => x.service === service && x.kind === 'server'));

  const childrenOf = (spans: SpanRecord[], parent: SpanRecord) =>
    spans.filter((s) => s.parentSpanId === parent.spanId);
  const isDb = (s: SpanRecord) =>
    s.kind === 'client' &&
    (s.attributes['db.system'] === 'mysql' || s.attributes['db.system.name'] === 'mysql');

  it('records nothing of a booking the gateway did not sample, on any hop, and books it all the same', async () => {
    const reservation = stack
      .byKind('service')
      .find((c) => c.meta?.service === 'reservation') as Component;
    type Listed = { traceId: string; root: { name: string; service: string }; services: string[] };
    const recent = async () => {
      const res = await fetch(
        `http://${dashboard.host}:${dashboard.port}/dashboard/trace-data?limit=100`,
      );
      return ((await res.json()) as { traces: Listed[] }).traces;
    };
    await tokens.headers('trace-e2e'); // the login is a request of its own, traced
    await sleep(2_500); // anything still queued has been exported
    const known = new Set((await recent()).map((t) => t.traceId));
    // as nginx sends it when its sample leaves the request out: the sampled flag off
    const traceId = 'c0ffee00000000000000000000000001';
    const { res } = await book(`http://${reservation.host}:${reservation.port}`, {
      traceparent: `00-${traceId}-0000000000000001-00`,
    });
    expect(res.status).toBe(201);
    await sleep(3_000); // two export periods
    // no span of it under its id, and no trace begun by a hop that lost the decision: payment
    // got it in the message (the relay's later messages to other services are traces of their own)
    const found = await fetch(
      `http://${dashboard.host}:${dashboard.port}/dashboard/trace-data/${traceId}`,
    );
    expect(found.status).toBe(404);
    const since = (await recent()).filter((t) => !known.has(t.traceId));
    expect(
      since.filter((t) => t.services.includes('reservation') || t.services.includes('payment')),
    ).toEqual([]);
  });

  it("follows a booking from the gateway through reservation and payment (Nest TCP) down to MariaDB, and the services' logs carry its ids", async () => {
    const { res, traceId } = await book();
    expect(res.status).toBe(201);
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const spans = await traceOf(traceId, servedBy('reservation', 'payment'));

    // the first hop: reservation's HTTP server span, child of the edge's span (the request id's second half)
    const server = spans.find((s) => s.service === 'reservation' && s.kind === 'server');
    expect(server?.parentSpanId).toBe(traceId.slice(16));
    expect(server?.attributes['http.route'] ?? server?.name).toMatch(/reservations/);

    // the dependency call, its attempt (client), and payment's handler under that attempt
    const call = spans.find((s) => s.name === 'payment payment.charge');
    expect(call?.service).toBe('reservation');
    const [attempt] = childrenOf(spans, call as SpanRecord);
    expect(attempt).toMatchObject({
      name: 'payment payment.charge attempt',
      kind: 'client',
      attributes: expect.objectContaining({
        'stayline.attempt': 1,
        'stayline.dependency': 'payment',
      }),
    });
    const charge = spans.find((s) => s.service === 'payment' && s.name === 'payment.charge');
    expect(charge).toMatchObject({ kind: 'server', parentSpanId: attempt.spanId });
    expect(charge?.attributes['rpc.system']).toBe('nestjs-tcp');

    // statements on both sides, their values masked
    const reservationDb = spans.filter((s) => s.service === 'reservation' && isDb(s));
    const paymentDb = spans.filter((s) => s.service === 'payment' && isDb(s));
    expect(reservationDb.length).toBeGreaterThan(0);
    expect(paymentDb.length).toBeGreaterThan(0);
    const statements = [...reservationDb, ...paymentDb].map((s) =>
      String(s.attributes['db.query.text'] ?? s.attributes['db.statement'] ?? ''),
    );
    expect(statements.join('\n')).not.toContain('trace-e2e');
    expect(statements.join('\n')).not.toContain('seoul-01');

    // every span of the trace hangs under the reservation server span
    const ids = new Set(spans.map((s) => s.spanId));
    const roots = spans.filter((s) => !s.parentSpanId || !ids.has(s.parentSpanId));
    expect(roots.map((s) => s.spanId)).toEqual([server?.spanId]);

    // the log lines of the request, in both services, name the trace and a span of it
    const logged = (c: Component) =>
      fs
        .readFileSync(c.spec.logFile as string, 'utf8')
        .split('\n')
        .filter((l) => l.includes(`"trace_id":"${traceId}"`));
    const [reservation] = stack.byKind('service').filter((c) => c.meta?.service === 'reservation');
    const [payment] = stack.byKind('service').filter((c) => c.meta?.service === 'payment');
    await waitFor('log lines with the trace id', () => logged(reservation).length > 0, {
      timeoutMs: 5_000,
    });
    expect(logged(reservation)[0]).toMatch(/"span_id":"[0-9a-f]{16}"/);
    expect(logged(payment).length).toBeGreaterThan(0);
  });

  it("shows the replica router's choice for a read-your-writes read, with the booking's consistency token", async () => {
    const { res } = await book();
    expect(res.status).toBe(201);
    const token = res.headers.get('x-consistency-token');
    expect(token).toBeTruthy();
    const { id } = (await res.json()) as { id: string };
    const read = await fetch(`${stack.nginx.url}/api/reservations/${id}`, {
      headers: { ...(await tokens.headers('trace-e2e')), 'x-consistency-token': String(token) },
    });
    expect(read.status).toBe(200);
    const traceId = String(read.headers.get('x-request-id'));
    const spans = await traceOf(traceId, (s) =>
      s.some((x) => x.events.some((e) => e.name === 'db.route')),
    );
    const routes = spans.flatMap((s) => s.events.filter((e) => e.name === 'db.route'));
    // a replica that has the token's GTID, or one that waits for it (its own span), else the primary
    expect(routes[0].attributes).toMatchObject({
      'stayline.db.role': expect.stringMatching(/^(replica|primary)$/),
    });
    const onReplica = routes.find((r) => r.attributes['stayline.db.role'] === 'replica');
    if (onReplica) expect(onReplica.attributes['stayline.db.token']).toBe(true);
    const waits = spans.filter((s) => s.name === 'db.consistency_wait');
    for (const w of waits)
      expect(w.attributes['stayline.db.token_reached']).toEqual(expect.any(Boolean));
    expect(routes.length).toBeGreaterThan(0);
  });

  it('shows a listing that fell back while recommendation hangs: the timed-out attempt, the breaker opening, the fallback', async () => {
    const headers = await tokens.headers('trace-e2e');
    await setFlag(stack, 'fault.recommendation.all.latencyMs', { kind: 'number', value: 5_000 });
    const seen: string[] = [];
    let opened: SpanRecord[] | undefined;
    let skipped: SpanRecord[] | undefined;
    try {
      for (let i = 0; i < 20 && !(opened && skipped); i++) {
        const res = await fetch(`${stack.nginx.url}/api/listings?limit=5`, { headers });
        expect(res.status).toBe(200);
        const traceId = String(res.headers.get('x-request-id'));
        seen.push(traceId);
        const spans = await traceOf(traceId, servedBy('reservation'));
        const events = spans.flatMap((s) => s.events.map((e) => e.name));
        if (events.includes('breaker.transition')) opened = spans;
        else if (events.includes('breaker.skipped')) skipped = spans;
        await sleep(50);
      }
    } finally {
      await clearFlag(stack, 'fault.recommendation.all.latencyMs');
    }
    expect(opened).toBeDefined();
    expect(skipped).toBeDefined();

    // the call that opened it: its attempt timed out (an error), the transition is on it, then the fallback
    const trip = opened as SpanRecord[];
    const attempt = trip.find((s) => s.events.some((e) => e.name === 'breaker.transition'));
    expect(attempt).toMatchObject({ kind: 'client', status: 'error' });
    expect(attempt?.name).toMatch(/^recommendation .* attempt$/);
    const transition = attempt?.events.find((e) => e.name === 'breaker.transition');
    expect(transition?.attributes).toMatchObject({
      'stayline.dependency': 'recommendation',
      'stayline.breaker.to': 'open',
    });
    const call = trip.find((s) => s.spanId === attempt?.parentSpanId);
    expect(call?.events.map((e) => e.name)).toContain('fallback');

    // once open: no attempt at all, the skip and the fallback (breaker_open) on the call span
    const open = skipped as SpanRecord[];
    const openCall = open.find((s) => s.events.some((e) => e.name === 'breaker.skipped'));
    expect(openCall?.name).toMatch(/^recommendation /);
    expect(
      open.filter((s) => s.name.endsWith(' attempt') && s.name.startsWith('recommendation')),
    ).toEqual([]);
    expect(openCall?.events.find((e) => e.name === 'fallback')?.attributes).toMatchObject({
      'stayline.error.code': 'breaker_open',
    });
  });

  it('shows a booking retried on the other payment instance while one is dead', async () => {
    const second = await startService(stack, {
      service: 'payment',
      name: 'payment-2',
      env: tracingEnv(dashboard.port),
    });
    await waitFor(
      'reservation to send to both payment instances',
      async () => {
        const seenIds = new Set<string>();
        for (let i = 0; i < 4; i++) {
          const { traceId } = await book();
          const spans = await traceOf(traceId, servedBy('reservation', 'payment'));
          for (const s of spans)
            if (s.service === 'payment' && s.kind === 'server' && s.instance)
              seenIds.add(s.instance);
        }
        return seenIds.size === 2;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );

    stack.kill(second.name, 'SIGKILL');
    let retried: SpanRecord[] | undefined;
    for (let i = 0; i < 8 && !retried; i++) {
      const { res, traceId } = await book();
      expect(res.status).toBe(201); // the dead instance costs a retry, never the booking
      const spans = await traceOf(traceId, servedBy('reservation', 'payment'));
      if (spans.some((s) => s.events.some((e) => e.name === 'retry'))) {
        retried = spans;
        retriedTraceId = traceId;
      }
    }
    expect(retried).toBeDefined();
    const spans = retried as SpanRecord[];
    const call = spans.find((s) => s.name === 'payment payment.charge') as SpanRecord;
    const attempts = childrenOf(spans, call).sort(
      (a, b) => Number(a.attributes['stayline.attempt']) - Number(b.attributes['stayline.attempt']),
    );
    expect(attempts.map((a) => [a.attributes['stayline.attempt'], a.status])).toEqual([
      [1, 'error'],
      [2, 'unset'],
    ]);
    expect(attempts[0].attributes['stayline.endpoint']).not.toBe(
      attempts[1].attributes['stayline.endpoint'],
    );
    expect(call.events.find((e) => e.name === 'retry')?.attributes).toMatchObject({
      'stayline.attempt': 2,
      'stayline.endpoint': attempts[1].attributes['stayline.endpoint'],
    });
    // the charge that went through ran under the second attempt, on the live instance
    const charge = spans.find((s) => s.service === 'payment' && s.kind === 'server');
    expect(charge?.parentSpanId).toBe(attempts[1].spanId);
    expect(charge?.instance).not.toBe(second.name);
  });

  it('in a browser: the live page links its slowest requests to their traces; the list to a trace whose waterfall crosses the services with the retry as a mark', async () => {
    expect(retriedTraceId).toBeDefined();
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
    // the live page: its slowest recent requests, each a link to its waterfall
    await page.goto(`${stack.nginx.url}/dashboard`);
    const slow = page.locator('#slow-requests tbody a');
    await slow.first().waitFor({ timeout: 15_000 });
    const href = await slow.first().getAttribute('href');
    expect(href).toMatch(/^\/dashboard\/traces\?id=[0-9a-f]{32}$/);
    await slow.first().click();
    await page.locator('#waterfall .row').first().waitFor({ timeout: 10_000 });

    // through the gateway, under its Content-Security-Policy: the page runs no inline script
    await page.goto(`${stack.nginx.url}/dashboard/traces`);
    const row = page.locator(`tr[data-trace-id="${retriedTraceId}"]`);
    await row.waitFor({ timeout: 10_000 });
    expect(await row.locator('.tag').allTextContents()).toContain('retry');
    await row.locator('a').click();
    await page.waitForURL(/\/dashboard\/traces\?id=/);
    const rows = page.locator('#waterfall .row');
    await rows.first().waitFor({ timeout: 10_000 });
    const names = await rows.evaluateAll((els) => els.map((e) => e.getAttribute('data-name')));
    expect(names).toEqual(
      expect.arrayContaining([
        'payment payment.charge',
        'payment payment.charge attempt',
        'payment.charge',
      ]),
    );
    const retry = page.locator(
      '#waterfall .row[data-name="payment payment.charge"] .mark[data-event="retry"]',
    );
    expect(await retry.count()).toBe(1);
    // a click opens the span's attributes and events
    await page.locator('#waterfall .row[data-name="payment payment.charge"]').click();
    await page.locator('.details').first().waitFor({ timeout: 2_000 });
    expect(await page.locator('.details').textContent()).toContain('retry');
    const shot = path.join(stack.stateDir, 'trace.png');
    await page.screenshot({ path: shot, fullPage: true });
    const wanted = process.env.TRACE_SCREENSHOT;
    if (wanted) fs.copyFileSync(shot, path.resolve(wanted));
    expect(errors).toEqual([]);
  });

  it('refuses a malformed trace id, query or export, and the gateway does not route the receiver', async () => {
    const base = `http://${dashboard.host}:${dashboard.port}`;
    const bad = await fetch(`${base}/dashboard/trace-data/not-a-trace`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'bad_request' });
    const unknown = await fetch(`${base}/dashboard/trace-data/${'0'.repeat(32)}`);
    expect(unknown.status).toBe(404);
    const notOtlp = await fetch(`${base}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ spans: [] }),
    });
    expect(notOtlp.status).toBe(400);
    const query = await fetch(`${base}/dashboard/trace-data?limit=0`);
    expect(query.status).toBe(400);
    // the receiver is not under /dashboard: the gateway does not route it
    const viaGateway = await fetch(`${stack.nginx.url}/v1/traces`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceSpans":[]}',
    });
    expect(viaGateway.status).toBe(404);
  });
});
