import { HttpClient, HttpRequestOptions } from '@stayline/launcher';
import { Sample } from './load';

const DAY_MS = 86_400_000;
/** How far ahead a night can be booked (apps/reservation stay-dates.ts: 365 days). */
const HORIZON_DAYS = 364;

/**
 * Distinct one-night bookings for a {@link Load}: every request a listing and
 * night of its own and its own Idempotency-Key, so none conflicts with another
 * of the run and none is a replay. The (listing, night) slots are visited with
 * a stride from a random start, so they are spread over the whole year: runs
 * one after another on the same stack meet a night booked before only now and
 * then, never in a long streak (such a booking answers 409, not a failure, and
 * never reaches payment).
 *
 * @example
 *   const bookings = await Bookings.forStack(d.gateway);
 *   const load = Load.start({ workers: 8, keepReplies: true, request: (n) => bookings.request(n) });
 */
export class Bookings {
  private readonly run = Math.random().toString(36).slice(2, 8);
  private readonly slots: number;
  private readonly start: number;
  private readonly stride: number;

  private constructor(
    private readonly gateway: string,
    private readonly listings: string[],
  ) {
    this.slots = listings.length * HORIZON_DAYS;
    this.start = Math.floor(Math.random() * this.slots);
    // a stride with no factor in common with the slot count visits every slot once per cycle
    let stride = Math.floor(this.slots * 0.618) | 1;
    while (gcd(stride, this.slots) !== 1) stride += 2;
    this.stride = stride;
  }

  /** Reads the bookable listings through the gateway. */
  static async forStack(gateway: string): Promise<Bookings> {
    const client = new HttpClient();
    try {
      const reply = await client.request(`${gateway}/api/listings?limit=100`);
      if (reply.status !== 200) throw new Error(`GET /api/listings answered ${reply.status}`);
      const ids = reply.json<{ items: Array<{ id: string }> }>().items.map((l) => l.id);
      return new Bookings(gateway, ids.sort());
    } finally {
      client.close();
    }
  }

  /** The n-th booking: `POST /api/reservations` with its own listing, night and key. */
  request(n: number): { url: string } & HttpRequestOptions {
    const slot = (this.start + n * this.stride) % this.slots;
    const night = 1 + Math.floor(slot / this.listings.length);
    return {
      url: `${this.gateway}/api/reservations`,
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': `demo-${this.run}-${n}` },
      body: JSON.stringify({
        listingId: this.listings[slot % this.listings.length],
        userId: `demo-${n % 97}`,
        checkIn: day(night),
        checkOut: day(night + 1),
        guests: 1,
      }),
    };
  }
}

/** The reservation id of a booking the service accepted (a sample kept with its reply). */
export function reservationIdOf(sample: Sample): string | undefined {
  if (!sample.reply || (sample.reply.status !== 201 && sample.reply.status !== 202)) return;
  return sample.reply.json<{ id?: string }>().id;
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function day(offset: number): string {
  return new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
}
