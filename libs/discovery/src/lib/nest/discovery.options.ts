import { RedisTarget } from '@stayline/coordination';
import { LeaseOptions, ServiceRegistry } from '../registry';

/** Options of DiscoveryModule.forRoot / forRootAsync. See docs/patterns/service-discovery.md. */
export interface DiscoveryModuleOptions {
  /** The service name callers look this instance up by (`payment`). */
  service: string;
  version?: string;
  /** Default: service, host name, pid and a random suffix. */
  instanceId?: string;
  /** The address callers reach this instance at. Default 127.0.0.1. */
  host?: string;
  /** The @nestjs/microservices TCP port, registered with the HTTP port. */
  tcpPort?: number;
  /** Default: the port the HTTP server listens on. */
  httpPort?: number;
  metadata?: Record<string, string>;
  /** The coordinator's Redis (through Sentinel in every real setup). */
  redis: RedisTarget;
  /** Lease of the registration. Default TTL 3000 ms, renewed every 1000 ms. */
  lease?: LeaseOptions;
  /**
   * `on-listen` (default): register once the HTTP server listens (and the TCP
   * port accepts connections). `manual`: call `DiscoveryLifecycle.register()`
   * (a microservice-only app has no HTTP server to wait for).
   */
  register?: 'on-listen' | 'manual';
  /** After deregistering, keep serving this long for callers that picked this instance just before. Default 100 ms. */
  drainDelayMs?: number;
  /** Wait at most this long for requests in flight before Nest closes the servers. Default 10000 ms. */
  drainTimeoutMs?: number;
  /** Replace the Redis registry (an etcd one, see chosenRegistry in @stayline/service-runtime). */
  registry?: ServiceRegistry;
}

export const DISCOVERY_OPTIONS = Symbol('DISCOVERY_OPTIONS');
/** The ServiceRegistry (inject with `@Inject(SERVICE_REGISTRY)`). */
export const SERVICE_REGISTRY = Symbol('SERVICE_REGISTRY');
export const DISCOVERY_LOGGER = Symbol('DISCOVERY_LOGGER');
