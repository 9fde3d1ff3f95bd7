import { Clock } from '../timers';

/**
 * A distributed lock with a lease and a fencing token. See docs/patterns/coordinator.md.
 *
 * Safety limit: the lease can run out while the holder still works (a long GC
 * pause, a frozen process, work slower than the TTL); another process then
 * holds the lock too. `valid` tells the holder its local deadline passed, but
 * only the resource can make this safe: pass `token` along with every write
 * and let the resource refuse tokens older than the newest it has seen.
 */
export interface LockLease {
  /** The fencing token: grows with every acquisition of this lock. */
  readonly token: number;
  /** Whether the local deadline (TTL minus a safety margin from acquisition or the last extension) has not passed. */
  readonly valid: boolean;
  /** Extends the lease if still held; false if it was lost. */
  extend(ttlMs?: number): Promise<boolean>;
  /** Releases the lock if still held (only the owner can); false if it had already run out. */
  release(): Promise<boolean>;
}

/** How a lock's lease behaves, whichever backend holds it. */
export interface LockOptions {
  /** Lease TTL. Default 5000 ms. */
  ttlMs?: number;
  /** Subtracted from the TTL for `valid`. Default a tenth of the TTL. */
  safetyMarginMs?: number;
  clock?: Clock;
}

export interface DistributedLock {
  /** Takes the lock if free, else undefined. */
  tryAcquire(): Promise<LockLease | undefined>;
  /** Takes the lock, waiting up to `waitMs` (default 5000) for it; throws LockTimeoutError after that. */
  acquire(options?: { waitMs?: number }): Promise<LockLease>;
}

export class LockTimeoutError extends Error {
  constructor(name: string, waitMs: number) {
    super(`lock ${name} not acquired within ${waitMs} ms`);
    this.name = 'LockTimeoutError';
  }
}
