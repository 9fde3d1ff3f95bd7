/**
 * The one place the word `redis` | `etcd` (`COORDINATION_BACKEND`) becomes a
 * coordination backend (docs/patterns/coordinator.md, "Choosing a backend per
 * concern"): the services, the dashboard and the failover agent all call it.
 */
import { EtcdTarget } from '../etcd/etcd-target';
import { CoordinationLogger } from '../logger';
import { RedisTarget } from '../redis/redis-target';
import { CoordinationBackend } from './coordination-backend';
import { EtcdCoordinationBackend } from './etcd.coordination-backend';
import { RedisCoordinationBackend } from './redis.coordination-backend';

export const COORDINATION_BACKEND_KINDS = ['redis', 'etcd'] as const;
export type CoordinationBackendKind = (typeof COORDINATION_BACKEND_KINDS)[number];

/** Where each backend would connect; only the chosen one's target is needed. */
export interface CoordinationTargets {
  /** Redis through Sentinel (sub-millisecond; a failover can lose an acknowledged write). */
  redis?: RedisTarget;
  /** The etcd members (a quorum: nothing acknowledged is lost in a failover). */
  etcd?: EtcdTarget;
  /** The etcd key prefix (default `/stayline/coord`; the failover agents have their own, `/stayline/agents`). */
  etcdPrefix?: string;
}

/** Flags, leader elections, locks and fenced resources on the store `kind` names. */
export function createCoordinationBackend(
  kind: CoordinationBackendKind,
  targets: CoordinationTargets,
  logger?: CoordinationLogger,
): CoordinationBackend {
  switch (kind) {
    case 'etcd':
      if (!targets.etcd) throw new Error('COORDINATION_BACKEND=etcd needs ETCD_ENDPOINTS');
      return new EtcdCoordinationBackend({
        etcd: targets.etcd,
        prefix: targets.etcdPrefix,
        logger,
      });
    case 'redis':
      if (!targets.redis) throw new Error('COORDINATION_BACKEND=redis needs a Redis target');
      return new RedisCoordinationBackend({ redis: targets.redis, logger });
    default:
      throw new Error(`unknown coordination backend: ${String(kind)}`);
  }
}
