import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { HttpClient } from './http-client';

/**
 * A server that, once `reload()` is called, cuts every request arriving on a
 * connection accepted before it without answering, as the old workers of a
 * reloading nginx do with their idle keep-alive connections.
 */
function reloadingServer() {
  const old = new WeakSet<Socket>();
  const live = new Set<Socket>();
  const server = http.createServer({ keepAlive: true }, (req, res) => {
    if (old.has(req.socket)) {
      req.socket.destroy();
      return;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ ok: true }));
  });
  server.on('connection', (s: Socket) => {
    live.add(s);
    s.on('close', () => live.delete(s));
  });
  return {
    server,
    reload: () => live.forEach((s) => old.add(s)),
    url: () => `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
  };
}

describe('HttpClient', () => {
  const srv = reloadingServer();
  const client = new HttpClient();

  beforeAll(() => new Promise<void>((r) => srv.server.listen(0, '127.0.0.1', r)));
  afterAll(() => {
    client.close();
    srv.server.closeAllConnections();
    return new Promise<void>((r) => srv.server.close(() => r()));
  });

  it('sends a GET cut on a stale pooled connection once more, on a fresh one', async () => {
    // four connections in the pool, all idle
    await Promise.all([1, 2, 3, 4].map(() => client.request(srv.url())));
    srv.reload();
    const before = client.retries.length;
    const res = await client.request(srv.url());
    expect(res.status).toBe(200);
    expect(res.json()).toEqual({ ok: true });
    // one retry: the other stale connections were dropped, not tried in turn
    expect(client.retries.length - before).toBe(1);
  });

  it('does not send a POST again on a fresh connection without an Idempotency-Key', async () => {
    const fresh = new HttpClient();
    const cutEverything = http.createServer((req) => req.socket.destroy());
    await new Promise<void>((r) => cutEverything.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(cutEverything.address() as AddressInfo).port}/`;
    try {
      await expect(fresh.request(url, { method: 'POST', body: '{}' })).rejects.toThrow(
        /socket hang up|ECONNRESET/,
      );
      expect(fresh.retries).toEqual([]);
      await expect(
        fresh.request(url, { method: 'POST', body: '{}', headers: { 'Idempotency-Key': 'k' } }),
      ).rejects.toThrow(/socket hang up|ECONNRESET/);
      expect(fresh.retries).toEqual([`POST ${url}`]);
    } finally {
      fresh.close();
      await new Promise<void>((r) => cutEverything.close(() => r()));
    }
  });
  it('fails, instead of waiting forever, when the connection is cut in the middle of the body', async () => {
    const fresh = new HttpClient();
    const halfAnswer = http.createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"partial":');
      setTimeout(() => res.socket?.destroy(), 50);
    });
    await new Promise<void>((r) => halfAnswer.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(halfAnswer.address() as AddressInfo).port}/`;
    try {
      await expect(fresh.request(url, { timeoutMs: 60_000 })).rejects.toThrow(
        /aborted|response cut|ECONNRESET/,
      );
    } finally {
      fresh.close();
      await new Promise<void>((r) => halfAnswer.close(() => r()));
    }
  });
});
