/**
 * Idempotency-Keys per user, a key in flight, expiry, and the cap on a user's
 * active bookings, through real reservation instances (MariaDB primary and
 * replica, Redis, auth, payment over TCP). The instances remember keys for a
 * few seconds only, so expiry and the sweep can be watched, and let a user hold
 * only a few bookings.
 */
import {
  AdminTokens,
  Component,
  Stack,
  startService,
  startStack,
  UserTokens,
  waitFor,
} from '@stayline/stack-kit';

jest.setTimeout(180_000);

const RETENTION_S = 8;
const RECONCILE_AFTER_MS = 2_500;
const MAX_ACTIVE = 4;
const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);
let keySeq = 0;
const newKey = () => `idem-${Date.now()}-${++keySeq}`;

interface ReservationBody {
  id: string;
  status: string;
  userId: string;
  listingId: string;
}

describe('Idempotency-Keys per user and the cap on active bookings (real service)', () => {
  let stack: Stack;
  let r1: string;
  let r2: string;
  let rb: Component;
  let payment: Component;
  let tokens: UserTokens;

  const book = (listingId: string, from: number, nights = 1) => ({
    listingId,
    checkIn: day(from),
    checkOut: day(from + nights),
    guests: 1,
  });
  const post = async (base: string, body: unknown, key: string, as = 'alice') =>
    fetch(`${base}/api/reservations`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': key,
        ...(await tokens.headers(as)),
      },
      body: JSON.stringify(body),
    });
  const chargesOf = async (id: string) =>
    Number(
      (
        await stack.query<{ n: number }>(
          'payment',
          'SELECT COUNT(*) AS n FROM payments WHERE reservation_id = ?',
          [id],
        )
      )[0].n,
    );
  const keyRows = (key: string) =>
    stack.query<{ user_id: string; reservation_id: string }>(
      'reservation',
      'SELECT user_id, reservation_id FROM idempotency_keys WHERE idem_key = ? ORDER BY user_id',
      [key],
    );
  const setFlag = async (name: string, value: unknown) => {
    const admin = await AdminTokens.of(stack).headers();
    const res = await fetch(`${r1}/admin/flags/${name}`, {
      method: value === null ? 'DELETE' : 'PUT',
      headers: { ...admin, 'content-type': 'application/json' },
      ...(value === null ? {} : { body: JSON.stringify(value) }),
    });
    expect(res.status).toBe(200);
    const paymentFlags = `http://127.0.0.1:${payment.ports.http}/admin/flags`;
    await waitFor(`payment to see ${name}`, async () => {
      const seen = JSON.stringify(await (await fetch(paymentFlags, { headers: admin })).json());
      return seen.includes(name) === (value !== null);
    });
  };

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, nginx: false });
    await startService(stack, { service: 'auth', tcpPort: 'none' });
    tokens = UserTokens.of(stack);
    payment = await startService(stack, { service: 'payment' });
    const env = {
      IDEMPOTENCY_KEY_RETENTION_S: String(RETENTION_S),
      RECONCILE_AFTER_MS: String(RECONCILE_AFTER_MS),
      PAYMENT_TIMEOUT_MS: '4000',
      BOOKING_MAX_ACTIVE_PER_USER: String(MAX_ACTIVE),
    };
    const [a, b] = await Promise.all([
      startService(stack, { service: 'reservation', name: 'reservation-1', env }),
      startService(stack, { service: 'reservation', name: 'reservation-2', env }),
    ]);
    rb = b;
    r1 = `http://127.0.0.1:${a.ports.http}`;
    r2 = `http://127.0.0.1:${b.ports.http}`;
  });

  afterAll(() => stack?.stop());

  it('makes two bookings of one key sent by two users, and shows neither the other’s', async () => {
    const key = newKey();
    const alice = await post(r1, book('seoul-02', 30), key, 'alice');
    const bob = await post(r2, book('seoul-03', 30), key, 'bob');
    expect([alice.status, bob.status]).toEqual([201, 201]);
    expect(alice.headers.get('idempotent-replayed')).toBeNull();
    expect(bob.headers.get('idempotent-replayed')).toBeNull();
    const a = (await alice.json()) as ReservationBody;
    const b = (await bob.json()) as ReservationBody;
    expect(a.id).not.toBe(b.id);
    expect([a.userId, b.userId]).toEqual(['alice', 'bob']);
    // each replay is the user's own booking
    const aliceAgain = await post(r2, book('seoul-02', 30), key, 'alice');
    const bobAgain = await post(r1, book('seoul-03', 30), key, 'bob');
    expect(aliceAgain.headers.get('idempotent-replayed')).toBe('true');
    expect(((await aliceAgain.json()) as ReservationBody).id).toBe(a.id);
    expect(((await bobAgain.json()) as ReservationBody).id).toBe(b.id);
    // the stored key is the client's, once per user, each joined to its own reservation
    expect(await keyRows(key)).toEqual([
      { user_id: 'alice', reservation_id: a.id },
      { user_id: 'bob', reservation_id: b.id },
    ]);
    expect([await chargesOf(a.id), await chargesOf(b.id)]).toEqual([1, 1]);
  });

  it('replays the same request under the same key, and refuses another request under it with 422', async () => {
    const key = newKey();
    const first = await post(r1, book('busan-02', 31), key);
    expect(first.status).toBe(201);
    const made = (await first.json()) as ReservationBody;
    const replay = await post(r2, book('busan-02', 31), key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.json()).toMatchObject({ id: made.id, status: 'CONFIRMED' });
    const other = await post(r2, book('busan-02', 33), key);
    expect(other.status).toBe(422);
    expect(await other.json()).toMatchObject({ error: 'idempotency_key_reused' });
    expect(await chargesOf(made.id)).toBe(1);
    // nothing was held for the refused request
    const third = await post(r1, book('busan-02', 33), newKey(), 'bob');
    expect(third.status).toBe(201);
  });

  it('answers requests racing a key in flight with 409 idempotency_key_in_use at once, never a second booking', async () => {
    await setFlag('fault.payment.charge.latencyMs', { kind: 'number', value: 1_200 });
    try {
      const key = newKey();
      const body = book('jeju-02', 32);
      const timed = async (base: string) => {
        const t0 = performance.now();
        const res = await post(base, body, key, 'racer');
        return { res, ms: performance.now() - t0 };
      };
      await tokens.headers('racer');
      const replies = await Promise.all(
        Array.from({ length: 8 }, (_, i) => timed(i % 2 ? r1 : r2)),
      );
      expect(replies.map((r) => r.res.status).filter((s) => s >= 500)).toEqual([]);
      const made = replies.filter(
        (r) => [201, 202].includes(r.res.status) && !r.res.headers.get('idempotent-replayed'),
      );
      expect(made).toHaveLength(1);
      const booked = (await made[0].res.json()) as ReservationBody;
      const others = replies.filter((r) => r !== made[0]);
      let inUse = 0;
      for (const r of others) {
        if (r.res.status === 409) {
          inUse++;
          expect(await r.res.json()).toMatchObject({ error: 'idempotency_key_in_use' });
          expect(Number(r.res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
          // at once: not after the first request's charge (1.2 s)
          expect(r.ms).toBeLessThan(1_100);
        } else {
          // a request that came in after the first had answered: its replay
          expect(r.res.status).toBe(201);
          expect(r.res.headers.get('idempotent-replayed')).toBe('true');
          expect(((await r.res.json()) as ReservationBody).id).toBe(booked.id);
        }
      }
      expect(inUse).toBeGreaterThanOrEqual(1);
      // once the first answered, the same key replays it
      const again = await post(r1, body, key, 'racer');
      expect(again.status).toBe(201);
      expect(again.headers.get('idempotent-replayed')).toBe('true');
      expect(((await again.json()) as ReservationBody).id).toBe(booked.id);
      expect(await chargesOf(booked.id)).toBe(1);
    } finally {
      await setFlag('fault.payment.charge.latencyMs', null);
    }
  });

  it('does not block a key for long when its first request died mid-booking: the hold is taken over and charged once', async () => {
    await setFlag('fault.payment.charge.latencyMs', { kind: 'number', value: 3_000 });
    const key = newKey();
    const body = book('gangneung-02', 34);
    await tokens.headers('crash');
    try {
      const lost = post(r2, body, key, 'crash').catch(() => undefined);
      await waitFor('the first request to hold', async () => (await keyRows(key)).length === 1, {
        intervalMs: 20,
      });
      stack.kill(rb.name, 'SIGKILL');
      await lost;
      const early = await post(r1, body, key, 'crash');
      expect(early.status).toBe(409);
      expect(await early.json()).toMatchObject({ error: 'idempotency_key_in_use' });
    } finally {
      await setFlag('fault.payment.charge.latencyMs', null);
    }
    // past the reconciler's minimum age, a retry takes the hold over and replays it
    let replayed: Response | undefined;
    await waitFor(
      'a retry to replay the held booking',
      async () => {
        const res = await post(r1, body, key, 'crash');
        if (res.status === 409) return false;
        replayed = res;
        return true;
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
    expect([201, 202]).toContain(replayed?.status);
    expect(replayed?.headers.get('idempotent-replayed')).toBe('true');
    const held = (await replayed?.json()) as ReservationBody;
    expect(held.id).toBe((await keyRows(key))[0].reservation_id);
    await waitFor(
      'the reconciler to confirm it',
      async () =>
        (
          await stack.query<{ status: string }>(
            'reservation',
            'SELECT status FROM reservations WHERE id = ?',
            [held.id],
          )
        )[0]?.status === 'CONFIRMED',
      { timeoutMs: 20_000, intervalMs: 250 },
    );
    expect(await chargesOf(held.id)).toBe(1);
    await stack.restart(rb.name);
  });

  it('no longer matches a key past its retention: the same key books anew, and the sweep deletes the old row', async () => {
    const key = newKey();
    const first = await post(r1, book('jeonju-02', 35), key);
    expect(first.status).toBe(201);
    const old = (await first.json()) as ReservationBody;
    await new Promise((r) => setTimeout(r, RETENTION_S * 1000 + 500));
    // the same key, another request: not a 422 any more, a booking of its own
    const second = await post(r1, book('jeonju-02', 37), key);
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBeNull();
    const made = (await second.json()) as ReservationBody;
    expect(made.id).not.toBe(old.id);
    expect(await keyRows(key)).toEqual([{ user_id: 'alice', reservation_id: made.id }]);
    // a key left alone past its retention is deleted by the leader's sweep
    const idle = newKey();
    expect((await post(r1, book('jeonju-03', 35), idle, 'bob')).status).toBe(201);
    await waitFor(
      'the sweep to delete the expired key',
      async () => (await keyRows(idle)).length === 0,
      {
        timeoutMs: 30_000,
        intervalMs: 500,
      },
    );
  });

  it('refuses a booking past the user’s cap with 409 booking_limit_reached, and a cancel frees a slot', async () => {
    const made: string[] = [];
    for (let i = 0; i < MAX_ACTIVE; i++) {
      const res = await post(i % 2 ? r1 : r2, book('seoul-06', 40 + i), newKey(), 'capped');
      expect(res.status).toBe(201);
      made.push(((await res.json()) as ReservationBody).id);
    }
    const over = await post(r1, book('seoul-06', 50), newKey(), 'capped');
    expect(over.status).toBe(409);
    expect(await over.json()).toMatchObject({
      error: 'booking_limit_reached',
      message: expect.stringMatching(/cancel one/),
      details: { limit: MAX_ACTIVE, active: MAX_ACTIVE },
    });
    // another user is not held back by it
    expect((await post(r1, book('seoul-06', 50), newKey(), 'uncapped')).status).toBe(201);
    const cancel = await fetch(`${r2}/api/reservations/${made[0]}/cancel`, {
      method: 'POST',
      headers: await tokens.headers('capped'),
    });
    expect(cancel.status).toBe(200);
    const freed = await post(r1, book('seoul-06', 51), newKey(), 'capped');
    expect(freed.status).toBe(201);
    expect((await post(r2, book('seoul-06', 52), newKey(), 'capped')).status).toBe(409);
  });

  it('keeps concurrent bookings of one user within the cap: exactly the cap succeed, the rest 409, never 5xx', async () => {
    await tokens.headers('burst');
    const replies = await Promise.all(
      Array.from({ length: 9 }, (_, i) =>
        post(i % 2 ? r1 : r2, book('busan-06', 60 + i), newKey(), 'burst'),
      ),
    );
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([...Array(MAX_ACTIVE).fill(201), ...Array(9 - MAX_ACTIVE).fill(409)]);
    for (const r of replies.filter((x) => x.status === 409)) {
      expect(await r.json()).toMatchObject({ error: 'booking_limit_reached' });
    }
    const held = await stack.query<{ n: number }>(
      'reservation',
      "SELECT COUNT(*) AS n FROM reservations WHERE user_id = 'burst' AND status IN ('PENDING_PAYMENT', 'CONFIRMED')",
    );
    expect(Number(held[0].n)).toBe(MAX_ACTIVE);
  });

  it('finishes a cancel whose refund failed: 202 CANCELLING, nights still held, then refunded and released in the background', async () => {
    const user = 'cancel-saga';
    const made = await post(r1, book('busan-05', 60), newKey(), user);
    expect(made.status).toBe(201);
    const { id } = (await made.json()) as ReservationBody;
    const cancel = async () =>
      fetch(`${r2}/api/reservations/${id}/cancel`, {
        method: 'POST',
        headers: await tokens.headers(user),
      });
    await setFlag('fault.payment.refund.errorRate', { kind: 'number', value: 1 });
    try {
      // past the point of no return: the refund failed, the cancel is accepted and kept
      for (let i = 0; i < 2; i++) {
        const res = await cancel();
        expect(res.status).toBe(202);
        expect(await res.json()).toMatchObject({ id, status: 'CANCELLING' });
      }
      // the stay is not released before its refund
      expect((await post(r1, book('busan-05', 60), newKey(), 'bob')).status).toBe(409);
      const [row] = await stack.query<{ status: string }>(
        'reservation',
        'SELECT status FROM reservations WHERE id = ?',
        [id],
      );
      expect(row.status).toBe('CANCELLING');
    } finally {
      await setFlag('fault.payment.refund.errorRate', null);
    }
    // the reconciler refunds it (once) and releases the nights
    await waitFor(
      'the reconciler to finish the cancel',
      async () =>
        (
          await stack.query<{ status: string }>(
            'reservation',
            'SELECT status FROM reservations WHERE id = ?',
            [id],
          )
        )[0].status === 'CANCELLED',
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const payments = await stack.query<{ status: string }>(
      'payment',
      'SELECT status FROM payments WHERE reservation_id = ?',
      [id],
    );
    expect(payments.map((p) => p.status)).toEqual(['REFUNDED']);
    expect((await post(r1, book('busan-05', 60), newKey(), 'bob')).status).toBe(201);
    // cancelling again changes nothing
    const again = await cancel();
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ id, status: 'CANCELLED' });
  });
});
