/**
 * Leader election on Redis (docs/patterns/coordinator.md): candidates race for
 * a lease (`SET NX PX`, see RedisLease); the winner renews it every
 * `renewEveryMs` by compare-and-extend and leads with the fencing token drawn at
 * acquisition. Followers try again exactly when the lease would run out (they
 * read its remaining time) or at once when the leader resigns (pub/sub), so a
 * killed leader is replaced within the TTL, a resigning one in milliseconds.
 */
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { randomBytes } from 'node:crypto';
import { CoordinationLogger, silentLogger } from '../logger';
import { LeaseAttempt, ownerOf } from '../redis/lease';
import { SubscriberHub } from '../redis/subscriber-hub';
import { Clock, jittered, monotonicClock, unrefTimeout } from '../timers';
import {
  DeposedReason,
  ElectionEvents,
  ElectionState,
  ElectionStatus,
  LeaderElection,
} from './leader-election';

/** What the election needs of a lease (RedisLease; a fake in unit tests). */
export interface LeasePrimitive {
  tryAcquire(owner: string, ttlMs: number): Promise<LeaseAttempt>;
  extend(value: string, ttlMs: number): Promise<boolean>;
  release(value: string): Promise<boolean>;
}

export interface LeaderElectionOptions {
  /** Lease TTL. Default 3000 ms. */
  ttlMs?: number;
  /** Renewal period. Default a third of the TTL (jittered ±10 %). */
  renewEveryMs?: number;
  /** The leader gives up this long before its lease would run out on the server. Default a tenth of the TTL. */
  safetyMarginMs?: number;
  /** Unique per process. Default host-pid-random. */
  candidateId?: string;
  logger?: CoordinationLogger;
  clock?: Clock;
}

interface Held {
  value: string;
  token: number;
  validUntil: number;
}

/** After a failed renewal (no answer), try again this soon; the local deadline still guards. */
const RENEW_RETRY_MS = 100;

export class RedisLeaderElection implements LeaderElection {
  readonly candidateId: string;
  private current: ElectionState = { status: ElectionStatus.Stopped };
  private held?: Held;
  private timer?: NodeJS.Timeout;
  private deadline?: NodeJS.Timeout;
  private attempting = false;
  private unsubscribe?: () => Promise<void>;
  private readonly events = new EventEmitter<ElectionEvents>();
  private readonly ttlMs: number;
  private readonly renewMs: number;
  private readonly marginMs: number;
  private readonly clock: Clock;
  private readonly logger: CoordinationLogger;

  constructor(
    readonly name: string,
    private readonly lease: LeasePrimitive,
    private readonly announcements: { hub: SubscriberHub; channel: string } | undefined,
    options: LeaderElectionOptions = {},
  ) {
    this.ttlMs = options.ttlMs ?? 3_000;
    this.renewMs = options.renewEveryMs ?? this.ttlMs / 3;
    this.marginMs = options.safetyMarginMs ?? this.ttlMs / 10;
    if (this.renewMs >= this.ttlMs - this.marginMs)
      throw new Error('renewEveryMs must be well inside ttlMs minus the safety margin');
    this.candidateId =
      options.candidateId ?? `${os.hostname()}-${process.pid}-${randomBytes(2).toString('hex')}`;
    this.clock = options.clock ?? monotonicClock;
    this.logger = options.logger ?? silentLogger;
  }

  get state(): ElectionState {
    this.checkDeadline();
    return this.current;
  }

  get token(): number | undefined {
    this.checkDeadline();
    return this.held?.token;
  }

  on<E extends keyof ElectionEvents>(
    event: E,
    listener: (...args: ElectionEvents[E]) => void,
  ): () => void {
    const l = listener as never;
    this.events.on(event, l);
    return () => this.events.off(event, l);
  }

  async start(): Promise<void> {
    if (this.current.status !== ElectionStatus.Stopped) return;
    this.logger.info(
      {
        election: this.name,
        candidate: this.candidateId,
        ttlMs: this.ttlMs,
        renewEveryMs: this.renewMs,
        safetyMarginMs: this.marginMs,
      },
      'campaigning',
    );
    this.transition({ status: ElectionStatus.Follower });
    if (this.announcements) {
      this.unsubscribe = await this.announcements.hub.subscribe(this.announcements.channel, (m) =>
        this.onAnnouncement(m),
      );
    }
    await this.attempt();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
    const held = this.held;
    this.held = undefined;
    this.transition({ status: ElectionStatus.Stopped });
    if (held) {
      this.events.emit('deposed', held.token, 'resigned');
      await this.lease.release(held.value).catch(() => undefined);
      this.logger.info({ election: this.name, token: held.token }, 'resigned');
    }
  }

