/**
 * The baseline of the bench's knee (bench/src/scenarios/knee.ts): the same
 * booking as stayline's `POST /api/reservations`, done by one plain Node
 * process with mysql2 and none of the patterns: no registry, no breaker, no
 * bulkhead, no replica routing, no second service over TCP, no framework.
 * It runs on the stack's own MariaDB cluster (the same semi-sync primary and
 * replicas, AFTER_SYNC, so a 201 means the same durability) and is reached
 * through the stack's own nginx (a server block beside the gateway's).
 *
 * What it does for one booking, and how that differs from stayline's
 * (apps/reservation reservations.service.ts + booking.store.ts, apps/payment
 * payment-ledger.ts), line by line:
 * - the token: verified the same way (EdDSA, the auth service's JWKS, issuer,
 *   audience, expiry) with @stayline/identity's TokenVerifier; the key set is
 *   fetched from one auth instance by URL, not found through the registry;
 * - the request: the same checks (Idempotency-Key 8-128 of `[\w.:-]`; listing
 *   id, dates, at most 30 nights, up to 365 days ahead, guests 1-16; no other
 *   field), by hand instead of class-validator DTOs;
 * - the user's booking_users row: the same `INSERT IGNORE`, on its own before
 *   the transaction (inside it, concurrent first holds of a user deadlock),
 *   once per user and process as stayline's instances do (made again, and the
 *   booking tried once more, if the transaction finds it missing);
 * - ONE transaction, READ COMMITTED, on the primary, where stayline commits
 *   three on it (the hold; payment's charge, after a TCP call to payment; the
 *   confirm), after a replay lookup on the primary and a listing read on a
 *   replica:
 *     the key taken first (the same `INSERT ... ON DUPLICATE KEY UPDATE` and
 *     `SELECT ... FOR UPDATE`; an expired key is taken over the same way),
 *     the user's row locked and the active bookings counted (the same cap),
 *     the listing's bookings counter (stayline: in the confirm; here before
 *     the reservation's foreign key check, which would otherwise deadlock two
 *     bookings of one listing) and the listing read (stayline: on a replica),
 *     the reservation inserted CONFIRMED with its payment id (stayline:
 *     PENDING_PAYMENT, then CONFIRMED by the confirm), its nights inserted
 *     (the same primary key refuses a double booking: 409), the payment row
 *     inserted CHARGED in the payment database (the same table and unique key;
 *     one transaction across both schemas, which stayline's database per
 *     service forbids), the outbox event (the same row; the stack's
 *     reservation relay publishes it like stayline's own), the reservation
 *     read back for the answer; COMMIT: one semi-sync wait where stayline
 *     waits for three (the hold, the charge, the confirm). Measured on the
 *     primary over 200 bookings one at a time, less the idle stack's (stayline
 *     as of commit 0109346): about 20 statements and 1 semi-sync commit per
 *     booking here (then one INSERT IGNORE fewer), 21 and 3 for stayline
 *     (plus, for both, about 1 commit of the outbox relay's);
 * - idempotency: the same key semantics seen by a client (the same key and
 *   request: the same reservation again, 201 with `Idempotent-Replayed`;
 *   another request under the key: 422 `idempotency_key_reused`; per user;
 *   24 h retention). There is no pending state: a booking is all committed or
 *   not at all, so a concurrent request with the same key waits on the key's
 *   row lock and then replays, where stayline answers 409 `idempotency_key_in_use`;
 * - failures: no charge outcome can be unknown (no 202, nothing for a
 *   reconciler); a database error is a 500 and the transaction rolls back;
 * - the answer: the same JSON (the reservation view) and status.
 *   node scripts/run.cjs bench/src/baseline/server.ts   (environment: BaselineConfig below)
 */
import { createHash, randomUUID } from 'node:crypto';
import http from 'node:http';
import { bearerToken, remoteKeySet, TokenRejectedError, TokenVerifier } from '@stayline/identity';
import mysql from 'mysql2/promise';

export interface BaselineConfig {
  host: string;
  port: number;
  /** The MariaDB primary, and a user that may write both service databases. */
  db: { host: string; port: number; user: string; password: string };
  /** Connections to the primary: stayline's reservation has 2 instances x 10. */
  poolSize: number;
  /** An auth instance's key set (`.../api/auth/.well-known/jwks.json`). */
  jwksUrl: string;
  issuer: string;
  audience: string;
}

