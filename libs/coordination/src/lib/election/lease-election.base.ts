import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import { CoordinationLogger, silentLogger } from '../logger';
import { Clock, monotonicClock, unrefTimeout } from '../timers';
import {
  DeposedReason,
  ElectionEvents,
  ElectionState,
  ElectionStatus,
  LeaderElection,
} from './leader-election';

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

/** What a leader holds: its fencing token and the local deadline of its lead. */
export interface HeldLead {
  token: number;
  /** Clock time past which it must not act: last renewal *sent* + TTL - safety margin. */
  validUntil: number;
}

/**
 * What every lease-based election shares, whatever the store: the options and
 * their checks, the state and its events, and the local deadline. A leader
 * counts its lead from the moment it *sent* its last successful renewal, minus
 * a safety margin, and deposes itself (`expired`) when that passes, before the
 * store can expire the lease and let another lead. Subclasses campaign and
 * renew on their store and say what to do once deposed.
 */
export abstract class LeaseElection<H extends HeldLead> implements LeaderElection {
  readonly candidateId: string;
  protected current: ElectionState = { status: ElectionStatus.Stopped };
  protected held?: H;
  protected timer?: NodeJS.Timeout;
  protected deadline?: NodeJS.Timeout;
  protected readonly events = new EventEmitter<ElectionEvents>();
  protected readonly ttlMs: number;
  protected readonly renewMs: number;
  protected readonly marginMs: number;
  protected readonly clock: Clock;
  protected readonly logger: CoordinationLogger;

  protected constructor(
    readonly name: string,
    options: LeaderElectionOptions,
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

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** After a deposition: hand the lease over, campaign again later. */
  protected abstract afterDeposed(held: H, reason: DeposedReason): void;

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

  /** Logs the start of a campaign with the timing settings (and any store-specific ones). */
  protected logCampaign(message: string, extra: Record<string, unknown> = {}): void {
    this.logger.info(
      {
        election: this.name,
        candidate: this.candidateId,
        ttlMs: this.ttlMs,
        ...extra,
        renewEveryMs: this.renewMs,
        safetyMarginMs: this.marginMs,
      },
      message,
    );
  }

  /** Takes the lead: arms the deadline, then tells the listeners. */
  protected becomeLeader(held: H): void {
    this.held = held;
    this.armDeadline();
    this.transition({ status: ElectionStatus.Leader, token: held.token, since: Date.now() });
    this.logger.info(
      { election: this.name, candidate: this.candidateId, token: held.token },
      'elected',
    );
    this.events.emit('elected', held.token);
  }

  /** Deposes a leader whose local deadline has passed; true if it did. */
  protected checkDeadline(): boolean {
    if (!this.held || this.clock.now() < this.held.validUntil) return false;
    this.depose('expired');
    return true;
  }

  protected armDeadline(): void {
    clearTimeout(this.deadline);
    if (this.held)
      this.deadline = unrefTimeout(
        () => this.checkDeadline(),
        Math.max(0, this.held.validUntil - this.clock.now()),
      );
  }

  protected depose(reason: DeposedReason): void {
    const held = this.held;
    if (!held) return;
    this.held = undefined;
    clearTimeout(this.deadline);
    this.transition({ status: ElectionStatus.Follower });
    this.logger.warn({ election: this.name, token: held.token, reason }, 'deposed');
    this.events.emit('deposed', held.token, reason);
    this.afterDeposed(held, reason);
  }

  protected transition(next: ElectionState): void {
    const previous = this.current;
    this.current = next;
    this.events.emit('state', next, previous);
  }
}
