import { randomUUID } from 'node:crypto';
import { ConflictException } from '@nestjs/common';
import type { ReservationEvent } from '@stayline/contracts';
import { EntityManager } from 'typeorm';
import { Listing } from '../listings/listing.entity';
import { Reservation, ReservationStatus } from './reservation.entity';

/**
 * A duplicate-key error, told by its code: MariaDB's message names the index
 * (`for key 'PRIMARY'`), not the table, so the text says nothing reliable.
 */
export function isDuplicateKey(err: unknown): boolean {
  const e = err as { code?: unknown; errno?: unknown } | null;
  return e?.code === 'ER_DUP_ENTRY' || e?.errno === 1062;
}

/**
 * Another request of the same user already holds this Idempotency-Key: its
 * hold committed while this one waited on the key's row. The caller answers as
 * a replay.
 */
export class IdempotencyKeyTakenError extends Error {
  constructor(readonly key: string) {
    super(`idempotency key ${key} is already taken`);
  }
}

/** The hold found no `booking_users` row for its user: ensure it (outside the hold's transaction), then hold again. */
export class BookingUserMissingError extends Error {
  constructor(readonly userId: string) {
    super(`no booking_users row for ${userId}: ensureBookingUser first`);
  }
}

/**
 * 409: the user already holds as many active bookings as allowed. A conflict
 * with what the user holds, not a rate: waiting does not help, cancelling does,
 * so not a 429 (which clients retry on their own, and which the gateway answers
 * for its per-address rate).
 */
export class BookingLimitError extends ConflictException {
  constructor(
    readonly limit: number,
    readonly active: number,
  ) {
    super({
      error: 'booking_limit_reached',
      message: `you already hold ${active} active bookings, the most one user may hold at once (${limit}); cancel one to book another`,
      details: { limit, active },
    });
  }
}

/** What a user's Idempotency-Key already made, as {@link BookingStore.byKey} reads it. */
export interface KnownKey {
  requestHash: string;
  reservationId: string;
  /** The reservation's status; absent when it is gone (its hold was undone). */
  status?: ReservationStatus;
  /**
   * The pending hold is no longer its request's to undo: the reconciler took
   * it over, or the request handed it over by answering 202.
   */
  handedOver: boolean;
  /** Since the hold was made, in ms. */
  ageMs: number;
}

/**
 * The reservation a hold wrote, as it wrote it (PENDING_PAYMENT): what the
 * rest of the booking needs (charge, confirm, undo) without reading it back.
 * `updatedAt` is left out: the row's changes as soon as it is confirmed.
 */
export type Held = Omit<Reservation, 'updatedAt'>;

export interface Hold {
  id: string;
  listing: Listing;
  userId: string;
  checkIn: string;
  checkOut: string;
  nights: string[];
  guests: number;
  idempotencyKey: string;
  requestHash: string;
  /** How long a key is remembered: an older one is taken over as if it were new. */
  keyRetentionS: number;
  /** Active bookings the user may hold at once, this one included. */
  maxActive: number;
  /** Today, YYYY-MM-DD (UTC): a booking checking out by then is past and no longer counts. */
  today: string;
}

/** What an event says of its listing. */
export type EventListing = Pick<Listing, 'id' | 'city' | 'pricePerNightCents'>;

/**
 * The booking rules as SQL, each function one step run inside the caller's
 * transaction. Double booking is impossible because every night is a row with
 * the listing and the date as primary key: of two concurrent bookings of the
 * same night, the second insert fails.
 */
