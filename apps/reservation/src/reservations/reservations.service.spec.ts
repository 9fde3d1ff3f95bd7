import type { ReplicaRouter } from '@stayline/database';
import type { EntityManager } from 'typeorm';
import type { PaymentPort } from '../clients/ports';
import { Listing } from '../listings/listing.entity';
import type { BookingRules } from './booking-rules';
import { BookingUserMissingError } from './booking.store';
import { ReservationsService } from './reservations.service';

const rules: BookingRules = {
  maxNights: 30,
  horizonDays: 365,
  maxActivePerUser: 10,
  keyRetentionS: 86_400,
  reconcileAfterMs: 10_000,
};
const listing = Object.assign(new Listing(), {
  id: 'seoul-01',
  city: 'Seoul',
  pricePerNightCents: 10_000,
  currency: 'USD',
  capacity: 4,
});

/**
 * The booking's orchestration over a fake router: every statement the
 * booking sends to the primary, in order, and what it sent them through
 * (write, readOnly write, transaction). The hold's transaction fails with a
 * missing `booking_users` row as many times as `missingRows` says.
 */
function fakeBooking(missingRows = 0) {
  const calls: string[] = [];
  const manager = (via: string) =>
    ({
      query: async (sql: string) => {
        calls.push(`${via}: ${sql.split(' ').slice(0, 3).join(' ')}`);
        if (sql.startsWith('UPDATE reservations')) return { affectedRows: 1 };
        if (sql.startsWith('SELECT COUNT')) return [{ n: 0, now: new Date() }];
        if (sql.startsWith('SELECT user_id')) return [{ user_id: 'u' }];
        return sql.startsWith('SELECT') ? [] : { affectedRows: 1 };
      },
      findOneBy: async () => listing,
    }) as unknown as EntityManager;
  let missing = missingRows;
  const db = {
    read: (work: (m: EntityManager) => unknown) => work(manager('replica')),
    write: (work: (m: EntityManager) => unknown, o: { readOnly?: boolean } = {}) =>
      work(manager(o.readOnly ? 'primary read' : 'primary write')),
    transaction: async (work: (m: EntityManager) => unknown) => {
      const m = manager('transaction');
      const value = await work(m);
      if (calls.some((c) => c.includes('SELECT user_id')) && missing > 0) {
        missing--;
        calls.push('rolled back');
        throw new BookingUserMissingError('u');
      }
      return value;
    },
  } as unknown as ReplicaRouter;
  const payment: PaymentPort = {
    charge: async (req) => ({
      id: 'pay-1',
      reservationId: req.reservationId,
      userId: req.userId,
      amountCents: req.amountCents,
      currency: req.currency,
      status: 'CHARGED',
      createdAt: new Date().toISOString(),
      refundedAt: null,
    }),
    refund: async () => {
      throw new Error('not in these tests');
    },
  };
  const service = new ReservationsService(db, payment, rules);
  const tomorrow = (days: number) =>
    new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  const book = (key: string) =>
    service.book(
      { listingId: listing.id, checkIn: tomorrow(1), checkOut: tomorrow(2), guests: 1 },
      'u',
      key,
    );
  return { book, calls, dropRow: () => (missing = 1) };
}

describe('ReservationsService.book', () => {
  it("makes the user's booking_users row once, then books with one read and two transactions", async () => {
    const { book, calls } = fakeBooking();
    const first = await book('key-00000001');
    expect(first).toMatchObject({ status: 201, replayed: false });
    expect(first.reservation).toMatchObject({
      status: 'CONFIRMED',
      paymentId: 'pay-1',
      amount: 100,
    });
    expect(calls.filter((c) => c.includes('INSERT IGNORE'))).toEqual([
      'primary write: INSERT IGNORE INTO',
    ]);
    calls.length = 0;
    await book('key-00000002');
    // the replay lookup is a plain read on the primary; nothing reads the listing or the row back
    expect(calls).toEqual([
      'primary read: SELECT k.request_hash, k.reservation_id,',
      'transaction: INSERT INTO idempotency_keys',
      'transaction: SELECT user_id FROM',
      'transaction: SELECT COUNT(*) AS',
      'transaction: INSERT INTO reservations',
      'transaction: INSERT INTO booked_nights',
      'transaction: UPDATE reservations SET',
      'transaction: UPDATE listings SET',
      'transaction: INSERT INTO outbox',
    ]);
  });

  it("makes a known user's row again when a hold finds it missing, and holds again once", async () => {
    const { book, calls, dropRow } = fakeBooking();
    await book('key-00000003');
    calls.length = 0;
    dropRow();
    expect(await book('key-00000004')).toMatchObject({ status: 201 });
    expect(calls.filter((c) => c.includes('INSERT IGNORE') || c === 'rolled back')).toEqual([
      'rolled back',
      'primary write: INSERT IGNORE INTO',
    ]);
  });

  it('gives up after a second missing row: the error is not swallowed', async () => {
    const { book } = fakeBooking(2);
    await expect(book('key-00000005')).rejects.toThrow(BookingUserMissingError);
  });
});
