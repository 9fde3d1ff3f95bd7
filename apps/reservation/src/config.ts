import { loadConfig, serviceConfigSchema } from '@stayline/service-runtime';
import { z } from 'zod';

const ms = (fallback: number) => z.coerce.number().int().positive().default(fallback);

export const reservationConfigSchema = serviceConfigSchema('reservation', {
  /** Attempt timeout of a payment call (essential). */
  PAYMENT_TIMEOUT_MS: ms(1_000),
  /** Attempt timeout of a ranking call (non-essential): the listing page is never slower than this. The seed's 300 ms. */
  RECOMMENDATION_TIMEOUT_MS: ms(300),
  /** Consecutive failures that open a breaker (the seed's 3). */
  BREAKER_THRESHOLD: z.coerce.number().int().min(1).default(3),
  /** How long a breaker stays open before a trial call (the seed's 20 s). */
  BREAKER_RESET_MS: ms(20_000),
  /** Client-side load balancing towards payment and recommendation. */
  LB_STRATEGY: z.enum(['round-robin', 'power-of-two']).default('round-robin'),
  /** A PENDING_PAYMENT reservation older than this is settled by the reconciler. */
  RECONCILE_AFTER_MS: ms(2_000),
  /** Longest stay one booking may hold, in nights. */
  BOOKING_MAX_NIGHTS: z.coerce.number().int().min(1).max(365).default(30),
  /** How far ahead a night can be booked, in days from today. */
  BOOKING_HORIZON_DAYS: z.coerce.number().int().min(1).max(3_650).default(365),
  /**
   * Bookings one user may hold at once: active ones, not cancelled or failed
   * and not yet past (check-out after today). One more is refused with 409
   * `booking_limit_reached`; cancelling frees a slot. The default, 100, is far
   * above what the project's own load makes (97 users, a few dozen each; the
   * partition workload keeps each user under 60).
   */
  BOOKING_MAX_ACTIVE_PER_USER: z.coerce.number().int().min(1).default(100),
  /**
   * How long a user's Idempotency-Key is remembered, in seconds (default 24 h).
   * Within it the same key and request replay the booking; past it the key is
   * no longer matched (the same key books anew) and the leader's sweep deletes
   * its row.
   */
  IDEMPOTENCY_KEY_RETENTION_S: z.coerce.number().int().min(1).default(86_400),
});
export type ReservationConfig = z.infer<typeof reservationConfigSchema>;

export function reservationConfig(env: NodeJS.ProcessEnv = process.env): ReservationConfig {
  return loadConfig(reservationConfigSchema, env);
}
