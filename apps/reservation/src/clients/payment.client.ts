import { ChargeRequest, PaymentPatterns, PaymentView } from '@stayline/contracts';
import { DependencyClient } from '@stayline/service-runtime';
import { PaymentPort } from './ports';

/**
 * payment is essential: no fallback. While its breaker is open a booking fails
 * fast (503 with Retry-After) instead of waiting on a dead or hanging service.
 * A charge may be retried on another payment instance without charging twice:
 * payment keeps one charge per reservation id, so that id is its retry key.
 */
export class PaymentClient implements PaymentPort {
  constructor(private readonly client: DependencyClient) {}

  charge(req: ChargeRequest): Promise<PaymentView> {
    return this.client.send<PaymentView>(PaymentPatterns.charge, req, {
      retryKey: req.reservationId,
    });
  }

  refund(reservationId: string): Promise<PaymentView> {
    return this.client.send<PaymentView>(
      PaymentPatterns.refund,
      { reservationId },
      { idempotent: true },
    );
  }
}