/** reservation's defaults (apps/reservation config.ts): the same rules. */
const MAX_NIGHTS = 30;
const HORIZON_DAYS = 365;
const KEY_RETENTION_S = 86_400;
/** What the bench stacks run reservation with (stack-kit LOAD_BOOKING_CAP_PER_USER). */
const MAX_ACTIVE_PER_USER = Number(process.env.BOOKING_MAX_ACTIVE_PER_USER ?? 100);
const IDEMPOTENCY_KEY = /^[\w.:-]{8,128}$/;
const IDENTIFIER = /^[\p{L}\p{M}\p{N}._@+-]{1,64}$/u;
const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;
const MAX_BODY = 64 * 1024;

/** An answer other than 201: status, error code, message. */
class Refusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The user's booking_users row was not there to lock: the booking is tried once more. */
class UserRowMissing extends Error {}

interface Booking {
  listingId: string;
  checkIn: string;
  checkOut: string;
  guests: number;
}

interface ReservationRow {
  id: string;
  listing_id: string;
  user_id: string;
  check_in: string;
  check_out: string;
  guests: number;
  amount_cents: number;
  currency: string;
  status: string;
  payment_id: string | null;
  failure_reason: string | null;
  created_at: Date;
}

/** The body, held to the DTO's rules: these four fields, nothing else. */
function parseBooking(text: string): Booking {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new Refusal(400, 'validation_failed', 'the body is not JSON');
  }
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new Refusal(400, 'validation_failed', 'the body must be a JSON object');
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter(
    (k) => !['listingId', 'checkIn', 'checkOut', 'guests'].includes(k),
  );
  if (extra.length) throw new Refusal(400, 'validation_failed', `unknown field(s): ${extra}`);
  const listingId = typeof b.listingId === 'string' ? b.listingId.normalize('NFC') : undefined;
  if (!listingId || !IDENTIFIER.test(listingId))
    throw new Refusal(400, 'validation_failed', 'listingId must be an identifier of 1-64');
  for (const f of ['checkIn', 'checkOut'] as const)
    if (typeof b[f] !== 'string' || !DAY.test(b[f] as string))
      throw new Refusal(400, 'validation_failed', `${f} must be a date as YYYY-MM-DD`);
  if (!Number.isInteger(b.guests) || (b.guests as number) < 1 || (b.guests as number) > 16)
    throw new Refusal(400, 'validation_failed', 'guests must be a whole number from 1 to 16');
  return {
    listingId,
    checkIn: b.checkIn as string,
    checkOut: b.checkOut as string,
    guests: b.guests as number,
  };
}

/** The stay's nights, within reservation's bounds (apps/reservation stay-dates.ts). */
function nightsOf(b: Booking, today = new Date()): string[] {
  const day = (v: string, f: string) => {
    const t = Date.parse(`${v}T00:00:00Z`);
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== v)
      throw new Refusal(400, 'validation_failed', `${f} must be a date as YYYY-MM-DD`);
    return t;
  };
  const start = day(b.checkIn, 'checkIn');
  const end = day(b.checkOut, 'checkOut');
  const day0 = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const bad = (m: string) => new Refusal(400, 'validation_failed', m);
  if (start < day0) throw bad(`checkIn ${b.checkIn} is in the past`);
  if (end <= start) throw bad('checkOut must be after checkIn');
  const n = (end - start) / DAY_MS;
  if (n > MAX_NIGHTS) throw bad(`a stay is at most ${MAX_NIGHTS} nights (asked for ${n})`);
  if (end - DAY_MS > day0 + HORIZON_DAYS * DAY_MS)
    throw bad(`stays can be booked up to ${HORIZON_DAYS} days ahead`);
  return Array.from({ length: n }, (_, i) =>
    new Date(start + i * DAY_MS).toISOString().slice(0, 10),
  );
}

function view(r: ReservationRow) {
  return {
    id: r.id,
    listingId: r.listing_id,
    userId: r.user_id,
    checkIn: r.check_in,
    checkOut: r.check_out,
    guests: r.guests,
    amount: r.amount_cents / 100,
    currency: r.currency,
    status: r.status,
    paymentId: r.payment_id,
    ...(r.failure_reason ? { failureReason: r.failure_reason } : {}),
    createdAt: new Date(r.created_at).toISOString(),
  };
}

const isDuplicate = (err: unknown) => (err as { errno?: number }).errno === 1062;

