import { Column, Entity, PrimaryColumn } from 'typeorm';

@Entity({ name: 'listings' })
export class Listing {
  @PrimaryColumn({ type: 'varchar', length: 64 }) id!: string;
  @Column({ type: 'varchar', length: 200 }) title!: string;
  @Column({ type: 'varchar', length: 64 }) city!: string;
  @Column({ name: 'price_per_night_cents', type: 'int', unsigned: true })
  pricePerNightCents!: number;
  @Column({ type: 'char', length: 3 }) currency!: string;
  @Column({ type: 'tinyint', unsigned: true }) capacity!: number;
  @Column({
    type: 'decimal',
    precision: 3,
    scale: 2,
    transformer: { to: (v: number) => v, from: (v: string) => Number(v) },
  })
  rating!: number;
  /** Confirmed reservations so far: the popularity in the default order. */
  @Column({ type: 'int', unsigned: true }) bookings!: number;
}

export function listingView(l: Listing) {
  return {
    id: l.id,
    title: l.title,
    city: l.city,
    pricePerNight: l.pricePerNightCents / 100,
    currency: l.currency,
    capacity: l.capacity,
    rating: l.rating,
    bookings: l.bookings,
  };
}
