/**
 * Authorization through the nginx gateway, as a matrix (docs/security.md, "Users:
 * owner-only access"; docs/patterns/identity.md). One stack for the whole file:
 * MariaDB, Redis, the gateway and one instance of every service natively; the
 * compose stack as its driver brought it up (infra/compose).
 *
 * - The operations come from the OpenAPI document reservation serves at
 *   `/api/docs/openapi.json`, read at run time: every operation it marks as
 *   needing a token is sent by every refused caller (none, a malformed header,
 *   `Basic`, a malformed, expired, forged, wrong-audience or wrong-issuer token)
 *   and must answer 401 JSON with its `WWW-Authenticate: Bearer` challenge. A
 *   route added to a controller and the document is in the matrix at once; one
 *   that has no owner's case or no other user's case below fails the suite.
 * - The owner (alice) gets her 2xx on every operation; another user (bob) gets
 *   404 for every object of hers, with the body of an id nobody has, or his own
 *   things only, and her objects are as they were afterwards.
 * - No admin route is reached through the gateway, under any prefix, encoded or
 *   not, even with an operator's token: 404 or 400 JSON, never 2xx or 5xx.
 * - Every answer is JSON (but the Swagger page) and names no file, stack frame
 *   or internal address.
 *
 * The expired, wrong-audience and wrong-issuer tokens are signed with the
 * stack's own signing key, read where auth keeps it as only a test next to
 * the stack can (the native state file, compose's configured secret): the
 * operator route issues tokens for the configured issuer, audience and
 * lifetime only, and a token signed with any other key would be refused for
 * its signature before its claims are read. So each is refused for
 * its own reason, which the 401 names (`details.reason`).
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { AddressInfo } from 'node:net';
import { GATEWAY_ROUTES } from '@stayline/gateway';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { login } from '../lib/tokens';
import { answerLeaks } from './leaks';
import { type GatewayTarget, listenOn } from './target';

const DAY_MS = 86_400_000;
const day = (offset: number) => new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
const booking = (listingId: string, from: number) => ({
  listingId,
  checkIn: day(from),
  checkOut: day(from + 1),
  guests: 1,
});

/** The operations that need no token (reservation's openapi.ts, PUBLIC_OPERATIONS). */
const PUBLIC = ['POST /api/auth/token', 'GET /api/auth/.well-known/jwks.json'];

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A documented operation: `METHOD /path/{param}` and whether it needs a token. */
interface Operation {
  key: string;
  method: string;
  path: string;
  secured: boolean;
  hasBody: boolean;
}

/** What a refused caller sends, and the 401 it must get. */
interface RefusedCaller {
  caller: string;
  /** The Authorization header, made once the stack's tokens are known (none: no header). */
  header: () => string | undefined;
  reason: string;
  challenge: RegExp;
}

/** An HTML page with an OpenGraph card, for scrap to save. */
const PAGE =
  '<!doctype html><html><head><title>Hanok stay</title>' +
  '<meta property="og:title" content="Hanok stay in Jeonju">' +
  '<meta property="og:description" content="A saved page"></head><body>stay</body></html>';

/**
 * The suite on a target: `start` brings the stack up (or finds it running) and
 * is called once, in the suite's beforeAll.
 */
