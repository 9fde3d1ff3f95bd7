import mysql2 from 'mysql2';
import { CONNECTION_CUT } from './errors';

/** The part of a mysql2 connection that closing needs. */
interface ClosableConnection {
  destroy(): void;
  stream?: { destroy(error?: Error): void };
  once(event: 'end' | 'error', listener: () => void): unknown;
  on(event: 'error', listener: () => void): unknown;
}

/**
 * Closes a mysql2 connection now, failing whatever runs on it. Its own
 * `destroy()` would not do: it marks the close as wanted, so a running query
 * never hears of it, and it only half-closes the socket, which a frozen server
 * never finishes. Destroying the socket with an error reaches both.
 */
export function hardClose(conn: ClosableConnection): void {
  const reason = Object.assign(new Error('connection cut by the router'), { code: CONNECTION_CUT });
  if (conn.stream) conn.stream.destroy(reason);
  else conn.destroy();
}

/** The part of a mysql2 connection that GTID tracking wraps. */
interface QueryingConnection {
  query(...args: unknown[]): unknown;
  promise?(...args: unknown[]): unknown;
}

/** What a connection's session reported of `last_gtid` (MariaDB session tracking). */
interface GtidTrack {
  /** The server accepted `session_track_system_variables = 'last_gtid'`. */
  on: boolean;
  /** The last GTID an OK packet carried since {@link GtidTracking.clear}. */
  gtid?: string;
  /**
   * A statement since then answered rows: mysql2 reads no session state from
   * the end of a result set, so a write that answers rows (`INSERT ...
   * RETURNING`, as TypeORM's insert on MariaDB) commits unseen.
   */
  rows?: boolean;
}

const tracks = new WeakMap<object, GtidTrack>();

/**
 * The GTIDs a connection's session reports by itself: every OK packet of a
 * statement that commits a write (COMMIT, or an autocommitted write) carries
 * the new `@@last_gtid`, so the writer needs no `SELECT @@last_gtid` after it.
 */
export interface GtidTracking {
  /** Forgets what was reported so far (before a unit of work, or right before its COMMIT). */
  clear(): void;
  /**
   * The GTID of the last write committed since {@link clear}, `''` when none
   * was; undefined when a statement since answered rows (it may have
   * committed a write whose GTID was not seen: ask the session).
   */
  last(): string | undefined;
}

/** The connection's tracking, or undefined when its session does not report GTIDs (then ask). */
export function gtidTracking(conn: object | undefined): GtidTracking | undefined {
  const track = conn && tracks.get(conn);
  if (!track?.on) return undefined;
  return {
    clear: () => {
      track.gtid = undefined;
      track.rows = false;
    },
    last: () => (track.rows ? undefined : (track.gtid ?? '')),
  };
}

/**
 * Asks the session to report `last_gtid` in its OK packets (the first command
 * on the connection: mysql2 runs them in order) and reads it from every
 * result. Also keeps one promise wrapper per connection: TypeORM asks for one
 * per query, and each is a `require` and an object.
 */
export function trackGtids(conn: QueryingConnection): void {
  const track: GtidTrack = { on: false };
  tracks.set(conn, track);
  const query = conn.query.bind(conn);
  conn.query = (...args: unknown[]) => {
    const i = args.length - 1;
    const done = args[i];
    if (typeof done === 'function') {
      args[i] = (err: unknown, result: unknown, ...rest: unknown[]) => {
        const gtid = (result as { stateChanges?: { systemVariables?: Record<string, string> } })
          ?.stateChanges?.systemVariables?.last_gtid;
        if (gtid) track.gtid = gtid;
        if (Array.isArray(result)) track.rows = true;
        return (done as (...a: unknown[]) => unknown)(err, result, ...rest);
      };
    }
    return query(...args);
  };
  query("SET SESSION session_track_system_variables = 'last_gtid'", (err: unknown) => {
    track.on = !err;
  });
  if (conn.promise) {
    const wrapper = conn.promise();
    conn.promise = () => wrapper;
  }
}

/**
 * Knows every connection of one node's pool, busy or idle, so that fencing a
 * node can close them all at once: mysql2's `pool.end()` queues a QUIT behind
 * running queries and waits forever on a frozen node.
 */
export class ConnectionTracker {
  private readonly open = new Set<ClosableConnection>();

  /** A mysql2 module for TypeORM's `driver` option whose pools report their connections here. */
  readonly driver: typeof mysql2 = Object.create(mysql2, {
    createPool: {
      value: (config: mysql2.PoolOptions) => {
        const pool = mysql2.createPool(config);
        pool.on('connection', (conn) => {
          this.add(conn as unknown as ClosableConnection);
          trackGtids(conn as unknown as QueryingConnection);
        });
        return pool;
      },
    },
  });

  /** Closes every open connection now. */
  closeAll(): void {
    for (const conn of this.open) hardClose(conn);
    this.open.clear();
  }

  private add(conn: ClosableConnection): void {
    this.open.add(conn);
    const forget = () => this.open.delete(conn);
    conn.once('end', forget);
    // a lasting listener: a second 'error' with none left would crash the process
    conn.on('error', forget);
  }
}
