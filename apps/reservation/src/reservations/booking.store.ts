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
 * Another request already holds this Idempotency-Key: its hold committed
 * while this one waited on the key's row. The caller answers as a replay.
 */
export class IdempotencyKeyTakenError extends Error {
  constructor(readonly key: string) {
    super(`idempotency key ${key} is already taken`);
  }
}

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
}

/**
 * The booking rules as SQL, each function one step run inside the caller's
 * transaction. Double booking is impossible because every night is a row with
 * the listing and the date as primary key: of two concurrent bookings of the
 * same night, the second insert fails.
 */
export const BookingStore = {
  /** The reservation an idempotency key already made, if any. */
  async byKey(
    m: EntityManager,
    key: string,
  ): Promise<{ requestHash: string; reservationId: string } | undefined> {
    const rows = (await m.query(
      'SELECT request_hash, reservation_id FROM idempotency_keys WHERE idem_key = ?',
      [key],
    )) as Array<{
      request_hash: string;
      reservation_id: string;
    }>;
    return rows[0] && { requestHash: rows[0].request_hash, reservationId: rows[0].reservation_id };
  },

  /** Holds the nights and records the reservation as PENDING_PAYMENT, with its idempotency key. */
  async hold(m: EntityManager, h: Hold): Promise<Reservation> {
    // first statement: a concurrent request with the same key waits here on the
    // key's row until this transaction ends, then fails with a duplicate key
    try {
      await m.query(
        'INSERT INTO idempotency_keys (idem_key, request_hash, reservation_id) VALUES (?, ?, ?)',
        [h.idempotencyKey, h.requestHash, h.id],
      );
    } catch (err) {
      if (isDuplicateKey(err)) throw new IdempotencyKeyTakenError(h.idempotencyKey);
      throw err;
    }
    await m.insert(Reservation, {
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
    });
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
    return m.findOneByOrFail(Reservation, { id: h.id });
  },

  /** Payment succeeded: CONFIRMED, and an event for recommendation in the outbox. Returns false when it was not pending. */
  async confirm(m: EntityManager, id: string, paymentId: string): Promise<boolean> {
    const res = (await m.query(
      "UPDATE reservations SET status = 'CONFIRMED', payment_id = ? WHERE id = ? AND status = 'PENDING_PAYMENT'",
      [paymentId, id],
    )) as { affectedRows: number };
    if (res.affectedRows !== 1) return false;
    const r = await m.findOneByOrFail(Reservation, { id });
    await m.query('UPDATE listings SET bookings = bookings + 1 WHERE id = ?', [r.listingId]);
    await BookingStore.emit(m, r, 'reservation.confirmed');
    return true;
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
    if (before.status === 'CONFIRMED') {
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
  async abandon(m: EntityManager, id: string, idempotencyKey: string): Promise<boolean> {
    const [row] = (await m.query(
      'SELECT status, created_at = updated_at AS untouched FROM reservations WHERE id = ? FOR UPDATE',
      [id],
    )) as Array<{ status: ReservationStatus; untouched: number | string }>;
    if (!row || row.status !== 'PENDING_PAYMENT' || Number(row.untouched) !== 1) return false;
    await m.query('DELETE FROM booked_nights WHERE reservation_id = ?', [id]);
    await m.query('DELETE FROM idempotency_keys WHERE idem_key = ? AND reservation_id = ?', [
      idempotencyKey,
      id,
    ]);
    await m.query("DELETE FROM reservations WHERE id = ? AND status = 'PENDING_PAYMENT'", [id]);
    return true;
  },

  /**
   * The reconciler takes a pending reservation over before it charges: its
   * `updated_at` moves past `created_at`, and the booking request that held it
   * can no longer {@link abandon} it. False when it is gone or settled.
   */
  async claimForReconciliation(m: EntityManager, id: string): Promise<boolean> {
    const res = (await m.query(
      "UPDATE reservations SET updated_at = GREATEST(NOW(3), created_at + INTERVAL 1000 MICROSECOND) WHERE id = ? AND status = 'PENDING_PAYMENT'",
      [id],
    )) as { affectedRows: number };
    return res.affectedRows === 1;
  },

  async emit(m: EntityManager, r: Reservation, type: ReservationEvent['type']): Promise<void> {
    const listing = await m.findOneByOrFail(Listing, { id: r.listingId });
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
