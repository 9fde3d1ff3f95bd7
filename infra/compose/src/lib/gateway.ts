/**
 * Requests through the compose stack's gateway, and the admin routes, which the
 * gateway never publishes: those go to an instance from inside its container,
 * as an operator with `docker compose exec` would send them.
 */
import { Load } from '@stayline/fault-kit';
import { Bookings, cancelBookings } from '@stayline/demo';
import { HttpClient, waitFor } from '@stayline/stack-kit';
import type { ComposeStack } from './compose-stack';

const DAY_MS = 86_400_000;

/** `YYYY-MM-DD`, `days` from today. */
export function day(days: number): string {
  return new Date(Date.now() + days * DAY_MS).toISOString().slice(0, 10);
}

/** A booking body for one night of a listing. */
export function booking(listingId: string, userId: string, night: number): string {
  return JSON.stringify({
    listingId,
    userId,
    checkIn: day(night),
    checkOut: day(night + 1),
    guests: 1,
  });
}

/** Sets (`PUT`) or clears (`DELETE`) a feature flag through one instance's admin route. */
export async function adminFlag(
  stack: ComposeStack,
  service: string,
  method: 'PUT' | 'DELETE',
  name: string,
  body?: unknown,
): Promise<void> {
  const script = `fetch('http://127.0.0.1:3000/admin/flags/${name}',{method:'${method}',headers:{authorization:'Bearer '+process.env.ADMIN_TOKEN,'content-type':'application/json'},body:process.argv[1]||undefined}).then(async r=>{if(!r.ok){console.error(r.status,await r.text());process.exit(1)}})`;
  await stack.exec(service, ['node', '-e', script, body === undefined ? '' : JSON.stringify(body)]);
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

/** Polls a gateway GET until `ok` holds for its JSON body. */
export async function waitForJson<T>(
  http: HttpClient,
  url: string,
  what: string,
  ok: (body: T) => boolean,
  timeoutMs = 15_000,
): Promise<T> {
  let last: T | undefined;
  await waitFor(
    what,
    async () => {
      const r = await http.request(url, { timeoutMs: 5_000 });
      if (r.status !== 200) return false;
      last = r.json<T>();
      return ok(last);
    },
    { timeoutMs, intervalMs: 200 },
  );
  return last as T;
}

/**
 * Distinct one-night bookings through the gateway, each with its own
 * Idempotency-Key (the demo kit's {@link Bookings}), from `workers` closed loops.
 */
export class BookingRun {
  private constructor(
    private readonly gateway: string,
    readonly load: Load,
    readonly bookings: Bookings,
  ) {}

  static async start(gateway: string, workers: number, pauseMs?: number): Promise<BookingRun> {
    const bookings = await Bookings.forStack(gateway);
    return new BookingRun(
      gateway,
      Load.start({ workers, pauseMs, keepReplies: true, request: (n) => bookings.request(n) }),
      bookings,
    );
  }

  /** The Idempotency-Key of the n-th booking. */
  keyOf(n: number): string {
    return this.bookings.keyOf(n);
  }

  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<void> {
    return this.load.stop();
  }

  /** Stops, then cancels what it booked: the nights stay free for the next suite. */
  async finish(): Promise<void> {
    await this.stop();
    await cancelBookings(this.gateway, this.load.samples);
  }
}
