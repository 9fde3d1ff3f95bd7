import type { KeyObject } from 'node:crypto';
import type { Server } from 'node:http';
import type { HttpClient } from '../lib/http-client';
import type { UserTokens } from '../lib/tokens';

/**
 * A running stack behind its gateway, as the shared suites (authorization,
 * hostile requests) see it: the same cases run against the native stack
 * (`nativeGatewayTarget`) and the compose stack (infra/compose), each target
 * saying how its clients, tokens, keys and databases are reached.
 */
export interface GatewayTarget {
  /** Where the suite runs, in its title: `native`, `compose`. */
  readonly name: string;
  /** The gateway's base URL on loopback, `http://127.0.0.1:<port>`. */
  readonly gateway: string;
  /** Addresses of the stack's processes (`host:port` or a bare IP), which no answer may name. */
  readonly internal: readonly string[];
  /** The address a page server of the test listens on so that scrap may fetch it (in SCRAP_ALLOW_CIDRS). */
  readonly pageHost: string;
  /** The gateway keeps `X-Instance-Id` on its answers (a profile for watching which instance answered). */
  readonly exposesInstanceId: boolean;
  /**
   * Each client of {@link client} reaches nginx with an address of its own
   * (127.0.0.x on the native stack), so per-address limits can be tested; a
   * published container port shows nginx one address for every client.
   */
  readonly clientsHaveOwnAddress: boolean;
  /** A new HTTP client to the gateway (from an address of its own where {@link clientsHaveOwnAddress}). */
  client(): HttpClient;
  /** The local address the next raw connection should come from. */
  clientAddress(): string;
  /** Tokens for any user id, issued by the stack's auth on its admin route. */
  readonly tokens: UserTokens;
  /** The operator's token (scope `admin`). */
  operatorToken(): Promise<string>;
  /** The private key auth signs with under `kid`, if it has one (only a test next to the stack can read it). */
  signingKey(kid: string): Promise<KeyObject | undefined>;
  /** One query on the MariaDB primary, in a service's database, as the test kit's account. */
  query<T = Record<string, unknown>>(
    database: string,
    sql: string,
    params?: unknown[],
  ): Promise<T[]>;
  /** Stops what the target started (the native stack; nothing on compose, whose driver owns the stack). */
  stop(): Promise<void>;
}

/** Listens on `host`, any free port; fails (rather than waits) when the address is not this host's. */
export function listenOn(server: Server, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
