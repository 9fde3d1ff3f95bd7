import type { ReservationEvent } from '@stayline/contracts';
import { EntityManager } from 'typeorm';
import { priceBand, UserProfile } from '../ranking/ranking.model';

/**
 * What the model has learned, as SQL. `apply` runs in one transaction and is
 * idempotent by event id: the stream delivers at least once, and a replayed
 * event must not count a booking twice.
 */
export const AffinityStore = {
  /** Applies one event; false when it had been applied already. */
  async apply(m: EntityManager, e: ReservationEvent): Promise<boolean> {
    const res = (await m.query('INSERT IGNORE INTO applied_events (event_id) VALUES (?)', [
      e.eventId,
    ])) as {
      affectedRows: number;
    };
    if (res.affectedRows !== 1) return false;
    const delta = e.type === 'reservation.confirmed' ? 1 : -1;
    const upsert = (table: string, keyCol: string, key: string) =>
      m.query(
        `INSERT INTO ${table} (user_id, ${keyCol}, bookings) VALUES (?, ?, GREATEST(?, 0))
         ON DUPLICATE KEY UPDATE bookings = GREATEST(bookings + ?, 0)`,
        [e.userId, key, delta, delta],
      );
    await upsert('user_city_affinity', 'city', e.city);
    await upsert('user_band_affinity', 'band', priceBand(e.pricePerNight));
    await m.query(
      `INSERT INTO listing_popularity (listing_id, bookings) VALUES (?, GREATEST(?, 0))
       ON DUPLICATE KEY UPDATE bookings = GREATEST(bookings + ?, 0)`,
      [e.listingId, delta, delta],
    );
    return true;
  },

  async profile(m: EntityManager, userId: string): Promise<UserProfile> {
    const cities = (await m.query(
      'SELECT city, bookings FROM user_city_affinity WHERE user_id = ?',
      [userId],
    )) as Array<{
      city: string;
      bookings: number;
    }>;
    const bands = (await m.query(
      'SELECT band, bookings FROM user_band_affinity WHERE user_id = ?',
      [userId],
    )) as Array<{
      band: string;
      bookings: number;
    }>;
    return {
      cities: Object.fromEntries(cities.map((r) => [r.city, Number(r.bookings)])),
      bands: Object.fromEntries(bands.map((r) => [r.band, Number(r.bookings)])),
    };
  },

  async popularity(m: EntityManager, listingIds?: string[]): Promise<Record<string, number>> {
    if (listingIds && listingIds.length === 0) return {};
    const rows = (
      listingIds
        ? await m.query(
            'SELECT listing_id, bookings FROM listing_popularity WHERE listing_id IN (?)',
            [listingIds],
          )
        : await m.query(
            'SELECT listing_id, bookings FROM listing_popularity ORDER BY bookings DESC LIMIT 20',
          )
    ) as Array<{
      listing_id: string;
      bookings: number;
    }>;
    return Object.fromEntries(rows.map((r) => [r.listing_id, Number(r.bookings)]));
  },
};
