import { DEFAULT_STAY_LIMITS, stayNights } from './stay-dates';

const today = new Date('2026-11-25T15:00:00Z');

describe('stayNights', () => {
  it('lists the nights of a stay', () => {
    expect(stayNights('2026-12-30', '2027-01-02', DEFAULT_STAY_LIMITS, today)).toEqual([
      '2026-12-30',
      '2026-12-31',
      '2027-01-01',
    ]);
    expect(stayNights('2026-11-25', '2026-11-26', DEFAULT_STAY_LIMITS, today)).toEqual([
      '2026-11-25',
    ]);
  });

  it('accepts any night up to 365 days ahead, and none beyond', () => {
    expect(stayNights('2027-11-25', '2027-11-26', DEFAULT_STAY_LIMITS, today)).toEqual([
      '2027-11-25',
    ]);
    expect(() => stayNights('2027-11-26', '2027-11-27', DEFAULT_STAY_LIMITS, today)).toThrow(
      /365 days ahead/,
    );
  });

  it.each([
    ['2026-11-24', '2026-11-26', /in the past/],
    ['2026-12-05', '2026-12-05', /after checkIn/],
    ['2026-12-05', '2026-12-01', /after checkIn/],
    ['2026-12-01', '2027-01-15', /at most 30 nights/],
    ['2026-02-30', '2026-03-02', /YYYY-MM-DD/],
    ['12/01/2026', '2026-12-03', /YYYY-MM-DD/],
  ])('refuses %s to %s', (a, b, message) => {
    expect(() => stayNights(a, b, DEFAULT_STAY_LIMITS, today)).toThrow(message);
  });

  it('applies configured bounds: fewer nights, a shorter horizon', () => {
    const tight = { maxNights: 7, horizonDays: 90 };
    expect(stayNights('2026-12-01', '2026-12-08', tight, today)).toHaveLength(7);
    expect(() => stayNights('2026-12-01', '2026-12-09', tight, today)).toThrow(
      /at most 7 nights \(asked for 8\)/,
    );
    expect(stayNights('2027-02-23', '2027-02-24', tight, today)).toEqual(['2027-02-23']);
    expect(() => stayNights('2027-02-24', '2027-02-25', tight, today)).toThrow(/90 days ahead/);
  });
});
