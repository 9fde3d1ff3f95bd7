/**
 * A distributed lock on etcd (docs/patterns/coordinator.md, "etcd"): one key,
 * created only if absent (a transaction on its create revision) and bound to
 * the holder's lease. The key's create revision is the fencing token; every
 * acquisition creates the key anew, so tokens grow.
 *
 * etcd leases count whole seconds (at least 2 s here), so the holder itself
 * revokes its lease when `ttlMs` has passed without an extension: a lock not
 * extended is free after `ttlMs`, as with Redis. If the holder dies, etcd frees
 * it after the lease's whole-second TTL.
 *
 * Safety limit: the lease can run out while the holder still works (frozen,
 * slow); another then holds the lock too. Pass `token` with every write and
 * let the resource refuse older tokens (FencedResource).
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { Etcd3, Lease } from 'etcd3';
import { DistributedLock, LockLease, LockOptions, LockTimeoutError } from './lock';
import { Clock, monotonicClock, unrefTimeout } from '../timers';
import { leaseSeconds } from '../etcd/etcd-target';

export class EtcdLock implements DistributedLock {
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(
    readonly name: string,
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly options: LockOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.clock = options.clock ?? monotonicClock;
  }

  async tryAcquire(): Promise<LockLease | undefined> {
    const owner = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const sentAt = this.clock.now();
    const lease = this.client.lease(leaseSeconds(this.ttlMs), { autoKeepAlive: false });
    lease.on('lost', () => undefined);
    const id = await lease.grant();
    let token: number | undefined;
    try {
      const res = await this.client
        .if(this.key, 'Create', '==', 0)
        .then(this.client.put(this.key).value(owner).lease(id))
        .commit();
      if (res.succeeded) token = Number(res.header.revision);
    } finally {
      if (token === undefined) void lease.revoke().catch(() => undefined);
    }
    if (token === undefined) return undefined;
    return new EtcdLockLease(
      this.client,
      this.key,
      lease,
      token,
      sentAt,
      this.ttlMs,
      this.margin(),
      this.clock,
    );
  }

  async acquire({ waitMs = 5_000 }: { waitMs?: number } = {}): Promise<LockLease> {
    const giveUpAt = this.clock.now() + waitMs;
    let wake: (() => void) | undefined;
    const watcher = await this.client.watch().key(this.key).create();
    watcher.on('delete', () => wake?.());
    watcher.on('error', () => undefined);
    try {
      for (;;) {
        const lease = await this.tryAcquire();
        if (lease) return lease;
        const left = giveUpAt - this.clock.now();
        if (left <= 0) throw new LockTimeoutError(this.name, waitMs);
        await new Promise<void>((resolve) => {
          const timer = unrefTimeout(resolve, Math.min(left, 500)); // the watch is the fast path
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      await watcher.cancel().catch(() => undefined);
    }
  }

  private margin(): number {
    return this.options.safetyMarginMs ?? this.ttlMs / 10;
  }
}

class EtcdLockLease implements LockLease {
  private validUntil: number;
  private expiry?: NodeJS.Timeout;
  private done = false;

  constructor(
    private readonly client: Etcd3,
    private readonly key: string,
    private readonly lease: Lease,
    readonly token: number,
    private sentAt: number,
    private readonly ttlMs: number,
    private readonly marginMs: number,
    private readonly clock: Clock,
  ) {
    this.validUntil = sentAt + ttlMs - marginMs;
    this.armExpiry(ttlMs);
  }

  get valid(): boolean {
    return !this.done && this.clock.now() < this.validUntil;
  }

  async extend(ttlMs = this.ttlMs): Promise<boolean> {
    if (this.done) return false;
    const sentAt = this.clock.now();
    try {
      await this.lease.keepaliveOnce();
      const kv = await this.client.get(this.key).exec();
      if (Number(kv.kvs[0]?.create_revision ?? 0) !== this.token) return false;
    } catch {
      return false;
    }
    if (this.done) return false;
    this.sentAt = sentAt;
    this.validUntil = sentAt + ttlMs - this.marginMs;
    this.armExpiry(ttlMs);
    return true;
  }

  async release(): Promise<boolean> {
    if (this.done) return false;
    this.done = true;
    clearTimeout(this.expiry);
    const res = await this.client
      .if(this.key, 'Create', '==', this.token)
      .then(this.client.delete().key(this.key))
      .commit();
    await this.lease.revoke().catch(() => undefined);
    return res.succeeded;
  }

  /** Not extended within `ttlMs`: the holder lets the lock go (etcd's lease is coarser). */
  private armExpiry(ttlMs: number): void {
    clearTimeout(this.expiry);
    this.expiry = unrefTimeout(
      () => {
        this.done = true;
        void this.lease.revoke().catch(() => undefined);
      },
      Math.max(0, this.sentAt + ttlMs - this.clock.now()),
    );
  }
}
