/**
 * The hostile-input suite (suites/hostile.ts) on the native stack: 2 replicas,
 * Sentinel, nginx, 2 instances of every service. The booking limit per address
 * is the production rate with a burst that lets 8 racing requests through; the
 * per-token limits are out of the way (one token races and floods here;
 * token-limits.e2e-spec.ts tests them). The same suite runs on compose:
 * infra/compose/src/01-hostile-requests.compose-spec.ts.
 */
import { describeHostileRequests, nativeGatewayTarget } from './suites';

jest.setTimeout(120_000);

const BOOKING_BURST = 10;

describeHostileRequests(
  'native',
  () =>
    nativeGatewayTarget({
      stack: {
        replicas: 2,
        sentinel: true,
        gatewayLimits: {
          bookingRate: '1r/s',
          bookingBurst: BOOKING_BURST,
          tokenRequestRate: '1000r/s',
          tokenRequestBurst: 1000,
          tokenBookingRate: '1000r/s',
          tokenBookingBurst: 1000,
        },
      },
      // scrap gives up on the misbehaving page sooner
      services: { instances: 2, env: { scrap: { SCRAP_TIMEOUT_MS: '1500' } } },
    }),
  { perAddress: { bookingBurst: BOOKING_BURST } },
);
