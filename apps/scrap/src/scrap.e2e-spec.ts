import http from 'node:http';
import { AddressInfo } from 'node:net';
import { Stack, startStack, startService } from '@stayline/stack-kit';

jest.setTimeout(120_000);

const PAGE = `<!doctype html><html><head>
<meta property="og:title" content="Hanok stay in Jeonju">
<meta property="og:description" content="A quiet courtyard house">
<meta property="og:image" content="/img/hanok.jpg">
<meta property="og:type" content="website">
<meta property="og:site_name" content="Stays">
</head><body>hello</body></html>`;

describe('scrap service (real MariaDB, Redis, a real local page)', () => {
  let stack: Stack;
  let page: http.Server;
  let pageUrl: string;
  let pageHits = 0;
  let allowing: string;
  let strict: string;

  beforeAll(async () => {
    page = http.createServer((req, res) => {
      pageHits++;
      if (req.url === '/json')
        return res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      if (req.url === '/bad-location')
        return res.writeHead(302, { location: 'http://[oops/' }).end();
      if (req.url === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      if (req.url === '/huge')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('x'.repeat(1_200_000));
      if (req.url === '/hang') return; // never answers
      if (req.url === '/not-http') return res.socket?.end('not HTTP\r\n\r\n');
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE);
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
    stack = await startStack({ replicas: 2, nginx: false });
    const [a, b] = await Promise.all([
      startService(stack, {
        service: 'scrap',
        name: 'scrap-1',
        env: { SCRAP_ALLOW_CIDRS: '127.0.0.1/32', SCRAP_TIMEOUT_MS: '1500' },
      }),
      startService(stack, { service: 'scrap', name: 'scrap-2' }),
    ]);
    allowing = `http://127.0.0.1:${a.ports.http}`;
    strict = `http://127.0.0.1:${b.ports.http}`;
  });

  afterAll(async () => {
    await stack?.stop();
    page.closeAllConnections();
    await new Promise<void>((r) => page.close(() => r()));
  });

  const post = (base: string, body: unknown) =>
    fetch(`${base}/api/scraps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('saves a page with its OpenGraph card, lists it and deletes it', async () => {
    const res = await post(allowing, { userId: 'alice', url: `${pageUrl}/hanok` });
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
    const token = res.headers.get('x-consistency-token');
    const list = await fetch(`${allowing}/api/scraps?userId=alice`, {
      headers: token ? { 'x-consistency-token': token } : {},
    });
    expect(
      ((await list.json()) as { items: Array<{ id: string }> }).items.map((s) => s.id),
    ).toContain(scrap.id);
    const del = await fetch(`${allowing}/api/scraps/${scrap.id}`, { method: 'DELETE' });
    expect(del.status).toBe(204);
    const again = await fetch(`${allowing}/api/scraps/${scrap.id}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'not_found' });
  });

  it('serves a page saved again from the Redis cache, without fetching it', async () => {
    const url = `${pageUrl}/cached`;
    expect((await post(allowing, { userId: 'bob', url })).status).toBe(201);
    const hits = pageHits;
    expect((await post(allowing, { userId: 'carol', url })).status).toBe(201);
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
    ]) {
      const res = await post(strict, { userId: 'mallory', url });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({
        error: 'forbidden_target',
        requestId: expect.any(String),
      });
    }
  });

  it('answers bad input and unreadable pages with clear 4xx JSON', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ userId: 'a', url: 'file:///etc/passwd' }, 400, 'validation_failed'],
      [{ userId: 'a', url: 'gopher://x' }, 400, 'validation_failed'],
      [{ url: 'http://example.com' }, 400, 'validation_failed'],
      [{ userId: 'a', url: `${pageUrl}/json` }, 422, 'unfetchable_url'],
    ];
    for (const [body, status, error] of cases) {
      const res = await post(allowing, body);
      expect(res.status).toBe(status);
      expect(await res.json()).toMatchObject({ error });
    }
    const malformed = await fetch(`${allowing}/api/scraps`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"userId":',
    });
    expect(malformed.status).toBe(400);
    expect((await fetch(`${allowing}/api/scraps`)).status).toBe(400);
    expect((await fetch(`${allowing}/api/scraps/not-a-uuid`, { method: 'DELETE' })).status).toBe(
      400,
    );
  });

  it('answers a page that misbehaves with 422 JSON naming what it did, never a 5xx', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/bad-location', /redirected to an invalid URL/],
      ['/loop', /more than 3 redirects/],
      ['/huge', /larger than 1000000 bytes/],
      ['/json', /not an HTML page \(application\/json\)/],
      ['/hang', /time limit reached/],
      ['/not-http', /could not read the page/],
    ];
    for (const [path, message] of cases) {
      const res = await post(allowing, { userId: 'dave', url: `${pageUrl}${path}` });
      expect({ path, status: res.status }).toEqual({ path, status: 422 });
      const body = (await res.json()) as { error: string; message: string };
      expect({ path, ...body }).toMatchObject({ path, error: 'unfetchable_url', message });
    }
  });
});
