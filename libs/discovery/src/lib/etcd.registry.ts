/**
 * The etcd registry (docs/patterns/service-discovery.md): every entry is a key
 * bound to a lease, watched through etcd's own watch stream.
 *
 * Keys:
 * - `/stayline/services/<service>/<id>`: an instance registered by itself;
 * - `/stayline/services/<service>/<id>/agents/<agentId>`: a datastore registered
 *   by an agent, one key per agent; the entry is visible while any of them lives;
 * - `/stayline/tombstones/<service>/<id>`: why an entry was removed
 *   (`deregistered`, `reported-down`), short-lived, on its own lease. A watcher
 *   that sees an entry disappear without a tombstone reports `expired`.
 *
 * etcd leases count whole seconds and the server raises them to its minimum
 * (2 s with a 1 s election timeout), so a sub-second TTL cannot be left to etcd:
 * the holder keeps its own deadline (last renewal sent + TTL) and revokes its
 * lease itself when it misses it (released, or cut off from the cluster). A
 * holder that crashes or freezes is removed by etcd after the lease's
 * (server-side) TTL instead.
 */
import { connectEtcd, EtcdTarget, leaseSeconds } from '@stayline/coordination';
import {
  Etcd3,
  EtcdLeaseInvalidError,
  IDuplexStream,
  IKeyValue,
  ILeaseKeepAliveRequest,
  ILeaseKeepAliveResponse,
  IWatchResponse,
  Lease,
  Watcher,
} from 'etcd3';
import { parseInstance, ServiceInstance, assertName } from './instance';
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

const SERVICES = '/stayline/services/';
const TOMBSTONES = '/stayline/tombstones/';
/** How long a removal reason stays readable. */
const TOMBSTONE_SECONDS = 5;

export interface EtcdRegistryOptions {
  etcd: EtcdTarget;
  /** Deadline of each unary call. Default 1000 ms. */
  callTimeoutMs?: number;
}

const serviceDir = (service: string) => `${SERVICES}${service}/`;
const tombstoneKey = (service: string, id: string) => `${TOMBSTONES}${service}/${id}`;

/** One entry as a watcher tracks it: its own key and/or its agents' keys. */
interface EntryKeys {
  own?: { instance: ServiceInstance; rev: bigint };
  agents: Map<string, { instance: ServiceInstance; rev: bigint }>;
}

function visible(entry: EntryKeys | undefined): ServiceInstance | undefined {
  if (!entry) return undefined;
  if (entry.own) return entry.own.instance;
  let best: { instance: ServiceInstance; rev: bigint } | undefined;
  for (const a of entry.agents.values()) if (!best || a.rev > best.rev) best = a;
  return best?.instance;
}

/** `<id>` or `<id>/agents/<agentId>` under a service's directory. */
function parseKey(dir: string, key: string): { id: string; agentId?: string } | undefined {
  if (!key.startsWith(dir)) return undefined;
  const parts = key.slice(dir.length).split('/');
  if (parts.length === 1 && parts[0]) return { id: parts[0] };
  if (parts.length === 3 && parts[1] === 'agents') return { id: parts[0], agentId: parts[2] };
  return undefined;
}

function parseValue(kv: IKeyValue): ServiceInstance | undefined {
  try {
    return parseInstance(JSON.parse(kv.value.toString()));
  } catch {
    return undefined;
  }
}

/**
 * Every renewal of a registry client on one keep-alive stream: etcd3's
 * `keepaliveOnce` opens a gRPC stream per call, so N leases renewed every
 * second cost N stream set-ups and tear-downs per second on both sides. Here a
 * renewal is one message on a stream opened once (and again after an error),
 * its answer matched by lease id.
 */
class KeepAlives {
  private stream?: Promise<IDuplexStream<ILeaseKeepAliveRequest, ILeaseKeepAliveResponse>>;
  private readonly waiting = new Map<
    string,
    Array<{ resolve: () => void; reject: (err: Error) => void }>
  >();

  constructor(private readonly client: Etcd3) {}

