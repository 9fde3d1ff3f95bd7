import { Column, CreateDateColumn, Entity, PrimaryColumn, UpdateDateColumn } from 'typeorm';

/**
 * PENDING_PAYMENT: nights held, charge sent, outcome not known yet (reconciled in the background).
 * CONFIRMED: charged. CANCELLING: a cancel began (nights still held), the refund is under way
 * and is finished in the background if the request cannot. CANCELLED: refunded, nights
 * released. FAILED: payment refused, nights released.
 */
export type ReservationStatus =
  'PENDING_PAYMENT' | 'CONFIRMED' | 'CANCELLING' | 'CANCELLED' | 'FAILED';

const date = {
  to: (v: string) => v,
  from: (v: Date | string) =>
    v instanceof Date ? v.toISOString().slice(0, 10) : String(v).slice(0, 10),
};

@Entity({ name: 'reservations' })
export class Reservation {
  @PrimaryColumn({ type: 'char', length: 36 }) id!: string;
  @Column({ name: 'listing_id', type: 'varchar', length: 64 }) listingId!: string;
  @Column({ name: 'user_id', type: 'varchar', length: 64 }) userId!: string;
  @Column({ name: 'check_in', type: 'date', transformer: date }) checkIn!: string;
  @Column({ name: 'check_out', type: 'date', transformer: date }) checkOut!: string;
  @Column({ type: 'tinyint', unsigned: true }) guests!: number;
  @Column({ name: 'amount_cents', type: 'int', unsigned: true }) amountCents!: number;
  @Column({ type: 'char', length: 3 }) currency!: string;
  @Column({ type: 'varchar', length: 24 }) status!: ReservationStatus;
  @Column({ name: 'payment_id', type: 'char', length: 36, nullable: true }) paymentId!:
    string | null;
  @Column({ name: 'failure_reason', type: 'varchar', length: 255, nullable: true }) failureReason!:
    string | null;
  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 }) createdAt!: Date;
  @UpdateDateColumn({ name: 'updated_at', type: 'datetime', precision: 3 }) updatedAt!: Date;
}

export function reservationView(r: Omit<Reservation, 'updatedAt'>) {
  return {
    id: r.id,
    listingId: r.listingId,
    userId: r.userId,
    checkIn: r.checkIn,
    checkOut: r.checkOut,
    guests: r.guests,
    amount: r.amountCents / 100,
    currency: r.currency,
    status: r.status,
    paymentId: r.paymentId,
    ...(r.failureReason ? { failureReason: r.failureReason } : {}),
    createdAt: new Date(r.createdAt).toISOString(),
  };
}
