import http from 'node:http';
import { AddressInfo } from 'node:net';
import { FetchFailedError, safeFetch } from './safe-fetch';
import { dnsResolver } from './resolve-host';
import { SsrfGuard } from './ssrf-guard';
import { FakeDns, startFakeDns } from '../testing/fake-dns';

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
      if (u === '/to-internal-name')
        return res.writeHead(302, { location: 'http://internal.test/admin' }).end();
      if (u === '/to-file') return res.writeHead(302, { location: 'file:///etc/passwd' }).end();
      if (u === '/host')
        return res.writeHead(200, { 'content-type': 'text/html' }).end(req.headers.host);
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
    await expect(safeFetch(`${base}/page`, new SsrfGuard(), limits)).rejects.toMatchObject({
      reason: 'blocked_address',
      detail: expect.stringContaining('loopback'),
    });
  });

  it('follows redirects up to the limit, and no further', async () => {
    await expect(safeFetch(`${base}/hop/1`, allowLoopback, limits)).resolves.toMatchObject({
      url: `${base}/page`,
    });
    await expect(safeFetch(`${base}/hop/5`, allowLoopback, limits)).rejects.toMatchObject({
      reason: 'bad_redirect',
      message: expect.stringMatching(/more than 2 redirects/),
    });
  });

  it('checks every redirect target, and never names the address it refused', async () => {
    const err = (await safeFetch(`${base}/to-metadata`, allowLoopback, limits).catch(
      (e: unknown) => e,
    )) as FetchFailedError;
    expect(err).toBeInstanceOf(FetchFailedError);
    expect(err.reason).toBe('blocked_address');
    expect(err.message).toBe('the page redirected to a host that is not a public address');
    expect(err.detail).toContain('link-local');
  });

  it('fails a redirect to another scheme as bad_redirect', async () => {
    await expect(safeFetch(`${base}/to-file`, allowLoopback, limits)).rejects.toMatchObject({
      reason: 'bad_redirect',
      message: expect.stringMatching(/scheme file: is not allowed/),
    });
  });

  it('stops reading past the size limit', async () => {
    await expect(safeFetch(`${base}/big`, allowLoopback, limits)).rejects.toMatchObject({
      reason: 'too_large',
      message: 'page larger than 10000 bytes',
    });
  });

  it('stops waiting past the time limit', async () => {
    const t0 = Date.now();
    await expect(safeFetch(`${base}/slow`, allowLoopback, limits)).rejects.toMatchObject({
      reason: 'timeout',
      message: expect.stringMatching(/time limit/),
    });
    expect(Date.now() - t0).toBeLessThan(2_500);
  });

  it('names a refused connection in general terms, without the address', async () => {
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const err = (await safeFetch(`http://127.0.0.1:${port}/`, allowLoopback, limits).catch(
      (e: unknown) => e,
    )) as FetchFailedError;
    expect(err).toMatchObject({ reason: 'connection_failed' });
    expect(err.message).not.toMatch(/127\.0\.0\.1|ECONN/);
  });

  describe('by name', () => {
    let dns: FakeDns;
    let byName: SsrfGuard;
    let port: number;

    beforeAll(async () => {
      dns = await startFakeDns({
        'page.test': { A: ['127.0.0.1'] },
        'internal.test': { A: ['10.9.8.7'] },
        'silent.test': 'silent',
      });
      byName = new SsrfGuard({
        allowCidrs: ['127.0.0.1/32'],
        resolve: dnsResolver({ servers: [dns.server] }),
      });
      port = (server.address() as AddressInfo).port;
    });
    afterAll(() => dns.close());

    it('resolves once, connects to the checked address and sends the name as Host', async () => {
      const before = dns.queries();
      const page = await safeFetch(`http://page.test:${port}/host`, byName, limits);
      expect(page.body).toBe(`page.test:${port}`);
      // one A and one AAAA query, from the check: the connection made no lookup of its own
      expect(dns.queries() - before).toBe(2);
    });

    it('refuses a redirect to a name that resolves to a private address, without the address', async () => {
      const err = (await safeFetch(`${base}/to-internal-name`, byName, limits).catch(
        (e: unknown) => e,
      )) as FetchFailedError;
      expect(err).toMatchObject({ reason: 'blocked_address' });
      expect(err.message).not.toContain('10.9.8.7');
      expect(err.detail).toContain('10.9.8.7');
    });

    it('keeps name resolution inside the deadline', async () => {
      const t0 = Date.now();
      await expect(
        safeFetch('http://silent.test/', byName, { ...limits, timeoutMs: 400 }),
      ).rejects.toMatchObject({ reason: 'timeout' });
      expect(Date.now() - t0).toBeLessThan(900);
    });
  });

  it.each([
    [
      '/bad-location',
      'bad_redirect',
      /redirected to an invalid URL \(Location: http:\/\/\[oops\/\)/,
    ],
    ['/bad-host', 'bad_redirect', /redirected to an invalid URL/],
    ['/loop', 'bad_redirect', /more than 2 redirects/],
    ['/not-http', 'bad_response', /not valid HTTP/],
    ['/cut', 'connection_failed', /closed before the page was read/],
    ['/huge-header', 'bad_response', /not valid HTTP/],
    ['/trickle', 'timeout', /time limit/],
  ])('fails %s as the page’s fault (%s), with a message', async (path, reason, message) => {
    const err = await safeFetch(`${base}${path}`, allowLoopback, limits).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FetchFailedError);
    expect(err).toMatchObject({ reason });
    expect((err as Error).message).toMatch(message);
  });
});
