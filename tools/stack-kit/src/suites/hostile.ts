/**
 * Cheap hostile requests through the nginx gateway, on one whole stack (2
 * instances of every service, the sync; native or compose): each one gets a clear 4xx JSON answer,
 * never a 5xx, never nginx's HTML, never a route that is not public; abusive
 * clients are bounded (docs/patterns/load-balancing.md, "Limits, errors and the
 * request id"). Each test is a client of its own, connecting from a loopback
 * address of its own (127.0.0.x) where the target allows, because the gateway
 * limits per client address.
 * Requests carry a token, so what is refused is refused for what it is, not for
 * the missing token; user ids are the tokens' subjects.
 */
import http from 'node:http';
import { AddressInfo } from 'node:net';
import net from 'node:net';
import type { HttpClient, HttpReply } from '../lib/http-client';
import { hostileCases, type OpenApiDocument } from './hostile-matrix';
import { answerLeaks } from './leaks';
import { type GatewayTarget, listenOn } from './target';

const DAY_MS = 86_400_000;

/** What came back on a raw connection: the parsed answer, if any, and when the gateway closed it. */
interface RawReply {
  status?: number;
  headers: Record<string, string>;
  body: string;
  closedAfterMs: number;
}

/**
 * Sends bytes as they are (no client library would send most of these) from
 * `localAddress`, and reads until the gateway closes the connection or `waitMs`.
 */
function rawRequest(
  port: number,
  localAddress: string,
  bytes: string,
  waitMs = 3_000,
): Promise<RawReply> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const socket = net.connect({ host: '127.0.0.1', port, localAddress }, () =>
      socket.write(bytes),
    );
    let text = '';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...lines] = head.split('\r\n');
      const headers = Object.fromEntries(
        lines.map((l) => [
          l.slice(0, l.indexOf(':')).toLowerCase(),
          l.slice(l.indexOf(':') + 1).trim(),
        ]),
      );
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1];
      resolve({
        status: status ? Number(status) : undefined,
        headers,
        body: rest.join('\r\n\r\n'),
        closedAfterMs: Date.now() - t0,
      });
    };
    const timer = setTimeout(finish, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      text += chunk;
      // one answer is all these requests get: stop once its body is complete
      const length = /\r\ncontent-length: (\d+)/i.exec(text)?.[1];
      const bodyAt = text.indexOf('\r\n\r\n');
      if (length && bodyAt >= 0 && text.length - bodyAt - 4 >= Number(length)) finish();
    });
    socket.on('error', finish);
    socket.on('close', finish);
  });
}
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);

/**
 * The suite on a target: `start` brings the stack up (or finds it running),
 * once, in the suite's beforeAll. `perAddress`: the target's clients reach
 * nginx from addresses of their own, and its booking burst per address; the
 * per-address limits are tested only then (a published container port shows
 * nginx one address for every client).
 */
