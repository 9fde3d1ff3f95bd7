/**
 * Requests through the compose stack's gateway, each with a demo user's token
 * (logged in through the gateway: the auth instances' admin port is not
 * published), and the admin routes, which the gateway never publishes: those
 * go to an instance from inside its container, as an operator with
 * `docker compose exec` would send them.
 */
import { Load } from '@stayline/fault-kit';
import { reservationIdOf } from '@stayline/demo';
import {
  type AccessToken,
  bearer,
  HttpClient,
  login,
  UserTokens,
  waitFor,
} from '@stayline/stack-kit';
import type { ComposeStack } from './compose-stack';

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD`, `days` from today. */
export function day(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

/** The demo users the suites act as (apps/auth's directory; passwords in `DEMO_PASSWORDS`). */
export const USERS = ['alice', 'bob'] as const;

/** A booking body for one night of a listing (the user is the token's subject, never in the body). */
export function booking(listingId: string, night: number): string {
  return JSON.stringify({
    listingId,
    checkIn: day(night),
    checkOut: day(night + 1),
    guests: 1,
  });
}

/**
 * Sets (`PUT`) or clears (`DELETE`) a feature flag through one instance's admin
 * route, with the operator's token (scope `admin`, logged in through the gateway).
 */
export async function adminFlag(
  stack: ComposeStack,
  service: string,
  method: 'PUT' | 'DELETE',
  name: string,
  body?: unknown,
): Promise<void> {
  const token = await stack.adminToken();
  const script = `fetch('http://127.0.0.1:3000/admin/flags/${name}',{method:'${method}',headers:{authorization:'Bearer '+process.argv[2],'content-type':'application/json'},body:process.argv[1]||undefined}).then(async r=>{if(!r.ok){console.error(r.status,await r.text());process.exit(1)}})`;
  await stack.exec(service, [
    'node',
    '-e',
    script,
    body === undefined ? '' : JSON.stringify(body),
    token,
  ]);
}

/** The gateway sync's view: `host:port` of the instances it routes to, per service (its /upstreams, inside the gateway container). */
export async function gatewayUpstreams(stack: ComposeStack): Promise<Record<string, string[]>> {
  const script =
    "fetch('http://127.0.0.1:8081/upstreams').then(r=>r.json()).then(b=>console.log(JSON.stringify(b.upstreams)))";
  return JSON.parse(await stack.exec('gateway', ['node', '-e', script]));
}

/** Whether the gateway routes `service`'s traffic to the container `name` (by name or address). */
export async function routesTo(
  stack: ComposeStack,
  service: string,
  name: string,
): Promise<boolean> {
  const ip = (await stack.known(name)).ip;
  const hosts = ((await gatewayUpstreams(stack))[service] ?? []).map((u) =>
    u.slice(0, u.lastIndexOf(':')),
  );
  return hosts.includes(name) || hosts.includes(ip);
}

/** Polls a gateway GET (with `headers`, e.g. a user's token) until `ok` holds for its JSON body. */
export async function waitForJson<T>(
  http: HttpClient,
  url: string,
  what: string,
  ok: (body: T) => boolean,
  o: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<T> {
  let last: T | undefined;
  await waitFor(
    what,
    async () => {
      const r = await http.request(url, { headers: o.headers, timeoutMs: 5_000 });
      if (r.status !== 200) return false;
      last = r.json<T>();
      return ok(last);
    },
    { timeoutMs: o.timeoutMs ?? 15_000, intervalMs: 200 },
  );
  return last as T;
}

/**
 * The demo users' tokens, logged in through the gateway and held for requests
 * built synchronously (a {@link Load} asks for each request without waiting).
 * They are renewed in the background ({@link UserTokens}: a third of a token's
 * life before it ends), so a run of any length keeps sending valid ones. When a
 * renewal fails (a fault between the gateway and auth), the last token goes on
 * being sent: once it has expired the services answer 401, which the history
 * counts as refused (the request did nothing), never as acknowledged.
 */
export class HeldTokens {
  private readonly current = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  /** The renewal under way, if any: the next look waits for it instead of piling up behind it. */
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly tokens: UserTokens,
    readonly users: readonly string[],
  ) {}

  /**
   * Logs every user in (retried for `timeoutMs`: the stack may be settling
   * after a fault), then looks every `renewEveryMs` whether a token is due.
   */
  static async start(
    gateway: string,
    users: readonly string[] = USERS,
    o: {
      renewEveryMs?: number;
      timeoutMs?: number;
      /** Where tokens come from (default: a login through the gateway). */
      source?: (user: string) => Promise<AccessToken>;
    } = {},
  ): Promise<HeldTokens> {
    const held = new HeldTokens(
      new UserTokens(o.source ?? ((user) => login(gateway, user))),
      users,
    );
    await waitFor(
      `a token for ${users.join(' and ')} through ${gateway}`,
      async () => {
        await held.renew();
        return users.every((u) => held.current.has(u));
      },
      { timeoutMs: o.timeoutMs ?? 60_000, intervalMs: 1_000 },
    );
    held.timer = setInterval(() => void held.renew(), o.renewEveryMs ?? 5_000);
    held.timer.unref();
    return held;
  }

  /** `{ authorization: 'Bearer <token>' }` of the user's latest token. */
  headers(user: string): { authorization: string } {
    const token = this.current.get(user);
    if (token === undefined) throw new Error(`no token held for ${user}`);
    return bearer(token);
  }

  /** The user's token, renewed first when it is due (for requests that can wait for it). */
  async fresh(user: string): Promise<{ authorization: string }> {
    await this.renew();
    return this.headers(user);
  }

  /** Stops renewing. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.renewing;
  }

  private renew(): Promise<void> {
    this.renewing ??= Promise.all(
      this.users.map((u) =>
        this.tokens.token(u).then(
          (t) => void this.current.set(u, t),
          () => undefined, // the last token is kept: until it expires, then 401 (refused)
        ),
      ),
    ).then(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }
}

/** How far ahead a night can be booked (apps/reservation stay-dates.ts: 365 days). */
const HORIZON_DAYS = 364;

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** What the n-th request of a {@link BookingRun} is: a booking, or the cancel of one it made. */
export type Step =
  | { kind: 'book'; key: string; user: string }
  | { kind: 'cancel'; reservationId: string; user: string };

/** One of the run's acknowledged bookings, to cancel. */
interface Made {
  id: string;
  user: string;
}

export interface BookingRunOptions {
  /** Pause between a worker's requests (ms). */
  pauseMs?: number;
  /**
   * Cancel as it goes, keeping at most this many of its bookings live: beyond
   * it, every other request cancels its oldest booking (by the user who made
   * it), so nights come free again and a run of any length keeps writing. A
   * cancel that got no answer, a 5xx, a 503, a 401 or a 422 (still being
   * charged) is sent again later, as a client would. Without it, every
   * request books.
   */
  churn?: number;
}

/**
 * One-night bookings through the gateway from `workers` closed loops, each
 * with its own Idempotency-Key, made in turn by the demo users with their own
 * tokens (renewed as the run goes, {@link HeldTokens}). Every booking takes a
 * (listing, night) slot of its own, visited in an order of the run's own (a
 * random start and a stride prime to the slot count), so none conflicts with
 * another of the run and none is a replay; a night an earlier run left booked
 * answers 409 now and then. With `churn` it also cancels what it booked
 * ({@link BookingRunOptions.churn}); the slots then come round again once
 * every one was visited, and a night still held answers 409.
 */
export class BookingRun {
  private readonly run = Math.random().toString(36).slice(2, 8);
  private readonly slots: number;
  private readonly first: number;
  private readonly stride: number;
  private readonly steps = new Map<number, Step>();
  private booked = 0;
  /** Samples already looked at for acknowledged bookings and cancels to send again. */
  private seen = 0;
  private readonly live: Made[] = [];
  private readonly again: Made[] = [];
  private readonly cancelled = new Set<string>();
  readonly load: Load;

  private constructor(
    private readonly gateway: string,
    readonly tokens: HeldTokens,
    private readonly listings: string[],
    workers: number,
    private readonly o: BookingRunOptions,
  ) {
    this.slots = listings.length * HORIZON_DAYS;
    this.first = Math.floor(Math.random() * this.slots);
    let stride = 1 + Math.floor(Math.random() * (this.slots - 1));
    while (gcd(stride, this.slots) !== 1) stride += 1;
    this.stride = stride;
    this.load = Load.start({
      workers,
      pauseMs: o.pauseMs,
      keepReplies: true,
      request: (n) => this.request(n),
    });
  }

  /** Logs the users in, reads the bookable listings, and starts booking. */
  static async start(
    gateway: string,
    workers: number,
    o: number | BookingRunOptions = {},
  ): Promise<BookingRun> {
    const options = typeof o === 'number' ? { pauseMs: o } : o;
    const tokens = await HeldTokens.start(gateway);
    const http = new HttpClient();
    try {
      const reply = await http.request(`${gateway}/api/listings?limit=100`, {
        headers: tokens.headers(USERS[0]),
      });
      if (reply.status !== 200)
        throw new Error(`GET /api/listings answered ${reply.status}: ${reply.body}`);
      const ids = reply.json<{ items: Array<{ id: string }> }>().items.map((l) => l.id);
      if (!ids.length) throw new Error('GET /api/listings answered no listing');
      return new BookingRun(gateway, tokens, ids.sort(), workers, options);
    } catch (err) {
      await tokens.stop();
      throw err;
    } finally {
      http.close();
    }
  }

  /** The n-th request: a booking (with its Idempotency-Key and user) or a cancel. */
  stepOf(n: number): Step | undefined {
    return this.steps.get(n);
  }

  /** The Idempotency-Key of the n-th request (a booking's; a cancel has none). */
  keyOf(n: number): string {
    const step = this.steps.get(n);
    return step?.kind === 'cancel' ? `cancel-${step.reservationId}` : `compose-${this.run}-${n}`;
  }

  /** The reservation the n-th request cancels, when it is a cancel. */
  cancelOf(n: number): string | undefined {
    const step = this.steps.get(n);
    return step?.kind === 'cancel' ? step.reservationId : undefined;
  }

  /** The user who sent the n-th request (and alone may read or cancel what it booked). */
  userOf(n: number): string {
    return this.steps.get(n)?.user ?? this.tokens.users[n % this.tokens.users.length];
  }

  /** The n-th request: a booking with its own slot, key and user, or (churning) a cancel. */
  request(n: number): {
    url: string;
    method: string;
    headers: Record<string, string>;
    body?: string;
  } {
    this.observe();
    const churn = this.o.churn;
    const cancel =
      churn !== undefined && n % 2 === 1 && (this.again.length || this.live.length > churn)
        ? (this.again.shift() ?? this.live.shift())
        : undefined;
    if (cancel) {
      this.steps.set(n, { kind: 'cancel', reservationId: cancel.id, user: cancel.user });
      return {
        url: `${this.gateway}/api/reservations/${cancel.id}/cancel`,
        method: 'POST',
        headers: this.tokens.headers(cancel.user),
      };
    }
    const user = this.tokens.users[n % this.tokens.users.length];
    const key = `compose-${this.run}-${n}`;
    this.steps.set(n, { kind: 'book', key, user });
    const slot = (this.first + this.booked++ * this.stride) % this.slots;
    const night = 1 + Math.floor(slot / this.listings.length);
    return {
      url: `${this.gateway}/api/reservations`,
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'idempotency-key': key,
        ...this.tokens.headers(user),
      },
      body: booking(this.listings[slot % this.listings.length], night),
    };
  }

  /** Takes in the answers that came since the last look: bookings to cancel, cancels to send again. */
  private observe(): void {
    // the load asks for its first requests while it starts, before it is this.load
    if (!(this.load as Load | undefined)) return;
    const samples = this.load.samples;
    for (; this.seen < samples.length; this.seen++) {
      const s = samples[this.seen];
      const step = this.steps.get(s.n ?? -1);
      if (step?.kind === 'book') {
        const id = reservationIdOf(s);
        if (id) this.live.push({ id, user: step.user });
      } else if (step?.kind === 'cancel') {
        const made = { id: step.reservationId, user: step.user };
        if (s.status >= 200 && s.status < 300) this.cancelled.add(made.id);
        else if (s.status !== 404) this.again.push(made);
      }
    }
  }

  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void> {
    return this.load.stop();
  }

  /**
   * Stops, then cancels what it booked and has not cancelled yet, each by its
   * own user (nights released, charges refunded): the nights stay free for the
   * next suite. Resolves how many were cancelled and how many could not be.
   */
  async finish(concurrency = 16): Promise<{ cancelled: number; failed: number }> {
    await this.stop();
    this.observe();
    const made = [...this.live, ...this.again].filter((m) => !this.cancelled.has(m.id));
    const http = new HttpClient({ maxSockets: concurrency });
    let cancelled = 0;
    let next = 0;
    const worker = async () => {
      while (next < made.length) {
        const { id, user } = made[next++];
        const reply = await this.tokens
          .fresh(user)
          .then((headers) =>
            http.request(`${this.gateway}/api/reservations/${id}/cancel`, {
              method: 'POST',
              headers,
            }),
          )
          .catch(() => undefined);
        if (reply && reply.status < 300) cancelled++;
      }
    };
    try {
      await Promise.all(Array.from({ length: concurrency }, worker));
    } finally {
      http.close();
      await this.tokens.stop();
    }
    return { cancelled, failed: made.length - cancelled };
  }
}
