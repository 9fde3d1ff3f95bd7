/**
 * payment: the ledger. TCP `payment.charge` (idempotent by reservation id),
 * `payment.refund`, `payment.get` for the reservation service; HTTP look-ups
 * of the caller's own payments (a token's user) for the gateway.
 */
import './tracing';
import { runService } from '@stayline/service-runtime';
import { AppModule, PAYMENT_MIGRATIONS } from './app.module';
import { paymentConfig } from './config';

void runService('payment', paymentConfig, (c) => AppModule.forRoot(c), PAYMENT_MIGRATIONS);
