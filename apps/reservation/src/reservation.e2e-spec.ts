import fs from 'node:fs';
import path from 'node:path';
import {
  Component,
  DEV_ADMIN_TOKEN,
  Stack,
  startStack,
  waitFor,
  startService,
} from '@stayline/stack-kit';
import mysql from 'mysql2/promise';

jest.setTimeout(180_000);

const ADMIN = { authorization: `Bearer ${DEV_ADMIN_TOKEN}` };
const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
let keySeq = 0;
const newKey = () => `test-key-${Date.now()}-${++keySeq}`;

interface ReservationBody {
  id: string;
  status: string;
  listingId: string;
  paymentId: string | null;
}

describe('reservation service (real MariaDB, Redis, payment and recommendation over TCP)', () => {
  let stack: Stack;
  let r1: string;
  let r2: string;
  let pay: Component[];

  const post = (
    base: string,
    body: unknown,
    key: string | null = newKey(),
    headers: Record<string, string> = {},
  ) =>
    fetch(`${base}/api/reservations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(key ? { 'idempotency-key': key } : {}),
        ...headers,
      },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const book = (listingId: string, from: number, nights = 1, userId = 'alice') => ({
    listingId,
    userId,
    checkIn: day(from),
    checkOut: day(from + nights),
    guests: 1,
  });
  const setFlag = (name: string, value: unknown) =>
    fetch(`${r1}/admin/flags/${name}`, {
      method: 'PUT',
      headers: { ...ADMIN, 'content-type': 'application/json' },
      body: JSON.stringify(value),
    });
  const chargesFor = async (reservationIds: string[]) => {
    const conn = await mysql.createConnection({
      host: stack.mariadb.primary.host,
      port: stack.mariadb.primary.port,
      ...stack.credentials.app,
      database: 'payment',
    });
    const [rows] = await conn.query(
      'SELECT reservation_id, COUNT(*) AS n FROM payments WHERE reservation_id IN (?) GROUP BY reservation_id',
      [reservationIds],
    );
    await conn.end();
    return new Map(
      (rows as Array<{ reservation_id: string; n: number }>).map((r) => [
        r.reservation_id,
        Number(r.n),
      ]),
    );
  };

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, nginx: false });
    pay = await Promise.all([
      startService(stack, { service: 'payment' }),
      startService(stack, { service: 'payment' }),
    ]);
    await startService(stack, { service: 'recommendation' });
    const env = { BREAKER_RESET_MS: '3000', PAYMENT_TIMEOUT_MS: '800', RECONCILE_AFTER_MS: '500' };
    const [a, b] = await Promise.all([
      startService(stack, { service: 'reservation', name: 'reservation-1', env }),
      startService(stack, { service: 'reservation', name: 'reservation-2', env }),
    ]);
    r1 = `http://127.0.0.1:${a.ports.http}`;
    r2 = `http://127.0.0.1:${b.ports.http}`;
  });

  afterAll(() => stack?.stop());

  it('lists seeded listings in the default order, and ranked for a user', async () => {
    const all = (await (await fetch(`${r1}/api/listings?limit=100`)).json()) as {
      items: Array<{ rating: number; city: string }>;
      ranking: string;
    };
    expect(all.items.length).toBeGreaterThanOrEqual(50);
    expect(new Set(all.items.map((l) => l.city)).size).toBeGreaterThanOrEqual(3);
    expect(all.ranking).toBe('fallback');
    const ratings = all.items.map((l) => l.rating);
    expect([...ratings].sort((a, b) => b - a)).toEqual(ratings);
    const ranked = (await (
      await fetch(`${r2}/api/listings?city=Jeju&userId=alice&limit=5`)
    ).json()) as { items: Array<{ city: string }>; ranking: string };
    expect(ranked.ranking).toBe('personalized');
    expect(ranked.items).toHaveLength(5);
    expect(ranked.items.every((l) => l.city === 'Jeju')).toBe(true);
    for (const q of ['limit=0', 'limit=abc', 'city=', 'other=1']) {
      const res = await fetch(`${r1}/api/listings?${q}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'validation_failed' });
    }
  });

  it('books, reads its own write from the other instance, and replays the same key', async () => {
    const key = newKey();
    const res = await post(r1, book('seoul-01', 10, 2), key);
    expect(res.status).toBe(201);
    const created = (await res.json()) as ReservationBody;
    expect(created).toMatchObject({
      status: 'CONFIRMED',
      listingId: 'seoul-01',
      paymentId: expect.any(String),
    });
    const token = res.headers.get('x-consistency-token');
    expect(token).toMatch(/^\d+-\d+-\d+/);
    const read = await fetch(`${r2}/api/reservations/${created.id}`, {
      headers: { 'x-consistency-token': token as string },
    });
    expect(read.status).toBe(200);
    expect(await read.json()).toMatchObject({ id: created.id, status: 'CONFIRMED' });

    const replay = await post(r2, book('seoul-01', 10, 2), key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(((await replay.json()) as ReservationBody).id).toBe(created.id);
    expect((await chargesFor([created.id])).get(created.id)).toBe(1);

    const reused = await post(r1, book('seoul-02', 10, 2), key);
    expect(reused.status).toBe(422);
    expect(await reused.json()).toMatchObject({ error: 'idempotency_key_reused' });

    const mine = (await (
      await fetch(`${r2}/api/reservations?userId=alice`, {
        headers: { 'x-consistency-token': token as string },
      })
    ).json()) as {
      items: ReservationBody[];
    };
    expect(mine.items.map((r) => r.id)).toContain(created.id);
  });

  it('carries the request id through every hop: reservation, then payment over TCP', async () => {
    const requestId = `trace-${Date.now()}`;
    const res = await post(r1, book('seoul-05', 150), newKey(), { 'x-request-id': requestId });
    expect(res.status).toBe(201);
    expect(res.headers.get('x-request-id')).toBe(requestId);
    const logs = (name: string) =>
      fs.readFileSync(path.join(stack.stateDir, name, 'service.log'), 'utf8');
    await waitFor('the id in a payment log line', async () =>
      pay.some((p) =>
        logs(p.name)
          .split('\n')
          .some((l) => l.includes(requestId) && l.includes('"service":"payment"')),
      ),
    );
    // pino writes asynchronously: the line lands once its buffer is flushed
    await waitFor('the id in a reservation-1 log line', async () =>
      logs('reservation-1').includes(requestId),
    );
    expect(logs('reservation-1')).toContain(requestId);
  });

  it('serves the OpenAPI description of the public API', async () => {
    const doc = (await (await fetch(`${r1}/api/docs/openapi.json`)).json()) as {
      paths: Record<string, unknown>;
    };
    for (const p of [
      '/api/listings',
      '/api/reservations',
      '/api/reservations/{id}',
      '/api/payments/{id}',
      '/api/scraps',
    ]) {
      expect(Object.keys(doc.paths)).toContain(p);
    }
  });

  it('lets exactly one of many concurrent bookings of the same nights win', async () => {
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        post(i % 2 ? r1 : r2, book('busan-03', 40, 3, `user-${i}`)),
      ),
    );
    const statuses = results.map((r) => r.status).sort();
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(11);
    // a stay overlapping by one night is refused too; the next free night is not
    expect((await post(r1, book('busan-03', 42, 2))).status).toBe(409);
    expect((await post(r1, book('busan-03', 43, 1))).status).toBe(201);
  });

  it('answers bad input with clear 4xx JSON and creates nothing', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ ...book('seoul-03', 5), checkIn: day(-2), checkOut: day(-1) }, 400, 'validation_failed'],
      [{ ...book('seoul-03', 5), checkOut: day(4) }, 400, 'validation_failed'],
      [{ ...book('seoul-03', 5), checkIn: '2026-02-30' }, 400, 'validation_failed'],
      [{ ...book('seoul-03', 400) }, 400, 'validation_failed'],
      [{ ...book('seoul-03', 5), guests: 16 }, 422, 'over_capacity'],
      [{ ...book('seoul-03', 5), guests: 'two' }, 400, 'validation_failed'],
      [{ ...book('nowhere-99', 5) }, 404, 'not_found'],
      [{ listingId: 'seoul-03' }, 400, 'validation_failed'],
      ['{"listingId":', 400, 'bad_request'],
    ];
    for (const [body, status, error] of cases) {
      const res = await post(r1, body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(await res.json()).toMatchObject({
        error,
        message: expect.any(String),
        requestId: expect.any(String),
      });
    }
    const noKey = await post(r1, book('seoul-03', 5), null);
    expect(noKey.status).toBe(400);
    expect(await noKey.json()).toMatchObject({ error: 'idempotency_key_required' });
    // any night up to a year ahead can be booked
    expect((await post(r1, book('seoul-03', 364))).status).toBe(201);
    expect((await fetch(`${r1}/api/reservations/not-a-uuid`)).status).toBe(400);
    expect(
      (await fetch(`${r1}/api/reservations/00000000-0000-4000-8000-000000000000`)).status,
    ).toBe(404);
    expect((await fetch(`${r1}/api/reservations`)).status).toBe(400);
  });

  it('cancels with a refund, frees the nights, and cancelling twice changes nothing', async () => {
    const res = await post(r1, book('jeju-04', 20, 2));
    const r = (await res.json()) as ReservationBody;
    const cancel = await fetch(`${r2}/api/reservations/${r.id}/cancel`, { method: 'POST' });
    expect(cancel.status).toBe(200);
    expect(await cancel.json()).toMatchObject({ id: r.id, status: 'CANCELLED' });
    const payment = await fetch(
      `http://127.0.0.1:${pay[0].ports.http}/api/payments?reservationId=${r.id}`,
      {
        headers: { 'x-consistency-token': cancel.headers.get('x-consistency-token') ?? '' },
      },
    );
    expect(((await payment.json()) as { items: Array<{ status: string }> }).items[0].status).toBe(
      'REFUNDED',
    );
    expect((await fetch(`${r1}/api/reservations/${r.id}/cancel`, { method: 'POST' })).status).toBe(
      200,
    );
    expect((await post(r1, book('jeju-04', 20, 2))).status).toBe(201);
  });

  it('feeds recommendation through the outbox: a confirmed stay shapes the user’s ranking', async () => {
    const res = await post(r2, book('gangneung-05', 30, 1, 'learner'));
    expect(res.status).toBe(201);
    const rec = `http://127.0.0.1:${stack.component('recommendation-1').ports.http}`;
    await waitFor('recommendation to learn', async () => {
      const body = (await (await fetch(`${rec}/api/recommendations?userId=learner`)).json()) as {
        profile: { cities: Record<string, number> };
      };
      return body.profile.cities.Gangneung === 1;
    });
    const ranked = (await (await fetch(`${r1}/api/listings?userId=learner&limit=3`)).json()) as {
      items: Array<{ city: string }>;
      ranking: string;
    };
    expect(ranked.ranking).toBe('personalized');
    expect(ranked.items[0].city).toBe('Gangneung');
  });

  it('switches recommendation off everywhere with the kill switch flag, admin token required', async () => {
    expect((await fetch(`${r1}/admin/flags`)).status).toBe(401);
    expect(
      (await setFlag('recommendation.enabled', { kind: 'boolean', enabled: false })).status,
    ).toBe(200);
    await waitFor('both instances to apply the flag', async () => {
      const pages = await Promise.all(
        [r1, r2].map(
          async (b) =>
            (await (await fetch(`${b}/api/listings?userId=alice`)).json()) as {
              ranking: string;
              reason?: string;
            },
        ),
      );
      return pages.every(
        (p) => p.ranking === 'fallback' && /recommendation\.enabled/.test(p.reason ?? ''),
      );
    });
    expect(
      (await setFlag('recommendation.enabled', { kind: 'boolean', enabled: true })).status,
    ).toBe(200);
    await waitFor(
      'ranking back',
      async () =>
        ((await (await fetch(`${r2}/api/listings?userId=alice`)).json()) as { ranking: string })
          .ranking === 'personalized',
    );
    expect((await setFlag('bad name!', { kind: 'boolean', enabled: true })).status).toBe(400);
    expect((await setFlag('x', { kind: 'maybe' })).status).toBe(400);
  });

  it('falls back to the default order while recommendation hangs, fast once the breaker opens, and recovers', async () => {
    stack.kill('recommendation-1', 'SIGSTOP');
    try {
      const timings: number[] = [];
      for (let i = 0; i < 6; i++) {
        const t0 = performance.now();
        const page = (await (await fetch(`${r1}/api/listings?userId=alice&limit=5`)).json()) as {
          ranking: string;
          reason: string;
          items: unknown[];
        };
        timings.push(performance.now() - t0);
        expect(page.ranking).toBe('fallback');
        expect(page.items).toHaveLength(5);
        expect(page.reason).toMatch(/recommendation/);
      }
      // the first calls wait for the 300 ms timeout (never much longer); once open, no wait at all
      expect(Math.max(...timings.slice(0, 3))).toBeLessThan(1_000);
      expect(Math.max(...timings.slice(4))).toBeLessThan(150);
    } finally {
      stack.kill('recommendation-1', 'SIGCONT');
    }
    await waitFor(
      'ranking to come back after the reset timeout',
      async () =>
        ((await (await fetch(`${r1}/api/listings?userId=alice`)).json()) as { ranking: string })
          .ranking === 'personalized',
      { timeoutMs: 20_000, intervalMs: 250 },
    );
  });

  it('loses no reservation and charges none twice when a payment instance is SIGKILLed mid-stream', async () => {
    const ids: string[] = [];
    const statuses: number[] = [];
    for (let i = 0; i < 30; i++) {
      if (i === 8) stack.kill(pay[0].name, 'SIGKILL');
      const res = await post(
        i % 2 ? r1 : r2,
        book(`seoul-${String((i % 8) + 4).padStart(2, '0')}`, 60 + i, 1, `stream-${i}`),
      );
      statuses.push(res.status);
      ids.push(((await res.json()) as ReservationBody).id);
    }
    expect(statuses.filter((s) => s !== 201 && s !== 202)).toEqual([]);
    await waitFor(
      'every reservation confirmed',
      async () => {
        const views = await Promise.all(
          ids.map(
            async (id) =>
              ((await (await fetch(`${r1}/api/reservations/${id}`)).json()) as ReservationBody)
                .status,
          ),
        );
        return views.every((s) => s === 'CONFIRMED');
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const charges = await chargesFor(ids);
    expect(ids.map((id) => charges.get(id))).toEqual(ids.map(() => 1));
    await stack.restart(pay[0].name);
  });

  it('answers 202 for a charge with an unknown outcome, then settles it once; fails fast with 503 while payment is open', async () => {
    // payment hangs everywhere: the first bookings time out (outcome unknown) and stay pending
    for (const p of pay) stack.kill(p.name, 'SIGSTOP');
    const pending: string[] = [];
    let failFast: Response | undefined;
    try {
      for (let i = 0; i < 8 && !failFast; i++) {
        const res = await post(r1, book('jeonju-06', 100 + i * 2, 1, 'patient'));
        if (res.status === 202) pending.push(((await res.json()) as ReservationBody).id);
        else if (res.status === 503) failFast = res;
        else
          throw new Error(
            `unexpected ${res.status}: ${await res.text()} ${JSON.stringify(pay.map((p) => [p.name, p.pid]))}`,
          );
      }
      expect(pending.length).toBeGreaterThanOrEqual(1);
      expect(failFast?.status).toBe(503);
      expect(Number(failFast?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(await failFast?.json()).toMatchObject({
        error: 'dependency_unavailable',
        dependency: 'payment',
      });
      // while open, this instance does not call payment at all (the other instance has its
      // own breakers): the answer comes without the payment timeout (800 ms), only the hold
      // and its undo in MariaDB (tens of ms; hundreds on a loaded host)
      const t0 = performance.now();
      const again = await post(r1, book('jeonju-07', 300, 1));
      expect(again.status).toBe(503);
      expect(performance.now() - t0).toBeLessThan(800);
      // many bookings at once while open: each hold is undone, none collides with another's
      const burst = await Promise.all(
        Array.from({ length: 24 }, (_, i) => post(r1, book('jeonju-08', 240 + i, 1, `burst-${i}`))),
      );
      const statuses = burst.map((res) => res.status);
      // a half-open trial call may time out in between (202, settled below); nothing else
      expect(statuses.filter((s) => s !== 503 && s !== 202)).toEqual([]);
      expect(statuses.filter((s) => s === 503).length).toBeGreaterThan(12);
      for (const res of burst)
        if (res.status === 202) pending.push(((await res.json()) as ReservationBody).id);
    } finally {
      for (const p of pay) stack.kill(p.name, 'SIGCONT');
    }
    await waitFor(
      'the reconciler to settle every pending reservation',
      async () => {
        const views = await Promise.all(
          pending.map(
            async (id) =>
              ((await (await fetch(`${r1}/api/reservations/${id}`)).json()) as ReservationBody)
                .status,
          ),
        );
        return views.every((s) => s === 'CONFIRMED');
      },
      { timeoutMs: 40_000, intervalMs: 500 },
    );
    const charges = await chargesFor(pending);
    expect(pending.map((id) => charges.get(id))).toEqual(pending.map(() => 1));
    // no half-made state: the nights refused with 503 were never held, so they can be booked now
    await waitFor(
      'bookings to work again',
      async () => (await post(r1, book('jeonju-07', 300, 1))).status === 201,
      { timeoutMs: 15_000, intervalMs: 500 },
    );
  });
});
