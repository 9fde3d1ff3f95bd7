/**
 * The nginx gateway in front of the whole stack (docs/patterns/load-balancing.md,
 * "Server side"): one stack, 2 instances of every service, the gateway sync.
 * Routes, JSON errors, the request id, the edge's headers (Swagger UI under its
 * policy in a real browser), upstreams that follow the registry, and a rolling
 * restart of every instance under a steady request stream with zero failed
 * requests, and no public route but the token route and the JWKS answered
 * without a token. A load stack: its answers keep X-Instance-Id.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import {
  bearer,
  DEMO_PASSWORDS,
  gatewayUpstreams,
  HttpClient,
  HttpReply,
  HttpRequestOptions,
  isAlive,
  LOAD_GATEWAY_LIMITS,
  SERVICES,
  Stack,
  startStack,
  UserTokens,
  waitFor,
  waitForGatewayUpstreams,
  startService,
  startServices,
} from './index';

jest.setTimeout(120_000);

// a GET that hit a reset is sent again like a browser would; a POST only after a reused socket (HttpClient)
const client = new HttpClient();
const keepAliveRetries = client.retries;
const request = (url: string, o: HttpRequestOptions = {}) => client.request(url, o);
/** The user this file's requests are made as, unless a test says another. */
const USER = 'gateway-e2e';

const LISTINGS = ['seoul', 'busan', 'jeju', 'gangneung', 'jeonju'].flatMap((city) =>
  Array.from({ length: 12 }, (_, i) => `${city}-${String(i + 1).padStart(2, '0')}`),
);

/** A one-night booking no other request of this file asks for: listing and day from `n`. */
function booking(n: number, firstDay: number) {
  const day = (offset: number) =>
    new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
  const offset = firstDay + Math.floor(n / LISTINGS.length);
  return {
    listingId: LISTINGS[n % LISTINGS.length],
    checkIn: day(offset),
    checkOut: day(offset + 1),
    guests: 1,
  };
}

