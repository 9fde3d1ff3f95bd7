import path from 'node:path';
import {
  AccessToken,
  bearer,
  issueToken,
  login,
  REPO_ROOT,
  Stack,
  UserTokens,
} from '@stayline/stack-kit';
import type { HttpAnswer, HttpCall, HttpSender } from './http-sender';
import type { Arrival, Outcome } from './open-load';
import type { Kind } from './options';

/** The demo users a small run logs in as, through the gateway (README, "Quick start"). */
export const DEMO_USERS = ['alice', 'bob'] as const;
const DAY_MS = 86_400_000;
/** Nights ahead a booking may take: 1 to 364 (apps/reservation stay-dates.ts: 365 days). */
const HORIZON_DAYS = 364;
/** How often the held tokens are looked at; {@link UserTokens} renews one with a third of its life left. */
const RENEW_CHECK_MS = 30_000;
const SETUP_TIMEOUT_MS = 10_000;

/**
 * The users a run acts as and their tokens, held so that a request is built
 * without waiting (the clock of an arrival never includes issuing a token),
 * and renewed by a timer before they expire. Up to two users: the demo users
 * alice and bob, logged in through the gateway (`POST /api/auth/token`, their
 * dev-only passwords) as the README does. More: users `load-1` to `load-N`,
 * their tokens issued by one of the stack's auth instances on its operator
 * route (`POST /admin/tokens`), as the benches and demos do for many users; the
 * stack is found through its state dir (STAYLINE_STATE_DIR, else `.stack`).
 */
export class LoadUsers {
  private readonly held = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly names: readonly string[],
    private readonly tokens: UserTokens,
  ) {
    this.timer = setInterval(() => void this.renew().catch(() => undefined), RENEW_CHECK_MS);
    this.timer.unref();
  }

  static async start(o: {
    url: string;
    count: number;
    env?: NodeJS.ProcessEnv;
  }): Promise<{ users: LoadUsers; how: string }> {
    let names: string[];
    let source: (user: string) => Promise<AccessToken>;
    let how: string;
    if (o.count <= DEMO_USERS.length) {
      names = DEMO_USERS.slice(0, o.count);
      source = (user) => login(o.url, user);
      how = `logged in as ${names.join(' and ')} through the gateway (POST /api/auth/token)`;
    } else {
      const stateDir = path.resolve(
        (o.env ?? process.env).STAYLINE_STATE_DIR ?? path.join(REPO_ROOT, '.stack'),
      );
      const stack = Stack.attach(stateDir);
      if (!stack)
        throw new Error(
          `--users ${o.count}: more than ${DEMO_USERS.length} users need tokens issued by the stack's auth, and no stack state is in ${stateDir} (set STAYLINE_STATE_DIR, or use --users ${DEMO_USERS.length} or fewer)`,
        );
      names = Array.from({ length: o.count }, (_, i) => `load-${i + 1}`);
      source = (user) => issueToken(stack, user);
      how = `tokens for ${names[0]} to ${names.at(-1)} issued by auth's operator route (POST /admin/tokens)`;
    }
    const users = new LoadUsers(names, new UserTokens(source));
    try {
      await users.renew();
    } catch (err) {
      users.close();
      throw err;
    }
    return { users, how };
  }

  /** The user of the n-th request of a kind: the users in turn. */
  nth(n: number): string {
    return this.names[n % this.names.length];
  }

  headers(user: string): { authorization: string } {
    const token = this.held.get(user);
    if (!token) throw new Error(`no token held for ${user}`);
    return bearer(token);
  }

  /** Fetches the token of every user whose token is due (all of them the first time). */
  private async renew(): Promise<void> {
    await Promise.all(
      this.names.map(async (user) => this.held.set(user, await this.tokens.token(user))),
    );
  }

  close(): void {
    clearInterval(this.timer);
  }
}

interface Listing {
  id: string;
  city: string;
}

interface Held {
  id: string;
  user: string;
}

