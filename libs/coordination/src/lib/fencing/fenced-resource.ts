/**
 * Fencing tokens, checked where it matters: at the resource. A leader (or lock
 * holder) passes its token with every write; the resource remembers the
 * highest token it has accepted and refuses older ones, so a deposed leader
 * that wakes from a pause cannot overwrite its successor's work.
 * See docs/patterns/coordinator.md.
 *
 * In SQL (what the services do) the check is one condition on the write:
 *   UPDATE failover_state SET primary_host = ?, fence_token = ?
 *    WHERE id = 1 AND fence_token <= ?          -- 0 rows changed: a stale leader
 */
export interface FencedResource {
  /** Writes `value` if `token` is not older than the newest accepted; false if refused. */
  write(token: number, value: string): Promise<boolean>;
  /** The last accepted write. */
  read(): Promise<{ token: number; value: string } | undefined>;
}

/** The SQL form of the check, for a table with a `fence_token` column. */
export const FENCED_UPDATE_CONDITION = 'fence_token <= ?';