export function baselineServer(c: BaselineConfig) {
  const pool = mysql.createPool({
    ...c.db,
    database: 'reservation',
    connectionLimit: c.poolSize,
    // as stayline's pools read them (libs/database): dates as text, times in UTC
    dateStrings: ['DATE'],
    timezone: 'Z',
  });
  // every transaction of this process is a booking's: READ COMMITTED, as the hold's
  pool.on('connection', (conn) => {
    conn.query('SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED');
  });
  const verifier = new TokenVerifier(remoteKeySet(c.jwksUrl), {
    issuer: c.issuer,
    audience: c.audience,
  });

  /** Users whose booking_users row this process made (or found): made once per user and process. */
  const knownUsers = new Set<string>();

  async function book(
    userId: string,
    key: string,
    b: Booking,
  ): Promise<{ status: number; replayed: boolean; row: ReservationRow }> {
    const nights = nightsOf(b);
    const requestHash = createHash('sha256')
      .update(JSON.stringify([b.listingId, userId, b.checkIn, b.checkOut, b.guests]))
      .digest('hex');
    const id = randomUUID();
    const paymentId = randomUUID();
    if (!knownUsers.has(userId)) {
      await pool.query('INSERT IGNORE INTO booking_users (user_id) VALUES (?)', [userId]);
      knownUsers.add(userId);
    }
    const conn = await pool.getConnection();
    try {
      await conn.beginTransaction();
      const expired = 'created_at <= NOW(3) - INTERVAL ? SECOND';
      await conn.query(
        `INSERT INTO idempotency_keys (user_id, idem_key, request_hash, reservation_id) VALUES (?, ?, ?, ?)
         ON DUPLICATE KEY UPDATE
           request_hash = IF(${expired}, VALUES(request_hash), request_hash),
           reservation_id = IF(${expired}, VALUES(reservation_id), reservation_id),
           created_at = IF(${expired}, NOW(3), created_at)`,
        [userId, key, requestHash, id, KEY_RETENTION_S, KEY_RETENTION_S, KEY_RETENTION_S],
      );
      const [[owner]] = (await conn.query(
        'SELECT reservation_id, request_hash FROM idempotency_keys WHERE user_id = ? AND idem_key = ? FOR UPDATE',
        [userId, key],
      )) as unknown as [Array<{ reservation_id: string; request_hash: string }>];
      if (owner.reservation_id !== id) {
        // the key made a booking before (a retry, or a request that raced this one and committed)
        await conn.rollback();
        if (owner.request_hash !== requestHash)
          throw new Refusal(
            422,
            'idempotency_key_reused',
            'this Idempotency-Key was used for a different reservation request',
          );
        const [[made]] = (await conn.query(
          'SELECT * FROM reservations WHERE id = ? AND user_id = ?',
          [owner.reservation_id, userId],
        )) as unknown as [ReservationRow[]];
        if (!made) throw new Refusal(409, 'idempotency_key_in_use', 'retry with the same key');
        return { status: made.status === 'PENDING_PAYMENT' ? 202 : 201, replayed: true, row: made };
      }
      const [[locked]] = (await conn.query(
        'SELECT user_id FROM booking_users WHERE user_id = ? FOR UPDATE',
        [userId],
      )) as unknown as [unknown[]];
      if (!locked) {
        knownUsers.delete(userId); // gone since it was made: made again by the retry
        throw new UserRowMissing();
      }
      const [[active]] = (await conn.query(
        "SELECT COUNT(*) AS n FROM reservations WHERE user_id = ? AND status IN ('PENDING_PAYMENT', 'CONFIRMED') AND check_out > ?",
        [userId, new Date().toISOString().slice(0, 10)],
      )) as unknown as [Array<{ n: number }>];
      if (Number(active.n) >= MAX_ACTIVE_PER_USER)
        throw new Refusal(409, 'booking_limit_reached', `you already hold ${active.n} bookings`);
      // the listing's counter first: its row lock now, before the reservation's foreign key
      // takes a shared one (two bookings of a listing would each hold that and deadlock
      // wanting it exclusively); stayline takes it in the confirm, after the hold committed
      const [counted] = (await conn.query(
        'UPDATE listings SET bookings = bookings + 1 WHERE id = ?',
        [b.listingId],
      )) as unknown as [{ affectedRows: number }];
      if (counted.affectedRows !== 1)
        throw new Refusal(404, 'not_found', `no listing ${b.listingId}`);
      const [[listing]] = (await conn.query(
        'SELECT id, city, price_per_night_cents, currency, capacity FROM listings WHERE id = ?',
        [b.listingId],
      )) as unknown as [
        Array<{
          id: string;
          city: string;
          price_per_night_cents: number;
          currency: string;
          capacity: number;
        }>,
      ];
      if (b.guests > listing.capacity)
        throw new Refusal(
          422,
          'over_capacity',
          `${listing.id} sleeps at most ${listing.capacity} guests (asked for ${b.guests})`,
        );
      const amountCents = listing.price_per_night_cents * nights.length;
      await conn.query(
        `INSERT INTO reservations (id, listing_id, user_id, check_in, check_out, guests, amount_cents, currency, status, payment_id)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'CONFIRMED', ?)`,
        [
          id,
          listing.id,
          userId,
          b.checkIn,
          b.checkOut,
          b.guests,
          amountCents,
          listing.currency,
          paymentId,
        ],
      );
      try {
        await conn.query(
          `INSERT INTO booked_nights (listing_id, night, reservation_id) VALUES ${nights.map(() => '(?, ?, ?)').join(', ')}`,
          nights.flatMap((n) => [listing.id, n, id]),
        );
      } catch (err) {
        if (!isDuplicate(err)) throw err;
        throw new Refusal(
          409,
          'dates_unavailable',
          `${listing.id} is already booked for some of the nights ${b.checkIn} to ${b.checkOut}`,
        );
      }
      await conn.query(
        `INSERT INTO payment.payments (id, reservation_id, user_id, amount_cents, currency, status)
         VALUES (?, ?, ?, ?, ?, 'CHARGED')`,
        [paymentId, id, userId, amountCents, listing.currency],
      );
      const eventId = randomUUID();
      await conn.query('INSERT INTO outbox (event_id, payload) VALUES (?, ?)', [
        eventId,
        JSON.stringify({
          eventId,
          type: 'reservation.confirmed',
          reservationId: id,
          userId,
          listingId: listing.id,
          city: listing.city,
          pricePerNight: listing.price_per_night_cents / 100,
          at: new Date().toISOString(),
        }),
      ]);
      const [[row]] = (await conn.query('SELECT * FROM reservations WHERE id = ?', [
        id,
      ])) as unknown as [ReservationRow[]];
      await conn.commit();
      return { status: 201, replayed: false, row };
    } catch (err) {
      await conn.rollback().catch(() => undefined);
      throw err;
    } finally {
      conn.release();
    }
  }

  const send = (res: http.ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    });
    res.end(text);
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      void (async () => {
        if (req.method !== 'POST' || req.url !== '/api/reservations')
          throw new Refusal(404, 'not_found', `no route for ${req.method} ${req.url}`);
        if (size > MAX_BODY) throw new Refusal(413, 'payload_too_large', 'body over 64 KiB');
        let userId: string;
        try {
          userId = (await verifier.verify(bearerToken(req.headers.authorization))).userId;
        } catch (err) {
          const reason = err instanceof TokenRejectedError ? err.reason : 'malformed_token';
          throw new Refusal(reason === 'keys_unavailable' ? 503 : 401, reason, 'token refused');
        }
        const key = req.headers['idempotency-key'];
        if (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))
          throw new Refusal(
            400,
            'idempotency_key_required',
            'send an Idempotency-Key header (8-128 letters, digits, . _ : -)',
          );
        const body = parseBooking(Buffer.concat(chunks).toString('utf8'));
        const done = await book(userId, key, body).catch((err: unknown) => {
          if (err instanceof UserRowMissing) return book(userId, key, body);
          throw err;
        });
        if (done.replayed) res.setHeader('Idempotent-Replayed', 'true');
        send(res, done.status, view(done.row));
      })().catch((err: unknown) => {
        if (err instanceof Refusal)
          send(res, err.status, { error: err.code, message: err.message });
        else {
          console.error(`booking failed: ${(err as Error)?.stack ?? String(err)}`);
          send(res, 500, { error: 'internal_error', message: 'the booking failed' });
        }
      });
    });
  });
  // nginx keeps idle upstream connections 4 s: the process keeps them longer (Node: 5 s)
  server.keepAliveTimeout = 5_000;
  return {
    listen: () => new Promise<void>((resolve) => server.listen(c.port, c.host, resolve)),
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await pool.end();
    },
  };
}

/** The configuration from the environment the bench starts it with. */
export function baselineConfig(env: NodeJS.ProcessEnv = process.env): BaselineConfig {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new Error(`${name} is required`);
    return v;
  };
  return {
    host: env.HOST ?? '127.0.0.1',
    port: Number(need('PORT')),
    db: {
      host: need('DB_HOST'),
      port: Number(need('DB_PORT')),
      user: need('DB_USER'),
      password: need('DB_PASSWORD'),
    },
    poolSize: Number(env.DB_POOL_SIZE ?? 20),
    jwksUrl: need('JWKS_URL'),
    issuer: env.AUTH_ISSUER ?? 'stayline-auth',
    audience: env.AUTH_AUDIENCE ?? 'stayline',
  };
}

if (require.main === module || process.argv[1] === __filename) {
  const c = baselineConfig();
  const s = baselineServer(c);
  s.listen().then(
    () => console.log(`baseline booking on http://${c.host}:${c.port}/api/reservations`),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
  const stop = () => void s.close().finally(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
