import { HttpClient, HttpRequestOptions } from '@stayline/stack-kit';
import { Demo } from './demo';
import { Load, Sample } from '@stayline/fault-kit';
import { DemoUsers } from './users';

const DAY_MS = 86_400_000;
/** How far ahead a night can be booked (apps/reservation stay-dates.ts: 365 days). */
const HORIZON_DAYS = 364;

/**
 * Distinct one-night bookings for a {@link Load}: every request a listing and
 * night of its own and its own Idempotency-Key, so none conflicts with another
 * of the run and none is a replay. Each run visits the (listing, night) slots
 * in an order of its own (a random start and a random stride), so a night an
 * earlier run left booked is met now and then, never in a long streak (such a
 * booking answers 409 and never reaches payment). The bookings are made by the
 * demo's users in turn (each with its own token, the booker being the token's
 * subject), and each is cancelled by the user who made it: another user's booking
 * is not found. A demo gives the nights back at its end ({@link Bookings.load}).
 *
 * @example
 *   const users = await DemoUsers.login(d, ['alice', 'bob']);
 *   const bookings = await Bookings.forStack(d.gateway, users);
 *   const load = bookings.load(d, { workers: 8 });
 */
export class Bookings {
  private readonly run = Math.random().toString(36).slice(2, 8);
  private readonly slots: number;
  private readonly start: number;
  private readonly stride: number;

  private constructor(
    private readonly gateway: string,
    private readonly users: DemoUsers,
    private readonly listings: string[],
  ) {
    this.slots = listings.length * HORIZON_DAYS;
    this.start = Math.floor(Math.random() * this.slots);
    // a stride with no factor in common with the slot count visits every slot once per cycle
    let stride = 1 + Math.floor(Math.random() * (this.slots - 1));
    while (gcd(stride, this.slots) !== 1) stride += 1;
    this.stride = stride;
  }

  /** Reads the bookable listings through the gateway, as the first of the users. */
  static async forStack(gateway: string, users: DemoUsers): Promise<Bookings> {
    const client = new HttpClient();
    try {
      const reply = await client.request(`${gateway}/api/listings?limit=100`, {
        headers: users.headers(),
      });
      if (reply.status !== 200)
        throw new Error(`GET /api/listings answered ${reply.status}: ${reply.body}`);
      const ids = reply.json<{ items: Array<{ id: string }> }>().items.map((l) => l.id);
      return new Bookings(gateway, users, ids.sort());
    } finally {
      client.close();
    }
  }

  /**
   * Starts a booking load whose answers are kept, and has the demo cancel
   * what it booked once it has stopped (cleanups run last-first). `from`
   * skips the slots an earlier load of the run used.
   */
  load(d: Demo, o: { workers: number; pauseMs?: number; from?: number }): Load {
    const from = o.from ?? 0;
    d.onCleanup('cancel the bookings made', async () => {
      const made = load.samples.flatMap((s) => {
        const id = reservationIdOf(s);
        return id ? [{ id, headers: this.users.headers(this.userOf((s.n ?? 0) + from)) }] : [];
      });
      const { cancelled, failed } = await cancelBookings(this.gateway, made);
      d.say(
        `cancelled the ${cancelled} bookings of this load (nights released, charges refunded)` +
          (failed ? `; ${failed} could not be` : ''),
      );
    });
    const load = Load.start({
      workers: o.workers,
      pauseMs: o.pauseMs,
      keepReplies: true,
      request: (n) => this.request(n + from),
    });
    d.onCleanup('stop the bookings', () => load.stop());
    return load;
  }

  /** The Idempotency-Key of the n-th booking. */
  keyOf(n: number): string {
    return `demo-${this.run}-${n}`;
  }

  /** The user who makes the n-th booking: the demo's users in turn. */
  userOf(n: number): string {
    return this.users.nth(n);
  }

  /**
   * The n-th booking: `POST /api/reservations` with its own listing, night and
   * key, sent with the token of {@link userOf}.
   */
  request(n: number): { url: string } & HttpRequestOptions {
    const slot = (this.start + n * this.stride) % this.slots;
    const night = 1 + Math.floor(slot / this.listings.length);
    return {
      url: `${this.gateway}/api/reservations`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': this.keyOf(n),
        ...this.users.headers(this.userOf(n)),
      },
      body: JSON.stringify({
        listingId: this.listings[slot % this.listings.length],
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

/**
 * Cancels bookings (nights released, charges refunded), each with its booker's
 * token, so that a stack used for demo after demo keeps its nights free: a demo
 * puts back what it wrote, too. Resolves how many were cancelled and how many
 * could not be.
 */
export async function cancelBookings(
  gateway: string,
  bookings: Array<{ id: string; headers: Record<string, string> }>,
  concurrency = 16,
): Promise<{ cancelled: number; failed: number }> {
  const client = new HttpClient({ maxSockets: concurrency });
  let cancelled = 0;
  let next = 0;
  const worker = async () => {
    while (next < bookings.length) {
      const { id, headers } = bookings[next++];
      const reply = await client
        .request(`${gateway}/api/reservations/${id}/cancel`, { method: 'POST', headers })
        .catch(() => undefined);
      if (reply && reply.status < 300) cancelled++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    client.close();
  }
  return { cancelled, failed: bookings.length - cancelled };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function day(offset: number): string {
  return new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
}
