import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { renderNginxConfig, writeNginxConfig } from './nginx-config';

// The edge starts every trace: a real nginx in front of a server that echoes what it received.

const NGINX = ['/usr/sbin/nginx', '/usr/bin/nginx'].find((p) => fs.existsSync(p)) ?? 'nginx';

interface Running {
  url: string;
  prefix: string;
  stop: () => Promise<void>;
}

async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

async function startGateway(upstreamPort: number, traceSample: number): Promise<Running> {
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-trace-'));
  const port = await freePort();
  const file = writeNginxConfig({
    prefix,
    host: '127.0.0.1',
    port,
    workers: 1,
    traceSample,
    upstreams: { reservation: [{ host: '127.0.0.1', port: upstreamPort }] },
  });
  const child: ChildProcess = spawn(NGINX, ['-p', prefix, '-c', file], { stdio: 'ignore' });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`${url}/api/listings`).then(
      () => true,
      () => false,
    );
    if (up) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    prefix,
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(prefix, { recursive: true, force: true });
    },
  };
}

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-(0[01])$/;

describe('the gateway starts the trace of every request (real nginx)', () => {
  let upstream: http.Server;
  let upstreamPort: number;
  const seen: http.IncomingHttpHeaders[] = [];

  beforeAll(async () => {
    upstream = http.createServer((req, res) => {
      seen.push(req.headers);
      res.setHeader('content-type', 'application/json');
      res.end('[]');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
  });
  afterAll(() => new Promise((r) => upstream.close(r)));
  beforeEach(() => seen.splice(0));

  it('sends a traceparent whose trace id is the X-Request-Id the client gets, in place of the one the client sent', async () => {
    const gw = await startGateway(upstreamPort, 1);
    const res = await fetch(`${gw.url}/api/listings`, {
      headers: {
        traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01`,
        tracestate: 'vendor=chosen',
      },
    }).finally(() => gw.stop());
    expect(res.status).toBe(200);
    const requestId = res.headers.get('x-request-id');
    const sent = seen.at(-1) ?? {};
    const [, traceId, parentId, flags] = TRACEPARENT.exec(String(sent['traceparent'])) ?? [];
    expect(traceId).toBe(requestId);
    expect(parentId).toBe(requestId?.slice(16));
    expect(flags).toBe('01');
    expect(sent['tracestate']).toBeUndefined();
  });

  it('writes the trace id and whether it is sampled in the access log, next to the request id', async () => {
    const gw = await startGateway(upstreamPort, 1);
    const res = await fetch(`${gw.url}/api/listings`);
    const requestId = res.headers.get('x-request-id');
    const log = path.join(gw.prefix, 'access.log');
    // buffer=32k flush=1s: the line is on disk within a second or so
    let line: Record<string, unknown> | undefined;
    for (let i = 0; i < 40 && !line; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      const found = text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['requestId'] === requestId);
      line = found;
    }
    await gw.stop();
    expect(line).toMatchObject({ requestId, traceId: requestId, traceSampled: '01' });
  });

  it('samples the configured share of requests (split by request id), none at 0', async () => {
    for (const [share, expected] of [
      [0, [0, 0]],
      [0.5, [60, 140]],
    ] as const) {
      const gw = await startGateway(upstreamPort, share);
      seen.splice(0);
      // in rounds of 10: below the per-address connection limit
      for (let round = 0; round < 20; round++)
        await Promise.all(Array.from({ length: 10 }, () => fetch(`${gw.url}/api/listings`)));
      await gw.stop();
      const sampled = seen.filter((h) => String(h['traceparent']).endsWith('-01')).length;
      expect(seen).toHaveLength(200);
      expect(sampled).toBeGreaterThanOrEqual(expected[0]);
      expect(sampled).toBeLessThanOrEqual(expected[1]);
    }
  });

  it('refuses a share outside 0..1 before nginx sees it', () => {
    expect(() =>
      renderNginxConfig({ prefix: '/tmp/x', host: '127.0.0.1', port: 1, traceSample: 1.5 }),
    ).toThrow(/traceSample is a share between 0 and 1/);
  });
});
