import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';
import { once } from 'node:events';
import { DelayRelay } from './latency';
import { seeded } from './faults';
import { parseListening } from './nemesis';

/** An echo server on loopback (every byte written straight back; FIN answered with FIN). */
async function echoServer(): Promise<{
  port: number;
  sockets: Set<net.Socket>;
  /** `performance.now()` of each chunk the server received. */
  arrivals: number[];
  close: () => Promise<void>;
}> {
  const sockets = new Set<net.Socket>();
  const arrivals: number[] = [];
  const server = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.add(s);
    s.on('data', () => arrivals.push(performance.now()));
    s.on('close', () => sockets.delete(s));
    s.on('error', () => undefined);
    s.pipe(s);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    sockets,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  s.setNoDelay(true);
  await once(s, 'connect');
  return s;
}

/** Reads until `n` bytes arrived. */
function readBytes(s: net.Socket, n: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    let got = 0;
    const onData = (c: Buffer) => {
      parts.push(c);
      got += c.length;
      if (got >= n) {
        s.off('data', onData);
        s.off('error', reject);
        resolve(Buffer.concat(parts));
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

/** One round trip: a small message out, its echo back; milliseconds. */
async function roundTrip(s: net.Socket): Promise<number> {
  const t0 = performance.now();
  const msg = Buffer.from(`ping ${t0}\n`);
  const back = readBytes(s, msg.length);
  s.write(msg);
  expect((await back).equals(msg)).toBe(true);
  return performance.now() - t0;
}

// real sockets and timers on a machine that may be busy: room beyond jest's 5 s
jest.setTimeout(30_000);

describe('DelayRelay', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  const relays: DelayRelay[] = [];
  const start = async (o: Partial<Parameters<typeof DelayRelay.start>[0]> = {}) => {
    const r = await DelayRelay.start({
      listenHost: '127.0.0.1',
      targetHost: '127.0.0.1',
      targetPort: echo.port,
      delayMs: 0,
      jitterMs: 0,
      ...o,
    });
    relays.push(r);
    return r;
  };

  beforeEach(async () => {
    echo = await echoServer();
  });
  afterEach(async () => {
    await Promise.all(relays.splice(0).map((r) => r.close()));
    await echo.close();
  });

  it('adds delayMs ± jitterMs to each round trip, held in the direction asked', async () => {
    const direct = await connect(echo.port);
    const base: number[] = [];
    for (let i = 0; i < 5; i++) base.push(await roundTrip(direct));
    direct.destroy();
    const baseline = Math.max(...base);

    for (const delayed of ['downstream', 'upstream'] as const) {
      const r = await start({ delayMs: 60, jitterMs: 20, delayed, random: seeded(7) });
      const s = await connect(r.address.port);
      const rtts: number[] = [];
      const oneWay: number[] = []; // client write -> the server's read
      for (let i = 0; i < 12; i++) {
        const sent = performance.now();
        rtts.push(await roundTrip(s));
        oneWay.push((echo.arrivals.at(-1) as number) - sent);
      }
      s.destroy();
      // the direction asked is the one held: the request reaches the server at
      // once when only the answer is held, 40 ms or more later when the request is
      if (delayed === 'downstream') expect(median(oneWay)).toBeLessThan(25);
      else for (const t of oneWay) expect(t).toBeGreaterThanOrEqual(40 - 1);
      // one delay per round trip, drawn in 40..80 ms: never less than 40 ms; the
      // median no more than 80 ms plus the direct path and some slack for a
      // loaded machine (timers fire late, never early)
      for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(40 - 1);
      expect(median(rtts)).toBeLessThan(80 + baseline + 40);
      // the jitter is really there: not all alike
      expect(Math.max(...rtts) - Math.min(...rtts)).toBeGreaterThan(10);
    }

    // both directions: two delays per round trip
    const both = await start({ delayMs: 30, jitterMs: 0, delayed: 'both' });
    const s = await connect(both.address.port);
    const rtts: number[] = [];
    for (let i = 0; i < 5; i++) rtts.push(await roundTrip(s));
    s.destroy();
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(60 - 1);
    expect(median(rtts)).toBeLessThan(60 + baseline + 40);
  });

  it('keeps the order of many chunks despite the jitter', async () => {
    const r = await start({ delayMs: 5, jitterMs: 5, delayed: 'both', random: seeded(1) });
    const s = await connect(r.address.port);
    const n = 2000;
    const expected = Array.from({ length: n }, (_, i) => `${i};`).join('');
    const back = readBytes(s, Buffer.byteLength(expected));
    for (let i = 0; i < n; i++) {
      s.write(`${i};`);
      // yield now and then so the relay reads many separate chunks
      if (i % 50 === 0) await new Promise((res) => setImmediate(res));
    }
    expect((await back).toString()).toBe(expected);
    // the relay really held many separate chunks (each with its own draw), both ways
    expect(r.stats.chunks).toBeGreaterThan(40);
    s.destroy();
  });

  it('carries a large payload intact under backpressure', async () => {
    const r = await start({
      delayMs: 2,
      jitterMs: 2,
      delayed: 'both',
      random: seeded(3),
      maxQueuedBytes: 64 * 1024,
    });
    const s = await connect(r.address.port);
    const payload = randomBytes(8 * 1024 * 1024);
    const back = readBytes(s, payload.length);
    s.write(payload);
    const got = await back;
    expect(got.length).toBe(payload.length);
    expect(createHash('sha256').update(got).digest('hex')).toBe(
      createHash('sha256').update(payload).digest('hex'),
    );
    expect(r.stats.bytesUp).toBe(payload.length);
    expect(r.stats.bytesDown).toBe(payload.length);
    expect(r.stats.pauses).toBeGreaterThan(0); // it did stop reading past 64 KiB held
    s.destroy();
  });

  it('passes a half-close on behind the data, and the answer still comes back', async () => {
    const r = await start({ delayMs: 20, jitterMs: 0 });
    const s = await connect(r.address.port);
    const parts: Buffer[] = [];
    s.on('data', (c: Buffer) => parts.push(c));
    s.write('last words');
    s.end(); // our half closed: the echo server sees the FIN after the data, answers, ends
    await once(s, 'end');
    expect(Buffer.concat(parts).toString()).toBe('last words');
    await once(s, 'close');
    // the relay forgets the connection once both halves are closed
    await waitUntil(() => r.stats.open === 0);
    expect(echo.sockets.size).toBe(0);
    expect(r.stats.errors).toBe(0);
  });

  it('resets the client when the target refuses, and keeps serving', async () => {
    const closed = await echoServer();
    const port = closed.port;
    await closed.close();
    const r = await start({ targetPort: port, delayMs: 10, jitterMs: 0 });
    const s = await connect(r.address.port);
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await waitUntil(() => r.stats.open === 0);
    expect(r.stats.errors).toBeGreaterThanOrEqual(1);
    expect(r.stats.lastError).toMatch(/ECONNREFUSED/);
    // still listening: a new connection is accepted
    const again = await connect(r.address.port);
    await once(again, 'error');
    expect(r.stats.accepted).toBe(2);
  });

  it('passes a reset from the target on to the client at once', async () => {
    const r = await start({ delayMs: 1000, jitterMs: 0 });
    const s = await connect(r.address.port);
    await waitUntil(() => echo.sockets.size === 1);
    const t0 = performance.now();
    for (const e of echo.sockets) e.resetAndDestroy();
    const [err] = (await once(s, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    expect(performance.now() - t0).toBeLessThan(500); // not held like data (1 s)
    await waitUntil(() => r.stats.open === 0);
  });

  it('dropConnections resets both sides; close() releases the port and every socket', async () => {
    const r = await start({ delayMs: 50, jitterMs: 0 });
    const a = await connect(r.address.port);
    const b = await connect(r.address.port);
    await waitUntil(() => echo.sockets.size === 2);
    a.write('held in the relay when it closes');
    const seen: string[] = [];
    for (const s of [a, b]) s.on('error', (e: NodeJS.ErrnoException) => seen.push(String(e.code)));
    const closes = [a, b].map((s) => new Promise((res) => s.once('close', res)));
    const port = r.address.port;
    await r.close();
    await Promise.all(closes);
    expect(a.destroyed && b.destroyed).toBe(true);
    expect(seen).toEqual(['ECONNRESET', 'ECONNRESET']);
    await waitUntil(() => echo.sockets.size === 0);
    await waitUntil(() => r.stats.open === 0);
    // the port is free: nothing listens there any more
    const refused = net.connect({ host: '127.0.0.1', port });
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    // close() twice is harmless
    await r.close();
  });
});

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function waitUntil(cond: () => boolean, timeoutMs = 2_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((res) => setTimeout(res, 5));
  }
}

describe('parseListening (the ports Nemesis.delay relays)', () => {
  it('keeps every address a peer can reach, drops loopback-only listeners', () => {
    const ss = [
      'LISTEN 0      511          0.0.0.0:3000       0.0.0.0:*',
      'LISTEN 0      80                 *:3306             *:*',
      'LISTEN 0      4096      127.0.0.11:41235      0.0.0.0:*',
      'LISTEN 0      511        127.0.0.1:9229       0.0.0.0:*',
      'LISTEN 0      511            [::1]:9230          [::]:*',
      'LISTEN 0      511             [::]:3000          [::]:*',
      'LISTEN 0      511      10.89.51.7:2379       0.0.0.0:*',
      'LISTEN 0      511   127.0.0.53%lo:53        0.0.0.0:*',
      '',
    ].join('\n');
    expect(parseListening(ss)).toEqual([2379, 3000, 3306]);
  });
});
