import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpSender } from './http-sender';
import {
  type Arrival,
  OpenLoad,
  type OpenLoadOptions,
  type Outcome,
  WeightedSequence,
} from './open-load';
import { verdict } from './traffic';

const ok = (sentAt = performance.now()): Outcome => ({ verdict: 'ok', status: 200, sentAt });

/** A load of one kind, `x`, with a 1 s timeout unless `o` says otherwise. */
const xLoad = (o: Omit<OpenLoadOptions<'x'>, 'weights' | 'timeoutMs'> & { timeoutMs?: number }) =>
  new OpenLoad({ timeoutMs: 1_000, weights: { x: 1 }, ...o });

describe('OpenLoad: the schedule', () => {
  it('sends arrival n at start + n / rate, whatever became of the earlier ones', async () => {
    const seen: Array<{ a: Arrival; at: number }> = [];
    const load = xLoad({
      rate: 200,
      durationS: 0.5,
      // answers take 50 ms: ten arrivals are in flight at once, none waits for another
      send: async (a) => {
        const at = performance.now();
        seen.push({ a, at });
        await new Promise((r) => setTimeout(r, 50));
        return ok(at);
      },
    });
    const s = await load.run();
    expect(seen).toHaveLength(100);
    const t0 = seen[0].a.intended;
    seen.forEach(({ a }, n) => {
      expect(a.n).toBe(n);
      expect(a.intended - t0).toBeCloseTo(n * 5, 6);
      expect(a.deadline - a.intended).toBeCloseTo(1_000, 6);
    });
    // never early; on time within a timer's slack, on a busy 2-core machine
    expect(seen.every(({ a, at }) => at >= a.intended)).toBe(true);
    const lag = seen.map(({ a, at }) => at - a.intended).sort((x, y) => x - y);
    expect(lag[50]).toBeLessThan(20);
    expect(s.total).toMatchObject({ count: 100, ok: 100, refused: 0, errors: 0, dropped: 0 });
    expect(s.total.latencyMs.p50).toBeGreaterThanOrEqual(50);
    expect(s.windowS).toBeGreaterThanOrEqual(0.5);
    expect(s.total.achievedRate).toBeGreaterThan(150);
  });

  it('stops at --max-requests before the duration', async () => {
    let sent = 0;
    const load = xLoad({
      rate: 1_000,
      durationS: 60,
      maxRequests: 30,
      send: async () => (sent++, ok()),
    });
    const t = performance.now();
    const s = await load.run();
    expect(sent).toBe(30);
    expect(s.total.count).toBe(30);
    expect(performance.now() - t).toBeLessThan(2_000);
  });

  it('drops an arrival when maxPending requests are unanswered, and counts it', async () => {
    const load = xLoad({
      rate: 100,
      durationS: 0.2,
      maxPending: 5,
      send: () => new Promise((r) => setTimeout(() => r(ok()), 500)),
    });
    const s = await load.run();
    expect(s.total).toMatchObject({ count: 20, ok: 5, dropped: 15 });
    // dropped arrivals were not sent: the rate achieved says so
    expect(s.total.achievedRate).toBeLessThan(40);
  });

  it('adds up: every arrival is ok, refused, an error, dropped or skipped; per kind and in all', async () => {
    const outcomes: Outcome[] = [
      ok(),
      { verdict: 'refused', status: 409, reason: '409 dates_unavailable' },
      { verdict: 'error', status: 503, reason: '503 unavailable' },
      { verdict: 'error', status: 0, reason: 'timeout' },
      { verdict: 'skipped', status: 0 },
    ];
    const load = new OpenLoad({
      rate: 500,
      durationS: 0.1,
      timeoutMs: 1_000,
      weights: { a: 1, b: 1 },
      send: async (a) => outcomes[a.n % outcomes.length],
    });
    const s = await load.run();
    for (const k of [...s.kinds, s.total])
      expect(k.ok + k.refused + k.errors + k.dropped + k.skipped).toBe(k.count);
    expect(s.total).toMatchObject({ count: 50, ok: 10, refused: 10, errors: 20, skipped: 10 });
    expect(s.kinds.map((k) => k.count)).toEqual([25, 25]);
    expect(s.kinds.map((k) => k.intendedRate)).toEqual([250, 250]);
    expect(s.total.reasons).toEqual({
      '409 dates_unavailable': 10,
      '503 unavailable': 10,
      timeout: 10,
    });
  });

  it('a send that rejects is an error, not a lost arrival', async () => {
    const load = xLoad({
      rate: 100,
      durationS: 0.05,
      send: async () => {
        throw new Error('boom');
      },
    });
    const s = await load.run();
    expect(s.total).toMatchObject({ count: 5, errors: 5, reasons: { boom: 5 } });
  });
});