/** What the run did to the calendar (bookings made and cancelled through the mix). */
export interface BookingCounts {
  /** Booked before the clock started, so the first cancels have something to cancel. */
  seeded: number;
  /** Confirmed bookings made by the measured `book` arrivals. */
  made: number;
  /** Bookings cancelled by the measured `cancel` arrivals. */
  cancelled: number;
}

/**
 * The stayline mix (docs/load.md, "The mix"), each request with its user's token:
 * - `browse`: `GET /api/listings?limit=20`, every other one for one city;
 * - `bookings`: `GET /api/reservations`, the user's own bookings;
 * - `book`: `POST /api/reservations` with its own `Idempotency-Key`, one night
 *   of one listing; the run walks the (listing, night) pairs in an order of its
 *   own and takes each once, so a booking conflicts only with one another
 *   client (or an earlier run kept with `--keep`) holds: mostly they succeed;
 * - `cancel`: `POST /api/reservations/<id>/cancel` of the run's oldest
 *   confirmed booking still held, by the user who made it.
 * 409 and 429 are refusals; other 4xx, 5xx and no answer are errors.
 */
export class StaylineTraffic {
  private readonly run = Math.random().toString(36).slice(2, 8);
  private readonly slots: Array<{ listing: string; night: number }>;
  private readonly cities: string[];
  private readonly pool: Held[] = [];
  private nextSlot = 0;
  private readonly counters: Record<Kind, number> = { browse: 0, bookings: 0, book: 0, cancel: 0 };
  readonly counts: BookingCounts = { seeded: 0, made: 0, cancelled: 0 };

  private constructor(
    private readonly sender: HttpSender,
    private readonly users: LoadUsers,
    listings: Listing[],
  ) {
    this.cities = [...new Set(listings.map((l) => l.city))].sort();
    this.slots = shuffle(
      listings.flatMap((l) =>
        Array.from({ length: HORIZON_DAYS }, (_, i) => ({ listing: l.id, night: i + 1 })),
      ),
    );
  }

  /** Reads the bookable listings through the gateway, as the first user. */
  static async prepare(sender: HttpSender, users: LoadUsers): Promise<StaylineTraffic> {
    const a = await sender.send(
      { method: 'GET', path: '/api/listings?limit=100', headers: users.headers(users.nth(0)) },
      performance.now() + SETUP_TIMEOUT_MS,
    );
    if (a.status !== 200)
      throw new Error(`GET /api/listings answered ${a.status || a.error}: ${a.body}`);
    const listings = (JSON.parse(a.body) as { items: Listing[] }).items;
    if (!listings.length) throw new Error('GET /api/listings: no listing to book');
    return new StaylineTraffic(sender, users, listings);
  }

  /** (listing, night) pairs one run can book before it conflicts with itself. */
  get capacity(): number {
    return this.slots.length;
  }

  /** Sends one arrival of the mix. */
  async send(a: Arrival<Kind>): Promise<Outcome> {
    const i = this.counters[a.kind]++;
    if (a.kind === 'cancel') {
      const booking = this.pool.shift();
      if (!booking) return { verdict: 'skipped', status: 0, reason: 'no booking to cancel' };
      const answer = await this.sender.send(this.cancelCall(booking), a.deadline);
      const outcome = verdict(answer);
      if (outcome.verdict === 'ok') this.counts.cancelled++;
      return outcome;
    }
    if (a.kind === 'book') {
      const user = this.users.nth(i);
      const answer = await this.sender.send(this.bookCall(user, `${a.n}`), a.deadline);
      if (this.keep(answer, user)) this.counts.made++;
      return verdict(answer);
    }
    const user = this.users.nth(i);
    const headers = this.users.headers(user);
    const call: HttpCall =
      a.kind === 'browse'
        ? {
            method: 'GET',
            path: `/api/listings?limit=20${i % 2 ? `&city=${encodeURIComponent(this.cities[(i >> 1) % this.cities.length])}` : ''}`,
            headers,
          }
        : { method: 'GET', path: '/api/reservations', headers };
    return verdict(await this.sender.send(call, a.deadline));
  }

