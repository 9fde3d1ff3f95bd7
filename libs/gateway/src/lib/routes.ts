/**
 * The public API as the gateway routes it: which path prefix goes to which
 * service. The one list the nginx configuration, the gateway's upstream sync
 * and the OpenAPI document are made from. Admin, health and metrics routes are
 * deliberately absent: they are never routed.
 */
import { API_DOCS_CSP, DASHBOARD_CSP } from './edge';

export interface GatewayRoute {
  prefix: string;
  service: string;
  /**
   * Read-only: every request on it may be sent again, so nginx waits for an
   * answer only {@link READ_ONLY_ANSWER_S} before it tries another instance (an
   * instance cut off mid-request costs that, not the whole read timeout).
   */
  readOnly?: boolean;
  /**
   * The Content-Security-Policy the gateway adds to its answers: routes that
   * serve pages to a browser (the API's JSON needs none, nosniff covers it).
   */
  contentSecurityPolicy?: string;
}

/**
 * How long a read-only route's answer may take before nginx tries another
 * instance: above a service's own slowest read (two database nodes tried, 2 s
 * each), well below the write routes' read timeout.
 */
export const READ_ONLY_ANSWER_S = 5;

/** Public routes: path prefix -> service. Admin routes are deliberately absent. */
export const GATEWAY_ROUTES: readonly GatewayRoute[] = [
  { prefix: '/api/listings', service: 'reservation', readOnly: true },
  { prefix: '/api/reservations', service: 'reservation' },
  { prefix: '/api/payments', service: 'payment', readOnly: true },
  { prefix: '/api/recommendations', service: 'recommendation', readOnly: true },
  { prefix: '/api/scraps', service: 'scrap' },
  { prefix: '/api/auth', service: 'auth' },
  {
    prefix: '/api/docs',
    service: 'reservation',
    readOnly: true,
    contentSecurityPolicy: API_DOCS_CSP,
  },
  {
    prefix: '/dashboard',
    service: 'dashboard',
    readOnly: true,
    contentSecurityPolicy: DASHBOARD_CSP,
  },
];

/**
 * Exact paths whose POST may be resent to another instance when it carries an
 * Idempotency-Key: the service answers a resent key with the same reservation
 * (or its pending state), so a booking cut by an instance's crash is not a 502.
 * A POST without a key is never resent (it could book twice).
 */
export const KEYED_RETRY_ROUTES: ReadonlyArray<{ path: string; service: string }> = [
  { path: '/api/reservations', service: 'reservation' },
];

/**
 * The exact path whose POSTs are bookings (with a trailing slash too): nginx counts
 * them per client address and per bearer token against the booking rates
 * (`GatewayLimits`). Cancels (`/api/reservations/<id>/cancel`) and reads are not
 * counted as bookings (they are as requests, per token).
 */
export const BOOKING_PATH = '/api/reservations';

/** The services behind the gateway, each once, in route order. */
export function gatewayServices(): string[] {
  return [...new Set(GATEWAY_ROUTES.map((r) => r.service))];
}