  private async attempt(): Promise<void> {
    if (this.current.status !== ElectionStatus.Follower || this.attempting) return;
    clearTimeout(this.timer);
    this.attempting = true;
    let next = this.renewMs;
    const sentAt = this.clock.now();
    try {
      const r = await this.lease.tryAcquire(this.candidateId, this.ttlMs);
      if (r.acquired && this.current.status !== ElectionStatus.Follower) {
        await this.lease.release(r.value); // stopped while the attempt was in flight
        return;
      }
      if (r.acquired) return this.lead(r.value, r.token, sentAt);
      const leaderId = ownerOf(r.holder);
      if (this.current.status === ElectionStatus.Follower && this.current.leaderId !== leaderId) {
        this.transition({ status: ElectionStatus.Follower, leaderId });
      }
      next = Math.min(this.renewMs, r.remainingMs + 1); // try the moment the lease would run out
    } catch (err) {
      this.logger.warn(
        { election: this.name, err: (err as Error).message },
        'campaign attempt failed',
      );
      next = jittered(this.renewMs);
    } finally {
      this.attempting = false;
    }
    if (this.current.status === ElectionStatus.Follower)
      this.timer = unrefTimeout(() => void this.attempt(), next);
  }

  private lead(value: string, token: number, sentAt: number): void {
    this.held = { value, token, validUntil: sentAt + this.ttlMs - this.marginMs };
    this.transition({ status: ElectionStatus.Leader, token, since: Date.now() });
    this.logger.info({ election: this.name, candidate: this.candidateId, token }, 'elected');
    this.events.emit('elected', token);
    this.armDeadline();
    this.timer = unrefTimeout(() => void this.renew(), jittered(this.renewMs));
  }

  private async renew(): Promise<void> {
    const held = this.held;
    if (!held || this.checkDeadline()) return;
    const sentAt = this.clock.now();
    let extended: boolean | undefined;
    try {
      extended = await this.lease.extend(held.value, this.ttlMs);
    } catch (err) {
      this.logger.warn(
        { election: this.name, token: held.token, err: (err as Error).message },
        'renewal failed; retrying',
      );
    }
    if (this.held !== held || this.checkDeadline()) return;
    if (extended === false) return this.depose('lost');
    if (extended) {
      held.validUntil = sentAt + this.ttlMs - this.marginMs;
      this.armDeadline();
    }
    this.timer = unrefTimeout(
      () => void this.renew(),
      extended ? jittered(this.renewMs) : RENEW_RETRY_MS,
    );
  }

  /** Deposes a leader whose local deadline has passed; true if it did. */
  private checkDeadline(): boolean {
    if (!this.held || this.clock.now() < this.held.validUntil) return false;
    this.depose('expired');
    return true;
  }

  private armDeadline(): void {
    clearTimeout(this.deadline);
    if (this.held)
      this.deadline = unrefTimeout(
        () => this.checkDeadline(),
        Math.max(0, this.held.validUntil - this.clock.now()),
      );
  }

  private depose(reason: DeposedReason): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    clearTimeout(this.timer);
    clearTimeout(this.deadline);
    this.transition({ status: ElectionStatus.Follower });
    this.logger.warn({ election: this.name, token: held.token, reason }, 'deposed');
    this.events.emit('deposed', held.token, reason);
    // if the lease is still ours on the server, hand it over now instead of at its expiry
    if (reason === 'expired') void this.lease.release(held.value).catch(() => undefined);
    this.timer = unrefTimeout(() => void this.attempt(), jittered(this.renewMs));
  }

  private onAnnouncement(message: string): void {
    if (message.startsWith('released|')) void this.attempt();
    else if (message.startsWith('acquired|') && this.current.status === ElectionStatus.Follower) {
      const leaderId = ownerOf(message.slice('acquired|'.length));
      if (leaderId !== this.candidateId)
        this.transition({ status: ElectionStatus.Follower, leaderId });
    }
  }

  private transition(next: ElectionState): void {
    const previous = this.current;
    this.current = next;
    this.events.emit('state', next, previous);
  }
}
