/**
 * Bookings as load: distinct one-night stays (no conflict, no replay), each with
 * its own Idempotency-Key, made by a set of users whose tokens were issued before.
 */
import {
  LOAD_GATEWAY_LIMITS,
  type Stack,
  startWholeStack,
  UserTokens,
  waitFor,
  type WholeStackOptions,
} from '@stayline/stack-kit';

/**
 * The whole stack as `npm run stack:up` runs it (MariaDB x3 semi-sync, Redis
 * with Sentinels, etcd, the failover agents, 2 instances of every service,
 * the gateway sync, the dashboard, nginx), with LOAD_GATEWAY_LIMITS: one
 * address books as fast as it can, where the production limits would measure
 * the limits. BENCH_VERBOSE prints its start.
 */
export function startLoadStack(services?: WholeStackOptions['services']): Promise<Stack> {
  return startWholeStack({
    log: process.env.BENCH_VERBOSE ? (line) => console.error(line) : undefined,
    replicas: 2,
    sentinel: true,
    nginx: true,
    gatewayLimits: LOAD_GATEWAY_LIMITS,
    services,
  });
}

/**
 * The headers of users `<prefix>0` to `<prefix><count - 1>`, their tokens
 * issued by the stack's auth, a few at a time: each is a login with a
 * password hash, on the cores the stack runs on.
 */
export async function userHeaders(
  stack: Stack,
  prefix: string,
  count: number,
): Promise<Array<Record<string, string>>> {
  const tokens = UserTokens.of(stack);
  const users: Array<Record<string, string>> = [];
  for (let i = 0; i < count; i += 4)
    users.push(
      ...(await Promise.all(
        Array.from({ length: Math.min(4, count - i) }, (_, j) =>
          tokens.headers(`${prefix}${i + j}`),
        ),
      )),
    );
  return users;
}

export const LISTINGS = ['seoul', 'busan', 'jeju', 'gangneung', 'jeonju'].flatMap((city) =>
  Array.from({ length: 12 }, (_, i) => `${city}-${String(i + 1).padStart(2, '0')}`),
);

const day = (offset: number) =>
  new Date(Date.now() + offset * 86_400_000).toISOString().slice(0, 10);

/** The n-th distinct one-night booking's body: 60 listings x 364 nights. */
export function booking(n: number): string {
  const offset = 1 + (Math.floor(n / LISTINGS.length) % 364);
  return JSON.stringify({
    listingId: LISTINGS[n % LISTINGS.length],
    checkIn: day(offset),
    checkOut: day(offset + 1),
    guests: 1,
  });
}

export interface BookingRun {
  /** Answered 201. */
  ok: number;
  /** Any other answer or a network error, with the first few statuses seen. */
  failed: number;
  firstFailures: string[];
  ms: number;
}

/**
 * Books the stays `from` ... `from + count - 1` through `gatewayUrl`, `concurrency`
 * at a time (fetch, keep-alive), booking n made by `users[n % users.length]`;
 * with `latencies`, each 201's time from send to the end of its body is pushed there (ms).
 */
export async function bookMany(
  gatewayUrl: string,
  users: ReadonlyArray<Record<string, string>>,
  o: {
    from: number;
    count: number;
    concurrency: number;
    keyPrefix: string;
    latencies?: number[];
  },
): Promise<BookingRun> {
  const run: BookingRun = { ok: 0, failed: 0, firstFailures: [], ms: 0 };
  let next = o.from;
  const end = o.from + o.count;
  const t0 = performance.now();
  const worker = async () => {
    while (next < end) {
      const n = next++;
      const sent = performance.now();
      try {
        const res = await fetch(`${gatewayUrl}/api/reservations`, {
          method: 'POST',
          headers: {
            ...users[n % users.length],
            'content-type': 'application/json',
            'idempotency-key': `${o.keyPrefix}-${n}`,
          },
          body: booking(n),
        });
        const text = await res.text();
        if (res.status === 201) {
          run.ok++;
          o.latencies?.push(performance.now() - sent);
        } else {
          run.failed++;
          if (run.firstFailures.length < 5)
            run.firstFailures.push(`${res.status} ${text.slice(0, 200)}`);
        }
      } catch (err) {
        run.failed++;
        if (run.firstFailures.length < 5) run.firstFailures.push(String(err));
      }
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  run.ms = performance.now() - t0;
  return run;
}

/**
 * Cancels the stays of the users whose ids start with `userPrefix` in SQL, frees their
 * nights (a later step books them again) and waits for the outbox to drain (the next
 * step does not pay for what this one confirmed); `log` says so if it does not in 30 s.
 */
export async function freeNights(
  stack: Stack,
  userPrefix: string,
  log: (line: string) => void,
): Promise<void> {
  await stack.query(
    'reservation',
    'DELETE b FROM booked_nights b JOIN reservations r ON r.id = b.reservation_id WHERE r.user_id LIKE ?',
    [`${userPrefix}%`],
  );
  await stack.query(
    'reservation',
    "UPDATE reservations SET status = 'CANCELLED' WHERE user_id LIKE ? AND status IN ('CONFIRMED', 'PENDING_PAYMENT')",
    [`${userPrefix}%`],
  );
  await waitFor(
    'the outbox to drain',
    async () => {
      const [row] = await stack.query<{ n: number }>(
        'reservation',
        'SELECT COUNT(*) AS n FROM outbox WHERE published_at IS NULL',
      );
      return Number(row.n) === 0;
    },
    { timeoutMs: 30_000, intervalMs: 250 },
  ).catch(() => log('the outbox did not drain within 30 s; going on'));
}
