/**
 * Which store serves each concern of a service (docs/patterns/coordinator.md,
 * "Choosing a backend per concern"): the registry (`DISCOVERY_BACKEND`) and the
 * flags, leader elections and locks (`COORDINATION_BACKEND`), each on Redis +
 * Sentinel (the default: sub-millisecond) or on the etcd cluster named by
 * `ETCD_ENDPOINTS` (a quorum: nothing acknowledged is lost in a failover).
 */
import {
  CoordinationBackend,
  createCoordinationBackend,
  CoordinationLogger,
  EtcdTarget,
  parseEtcdEndpoints,
  RedisTarget,
  withEtcdLogin,
} from '@stayline/coordination';
import { EtcdRegistry, RedisRegistry, ServiceRegistry } from '@stayline/discovery';
import { z } from 'zod';

export const BACKENDS = ['redis', 'etcd'] as const;
export type BackendName = (typeof BACKENDS)[number];

/** `http://127.0.0.1:2479,127.0.0.1:2480` -> `{ endpoints }` (a bare host:port gets `http://`). */
export const etcdEndpoints = () =>
  z.string().transform((s, ctx) => {
    const endpoints = s.split(',').filter((e) => e.trim());
    const bad = endpoints.find((e) => !/^\s*(https?:\/\/)?[^\s/:@]+:\d{1,5}\/?\s*$/.test(e));
    if (!endpoints.length || bad !== undefined) {
      ctx.addIssue({
        code: 'custom',
        message: `expected http://host:port[,...], got "${bad ?? s}"`,
      });
      return z.NEVER;
    }
    return parseEtcdEndpoints(s);
  });

/** The backend settings; spread into an app's schema and check it with {@link requireEtcdWhenChosen}. */
export const backendSettings = {
  /** Where instances register and callers look them up. */
  DISCOVERY_BACKEND: z.enum(BACKENDS).default('redis'),
  /** Where the service's feature flags, leader elections and locks live. */
  COORDINATION_BACKEND: z.enum(BACKENDS).default('redis'),
  /** The etcd members' client URLs; required when either backend is `etcd`. */
  ETCD_ENDPOINTS: z
    .string()
    .optional()
    .transform((s) => (s?.trim() ? s : undefined))
    .pipe(etcdEndpoints().optional()),
  /** This process's etcd user (its role's, libs/contracts etcd-auth.ts) and password; unset: no login. */
  ETCD_USERNAME: z.string().min(1).optional(),
  ETCD_PASSWORD: z.string().min(1).optional(),
};

export interface BackendConfig {
  DISCOVERY_BACKEND?: BackendName;
  COORDINATION_BACKEND?: BackendName;
  ETCD_ENDPOINTS?: EtcdTarget;
  ETCD_USERNAME?: string;
  ETCD_PASSWORD?: string;
}

/** Refinement: fails the config, naming the setting, when etcd is chosen without endpoints. */
export function requireEtcdWhenChosen(
  c: { [K in keyof BackendConfig]?: unknown },
  ctx: z.RefinementCtx,
): void {
  if (c.ETCD_ENDPOINTS) return;
  const chosen = (['DISCOVERY_BACKEND', 'COORDINATION_BACKEND'] as const).filter(
    (k) => c[k] === 'etcd',
  );
  if (chosen.length)
    ctx.addIssue({
      code: 'custom',
      path: ['ETCD_ENDPOINTS'],
      message: `required when ${chosen.map((k) => `${k}=etcd`).join(' and ')}`,
    });
}

function etcdOf(c: BackendConfig): EtcdTarget {
  if (!c.ETCD_ENDPOINTS) throw new Error('ETCD_ENDPOINTS is required for an etcd backend');
  return withEtcdLogin(c.ETCD_ENDPOINTS, c.ETCD_USERNAME, c.ETCD_PASSWORD);
}

/** The registry `DISCOVERY_BACKEND` names. */
export function chosenRegistry(
  c: BackendConfig,
  redis: RedisTarget,
  logger?: CoordinationLogger,
  options: { sweepLeases?: boolean } = {},
): ServiceRegistry {
  return c.DISCOVERY_BACKEND === 'etcd'
    ? new EtcdRegistry({ etcd: etcdOf(c) })
    : new RedisRegistry({ redis, logger, sweepLeases: options.sweepLeases });
}

/** The coordination backend (flags, elections, locks) `COORDINATION_BACKEND` names (see createCoordinationBackend). */
export function chosenCoordination(
  c: BackendConfig,
  redis: RedisTarget,
  logger?: CoordinationLogger,
): CoordinationBackend {
  return createCoordinationBackend(
    c.COORDINATION_BACKEND ?? 'redis',
    { redis, etcd: c.ETCD_ENDPOINTS && etcdOf(c) },
    logger,
  );
}
