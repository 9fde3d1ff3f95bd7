/**
 * MariaDB GTID positions (`domain-server-sequence`, a comma list for several
 * replication domains), as `@@gtid_binlog_pos`, `@@gtid_slave_pos` and
 * `@@last_gtid` print them. Sequence numbers only grow within a domain (the
 * stack runs `gtid_strict_mode`), also across a failover, so "has a node
 * applied this GTID" is a per-domain comparison of sequence numbers.
 */

/** One domain's last GTID. */
export interface Gtid {
  domain: number;
  server: number;
  seq: bigint;
}

/** A position: the last GTID per replication domain. */
export type GtidPosition = ReadonlyMap<number, Gtid>;

// Bounded on purpose: a token arrives from clients in a header, and MariaDB
// refuses (as an error, not a false) a GTID whose parts overflow their types.
const GTID = /^(\d{1,10})-(\d{1,10})-(\d{1,20})$/;
const MAX_DOMAINS = 16;
/** `gtid_domain_id` and `server_id` are 32-bit unsigned. */
const MAX_U32 = 2 ** 32 - 1;
/** A sequence number is 64-bit unsigned. */
const MAX_SEQ = 2n ** 64n - 1n;

/**
 * Parses a GTID list; `''` is the empty position. Returns undefined for anything
 * malformed, and for a part out of its MariaDB range (domain and server 32-bit,
 * sequence 64-bit unsigned).
 */
export function parseGtidList(text: string): GtidPosition | undefined {
  const out = new Map<number, Gtid>();
  const trimmed = text.trim();
  if (trimmed === '') return out;
  const parts = trimmed.split(',');
  if (parts.length > MAX_DOMAINS) return undefined;
  for (const part of parts) {
    const m = GTID.exec(part.trim());
    if (!m) return undefined;
    const gtid = { domain: Number(m[1]), server: Number(m[2]), seq: BigInt(m[3]) };
    if (gtid.domain > MAX_U32 || gtid.server > MAX_U32 || gtid.seq > MAX_SEQ) return undefined;
    const seen = out.get(gtid.domain);
    if (!seen || seen.seq < gtid.seq) out.set(gtid.domain, gtid);
  }
  return out;
}

/** Prints a position the way MariaDB accepts it (`MASTER_GTID_WAIT`), domains in order. */
export function formatGtidList(position: GtidPosition): string {
  return [...position.values()]
    .sort((a, b) => a.domain - b.domain)
    .map((g) => `${g.domain}-${g.server}-${g.seq}`)
    .join(',');
}

/** Whether `position` has applied everything in `target` (every domain of `target`, at least its sequence). */
export function hasReached(position: GtidPosition, target: GtidPosition): boolean {
  for (const [domain, want] of target) {
    const have = position.get(domain);
    if (!have || have.seq < want.seq) return false;
  }
  return true;
}

/** The later GTID of each domain of both positions. */
export function mergePositions(a: GtidPosition, b: GtidPosition): GtidPosition {
  const out = new Map(a);
  for (const [domain, g] of b) {
    const seen = out.get(domain);
    if (!seen || seen.seq < g.seq) out.set(domain, g);
  }
  return out;
}

/** Whether two positions are the same. */
export function samePosition(a: GtidPosition, b: GtidPosition): boolean {
  return a.size === b.size && hasReached(a, b) && hasReached(b, a);
}

/** The sequence number of one domain in a GTID list (`0-1-42` -> 42), 0 when absent or malformed. */
export function sequenceOf(text: string, domain = 0): number {
  return Number(parseGtidList(text)?.get(domain)?.seq ?? 0);
}
