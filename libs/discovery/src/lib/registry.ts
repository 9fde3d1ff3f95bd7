import { ServiceInstance } from './instance';

/**
 * Service discovery: how a caller finds the instances of a service.
 * See docs/patterns/service-discovery.md.
 *
 * Capabilities are split so each backend implements what it really can:
 * - {@link ServiceResolver} (every backend: static list, DNS, Redis, etcd next):
 *   list the instances of a service and watch the list.
 * - {@link ServiceRegistry} (registry backends: Redis, etcd next): instances
 *   register themselves with a lease; agents register datastores on their behalf.
 */

/** What changed, delivered with every new list. `removed` carries the reason. */
export type InstanceChange =
  | { kind: 'snapshot' }
  | { kind: 'resync' }
  | { kind: 'added' | 'updated'; instance: ServiceInstance }
  | { kind: 'removed'; id: string; reason: RemovalReason };

/** `deregistered`: graceful stop; `expired`: the lease ran out (crash, freeze); `reported-down`: an agent said so. */
export type RemovalReason = 'deregistered' | 'expired' | 'reported-down';

/** Receives the complete current list after every change, then what the change was. */
export type WatchListener = (instances: readonly ServiceInstance[], change: InstanceChange) => void;

export type Unsubscribe = () => void;

export interface ServiceResolver {
  /** The live instances of `service` now (empty if none). */
  list(service: string): Promise<ServiceInstance[]>;
  /**
   * Calls `listener` with the current list (change `snapshot`) and again after
   * every change. Resolves once the first list has been delivered.
   */
  watch(service: string, listener: WatchListener): Promise<Unsubscribe>;
  /** Stops every watch and renewal and closes connections. Registrations not deregistered expire with their lease. */
  close(): Promise<void>;
}

export interface LeaseOptions {
  /** How long an entry lives without renewal. Default 3000 ms. */
  ttlMs?: number;
  /** Renewal period. Default a third of the TTL, jittered ±10 %. */
  renewEveryMs?: number;
}

export interface AgentLeaseOptions extends LeaseOptions {
  /** The agent that vouches for the datastore (logged, named in `reported-down` removals). */
  agentId: string;
}

/** A live entry in the registry, renewed in the background until deregistered or released. */
export interface Registration {
  readonly instance: ServiceInstance;
  /** Changes the published record (a datastore's role after a failover, metadata); watchers see `updated`. */
  update(changes: Partial<Pick<ServiceInstance, 'role' | 'version' | 'metadata'>>): Promise<void>;
  /**
   * Removes the entry now and stops renewing: a graceful stop, or for a
   * datastore the agent's report that it is down (other agents' renewals then
   * cannot bring it back until it is registered again).
   */
  deregister(): Promise<void>;
  /**
   * Stops renewing without removing. An entry other agents renew stays; one
   * nobody renews expires after its TTL.
   */
  release(): Promise<void>;
}

export interface ServiceRegistry extends ServiceResolver {
  /** Registers this process's own instance with a lease renewed in the background. */
  register(instance: ServiceInstance, options?: LeaseOptions): Promise<Registration>;
  /**
   * The agent API: registers a datastore (`kind: 'datastore'`, with a `role`) on
   * its behalf. Several agents may register the same entry; it lives while any
   * of them renews it, so one agent dying does not look like the datastore dying.
   */
  registerOnBehalf(instance: ServiceInstance, options: AgentLeaseOptions): Promise<Registration>;
}

/** Whether a resolver is also a registry (the registry part of the contract suite runs only then). */
export function isRegistry(resolver: ServiceResolver): resolver is ServiceRegistry {
  return typeof (resolver as Partial<ServiceRegistry>).register === 'function';
}

export const DEFAULT_LEASE_TTL_MS = 3_000;