  /**
   * Books `count` nights before the clock starts (8 at a time), so the first
   * cancels of the mix have something to cancel; not part of the figures.
   */
  async seed(count: number): Promise<void> {
    let next = 0;
    const worker = async () => {
      while (next < count) {
        const user = this.users.nth(next);
        const answer = await this.sender.send(
          this.bookCall(user, `seed-${next++}`),
          performance.now() + SETUP_TIMEOUT_MS,
        );
        if (this.keep(answer, user)) this.counts.seeded++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, count) }, worker));
  }

  /**
   * Cancels what the run still holds (after the measurement), 16 at a time;
   * one that could not be is tried again in up to 3 more rounds, 2, 4 and 6 s
   * later (an overloaded gateway marks its upstreams down for a few seconds).
   * `failed` counts what was still not cancelled, by the last reason.
   */
  async cleanup(): Promise<{ cancelled: number; failed: Record<string, number> }> {
    let todo = this.pool.splice(0);
    let cancelled = 0;
    let failed: Record<string, number> = {};
    for (let round = 0; round < 4 && todo.length; round++) {
      if (round) await new Promise((r) => setTimeout(r, 2_000 * round));
      const left: Array<{ booking: Held; reason: string }> = [];
      let next = 0;
      const worker = async () => {
        while (next < todo.length) {
          const booking = todo[next++];
          const o = verdict(
            await this.sender.send(this.cancelCall(booking), performance.now() + 30_000),
          );
          if (o.verdict === 'ok') cancelled++;
          else left.push({ booking, reason: o.reason ?? 'no answer' });
        }
      };
      await Promise.all(Array.from({ length: 16 }, worker));
      todo = left.map((l) => l.booking);
      failed = {};
      for (const { reason } of left) failed[reason] = (failed[reason] ?? 0) + 1;
    }
    return { cancelled, failed };
  }

  /** Confirmed bookings of the run not cancelled (yet). */
  get held(): number {
    return this.pool.length;
  }

  private bookCall(user: string, key: string): HttpCall {
    const slot = this.slots[this.nextSlot++ % this.slots.length];
    return {
      method: 'POST',
      path: '/api/reservations',
      headers: {
        ...this.users.headers(user),
        'content-type': 'application/json',
        'idempotency-key': `load-${this.run}-${key}`,
      },
      body: JSON.stringify({
        listingId: slot.listing,
        checkIn: day(slot.night),
        checkOut: day(slot.night + 1),
        guests: 1,
      }),
    };
  }

  private cancelCall(b: Held): HttpCall {
    return {
      method: 'POST',
      path: `/api/reservations/${b.id}/cancel`,
      headers: this.users.headers(b.user),
    };
  }

  /** A confirmed booking joins the pool the cancels draw from. */
  private keep(a: HttpAnswer, user: string): boolean {
    if (a.status !== 201) return false;
    const r = parse(a.body) as { id?: string; status?: string } | undefined;
    if (!r?.id || r.status !== 'CONFIRMED') return false;
    this.pool.push({ id: r.id, user });
    return true;
  }
}

/** ok: 2xx; refused: 409 (nights taken, a cap) and 429 (a limit); any other answer, or none: error. */
export function verdict(a: HttpAnswer): Outcome {
  const base = { status: a.status, sentAt: a.sentAt };
  if (a.status === 0) return { ...base, verdict: 'error', reason: a.error ?? 'no answer' };
  if (a.status >= 200 && a.status < 300) return { ...base, verdict: 'ok' };
  const code = (parse(a.body) as { error?: unknown } | undefined)?.error;
  const reason = `${a.status}${typeof code === 'string' ? ` ${code}` : ''}`;
  if (a.status === 409 || a.status === 429) return { ...base, verdict: 'refused', reason };
  return { ...base, verdict: 'error', reason };
}

function parse(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function day(offset: number): string {
  return new Date(Date.now() + offset * DAY_MS).toISOString().slice(0, 10);
}
