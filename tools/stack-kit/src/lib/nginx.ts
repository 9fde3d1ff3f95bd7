import path from 'node:path';
import {
  DEFAULT_GATEWAY_LIMITS,
  GatewayLimits,
  NginxOptions,
  writeNginxConfig,
} from '@stayline/gateway';
import { which } from './binaries';
import { ProcessSpec } from './process';
import type { Component } from './state';

/**
 * Limits for a stack that drives bookings as load from one address and as a few
 * users, hundreds of stays each (the demos, the benchmarks, the compose suite):
 * far above what they send, per address and per token alike, so that their
 * figures measure the services, not the gateway's limits. Such a stack shows load
 * balancing too: its answers keep `X-Instance-Id` (which instance answered).
 * Production keeps `DEFAULT_GATEWAY_LIMITS`; see docs/patterns/load-balancing.md.
 */
export const LOAD_GATEWAY_LIMITS: GatewayLimits = {
  bookingRate: '10000r/s',
  bookingBurst: 10000,
  tokenRequestRate: '10000r/s',
  tokenRequestBurst: 10000,
  tokenBookingRate: '10000r/s',
  tokenBookingBurst: 10000,
  connectionsPerClient: 10000,
  exposeInstanceId: true,
};

/**
 * Active bookings one user may hold (reservation's `BOOKING_MAX_ACTIVE_PER_USER`,
 * 100 by default) on stacks that carry load: the demos, suites and benchmarks
 * book as a few users, hundreds of stays each, as they book from one address.
 */
export const LOAD_BOOKING_CAP_PER_USER = 1_000_000;

/** The limits the stack's nginx was started with (kept in its component's meta). */
export function gatewayLimitsOf(nginx: Component): GatewayLimits {
  const meta = nginx.meta ?? {};
  const limits: Record<string, unknown> = { ...DEFAULT_GATEWAY_LIMITS };
  // each from the meta when it has the default's type (a stack saved before a limit existed has none)
  for (const [key, fallback] of Object.entries(DEFAULT_GATEWAY_LIMITS))
    if (typeof meta[key] === typeof fallback) limits[key] = meta[key];
  return limits as unknown as GatewayLimits;
}

/** The gateway sync's environment for these limits (infra/gateway-sync, sync-config.ts). */
export function gatewayLimitsEnv(limits: GatewayLimits): Record<string, string> {
  return {
    GATEWAY_BOOKING_RATE: limits.bookingRate,
    GATEWAY_BOOKING_BURST: String(limits.bookingBurst),
    GATEWAY_TOKEN_REQUEST_RATE: limits.tokenRequestRate,
    GATEWAY_TOKEN_REQUEST_BURST: String(limits.tokenRequestBurst),
    GATEWAY_TOKEN_BOOKING_RATE: limits.tokenBookingRate,
    GATEWAY_TOKEN_BOOKING_BURST: String(limits.tokenBookingBurst),
    GATEWAY_CONNECTIONS_PER_CLIENT: String(limits.connectionsPerClient),
    GATEWAY_EXPOSE_INSTANCE_ID: String(limits.exposeInstanceId),
  };
}

/** The gateway's nginx as a process of the stack, on the configuration `@stayline/gateway` renders. */
export function nginxSpec(o: NginxOptions): ProcessSpec {
  const conf = writeNginxConfig(o);
  return {
    command: which('nginx'),
    args: ['-p', o.prefix, '-c', conf, '-e', path.join(o.prefix, 'error.log')],
    logFile: path.join(o.prefix, 'stdout.log'),
  };
}
