import { randomUUID } from 'node:crypto';
import { ConflictException, NotFoundException } from '@nestjs/common';
import type { ChargeRequest } from '@stayline/contracts';
import { EntityManager } from 'typeorm';
import { Payment } from './payment.entity';

/**
 * The ledger's rules, as SQL on one connection. `charge` is idempotent by
 * reservation id: the unique key makes a second insert a no-op, and the caller
 * gets the first charge back, so a retried or reconciled charge never charges twice.
 */
export const PaymentLedger = {
  async charge(
    m: EntityManager,
    req: ChargeRequest,
  ): Promise<{ payment: Payment; created: boolean }> {
    const made = Object.assign(new Payment(), {
      id: randomUUID(),
      reservationId: req.reservationId,
      userId: req.userId,
      amountCents: req.amountCents,
      currency: req.currency,
      status: 'CHARGED',
      // set here, not by the column's default, so a new charge is answered with no read back
      createdAt: new Date(),
      refundedAt: null,
    } satisfies Payment);
    const result = await m.query(
      `INSERT IGNORE INTO payments (id, reservation_id, user_id, amount_cents, currency, status, created_at)
       VALUES (?, ?, ?, ?, ?, 'CHARGED', ?)`,
      [made.id, made.reservationId, made.userId, made.amountCents, made.currency, made.createdAt],
    );
    const created = Number((result as { affectedRows?: number }).affectedRows ?? 0) === 1;
    if (created) return { payment: made, created };
    // charged before (a retry, the reconciler): the first charge is the answer
    const payment = await m.findOneByOrFail(Payment, { reservationId: req.reservationId });
    if (
      payment.amountCents !== req.amountCents ||
      payment.currency !== req.currency ||
      payment.userId !== req.userId
    ) {
      throw new ConflictException(
        `reservation ${req.reservationId} was already charged ${payment.amountCents} ${payment.currency}; a different charge cannot reuse it`,
      );
    }
    return { payment, created };
  },

  /** Refunds once; refunding a refunded payment returns it unchanged. */
  async refund(m: EntityManager, reservationId: string): Promise<Payment> {
    await m.query(
      `UPDATE payments SET status = 'REFUNDED', refunded_at = CURRENT_TIMESTAMP(3)
       WHERE reservation_id = ? AND status = 'CHARGED'`,
      [reservationId],
    );
    const payment = await m.findOneBy(Payment, { reservationId });
    if (!payment) throw new NotFoundException(`no payment for reservation ${reservationId}`);
    return payment;
  },

  /** One payment; with `userId`, only that user's (`WHERE ... AND user_id = ?`). */
  find(
    m: EntityManager,
    where: { id: string; userId?: string } | { reservationId: string; userId?: string },
  ): Promise<Payment | null> {
    return m.findOneBy(Payment, where);
  },

  /** A user's payments, newest first. */
  ofUser(m: EntityManager, userId: string, limit: number): Promise<Payment[]> {
    return m.find(Payment, { where: { userId }, order: { createdAt: 'DESC' }, take: limit });
  },
};
