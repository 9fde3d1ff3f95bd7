import { isClientRpcError, isRpcErrorBody } from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { counter, gauge } from '@stayline/observability';
import type { Logger } from 'pino';
import { PaymentPort } from '../clients/ports';
import { BookingStore } from '../reservations/booking.store';
import { Reservation } from '../reservations/reservation.entity';
import { fence, StaleLeaderError } from './fence';

export const RECONCILER_FENCE = 'reservation.payment-reconciler';

const due = gauge(
  'stayline_reservation_reconcile_due',
  'Reservations the last pass found stuck past the minimum age, by status (at most 20 each)',
  ['status'],
);
due.set({ status: 'PENDING_PAYMENT' }, 0);
due.set({ status: 'CANCELLING' }, 0);

const settled = counter(
  'stayline_reservation_reconciled_total',
  'Pending reservations settled, by outcome',
  ['outcome'],
);

/**
 * Settles reservations whose charge had an unknown outcome (PENDING_PAYMENT):
 * it asks payment to charge again with the same reservation id, which payment
 * answers with the first charge if there was one (never a second charge), then
 * confirms, or fails the reservation if payment refuses. And it finishes
 * cancels whose refund had an unknown outcome (CANCELLING). Run by the leader
 * only; every write carries its fencing token, checked in SQL.
 */
export class PaymentReconciler {
  constructor(
    private readonly db: ReplicaRouter,
    private readonly payment: PaymentPort,
    private readonly logger: Logger,
    private readonly minAgeMs = 2_000,
  ) {}

  /** Up to 20 reservations in `status` untouched for the minimum age, oldest first. */
  private due(status: 'PENDING_PAYMENT' | 'CANCELLING'): Promise<Reservation[]> {
    // one statement on the primary: no transaction around it, no GTID after it
    return this.db
      .write(
        (m) =>
          m
            .createQueryBuilder(Reservation, 'r')
            .where('r.status = :status', { status })
            .andWhere('r.updated_at < NOW(3) - INTERVAL :age MICROSECOND', {
              age: this.minAgeMs * 1000,
            })
            .orderBy('r.updated_at', 'ASC')
            .limit(20)
            .getMany(),
        { readOnly: true },
      )
      .then((rows) => {
        due.set({ status }, rows.length);
        return rows;
      });
  }

  /** One pass; returns how many reservations it settled. */
  async run(token: number): Promise<number> {
    const pending = await this.due('PENDING_PAYMENT');
    let done = 0;
    for (const r of pending) {
      try {
        // taken over first: the request that held it may still be running, and must not undo it now
        const claimed = await this.db.transaction(async (m) => {
          await fence(m, RECONCILER_FENCE, token);
          return BookingStore.claimForReconciliation(m, r.id);
        });
        if (!claimed) continue;
        const paid = await this.payment.charge({
          reservationId: r.id,
          userId: r.userId,
          amountCents: r.amountCents,
          currency: r.currency,
        });
        await this.db.transaction(async (m) => {
          await fence(m, RECONCILER_FENCE, token);
          await BookingStore.confirm(m, r.id, paid.id);
        });
        settled.inc({ outcome: 'confirmed' });
        this.logger.info(
          { reservationId: r.id, token },
          'reconciled a pending reservation: confirmed',
        );
        done++;
      } catch (err) {
        if (err instanceof StaleLeaderError) throw err;
        if (isClientRpcError(err)) {
          const reason = isRpcErrorBody(err) ? err.message : 'payment refused the charge';
          await this.db.transaction(async (m) => {
            await fence(m, RECONCILER_FENCE, token);
            await BookingStore.release(m, r.id, 'FAILED', reason.slice(0, 255));
          });
          settled.inc({ outcome: 'failed' });
          done++;
        } else {
          // payment still unreachable: the reservation stays pending, never lost
          settled.inc({ outcome: 'retry_later' });
        }
      }
    }
    return done + (await this.finishCancels(token));
  }

  /**
   * Finishes cancels that stopped after their point of no return (CANCELLING:
   * the request lost payment, or its process died): refunds again (payment
   * refunds once, whatever the number of calls), then releases the nights.
   */
  private async finishCancels(token: number): Promise<number> {
    const cancelling = await this.due('CANCELLING');
    let done = 0;
    for (const r of cancelling) {
      try {
        await this.payment.refund(r.id);
        await this.db.transaction(async (m) => {
          await fence(m, RECONCILER_FENCE, token);
          await BookingStore.release(m, r.id, 'CANCELLED', null);
        });
        settled.inc({ outcome: 'cancelled' });
        this.logger.info({ reservationId: r.id, token }, 'reconciled a cancel: refunded, released');
        done++;
      } catch (err) {
        if (err instanceof StaleLeaderError) throw err;
        // refused (no such charge: an operator's case) or unreachable: tried again next pass
        settled.inc({ outcome: isClientRpcError(err) ? 'refund_refused' : 'retry_later' });
        if (isClientRpcError(err))
          this.logger.error({ reservationId: r.id, err }, 'payment refused the refund of a cancel');
      }
    }
    return done;
  }
}
