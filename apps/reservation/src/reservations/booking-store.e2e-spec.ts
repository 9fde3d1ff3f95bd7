/**
 * The hold of a booking whose charge found payment unreachable, against the
 * reconciler that settles pending holds, on a real MariaDB: whichever acts
 * first wins, and a hold the reconciler took over (and may have charged) is
 * never undone by the request that made it.
 */
import { randomUUID } from 'node:crypto';
import { runMigrations } from '@stayline/database';
import { Stack, startStack } from '@stayline/stack-kit';
import { DataSource } from 'typeorm';
import { RESERVATION_MIGRATIONS } from '../app.module';
import { Listing } from '../listings/listing.entity';
import { BookingStore } from './booking.store';
import { Reservation } from './reservation.entity';

jest.setTimeout(120_000);

describe('BookingStore: abandon vs the reconciler (real MariaDB)', () => {
  let stack: Stack;
  let ds: DataSource;

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, redis: false, sentinel: false, nginx: false });
    const { primary } = stack.mariadb;
    const target = {
      database: 'reservation',
      ...stack.credentials.app,
      topology: { epoch: 0, primary, replicas: stack.mariadb.replicas },
      entities: [Listing, Reservation],
    };
    await runMigrations(target, RESERVATION_MIGRATIONS);
    ds = await new DataSource({
      type: 'mariadb',
      host: primary.host,
      port: primary.port,
      username: stack.credentials.app.user,
      password: stack.credentials.app.password,
      database: 'reservation',
      entities: [Listing, Reservation],
    }).initialize();
  });

  afterAll(async () => {
    await ds?.destroy();
    await stack?.stop();
  });

  const hold = async (night: string) => {
    const [listing] = await ds.manager.find(Listing, { take: 1, order: { id: 'ASC' } });
    const id = randomUUID();
    const key = `key-${id}`;
    await ds.transaction((m) =>
      BookingStore.hold(m, {
        id,
        listing,
        userId: 'alice',
        checkIn: night,
        checkOut: night,
        nights: [night],
        guests: 1,
        idempotencyKey: key,
        requestHash: 'h',
      }),
    );
    return { id, key };
  };
  const exists = async (id: string) => (await ds.manager.countBy(Reservation, { id })) === 1;

  it('undoes a hold nobody else touched, after which the reconciler finds nothing to claim', async () => {
    const { id, key } = await hold('2031-01-10');
    expect(await ds.transaction((m) => BookingStore.abandon(m, id, key))).toBe(true);
    expect(await exists(id)).toBe(false);
    expect(await ds.transaction((m) => BookingStore.claimForReconciliation(m, id))).toBe(false);
  });

  it('keeps a hold the reconciler claimed: the request that made it can no longer undo it', async () => {
    const { id, key } = await hold('2031-01-11');
    expect(await ds.transaction((m) => BookingStore.claimForReconciliation(m, id))).toBe(true);
    expect(await ds.transaction((m) => BookingStore.abandon(m, id, key))).toBe(false);
    expect(await exists(id)).toBe(true);
    const nights = (await ds.query(
      'SELECT COUNT(*) AS n FROM booked_nights WHERE reservation_id = ?',
      [id],
    )) as Array<{ n: number | string }>;
    expect(Number(nights[0].n)).toBe(1);
    // and it can still be settled by the reconciler
    expect(await ds.transaction((m) => BookingStore.confirm(m, id, randomUUID()))).toBe(true);
  });

  it('serialises the two on the row: claim and abandon racing, exactly one wins', async () => {
    for (let i = 0; i < 10; i++) {
      const { id, key } = await hold(`2031-02-${String(i + 1).padStart(2, '0')}`);
      const [claimed, undone] = await Promise.all([
        ds.transaction((m) => BookingStore.claimForReconciliation(m, id)),
        ds.transaction((m) => BookingStore.abandon(m, id, key)),
      ]);
      expect({ i, claimed, undone }).toEqual({ i, claimed: !undone, undone: !claimed });
      expect(await exists(id)).toBe(claimed);
    }
  });
});
