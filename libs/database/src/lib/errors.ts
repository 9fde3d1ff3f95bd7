/**
 * The errors the router throws on purpose, and how it tells a lost connection
 * (retry elsewhere) from a bad query (the caller's to fix).
 */

/** `updateTopology` was given an epoch not newer than the current one. */
export class StaleTopologyError extends Error {
  override readonly name = 'StaleTopologyError';
  constructor(
    readonly offered: number,
    readonly current: number,
  ) {
    super(`topology epoch ${offered} is not newer than the current epoch ${current}; refused`);
  }
}

/**
 * A write did not complete on the primary: it died, was fenced, the topology
 * switched under it, or it did not answer in time. `outcome` says whether it may
 * have been applied: retry freely when `not-applied`; when `unknown` retry only
 * an idempotent write (or one with an idempotency key), on the new primary.
 */
export class RetryableWriteError extends Error {
  override readonly name = 'RetryableWriteError';
  constructor(
    message: string,
    readonly outcome: 'not-applied' | 'unknown',
    readonly primary: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A query did not answer within its deadline; its connection was destroyed. */
export class QueryTimeoutError extends Error {
  override readonly name = 'QueryTimeoutError';
  readonly code = 'STAYLINE_QUERY_TIMEOUT';
  constructor(
    readonly node: string,
    readonly timeoutMs: number,
  ) {
    super(`no answer from ${node} within ${timeoutMs} ms`);
  }
}

/** The topology changed between choosing the primary and running on it. */
export class TopologyChangedError extends Error {
  override readonly name = 'TopologyChangedError';
  readonly code = 'STAYLINE_TOPOLOGY_CHANGED';
  constructor(readonly node: string) {
    super(`${node} is no longer the primary`);
  }
}

/** The node was dropped or fenced by a topology change; its pool is closed. */
export class NodeClosedError extends Error {
  override readonly name = 'NodeClosedError';
  readonly code = 'STAYLINE_NODE_CLOSED';
  constructor(readonly node: string) {
    super(`${node} was dropped from the topology; its connections are closed`);
  }
}

/** The code of the error a query fails with when the router cut its connection (a deadline, a fence). */
export const CONNECTION_CUT = 'STAYLINE_CONNECTION_CUT';

// Errors that say "this node (or the path to it) failed", not "this query is wrong".
const NODE_FAILURE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTCONN',
  // the node's name no longer resolves: a stopped container, a host gone from DNS
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_CONNECTION_KILLED',
  'ER_OPTION_PREVENTS_STATEMENT', // read_only: a fenced or demoted primary
  'STAYLINE_QUERY_TIMEOUT',
  'STAYLINE_TOPOLOGY_CHANGED',
  'STAYLINE_NODE_CLOSED',
  CONNECTION_CUT,
]);
const NODE_FAILURE_MESSAGES =
  /Pool is closed|Can't add new command when connection is in closed state|connection is in closed state/i;

/** The driver's error under TypeORM's QueryFailedError wrapper. */
function driverError(err: unknown): { code?: unknown; message?: unknown } | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const inner = (err as { driverError?: unknown }).driverError;
  return (typeof inner === 'object' && inner !== null ? inner : err) as {
    code?: unknown;
    message?: unknown;
  };
}

/** Whether an error means the node failed (retry elsewhere), not that the query is wrong. */
export function isNodeFailure(err: unknown): boolean {
  const e = driverError(err);
  if (!e) return false;
  if (typeof e.code === 'string' && NODE_FAILURE_CODES.has(e.code)) return true;
  return typeof e.message === 'string' && NODE_FAILURE_MESSAGES.test(e.message);
}

/**
 * Whether InnoDB chose this transaction as a deadlock victim (`ER_LOCK_DEADLOCK`,
 * 1213). InnoDB has rolled the whole transaction back by then, so it is safe to
 * run again from its start.
 */
export function isDeadlock(err: unknown): boolean {
  const e = driverError(err) as { code?: unknown; errno?: unknown } | undefined;
  return e?.code === 'ER_LOCK_DEADLOCK' || e?.errno === 1213;
}

/** A short text of any error, for logs and health details. */
export function errorText(err: unknown): string {
  const e = driverError(err);
  const code = typeof e?.code === 'string' ? `${e.code}: ` : '';
  return `${code}${err instanceof Error ? err.message : String(err)}`;
}
