import { BadRequestException } from '@nestjs/common';

/** How far ahead a stay can be booked: any night up to 365 days from today. */
export const BOOKING_HORIZON_DAYS = 365;
export const MAX_NIGHTS = 30;

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
 * check-out). Dates are calendar days in UTC.
 */
export function stayNights(checkIn: string, checkOut: string, today: Date = new Date()): string[] {
  const start = parseDay(checkIn, 'checkIn');
  const end = parseDay(checkOut, 'checkOut');
  const day0 = Date.UTC(today.getUTCFullYear(), today.getUTCMonth(), today.getUTCDate());
  const bad = (message: string) => new BadRequestException({ error: 'validation_failed', message });
  if (start < day0) throw bad(`checkIn ${checkIn} is in the past`);
  if (end <= start) throw bad('checkOut must be after checkIn');
  const nights = (end - start) / DAY_MS;
  if (nights > MAX_NIGHTS)
    throw bad(`a stay is at most ${MAX_NIGHTS} nights (asked for ${nights})`);
  const lastNight = end - DAY_MS;
  if (lastNight > day0 + BOOKING_HORIZON_DAYS * DAY_MS) {
    throw bad(`stays can be booked up to ${BOOKING_HORIZON_DAYS} days ahead`);
  }
  return Array.from({ length: nights }, (_, i) =>
    new Date(start + i * DAY_MS).toISOString().slice(0, 10),
  );
}
