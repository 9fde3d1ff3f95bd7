/**
 * What the gateway bounds per client, so that a cheap request cannot hold a
 * scarce resource (docs/patterns/load-balancing.md, "Limits, errors and the
 * request id").
 */
export interface GatewayLimits {
  /**
   * Bookings (`POST /api/reservations`) per client address, as nginx writes a
   * rate: `1r/s`, `30r/m`. Past it, and past `bookingBurst`, nginx answers 429.
   */
  bookingRate: string;
  /** Bookings above the rate one address may send at once. */
  bookingBurst: number;
}

/**
 * The production limits. A person books a few stays a day; an address that
 * books more than 5 at once and then more than one a second is a script. This
 * slows a script that would hold every night of every listing (60 listings x
 * 365 nights / 30 nights a booking: about 730 bookings) from seconds to
 * minutes; it cannot stop one spread over many addresses (that needs per-user
 * quotas, which need authenticated users).
 */
export const DEFAULT_GATEWAY_LIMITS: GatewayLimits = { bookingRate: '1r/s', bookingBurst: 5 };

const RATE = /^([1-9]\d{0,5})r\/([sm])$/;

/** Whether `rate` is written the way nginx's `limit_req_zone` takes it (`5r/s`, `30r/m`). */
export function isRequestRate(rate: string): boolean {
  return RATE.test(rate);
}

/** The `Retry-After` of a refused request: the seconds until the rate lets one more through. */
export function retryAfterSeconds(rate: string): number {
  const m = RATE.exec(rate);
  if (!m)
    throw new Error(`a rate is requests per second or minute, e.g. "1r/s" or "30r/m": ${rate}`);
  const perSecond = m[2] === 's' ? Number(m[1]) : Number(m[1]) / 60;
  return Math.max(1, Math.ceil(1 / perSecond));
}
