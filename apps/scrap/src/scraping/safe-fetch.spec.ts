import http from 'node:http';
import { AddressInfo } from 'node:net';
import { FetchFailedError, safeFetch } from './safe-fetch';
import { SsrfGuard } from './ssrf-guard';

/** Pages that misbehave: each must fail the fetch as the page's fault (FetchFailedError). */
const MISBEHAVIOURS: Record<string, (res: http.ServerResponse) => void> = {
  '/bad-location': (res) => res.writeHead(302, { location: 'http://[oops/' }).end(),
  '/bad-host': (res) => res.writeHead(301, { location: 'http://exa mple.com/' }).end(),
  '/loop': (res) => res.writeHead(302, { location: '/loop' }).end(),
  '/not-http': (res) => res.socket?.end('this is not HTTP at all\r\n\r\n'),
  '/cut': (res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': '1000' });
    res.write('<title>half');
    setTimeout(() => res.socket?.destroy(), 20);
  },
  '/huge-header': (res) => res.writeHead(200, { 'x-filler': 'a'.repeat(20_000) }).end('<p>'),
  '/trickle': (res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    const t = setInterval(() => res.write(' '), 100);
    res.on('close', () => clearInterval(t));
  },
};

describe('safeFetch against a real local server', () => {
  let server: http.Server;
  let base: string;
  const limits = { maxBytes: 10_000, timeoutMs: 1_000, maxRedirects: 2 };
  const allowLoopback = new SsrfGuard({ allowCidrs: ['127.0.0.1/32'] });

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      const u = req.url ?? '/';
      if (u === '/page')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('<title>ok</title>');
      if (u === '/big')
        return res.writeHead(200, { 'content-type': 'text/html' }).end('x'.repeat(50_000));
      if (u === '/slow') return setTimeout(() => res.end('late'), 3_000).unref();
      if (u.startsWith('/hop/')) {
        const n = Number(u.slice(5));
        return res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/page' }).end();
      }
      if (u === '/to-metadata')
        return res.writeHead(302, { location: 'http://169.254.169.254/latest/' }).end();
      const misbehaviour = MISBEHAVIOURS[u];
      if (misbehaviour) return misbehaviour(res);
      res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it('fetches a page when loopback is allowed by configuration', async () => {
    const page = await safeFetch(`${base}/page`, allowLoopback, limits);
    expect(page).toMatchObject({ status: 200, body: '<title>ok</title>' });
  });

  it('refuses loopback by default', async () => {
    await expect(safeFetch(`${base}/page`, new SsrfGuard(), limits)).rejects.toThrow(/loopback/);
  });

  it('follows redirects up to the limit, and no further', async () => {
    await expect(safeFetch(`${base}/hop/1`, allowLoopback, limits)).resolves.toMatchObject({
      url: `${base}/page`,
    });
    await expect(safeFetch(`${base}/hop/5`, allowLoopback, limits)).rejects.toThrow(
      /more than 2 redirects/,
    );
  });

  it('checks every redirect target', async () => {
    await expect(safeFetch(`${base}/to-metadata`, allowLoopback, limits)).rejects.toThrow(
      /link-local/,
    );
  });

  it('stops reading past the size limit', async () => {
    await expect(safeFetch(`${base}/big`, allowLoopback, limits)).rejects.toThrow(
      /larger than 10000 bytes/,
    );
  });

  it('stops waiting past the time limit', async () => {
    const t0 = Date.now();
    await expect(safeFetch(`${base}/slow`, allowLoopback, limits)).rejects.toThrow(/time limit/);
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  it.each([
    ['/bad-location', /redirected to an invalid URL \(Location: http:\/\/\[oops\/\)/],
    ['/bad-host', /redirected to an invalid URL/],
    ['/loop', /more than 2 redirects/],
    ['/not-http', /./],
    ['/cut', /./],
    ['/huge-header', /./],
    ['/trickle', /time limit/],
  ])('fails %s as the page’s fault, with a reason', async (path, reason) => {
    const err = await safeFetch(`${base}${path}`, allowLoopback, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchFailedError);
    expect((err as Error).message).toMatch(reason);
  });
});
