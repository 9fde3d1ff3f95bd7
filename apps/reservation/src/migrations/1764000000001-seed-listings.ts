import { MigrationInterface, QueryRunner } from 'typeorm';

const CITIES: Array<{ city: string; kinds: string[]; base: number }> = [
  {
    city: 'Seoul',
    kinds: ['Hanok guesthouse', 'City loft', 'Studio near the palace', 'Riverside flat'],
    base: 120,
  },
  {
    city: 'Busan',
    kinds: ['Beach house', 'Harbour view flat', 'Surfer hostel room', 'Hillside villa'],
    base: 100,
  },
  {
    city: 'Jeju',
    kinds: ['Stone cottage', 'Tangerine farm stay', 'Ocean cabin', 'Volcano view lodge'],
    base: 140,
  },
  {
    city: 'Gangneung',
    kinds: ['Pine forest cabin', 'Coffee street studio', 'Lake house'],
    base: 90,
  },
  { city: 'Jeonju', kinds: ['Hanok village room', 'Courtyard house', 'Artist loft'], base: 80 },
];

/** A fixed pseudo-random sequence, so every stack seeds the same listings. */
function sequence(seed: number): () => number {
  let x = seed;
  return () => {
    x = (x * 1_103_515_245 + 12_345) % 2_147_483_648;
    return x / 2_147_483_648;
  };
}

/** 60 listings across five cities, with price, capacity and rating. */
export function seedListings() {
  const next = sequence(42);
  const rows: Array<[string, string, string, number, string, number, number, number]> = [];
  for (const { city, kinds, base } of CITIES) {
    for (let i = 1; i <= 12; i++) {
      const kind = kinds[(i - 1) % kinds.length];
      const price = Math.round(base * (0.5 + next() * 3)) * 100;
      const capacity = 1 + Math.floor(next() * 6);
      const rating = Math.round((3.5 + next() * 1.5) * 100) / 100;
      const bookings = Math.floor(next() * 40);
      rows.push([
        `${city.toLowerCase()}-${String(i).padStart(2, '0')}`,
        `${kind} #${i}`,
        city,
        price,
        'USD',
        capacity,
        rating,
        bookings,
      ]);
    }
  }
  return rows;
}

export class SeedListings1764000000001 implements MigrationInterface {
  name = 'SeedListings1764000000001';

  async up(q: QueryRunner): Promise<void> {
    const rows = seedListings();
    await q.query(
      `INSERT INTO listings (id, title, city, price_per_night_cents, currency, capacity, rating, bookings) VALUES ${rows
        .map(() => '(?, ?, ?, ?, ?, ?, ?, ?)')
        .join(', ')}`,
      rows.flat(),
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query('DELETE FROM listings');
  }
}
