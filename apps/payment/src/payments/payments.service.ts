import { Inject, Injectable, Logger, NotFoundException, Optional } from '@nestjs/common';
import type { PaymentView } from '@stayline/contracts';
import { ReplicaRouter } from '@stayline/database';
import { counter } from '@stayline/observability';
import { FaultInjector } from '@stayline/service-runtime';
import { ChargeDto } from './dto/charge.dto';
import { PaymentLedger } from './payment-ledger';
import { toView } from './payment.entity';

export const PAYMENT_FAULTS = Symbol('PAYMENT_FAULTS');

/** The most payments one list answers. */
export const LIST_LIMIT = 200;

const charges = counter('stayline_payment_charges_total', 'Charges by outcome', ['outcome']);

/** The payment use cases: charge (idempotent by reservation), refund, look-ups. */
@Injectable()
export class PaymentsService {
  private readonly logger = new Logger(PaymentsService.name);

  constructor(
    private readonly db: ReplicaRouter,
    @Optional() @Inject(PAYMENT_FAULTS) private readonly faults?: FaultInjector,
  ) {}

  async charge(req: ChargeDto): Promise<PaymentView> {
    await this.faults?.apply('charge');
    const { payment, created } = await this.db.write((m) => PaymentLedger.charge(m, req));
    charges.inc({ outcome: created ? 'charged' : 'replayed' });
    this.logger.log(
      `${created ? 'charged' : 'replayed the charge of'} reservation ${req.reservationId}: ${req.amountCents} ${req.currency}`,
    );
    return toView(payment);
  }

  async refund(reservationId: string): Promise<PaymentView> {
    await this.faults?.apply('refund');
    return toView(await this.db.write((m) => PaymentLedger.refund(m, reservationId)));
  }

  /**
   * The payment of a reservation, read from a replica that has the caller's
   * writes; with `userId`, only when it is that user's (another's is none).
   */
  async byReservation(reservationId: string, userId?: string): Promise<PaymentView | null> {
    await this.faults?.apply('get');
    const p = await this.db.read((m) =>
      PaymentLedger.find(m, userId === undefined ? { reservationId } : { reservationId, userId }),
    );
    return p ? toView(p) : null;
  }

  /** The user's payments, newest first (at most {@link LIST_LIMIT}). */
  async byUser(userId: string): Promise<{ items: PaymentView[] }> {
    await this.faults?.apply('get');
    const rows = await this.db.read((m) => PaymentLedger.ofUser(m, userId, LIST_LIMIT));
    return { items: rows.map(toView) };
  }

  /** The user's payment; another user's is not found, like a missing one. */
  async byId(id: string, userId: string): Promise<PaymentView> {
    const p = await this.db.read((m) => PaymentLedger.find(m, { id, userId }));
    if (!p) throw new NotFoundException(`no payment ${id}`);
    return toView(p);
  }
}
