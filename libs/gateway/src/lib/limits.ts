/**
 * What the gateway allows each client, so that a cheap request cannot hold a
 * scarce resource, and what it tells them about the machines behind it
 * (docs/patterns/load-balancing.md, "Limits, errors and the request id";
 * docs/security.md, "Edge").
 */
export interface GatewayLimits {
  /**
   * Bookings (`POST /api/reservations`) per client address, as nginx writes a
   * rate: `1r/s`, `30r/m`. Past it, and past `bookingBurst`, nginx answers 429.
   */
  bookingRate: string;
  /** Bookings above the rate one address may send at once. */
  bookingBurst: number;
  /**
   * Requests to `/api/` per bearer token, every method, as nginx writes a rate.
   * A client spread over many addresses with one token is one client here; a
   * request without a well-formed `Bearer` token is not counted (the services
   * answer it 401; the per-address limits still hold). Past it, and past
   * `tokenRequestBurst`, nginx answers 429.
   */
  tokenRequestRate: string;
  /** Requests above the rate one token may send at once. */
  tokenRequestBurst: number;
  /**
   * Bookings per bearer token, stricter than {@link tokenRequestRate}: one
   * user's bookings from any number of addresses, and each user's own behind
   * one address (NAT), apart from the others'.
   */
  tokenBookingRate: string;
  /** Bookings above the rate one token may send at once. */
  tokenBookingBurst: number;
  /**
   * Requests one client address may have in progress at once (nginx's
   * `limit_conn`: a connection counts while nginx works on a request on it; an
   * idle keep-alive connection does not). Past it nginx answers 429.
   */
  connectionsPerClient: number;
  /**
   * Whether the services' `X-Instance-Id` (which instance answered) reaches the
   * client. It names the machines behind the gateway, so production hides it;
   * the stacks that show load balancing (demos, benches, test stacks) keep it.
   */
  exposeInstanceId: boolean;
}

/**
 * The production limits. A person books a few stays a day; an address that
 * books more than 5 at once and then more than one a second is a script. This
 * slows a script that would hold every night of every listing (60 listings x
 * 365 nights / 30 nights a booking: about 730 bookings) from seconds to
 * minutes; spread over many addresses, it meets the per-token limits. One token
 * books 5 at once and then one every 2 s (30r/m), whatever its addresses, and
 * sends 50 requests at once and then 10 a second to the API: far above what a
 * person's browser or a walk through the README sends, far below a script's
 * flood. A client that logs in again gets another token, so the per-user cap
 * on active bookings (reservation) is what bounds a user; these bound the rate.
 * A browser opens about 6 connections to a host, a household or an office
 * behind one address a few times that: 64 requests at once is far above them,
 * and far below what ties up the gateway's 4096 connections per worker.
 */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = {
  bookingRate: '1r/s',
  bookingBurst: 5,
  tokenRequestRate: '10r/s',
  tokenRequestBurst: 50,
  tokenBookingRate: '30r/m',
  tokenBookingBurst: 5,
  connectionsPerClient: 64,
  exposeInstanceId: false,
};

/** nginx counts a client's connections in 16 bits: `limit_conn` takes 1 to 65535. */
export const MAX_CONNECTIONS_PER_CLIENT = 65_535;

const RATE = /^([1-9]\d{0,5})r\/([sm])$/;

/** Whether `rate` is written the way nginx's `limit_req_zone` takes it (`5r/s`, `30r/m`). */
export function isRequestRate(rate: string): boolean {
  return RATE.test(rate);
}

/** Whether `n` is a burst nginx's `limit_req` takes: a whole number of requests, 0 or more. */
export function isBurst(n: number): boolean {
  return Number.isInteger(n) && n >= 0;
}

/** Whether `n` is a connection limit nginx's `limit_conn` takes (a whole number, 1 to 65535). */
export function isConnectionLimit(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= MAX_CONNECTIONS_PER_CLIENT;
}

/** The `Retry-After` of a refused request: the seconds until the rate lets one more through. */
export function retryAfterSeconds(rate: string): number {
  const m = RATE.exec(rate);
  if (!m)
    throw new Error(`a rate is requests per second or minute, e.g. "1r/s" or "30r/m": ${rate}`);
  const perSecond = m[2] === 's' ? Number(m[1]) : Number(m[1]) / 60;
  return Math.max(1, Math.ceil(1 / perSecond));
}

/** The rates and bursts of {@link GatewayLimits}, each with the burst that goes with it. */
export const LIMIT_RATES = [
  ['bookingRate', 'bookingBurst'],
  ['tokenRequestRate', 'tokenRequestBurst'],
  ['tokenBookingRate', 'tokenBookingBurst'],
] as const satisfies ReadonlyArray<readonly [keyof GatewayLimits, keyof GatewayLimits]>;

/** What nginx would not take in `limits`, one line each; empty when it takes them all. */
export function gatewayLimitsProblems(limits: GatewayLimits): string[] {
  const problems: string[] = [];
  for (const [rate, burst] of LIMIT_RATES) {
    if (!isRequestRate(limits[rate]))
      problems.push(
        `${rate}: a rate is requests per second or minute, e.g. "1r/s" or "30r/m": ${limits[rate]}`,
      );
    if (!isBurst(limits[burst]))
      problems.push(`${burst} is a whole number of requests: ${limits[burst]}`);
  }
  if (!isConnectionLimit(limits.connectionsPerClient))
    problems.push(
      `connectionsPerClient is a whole number from 1 to 65535: ${limits.connectionsPerClient}`,
    );
  if (typeof limits.exposeInstanceId !== 'boolean')
    problems.push(`exposeInstanceId is true or false: ${String(limits.exposeInstanceId)}`);
  return problems;
}
