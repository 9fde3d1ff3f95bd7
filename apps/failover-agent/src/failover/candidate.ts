import { formatGtidList, GtidPosition, hasReached, parseGtidList } from '@stayline/contracts';
import type { NodeView } from '../mariadb/mariadb-admin';

/**
 * What a replica holds once its relay log is applied: everything it received
 * (`Gtid_IO_Pos`) and applied; a node no longer replicating holds what it logged.
 */
export function heldPosition(view: NodeView): GtidPosition {
  const parse = (s: string) => parseGtidList(s) ?? new Map();
  if (!view.replication) return parse(view.binlogPos);
  const out = new Map(parse(view.slavePos));
  for (const [domain, g] of parse(view.replication.receivedPos)) {
    const seen = out.get(domain);
    if (!seen || seen.seq < g.seq) out.set(domain, g);
  }
  return out;
}

/** The choice and why. */
export interface CandidateChoice {
  chosen: NodeView;
  /** Every candidate's held position, for the decision's log line. */
  positions: Record<string, string>;
  reason: 'most-advanced' | 'resumed' | 'diverged-highest-sum';
}

/**
 * Chooses the replica to promote: the one holding every transaction any other
 * holds (with semi-sync AFTER_SYNC, every acknowledged write reached at least
 * one replica, so it holds all of them). `resume` names the candidate a failover
 * already chose (and maybe promoted) before its agent died: it is kept, so one
 * failure never gets two promotions. Ties go to the first name.
 */
export function chooseCandidate(views: NodeView[], resume?: string): CandidateChoice | undefined {
  if (views.length === 0) return undefined;
  const held = new Map(views.map((v) => [v.name, heldPosition(v)]));
  const positions = Object.fromEntries(
    views.map((v) => [v.name, formatGtidList(held.get(v.name) as GtidPosition)]),
  );
  const sorted = [...views].sort((a, b) => a.name.localeCompare(b.name));
  const resumed = resume ? sorted.find((v) => v.name === resume) : undefined;
  if (resumed) return { chosen: resumed, positions, reason: 'resumed' };
  const dominant = sorted.find((v) =>
    sorted.every((o) =>
      hasReached(held.get(v.name) as GtidPosition, held.get(o.name) as GtidPosition),
    ),
  );
  if (dominant) return { chosen: dominant, positions, reason: 'most-advanced' };
  // several replication domains that diverged (not this stack's case): the most transactions wins
  const total = (v: NodeView) =>
    [...(held.get(v.name) as GtidPosition).values()].reduce((n, g) => n + g.seq, 0n);
  const chosen = sorted.reduce((best, v) => (total(v) > total(best) ? v : best));
  return { chosen, positions, reason: 'diverged-highest-sum' };
}

/**
 * The GTIDs of `node`'s logged history that `primary` lacks, from both nodes'
 * `@@gtid_binlog_state` (the last GTID logged per domain and server): empty when
 * everything the node logged is in the primary's history, so it can replicate
 * from it. A GTID `d-s-n` is held when the primary logged server `s`'s
 * transaction `n` or a later one in domain `d` (each server numbers its own
 * transactions in order). A former primary that logged transactions no replica
 * acknowledged holds them as extras until a restart with `--init-rpl-role=SLAVE`
 * rolls them back (only what a crash left prepared) or a rebuild from the primary
 * discards them (mariadb/rebuild.ts).
 */
export function missingFrom(primaryState: string, nodeState: string): string[] {
  const entries = (s: string) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean)
      .map((g) => {
        const [domain, server, seq] = g.split('-');
        return { key: `${domain}-${server}`, seq: BigInt(seq ?? '0'), gtid: g };
      });
  const held = new Map(entries(primaryState).map((e) => [e.key, e.seq]));
  return entries(nodeState)
    .filter((e) => (held.get(e.key) ?? -1n) < e.seq)
    .map((e) => e.gtid);
}