export const BookingStore = {
  /**
   * What the user's idempotency key already made, if it was used within the
   * last `retentionS` seconds; another user's key of the same text is not seen.
   */
  async byKey(
    m: EntityManager,
    userId: string,
    key: string,
    retentionS: number,
  ): Promise<KnownKey | undefined> {
    const [row] = (await m.query(
      `SELECT k.request_hash, k.reservation_id, r.status, r.updated_at > r.created_at AS handed_over,
              TIMESTAMPDIFF(MICROSECOND, r.created_at, NOW(3)) DIV 1000 AS age_ms
         FROM idempotency_keys k LEFT JOIN reservations r ON r.id = k.reservation_id
        WHERE k.user_id = ? AND k.idem_key = ? AND k.created_at > NOW(3) - INTERVAL ? SECOND`,
      [userId, key, retentionS],
    )) as Array<{
      request_hash: string;
      reservation_id: string;
      status: ReservationStatus | null;
      handed_over: number | string | null;
      age_ms: number | string | null;
    }>;
    if (!row) return undefined;
    return {
      requestHash: row.request_hash,
      reservationId: row.reservation_id,
      ...(row.status ? { status: row.status } : {}),
      handedOver: Number(row.handed_over) === 1,
      ageMs: Number(row.age_ms ?? 0),
    };
  },

  /**
   * Takes the user's idempotency key for this hold, as the transaction's first
   * statement: a concurrent request with the same key waits here on the key's
   * row until this transaction ends, then finds it taken. A new key (nearly
   * every booking) is one INSERT; only a key already there is read again, and
   * taken over when it is older than the retention (its row now names this
   * hold), so an expired key not yet swept books again.
   */
  async takeKey(m: EntityManager, h: Hold): Promise<void> {
    try {
      await m.query(
        'INSERT INTO idempotency_keys (user_id, idem_key, request_hash, reservation_id) VALUES (?, ?, ?, ?)',
        [h.userId, h.idempotencyKey, h.requestHash, h.id],
      );
      return;
    } catch (err) {
      // the statement is undone, the transaction goes on: the key is someone's already
      if (!isDuplicateKey(err)) throw err;
    }
    const expired = 'created_at <= NOW(3) - INTERVAL ? SECOND';
    await m.query(
      `UPDATE idempotency_keys
          SET request_hash = ?, reservation_id = ?, created_at = NOW(3)
        WHERE user_id = ? AND idem_key = ? AND ${expired}`,
      [h.requestHash, h.id, h.userId, h.idempotencyKey, h.keyRetentionS],
    );
    const [row] = (await m.query(
      'SELECT reservation_id FROM idempotency_keys WHERE user_id = ? AND idem_key = ? FOR UPDATE',
      [h.userId, h.idempotencyKey],
    )) as Array<{ reservation_id: string }>;
    if (row?.reservation_id !== h.id) throw new IdempotencyKeyTakenError(h.idempotencyKey);
  },

  /**
   * The row every hold of a user locks (see {@link checkCap}). Made once per
   * user, in a statement of its own before the hold's transaction: made inside
   * it, concurrent first holds of one user would each take a shared lock on the
   * new row and then deadlock wanting it exclusively.
   */
  async ensureBookingUser(m: EntityManager, userId: string): Promise<void> {
    await m.query('INSERT IGNORE INTO booking_users (user_id) VALUES (?)', [userId]);
  },

  /**
   * Refuses a hold past the user's cap of active bookings. The user's row is
   * locked first, so holds of one user count one after the other: each counts
   * after the one before it committed (the hold's transaction runs READ
   * COMMITTED, so the count sees every commit up to the statement, not a
   * snapshot from before the lock wait). The count reads only the
   * `(user_id, status, check_out)` index and locks nothing: a locking count
   * would hold gaps that confirmations and releases of the same user write into.
   * Returns the database's clock as of the count: the hold's `created_at`.
   */
  async checkCap(m: EntityManager, h: Hold): Promise<Date> {
    const [lock] = (await m.query(
      'SELECT user_id FROM booking_users WHERE user_id = ? FOR UPDATE',
      [h.userId],
    )) as unknown[];
    if (!lock) throw new BookingUserMissingError(h.userId);
    const [row] = (await m.query(
      "SELECT COUNT(*) AS n, NOW(3) AS now FROM reservations WHERE user_id = ? AND status IN ('PENDING_PAYMENT', 'CONFIRMED') AND check_out > ?",
      [h.userId, h.today],
    )) as Array<{ n: number | string; now: Date }>;
    const active = Number(row?.n ?? 0);
    if (active >= h.maxActive) throw new BookingLimitError(h.maxActive, active);
    return row.now;
  },

  /**
   * Holds the nights and records the reservation as PENDING_PAYMENT, with its
   * idempotency key, within the user's cap. Run it READ COMMITTED (see
   * {@link checkCap}); locks are taken in one order, key then user then nights.
   */
  async hold(m: EntityManager, h: Hold): Promise<Held> {
    await BookingStore.takeKey(m, h);
    const now = await BookingStore.checkCap(m, h);
    const held: Held = {
      id: h.id,
      listingId: h.listing.id,
      userId: h.userId,
      checkIn: h.checkIn,
      checkOut: h.checkOut,
      guests: h.guests,
      amountCents: h.listing.pricePerNightCents * h.nights.length,
      currency: h.listing.currency,
      status: 'PENDING_PAYMENT',
      paymentId: null,
      failureReason: null,
      createdAt: now,
    };
    // created_at = updated_at, both the database's clock (a hold untouched since, see
    // claimForReconciliation), set here so the row is known without reading it back
    await m.query(
      `INSERT INTO reservations (id, listing_id, user_id, check_in, check_out, guests, amount_cents, currency, status, created_at, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'PENDING_PAYMENT', ?, ?)`,
      [
        held.id,
        held.listingId,
        held.userId,
        held.checkIn,
        held.checkOut,
        held.guests,
        held.amountCents,
        held.currency,
        now,
        now,
      ],
    );
    try {
      await m.query(
        `INSERT INTO booked_nights (listing_id, night, reservation_id) VALUES ${h.nights.map(() => '(?, ?, ?)').join(', ')}`,
        h.nights.flatMap((n) => [h.listing.id, n, h.id]),
      );
    } catch (err) {
      if (isDuplicateKey(err)) {
        throw new ConflictException({
          error: 'dates_unavailable',
          message: `${h.listing.id} is already booked for some of the nights ${h.checkIn} to ${h.checkOut}`,
        });
      }
      throw err;
    }
    return held;
  },

  /**
   * Payment succeeded: CONFIRMED, and an event for recommendation in the outbox.
   * Returns the reservation as this transaction left it (what the booking
   * answers, with no read after the commit), or undefined when it was not
   * pending. The booking passes what its hold wrote and the listing it read
   * (`known`), so nothing is read back: only the reconciler, which has neither,
   * reads them.
   */
  async confirm(
    m: EntityManager,
    id: string,
    paymentId: string,
    known?: { held: Held; listing: EventListing },
  ): Promise<Held | undefined> {
    const res = (await m.query(
      "UPDATE reservations SET status = 'CONFIRMED', payment_id = ? WHERE id = ? AND status = 'PENDING_PAYMENT'",
      [paymentId, id],
    )) as { affectedRows: number };
    if (res.affectedRows !== 1) return undefined;
    const r: Held =
      known?.held.id === id
        ? { ...known.held, status: 'CONFIRMED', paymentId }
        : await m.findOneByOrFail(Reservation, { id });
    await m.query('UPDATE listings SET bookings = bookings + 1 WHERE id = ?', [r.listingId]);
    await BookingStore.emit(m, r, 'reservation.confirmed', known?.listing);
    return r;
  },

  /**
   * A cancel's first step, before the refund: CONFIRMED becomes CANCELLING, so a
   * cancel stopped between the refund and the release is finished by the
   * reconciler instead of leaving a refunded stay booked. Returns false when
   * the reservation was not confirmed (already cancelling or ended).
   */
  async startCancel(m: EntityManager, id: string): Promise<boolean> {
    const res = (await m.query(
      "UPDATE reservations SET status = 'CANCELLING' WHERE id = ? AND status = 'CONFIRMED'",
      [id],
    )) as { affectedRows: number };
    return res.affectedRows === 1;
  },

  /** Ends a reservation (refused payment, cancellation): its nights are free again. */
  async release(
    m: EntityManager,
    id: string,
    status: Extract<ReservationStatus, 'FAILED' | 'CANCELLED'>,
    reason: string | null,
  ) {
    const before = await m.findOne(Reservation, {
      where: { id },
      lock: { mode: 'pessimistic_write' },
    });
    if (!before || before.status === 'CANCELLED' || before.status === 'FAILED') return before;
    await m.query('DELETE FROM booked_nights WHERE reservation_id = ?', [id]);
    await m.query('UPDATE reservations SET status = ?, failure_reason = ? WHERE id = ?', [
      status,
      reason,
      id,
    ]);
    if (before.status === 'CONFIRMED' || before.status === 'CANCELLING') {
      await m.query('UPDATE listings SET bookings = GREATEST(bookings, 1) - 1 WHERE id = ?', [
        before.listingId,
      ]);
      await BookingStore.emit(m, before, 'reservation.cancelled');
    }
    return m.findOneByOrFail(Reservation, { id });
  },

  /**
   * Undoes a hold whose charge was never sent (payment's breaker was open): no
   * trace is left, so the same idempotency key can try again later. Returns
   * false, undoing nothing, when the hold is no longer this request's to undo:
   * settled, or claimed by the reconciler ({@link claimForReconciliation}),
   * which may have charged it already (a booking slow enough to outlive the
   * reconciler's minimum age). Every row is found by an index: a scan would
   * lock rows and gaps that concurrent holds insert into, and deadlock with them.
   */
  async abandon(
    m: EntityManager,
    id: string,
    userId: string,
    idempotencyKey: string,
  ): Promise<boolean> {
    const [row] = (await m.query(
      'SELECT status, created_at = updated_at AS untouched FROM reservations WHERE id = ? FOR UPDATE',
      [id],
    )) as Array<{ status: ReservationStatus; untouched: number | string }>;
    if (!row || row.status !== 'PENDING_PAYMENT' || Number(row.untouched) !== 1) return false;
    await m.query('DELETE FROM booked_nights WHERE reservation_id = ?', [id]);
    await m.query(
      'DELETE FROM idempotency_keys WHERE user_id = ? AND idem_key = ? AND reservation_id = ?',
      [userId, idempotencyKey, id],
    );
    await m.query("DELETE FROM reservations WHERE id = ? AND status = 'PENDING_PAYMENT'", [id]);
    return true;
  },

  /**
   * The reconciler takes a pending reservation over before it charges: its
   * `updated_at` moves past `created_at`, and the booking request that held it
   * can no longer {@link abandon} it. False when it is gone or settled. The
   * same mark hands a hold over to the reconciler from the request side: once
   * its request answered 202, or once a replay found it older than the
   * reconciler's minimum age (its request died, or is about to be overtaken).
   */
  async claimForReconciliation(m: EntityManager, id: string): Promise<boolean> {
    const res = (await m.query(
      "UPDATE reservations SET updated_at = GREATEST(NOW(3), created_at + INTERVAL 1000 MICROSECOND) WHERE id = ? AND status = 'PENDING_PAYMENT'",
      [id],
    )) as { affectedRows: number };
    return res.affectedRows === 1;
  },

  /**
   * Deletes up to `limit` idempotency keys older than `retentionS`, oldest
   * first, found by their `created_at` index (no scan); returns how many.
   */
  async sweepKeys(m: EntityManager, retentionS: number, limit: number): Promise<number> {
    const res = (await m.query(
      'DELETE FROM idempotency_keys WHERE created_at <= NOW(3) - INTERVAL ? SECOND ORDER BY created_at LIMIT ?',
      [retentionS, limit],
    )) as { affectedRows: number };
    return res.affectedRows;
  },

  /**
   * Writes the event to the outbox. `known` is the reservation's listing when
   * the caller has it already (the booking read it to price the stay): its
   * city and price do not change, so it is not read again.
   */
  async emit(
    m: EntityManager,
    r: Held,
    type: ReservationEvent['type'],
    known?: EventListing,
  ): Promise<void> {
    const listing =
      known?.id === r.listingId ? known : await m.findOneByOrFail(Listing, { id: r.listingId });
    const event: ReservationEvent = {
      eventId: randomUUID(),
      type,
      reservationId: r.id,
      userId: r.userId,
      listingId: r.listingId,
      city: listing.city,
      pricePerNight: listing.pricePerNightCents / 100,
      at: new Date().toISOString(),
    };
    await m.query('INSERT INTO outbox (event_id, payload) VALUES (?, ?)', [
      event.eventId,
      JSON.stringify(event),
    ]);
  },
};
