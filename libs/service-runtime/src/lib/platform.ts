import { DynamicModule, FactoryProvider } from '@nestjs/common';
import { connectRedis, CoordinationModule, FeatureFlags, FlagValue } from '@stayline/coordination';
import { DatabaseModule, ReplicaRouterOptions } from '@stayline/database';
import { DiscoveryModule } from '@stayline/discovery';
import { OBSERVABILITY_LOGGER, ObservabilityModule } from '@stayline/observability';
import type { Logger } from 'pino';
import { AdminModule } from './admin-flags.controller';
import { BackendConfig, chosenCoordination, chosenRegistry } from './backends';
import { CallerIdentityModule } from './caller-identity';
import { FaultInjector } from './fault-injection';
import { RedisConfig, redisTargetOf } from './redis-auth';
import { TopologyFollowerModule } from './topology-follower';

/** What {@link coordinatorImports} reads from an app's validated config. */
export interface CoordinatorConfig extends BackendConfig, RedisConfig {
  SERVICE_NAME: string;
  INSTANCE_ID: string;
  HOST: string;
  ADVERTISE_HOST?: string;
  HTTP_PORT: number;
  /** Registered with the HTTP port when the app also serves TCP. */
  TCP_PORT?: number;
  VERSION: string;
  DRAIN_DELAY_MS: number;
}

/** What {@link platformImports} reads from a service's validated config. */
export interface PlatformConfig extends CoordinatorConfig {
  TCP_PORT: number;
  DB_NAME: string;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_PRIMARY: { name: string; host: string; port: number };
  DB_REPLICAS: Array<{ name: string; host: string; port: number }>;
  LOG_LEVEL: string;
  AUTH_ISSUER: string;
  AUTH_AUDIENCE: string;
}

/**
 * The modules every stayline service imports: logs, metrics and health; the
 * replica router for its own database; registration in discovery (registered
 * once listening, deregistered first on SIGTERM), balanced clients, feature
 * flags and leader elections; the verifier of callers' tokens (the keys
 * fetched from the auth instances discovery lists).
 */
export function platformImports(
  c: PlatformConfig,
  db: Pick<ReplicaRouterOptions, 'entities'> & { flagDefaults?: Record<string, FlagValue> } = {},
): DynamicModule[] {
  const redis = redisTargetOf(c);
  return [
    ObservabilityModule.forRoot({ service: c.SERVICE_NAME, level: c.LOG_LEVEL }),
    DatabaseModule.forRootAsync({
      useFactory: () => ({
        database: c.DB_NAME,
        user: c.DB_USER,
        password: c.DB_PASSWORD,
        topology: { epoch: 0, primary: c.DB_PRIMARY, replicas: c.DB_REPLICAS },
        entities: db.entities,
      }),
    }),
    // the router follows the topology the failover agent publishes (docs/patterns/failover.md)
    TopologyFollowerModule.forRoot({ redis }),
    ...coordinatorImports(c, { flagDefaults: db.flagDefaults }),
    AdminModule.forRoot(),
    CallerIdentityModule.forRoot(c),
  ];
}

/**
 * Feature flags, leader elections and locks (CoordinationModule), then
 * registration in discovery (DiscoveryModule: registered once listening,
 * deregistered first on SIGTERM), each on the backend the config names.
 * Coordination comes first, so that its shutdown (resign, close) runs after
 * discovery has drained.
 */
export function coordinatorImports(
  c: CoordinatorConfig,
  options: {
    flagDefaults?: Record<string, FlagValue>;
    /** `false` for a process whose Redis user may not remove others' lapsed leases (the dashboard). */
    sweepLeases?: boolean;
  } = {},
): DynamicModule[] {
  const redis = redisTargetOf(c);
  return [
    CoordinationModule.forRootAsync({
      inject: [OBSERVABILITY_LOGGER],
      useFactory: (logger: Logger) => {
        logger.info(
          {
            discovery: c.DISCOVERY_BACKEND ?? 'redis',
            coordination: c.COORDINATION_BACKEND ?? 'redis',
            etcd: c.ETCD_ENDPOINTS?.endpoints,
          },
          'coordinator backends chosen',
        );
        return {
          service: c.SERVICE_NAME,
          backend: chosenCoordination(c, redis, logger),
          flagDefaults: options.flagDefaults,
        };
      },
    }),
    DiscoveryModule.forRootAsync({
      inject: [OBSERVABILITY_LOGGER],
      useFactory: (logger: Logger) => ({
        service: c.SERVICE_NAME,
        instanceId: c.INSTANCE_ID,
        version: c.VERSION,
        host: c.ADVERTISE_HOST ?? c.HOST,
        httpPort: c.HTTP_PORT,
        tcpPort: c.TCP_PORT,
        redis,
        registry: chosenRegistry(c, redis, logger, { sweepLeases: options.sweepLeases }),
        drainDelayMs: c.DRAIN_DELAY_MS,
      }),
    }),
  ];
}

/** A FaultInjector for this instance, reading the flags pushed to it (no restart). */
export function faultInjectorProvider(token: symbol, c: PlatformConfig): FactoryProvider {
  return {
    provide: token,
    inject: [FeatureFlags],
    useFactory: (flags: FeatureFlags) =>
      new FaultInjector(flags, { service: c.SERVICE_NAME, instanceId: c.INSTANCE_ID }),
  };
}

/**
 * A Redis connection of its own through the Sentinels (it follows a Redis
 * failover): for blocking reads, streams or a cache, apart from the
 * coordinator's connections.
 */
export function sentinelRedisProvider(
  token: symbol,
  c: RedisConfig,
  options: { connectionName: string; commandTimeoutMs?: number },
): FactoryProvider {
  return {
    provide: token,
    useFactory: () => connectRedis(redisTargetOf(c), options),
  };
}
