/**
 * How many fetches one instance runs at once, and how many of them one user
 * holds. A fetch may wait on a slow page for the whole time limit, so without
 * a cap a burst of slow URLs (or one user's) would hold sockets and memory
 * without bound. Beyond a cap the request is refused at once, not queued: a
 * queue would spend the client's time before its own fetch deadline even
 * starts, and another instance behind the gateway may well have room.
 */
export class FetchCapacityError extends Error {
  constructor(
    /** `user`: this user's fetches are at the cap; `instance`: this instance's are. */
    readonly scope: 'user' | 'instance',
    /** Seconds until the oldest fetch in the way reaches its deadline (at least 1). */
    readonly retryAfterS: number,
  ) {
    super(
      scope === 'user'
        ? 'too many pages being fetched for this user; retry when one is done'
        : 'this instance is fetching as many pages as it may; retry shortly',
    );
  }
}

export interface FetchCaps {
  perInstance: number;
  perUser: number;
}

export class FetchSlots {
  /** Deadlines of the fetches in progress, per user. */
  private readonly byUser = new Map<string, number[]>();
  private inProgress: number[] = [];

  constructor(
    private readonly caps: FetchCaps,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes a slot for a fetch ending by `deadline`; the returned function gives it back (once). */
  acquire(userId: string, deadline: number): () => void {
    const mine = this.byUser.get(userId) ?? [];
    if (mine.length >= this.caps.perUser)
      throw new FetchCapacityError('user', this.retryAfter(mine));
    if (this.inProgress.length >= this.caps.perInstance)
      throw new FetchCapacityError('instance', this.retryAfter(this.inProgress));
    mine.push(deadline);
    this.byUser.set(userId, mine);
    this.inProgress.push(deadline);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      remove(this.inProgress, deadline);
      remove(mine, deadline);
      if (!mine.length) this.byUser.delete(userId);
    };
  }

  /** Fetches in progress, and users holding at least one (for tests and metrics). */
  usage(): { fetches: number; users: number } {
    return { fetches: this.inProgress.length, users: this.byUser.size };
  }

  private retryAfter(deadlines: number[]): number {
    return Math.max(1, Math.ceil((Math.min(...deadlines) - this.now()) / 1000));
  }
}

function remove(list: number[], value: number): void {
  const i = list.indexOf(value);
  if (i >= 0) list.splice(i, 1);
}
