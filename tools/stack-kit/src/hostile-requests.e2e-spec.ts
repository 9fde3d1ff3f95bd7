/**
 * Cheap hostile requests through the nginx gateway, on one whole stack (2
 * instances of every service, the sync): each one gets a clear 4xx JSON answer,
 * never a 5xx, never nginx's HTML, never a route that is not public; abusive
 * clients are bounded (docs/patterns/load-balancing.md, "Limits, errors and the
 * request id"). Each test is a client of its own, connecting from a loopback
 * address of its own (127.0.0.x), because the gateway limits per client address.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import mysql from 'mysql2/promise';
import { HttpClient, HttpReply, Stack, startServices, startStack } from './index';

jest.setTimeout(120_000);

const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
describe('hostile requests through the gateway (whole stack)', () => {
  let stack: Stack;
  let gw: string;
  const clients: HttpClient[] = [];
  let nextAddress = 10;
  /** A client connecting from a loopback address no other test uses. */
  const newClient = () => {
    const c = new HttpClient({ localAddress: `127.0.0.${nextAddress++}`, maxSockets: 32 });
    clients.push(c);
    return c;
  };
  const json = { 'content-type': 'application/json' };
  const booking = (listingId: string, from: number, userId: string, nights = 1) =>
    JSON.stringify({
      listingId,
      userId,
      checkIn: day(from),
      checkOut: day(from + nights),
      guests: 1,
    });
  /** A clear 4xx JSON error: the status, the shared error shape, no HTML. */
  const expectJsonError = (res: HttpReply, status: number, error?: string) => {
    // the body in the message when the status is wrong
    expect(`${res.status} ${res.body.slice(0, 300)}`).toMatch(new RegExp(`^${status} `));
    expect(res.headers['content-type']).toMatch(/application\/json/);
    expect(res.body).not.toMatch(/<html/i);
    expect(res.json()).toMatchObject({
      ...(error ? { error } : {}),
      message: expect.any(String),
      requestId: expect.any(String),
    });
  };
  const sql = async <T>(database: string, query: string, params: unknown[]): Promise<T[]> => {
    const conn = await mysql.createConnection({
      host: stack.mariadb.primary.host,
      port: stack.mariadb.primary.port,
      ...stack.credentials.app,
      database,
    });
    try {
      return (await conn.query(query, params))[0] as T[];
    } finally {
      await conn.end();
    }
  };

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: true, nginx: true });
    // scrap may fetch this host's own pages: the misbehaving one below
    await startServices(stack, {
      instances: 2,
      env: { scrap: { SCRAP_ALLOW_CIDRS: '127.0.0.1/32', SCRAP_TIMEOUT_MS: '1500' } },
    });
    gw = stack.nginx.url;
  }, 180_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await stack?.stop();
  });

  it('answers eight concurrent bookings with one Idempotency-Key as one booking: the same 201, charged once', async () => {
    const http = newClient();
    const key = `race-${Date.now()}`;
    const body = booking('busan-07', 200, 'racer');
    const replies = await Promise.all(
      Array.from({ length: 8 }, () =>
        http.request(`${gw}/api/reservations`, {
          method: 'POST',
          headers: { ...json, 'Idempotency-Key': key },
          body,
        }),
      ),
    );
    expect(replies.map((r) => `${r.status} ${r.body.slice(0, 200)}`)).toEqual(
      replies.map(() => expect.stringMatching(/^201 /)),
    );
    const bodies = replies.map((r) => r.json<{ id: string; status: string }>());
    expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
    expect(bodies.every((b) => b.status === 'CONFIRMED')).toBe(true);
    // one made it, the seven others replayed it
    expect(replies.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(7);
    const charges = await sql<{ n: number }>(
      'payment',
      'SELECT COUNT(*) AS n FROM payments WHERE reservation_id = ?',
      [bodies[0].id],
    );
    expect(Number(charges[0].n)).toBe(1);
  });

  it('refuses a deeply nested JSON body with 400 JSON, before anything recurses into it', async () => {
    const http = newClient();
    const deep = `{"listingId":${'['.repeat(30_000)}${']'.repeat(30_000)},"userId":"deep","checkIn":"${day(5)}","checkOut":"${day(6)}","guests":1}`;
    for (const path of ['/api/reservations', '/api/scraps']) {
      const res = await http.request(`${gw}${path}`, {
        method: 'POST',
        headers: { ...json, 'Idempotency-Key': `deep-${Date.now()}` },
        body: deep,
      });
      expectJsonError(res, 400, 'bad_request');
      expect(res.json().message).toMatch(/nested deeper than 32 levels/);
    }
  });

  it('refuses an X-Consistency-Token out of MariaDB ranges with 400 JSON, on every service', async () => {
    const http = newClient();
    const routes = [
      '/api/reservations?userId=nobody',
      '/api/listings?limit=1',
      '/api/payments?reservationId=none',
      '/api/recommendations?userId=nobody',
      '/api/scraps?userId=nobody',
    ];
    for (const token of ['4294967296-1-1', '0-4294967296-1', '0-1-18446744073709551616']) {
      for (const route of routes) {
        const res = await http.request(`${gw}${route}`, {
          headers: { 'X-Consistency-Token': token },
        });
        expectJsonError(res, 400, 'invalid_consistency_token');
      }
    }
    // the largest token MariaDB takes is no error: no replica reaches it in time, the primary answers
    const max = await http.request(`${gw}/api/reservations?userId=nobody`, {
      headers: { 'X-Consistency-Token': '4294967295-4294967295-18446744073709551615' },
    });
    expect(max.status).toBe(200);
  });

  describe('user ids', () => {
    const bookAs = async (http: HttpClient, userId: string, listingId: string, from: number) => {
      const res = await http.request(`${gw}/api/reservations`, {
        method: 'POST',
        headers: { ...json, 'Idempotency-Key': `user-${Date.now()}-${from}` },
        body: booking(listingId, from, userId),
      });
      return res;
    };
    const listAs = async (http: HttpClient, userId: string, token: string) => {
      const res = await http.request(
        `${gw}/api/reservations?userId=${encodeURIComponent(userId)}`,
        { headers: { 'X-Consistency-Token': token } },
      );
      expect({ userId, status: res.status }).toEqual({ userId, status: 200 });
      return res.json<{ items: Array<{ id: string; userId: string }> }>().items;
    };

    it('compare exactly: Alice does not see alice’s reservations (case, accents, width)', async () => {
      const http = newClient();
      const made = await bookAs(http, 'alice', 'jeonju-09', 210);
      expect(made.status).toBe(201);
      const id = made.json<{ id: string }>().id;
      const token = String(made.headers['x-consistency-token']);
      expect((await listAs(http, 'alice', token)).map((r) => r.id)).toContain(id);
      for (const other of ['Alice', 'ALICE', 'alicé', 'ａｌｉｃｅ']) {
        expect({ other, ids: (await listAs(http, other, token)).map((r) => r.id) }).toEqual({
          other,
          ids: [],
        });
      }
      // a trailing space is not part of any id: refused, not matched
      const spaced = await http.request(`${gw}/api/reservations?userId=alice%20`);
      expectJsonError(spaced, 400, 'validation_failed');
    });

    it('are normalised to NFC: the same name typed decomposed is the same user', async () => {
      const http = newClient();
      const made = await bookAs(http, 'jose\u0301', 'jeonju-10', 211);
      expect(made.status).toBe(201);
      expect(made.json().userId).toBe('jos\u00e9');
      const token = String(made.headers['x-consistency-token']);
      const mine = await listAs(http, 'jos\u00e9', token);
      expect(mine.map((r) => r.id)).toContain(made.json().id);
    });

    it('are validated as their column counts: variation selectors are refused with 400 JSON, 64 letters outside the BMP fit', async () => {
      const http = newClient();
      const selectors = 'a\ufe0f'.repeat(64); // class-validator counts 64, the column 128
      expectJsonError(await bookAs(http, selectors, 'jeonju-11', 212), 400, 'validation_failed');
      for (const path of ['/api/reservations', '/api/scraps', '/api/recommendations']) {
        const res = await http.request(`${gw}${path}?userId=${encodeURIComponent(selectors)}`);
        expectJsonError(res, 400, 'validation_failed');
      }
      const wide = '\u{1D49C}'.repeat(64);
      const made = await bookAs(http, wide, 'jeonju-12', 213);
      expect(made.status).toBe(201);
      expect(made.json().userId).toBe(wide);
    });

    it('and listing ids compare exactly too: SEOUL-01 is no listing', async () => {
      const res = await bookAs(newClient(), 'carol', 'SEOUL-01', 214);
      expectJsonError(res, 404, 'not_found');
    });
  });

  it('answers a page that redirects to a malformed Location with 422 JSON, not a 500 (scrap)', async () => {
    const page = http.createServer((req, res) => {
      res.writeHead(302, { location: 'http://[oops/' }).end();
    });
    await new Promise<void>((r) => page.listen(0, '127.0.0.1', r));
    try {
      const url = `http://127.0.0.1:${(page.address() as AddressInfo).port}/moved`;
      const res = await newClient().request(`${gw}/api/scraps`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ userId: 'scraper', url }),
      });
      expectJsonError(res, 422, 'unfetchable_url');
      expect(res.json().message).toMatch(/redirected to an invalid URL/);
    } finally {
      await new Promise<void>((r) => page.close(() => r()));
    }
  });
});
