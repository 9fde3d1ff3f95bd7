/**
 * reservation: listings (ranked by recommendation, non-essential) and bookings
 * (charged through payment, essential). The product's front door behind the
 * gateway; it also serves the OpenAPI description of the public API at /api/docs.
 */
import './tracing';
import { runService } from '@stayline/service-runtime';
import { AppModule, RESERVATION_MIGRATIONS } from './app.module';
import { reservationConfig } from './config';
import { setupOpenApi } from './openapi';

void runService(
  'reservation',
  reservationConfig,
  (c) => AppModule.forRoot(c),
  RESERVATION_MIGRATIONS,
  setupOpenApi,
);
