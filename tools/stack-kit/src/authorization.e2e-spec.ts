/**
 * The authorization matrix (suites/authorization.ts) on the native stack: one
 * instance of every service, MariaDB with a replica, the gateway; the booking
 * limits raised per address and per token, since the refused callers book too
 * (each one a 401) and the owner and each refused token send every operation.
 * The same suite runs on compose: infra/compose/src/01-authorization.compose-spec.ts.
 */
import { describeAuthorization, nativeGatewayTarget } from './suites';

jest.setTimeout(60_000);

describeAuthorization('native', () =>
  nativeGatewayTarget({
    stack: {
      replicas: 1,
      gatewayLimits: {
        bookingRate: '100r/s',
        bookingBurst: 100,
        tokenRequestRate: '100r/s',
        tokenRequestBurst: 100,
        tokenBookingRate: '100r/s',
        tokenBookingBurst: 100,
      },
    },
    services: { instances: 1 },
  }),
);
