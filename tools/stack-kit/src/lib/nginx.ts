import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  DEFAULT_GATEWAY_LIMITS,
  GatewayLimits,
  KIT_SERVERS_DIR,
  NginxOptions,
  writeNginxConfig,
} from '@stayline/gateway';
import { which } from './binaries';
import { isPortOpen } from './ports';
import { ProcessSpec, signal } from './process';
import type { Stack } from './stack';
import type { Component } from './state';
import { waitFor } from './wait';

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

/**
 * The gateway's nginx as a process of the stack, on the configuration
 * `@stayline/gateway` renders; its prefix has the kit's `conf.d/`, so that
 * every render includes the server blocks {@link addKitServer} puts there.
 */
export function nginxSpec(o: NginxOptions): ProcessSpec {
  fs.mkdirSync(path.join(o.prefix, KIT_SERVERS_DIR), { recursive: true });
  const conf = writeNginxConfig(o);
  return {
    command: which('nginx'),
    args: ['-p', o.prefix, '-c', conf, '-e', path.join(o.prefix, 'error.log')],
    logFile: path.join(o.prefix, 'stdout.log'),
  };
}

/**
 * Adds a server block of a test's own to the stack's nginx, beside the
 * gateway's and served by the same workers (the bench's baseline): writes
 * `<prefix>/conf.d/<name>.conf`, checks the whole configuration (`nginx -t`;
 * a refused block is removed again and the error thrown), reloads nginx, and
 * waits until `port` answers. The gateway sync's later renders include it too.
 *
 * @example
 *   await addKitServer(stack, 'baseline', `server { listen 127.0.0.1:${port}; ... }`, port);
 */
export async function addKitServer(
  stack: Stack,
  name: string,
  block: string,
  port: number,
): Promise<void> {
  if (!/^[\w-]+$/.test(name)) throw new Error(`a kit server's name is a plain word: ${name}`);
  const nginx = stack.byKind('nginx')[0];
  if (!nginx) throw new Error('this stack has no nginx');
  const file = path.join(nginx.dir, KIT_SERVERS_DIR, `${name}.conf`);
  fs.writeFileSync(file, `${block.trimEnd()}\n`);
  try {
    execFileSync(
      which('nginx'),
      ['-t', '-q', '-p', nginx.dir, '-c', path.join(nginx.dir, 'nginx.conf')],
      { stdio: 'pipe' },
    );
  } catch (err) {
    fs.rmSync(file, { force: true });
    const e = err as { stderr?: Buffer };
    throw new Error(`nginx refused ${name}.conf: ${e.stderr?.toString().trim() ?? String(err)}`);
  }
  signal(nginx.pid, 'SIGHUP');
  await waitFor(`nginx to serve ${name} on ${port}`, () => isPortOpen(port, nginx.host), {
    timeoutMs: 10_000,
    intervalMs: 25,
  });
}
