import type { ReservationConfig } from '../config';

/**
 * The bounds of one booking and of one user's, and how long an Idempotency-Key
 * is remembered (README, "Service configuration").
 */
export interface BookingRules {
  /** Longest stay, in nights. */
  maxNights: number;
  /** The furthest night that can be booked, in days from today. */
  horizonDays: number;
  /** Active bookings (pending or confirmed, not yet past) one user may hold at once. */
  maxActivePerUser: number;
  /** How long a user's Idempotency-Key is remembered, in seconds: an older one books anew. */
  keyRetentionS: number;
  /**
   * Age of a pending hold past which the reconciler may take it over: a replay
   * of its key finding it older hands it over rather than waiting for its
   * request (which may have died), so a key is never blocked longer.
   */
  reconcileAfterMs: number;
}

export const BOOKING_RULES = Symbol('BOOKING_RULES');

export function bookingRules(c: ReservationConfig): BookingRules {
  return {
    maxNights: c.BOOKING_MAX_NIGHTS,
    horizonDays: c.BOOKING_HORIZON_DAYS,
    maxActivePerUser: c.BOOKING_MAX_ACTIVE_PER_USER,
    keyRetentionS: c.IDEMPOTENCY_KEY_RETENTION_S,
    reconcileAfterMs: c.RECONCILE_AFTER_MS,
  };
}
