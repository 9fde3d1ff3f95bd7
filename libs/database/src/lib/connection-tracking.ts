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
        pool.on('connection', (conn) => this.add(conn as unknown as ClosableConnection));
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
