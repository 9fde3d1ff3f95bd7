/** payment.charge: idempotent by reservation id (charging twice returns the first charge). */
export interface ChargeRequest {
  reservationId: string;
  userId: string;
  amountCents: number;
  currency: string;
}

export type PaymentStatus = 'CHARGED' | 'REFUNDED';

export interface PaymentView {
  id: string;
  reservationId: string;
  userId: string;
  amountCents: number;
  currency: string;
  status: PaymentStatus;
  createdAt: string;
  refundedAt: string | null;
}

/** payment.refund and payment.get address a payment by its reservation. */
export interface PaymentByReservation {
  reservationId: string;
}
