/**
 * The README's requests, through the compose stack's gateway on loopback, in
 * its order: a token first (alice logs in, one request), then every call with
 * it: listings (personalized, then the fallback order while recommendation is
 * switched off), a booking read back with its consistency token, an idempotent
 * retry, the charge, what recommendation learned, a cancel with its refund, a
 * refused SSRF target; the API docs and the live page, which need no token.
 * And who may do what: no token is a 401, a `userId` in a body a 400, and bob
 * is told alice's reservation and payment do not exist (404).
 */
import { randomUUID } from 'node:crypto';
import { HttpClient, login } from '@stayline/stack-kit';
import { ComposeStack } from './lib/compose-stack';
import { adminFlag, booking, waitForJson } from './lib/gateway';

jest.setTimeout(60_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;
const http = new HttpClient();
const json = { 'content-type': 'application/json' };
afterAll(() => http.close());

type Listings = { items: Array<{ id: string }>; ranking: string };
type Payment = { id: string; status: string; reservationId: string };

/** `Authorization: Bearer <token>` of each demo user, as the README's first command gets it. */
const as: Record<'alice' | 'bob', { authorization: string }> = {
  alice: { authorization: '' },
  bob: { authorization: '' },
};
beforeAll(async () => {
  for (const user of ['alice', 'bob'] as const) {
    const t = await login(G, user);
    expect([t.token_type, t.scope]).toEqual(['Bearer', 'user']);
    as[user] = { authorization: `Bearer ${t.access_token}` };
  }
});

/** The reservation the booking test made (alice's), for the authorization checks after it. */
let made: { id: string; paymentId: string } | undefined;

describe('the README requests, in containers', () => {
  it('says who the token names', async () => {
    const me = await http.request(`${G}/api/auth/me`, { headers: as.alice });
    expect(me.status).toBe(200);
    expect(me.json<{ sub: string; scope: string }>()).toMatchObject({
      sub: 'alice',
      scope: 'user',
    });
  });

  it('lists stays ranked for the caller by recommendation', async () => {
    const body = await waitForJson<Listings>(
      http,
      `${G}/api/listings?city=Jeju&limit=3`,
      'a personalized listing',
      (b) => b.ranking === 'personalized',
      { headers: as.alice },
    );
    expect(body.items).toHaveLength(3);
  });

  it('falls back to the default order, marked, while recommendation is switched off', async () => {
    await adminFlag(stack, 'reservation-1', 'PUT', 'recommendation.enabled', {
      kind: 'boolean',
      enabled: false,
    });
    try {
      // every instance applies the flag (pushed through the registry): both answer the fallback
      for (let i = 0; i < 4; i++) {
        const b = await waitForJson<Listings>(
          http,
          `${G}/api/listings?city=Jeju&limit=3`,
          'the fallback order',
          (x) => x.ranking === 'fallback',
          { headers: as.alice },
        );
        expect(b.items.length).toBeGreaterThan(0);
      }
    } finally {
      await adminFlag(stack, 'reservation-1', 'DELETE', 'recommendation.enabled');
    }
    await waitForJson<Listings>(
      http,
      `${G}/api/listings?city=Jeju&limit=3`,
      'personalized again',
      (b) => b.ranking === 'personalized',
      { headers: as.alice },
    );
  });

  it('books, reads its own write with the consistency token, replays a retry, cancels with a refund', async () => {
    const key = `readme-${Date.now()}`;
    const night = 200 + Math.floor(Math.random() * 150);
    const body = booking('jeju-03', night);
    const headers = { ...json, ...as.alice, 'idempotency-key': key };
    const first = await http.request(`${G}/api/reservations`, { method: 'POST', headers, body });
    expect([first.status, first.body]).toEqual([201, expect.any(String)]);
    const reservation = first.json<{
      id: string;
      status: string;
      paymentId: string;
      userId: string;
    }>();
    made = reservation;
    expect(reservation.status).toBe('CONFIRMED');
    expect(reservation.userId).toBe('alice');
    const token = first.headers['x-consistency-token'];
    expect(token).toMatch(/^\d+-\d+-\d+/);

    // read your write from whichever instance and replica: the token makes it wait for the GTID
    for (let i = 0; i < 4; i++) {
      const read = await http.request(`${G}/api/reservations/${reservation.id}`, {
        headers: { ...as.alice, 'x-consistency-token': String(token) },
      });
      expect([read.status, read.json<{ id: string }>().id]).toEqual([200, reservation.id]);
    }
    // and among the caller's own
    await waitForJson<{ items: Array<{ id: string }> }>(
      http,
      `${G}/api/reservations`,
      "the booking among alice's reservations",
      (b) => b.items.some((r) => r.id === reservation.id),
      { headers: { ...as.alice, 'x-consistency-token': String(token) } },
    );

    // the same key again: the same reservation, charged once
    const retry = await http.request(`${G}/api/reservations`, { method: 'POST', headers, body });
    expect(retry.status).toBeLessThan(300);
    expect(retry.json<{ id: string }>().id).toBe(reservation.id);
    const charge = await waitForJson<Payment>(
      http,
      `${G}/api/payments/${reservation.paymentId}`,
      'the charge',
      (p) => p.status === 'CHARGED',
      { headers: as.alice },
    );
    expect(charge.reservationId).toBe(reservation.id);
    const payments = await waitForJson<{ items: Payment[] }>(
      http,
      `${G}/api/payments`,
      "the charge among alice's payments",
      (b) => b.items.some((p) => p.reservationId === reservation.id),
      { headers: as.alice },
    );
    const charges = payments.items.filter((p) => p.reservationId === reservation.id);
    expect(charges.map((p) => p.status)).toEqual(['CHARGED']);

    // what recommendation learned about the caller
    const recs = await http.request(`${G}/api/recommendations`, { headers: as.alice });
    expect(recs.status).toBe(200);

    // bob is told alice's reservation does not exist, as for an id nobody booked
    const bobs = await http.request(`${G}/api/reservations/${reservation.id}`, {
      headers: as.bob,
    });
    expect(bobs.status).toBe(404);
    const nobody = await http.request(`${G}/api/reservations/${randomUUID()}`, {
      headers: as.bob,
    });
    expect([nobody.status, nobody.json()]).toEqual([404, expect.anything()]);
    expect(Object.keys(bobs.json()).sort()).toEqual(Object.keys(nobody.json()).sort());

    const cancel = await http.request(`${G}/api/reservations/${reservation.id}/cancel`, {
      method: 'POST',
      headers: as.alice,
    });
    expect(cancel.status).toBeLessThan(300);
    expect(cancel.json<{ status: string }>().status).toBe('CANCELLED');
    await waitForJson<Payment>(
      http,
      `${G}/api/payments/${reservation.paymentId}`,
      'the refund',
      (p) => p.status === 'REFUNDED',
      { headers: as.alice },
    );
  });

  it('refuses to fetch a cloud metadata address (SSRF) with a 400 JSON error', async () => {
    const r = await http.request(`${G}/api/scraps`, {
      method: 'POST',
      headers: { ...json, ...as.alice },
      body: JSON.stringify({ url: 'http://169.254.169.254/latest/meta-data/' }),
    });
    expect(r.status).toBe(400);
    expect(r.json<{ error: string }>().error).toBe('forbidden_target');
  });

  it('serves the OpenAPI page and the live topology page', async () => {
    const docs = await http.request(`${G}/api/docs`);
    expect(docs.status).toBe(200);
    expect(docs.body).toMatch(/swagger|openapi/i);
    const page = await http.request(`${G}/dashboard`);
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
  });
});

describe('who may do what, in containers', () => {
  it('answers 401 with its challenge to a call without a token, and to one with a token that is not one', async () => {
    const calls: Array<[string, string]> = [
      ['GET', '/api/listings?city=Jeju&limit=3'],
      ['GET', '/api/reservations'],
      ['GET', '/api/payments'],
      ['GET', '/api/recommendations'],
      ['GET', '/api/scraps'],
    ];
    for (const [method, path] of calls) {
      const none = await http.request(`${G}${path}`, { method });
      expect([path, none.status]).toEqual([path, 401]);
      expect(none.headers['www-authenticate']).toMatch(/^Bearer realm=/);
      const forged = await http.request(`${G}${path}`, {
        method,
        headers: { authorization: 'Bearer not-a-token' },
      });
      expect([path, forged.status]).toEqual([path, 401]);
    }
    const booked = await http.request(`${G}/api/reservations`, {
      method: 'POST',
      headers: { ...json, 'idempotency-key': `readme-anon-${Date.now()}` },
      body: booking('jeju-03', 300),
    });
    expect(booked.status).toBe(401);
  });

  it('refuses a userId in a body or a query (400): the user is the token’s subject', async () => {
    const body = JSON.stringify({ ...JSON.parse(booking('jeju-03', 301)), userId: 'bob' });
    const r = await http.request(`${G}/api/reservations`, {
      method: 'POST',
      headers: { ...json, ...as.alice, 'idempotency-key': `readme-uid-${Date.now()}` },
      body,
    });
    expect(r.status).toBe(400);
    const q = await http.request(`${G}/api/listings?city=Jeju&userId=bob`, { headers: as.alice });
    expect(q.status).toBe(400);
  });

  it('lets bob neither cancel alice’s reservation nor read her payment (404), nor list them', async () => {
    expect(made).toBeDefined();
    const { id, paymentId } = made as { id: string; paymentId: string };
    const cancel = await http.request(`${G}/api/reservations/${id}/cancel`, {
      method: 'POST',
      headers: as.bob,
    });
    expect(cancel.status).toBe(404);
    const payment = await http.request(`${G}/api/payments/${paymentId}`, { headers: as.bob });
    expect(payment.status).toBe(404);
    const own = await http.request(`${G}/api/reservations`, { headers: as.bob });
    expect(own.status).toBe(200);
    expect(own.body).not.toContain(id);
    // alice still reads it
    const mine = await http.request(`${G}/api/reservations/${id}`, { headers: as.alice });
    expect(mine.status).toBe(200);
  });
});
