import { BadRequestException } from '@nestjs/common';
import type { BookingRules } from './booking-rules';

/** The bounds of one stay: the defaults of BOOKING_MAX_NIGHTS and BOOKING_HORIZON_DAYS. */
export const DEFAULT_STAY_LIMITS: StayLimits = { maxNights: 30, horizonDays: 365 };

export type StayLimits = Pick<BookingRules, 'maxNights' | 'horizonDays'>;

const DAY_MS = 86_400_000;

function parseDay(value: string, field: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const t = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : NaN;
  // Date.UTC rolls 2026-02-30 over to March: a real date must survive the round trip
  if (!m || Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== value) {
    throw new BadRequestException({
      error: 'validation_failed',
      message: `${field} must be a date as YYYY-MM-DD, got "${value}"`,
    });
  }
  return t;
}

/**
 * Validates a stay and returns its nights (check-in day up to the day before
 * check-out). Dates are calendar days in UTC. The bounds keep one request from
 * holding a listing's whole year: at most `maxNights` nights, none later than
 * `horizonDays` from today.
 */
export function stayNights(
  checkIn: string,
  checkOut: string,
  limits: StayLimits = DEFAULT_STAY_LIMITS,
  today: Date = new Date(),
): string[] {
  const start = parseDay(checkIn, 'checkIn');
  const end = parseDay(checkOut, 'checkOut');
  const day0 = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const bad = (message: string) => new BadRequestException({ error: 'validation_failed', message });
  if (start < day0) throw bad(`checkIn ${checkIn} is in the past`);
  if (end <= start) throw bad('checkOut must be after checkIn');
  const nights = (end - start) / DAY_MS;
  if (nights > limits.maxNights)
    throw bad(`a stay is at most ${limits.maxNights} nights (asked for ${nights})`);
  const lastNight = end - DAY_MS;
  if (lastNight > day0 + limits.horizonDays * DAY_MS) {
    throw bad(`stays can be booked up to ${limits.horizonDays} days ahead`);
  }
  return Array.from({ length: nights }, (_, i) =>
    new Date(start + i * DAY_MS).toISOString().slice(0, 10),
  );
}