describe('OpenLoad: latency from the intended time (coordinated omission)', () => {
  let server: http.Server;
  let origin: string;
  /** Answers wait until this `performance.now()` time: a stalled server. */
  let stallUntil = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      const wait = stallUntil - performance.now();
      setTimeout(() => res.end('{}'), Math.max(0, wait));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  /** GET / at 100 arrivals a second over at most `connections` connections. */
  async function getsAt100PerS(connections: number, durationS: number) {
    const sender = new HttpSender(origin, connections);
    const load = xLoad({
      rate: 100,
      durationS,
      timeoutMs: 5_000,
      send: async (a) =>
        verdict(await sender.send({ method: 'GET', path: '/', headers: {} }, a.deadline)),
    });
    try {
      return await load.run();
    } finally {
      sender.close();
    }
  }

  it('a server stalled for 600 ms shows in every arrival due meanwhile, not in one request', async () => {
    // one connection, as a closed-model tool with one worker: the requests due during the
    // stall wait for it; a tool timing from its own send would see one slow request only
    setTimeout(() => (stallUntil = performance.now() + 600), 300);
    const s = await getsAt100PerS(1, 1.5);
    stallUntil = 0;
    const t = s.total;
    expect(t).toMatchObject({ count: 150, ok: 150, errors: 0, dropped: 0 });
    // about 60 of 150 arrivals were due during the stall: from 600 ms down to 0 of waiting
    expect(t.latencyMs.max).toBeGreaterThan(500);
    expect(t.latencyMs.p90).toBeGreaterThan(250);
    expect(t.late).toBeGreaterThan(30);
    // from the actual send, only the request on the wire saw the stall
    expect(t.serviceMs.max).toBeGreaterThan(500);
    expect(t.serviceMs.p90).toBeLessThan(100);
  });

  it('a generator that falls behind (its event loop blocked) counts the delay too', async () => {
    setTimeout(() => {
      const until = performance.now() + 400;
      while (performance.now() < until); // a 400 ms pause, as a long GC would be
    }, 300);
    const s = await getsAt100PerS(64, 1);
    expect(s.total.ok).toBe(100);
    // the arrivals due during the pause went out at its end: 400 ms down to 0 late
    expect(s.total.latencyMs.max).toBeGreaterThan(350);
    expect(s.total.late).toBeGreaterThan(25);
  });
});

describe('WeightedSequence', () => {
  it('takes the kinds in the shares of their weights, interleaved', () => {
    const seq = new WeightedSequence({ browse: 60, bookings: 10, book: 20, cancel: 10 });
    const picks = Array.from({ length: 1_000 }, () => seq.next());
    const count = (k: string) => picks.filter((p) => p === k).length;
    expect([count('browse'), count('bookings'), count('book'), count('cancel')]).toEqual([
      600, 100, 200, 100,
    ]);
    // within any 10 arrivals each kind is within one of its share
    for (let i = 0; i + 10 <= picks.length; i++) {
      const window = picks.slice(i, i + 10);
      expect(window.filter((p) => p === 'browse').length).toBeGreaterThanOrEqual(5);
      expect(window.filter((p) => p === 'book').length).toBeGreaterThanOrEqual(1);
    }
    expect(seq.share('book')).toBeCloseTo(0.2);
  });

  it('leaves out a kind of weight 0, and refuses all zero', () => {
    const seq = new WeightedSequence({ a: 1, b: 0 });
    expect(new Set(Array.from({ length: 10 }, () => seq.next()))).toEqual(new Set(['a']));
    expect(() => new WeightedSequence({ a: 0 })).toThrow('no kind has a weight above 0');
  });
});

describe('verdict', () => {
  const a = (status: number, body = '', error?: string) => verdict({ status, body, error });
  it('2xx ok; 409 and 429 refused; other answers and none are errors, with a reason', () => {
    expect(a(201)).toMatchObject({ verdict: 'ok' });
    expect(a(409, '{"error":"dates_unavailable"}')).toMatchObject({
      verdict: 'refused',
      reason: '409 dates_unavailable',
    });
    expect(a(429, '<html>')).toMatchObject({ verdict: 'refused', reason: '429' });
    expect(a(503, '{"error":"unavailable"}')).toMatchObject({
      verdict: 'error',
      reason: '503 unavailable',
    });
    expect(a(401, '{"error":"invalid_token"}')).toMatchObject({ verdict: 'error' });
    expect(a(0, '', 'timeout')).toMatchObject({ verdict: 'error', reason: 'timeout' });
  });
});