export function describeHostileRequests(
  where: string,
  start: () => Promise<GatewayTarget>,
  o: { perAddress?: { bookingBurst: number } } = {},
): void {
  describe(`hostile requests through the gateway (${where})`, () => {
    let target: GatewayTarget;
    let gw: string;
    let gatewayPort: number;
    /** A client of its own (from a loopback address no other test uses, where the target allows). */
    const newClient = () => target.client();
    const json = { 'content-type': 'application/json' };
    /** `Authorization: Bearer` with a token for `user`. */
    const as = (user: string) => target.tokens.headers(user);
    /** `Authorization` as a raw request's header line. */
    const rawAuthorization = async (user: string) =>
      `Authorization: ${(await as(user)).authorization}\r\n`;
    const booking = (listingId: string, from: number, nights = 1) =>
      JSON.stringify({ listingId, checkIn: day(from), checkOut: day(from + nights), guests: 1 });
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
    beforeAll(async () => {
      target = await start();
      if (o.perAddress && !target.clientsHaveOwnAddress)
        throw new Error(
          `${target.name}: its clients share one address, per-address limits cannot be told apart`,
        );
      gw = target.gateway;
      gatewayPort = Number(new URL(gw).port);
    }, 240_000);

    afterAll(async () => {
      await target?.stop();
    });

    it('answers eight concurrent bookings with one Idempotency-Key as one booking: one 201, the others 409 while it is under way or its replay, charged once', async () => {
      const http = newClient();
      const key = `race-${Date.now()}`;
      const body = booking('busan-07', 200);
      const racer = await as('racer');
      const replies = await Promise.all(
        Array.from({ length: 8 }, () =>
          http.request(`${gw}/api/reservations`, {
            method: 'POST',
            headers: { ...json, ...racer, 'Idempotency-Key': key },
            body,
          }),
        ),
      );
      // never a 5xx: each is the booking (201), its replay (201, Idempotent-Replayed), or a 409
      // idempotency_key_in_use with Retry-After while the first is still charging
      for (const r of replies) {
        const what = `${r.status} ${r.body.slice(0, 200)}`;
        if (r.status === 409) {
          expect(r.json()).toMatchObject({ error: 'idempotency_key_in_use' });
          expect(Number(r.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        } else expect(what).toMatch(/^201 /);
      }
      const made = replies.filter((r) => r.status === 201);
      const first = made.filter((r) => r.headers['idempotent-replayed'] !== 'true');
      expect(first).toHaveLength(1);
      const bodies = made.map((r) => r.json<{ id: string; status: string }>());
      expect(new Set(bodies.map((b) => b.id)).size).toBe(1);
      expect(bodies.every((b) => b.status === 'CONFIRMED')).toBe(true);
      const charges = await target.query<{ n: number }>(
        'payment',
        'SELECT COUNT(*) AS n FROM payments WHERE reservation_id = ?',
        [bodies[0].id],
      );
      expect(Number(charges[0].n)).toBe(1);
    });

    it('refuses a deeply nested JSON body with 400 JSON, before anything recurses into it', async () => {
      const http = newClient();
      const deep = `{"listingId":${'['.repeat(30_000)}${']'.repeat(30_000)},"checkIn":"${day(5)}","checkOut":"${day(6)}","guests":1}`;
      for (const path of ['/api/reservations', '/api/scraps']) {
        const res = await http.request(`${gw}${path}`, {
          method: 'POST',
          headers: { ...json, ...(await as('deep')), 'Idempotency-Key': `deep-${Date.now()}` },
          body: deep,
        });
        expectJsonError(res, 400, 'bad_request');
        expect(res.json().message).toMatch(/nested deeper than 32 levels/);
      }
    });

    it('refuses an X-Consistency-Token out of MariaDB ranges with 400 JSON, on every service', async () => {
      const http = newClient();
      const routes = [
        '/api/reservations',
        '/api/listings?limit=1',
        '/api/payments?reservationId=none',
        '/api/recommendations',
        '/api/scraps',
      ];
      const nobody = await as('nobody');
      for (const token of ['4294967296-1-1', '0-4294967296-1', '0-1-18446744073709551616']) {
        for (const route of routes) {
          const res = await http.request(`${gw}${route}`, {
            headers: { ...nobody, 'X-Consistency-Token': token },
          });
          expectJsonError(res, 400, 'invalid_consistency_token');
        }
      }
      // the largest token MariaDB takes is no error: no replica reaches it in time, the primary answers
      const max = await http.request(`${gw}/api/reservations`, {
        headers: { ...nobody, 'X-Consistency-Token': '4294967295-4294967295-18446744073709551615' },
      });
      expect(max.status).toBe(200);
    });

    describe('user ids (the subjects of the tokens)', () => {
      const bookAs = async (http: HttpClient, user: string, listingId: string, from: number) =>
        http.request(`${gw}/api/reservations`, {
          method: 'POST',
          headers: {
            ...json,
            ...(await as(user)),
            'Idempotency-Key': `user-${Date.now()}-${from}`,
          },
          body: booking(listingId, from),
        });
      const listAs = async (http: HttpClient, user: string, consistency: string) => {
        const res = await http.request(`${gw}/api/reservations`, {
          headers: { ...(await as(user)), 'X-Consistency-Token': consistency },
        });
        expect({ user, status: res.status }).toEqual({ user, status: 200 });
        return res.json<{ items: Array<{ id: string; userId: string }> }>().items;
      };

      it('compare exactly: Alice does not see alice’s reservations (case, accents, width)', async () => {
        const http = newClient();
        const made = await bookAs(http, 'alice', 'jeonju-09', 210);
        expect(made.status).toBe(201);
        const id = made.json<{ id: string }>().id;
        const consistency = String(made.headers['x-consistency-token']);
        expect((await listAs(http, 'alice', consistency)).map((r) => r.id)).toContain(id);
        for (const other of ['Alice', 'ALICE', 'alicé', 'ａｌｉｃｅ']) {
          expect({ other, ids: (await listAs(http, other, consistency)).map((r) => r.id) }).toEqual(
            {
              other,
              ids: [],
            },
          );
          const theirs = await http.request(`${gw}/api/reservations/${id}`, {
            headers: await as(other),
          });
          expect({ other, status: theirs.status }).toEqual({ other, status: 404 });
        }
        // the user is the token's: a userId in a query or a body is refused, never obeyed
        const asked = await http.request(`${gw}/api/reservations?userId=alice`, {
          headers: await as('Alice'),
        });
        expectJsonError(asked, 400, 'validation_failed');
        const posed = await http.request(`${gw}/api/reservations`, {
          method: 'POST',
          headers: { ...json, ...(await as('Alice')), 'Idempotency-Key': `posed-${Date.now()}` },
          body: JSON.stringify({ ...JSON.parse(booking('jeonju-09', 215)), userId: 'alice' }),
        });
        expectJsonError(posed, 400, 'validation_failed');
      });

      it('are normalised to NFC: the same name typed decomposed is the same user', async () => {
        const http = newClient();
        const made = await bookAs(http, 'jose\u0301', 'jeonju-10', 211);
        expect(made.status).toBe(201);
        expect(made.json().userId).toBe('jos\u00e9');
        const consistency = String(made.headers['x-consistency-token']);
        const mine = await listAs(http, 'jos\u00e9', consistency);
        expect(mine.map((r) => r.id)).toContain(made.json().id);
      });

      it('are validated as their column counts: no token for variation selectors, 64 letters outside the BMP fit', async () => {
        const selectors = 'a\ufe0f'.repeat(64); // class-validator counts 64, the column 128
        await expect(target.tokens.token(selectors)).rejects.toThrow(
          /tokens: 400 .*validation_failed/,
        );
        const wide = '\u{1D49C}'.repeat(64);
        const made = await bookAs(newClient(), wide, 'jeonju-12', 213);
        expect(made.status).toBe(201);
        expect(made.json().userId).toBe(wide);
      });

      it('and listing ids compare exactly too: SEOUL-01 is no listing', async () => {
        const res = await bookAs(newClient(), 'carol', 'SEOUL-01', 214);
        expectJsonError(res, 404, 'not_found');
      });
    });

    describe('nginx', () => {
      /** A raw request from a loopback address of its own. */
      const raw = (bytes: string, waitMs?: number) =>
        rawRequest(gatewayPort, target.clientAddress(), bytes, waitMs);
      const expectRawJsonError = (res: RawReply, status: number, error: string) => {
        expect(`${res.status} ${res.body.slice(0, 300)}`).toMatch(new RegExp(`^${status} `));
        expect(res.headers['content-type']).toMatch(/application\/json/);
        expect(JSON.parse(res.body)).toMatchObject({
          error,
          message: expect.any(String),
          requestId: expect.any(String),
        });
      };

      it('answers every error it produces itself as JSON, never its HTML pages', async () => {
        const long = 'a'.repeat(9_000);
        const cases: Array<[string, string, number, string]> = [
          [
            'Transfer-Encoding: chunked, identity',
            'POST /api/reservations HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
            501,
            'not_implemented',
          ],
          [
            'an unknown transfer encoding',
            'POST /api/scraps HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n',
            501,
            'not_implemented',
          ],
          ['TRACE', 'TRACE /api/listings HTTP/1.1\r\nHost: x\r\n\r\n', 405, 'method_not_allowed'],
          [
            'HTTP/2.0 in plain text',
            'GET /api/listings HTTP/2.0\r\nHost: x\r\n\r\n',
            505,
            'http_version_not_supported',
          ],
          ['a request line of garbage', 'GARBAGE\r\n\r\n', 400, 'bad_request'],
          ['no Host header', 'GET /api/listings HTTP/1.1\r\n\r\n', 400, 'bad_request'],
          [
            'two Content-Length headers',
            'POST /api/scraps HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}',
            400,
            'bad_request',
          ],
          [
            'a URI over 8 kB',
            `GET /api/listings/${long} HTTP/1.1\r\nHost: x\r\n\r\n`,
            414,
            'uri_too_long',
          ],
          [
            'a header over 8 kB',
            `GET /api/listings HTTP/1.1\r\nHost: x\r\nX-Filler: ${long}\r\n\r\n`,
            400,
            'headers_too_large',
          ],
          [
            'a body over 64 kB',
            'POST /api/scraps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n',
            413,
            'payload_too_large',
          ],
          ['no public route', 'GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n', 404, 'not_found'],
        ];
        for (const [what, bytes, status, error] of cases) {
          const res = await raw(bytes);
          expect({ what, status: res.status }).toEqual({ what, status });
          expect(res.body).not.toMatch(/<html/i);
          expectRawJsonError(res, status, error);
        }
      });

      it('refuses encoded slashes and dots and dot segments in a path with 400 JSON: no route is reached through them', async () => {
        for (const path of [
          '/api/payments/..%2f..%2fhealth',
          '/api/payments/%2e%2e/%2e%2e/health',
          '/admin/flags/..%2f..%2fapi%2fpayments',
          '/api/listings/..%2F..%2Fmetrics',
          '/api/scraps/%5c..%5cadmin',
          '/api/listings/../../admin/flags',
          '/api/payments/./../health',
        ]) {
          const res = await raw(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);
          expect({ path, status: res.status }).toEqual({ path, status: 400 });
          expectRawJsonError(res, 400, 'bad_request');
          expect(JSON.parse(res.body).message).toMatch(/encoded slashes, dots or backslashes/);
        }
        // any other escape is decoded once and the normalised path is what a service gets
        const decoded = await newClient().request(`${gw}/api/listing%73?limit=1`, {
          headers: await as('decoded'),
        });
        expect(decoded.status).toBe(200);
        expect(decoded.json()).toMatchObject({ items: expect.any(Array) });
      });

      it('cuts a client that sends its headers or body too slowly after 10 s, not 60 (Slowloris)', async () => {
        const [headers, body] = await Promise.all([
          raw('GET /api/listings HTTP/1.1\r\nHost: x\r\nX-Slow: ', 30_000),
          raw(
            'POST /api/scraps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
            30_000,
          ),
        ]);
        for (const res of [headers, body]) {
          expect(res.closedAfterMs).toBeGreaterThanOrEqual(9_500);
          expect(res.closedAfterMs).toBeLessThan(15_000);
        }
      }, 60_000);

      const perAddress = o.perAddress;
      if (perAddress) {
        it('limits bookings per client address: 429 JSON with Retry-After past the burst; reads, and other addresses, unaffected', async () => {
          const flood = newClient();
          const flooder = await as('flood');
          const replies = await Promise.all(
            Array.from({ length: 20 }, (_, i) =>
              flood.request(`${gw}/api/reservations`, {
                method: 'POST',
                headers: { ...json, ...flooder, 'Idempotency-Key': `flood-${Date.now()}-${i}` },
                body: booking(`gangneung-${String((i % 10) + 1).padStart(2, '0')}`, 230 + i),
              }),
            ),
          );
          const limited = replies.filter((r) => r.status === 429);
          const served = replies.filter((r) => r.status !== 429);
          // the burst (10) and the first request, one more if a second passed meanwhile
          expect(served.length).toBeGreaterThanOrEqual(perAddress.bookingBurst + 1);
          expect(served.length).toBeLessThanOrEqual(perAddress.bookingBurst + 3);
          expect(served.map((r) => r.status)).toEqual(served.map(() => 201));
          for (const r of limited) {
            expectJsonError(r, 429, 'too_many_requests');
            expect(r.headers['retry-after']).toBe('1');
            // its own location restates the edge's headers
            expect(r.headers['x-content-type-options']).toBe('nosniff');
            expect(r.headers['x-frame-options']).toBe('DENY');
          }
          // a read from the same address is not a booking
          const read = await flood.request(`${gw}/api/reservations`, { headers: flooder });
          expect(read.status).toBe(200);
          // another address books at once
          const other = await newClient().request(`${gw}/api/reservations`, {
            method: 'POST',
            headers: { ...json, ...(await as('other')), 'Idempotency-Key': `other-${Date.now()}` },
            body: booking('gangneung-11', 260),
          });
          expect(other.status).toBe(201);
          // and the flooding address again, once the rate has let one more through
          await new Promise((r) => setTimeout(r, 1_100));
          const later = await flood.request(`${gw}/api/reservations`, {
            method: 'POST',
            headers: { ...json, ...flooder, 'Idempotency-Key': `flood-later-${Date.now()}` },
            body: booking('gangneung-12', 261),
          });
          expect(later.status).toBe(201);
        });

        it('limits the requests one address has in progress to 64: then 429 JSON too_many_connections; other addresses unaffected', async () => {
          const address = target.clientAddress();
          const authorization = await rawAuthorization('crowd');
          // 64 bodies that never come: each request holds its place until nginx's body timeout
          const held: net.Socket[] = [];
          try {
            for (let i = 0; i < 64; i++) {
              const socket = net.connect({
                host: '127.0.0.1',
                port: gatewayPort,
                localAddress: address,
              });
              socket.on('error', () => undefined);
              socket.write(
                'POST /api/scraps HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
              );
              held.push(socket);
            }
            await new Promise((r) => setTimeout(r, 500));
            const refused = await rawRequest(
              gatewayPort,
              address,
              `GET /api/listings?limit=1 HTTP/1.1\r\nHost: x\r\n${authorization}\r\n`,
            );
            expect(refused.status).toBe(429);
            expect(refused.headers['content-type']).toMatch(/application\/json/);
            expect(refused.headers['retry-after']).toBe('1');
            expect(refused.headers['x-content-type-options']).toBe('nosniff');
            expect(JSON.parse(refused.body)).toMatchObject({
              error: 'too_many_connections',
              message: expect.stringMatching(/more than 64 requests at once/),
              requestId: refused.headers['x-request-id'],
            });
            // another address is served meanwhile
            const other = await newClient().request(`${gw}/api/listings?limit=1`, {
              headers: await as('crowd'),
            });
            expect(other.status).toBe(200);
          } finally {
            for (const socket of held) socket.destroy();
          }
          // once they are gone the address is served again
          await new Promise((r) => setTimeout(r, 300));
          const again = await rawRequest(
            gatewayPort,
            address,
            `GET /api/listings?limit=1 HTTP/1.1\r\nHost: x\r\n${authorization}Connection: close\r\n\r\n`,
          );
          expect(again.status).toBe(200);
        });
      }

      it("answers with the edge's headers and its own request id, and names the instance that answered only where the profile shows it", async () => {
        const http = newClient();
        for (const path of ['/api/listings?limit=1', '/api/payments?reservationId=none', '/nope']) {
          const res = await http.request(`${gw}${path}`, {
            headers: { ...(await as('edge')), 'X-Request-Id': 'client-chosen-id' },
          });
          expect({ path, status: res.status }).toEqual({
            path,
            status: path === '/nope' ? 404 : 200,
          });
          expect({ path, instance: res.headers['x-instance-id'] }).toEqual({
            path,
            instance: target.exposesInstanceId && path !== '/nope' ? expect.any(String) : undefined,
          });
          expect(res.headers['x-request-id']).toMatch(/^[0-9a-f]{32}$/);
          expect(res.headers['x-content-type-options']).toBe('nosniff');
          expect(res.headers['referrer-policy']).toBe('no-referrer');
          expect(res.headers['x-frame-options']).toBe('DENY');
        }
      });

      it('bounds one booking: at most 30 nights, none past 365 days ahead (400 JSON)', async () => {
        const http = newClient();
        for (const [body, message] of [
          [booking('jeju-11', 20, 31), /at most 30 nights/],
          [booking('jeju-11', 366, 1), /365 days ahead/],
        ] as const) {
          const res = await http.request(`${gw}/api/reservations`, {
            method: 'POST',
            headers: {
              ...json,
              ...(await as('greedy')),
              'Idempotency-Key': `greedy-${Date.now()}`,
            },
            body,
          });
          expectJsonError(res, 400, 'validation_failed');
          expect(res.json().message).toMatch(message);
        }
      });
    });

    it('answers every documented operation × hundreds of malformed ids, queries, bodies, fields and headers with a 4xx JSON (2xx for a harmless read), never a 5xx or a leak, and leaves the data as it was', async () => {
      const reader = newClient();
      const mallet = await as('mallet');
      // the data that exists before: mallet's booking (charged), listed with the payment
      const made = await reader.request(`${gw}/api/reservations`, {
        method: 'POST',
        headers: { ...json, ...mallet, 'Idempotency-Key': `mallet-${Date.now()}` },
        body: booking('jeju-12', 240),
      });
      expect(`${made.status} ${made.body.slice(0, 200)}`).toMatch(/^201 /);
      const mine = made.json<{ id: string; paymentId: string }>();
      const consistency = String(made.headers['x-consistency-token']);
      const snapshot = async () => {
        const read = async (path: string) => {
          const r = await reader.request(`${gw}${path}`, {
            headers: { ...mallet, 'X-Consistency-Token': consistency },
          });
          expect({ path, status: r.status }).toEqual({ path, status: 200 });
          return r.json<Record<string, unknown>>();
        };
        return {
          reservations: await read('/api/reservations'),
          payments: await read('/api/payments'),
          scraps: await read('/api/scraps'),
          reservation: await read(`/api/reservations/${mine.id}`),
          payment: await read(`/api/payments/${mine.paymentId}`),
        };
      };
      const before = await snapshot();

      const doc = await reader.request(`${gw}/api/docs/openapi.json`);
      expect(doc.status).toBe(200);
      const ids: Record<string, string> = {
        reservations: mine.id,
        payments: mine.paymentId,
        scraps: '00000000-0000-4000-8000-000000000000',
      };
      const cases = hostileCases(doc.json<OpenApiDocument>(), (operation, param) => {
        const kind = /^\w+ \/api\/(\w+)/.exec(operation)?.[1] ?? '';
        const id = param === 'id' ? ids[kind] : undefined;
        if (!id) throw new Error(`${operation}: no id of mallet's for {${param}}`);
        return id;
      });
      expect(cases.length).toBeGreaterThan(300);

      let client = newClient();
      let bookings = 0;
      const rows = [];
      for (const c of cases) {
        // each client address gets a few booking attempts only: the per-address booking
        // limit would otherwise answer 429 before the service sees the request
        if (c.operation === 'POST /api/reservations' && ++bookings % 5 === 0) client = newClient();
        const headers: Record<string, string> = { ...mallet, ...c.headers };
        if (c.operation === 'POST /api/auth/token') delete headers.authorization;
        const res = await client.request(`${gw}${c.target}`, {
          method: c.method,
          headers,
          body: c.body,
        });
        const harmlessRead = c.method === 'GET' && !c.what.startsWith('{');
        const ok =
          res.status !== 429 &&
          ((res.status >= 400 && res.status < 500) ||
            (harmlessRead && res.status >= 200 && res.status < 300));
        const isJson = /^application\/json/.test(String(res.headers['content-type']));
        const leaks = answerLeaks(target, res);
        if (!ok || !isJson || leaks.length)
          rows.push({
            case: `${c.operation}: ${c.what}`,
            status: res.status,
            contentType: res.headers['content-type'],
            leaks,
            body: res.body.slice(0, 160),
          });
      }
      // one row per wrong answer: the case, what came back
      expect(rows).toEqual([]);
      expect(await snapshot()).toEqual(before);
    }, 300_000);

    it('answers a page that redirects to a malformed Location with 422 JSON, not a 500 (scrap)', async () => {
      const page = http.createServer((req, res) => {
        res.writeHead(302, { location: 'http://[oops/' }).end();
      });
      await listenOn(page, target.pageHost);
      try {
        const url = `http://${target.pageHost}:${(page.address() as AddressInfo).port}/moved`;
        const res = await newClient().request(`${gw}/api/scraps`, {
          method: 'POST',
          headers: { ...json, ...(await as('scraper')) },
          body: JSON.stringify({ url }),
        });
        expectJsonError(res, 422, 'unfetchable_url');
        expect(res.json().message).toMatch(/redirected to an invalid URL/);
      } finally {
        await new Promise<void>((r) => page.close(() => r()));
      }
    });
  });
}
