/**
 * Service discovery, registry style, on Redis behind Sentinel: leases in a
 * sorted set swept by any live member, changes pushed over pub/sub and applied
 * without a round trip, a periodic full read that repairs what pub/sub lost.
 * See docs/patterns/service-discovery.md.
 */
import Redis from 'ioredis';
import {
  connectRedis,
  CoordinationLogger,
  jittered,
  preloadScripts,
  RedisTarget,
  ResyncedWatch,
  silentLogger,
  SubscriberHub,
  unrefTimeout,
} from '@stayline/coordination';
import { assertName, parseInstance, ServiceInstance } from './instance';
import {
  AgentLeaseOptions,
  DEFAULT_LEASE_TTL_MS,
  InstanceChange,
  LeaseOptions,
  Registration,
  RemovalReason,
  ServiceRegistry,
  Unsubscribe,
  WatchListener,
} from './registry';
import { REMOVE, SWEEP, UPSERT } from './redis.registry.scripts';

export interface RedisRegistryOptions {
  redis: RedisTarget;
  /** Key prefix. Default `stayline:discovery`. */
  prefix?: string;
  /** Full reread of each watched service (repairs lost pushes). Default 5000 ms. */
  resyncMs?: number;
  /** Longest gap between two sweeps of a watched service; sweeps are otherwise timed to the next lease deadline. Default 1000 ms. */
  sweepMaxMs?: number;
  /**
   * After this client was cut off from Redis (a Sentinel failover, a network
   * blip), leases are not expired for this long: nobody could renew meanwhile,
   * and instances get this long to renew before they count as gone. A new watch
   * waits as long before it removes anything (it may have started right after a
   * failover it did not see). Default 3000 ms.
   */
  expiryGraceMs?: number;
  /** Per-command timeout. Default 1000 ms. */
  commandTimeoutMs?: number;
  /**
   * Whether this client's watches remove lapsed leases from Redis and publish the
   * removal (default true). `false` for a client whose Redis user may only read the
   * registry (the gateway sync; the dashboard for every service but its own): its
   * watches drop a lapsed instance from their own view at the lease deadline, by a
   * read, and leave the removal in Redis to the services' watches.
   */
  sweepLeases?: boolean;
  logger?: CoordinationLogger;
}

interface ServiceKeys {
  instances: string;
  leases: string;
  channel: string;
  tombstone(id: string): string;
}

/** After a failed renewal, try again this soon (well inside the TTL). */
const RENEW_RETRY_MS = 200;

export class RedisRegistry implements ServiceRegistry {
  private readonly redis: Redis;
  private hub?: SubscriberHub;
  private readonly watched = new Map<string, Promise<WatchedService>>();
  private readonly registrations = new Set<RedisRegistration>();
  private readonly logger: CoordinationLogger;
  private readonly prefix: string;

  constructor(private readonly options: RedisRegistryOptions) {
    this.logger = options.logger ?? silentLogger;
    this.prefix = options.prefix ?? 'stayline:discovery';
    this.redis = this.connect('registry');
    preloadScripts(this.redis, [UPSERT, REMOVE, SWEEP]);
  }

  async register(instance: ServiceInstance, options: LeaseOptions = {}): Promise<Registration> {
    return this.start(new RedisRegistration(this.ops(), parseInstance(instance), options));
  }

  async registerOnBehalf(
    instance: ServiceInstance,
    options: AgentLeaseOptions,
  ): Promise<Registration> {
    const record = parseInstance(instance);
    if (record.kind !== 'datastore')
      throw new Error('registerOnBehalf is for datastores: set kind to "datastore"');
    assertName('agent id', options.agentId);
    return this.start(new RedisRegistration(this.ops(), record, options, options.agentId));
  }

  async list(service: string): Promise<ServiceInstance[]> {
    assertName('service', service);
    const k = this.keys(service);
    const reply = await SWEEP.runReadOnly<Array<number | string>>(
      this.redis,
      [k.instances, k.leases],
      [k.channel, '1', '0', '0'], // a read: live entries only, removal is left to watchers
    );
    return reply.slice(2).map((json) => parseInstance(JSON.parse(String(json))));
  }