  /** Renews lease `id`; rejects after `timeoutMs`, or with EtcdLeaseInvalidError when etcd no longer has it. */
  renew(id: string, timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const queue = this.waiting.get(id);
        const i = queue?.indexOf(waiter) ?? -1;
        if (i >= 0) queue?.splice(i, 1);
        reject(new Error(`lease ${id}: no keep-alive answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      const waiter = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (err: Error) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      const queue = this.waiting.get(id) ?? [];
      queue.push(waiter);
      this.waiting.set(id, queue);
      this.open().then(
        (stream) => stream.write({ ID: id }),
        (err: Error) => this.failAll(err),
      );
    });
  }

  close(): void {
    const stream = this.stream;
    this.stream = undefined;
    void stream?.then((s) => s.end()).catch(() => undefined);
    this.failAll(new Error('registry closed'));
  }

  private open() {
    if (this.stream) return this.stream;
    const opening = this.client.leaseClient.leaseKeepAlive().then((stream) => {
      const lost = (err: Error) => {
        if (this.stream === opening) this.stream = undefined;
        this.failAll(err);
      };
      stream.on('data', (res: ILeaseKeepAliveResponse) => {
        const queue = this.waiting.get(res.ID);
        const waiter = queue?.shift();
        if (queue && !queue.length) this.waiting.delete(res.ID);
        if (res.TTL === '0') waiter?.reject(new EtcdLeaseInvalidError(res.ID));
        else waiter?.resolve();
      });
      stream.on('error', (err: Error) => lost(err));
      stream.on('end', () => lost(new Error('keep-alive stream ended')));
      return stream;
    });
    this.stream = opening;
    opening.catch(() => {
      if (this.stream === opening) this.stream = undefined;
    });
    return opening;
  }

  private failAll(err: Error): void {
    const queues = [...this.waiting.values()];
    this.waiting.clear();
    for (const queue of queues) for (const w of queue) w.reject(err);
  }
}

class EtcdRegistration implements Registration {
  private lease?: Lease;
  private leaseId?: string;
  private renewedAt = 0;
  private renewTimer?: NodeJS.Timeout;
  private deadlineTimer?: NodeJS.Timeout;
  private stopped = false;
  private released = false;
  private busy = false;

  constructor(
    private readonly client: Etcd3,
    private readonly keepAlives: KeepAlives,
    public instance: ServiceInstance,
    private readonly key: string,
    private readonly ttlMs: number,
    private readonly renewMs: number,
    private readonly agentId: string | undefined,
    private readonly onDone: (r: EtcdRegistration) => void,
  ) {}

  async start(): Promise<void> {
    // a registration starts afresh: an old removal reason must not name its next removal
    await this.client.delete().key(tombstoneKey(this.instance.service, this.instance.id)).exec();
    await this.publish().catch((err: unknown) => {
      // paused (a freeze, a long stall) while the put was in flight: the client retried it
      // after etcd had expired the lease. Start again on a new lease rather than fail.
      if (!(err instanceof EtcdLeaseInvalidError)) throw err;
      return this.publish();
    });
    this.scheduleRenew();
  }

  /** Grants a new lease and puts the key on it. */
  private async publish(): Promise<void> {
    const sentAt = performance.now();
    const lease = this.client.lease(leaseSeconds(this.ttlMs), { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    let id: string;
    try {
      id = await lease.grant();
      await lease.put(this.key).value(JSON.stringify(this.instance)).exec();
    } catch (err) {
      void lease.revoke().catch(() => undefined);
      throw err;
    }
    this.lease = lease;
    this.leaseId = id;
    this.renewedAt = sentAt;
    this.armDeadline();
  }

  private scheduleRenew(): void {
    if (this.stopped || this.released) return;
    const jitter = 1 + (Math.random() * 0.2 - 0.1);
    this.renewTimer = setTimeout(() => void this.renew(), this.renewMs * jitter);
    this.renewTimer.unref();
  }

  private async renew(): Promise<void> {
    if (this.stopped || this.released || this.busy) return;
    this.busy = true;
    try {
      if (!this.lease) {
        await this.publish(); // lost earlier: come back
      } else {
        const sentAt = performance.now();
        const lease = this.lease;
        await this.keepAlives.renew(this.leaseId as string, this.renewMs);
        if (this.lease === lease) {
          this.renewedAt = sentAt;
          this.armDeadline();
        }
      }
    } catch {
      // a lease etcd no longer knows is dropped at the deadline; then published again
    } finally {
      this.busy = false;
      this.scheduleRenew();
    }
  }

  private armDeadline(): void {
    clearTimeout(this.deadlineTimer);
    const wait = Math.max(0, this.renewedAt + this.ttlMs - performance.now());
    this.deadlineTimer = setTimeout(() => this.missDeadline(), wait);
    this.deadlineTimer.unref();
  }

  /** The TTL passed without a renewal: the holder itself gives the lease up (its key goes). */
  private missDeadline(): void {
    const lease = this.lease;
    this.lease = undefined;
    if (lease) void lease.revoke().catch(() => undefined);
    if (this.released) this.onDone(this);
  }

  async update(
    changes: Partial<Pick<ServiceInstance, 'role' | 'version' | 'metadata'>>,
  ): Promise<void> {
    if (this.stopped) throw new Error('registration was deregistered');
    this.instance = parseInstance({ ...this.instance, ...changes });
    if (this.lease) await this.lease.put(this.key).value(JSON.stringify(this.instance)).exec();
  }

  async deregister(): Promise<void> {
    if (this.stopped) return;
    this.halt();
    const { service, id } = this.instance;
    const reason: RemovalReason = this.agentId ? 'reported-down' : 'deregistered';
    const tombstone = this.client.lease(TOMBSTONE_SECONDS, { autoKeepAlive: false });
    tombstone.on('lost', () => undefined);
    await tombstone.grant();
    await tombstone.put(tombstoneKey(service, id)).value(reason).exec();
    if (this.agentId) {
      // reported down: every agent's key goes, so other agents' renewals cannot keep it
      await this.client
        .delete()
        .prefix(`${serviceDir(service)}${id}/agents/`)
        .exec();
    }
    const lease = this.lease;
    this.lease = undefined;
    if (lease) await lease.revoke().catch(() => undefined);
    else if (!this.agentId) await this.client.delete().key(this.key).exec();
    this.onDone(this);
  }

  async release(): Promise<void> {
    // no more renewals; the deadline timer still revokes the lease when the TTL runs out
    this.released = true;
    clearTimeout(this.renewTimer);
    if (!this.lease) this.halt();
  }

  /** Stops every timer; etcd expires the lease by itself. */
  halt(): void {
    this.stopped = true;
    clearTimeout(this.renewTimer);
    clearTimeout(this.deadlineTimer);
  }
}

export class EtcdRegistry implements ServiceRegistry {
  private readonly client: Etcd3;
  private readonly keepAlives: KeepAlives;
  private readonly registrations = new Set<EtcdRegistration>();
  private readonly watchers = new Set<() => Promise<void>>();
  private closed = false;

  constructor(options: EtcdRegistryOptions) {
    this.client = connectEtcd(options.etcd, { callTimeoutMs: options.callTimeoutMs });
    this.keepAlives = new KeepAlives(this.client);
  }

  async register(instance: ServiceInstance, options: LeaseOptions = {}): Promise<Registration> {
    const parsed = parseInstance(instance);
    return this.start(parsed, `${serviceDir(parsed.service)}${parsed.id}`, options, undefined);
  }

  async registerOnBehalf(
    instance: ServiceInstance,
    options: AgentLeaseOptions,
  ): Promise<Registration> {
    const parsed = parseInstance(instance);
    if (parsed.kind !== 'datastore')
      throw new Error(
        `only a datastore can be registered on its behalf (got kind "${parsed.kind}")`,
      );
    assertName('agent id', options.agentId);
    const key = `${serviceDir(parsed.service)}${parsed.id}/agents/${options.agentId}`;
    return this.start(parsed, key, options, options.agentId);
  }

  private async start(
    instance: ServiceInstance,
    key: string,
    options: LeaseOptions,
    agentId: string | undefined,
  ): Promise<Registration> {
    if (this.closed) throw new Error('registry is closed');
    const ttlMs = options.ttlMs ?? DEFAULT_LEASE_TTL_MS;
    const renewMs = options.renewEveryMs ?? ttlMs / 3;
    const reg = new EtcdRegistration(
      this.client,
      this.keepAlives,
      instance,
      key,
      ttlMs,
      renewMs,
      agentId,
      (r) => this.registrations.delete(r),
    );
    this.registrations.add(reg);
    try {
      await reg.start();
    } catch (err) {
      reg.halt();
      this.registrations.delete(reg);
      throw err;
    }
    return reg;
  }

  async list(service: string): Promise<ServiceInstance[]> {
    assertName('service', service);
    const { entries } = await this.read(service);
    return this.visibleList(entries);
  }

  private async read(service: string): Promise<{ entries: Map<string, EntryKeys>; rev: string }> {
    const dir = serviceDir(service);
    const res = await this.client.getAll().prefix(dir).exec();
    const entries = new Map<string, EntryKeys>();
    for (const kv of res.kvs) apply(entries, dir, kv, 'Put');
    return { entries, rev: res.header.revision };
  }

  private visibleList(entries: Map<string, EntryKeys>): ServiceInstance[] {
    const out: ServiceInstance[] = [];
    for (const entry of entries.values()) {
      const i = visible(entry);
      if (i) out.push(i);
    }
    return out.sort((a, b) => a.id.localeCompare(b.id));
  }

  async watch(service: string, listener: WatchListener): Promise<Unsubscribe> {
    assertName('service', service);
    const dir = serviceDir(service);
    const { entries, rev } = await this.read(service);
    let active = true;
    // kept sorted by id, one entry placed per change: sorting the whole list again per
    // change made a churn of k instances per second cost each watcher k x N log N
    const list = this.visibleList(entries);
    listener([...list], { kind: 'snapshot' });
    const watcher: Watcher = await this.client
      .watch()
      .prefix(dir)
      .startRevision((BigInt(rev) + 1n).toString())
      .create();
    let chain = Promise.resolve();
    const emit = (change: InstanceChange) => {
      if (active) listener([...list], change);
    };
    const handle = async (res: IWatchResponse, reasons: Map<string, Promise<RemovalReason>>) => {
      const touched = new Map<string, ServiceInstance | undefined>();
      for (const ev of res.events) {
        const at = parseKey(dir, ev.kv.key.toString());
        if (!at) continue;
        if (!touched.has(at.id)) touched.set(at.id, visible(entries.get(at.id)));
        apply(entries, dir, ev.kv, ev.type);
      }
      for (const id of touched.keys()) place(list, id, visible(entries.get(id)));
      for (const [id, before] of touched) {
        const after = visible(entries.get(id));
        if (!before && after) emit({ kind: 'added', instance: after });
        else if (before && after && JSON.stringify(before) !== JSON.stringify(after))
          emit({ kind: 'updated', instance: after });
        else if (before && !after) {
          const reason = await (reasons.get(id) ?? this.removalReason(service, id));
          // it may have come back while the reason was read (the list has it then)
          if (!visible(entries.get(id))) emit({ kind: 'removed', id, reason });
        }
      }
    };
    watcher.on('data', (res) => {
      // removal reasons are read as the events arrive, not one after another in the chain:
      // each read waited for the previous ones, so removals queued behind round trips
      const reasons = new Map<string, Promise<RemovalReason>>();
      for (const ev of res.events) {
        const at = ev.type === 'Delete' ? parseKey(dir, ev.kv.key.toString()) : undefined;
        if (at && !reasons.has(at.id)) reasons.set(at.id, this.removalReason(service, at.id));
      }
      chain = chain.then(() => handle(res, reasons)).catch(() => undefined);
    });
    watcher.on('error', () => undefined); // the watch manager reconnects by itself
    const stop = async () => {
      active = false;
      this.watchers.delete(stop);
      await watcher.cancel().catch(() => undefined);
    };
    this.watchers.add(stop);
    return () => void stop();
  }

  private async removalReason(service: string, id: string): Promise<RemovalReason> {
    try {
      const reason = await this.client.get(tombstoneKey(service, id)).string();
      if (reason === 'deregistered' || reason === 'reported-down') return reason;
    } catch {
      // unreadable: the lease is what we know of
    }
    return 'expired';
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const r of this.registrations) r.halt();
    this.registrations.clear();
    await Promise.all([...this.watchers].map((stop) => stop()));
    this.keepAlives.close();
    this.client.close();
  }
}

/** Puts `instance` at its place in `list` (sorted by id as `visibleList` sorts), or takes `id` out. */
function place(list: ServiceInstance[], id: string, instance: ServiceInstance | undefined): void {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].id.localeCompare(id) < 0) lo = mid + 1;
    else hi = mid;
  }
  const here = list[lo]?.id === id;
  if (instance) list.splice(lo, here ? 1 : 0, instance);
  else if (here) list.splice(lo, 1);
}

function apply(
  entries: Map<string, EntryKeys>,
  dir: string,
  kv: IKeyValue,
  type: 'Put' | 'Delete',
): void {
  const at = parseKey(dir, kv.key.toString());
  if (!at) return;
  let entry = entries.get(at.id);
  if (type === 'Put') {
    const instance = parseValue(kv);
    if (!instance) return;
    entry ??= { agents: new Map() };
    entries.set(at.id, entry);
    const held = { instance, rev: BigInt(kv.mod_revision) };
    if (at.agentId) entry.agents.set(at.agentId, held);
    else entry.own = held;
    return;
  }
  if (!entry) return;
  if (at.agentId) entry.agents.delete(at.agentId);
  else entry.own = undefined;
  if (!entry.own && !entry.agents.size) entries.delete(at.id);
}
