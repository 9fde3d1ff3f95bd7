import type { ReservationConfig } from '../config';

/**
 * The bounds of one booking, and how long a replayed one waits for the first
 * (README, "Service configuration").
 */
export interface BookingRules {
  /** Longest stay, in nights. */
  maxNights: number;
  /** The furthest night that can be booked, in days from today. */
  horizonDays: number;
  /** How long a request whose Idempotency-Key belongs to a booking still being charged waits for its outcome. */
  replayWaitMs: number;
}

export const BOOKING_RULES = Symbol('BOOKING_RULES');

export function bookingRules(c: ReservationConfig): BookingRules {
  return {
    maxNights: c.BOOKING_MAX_NIGHTS,
    horizonDays: c.BOOKING_HORIZON_DAYS,
    replayWaitMs: c.REPLAY_WAIT_MS,
  };
}
