import { RequestContext } from '@stayline/observability';
import { formatGtidList, mergePositions, parseGtidList } from '@stayline/contracts';

/**
 * Read-your-writes travels with the client: after a write the caller holds the
 * write's GTID as a consistency token, sends it back on its next requests (the
 * header below, or the request context of calls between services), and a read
 * carrying it is served only by a node that has applied that GTID.
 */
export const CONSISTENCY_TOKEN_HEADER = 'x-consistency-token';

/**
 * Whose writes a read must see. A write merges its GTID into the session's
 * token; a read waits for it. The default session is the running request's
 * {@link RequestContext}.
 */
export interface ConsistencySession {
  consistencyToken?: string;
}

/** The running request's context as the session, if code runs inside one. */
export function currentSession(): ConsistencySession | undefined {
  return RequestContext.current();
}

/** Whether `token` is a well-formed, bounded GTID list (it comes from clients). */
export function isValidToken(token: string): boolean {
  return token.length <= 512 && token.trim() !== '' && parseGtidList(token) !== undefined;
}

/** The token after a write: each domain's later GTID of the old token and the write's. */
export function mergeToken(current: string | undefined, written: string): string {
  const write = parseGtidList(written);
  if (!write || write.size === 0) return current ?? '';
  const held = current === undefined ? undefined : parseGtidList(current);
  return formatGtidList(held ? mergePositions(held, write) : write);
}
