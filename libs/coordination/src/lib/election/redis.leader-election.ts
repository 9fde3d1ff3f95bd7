/**
 * Leader election on Redis (docs/patterns/coordinator.md): candidates race for
 * a lease (`SET NX PX`, see RedisLease); the winner renews it every
 * `renewEveryMs` by compare-and-extend and leads with the fencing token drawn at
 * acquisition. Followers try again exactly when the lease would run out (they
 * read its remaining time) or at once when the leader resigns (pub/sub), so a
 * killed leader is replaced within the TTL, a resigning one in milliseconds.
 */
import { LeaseAttempt, ownerOf } from '../redis/lease';
import { SubscriberHub } from '../redis/subscriber-hub';
import { jittered, unrefTimeout } from '../timers';
import { DeposedReason, ElectionStatus } from './leader-election';
import { HeldLead, LeaseElection, LeaderElectionOptions } from './lease-election.base';

/** What the election needs of a lease (RedisLease; a fake in unit tests). */
export interface LeasePrimitive {
  tryAcquire(owner: string, ttlMs: number): Promise<LeaseAttempt>;
  extend(value: string, ttlMs: number): Promise<boolean>;
  release(value: string): Promise<boolean>;
}

interface Held extends HeldLead {
  /** The lease's value: proves ownership to extend or release it. */
  value: string;
}

/** After a failed renewal (no answer), try again this soon; the local deadline still guards. */
const RENEW_RETRY_MS = 100;

export class RedisLeaderElection extends LeaseElection<Held> {
  private attempting = false;
  private unsubscribe?: () => Promise<void>;

  constructor(
    name: string,
    private readonly lease: LeasePrimitive,
    private readonly announcements: { hub: SubscriberHub; channel: string } | undefined,
    options: LeaderElectionOptions = {},
  ) {
    super(name, options);
  }

  async start(): Promise<void> {
    if (this.current.status !== ElectionStatus.Stopped) return;
    this.logCampaign('campaigning');
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
    this.becomeLeader({ value, token, validUntil: sentAt + this.ttlMs - this.marginMs });
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

  protected afterDeposed(held: Held, reason: DeposedReason): void {
    clearTimeout(this.timer);
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
}