describe('nginx gateway over the whole stack (2 instances of every service)', () => {
  let stack: Stack;
  let gw: string;
  let tokens: UserTokens;
  /** A request as `user`: its token in Authorization (the stack's auth issues it, once). */
  const requestAs = async (user: string, url: string, o: HttpRequestOptions = {}) =>
    request(url, { ...o, headers: { ...(await tokens.headers(user)), ...o.headers } });
  const authed = (url: string, o: HttpRequestOptions = {}) => requestAs(USER, url, o);
  const logOf = (name: string) => fs.readFileSync(stack.component(name).spec.logFile, 'utf8');
  const accessLog = () =>
    fs.readFileSync(path.join(stack.component('gateway').dir, 'access.log'), 'utf8');
  const instancesOf = (service: string) =>
    stack.byKind('service').filter((c) => c.meta?.service === service);
  /**
   * Which instances logged the client's id for a request (pino-http writes one line per
   * request; the gateway passes a client's X-Request-Id on as X-Client-Request-Id).
   */
  const servedBy = (clientId: string) =>
    stack
      .byKind('service')
      .filter((c) => logOf(c.name).includes(`"clientRequestId":"${clientId}"`))
      .map((c) => c.name);
  const EDGE_ID = /^[0-9a-f]{32}$/;

  beforeAll(async () => {
    const t0 = Date.now();
    // the rolling restart books from one address far above the production rate, and the
    // tests tell instances apart by X-Instance-Id (LOAD_GATEWAY_LIMITS keep it)
    stack = await startStack({
      replicas: 2,
      sentinel: true,
      nginx: true,
      gatewayLimits: LOAD_GATEWAY_LIMITS,
    });
    const { startupMs } = await startServices(stack, { instances: 2 });
    gw = stack.nginx.url;
    tokens = UserTokens.of(stack);
    console.log(
      `whole stack up in ${Date.now() - t0} ms (services behind the gateway: ${startupMs} ms)`,
    );
  }, 180_000);

  afterAll(async () => {
    client.close();
    await stack?.stop();
  });

  it('routes every public prefix to its own service, over both instances', async () => {
    const routes: Array<[string, string, (b: Record<string, unknown>) => boolean]> = [
      ['/api/listings?limit=3', 'reservation', (b) => Array.isArray(b.items) && 'ranking' in b],
      ['/api/reservations', 'reservation', (b) => Array.isArray(b.items)],
      ['/api/payments', 'payment', (b) => Array.isArray(b.items)],
      ['/api/recommendations', 'recommendation', (b) => 'profile' in b],
      ['/api/scraps', 'scrap', (b) => Array.isArray(b.items)],
      ['/api/auth/.well-known/jwks.json', 'auth', (b) => Array.isArray(b.keys)],
    ];
    for (const [route, service, shape] of routes) {
      const served = new Set<string>();
      // round robin alternates; a few more tries cover an instance nginx's passive check set aside at start-up
      for (let i = 0; i < 20 && (i < 6 || served.size < 2); i++) {
        const id = `route-${service}-${i}-${Date.now()}`;
        const res = await authed(gw + route, { headers: { 'X-Request-Id': id } });
        expect({ route, status: res.status }).toEqual({ route, status: 200 });
        expect(shape(res.json())).toBe(true);
        await waitFor(`${id} in a ${service} log`, async () => servedBy(id).length > 0, {
          timeoutMs: 3_000,
        });
        const by = servedBy(id);
        expect(by).toHaveLength(1);
        expect(by[0]).toMatch(new RegExp(`^${service}-`));
        // a load stack's gateway keeps the instance's own header
        expect(res.headers['x-instance-id']).toBe(by[0]);
        served.add(by[0]);
      }
      // round robin over both instances
      expect([...served].sort()).toEqual([`${service}-1`, `${service}-2`]);
    }
  });

  it('books through the gateway (POST with an Idempotency-Key) and replays the same key', async () => {
    const body = JSON.stringify(booking(0, 300));
    const headers = {
      'content-type': 'application/json',
      'Idempotency-Key': `gw-e2e-book-${Date.now()}`,
    };
    const first = await authed(`${gw}/api/reservations`, { method: 'POST', headers, body });
    expect(first.status).toBe(201);
    expect(first.json()).toMatchObject({ status: 'CONFIRMED', userId: USER });
    const again = await authed(`${gw}/api/reservations`, { method: 'POST', headers, body });
    expect(again.status).toBe(201);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect(again.json().id).toBe(first.json().id);
    // the booking is its maker's: another user is told it does not exist
    const id = String(first.json().id);
    expect((await authed(`${gw}/api/reservations/${id}`)).status).toBe(200);
    expect((await requestAs('someone-else', `${gw}/api/reservations/${id}`)).status).toBe(404);
  });

  it('refuses every public /api route without a token (401 JSON, a Bearer challenge); the token route and the JWKS need none', async () => {
    const uuid = '00000000-0000-4000-8000-000000000000';
    const json = { 'content-type': 'application/json' };
    const routes: Array<[string, string, HttpRequestOptions?]> = [
      ['GET', '/api/listings?limit=1'],
      [
        'POST',
        '/api/reservations',
        {
          headers: { ...json, 'Idempotency-Key': `gw-e2e-anonymous-${Date.now()}` },
          body: JSON.stringify(booking(1, 300)),
        },
      ],
      ['GET', '/api/reservations'],
      ['GET', `/api/reservations/${uuid}`],
      ['POST', `/api/reservations/${uuid}/cancel`],
      ['GET', '/api/payments'],
      ['GET', `/api/payments/${uuid}`],
      ['GET', '/api/recommendations'],
      [
        'POST',
        '/api/scraps',
        { headers: json, body: JSON.stringify({ url: 'https://example.com/' }) },
      ],
      ['GET', '/api/scraps'],
      ['DELETE', `/api/scraps/${uuid}`],
    ];
    for (const [method, route, o] of routes) {
      const what = `${method} ${route}`;
      for (const [how, authorization] of [
        ['no token', undefined],
        ['not a token', 'Bearer not-a-token'],
        ['another scheme', 'Basic YWxpY2U6eA=='],
      ] as const) {
        const headers = { ...o?.headers, ...(authorization ? { authorization } : {}) };
        const res = await request(gw + route, { ...o, method, headers });
        expect({ what, how, status: res.status }).toEqual({ what, how, status: 401 });
        expect(res.headers['content-type']).toMatch(/application\/json/);
        expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="stayline"/);
        expect(res.json()).toMatchObject({
          error: 'unauthorized',
          message: expect.any(String),
          requestId: res.headers['x-request-id'],
        });
      }
    }
    // a token whose signature is not its issuer's is refused too
    const token = await tokens.token(USER);
    const [head, payload] = token.split('.');
    const forged = await request(`${gw}/api/reservations`, {
      headers: bearer(`${head}.${payload}.${'A'.repeat(86)}`),
    });
    expect(forged.status).toBe(401);
    expect(forged.headers['www-authenticate']).toMatch(/error="invalid_token"/);

    // what a client needs to get a token, and to check one, is open
    const jwks = await request(`${gw}/api/auth/.well-known/jwks.json`);
    expect(jwks.status).toBe(200);
    expect(jwks.json<{ keys: unknown[] }>().keys.length).toBeGreaterThan(0);
    const login = await request(`${gw}/api/auth/token`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ username: 'alice', password: DEMO_PASSWORDS.alice }),
    });
    expect(login.status).toBe(200);
    const issued = login.json<{ access_token: string; token_type: string }>();
    expect(issued.token_type).toBe('Bearer');
    // and the token it gives is taken by the routes above
    const mine = await request(`${gw}/api/reservations`, {
      headers: bearer(issued.access_token),
    });
    expect(mine.status).toBe(200);
  });

  it('answers unknown paths, admin routes and service internals with 404 JSON', async () => {
    for (const p of ['/nope', '/admin/flags', '/metrics', '/health/ready', '/api', '/api/admin']) {
      const res = await request(gw + p);
      expect({ p, status: res.status }).toEqual({ p, status: 404 });
      expect(res.headers['content-type']).toMatch(/application\/json/);
      expect(res.json()).toMatchObject({ error: 'not_found' });
    }
    const traversal = await request(`${gw}/api/listings/../../admin/flags`);
    expect(traversal.status).toBe(404);
  });

  it('refuses an oversized body with 413 JSON, before any service sees it', async () => {
    const res = await authed(`${gw}/api/scraps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'X-Request-Id': 'too-big-1' },
      body: JSON.stringify({ url: `https://example.com/${'a'.repeat(100_000)}` }),
    });
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.json()).toMatchObject({ error: 'payload_too_large' });
    expect(res.json().requestId).toMatch(EDGE_ID);
    expect(res.json().requestId).toBe(res.headers['x-request-id']);
    expect(servedBy('too-big-1')).toEqual([]);
  });

  it("sets its own X-Request-Id at the edge, whatever the client sent, returns it once and logs it at every hop beside the client's", async () => {
    const generated = await authed(`${gw}/api/listings?limit=1`);
    expect(generated.headers['x-request-id']).toMatch(EDGE_ID);

    const id = `e2e-trace-${Date.now()}`;
    const given = await authed(`${gw}/api/payments?reservationId=none`, {
      headers: { 'X-Request-Id': id },
    });
    // the edge's id, once (not "id, id"), never the client's
    const edgeId = given.headers['x-request-id'] as string;
    expect(edgeId).toMatch(EDGE_ID);
    // a client cannot pass another request's id off as its own
    const replayed = await authed(`${gw}/api/payments?reservationId=none`, {
      headers: { 'X-Request-Id': edgeId },
    });
    expect(replayed.headers['x-request-id']).toMatch(EDGE_ID);
    expect(replayed.headers['x-request-id']).not.toBe(edgeId);

    const error = await request(`${gw}/nope`, { headers: { 'X-Request-Id': `${id}-404` } });
    expect(error.json().requestId).toBe(error.headers['x-request-id']);
    expect(error.json().requestId).toMatch(EDGE_ID);

    // the gateway's access log (flushed every second) and the service's log carry both ids
    await waitFor(
      'the ids in the access log',
      async () => accessLog().includes(`"requestId":"${edgeId}","clientRequestId":"${id}"`),
      { timeoutMs: 5_000 },
    );
    expect(servedBy(id)).toHaveLength(1);
    const line = logOf(servedBy(id)[0])
      .split('\n')
      .find((l) => l.includes(`"clientRequestId":"${id}"`));
    expect(JSON.parse(line ?? '{}')).toMatchObject({ requestId: edgeId, clientRequestId: id });
    // an id that is not a short plain token is not passed on at all
    const odd = await authed(`${gw}/api/payments?reservationId=none`, {
      headers: { 'X-Request-Id': 'has spaces and "quotes"' },
    });
    expect(odd.headers['x-request-id']).toMatch(EDGE_ID);
    expect(odd.status).toBe(200);
  });

  it('adds nosniff, no-referrer and DENY to every answer (errors too), and a policy to the API docs', async () => {
    const answers = {
      api: await authed(`${gw}/api/listings?limit=1`),
      notFound: await request(`${gw}/nope`),
      badPath: await request(`${gw}/api/payments/..%2fhealth`),
      docs: await request(`${gw}/api/docs`),
    };
    expect(answers.api.status).toBe(200);
    expect(answers.notFound.status).toBe(404);
    expect(answers.badPath.status).toBe(400);
    expect(answers.docs.status).toBe(200);
    for (const [what, res] of Object.entries(answers))
      expect({ what, headers: res.headers }).toEqual({
        what,
        headers: expect.objectContaining({
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
          'x-frame-options': 'DENY',
          'x-request-id': expect.stringMatching(EDGE_ID),
        }),
      });
    expect(answers.docs.headers['content-security-policy']).toMatch(/^default-src 'none';/);
    expect(answers.api.headers['content-security-policy']).toBeUndefined();
  });

  it('shows Swagger UI under its policy in a real browser: the document rendered, nothing blocked', async () => {
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless=new', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
      const page = await browser.newPage();
      const blocked: string[] = [];
      page.on('console', (m) => {
        if (/Content Security Policy|Refused to/i.test(m.text())) blocked.push(m.text());
      });
      page.on('pageerror', (e) => blocked.push(`page error: ${e.message}`));
      const res = await page.goto(`${gw}/api/docs`);
      expect(res?.headers()['content-security-policy']).toMatch(/script-src 'self'/);
      await page.locator('.swagger-ui .info .title').waitFor({ timeout: 15_000 });
      await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
      // the document's bearer scheme: the token goes in through "Authorize", as a reader would
      await page.locator('.auth-wrapper button.authorize').click();
      await page.locator('#auth-bearer-value').fill(await tokens.token(USER));
      await page.locator('.auth-btn-wrapper button.authorize').click();
      await page.locator('.auth-btn-wrapper button.btn-done').click();
      // "Try it out" on a read: Swagger UI calls the API on the same origin, with the token
      const listings = page.locator('.opblock-get', { hasText: '/api/listings' }).first();
      await listings.locator('.opblock-summary').click();
      await listings.locator('button.try-out__btn').click();
      await listings.locator('button.execute').click();
      await listings.locator('.responses-table.live-responses-table').waitFor({ timeout: 15_000 });
      expect(
        await listings
          .locator('.live-responses-table tr.response .response-col_status')
          .first()
          .innerText(),
      ).toMatch(/200/);
      expect(blocked).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('sends traffic to a third payment instance started by hand, without restarting nginx', async () => {
    const master = Number(
      fs.readFileSync(path.join(stack.component('gateway').dir, 'nginx.pid'), 'utf8'),
    );
    const reloadsBefore = (await gatewayUpstreams(stack)).reloads;
    const t0 = performance.now();
    await startService(stack, { service: 'payment', name: 'payment-3' });
    const listening = performance.now() - t0;
    const sent: Array<{ id: string; at: number }> = [];
    let first: { id: string; at: number } | undefined;
    const deadline = performance.now() + 10_000;
    while (!first && performance.now() < deadline) {
      const id = `third-${sent.length}`;
      sent.push({ id, at: performance.now() - t0 });
      const res = await authed(`${gw}/api/payments?reservationId=none`, {
        headers: { 'X-Request-Id': id },
      });
      expect(res.status).toBe(200);
      if (sent.length % 10 === 0 || performance.now() > deadline - 100) {
        const log = logOf('payment-3');
        first = sent.find((s) => log.includes(`"clientRequestId":"${s.id}"`));
      }
      await sleep(5);
    }
    expect(first).toBeDefined();
    const firstAt = first?.at ?? NaN;
    console.log(
      `payment-3: listening ${listening.toFixed(0)} ms after spawn; first request through the gateway ` +
        `${(firstAt - listening).toFixed(0)} ms after that (${firstAt.toFixed(0)} ms after spawn)`,
    );
    const state = await waitForGatewayUpstreams(stack, { payment: 3 });
    expect(state.reloads).toBeGreaterThan(reloadsBefore);
    // the same nginx master: reloaded, not restarted
    expect(
      Number(fs.readFileSync(path.join(stack.component('gateway').dir, 'nginx.pid'), 'utf8')),
    ).toBe(master);
    expect(isAlive(master)).toBe(true);
  });

  it('sends nothing to an instance after SIGTERM, not even a failed attempt', async () => {
    const third = stack.component('payment-3');
    await stack.stopComponent('payment-3');
    await waitForGatewayUpstreams(stack, { payment: 2 });
    const marker = `after-stop-${Date.now()}`;
    for (let i = 0; i < 30; i++) {
      const res = await authed(`${gw}/api/payments?reservationId=none`, {
        headers: { 'X-Request-Id': `${marker}-${i}` },
      });
      expect(res.status).toBe(200);
    }
    await waitFor('the access log', async () => accessLog().includes(`${marker}-29`), {
      timeoutMs: 5_000,
    });
    const lines = accessLog()
      .split('\n')
      .filter((l) => l.includes(marker));
    expect(lines).toHaveLength(30);
    // $upstream_addr lists every attempt: the stopped instance is never among them
    for (const l of lines) expect(l).not.toContain(`:${third.ports.http}`);
    expect(lines.every((l) => JSON.parse(l).upstreamStatus === '200')).toBe(true);
  });

  it('restarts every instance of every service, one at a time, under steady traffic: zero failed requests', async () => {
    const failures: string[] = [];
    const counts = { get: 0, post: 0 };
    let running = true;
    let n = 0;
    const loop = async (next: () => Promise<HttpReply>, kind: 'get' | 'post', what: string) => {
      while (running) {
        try {
          const res = await next();
          if (res.status < 200 || res.status >= 300)
            failures.push(`${what}: ${res.status} ${res.body.slice(0, 200)}`);
        } catch (err) {
          failures.push(`${what}: ${(err as Error).message}`);
        }
        counts[kind]++;
        await sleep(20);
      }
    };
    const gets = [
      '/api/listings?limit=5',
      '/api/payments?reservationId=none',
      '/api/recommendations',
      '/api/scraps',
      '/api/auth/.well-known/jwks.json',
    ].map((p) => loop(() => requestAs('rolling', gw + p), 'get', `GET ${p}`));
    const post = loop(
      () => {
        const k = n++;
        return requestAs('rolling', `${gw}/api/reservations`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'Idempotency-Key': `rolling-${k}-${Date.now()}`,
          },
          body: JSON.stringify(booking(k, 1)),
        });
      },
      'post',
      'POST /api/reservations',
    );
    const retriesBefore = keepAliveRetries.length;
    // how long nginx kept routing to an instance after it deregistered (it serves on for its drain delay)
    const removalMs: number[] = [];
    const t0 = Date.now();
    try {
      await sleep(500);
      for (const service of SERVICES) {
        for (const name of [`${service}-1`, `${service}-2`]) {
          await stack.stopComponent(name);
          const removed = await waitForGatewayUpstreams(stack, { [service]: 1 });
          if (removed.lastReload?.reason.includes(`${name} removed`))
            removalMs.push(Math.round(removed.lastReload.totalMs));
          await stack.restart(name);
          await waitForGatewayUpstreams(stack, { [service]: 2 });
        }
      }
      await sleep(500);
    } finally {
      running = false;
      await Promise.all([...gets, post]);
    }
    const retries = keepAliveRetries.slice(retriesBefore);
    console.log(
      `rolling restart of ${SERVICES.length * 2} instances in ${Date.now() - t0} ms: ` +
        `${counts.get} GETs and ${counts.post} POSTs through the gateway, ${failures.length} failed; ` +
        `${retries.length} sent again after a keep-alive reset by a reloading nginx (${retries.join(', ') || 'none'}); ` +
        `deregistration to nginx reloaded without the instance: ${removalMs.join(', ')} ms`,
    );
    expect(failures).toEqual([]);
    expect(counts.post).toBeGreaterThan(50);
  }, 150_000);

  it('answers 502 JSON (never nginx HTML) when every instance of a service is gone', async () => {
    for (const c of instancesOf('scrap')) stack.kill(c.name, 'SIGKILL');
    // still listed in nginx (their leases have not expired yet): each attempt is refused
    const refused = await authed(`${gw}/api/scraps`, {
      headers: { 'X-Request-Id': 'all-gone-1' },
    });
    expect(refused.status).toBe(502);
    expect(refused.headers['content-type']).toMatch(/application\/json/);
    expect(refused.json()).toMatchObject({ error: 'bad_gateway' });
    expect(refused.json().requestId).toBe(refused.headers['x-request-id']);
    // once the leases expire the sync leaves only the placeholder, which is always down
    await waitForGatewayUpstreams(stack, { scrap: 0 }, 10_000);
    const none = await authed(`${gw}/api/scraps`);
    expect([502, 503]).toContain(none.status);
    expect(none.body).not.toMatch(/<html/i);
    expect(none.json()).toMatchObject({ error: 'bad_gateway' });
    // the other services are untouched
    expect((await authed(`${gw}/api/payments?reservationId=none`)).status).toBe(200);
  });
});
