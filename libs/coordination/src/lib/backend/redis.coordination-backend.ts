/**
 * The coordinator on Redis behind Sentinel (docs/patterns/coordinator.md).
 * Three connections: commands (renewals, reads), durable writes (which wait on
 * `WAIT 1` for a replica and must not stall renewals), and pub/sub.
 * Redis is not a quorum store: see the page for what that costs and what an
 * etcd backend adds.
 */
import Redis from 'ioredis';
import { CoordinationBackend } from './coordination-backend';
import { LeaderElection } from '../election/leader-election';
import { LeaderElectionOptions } from '../election/lease-election.base';
import { RedisLeaderElection } from '../election/redis.leader-election';
import { FENCED_SCRIPTS, RedisFencedResource } from '../fencing/redis.fenced-resource';
import { FLAG_SCRIPTS, RedisFlagStore } from '../flags/redis.flag-store';
import { CoordinationLogger, silentLogger } from '../logger';
import { LockOptions } from '../lock/lock';
import { RedisLock } from '../lock/redis.lock';
import { LEASE_SCRIPTS, RedisLease } from '../redis/lease';
import { preloadScripts } from '../redis/lua-script';
import { connectRedis, RedisTarget } from '../redis/redis-target';
import { SubscriberHub } from '../redis/subscriber-hub';

export interface RedisCoordinationOptions {
  redis: RedisTarget;
  /** Key prefix. Default `stayline:coord`. */
  prefix?: string;
  /** Per-command timeout. Default 1000 ms. */
  commandTimeoutMs?: number;
  /** Durable writes (lease acquisitions, flag writes) wait this long for a replica. Default 500 ms. */
  replicaAckTimeoutMs?: number;
  /**
   * Acquire leases only once a replica has them (so a failover cannot reissue a
   * fencing token). Default true; false trades that for availability without replicas.
   */
  requireReplicaAck?: boolean;
  /** Full reread period of flag watchers. Default 5000 ms. */
  resyncMs?: number;
  logger?: CoordinationLogger;
}

export class RedisCoordinationBackend implements CoordinationBackend {
  private readonly redis: Redis;
  private readonly durable: Redis;
  private hubInstance?: SubscriberHub;
  private flags?: RedisFlagStore;
  private readonly elections = new Set<LeaderElection>();
  private readonly prefix: string;
  private readonly logger: CoordinationLogger;

  constructor(private readonly options: RedisCoordinationOptions) {
    this.prefix = options.prefix ?? 'stayline:coord';
    this.logger = options.logger ?? silentLogger;
    this.redis = this.connect('coord');
    this.durable = this.connect('coord-durable');
    preloadScripts(this.redis, [...LEASE_SCRIPTS, ...FLAG_SCRIPTS, ...FENCED_SCRIPTS]);
  }

  election(name: string, options: LeaderElectionOptions = {}): LeaderElection {
    const key = `${this.prefix}:election:${name}`;
    const election = new RedisLeaderElection(
      name,
      this.lease(key),
      { hub: this.hub(), channel: `${key}:events` },
      { logger: this.logger, ...options },
    );
    this.elections.add(election);
    return election;
  }

  lock(name: string, options: LockOptions = {}): RedisLock {
    const key = `${this.prefix}:lock:${name}`;
    return new RedisLock(
      name,
      this.lease(key),
      { hub: this.hub(), channel: `${key}:events` },
      options,
    );
  }

  flagStore(): RedisFlagStore {
    this.flags ??= new RedisFlagStore(this.redis, this.durable, () => this.hub(), {
      key: `${this.prefix}:flags`,
      ackTimeoutMs: this.options.replicaAckTimeoutMs,
      resyncMs: this.options.resyncMs,
      logger: this.logger,
    });
    return this.flags;
  }

  fencedResource(name: string): RedisFencedResource {
    return new RedisFencedResource(this.redis, `${this.prefix}:fenced:${name}`);
  }

  async close(): Promise<void> {
    await Promise.all([...this.elections].map((e) => e.stop()));
    this.elections.clear();
    this.hubInstance?.close();
    this.redis.disconnect();
    this.durable.disconnect();
  }

  private lease(key: string): RedisLease {
    return new RedisLease(this.redis, this.durable, key, {
      channel: `${key}:events`,
      requireReplicaAck: this.options.requireReplicaAck,
      ackTimeoutMs: this.options.replicaAckTimeoutMs,
    });
  }

  private hub(): SubscriberHub {
    this.hubInstance ??= new SubscriberHub(this.connect('coord-watch'));
    return this.hubInstance;
  }

  private connect(role: string): Redis {
    return connectRedis(this.options.redis, {
      connectionName: `stayline-${role}-${process.pid}`,
      commandTimeoutMs: this.options.commandTimeoutMs,
      logger: this.logger,
    });
  }
}
