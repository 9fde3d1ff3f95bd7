/**
 * The README's requests, through the compose stack's gateway on loopback:
 * listings (personalized, then the fallback order while recommendation is
 * switched off), a booking read back with its consistency token, an idempotent
 * retry, a cancel with its refund, a refused SSRF target, the API docs and the
 * live page.
 */
import { HttpClient } from '@stayline/stack-kit';
import { ComposeStack } from './lib/compose-stack';
import { adminFlag, booking, waitForJson } from './lib/gateway';

jest.setTimeout(60_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;
const http = new HttpClient();
const json = { 'content-type': 'application/json' };
afterAll(() => http.close());

type Listings = { items: Array<{ id: string }>; ranking: string };

describe('the README requests, in containers', () => {
  it('lists stays ranked for a user by recommendation', async () => {
    const body = await waitForJson<Listings>(
      http,
      `${G}/api/listings?city=Jeju&userId=alice&limit=3`,
      'a personalized listing',
      (b) => b.ranking === 'personalized',
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
          `${G}/api/listings?city=Jeju&userId=alice&limit=3`,
          'the fallback order',
          (x) => x.ranking === 'fallback',
        );
        expect(b.items.length).toBeGreaterThan(0);
      }
    } finally {
      await adminFlag(stack, 'reservation-1', 'DELETE', 'recommendation.enabled');
    }
    await waitForJson<Listings>(
      http,
      `${G}/api/listings?city=Jeju&userId=alice&limit=3`,
      'personalized again',
      (b) => b.ranking === 'personalized',
    );
  });

  it('books, reads its own write with the consistency token, replays a retry, cancels with a refund', async () => {
    const key = `readme-${Date.now()}`;
    const night = 200 + Math.floor(Math.random() * 150);
    const body = booking('jeju-03', 'alice', night);
    const headers = { ...json, 'idempotency-key': key };
    const first = await http.request(`${G}/api/reservations`, { method: 'POST', headers, body });
    expect(first.status).toBe(201);
    const made = first.json<{ id: string; status: string; paymentId: string }>();
    expect(made.status).toBe('CONFIRMED');
    const token = first.headers['x-consistency-token'];
    expect(token).toMatch(/^\d+-\d+-\d+/);

    // read your write from whichever instance and replica: the token makes it wait for the GTID
    for (let i = 0; i < 4; i++) {
      const read = await http.request(`${G}/api/reservations/${made.id}`, {
        headers: { 'x-consistency-token': String(token) },
      });
      expect([read.status, read.json<{ id: string }>().id]).toEqual([200, made.id]);
    }

    // the same key again: the same reservation, charged once
    const retry = await http.request(`${G}/api/reservations`, { method: 'POST', headers, body });
    expect(retry.status).toBeLessThan(300);
    expect(retry.json<{ id: string }>().id).toBe(made.id);
    const charges = await waitForJson<{ items: Array<{ status: string }> }>(
      http,
      `${G}/api/payments?reservationId=${made.id}`,
      'the charge',
      (b) => b.items.length > 0,
    );
    expect(charges.items.map((p) => p.status)).toEqual(['CHARGED']);

    const cancel = await http.request(`${G}/api/reservations/${made.id}/cancel`, {
      method: 'POST',
    });
    expect(cancel.status).toBeLessThan(300);
    expect(cancel.json<{ status: string }>().status).toBe('CANCELLED');
    const refunded = await waitForJson<{ items: Array<{ status: string }> }>(
      http,
      `${G}/api/payments?reservationId=${made.id}`,
      'the refund',
      (b) => b.items.every((p) => p.status === 'REFUNDED'),
    );
    expect(refunded.items).toHaveLength(1);
  });

  it('refuses to fetch a cloud metadata address (SSRF) with a 400 JSON error', async () => {
    const r = await http.request(`${G}/api/scraps`, {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ userId: 'alice', url: 'http://169.254.169.254/latest/meta-data/' }),
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
