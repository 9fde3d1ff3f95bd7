/**
 * The booking rules as SQL on a real MariaDB: the hold of a booking whose
 * charge found payment unreachable against the reconciler that settles pending
 * holds (whichever acts first wins, and a hold the reconciler took over, and may
 * have charged, is never undone by the request that made it); idempotency keys
 * per user, their expiry and sweep, and the upgrade of keys made before.
 */
import { randomUUID } from 'node:crypto';
import { runMigrations } from '@stayline/database';
import { Stack, startStack } from '@stayline/stack-kit';
import { DataSource } from 'typeorm';
import { RESERVATION_MIGRATIONS } from '../app.module';
import { Listing } from '../listings/listing.entity';
import {
  BookingLimitError,
  BookingStore,
  BookingUserMissingError,
  IdempotencyKeyTakenError,
} from './booking.store';
import { Reservation } from './reservation.entity';

jest.setTimeout(120_000);

describe('BookingStore (real MariaDB)', () => {
  let stack: Stack;
  let ds: DataSource;
  /** A reservation and its key as the schema before per-user keys held them. */
  const legacy = { id: randomUUID(), key: 'legacy-key-0001', user: 'carol' };

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, redis: false, sentinel: false, nginx: false });
    const { primary } = stack.mariadb;
    const target = {
      database: 'reservation',
      ...stack.credentials.app,
      topology: { epoch: 0, primary, replicas: stack.mariadb.replicas },
      entities: [Listing, Reservation],
    };
    // the schema as it was before per-user keys, with a key in it, then the upgrade
    const before = RESERVATION_MIGRATIONS.findIndex((mg) =>
      mg.name.startsWith('PerUserIdempotency'),
    );
    expect(before).toBeGreaterThan(0);
    await runMigrations(target, RESERVATION_MIGRATIONS.slice(0, before));
    ds = await new DataSource({
      type: 'mariadb',
      host: primary.host,
      port: primary.port,
      username: stack.credentials.app.user,
      password: stack.credentials.app.password,
      database: 'reservation',
      entities: [Listing, Reservation],
    }).initialize();
    await ds.query(
      `INSERT INTO reservations (id, listing_id, user_id, check_in, check_out, guests, amount_cents, currency, status)
       VALUES (?, 'seoul-01', ?, '2031-03-01', '2031-03-02', 1, 100, 'USD', 'CONFIRMED')`,
      [legacy.id, legacy.user],
    );
    await ds.query(
      'INSERT INTO idempotency_keys (idem_key, request_hash, reservation_id) VALUES (?, ?, ?), (?, ?, ?)',
      [legacy.key, 'h', legacy.id, 'orphan-key-0001', 'h', randomUUID()],
    );
    await runMigrations(target, RESERVATION_MIGRATIONS);
  });

  afterAll(async () => {
    await ds?.destroy();
    await stack?.stop();
  });

  const hold = async (
    night: string,
    o: {
      userId?: string;
      key?: string;
      keyRetentionS?: number;
      requestHash?: string;
      maxActive?: number;
      ensureUser?: boolean;
    } = {},
  ) => {
    const [listing] = await ds.manager.find(Listing, { take: 1, order: { id: 'ASC' } });
    const id = randomUUID();
    const key = o.key ?? `key-${id}`;
    const userId = o.userId ?? 'alice';
    if (o.ensureUser !== false) await BookingStore.ensureBookingUser(ds.manager, userId);
    const held = await ds.transaction('READ COMMITTED', (m) =>
      BookingStore.hold(m, {
        id,
        listing,
        userId,
        checkIn: night,
        checkOut: night,
        nights: [night],
        guests: 1,
        idempotencyKey: key,
        requestHash: o.requestHash ?? 'h',
        keyRetentionS: o.keyRetentionS ?? 86_400,
        maxActive: o.maxActive ?? 1_000,
        today: new Date().toISOString().slice(0, 10),
      }),
    );
    // what the hold answers is the row as written, to the millisecond, untouched since
    const row = await ds.manager.findOneByOrFail(Reservation, { id });
    const { updatedAt, ...written } = row;
    expect(held).toEqual(written);
    expect(updatedAt).toEqual(held.createdAt);
    expect(held).toMatchObject({
      amountCents: listing.pricePerNightCents,
      status: 'PENDING_PAYMENT',
    });
    return { id, key, userId };
  };
  const byKey = (userId: string, key: string, retentionS = 86_400) =>
    ds.transaction((m) => BookingStore.byKey(m, userId, key, retentionS));
  const exists = async (id: string) => (await ds.manager.countBy(Reservation, { id })) === 1;

  it('refuses a hold of a user with no booking_users row, leaving nothing behind', async () => {
    const userId = `new-${randomUUID().slice(0, 8)}`;
    await expect(hold('2031-01-20', { userId, ensureUser: false })).rejects.toThrow(
      BookingUserMissingError,
    );
    const keys = (await ds.query('SELECT COUNT(*) AS n FROM idempotency_keys WHERE user_id = ?', [
      userId,
    ])) as Array<{ n: number | string }>;
    expect(Number(keys[0].n)).toBe(0);
    // once the row is made, the same hold goes through, with the amount and the row as written
    const { id } = await hold('2031-01-20', { userId });
    expect(await ds.manager.findOneBy(Reservation, { id })).toMatchObject({
      userId,
      checkIn: '2031-01-20',
      status: 'PENDING_PAYMENT',
      paymentId: null,
    });
  });

  it('undoes a hold nobody else touched, after which the reconciler finds nothing to claim', async () => {
    const { id, key } = await hold('2031-01-10');
    expect(await ds.transaction((m) => BookingStore.abandon(m, id, 'alice', key))).toBe(true);
    expect(await exists(id)).toBe(false);
    expect(await ds.transaction((m) => BookingStore.claimForReconciliation(m, id))).toBe(false);
  });

  it('keeps a hold the reconciler claimed: the request that made it can no longer undo it', async () => {
    const { id, key } = await hold('2031-01-11');
    expect(await ds.transaction((m) => BookingStore.claimForReconciliation(m, id))).toBe(true);
    expect(await ds.transaction((m) => BookingStore.abandon(m, id, 'alice', key))).toBe(false);
    expect(await exists(id)).toBe(true);
    const nights = (await ds.query(
      'SELECT COUNT(*) AS n FROM booked_nights WHERE reservation_id = ?',
      [id],
    )) as Array<{ n: number | string }>;
    expect(Number(nights[0].n)).toBe(1);
    // and it can still be settled by the reconciler, which reads the row
    const paymentId = randomUUID();
    const confirmed = await ds.transaction((m) => BookingStore.confirm(m, id, paymentId));
    expect(confirmed).toMatchObject({ id, status: 'CONFIRMED', paymentId });
    // a confirm only once
    expect(await ds.transaction((m) => BookingStore.confirm(m, id, paymentId))).toBeUndefined();
  });

  it('confirms a hold with what the booking knows, answering the row as a read would, and writes the event', async () => {
    const [listing] = await ds.manager.find(Listing, { take: 1, order: { id: 'ASC' } });
    const { id } = await hold('2031-01-12');
    const held = await ds.manager.findOneByOrFail(Reservation, { id });
    const { updatedAt: _held, ...known } = held;
    const paymentId = randomUUID();
    const confirmed = await ds.transaction((m) =>
      BookingStore.confirm(m, id, paymentId, { held: known, listing }),
    );
    const { updatedAt: _confirmed, ...row } = await ds.manager.findOneByOrFail(Reservation, { id });
    expect(confirmed).toEqual(row);
    expect(row).toMatchObject({ status: 'CONFIRMED', paymentId });
    const [event] = (await ds.query(
      "SELECT payload FROM outbox WHERE JSON_VALUE(payload, '$.reservationId') = ?",
      [id],
    )) as Array<{ payload: string }>;
    expect(JSON.parse(event.payload)).toMatchObject({
      type: 'reservation.confirmed',
      reservationId: id,
      listingId: listing.id,
      city: listing.city,
      pricePerNight: listing.pricePerNightCents / 100,
    });
  });

  it('serialises the two on the row: claim and abandon racing, exactly one wins', async () => {
    for (let i = 0; i < 10; i++) {
      const { id, key } = await hold(`2031-02-${String(i + 1).padStart(2, '0')}`);
      const [claimed, undone] = await Promise.all([
        ds.transaction((m) => BookingStore.claimForReconciliation(m, id)),
        ds.transaction((m) => BookingStore.abandon(m, id, 'alice', key)),
      ]);
      expect({ i, claimed, undone }).toEqual({ i, claimed: !undone, undone: !claimed });
      expect(await exists(id)).toBe(claimed);
    }
  });

  it("upgrades keys made before they were per user: each gets its reservation's user", async () => {
    const rows = (await ds.query(
      'SELECT user_id, idem_key, reservation_id FROM idempotency_keys WHERE idem_key IN (?, ?)',
      [legacy.key, 'orphan-key-0001'],
    )) as Array<{ user_id: string; idem_key: string; reservation_id: string }>;
    // the key whose reservation is gone named nothing to replay: dropped
    expect(rows).toEqual([
      { user_id: legacy.user, idem_key: legacy.key, reservation_id: legacy.id },
    ]);
    expect(await byKey(legacy.user, legacy.key)).toMatchObject({ reservationId: legacy.id });
    expect(await byKey('alice', legacy.key)).toBeUndefined();
  });

  it('scopes keys per user: the same key from two users holds twice, each finds only their own', async () => {
    const key = `shared-${randomUUID()}`;
    const a = await hold('2031-04-01', { userId: 'alice', key, requestHash: 'ha' });
    const b = await hold('2031-04-02', { userId: 'bob', key, requestHash: 'hb' });
    expect(await byKey('alice', key)).toMatchObject({ reservationId: a.id, requestHash: 'ha' });
    expect(await byKey('bob', key)).toMatchObject({ reservationId: b.id, requestHash: 'hb' });
    expect(await byKey('mallory', key)).toBeUndefined();
    // the same user and key again: taken, nothing held
    await expect(hold('2031-04-03', { userId: 'alice', key })).rejects.toThrow(
      IdempotencyKeyTakenError,
    );
    expect(await ds.manager.countBy(Reservation, { checkIn: '2031-04-03' })).toBe(0);
    // the external check still reads the client's key as sent
    const keys = (await ds.query('SELECT idem_key FROM idempotency_keys WHERE idem_key = ?', [
      key,
    ])) as unknown[];
    expect(keys).toHaveLength(2);
  });

  it("tells a pending hold still in its request's hands from one handed over", async () => {
    const { id, key } = await hold('2031-04-10');
    const fresh = await byKey('alice', key);
    expect(fresh).toMatchObject({ status: 'PENDING_PAYMENT', handedOver: false });
    expect(fresh?.ageMs).toBeGreaterThanOrEqual(0);
    expect(fresh?.ageMs).toBeLessThan(60_000);
    expect(await ds.transaction((m) => BookingStore.claimForReconciliation(m, id))).toBe(true);
    expect(await byKey('alice', key)).toMatchObject({
      status: 'PENDING_PAYMENT',
      handedOver: true,
    });
  });

  it('no longer matches an expired key, lets it book again, and sweeps old keys in batches', async () => {
    const key = `expiring-${randomUUID()}`;
    const first = await hold('2031-05-01', { key });
    await ds.query(
      'UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL 10 SECOND WHERE user_id = ? AND idem_key = ?',
      ['alice', key],
    );
    expect(await byKey('alice', key, 60)).toMatchObject({ reservationId: first.id });
    expect(await byKey('alice', key, 5)).toBeUndefined();
    // past the retention the same key takes the row over for a new hold
    const second = await hold('2031-05-02', { key, keyRetentionS: 5 });
    expect(await byKey('alice', key, 5)).toMatchObject({ reservationId: second.id });
    expect(await exists(first.id)).toBe(true);

    const old = Array.from({ length: 7 }, (_, i) => [`old-${i}-${randomUUID()}`]);
    for (const [k] of old) {
      await ds.query(
        "INSERT INTO idempotency_keys (user_id, idem_key, request_hash, reservation_id, created_at) VALUES ('sweep', ?, 'h', ?, NOW(3) - INTERVAL 1 HOUR)",
        [k, randomUUID()],
      );
    }
    const remaining = async () =>
      Number(
        (
          (await ds.query(
            "SELECT COUNT(*) AS n FROM idempotency_keys WHERE user_id = 'sweep'",
          )) as Array<{
            n: number | string;
          }>
        )[0].n,
      );
    expect(await ds.transaction((m) => BookingStore.sweepKeys(m, 60, 3))).toBe(3);
    expect(await remaining()).toBe(4);
    while (await ds.transaction((m) => BookingStore.sweepKeys(m, 60, 3)));
    expect(await remaining()).toBe(0);
    // a key within its retention is kept
    expect(await byKey('alice', key, 5)).toMatchObject({ reservationId: second.id });
  });

  it('caps the active bookings of a user, under concurrent holds too; past, cancelled and failed ones do not count', async () => {
    const userId = `capped-${randomUUID().slice(0, 8)}`;
    // a stay already over, a cancelled and a failed one: none is active
    for (const [status, checkIn, checkOut] of [
      ['CONFIRMED', '2020-01-01', '2020-01-02'],
      ['CANCELLED', '2031-06-01', '2031-06-02'],
      ['FAILED', '2031-06-03', '2031-06-04'],
    ]) {
      await ds.query(
        `INSERT INTO reservations (id, listing_id, user_id, check_in, check_out, guests, amount_cents, currency, status)
         VALUES (?, 'seoul-01', ?, ?, ?, 1, 100, 'USD', ?)`,
        [randomUUID(), userId, checkIn, checkOut, status],
      );
    }
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, (_, i) =>
        hold(`2031-07-${String(i + 1).padStart(2, '0')}`, { userId, maxActive: 3 }),
      ),
    );
    const held = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(held).toHaveLength(3);
    expect(refused).toHaveLength(5);
    for (const err of refused) {
      expect(err).toBeInstanceOf(BookingLimitError);
      expect((err as BookingLimitError).getResponse()).toMatchObject({
        error: 'booking_limit_reached',
        details: { limit: 3, active: 3 },
      });
    }
    // nothing of a refused hold stays: neither its key nor its nights
    expect(await ds.manager.countBy(Reservation, { userId })).toBe(3 + 3);
    const keys = (await ds.query('SELECT COUNT(*) AS n FROM idempotency_keys WHERE user_id = ?', [
      userId,
    ])) as Array<{ n: number | string }>;
    expect(Number(keys[0].n)).toBe(3);
    // ending one frees a slot
    const [first] = held as Array<PromiseFulfilledResult<{ id: string }>>;
    await ds.transaction((m) => BookingStore.release(m, first.value.id, 'CANCELLED', null));
    await expect(hold('2031-07-20', { userId, maxActive: 3 })).resolves.toMatchObject({ userId });
    await expect(hold('2031-07-21', { userId, maxActive: 3 })).rejects.toThrow(BookingLimitError);
  });
});
