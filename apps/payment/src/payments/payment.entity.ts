import { Column, CreateDateColumn, Entity, Index, PrimaryColumn } from 'typeorm';
import type { PaymentStatus, PaymentView } from '@stayline/contracts';

/** The payment ledger: one row per reservation, so a charge can never be made twice. */
@Entity({ name: 'payments' })
export class Payment {
  @PrimaryColumn({ type: 'char', length: 36 })
  id!: string;

  @Index('uq_payments_reservation', { unique: true })
  @Column({ name: 'reservation_id', type: 'varchar', length: 64 })
  reservationId!: string;

  @Column({ name: 'user_id', type: 'varchar', length: 64 })
  userId!: string;

  @Column({ name: 'amount_cents', type: 'int', unsigned: true })
  amountCents!: number;

  @Column({ type: 'char', length: 3 })
  currency!: string;

  @Column({ type: 'varchar', length: 16 })
  status!: PaymentStatus;

  @CreateDateColumn({ name: 'created_at', type: 'datetime', precision: 3 })
  createdAt!: Date;

  @Column({ name: 'refunded_at', type: 'datetime', precision: 3, nullable: true })
  refundedAt!: Date | null;
}

export function toView(p: Payment): PaymentView {
  return {
    id: p.id,
    reservationId: p.reservationId,
    userId: p.userId,
    amountCents: p.amountCents,
    currency: p.currency,
    status: p.status,
    createdAt: new Date(p.createdAt).toISOString(),
    refundedAt: p.refundedAt ? new Date(p.refundedAt).toISOString() : null,
  };
}
