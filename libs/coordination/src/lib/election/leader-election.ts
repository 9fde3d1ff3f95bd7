/**
 * Leader election with a lease and a fencing token: several candidates run,
 * one leads (acts), the others wait to take over. See docs/patterns/coordinator.md.
 *
 * Safety limit: a leader learns it lost the lease only at its next renewal, or
 * when its local deadline (the lease TTL minus a safety margin, counted from
 * when it *sent* its last successful renewal) passes. A process frozen longer
 * than that (GC pause, SIGSTOP) can still act for a moment after it wakes; so
 * every action on a shared resource carries the fencing token, and the resource
 * refuses tokens older than the newest it has seen (see FencedResource).
 */

export enum ElectionStatus {
  /** Not campaigning (before start, after stop). */
  Stopped = 'stopped',
  /** Campaigning; someone else leads, or nobody yet. */
  Follower = 'follower',
  /** Holds the lease: may act, with `token`. */
  Leader = 'leader',
}

export type ElectionState =
  | { status: ElectionStatus.Stopped }
  | { status: ElectionStatus.Follower; leaderId?: string }
  | { status: ElectionStatus.Leader; token: number; since: number };

/** Why a leader stopped leading. */
export type DeposedReason =
  /** A renewal found someone else's lease (or none). */
  | 'lost'
  /** No renewal succeeded before the local deadline: assume lost before the lease runs out elsewhere. */
  | 'expired'
  /** It resigned (stop()). */
  | 'resigned';

export interface ElectionEvents {
  elected: [token: number];
  deposed: [token: number, reason: DeposedReason];
  /** Every transition, with the state left. */
  state: [state: ElectionState, previous: ElectionState];
}

export interface LeaderElection {
  /** The current state (checks the local deadline first: a leader past it is deposed now). */
  readonly state: ElectionState;
  /** The fencing token while leading (and within the local deadline), else undefined. */
  readonly token: number | undefined;
  /** Starts campaigning; resolves after the first attempt (leading or following). */
  start(): Promise<void>;
  /** Stops campaigning; a leader resigns, releasing the lease so another takes over at once. */
  stop(): Promise<void>;
  on<E extends keyof ElectionEvents>(
    event: E,
    listener: (...args: ElectionEvents[E]) => void,
  ): () => void;
}
