import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Stack, startStack, startService, UserTokens } from '@stayline/stack-kit';
import { FakeDns, startFakeDns } from './testing/fake-dns';

jest.setTimeout(120_000);

const PAGE = `<!doctype html><html><head>
<meta property="og:title" content="Hanok stay in Jeonju">
<meta property="og:description" content="A quiet courtyard house">
<meta property="og:image" content="/img/hanok.jpg">
<meta property="og:type" content="website">
<meta property="og:site_name" content="Stays">
</head><body>hello</body></html>`;

describe('scrap service (real MariaDB, Redis, a real local page, tokens from the real auth service)', () => {
  let stack: Stack;
  let page: http.Server;
  let pageUrl: string;
  let pageHits = 0;
  let lastHost: string | undefined;
  let allowing: string;
  let strict: string;
  let dns: FakeDns;
  let tokens: UserTokens;

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      pageHits++;
      lastHost = req.headers.host;
      if (req.url === '/json')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (req.url === '/bad-location')
        return res.writeHead(302, { location: 'http://[oops/' }).end();
      if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      if (req.url === '/huge')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('x'.repeat(1_200_000));
      if (req.url === '/hang') return; // never answers
      if (req.url === '/not-http') return res.socket?.end('not HTTP\r\n\r\n');
      if (req.url === '/to-metadata')
        return res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (req.url === '/to-hex-metadata')
        return res.writeHead(302, { location: 'http://0xa9.0xfe.43518/latest/' }).end();
      if (req.url === '/to-internal')
        return res.writeHead(302, { location: 'http://internal.test/admin' }).end();
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    dns = await startFakeDns({
      'page.test': { A: ['127.0.0.1'] },
      'internal.test': { A: ['10.1.2.3'], AAAA: ['fd00:1:2::3'] },
      'half-internal.test': { A: ['93.184.215.14', '192.168.7.7'] },
      'silent.test': 'silent',
    });
    stack = await startStack({ replicas: 2, nginx: false });
    const [a, b] = await Promise.all([
      startService(stack, {
        service: 'scrap',
        name: 'scrap-1',
        env: {
          SCRAP_ALLOW_CIDRS: '127.0.0.1/32',
          SCRAP_TIMEOUT_MS: '1500',
          SCRAP_DNS_SERVERS: dns.server,
          SCRAP_MAX_FETCHES: '3',
        },
      }),
      startService(stack, {
        service: 'scrap',
        name: 'scrap-2',
        env: { SCRAP_DNS_SERVERS: dns.server },
      }),
      startService(stack, { service: 'auth', tcpPort: 'none' }),
    ]);
    tokens = UserTokens.of(stack);
    allowing = `http://127.0.0.1:${a.ports.http}`;
    strict = `http://127.0.0.1:${b.ports.http}`;
  });

  afterAll(async () => {
    await stack?.stop();
    await dns?.close();
    page.closeAllConnections();
    await new Promise<void>((r) => page.close(() => r()));
  });

  /** POST /api/scraps as `user` (a token the stack's auth issued). */
  const post = async (base: string, user: string, body: unknown) =>
    fetch(`${base}/api/scraps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await tokens.headers(user)) },
      body: JSON.stringify(body),
    });
  const list = async (base: string, user: string, consistency?: string | null) =>
    fetch(`${base}/api/scraps`, {
      headers: {
        ...(await tokens.headers(user)),
        ...(consistency ? { 'x-consistency-token': consistency } : {}),
      },
    });
  const remove = async (base: string, user: string, id: string) =>
    fetch(`${base}/api/scraps/${id}`, { method: 'DELETE', headers: await tokens.headers(user) });

  it('saves a page with its OpenGraph card, lists it and deletes it', async () => {
    const res = await post(allowing, 'alice', { url: `${pageUrl}/hanok` });
    expect(res.status).toBe(201);
    const scrap = (await res.json()) as { id: string; openGraph: Record<string, string> };
    expect(scrap.openGraph).toEqual({
      title: 'Hanok stay in Jeonju',
      description: 'A quiet courtyard house',
      image: `${pageUrl}/img/hanok.jpg`,
      type: 'website',
      siteName: 'Stays',
      url: `${pageUrl}/hanok`,
    });
    const mine = await list(allowing, 'alice', res.headers.get('x-consistency-token'));
    expect(
      ((await mine.json()) as { items: Array<{ id: string }> }).items.map((s) => s.id),
    ).toContain(scrap.id);
    const del = await remove(allowing, 'alice', scrap.id);
    expect(del.status).toBe(204);
    const again = await remove(allowing, 'alice', scrap.id);
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'not_found' });
  });

  it('answers every route without a token, or with a bad one, with 401 JSON and a Bearer challenge, fetching nothing', async () => {
    const hits = pageHits;
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [method, path, body] of [
      ['POST', '/api/scraps', JSON.stringify({ url: `${pageUrl}/unauthenticated` })],
      ['GET', '/api/scraps', undefined],
      ['DELETE', `/api/scraps/${id}`, undefined],
    ] as const) {
      const res = await fetch(`${allowing}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body,
      });
      expect({ method, status: res.status }).toEqual({ method, status: 401 });
      expect(res.headers.get('www-authenticate')).toMatch(/^Bearer realm="stayline"/);
      expect(await res.json()).toMatchObject({
        error: 'unauthorized',
        details: { reason: 'missing_token' },
      });
    }
    const forged = await fetch(`${allowing}/api/scraps`, {
      headers: { authorization: 'Bearer not.a.token' },
    });
    expect(forged.status).toBe(401);
    expect(forged.headers.get('www-authenticate')).toMatch(/^Bearer .*error="invalid_token"/);
    expect(pageHits).toBe(hits);
  });

  it("lists and deletes the token's user's scraps only: another user's answers 404 as a missing one", async () => {
    const res = await post(allowing, 'alice', { url: `${pageUrl}/owned` });
    expect(res.status).toBe(201);
    const scrap = (await res.json()) as { id: string; userId: string };
    expect(scrap.userId).toBe('alice');
    const consistency = res.headers.get('x-consistency-token');
    const ids = async (user: string) =>
      (
        (await (await list(allowing, user, consistency)).json()) as { items: Array<{ id: string }> }
      ).items.map((s) => s.id);
    expect(await ids('mallory')).not.toContain(scrap.id);
    // the same answer but for the id it names, and the request id
    const shape = async (r: Response, named: string) => {
      const body = (await r.json()) as Record<string, unknown>;
      return {
        status: r.status,
        ...body,
        message: String(body.message).replace(named, ':id'),
        requestId: typeof body.requestId,
      };
    };
    const missingId = '00000000-0000-4000-8000-000000000000';
    const others = await shape(await remove(allowing, 'mallory', scrap.id), scrap.id);
    expect(others).toEqual(await shape(await remove(allowing, 'mallory', missingId), missingId));
    expect(others).toMatchObject({ status: 404, error: 'not_found' });
    // still there for alice, who may delete it
    expect(await ids('alice')).toContain(scrap.id);
    expect((await remove(allowing, 'alice', scrap.id)).status).toBe(204);
  });

  it('refuses a userId in the body with 400, before fetching: the user is the token’s subject', async () => {
    const hits = pageHits;
    const res = await post(allowing, 'mallory', { userId: 'alice', url: `${pageUrl}/as-alice` });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({
      error: 'validation_failed',
      message: expect.stringMatching(/userId should not exist/),
    });
    expect(pageHits).toBe(hits);
  });

  it('serves a page saved again from the Redis cache, without fetching it', async () => {
    const url = `${pageUrl}/cached`;
    expect((await post(allowing, 'bob', { url })).status).toBe(201);
    const hits = pageHits;
    expect((await post(allowing, 'carol', { url })).status).toBe(201);
    expect(pageHits).toBe(hits);
  });

  it('refuses loopback, private, link-local and metadata targets by default', async () => {
    for (const url of [
      `${pageUrl}/hanok`,
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.7/',
      'http://192.168.0.1/',
      'http://[::1]/',
      'http://localhost/',
      'http://[::ffff:a9fe:a9fe]/',
    ]) {
      const res = await post(strict, 'mallory', { url });
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(await res.json()).toMatchObject({
        error: 'forbidden_target',
        reason: 'blocked_address',
        message: "the URL's host is not a public address",
        requestId: expect.any(String),
      });
    }
  });

  it('refuses odd spellings of loopback, in the request or behind a redirect', async () => {
    // the request's validation may refuse some spellings before the guard sees them: 400 either way
    for (const url of [
      'http://2130706433/',
      'http://0x7f.1/',
      'http://0177.0.0.1/',
      'http://127.1/',
    ]) {
      const res = await post(strict, 'mallory', { url });
      expect({ url, status: res.status }).toEqual({ url, status: 400 });
      expect(['forbidden_target', 'validation_failed']).toContain(
        ((await res.json()) as { error: string }).error,
      );
    }
    // a redirect's Location is not validated by the request: the guard alone decides
    const res = await post(allowing, 'mallory', { url: `${pageUrl}/to-hex-metadata` });
    expect(res.status).toBe(422);
    expect(await res.json()).toMatchObject({ error: 'unfetchable_url', reason: 'blocked_address' });
  });

  it('refuses a name when any of its addresses is private, and never says which address', async () => {
    for (const url of ['http://internal.test/', 'http://half-internal.test/']) {
      const res = await post(strict, 'mallory', { url });
      expect(res.status).toBe(400);
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({
        error: 'forbidden_target',
        reason: 'blocked_address',
      });
      expect(text).not.toMatch(/10\.1\.2\.3|fd00|192\.168/);
    }
  });

  it('follows a name to the address it was checked at, with the name as Host', async () => {
    const port = (page.address() as AddressInfo).port;
    const res = await post(allowing, 'alice', { url: `http://page.test:${port}/named` });
    expect(res.status).toBe(201);
    expect(((await res.json()) as { openGraph: { title: string } }).openGraph.title).toBe(
      'Hanok stay in Jeonju',
    );
    expect(lastHost).toBe(`page.test:${port}`);
  });

  it('answers a redirect into a private address with 422 blocked_address, naming no address', async () => {
    for (const path of ['/to-metadata', '/to-internal']) {
      const res = await post(allowing, 'mallory', { url: `${pageUrl}${path}` });
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
      const text = await res.text();
      expect(JSON.parse(text)).toMatchObject({
        error: 'unfetchable_url',
        reason: 'blocked_address',
      });
      expect(text).not.toMatch(/169\.254|10\.1\.2\.3|fd00/);
    }
  });

  it('answers a host name that does not resolve, or not in time, with 422 (dns_failed, timeout)', async () => {
    const missing = await post(allowing, 'dave', { url: 'http://nowhere.test/' });
    expect(missing.status).toBe(422);
    expect(await missing.json()).toMatchObject({ error: 'unfetchable_url', reason: 'dns_failed' });
    const t0 = Date.now();
    const silent = await post(allowing, 'dave', { url: 'http://silent.test/' });
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect(silent.status).toBe(422);
    expect(await silent.json()).toMatchObject({
      error: 'unfetchable_url',
      reason: 'timeout',
      message: expect.stringMatching(/time limit/),
    });
  });

  it('caps fetches in progress per user (429) and per instance (503), with Retry-After', async () => {
    const hang = (user: string) => post(allowing, user, { url: `${pageUrl}/hang` });
    // the tokens first, so that the fetches start together
    await Promise.all(['erin', 'frank', 'grace'].map((u) => tokens.token(u)));
    const held = [hang('erin'), hang('erin')];
    await new Promise((r) => setTimeout(r, 300));
    const third = await hang('erin');
    expect(third.status).toBe(429);
    expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await third.json()).toMatchObject({
      error: 'too_many_requests',
      reason: 'user_fetch_limit',
      retryAfterSeconds: expect.any(Number),
    });
    held.push(hang('frank'));
    await new Promise((r) => setTimeout(r, 300));
    const busy = await hang('grace');
    expect(busy.status).toBe(503);
    expect(Number(busy.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await busy.json()).toMatchObject({
      error: 'service_busy',
      reason: 'instance_fetch_limit',
    });
    // the held fetches end at their deadline and give their slots back
    for (const res of await Promise.all(held)) expect(res.status).toBe(422);
    expect((await post(allowing, 'erin', { url: `${pageUrl}/after-cap` })).status).toBe(201);
  });

  it('answers bad input and unreadable pages with clear 4xx JSON', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ url: 'file:///etc/passwd' }, 400, 'validation_failed'],
      [{ url: 'gopher://x' }, 400, 'validation_failed'],
      [{}, 400, 'validation_failed'],
      [{ url: `${pageUrl}/json` }, 422, 'unfetchable_url'],
    ];
    for (const [body, status, error] of cases) {
      const res = await post(allowing, 'a', body);
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error });
    }
    const malformed = await fetch(`${allowing}/api/scraps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(await tokens.headers('a')) },
      body: '{"url":',
    });
    expect(malformed.status).toBe(400);
    expect((await remove(allowing, 'a', 'not-a-uuid')).status).toBe(400);
  });

  it('answers a page that misbehaves with 422 JSON naming what it did, never a 5xx', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['/bad-location', 'bad_redirect', /redirected to an invalid URL/],
      ['/loop', 'bad_redirect', /more than 3 redirects/],
      ['/huge', 'too_large', /larger than 1000000 bytes/],
      ['/json', 'not_html', /not an HTML page \(application\/json\)/],
      ['/hang', 'timeout', /time limit reached/],
      ['/not-http', 'bad_response', /could not read the page/],
    ];
    for (const [path, reason, message] of cases) {
      const res = await post(allowing, 'dave', { url: `${pageUrl}${path}` });
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
      const body = (await res.json()) as { error: string; message: string };
      expect({ path, ...body }).toMatchObject({ path, error: 'unfetchable_url', reason, message });
    }
  });
});
