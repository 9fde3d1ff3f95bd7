import { priceBand, rank } from './ranking.model';

const candidates = [
  { id: 'seoul-cheap', city: 'Seoul', pricePerNight: 80 },
  { id: 'busan-mid', city: 'Busan', pricePerNight: 150 },
  { id: 'seoul-lux', city: 'Seoul', pricePerNight: 500 },
  { id: 'jeju-mid', city: 'Jeju', pricePerNight: 180 },
];

describe('ranking model', () => {
  it('bands prices', () => {
    expect([50, 100, 199, 200, 400].map(priceBand)).toEqual([
      'budget',
      'mid',
      'mid',
      'premium',
      'luxury',
    ]);
  });

  it('ranks by popularity alone for a user without history, keeping the default order on ties', () => {
    const ranked = rank(candidates, { cities: {}, bands: {} }, { 'jeju-mid': 10, 'busan-mid': 3 });
    expect(ranked.map((r) => r.id)).toEqual(['jeju-mid', 'busan-mid', 'seoul-cheap', 'seoul-lux']);
    expect(rank(candidates, { cities: {}, bands: {} }, {}).map((r) => r.id)).toEqual(
      candidates.map((c) => c.id),
    );
  });

  it('puts the user’s own city and price band first', () => {
    const profile = { cities: { Busan: 3, Seoul: 1 }, bands: { mid: 4 } };
    const ranked = rank(candidates, profile, { 'seoul-lux': 50 });
    expect(ranked[0]).toEqual({ id: 'busan-mid', score: expect.any(Number) });
    expect(ranked.map((r) => r.id).indexOf('jeju-mid')).toBeLessThan(
      ranked.map((r) => r.id).indexOf('seoul-cheap'),
    );
  });
});