  async watch(service: string, listener: WatchListener): Promise<Unsubscribe> {
    assertName('service', service);
    let entry = this.watched.get(service);
    if (!entry) {
      entry = this.startWatch(service);
      this.watched.set(service, entry);
    }
    const watched = await entry;
    watched.listeners.add(listener);
    listener(watched.snapshot(), { kind: 'snapshot' });
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(service) === entry) {
        this.watched.delete(service);
        void watched.stop();
      }
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.registrations].map((r) => r.release()));
    const watched = await Promise.allSettled(this.watched.values());
    this.watched.clear();
    await Promise.all(watched.map((w) => (w.status === 'fulfilled' ? w.value.stop() : undefined)));
    this.hub?.close();
    this.redis.disconnect();
  }

  private async start(registration: RedisRegistration): Promise<Registration> {
    await registration.start();
    this.registrations.add(registration);
    return registration;
  }

  private async startWatch(service: string): Promise<WatchedService> {
    this.hub ??= new SubscriberHub(this.connect('registry-watch'));
    const watched = new WatchedService(
      this.keys(service),
      this.redis,
      this.hub,
      this.options,
      this.logger,
    );
    try {
      await watched.start();
    } catch (err) {
      this.watched.delete(service);
      await watched.stop();
      throw err;
    }
    return watched;
  }

  private connect(role: string): Redis {
    return connectRedis(this.options.redis, {
      connectionName: `stayline-${role}-${process.pid}`,
      commandTimeoutMs: this.options.commandTimeoutMs,
      logger: this.logger,
    });
  }

  private keys(service: string): ServiceKeys {
    const base = `${this.prefix}:${service}`;
    return {
      instances: `${base}:instances`,
      leases: `${base}:leases`,
      channel: `${base}:events`,
      tombstone: (id) => `${base}:down:${id}`,
    };
  }

  private ops(): RegistrationOps {
    return {
      redis: this.redis,
      keys: (service) => this.keys(service),
      logger: this.logger,
      forget: (r) => this.registrations.delete(r),
    };
  }
}

interface RegistrationOps {
  redis: Redis;
  keys(service: string): ServiceKeys;
  logger: CoordinationLogger;
  forget(registration: RedisRegistration): void;
}

class RedisRegistration implements Registration {
  private timer?: NodeJS.Timeout;
  private inflight: Promise<unknown> = Promise.resolve();
  private active = false;
  private failing = false;
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly k: ServiceKeys;

  constructor(
    private readonly ops: RegistrationOps,
    private record: ServiceInstance,
    lease: LeaseOptions,
    private readonly agentId?: string,
  ) {
    this.ttlMs = lease.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    this.renewMs = lease.renewEveryMs ?? this.ttlMs / 3;
    if (this.renewMs >= this.ttlMs)
      throw new Error(`renewEveryMs (${this.renewMs}) must be well inside ttlMs (${this.ttlMs})`);
    this.k = ops.keys(record.service);
  }

  get instance(): ServiceInstance {
    return this.record;
  }

  async start(): Promise<void> {
    await this.upsert(true);
    this.active = true;
    this.ops.logger.info(
      {
        service: this.record.service,
        id: this.record.id,
        ttlMs: this.ttlMs,
        renewEveryMs: this.renewMs,
        agentId: this.agentId,
      },
      'registered',
    );
    this.schedule(this.renewMs);
  }

  async update(
    changes: Partial<Pick<ServiceInstance, 'role' | 'version' | 'metadata'>>,
  ): Promise<void> {
    this.record = parseInstance({ ...this.record, ...changes });
    await this.serial(() => this.upsert(false));
  }

  async deregister(): Promise<void> {
    await this.stop();
    const reason: RemovalReason = this.agentId ? 'reported-down' : 'deregistered';
    const tombstoneMs = this.agentId ? 2 * this.ttlMs : 0;
    await REMOVE.run(this.ops.redis, this.keysOf(), [
      this.record.id,
      this.k.channel,
      reason,
      tombstoneMs,
    ]);
    this.ops.logger.info(
      { service: this.record.service, id: this.record.id, reason, agentId: this.agentId },
      'deregistered',
    );
  }

  async release(): Promise<void> {
    await this.stop();
  }

  private async stop(): Promise<void> {
    this.active = false;
    clearTimeout(this.timer);
    this.ops.forget(this);
    await this.inflight.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (!this.active) return;
    this.timer = unrefTimeout(() => void this.serial(() => this.renew()), jittered(ms));
  }

