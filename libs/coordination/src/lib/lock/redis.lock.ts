/**
 * A distributed lock on Redis (docs/patterns/coordinator.md): the same lease
 * as leader election (`SET NX PX`, fencing token from `INCR`), released only
 * by its owner (Lua compare-and-delete). Waiters retry the moment the lease
 * would run out, or at once when the holder announces the release.
 */
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { RedisLease } from '../redis/lease';
import { SubscriberHub } from '../redis/subscriber-hub';
import { Clock, monotonicClock, unrefTimeout } from '../timers';
import { DistributedLock, LockLease, LockOptions, LockTimeoutError } from './lock';

export class RedisLock implements DistributedLock {
  private readonly ttlMs: number;
  private readonly clock: Clock;

  constructor(
    readonly name: string,
    private readonly lease: RedisLease,
    private readonly announcements: { hub: SubscriberHub; channel: string },
    private readonly options: LockOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 5_000;
    this.clock = options.clock ?? monotonicClock;
  }

  async tryAcquire(): Promise<LockLease | undefined> {
    return (await this.attempt()).lease;
  }

  async acquire({ waitMs = 5_000 }: { waitMs?: number } = {}): Promise<LockLease> {
    const giveUpAt = this.clock.now() + waitMs;
    let wake: (() => void) | undefined;
    const unsubscribe = await this.announcements.hub.subscribe(this.announcements.channel, (m) => {
      if (m.startsWith('released|')) wake?.();
    });
    try {
      for (;;) {
        const { lease, remainingMs } = await this.attempt();
        if (lease) return lease;
        const left = giveUpAt - this.clock.now();
        if (left <= 0) throw new LockTimeoutError(this.name, waitMs);
        await new Promise<void>((resolve) => {
          const timer = unrefTimeout(resolve, Math.min(left, remainingMs + 1));
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
    } finally {
      await unsubscribe();
    }
  }

  private async attempt(): Promise<{ lease?: LockLease; remainingMs: number }> {
    const owner = `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const sentAt = this.clock.now();
    const r = await this.lease.tryAcquire(owner, this.ttlMs);
    if (!r.acquired) return { remainingMs: r.remainingMs };
    return {
      lease: new RedisLockLease(
        this.lease,
        r.value,
        r.token,
        sentAt,
        this.ttlMs,
        this.margin(),
        this.clock,
      ),
      remainingMs: 0,
    };
  }

  private margin(): number {
    return this.options.safetyMarginMs ?? this.ttlMs / 10;
  }
}

class RedisLockLease implements LockLease {
  private validUntil: number;

  constructor(
    private readonly lease: RedisLease,
    private readonly value: string,
    readonly token: number,
    sentAt: number,
    private readonly ttlMs: number,
    private readonly marginMs: number,
    private readonly clock: Clock,
  ) {
    this.validUntil = sentAt + ttlMs - marginMs;
  }

  get valid(): boolean {
    return this.clock.now() < this.validUntil;
  }

  async extend(ttlMs = this.ttlMs): Promise<boolean> {
    const sentAt = this.clock.now();
    const ok = await this.lease.extend(this.value, ttlMs);
    this.validUntil = ok ? sentAt + ttlMs - this.marginMs : 0;
    return ok;
  }

  async release(): Promise<boolean> {
    this.validUntil = 0;
    return this.lease.release(this.value);
  }
}