export function describeAuthorization(where: string, start: () => Promise<GatewayTarget>): void {
  describe(`authorization through the gateway (${where}): every public operation × every caller`, () => {
    let target: GatewayTarget;
    let gw: URL;
    let page: http.Server;
    let pageUrl: string;
    let alice: string;
    let bob: string;
    let operator: string;
    let operations: Operation[] = [];
    /** Alice's objects that others try to reach: they must be unchanged at the end. */
    const hers = { reservation: '', payment: '', scrap: '' };
    /** Hers too, for her own cancel and delete. */
    const spare = { reservation: '', scrap: '' };
    const forged: Record<string, string> = {};
    /** Every answer of the file, checked at the end: JSON and nothing internal. */
    const answers: Array<{ request: string; auth?: string; reply: Reply }> = [];

    /**
     * One request to the gateway, the path sent as written (no client-side
     * normalisation of `..` or escapes), on a connection of its own.
     */
    const send = (
      target: string,
      o: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
    ): Promise<Reply> =>
      new Promise((resolve, reject) => {
        const body = o.body === undefined ? undefined : JSON.stringify(o.body);
        const req = http.request(
          {
            host: gw.hostname,
            port: gw.port,
            path: target,
            method: o.method ?? 'GET',
            agent: false,
            headers: {
              ...(body === undefined ? {} : { 'content-type': 'application/json' }),
              ...o.headers,
            },
            timeout: 15_000,
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => {
              const reply = { status: res.statusCode ?? 0, headers: res.headers, body: text };
              answers.push({
                request: `${o.method ?? 'GET'} ${target}`,
                auth: o.headers?.authorization,
                reply,
              });
              resolve(reply);
            });
            res.on('error', reject);
          },
        );
        req.on('timeout', () =>
          req.destroy(new Error(`${o.method ?? 'GET'} ${target}: no answer in 15 s`)),
        );
        req.on('error', reject);
        req.end(body);
      });
    const as = (token: string) => ({ authorization: `Bearer ${token}` });
    const json = <T = Record<string, unknown>>(r: Reply): T => {
      try {
        return JSON.parse(r.body) as T;
      } catch {
        return { notJson: r.body.slice(0, 200) } as T;
      }
    };

    /** What an answer must never hold (the page scrap saved is alice's own URL, which her scraps rightly name). */
    const leaks = (r: Reply): string[] => answerLeaks(target, r, [new URL(pageUrl).host]);
    /** The shape of a JSON answer, for the matrices' rows: what a failing row shows. */
    const isJson = (r: Reply) =>
      /^application\/json/.test(String(r.headers['content-type'])) && !('notJson' in json(r));

    /** An error body with its request id dropped and `id` written `<id>`: equal for equal answers. */
    const normalised = (r: Reply, id: string) => {
      const { requestId: _, ...rest } = json(r);
      return JSON.parse(JSON.stringify(rest).split(id).join('<id>')) as Record<string, unknown>;
    };

    /** A documented path with its parameters filled: alice's object of that kind. */
    const filled = (op: Operation): string =>
      op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
        const kind = /^\/api\/(\w+)/.exec(op.path)?.[1];
        const id =
          name === 'id' && kind === 'reservations'
            ? hers.reservation
            : name === 'id' && kind === 'payments'
              ? hers.payment
              : name === 'id' && kind === 'scraps'
                ? hers.scrap
                : undefined;
        if (!id)
          throw new Error(`${op.key}: no object of alice's for {${name}}: add one to filled()`);
        return id;
      });

    /** A body that would do something if the guard let it through. */
    const BODIES: Record<string, () => unknown> = {
      'POST /api/reservations': () => booking('jeonju-05', 120),
      'POST /api/scraps': () => ({ url: pageUrl }),
      'POST /api/auth/token': () => ({ username: 'alice', password: 'wrong' }),
    };

    beforeAll(async () => {
      target = await start();
      page = http.createServer((_req, res) =>
        res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(PAGE),
      );
      await listenOn(page, target.pageHost);
      pageUrl = `http://${target.pageHost}:${(page.address() as AddressInfo).port}/hanok`;
      gw = new URL(target.gateway);

      alice = (await login(target.gateway, 'alice')).access_token;
      bob = (await login(target.gateway, 'bob')).access_token;
      operator = await target.operatorToken();

      // the document, as any client reads it: no token
      const doc = await send('/api/docs/openapi.json');
      if (doc.status !== 200) throw new Error(`/api/docs/openapi.json: ${doc.status} ${doc.body}`);
      const paths = json<{ paths: Record<string, Record<string, Record<string, unknown>>> }>(
        doc,
      ).paths;
      operations = Object.entries(paths).flatMap(([p, item]) =>
        Object.entries(item).map(([method, op]) => ({
          key: `${method.toUpperCase()} ${p}`,
          method: method.toUpperCase(),
          path: p,
          secured: Array.isArray(op.security) && op.security.length > 0,
          hasBody: op.requestBody !== undefined,
        })),
      );

      // alice's objects: two bookings (each charged) and two saved pages
      const book = async (listingId: string, from: number) => {
        const res = await send('/api/reservations', {
          method: 'POST',
          headers: { ...as(alice), 'Idempotency-Key': `alice-${listingId}-${from}` },
          body: booking(listingId, from),
        });
        if (res.status !== 201) throw new Error(`alice's booking: ${res.status} ${res.body}`);
        return json<{ id: string; paymentId: string }>(res);
      };
      const save = async () => {
        const res = await send('/api/scraps', {
          method: 'POST',
          headers: as(alice),
          body: { url: pageUrl },
        });
        if (res.status !== 201) throw new Error(`alice's scrap: ${res.status} ${res.body}`);
        return json<{ id: string }>(res).id;
      };
      const first = await book('seoul-03', 100);
      hers.reservation = first.id;
      hers.payment = first.paymentId;
      spare.reservation = (await book('seoul-03', 102)).id;
      hers.scrap = await save();
      spare.scrap = await save();

      // what the model learned of alice (her Seoul stays), written where recommendation keeps
      // it: her bookings reach it through the reservation events, on no schedule a test can wait on
      await target.query(
        'recommendation',
        "INSERT INTO user_city_affinity (user_id, city, bookings) VALUES ('alice', 'Seoul', 2) " +
          'ON DUPLICATE KEY UPDATE bookings = bookings',
      );

      // the tokens a client could present: the real key's, with one claim wrong, and forged ones
      const claims = decodeJwt(alice);
      const { kid } = decodeProtectedHeader(alice);
      const stackKey = await target.signingKey(kid as string);
      if (!stackKey) throw new Error(`alice's token names ${kid}, a key auth does not hold`);
      const ownKey = (await generateKeyPair('EdDSA', { crv: 'Ed25519' })).privateKey;
      const now = Math.floor(Date.now() / 1000);
      const sign = (key: Parameters<SignJWT['sign']>[0], keyId: string, over: JWTPayload = {}) =>
        new SignJWT({
          scope: 'user',
          sub: 'alice',
          iss: claims.iss,
          aud: claims.aud,
          iat: now,
          nbf: now,
          exp: now + 600,
          jti: randomUUID(),
          ...over,
        })
          .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: keyId })
          .sign(key);
      forged.expired = await sign(stackKey, kid as string, {
        iat: now - 3_600,
        nbf: now - 3_600,
        exp: now - 600,
      });
      forged.wrongAudience = await sign(stackKey, kid as string, { aud: 'someone-else' });
      forged.wrongIssuer = await sign(stackKey, kid as string, { iss: 'https://issuer.example' });
      forged.badSignature = await sign(ownKey, kid as string);
      forged.unknownKey = await sign(ownKey, 'a-key-nobody-published');
    }, 240_000);

    afterAll(async () => {
      await target?.stop();
      await new Promise<void>((r) => (page ? page.close(() => r()) : r()));
    });

    const NO_TOKEN = /^Bearer realm="stayline"$/;
    const NOT_BEARER = /^Bearer realm="stayline", error="invalid_request"$/;
    const INVALID = /^Bearer realm="stayline", error="invalid_token", error_description="[^"]+"$/;
    const REFUSED: RefusedCaller[] = [
      { caller: 'no token', header: () => undefined, reason: 'missing_token', challenge: NO_TOKEN },
      {
        caller: 'a malformed header (Bearer, two words)',
        header: () => 'Bearer two words',
        reason: 'wrong_scheme',
        challenge: NOT_BEARER,
      },
      {
        caller: 'the Basic scheme',
        header: () => `Basic ${Buffer.from('alice:dev-only-alice-password').toString('base64')}`,
        reason: 'wrong_scheme',
        challenge: NOT_BEARER,
      },
      {
        caller: 'a token that is no JWT',
        header: () => 'Bearer not-a.jwt',
        reason: 'malformed_token',
        challenge: INVALID,
      },
      {
        caller: 'an expired token',
        header: () => `Bearer ${forged.expired}`,
        reason: 'token_expired',
        challenge: INVALID,
      },
      {
        caller: 'a bad signature (another key, the same kid)',
        header: () => `Bearer ${forged.badSignature}`,
        reason: 'bad_signature',
        challenge: INVALID,
      },
      {
        caller: 'a key nobody published',
        header: () => `Bearer ${forged.unknownKey}`,
        reason: 'unknown_key',
        challenge: INVALID,
      },
      {
        caller: 'the wrong audience',
        header: () => `Bearer ${forged.wrongAudience}`,
        reason: 'wrong_audience',
        challenge: INVALID,
      },
      {
        caller: 'the wrong issuer',
        header: () => `Bearer ${forged.wrongIssuer}`,
        reason: 'wrong_issuer',
        challenge: INVALID,
      },
    ];

    /**
     * The owner's case of every guarded operation: alice gets her 2xx, and what
     * she gets is hers. Keyed as the document names the operation.
     */
    const OWNER: Record<string, () => Promise<void>> = {
      'GET /api/listings': async () => {
        const res = await send('/api/listings?limit=3', { headers: as(alice) });
        expect(res.status).toBe(200);
        expect(json(res).items).toHaveLength(3);
      },
      'POST /api/reservations': async () => {
        const res = await send('/api/reservations', {
          method: 'POST',
          headers: { ...as(alice), 'Idempotency-Key': `alice-owner-${Date.now()}` },
          body: booking('seoul-04', 104),
        });
        expect(res.status).toBe(201);
        expect(json(res)).toMatchObject({ userId: 'alice', status: 'CONFIRMED' });
      },
      'GET /api/reservations': async () => {
        const res = await send('/api/reservations', { headers: as(alice) });
        expect(res.status).toBe(200);
        const ids = json<{ items: Array<{ id: string }> }>(res).items.map((r) => r.id);
        expect(ids).toEqual(expect.arrayContaining([hers.reservation, spare.reservation]));
      },
      'GET /api/reservations/{id}': async () => {
        const res = await send(`/api/reservations/${hers.reservation}`, { headers: as(alice) });
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ id: hers.reservation, userId: 'alice' });
      },
      'POST /api/reservations/{id}/cancel': async () => {
        const res = await send(`/api/reservations/${spare.reservation}/cancel`, {
          method: 'POST',
          headers: as(alice),
        });
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ id: spare.reservation, status: 'CANCELLED' });
      },
      'GET /api/payments': async () => {
        const all = await send('/api/payments', { headers: as(alice) });
        expect(all.status).toBe(200);
        const ids = json<{ items: Array<{ id: string }> }>(all).items.map((p) => p.id);
        expect(ids).toContain(hers.payment);
        const one = await send(`/api/payments?reservationId=${hers.reservation}`, {
          headers: as(alice),
        });
        expect(one.status).toBe(200);
        expect(json(one)).toMatchObject({ items: [{ id: hers.payment, userId: 'alice' }] });
      },
      'GET /api/payments/{id}': async () => {
        const res = await send(`/api/payments/${hers.payment}`, { headers: as(alice) });
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ id: hers.payment, userId: 'alice', status: 'CHARGED' });
      },
      'GET /api/recommendations': async () => {
        const res = await send('/api/recommendations', { headers: as(alice) });
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ userId: 'alice', profile: expect.any(Object) });
      },
      'POST /api/scraps': async () => {
        const res = await send('/api/scraps', {
          method: 'POST',
          headers: as(alice),
          body: { url: pageUrl },
        });
        expect(res.status).toBe(201);
        expect(json(res)).toMatchObject({
          userId: 'alice',
          openGraph: { title: 'Hanok stay in Jeonju' },
        });
      },
      'GET /api/scraps': async () => {
        const res = await send('/api/scraps', { headers: as(alice) });
        expect(res.status).toBe(200);
        const ids = json<{ items: Array<{ id: string }> }>(res).items.map((s) => s.id);
        expect(ids).toEqual(expect.arrayContaining([hers.scrap]));
      },
      'DELETE /api/scraps/{id}': async () => {
        const res = await send(`/api/scraps/${spare.scrap}`, {
          method: 'DELETE',
          headers: as(alice),
        });
        expect(res.status).toBe(204);
      },
      'GET /api/auth/me': async () => {
        const res = await send('/api/auth/me', { headers: as(alice) });
        expect(res.status).toBe(200);
        expect(json(res)).toMatchObject({ sub: 'alice', scope: 'user' });
      },
    };

    /** Bob asks for `target` and for the same kind of object nobody has: the same 404, the same body. */
    const expectSameAsMissing = async (
      method: string,
      target: (id: string) => string,
      id: string,
    ) => {
      const missing = randomUUID();
      const theirs = await send(target(id), { method, headers: as(bob) });
      const none = await send(target(missing), { method, headers: as(bob) });
      expect({ status: theirs.status, body: normalised(theirs, id) }).toEqual({
        status: 404,
        body: normalised(none, missing),
      });
      expect(none.status).toBe(404);
    };
    const idsOf = (r: Reply) => json<{ items: Array<{ id: string }> }>(r).items.map((i) => i.id);

    /**
     * Another user's case of every guarded operation, with what it shows: bob
     * never reaches alice's objects (404 as for a missing id, never 403) and
     * never acts as her.
     */
    const OTHER: Record<string, [string, () => Promise<void>]> = {
      'GET /api/listings': [
        'his own listing page',
        async () => {
          const res = await send('/api/listings?limit=3', { headers: as(bob) });
          expect(res.status).toBe(200);
        },
      ],
      'POST /api/reservations': [
        "no booking in alice's name, none replayed from her Idempotency-Key; his own is his",
        async () => {
          const posed = await send('/api/reservations', {
            method: 'POST',
            headers: { ...as(bob), 'Idempotency-Key': `bob-posed-${Date.now()}` },
            body: { ...booking('busan-02', 106), userId: 'alice' },
          });
          expect(posed.status).toBe(400);
          // her key and her body: a booking of his own, refused as her nights are taken
          const replay = await send('/api/reservations', {
            method: 'POST',
            headers: { ...as(bob), 'Idempotency-Key': 'alice-seoul-03-100' },
            body: booking('seoul-03', 100),
          });
          expect({
            status: replay.status,
            replayed: replay.headers['idempotent-replayed'],
            error: json(replay).error,
          }).toEqual({ status: 409, replayed: undefined, error: 'dates_unavailable' });
          const own = await send('/api/reservations', {
            method: 'POST',
            headers: { ...as(bob), 'Idempotency-Key': `bob-own-${Date.now()}` },
            body: booking('busan-02', 106),
          });
          expect(own.status).toBe(201);
          expect(json(own)).toMatchObject({ userId: 'bob' });
        },
      ],
      'GET /api/reservations': [
        'his list without hers; ?userId=alice is a 400',
        async () => {
          const res = await send('/api/reservations', { headers: as(bob) });
          expect(res.status).toBe(200);
          expect(idsOf(res)).not.toContain(hers.reservation);
          const asked = await send('/api/reservations?userId=alice', { headers: as(bob) });
          expect(asked.status).toBe(400);
        },
      ],
      'GET /api/reservations/{id}': [
        'her reservation is a 404 with the body of a missing id',
        () => expectSameAsMissing('GET', (id) => `/api/reservations/${id}`, hers.reservation),
      ],
      'POST /api/reservations/{id}/cancel': [
        'cancelling hers is a 404 with the body of a missing id',
        () =>
          expectSameAsMissing('POST', (id) => `/api/reservations/${id}/cancel`, hers.reservation),
      ],
      'GET /api/payments': [
        'his list without hers; by her reservation, what a reservation nobody made answers',
        async () => {
          const all = await send('/api/payments', { headers: as(bob) });
          expect(all.status).toBe(200);
          expect(idsOf(all)).not.toContain(hers.payment);
          const theirs = await send(`/api/payments?reservationId=${hers.reservation}`, {
            headers: as(bob),
          });
          const missing = randomUUID();
          const none = await send(`/api/payments?reservationId=${missing}`, { headers: as(bob) });
          expect({ status: theirs.status, body: normalised(theirs, hers.reservation) }).toEqual({
            status: 200,
            body: { items: [] },
          });
          expect({ status: none.status, body: normalised(none, missing) }).toEqual({
            status: 200,
            body: { items: [] },
          });
        },
      ],
      'GET /api/payments/{id}': [
        'her payment is a 404 with the body of a missing id',
        () => expectSameAsMissing('GET', (id) => `/api/payments/${id}`, hers.payment),
      ],
      'GET /api/recommendations': [
        'his own profile, never hers; ?userId=alice is a 400',
        async () => {
          const seoulOf = async (token: string) => {
            const res = await send('/api/recommendations', { headers: as(token) });
            expect(res.status).toBe(200);
            const body = json<{ userId: string; profile: { cities: Record<string, number> } }>(res);
            const city = Object.keys(body.profile.cities).find((c) => /^seoul$/i.test(c));
            return { userId: body.userId, seoul: city && body.profile.cities[city] };
          };
          // her profile (seeded on the primary) once a replica has it
          const deadline = Date.now() + 10_000;
          let hersNow = await seoulOf(alice);
          while (!hersNow.seoul && Date.now() < deadline) {
            await new Promise((r) => setTimeout(r, 250));
            hersNow = await seoulOf(alice);
          }
          expect(hersNow).toEqual({ userId: 'alice', seoul: expect.any(Number) });
          expect(await seoulOf(bob)).toEqual({ userId: 'bob', seoul: undefined });
          const asked = await send('/api/recommendations?userId=alice', { headers: as(bob) });
          expect(asked.status).toBe(400);
        },
      ],
      'POST /api/scraps': [
        "no page saved in alice's name (400)",
        async () => {
          const res = await send('/api/scraps', {
            method: 'POST',
            headers: as(bob),
            body: { url: pageUrl, userId: 'alice' },
          });
          expect(res.status).toBe(400);
        },
      ],
      'GET /api/scraps': [
        'his list without hers',
        async () => {
          const res = await send('/api/scraps', { headers: as(bob) });
          expect(res.status).toBe(200);
          expect(idsOf(res)).not.toContain(hers.scrap);
        },
      ],
      'DELETE /api/scraps/{id}': [
        'deleting hers is a 404 with the body of a missing id',
        () => expectSameAsMissing('DELETE', (id) => `/api/scraps/${id}`, hers.scrap),
      ],
      'GET /api/auth/me': [
        'himself',
        async () => {
          const res = await send('/api/auth/me', { headers: as(bob) });
          expect(res.status).toBe(200);
          expect(json(res)).toMatchObject({ sub: 'bob' });
        },
      ],
    };

    it('has a case for every operation of the document, and the document one for every /api route', () => {
      const guarded = operations.filter((o) => o.secured).map((o) => o.key);
      expect({
        public: operations
          .filter((o) => !o.secured)
          .map((o) => o.key)
          .sort(),
      }).toEqual({
        public: [...PUBLIC].sort(),
      });
      // an operation without a case here fails by name; so does a case the document lacks
      expect({ withoutOwnerCase: guarded.filter((k) => !OWNER[k]) }).toEqual({
        withoutOwnerCase: [],
      });
      expect({ withoutOtherUserCase: guarded.filter((k) => !OTHER[k]) }).toEqual({
        withoutOtherUserCase: [],
      });
      expect({ notDocumented: Object.keys(OWNER).filter((k) => !guarded.includes(k)) }).toEqual({
        notDocumented: [],
      });
      // every public /api prefix of the gateway but the document's own has operations in it
      const prefixes = GATEWAY_ROUTES.map((r) => r.prefix).filter(
        (p) => p.startsWith('/api/') && p !== '/api/docs',
      );
      expect({
        prefixesWithoutOperations: prefixes.filter(
          (p) => !operations.some((o) => o.path === p || o.path.startsWith(`${p}/`)),
        ),
      }).toEqual({ prefixesWithoutOperations: [] });
    });

    it.each(REFUSED)(
      '$caller: every guarded operation answers 401 JSON with its challenge, reason $reason',
      async ({ caller, header, reason, challenge }) => {
        const authorization = header();
        const rows = [];
        for (const op of operations.filter((o) => o.secured)) {
          const res = await send(filled(op), {
            method: op.method,
            headers: authorization === undefined ? {} : { authorization },
            body: op.hasBody ? (BODIES[op.key]?.() ?? {}) : undefined,
          });
          const body = json<{ error?: string; details?: { reason?: string } }>(res);
          rows.push({
            route: op.key,
            caller,
            status: res.status,
            json: isJson(res),
            error: body.error,
            reason: body.details?.reason,
            challenge: res.headers['www-authenticate'],
            leaks: leaks(res),
          });
        }
        expect(rows.length).toBeGreaterThan(0);
        // one row per operation: a failure shows the route and the caller of each wrong one
        expect(rows).toEqual(
          rows.map(({ route }) => ({
            route,
            caller,
            status: 401,
            json: true,
            error: 'unauthorized',
            reason,
            challenge: expect.stringMatching(challenge),
            leaks: [],
          })),
        );
      },
    );

    it('answers the token route, the JWKS and the document without a token', async () => {
      const token = await send('/api/auth/token', {
        method: 'POST',
        body: { username: 'bob', password: 'dev-only-bob-password' },
      });
      expect({ route: 'POST /api/auth/token', status: token.status }).toEqual({
        route: 'POST /api/auth/token',
        status: 200,
      });
      expect(json(token)).toMatchObject({ token_type: 'Bearer', access_token: expect.any(String) });
      const wrong = await send('/api/auth/token', {
        method: 'POST',
        body: BODIES['POST /api/auth/token'](),
      });
      expect({ status: wrong.status, json: isJson(wrong), leaks: leaks(wrong) }).toEqual({
        status: 401,
        json: true,
        leaks: [],
      });

      const jwks = await send('/api/auth/.well-known/jwks.json');
      expect({ route: 'GET jwks', status: jwks.status, json: isJson(jwks) }).toEqual({
        route: 'GET jwks',
        status: 200,
        json: true,
      });
      const keys = json<{ keys: Array<Record<string, unknown>> }>(jwks).keys;
      expect(keys.length).toBeGreaterThan(0);
      expect(keys.filter((k) => 'd' in k)).toEqual([]);

      const docs = await send('/api/docs');
      const page = docs.status === 301 ? await send(String(docs.headers.location)) : docs;
      expect({ route: 'GET /api/docs', status: page.status }).toEqual({
        route: 'GET /api/docs',
        status: 200,
      });
      expect(page.headers['content-type']).toMatch(/text\/html/);
      const document = await send('/api/docs/openapi.json');
      expect({ status: document.status, json: isJson(document) }).toEqual({
        status: 200,
        json: true,
      });
    });

    describe('the owner', () => {
      it.each(Object.keys(OWNER))(
        '%s as alice, its owner: 2xx with her own objects',
        async (key) => {
          await OWNER[key]();
        },
      );
    });

    describe('another user', () => {
      it.each(Object.entries(OTHER).map(([key, [what, run]]) => ({ key, what, run })))(
        '$key as bob, another user: $what',
        async ({ run }) => {
          await run();
        },
      );

      it("leaves alice's objects as they were: her booking confirmed, charged once, her page saved", async () => {
        const reservation = await send(`/api/reservations/${hers.reservation}`, {
          headers: as(alice),
        });
        expect(json(reservation)).toMatchObject({ id: hers.reservation, status: 'CONFIRMED' });
        const payment = await send(`/api/payments/${hers.payment}`, { headers: as(alice) });
        expect(json(payment)).toMatchObject({ status: 'CHARGED', refundedAt: null });
        const scraps = await send('/api/scraps', { headers: as(alice) });
        expect(idsOf(scraps)).toContain(hers.scrap);
      });
    });

    /**
     * The admin routes of every process (identity.md, "Operators"): under every
     * prefix the gateway routes and at the root, plainly and encoded, with an
     * operator's token, so nothing is refused only for a missing token.
     */
    const ADMIN_ROUTES: Array<[string, string, unknown?]> = [
      ['GET', '/admin/flags'],
      ['PUT', '/admin/flags/recommendation.enabled', { value: false }],
      ['DELETE', '/admin/flags/recommendation.enabled'],
      ['GET', '/admin/keys'],
      ['POST', '/admin/keys/rotate'],
      ['POST', '/admin/tokens', { sub: 'mallory', scopes: ['admin'] }],
      ['POST', '/admin/switchover', { target: 'mariadb-1' }],
      ['POST', '/admin/nodes', {}],
    ];
    const PREFIXES = ['', ...GATEWAY_ROUTES.map((r) => r.prefix)];
    /** Ways to spell `<prefix>/../admin/flags` that a naive proxy would resolve. */
    const ENCODED = [
      '/%2fadmin/flags',
      '/%2Fadmin%2Fflags',
      '/..%2fadmin/flags',
      '/..%2f..%2fadmin%2fflags',
      '/..%2F..%2F..%2Fadmin/flags',
      '/%2e%2e/%2e%2e/admin/flags',
      '/../../admin/flags',
      '/./../admin/flags',
      '/%252e%252e/%252e%252e/admin/flags',
      '/..%252f..%252fadmin/flags',
      '/..%5c..%5cadmin%5cflags',
      '//admin/flags',
      '/;/../admin/flags',
    ];
    const ADMIN_CASES: Array<{ method: string; target: string; body?: unknown }> = [
      ...PREFIXES.flatMap((prefix) =>
        ADMIN_ROUTES.map(([method, route, body]) => ({ method, target: prefix + route, body })),
      ),
      ...PREFIXES.flatMap((prefix) =>
        ENCODED.map((route) => ({ method: 'GET', target: prefix + route })),
      ),
      { method: 'GET', target: '/ADMIN/flags' },
      { method: 'GET', target: '/api/payments/ADMIN/flags' },
    ];

    describe('no admin route through the gateway', () => {
      it.each(ADMIN_CASES)(
        '$method $target with an operator token: 404 or 400 JSON',
        async ({ method, target, body }) => {
          const res = await send(target, { method, headers: as(operator), body });
          expect({
            route: `${method} ${target}`,
            refused: res.status === 404 || res.status === 400,
            json: isJson(res),
            leaks: leaks(res),
          }).toEqual({
            route: `${method} ${target}`,
            refused: true,
            json: true,
            leaks: [],
          });
        },
      );

      it('leaves auth with the one signing key it started with: no rotation went through', async () => {
        const jwks = await send('/api/auth/.well-known/jwks.json');
        expect(json<{ keys: unknown[] }>(jwks).keys).toHaveLength(1);
      });
    });

    it('answered JSON everywhere (but the Swagger page and 204s), naming no file, frame or internal address', () => {
      const who = (auth?: string) =>
        auth === undefined
          ? 'no token'
          : ({
              [`Bearer ${alice}`]: 'alice',
              [`Bearer ${bob}`]: 'bob',
              [`Bearer ${operator}`]: 'the operator',
            }[auth] ?? 'a refused caller');
      const checked = answers.filter(
        ({ request, reply }) =>
          reply.status !== 204 &&
          !(
            request.startsWith('GET /api/docs') &&
            /text\/html/.test(String(reply.headers['content-type']))
          ),
      );
      expect(checked.length).toBeGreaterThan(300);
      expect(
        checked
          // the document mentions http://localhost:8080 (npm start's gateway) on purpose
          .filter(
            ({ request, reply }) =>
              !isJson(reply) || (!request.startsWith('GET /api/docs') && leaks(reply).length > 0),
          )
          .map(({ request, auth, reply }) => ({
            request,
            caller: who(auth),
            status: reply.status,
            contentType: reply.headers['content-type'],
            leaks: leaks(reply),
          })),
      ).toEqual([]);
    });
  });
}