  private async renew(): Promise<void> {
    if (!this.active) return;
    try {
      const result = await this.upsert(false);
      if (this.failing) this.ops.logger.info({ id: this.record.id }, 'renewal succeeded again');
      this.failing = false;
      if (result === -1) {
        this.active = false;
        this.ops.forget(this);
        this.ops.logger.warn(
          { id: this.record.id, agentId: this.agentId },
          'renewal refused: reported down; register again when it is back',
        );
        return;
      }
      if (result === 1)
        this.ops.logger.info(
          { id: this.record.id },
          're-registered (entry was gone: lease ran out or Redis failed over)',
        );
      this.schedule(this.renewMs);
    } catch (err) {
      if (!this.failing)
        this.ops.logger.warn(
          { id: this.record.id, err: (err as Error).message },
          'renewal failed; retrying',
        );
      this.failing = true;
      this.schedule(Math.min(RENEW_RETRY_MS, this.renewMs));
    }
  }

  private upsert(explicit: boolean): Promise<number> {
    return UPSERT.run<number>(this.ops.redis, this.keysOf(), [
      this.record.id,
      JSON.stringify(this.record),
      this.ttlMs,
      this.k.channel,
      explicit ? '1' : '0',
    ]);
  }

  private keysOf(): string[] {
    return [this.k.instances, this.k.leases, this.k.tombstone(this.record.id)];
  }

  /** Renewals, updates and removal never overlap (a late renewal must not revive a removed entry). */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.inflight.catch(() => undefined).then(fn);
    this.inflight = next;
    return next;
  }
}

type PushedChange =
  | { type: 'added' | 'updated'; ttlMs: number; instance: unknown }
  | { type: 'removed'; id: string; reason: RemovalReason };

/** One watched service in this process: the local list, kept by pushes, sweeps and resyncs. */
class WatchedService {
  readonly listeners = new Set<WatchListener>();
  private readonly instances = new Map<string, ServiceInstance>();
  /**
   * Each record as Redis holds it (its JSON) to its parsed form: a resync parses
   * and compares only the records that changed since the last read or push, not
   * all N every few seconds (a spike that grew with N on every watcher).
   */
  private parsed = new Map<string, ServiceInstance>();
  private readonly watch: ResyncedWatch;
  private sweepTimer?: NodeJS.Timeout;
  private sweepAt = Infinity;
  private stopped = false;
  /** Until then this watch removes nothing (see `expiryGraceMs`). */
  private noRemovalUntil: number;
  /** Until then it also keeps listing expired entries: it was cut off, nobody could renew. */
  private keepExpiredUntil = 0;
  private cutOff = false;

  constructor(
    private readonly k: ServiceKeys,
    private readonly redis: Redis,
    hub: SubscriberHub,
    private readonly options: RedisRegistryOptions,
    private readonly logger: CoordinationLogger,
  ) {
    // a new watch may start right after a failover it did not see: it removes nothing at first
    this.noRemovalUntil = Date.now() + this.graceMs();
    this.watch = new ResyncedWatch({
      hub,
      channel: k.channel,
      apply: (m) => this.apply(m),
      load: (reason) => this.load(reason),
      resyncMs: options.resyncMs ?? 5_000,
      logger,
    });
  }

