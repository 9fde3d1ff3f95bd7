/**
 * reservation: listings (ranked by recommendation, non-essential) and bookings
 * (charged through payment, essential). The product's front door behind the gateway.
 */
import { runService } from '@stayline/service-runtime';
import { AppModule, RESERVATION_MIGRATIONS } from './app.module';
import { reservationConfig } from './config';

void runService(
  'reservation',
  reservationConfig,
  (c) => AppModule.forRoot(c),
  RESERVATION_MIGRATIONS,
);