  start(): Promise<void> {
    return this.watch.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.sweepTimer);
    await this.watch.stop();
  }

  snapshot(): ServiceInstance[] {
    return [...this.instances.values()];
  }

  private apply(message: string): void {
    try {
      const change = JSON.parse(message) as PushedChange;
      if (change.type === 'removed') {
        if (this.instances.delete(change.id))
          this.notify({ kind: 'removed', id: change.id, reason: change.reason });
        return;
      }
      const instance = parseInstance(change.instance);
      this.parsed.set(JSON.stringify(change.instance), instance);
      const before = this.instances.get(instance.id);
      this.instances.set(instance.id, instance);
      this.scheduleSweep(change.ttlMs + 1);
      if (JSON.stringify(before) !== JSON.stringify(instance)) {
        this.notify({ kind: before ? 'updated' : 'added', instance });
      }
    } catch (err) {
      // a bad message is only logged: the next resync reads the truth
      this.logger.warn(
        { channel: this.k.channel, message, err: (err as Error).message },
        'unusable registry event',
      );
    }
  }

  private async load(reason: string): Promise<void> {
    if (reason === 'reconnect') this.startGrace('pub/sub reconnected');
    const reply = await this.run(true);
    const fresh = this.records(reply);
    this.afterSweep(Number(reply[0]));
    this.replaceWith(fresh);
  }

  private records(reply: Array<number | string>): Map<string, ServiceInstance> {
    const parsed = new Map<string, ServiceInstance>();
    const byId = new Map<string, ServiceInstance>();
    for (const item of reply.slice(2)) {
      const json = String(item);
      const instance = this.parsed.get(json) ?? parseInstance(JSON.parse(json));
      parsed.set(json, instance);
      byId.set(instance.id, instance);
    }
    this.parsed = parsed;
    return byId;
  }

  private replaceWith(fresh: Map<string, ServiceInstance>): void {
    const same = (a: ServiceInstance | undefined, b: ServiceInstance) =>
      a === b || JSON.stringify(a) === JSON.stringify(b);
    const changed =
      fresh.size !== this.instances.size ||
      [...fresh].some(([id, i]) => !same(this.instances.get(id), i));
    if (!changed) return;
    this.instances.clear();
    for (const [id, i] of fresh) this.instances.set(id, i);
    this.notify({ kind: 'resync' });
  }

  /**
   * One sweep (with the full list if asked); no removal during the grace after being
   * cut off, nor ever by a client that does not sweep leases (then a read-only script).
   */
  private async run(withList: boolean, lapsedIds = false): Promise<Array<number | string>> {
    const now = Date.now();
    const remove = this.sweepsLeases() && now >= this.noRemovalUntil;
    const keepExpired = now < this.keepExpiredUntil;
    const flags = [withList, remove, keepExpired, lapsedIds && !keepExpired].map((f) =>
      f ? '1' : '0',
    );
    let reply: Array<number | string>;
    try {
      const keys = [this.k.instances, this.k.leases];
      const args = [this.k.channel, ...flags];
      reply = await (remove
        ? SWEEP.run<Array<number | string>>(this.redis, keys, args)
        : SWEEP.runReadOnly<Array<number | string>>(this.redis, keys, args));
    } catch (err) {
      this.cutOff = true;
      throw err;
    }
    if (this.cutOff) {
      this.cutOff = false;
      this.startGrace('Redis reachable again');
    }
    return reply;
  }

  private startGrace(why: string): void {
    const graceMs = this.graceMs();
    this.noRemovalUntil = this.keepExpiredUntil = Date.now() + graceMs;
    this.logger.info(
      { channel: this.k.channel, graceMs, why },
      'holding lease expiry while instances renew',
    );
    this.scheduleSweep(graceMs + 1);
  }

  private sweepsLeases(): boolean {
    return this.options.sweepLeases ?? true;
  }

  private graceMs(): number {
    return this.options.expiryGraceMs ?? 3_000;
  }

  /** Sweeps at the next lease deadline (as the server reported it), after `sweepMaxMs` at the latest, never within the grace. */
  private scheduleSweep(inMs: number): void {
    if (this.stopped) return;
    const now = Date.now();
    const at = Math.max(
      now + Math.max(1, Math.min(inMs, this.options.sweepMaxMs ?? 1_000)),
      this.noRemovalUntil + 1,
    );
    if (at >= this.sweepAt) return;
    clearTimeout(this.sweepTimer);
    this.sweepAt = at;
    this.sweepTimer = unrefTimeout(() => void this.sweep(), at - now);
  }

  private async sweep(): Promise<void> {
    this.sweepAt = Infinity;
    try {
      if (!this.sweepsLeases()) return await this.dropLapsed();
      const [nextMs] = await this.run(false);
      this.afterSweep(Number(nextMs));
    } catch (err) {
      this.logger.debug({ channel: this.k.channel, err: (err as Error).message }, 'sweep failed');
      this.scheduleSweep(this.options.sweepMaxMs ?? 1_000);
    }
  }

  /**
   * A sweep that writes nothing: reads the ids whose lease lapsed (not every
   * record) and drops them from this view. The periodic resync repairs the rest.
   */
  private async dropLapsed(): Promise<void> {
    const reply = await this.run(false, true);
    this.afterSweep(Number(reply[0]));
    for (const id of reply.slice(2).map(String)) {
      if (!this.instances.delete(id)) continue;
      this.notify({ kind: 'removed', id, reason: 'expired' });
    }
  }

  private afterSweep(nextDeadlineMs: number): void {
    // +1: the sweep removes leases strictly past their deadline
    this.scheduleSweep(nextDeadlineMs < 0 ? Infinity : nextDeadlineMs + 1);
  }

  private notify(change: InstanceChange): void {
    const list = this.snapshot();
    for (const l of this.listeners) {
      try {
        l(list, change);
      } catch (err) {
        this.logger.error(
          { channel: this.k.channel, err: (err as Error).message },
          'watch listener threw',
        );
      }
    }
  }
}
