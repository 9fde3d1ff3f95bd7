/**
 * A Jepsen-style history and checker for bookings through the gateway under
 * faults. The history is every request of a booking load (bookings, and the
 * cancels of some of them), each ended as
 * acknowledged (2xx: the service committed it), refused (a 4xx or a 503: the
 * service says it did nothing; a 401 too, a client's token that expired while
 * a fault kept it from being renewed), or indeterminate (a timeout, a cut
 * connection, a 502/504 or another 5xx: it may or may not have happened).
 * After the run, with every fault healed, the checker reads the final state of
 * every MariaDB node and proves what must hold (docs/patterns/failover.md,
 * "Under partitions"):
 *
 * - every acknowledged booking is present, exactly once, on the primary and on
 *   every replica, and every acknowledged cancel holds on all of them;
 * - each of the run's reservations agrees with its payment: a confirmed one is
 *   charged, a cancelled one is not (refunded, or never charged);
 * - every indeterminate booking is present at most once (its Idempotency-Key
 *   names one reservation at most, and its night is booked once at most);
 * - no reservation is charged twice, and no payment lacks its reservation;
 * - never two writable primaries: no two servers acknowledged bookings in
 *   overlapping windows (from the servers named in the acknowledged bookings'
 *   consistency tokens), and no write a node logged after another node was
 *   promoted is kept: from the sampled `read_only` flags and binlog positions,
 *   each such write is looked up in every node's binlog at the end. One found
 *   is a second primary's write; one found nowhere is an errant transaction of
 *   a fenced former primary (logged, never acknowledged: semi-sync was waiting
 *   for a replica it could not reach) that was discarded when it was rebuilt.
 */
import type { Sample } from '@stayline/fault-kit';
import { waitFor } from '@stayline/stack-kit';
import { MARIADB_NODES } from './cluster';
import type { ComposeStack } from './compose-stack';

export type Outcome = 'acknowledged' | 'refused' | 'indeterminate';

/** One request of the history: a booking, or the cancel of one. */
export interface Operation {
  /** A booking's Idempotency-Key (a cancel's is `cancel-<id>`). */
  key: string;
  /** The reservation a cancel cancels; absent for a booking. */
  cancels?: string;
  outcome: Outcome;
  status: number;
  /** When it was sent and when it ended (`performance.now()`). */
  start: number;
  end: number;
  /** The reservation an acknowledged booking made. */
  reservationId?: string;
  /** The server id that committed it (from its consistency token), when acknowledged. */
  server?: number;
  seq?: number;
}

/** A request's outcome from its answer. */
export function outcomeOf(status: number): Outcome {
  if (status >= 200 && status < 300) return 'acknowledged';
  if ((status >= 400 && status < 500) || status === 503) return 'refused';
  return 'indeterminate'; // 0 (no answer), 500, 502, 504
}

/**
 * The history of a booking load: `keyOf(n)` is the Idempotency-Key of its
 * n-th request, `cancelOf(n)` the reservation it cancels when it is a cancel.
 */
export function historyOf(
  samples: Sample[],
  keyOf: (n: number) => string,
  cancelOf: (n: number) => string | undefined = () => undefined,
): Operation[] {
  return samples.map((s) => {
    const token = String(s.reply?.headers['x-consistency-token'] ?? '');
    const m = /^\d+-(\d+)-(\d+)/.exec(token);
    const outcome = outcomeOf(s.status);
    const cancels = cancelOf(s.n ?? -1);
    const id =
      outcome === 'acknowledged' && !cancels
        ? s.reply?.json<{ id?: string }>().id
        : (undefined as undefined);
    return {
      key: keyOf(s.n ?? -1),
      ...(cancels ? { cancels } : {}),
      outcome,
      status: s.status,
      start: s.at - s.ms,
      end: s.at,
      reservationId: id,
      server: m && outcome === 'acknowledged' ? Number(m[1]) : undefined,
      seq: m && outcome === 'acknowledged' ? Number(m[2]) : undefined,
    };
  });
}

/** One look at one MariaDB node during the run. */
export interface NodeSample {
  /** When the look began and when its answer came (`performance.now()`): what it read was true at some moment in between. */
  start: number;
  at: number;
  node: string;
  serverId: number;
  readOnly: boolean;
  /** `@@gtid_binlog_pos`: the last GTID it wrote to its binlog (domain 0). */
  binlogPos: string;
}

/** `@@server_id`, `@@read_only`, `@@gtid_binlog_pos` as one tab-separated row, or nothing. */
export function parseLook(
  stdout: string,
): Pick<NodeSample, 'serverId' | 'readOnly' | 'binlogPos'> | undefined {
  const m = /^(\d+)\t([01])\t([0-9,-]*)$/.exec(stdout.replace(/\n$/, ''));
  if (!m || m[1] === '0') return undefined;
  return { serverId: Number(m[1]), readOnly: m[2] === '1', binlogPos: m[3] };
}

/**
 * Samples every MariaDB node's `read_only` and binlog position, every
 * `intervalMs`, from inside the containers (an isolated node still answers
 * `docker exec`; a paused one does not, and is skipped for that round).
 */
export class NodeSampler {
  readonly samples: NodeSample[] = [];
  private running = true;
  private readonly loop: Promise<void>;
  private readonly ids = new Map<string, string>();

  constructor(
    private readonly stack: ComposeStack,
    intervalMs = 500,
  ) {
    this.loop = (async () => {
      // container ids once: `docker start` keeps a container's id, and a look must be quick
      for (const node of MARIADB_NODES) this.ids.set(node, (await stack.container(node)).id);
      while (this.running) {
        const t = performance.now();
        await Promise.all(MARIADB_NODES.map((node) => this.look(node)));
        const wait = intervalMs - (performance.now() - t);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
    })();
  }

  async stop(): Promise<NodeSample[]> {
    this.running = false;
    await this.loop;
    return this.samples;
  }

  private async look(node: string): Promise<void> {
    const start = performance.now();
    try {
      const sql = 'SELECT @@server_id, @@read_only, @@gtid_binlog_pos';
      const r = await this.stack.docker(
        [
          'exec',
          this.ids.get(node) as string,
          'mariadb',
          '--socket=/run/mysqld/mysqld.sock',
          '--user=root',
          '-N',
          '-B',
          '-e',
          sql,
        ],
        3_000,
      );
      const look = r.code === 0 ? parseLook(r.stdout) : undefined;
      // an answer that is not one whole row is no look: an empty one once read as "writable"
      if (look) this.samples.push({ start, at: performance.now(), node, ...look });
    } catch {
      // paused, killed or slow: no sample this round
    }
  }
}

/** A node's own writes seen between two looks, after another node had been promoted. */
export interface LateCommit {
  node: string;
  serverId: number;
  /** Its binlog position at the look before and at the look that saw them. */
  fromPos: string;
  toPos: string;
  /** The writes are `0-<serverId>-n` for some n in (fromSeq, toSeq]. */
  fromSeq: number;
  toSeq: number;
  /** They were logged after `fromStart` and by `toEnd`. */
  fromStart: number;
  toEnd: number;
  /** The node promoted before them, and by when it certainly was. */
  newer: string;
  newerPromotedBy: number;
}

/** Server id and sequence number of the domain-0 GTID in a `@@gtid_binlog_pos`. */
function gtidOf(pos: string): { server: number; seq: number } | undefined {
  const m = /(?:^|,)\s*0-(\d+)-(\d+)/.exec(pos);
  return m ? { server: Number(m[1]), seq: Number(m[2]) } : undefined;
}

/** A node seen read-only and then writable: promoted after `after` and by `by`. */
interface Promotion {
  node: string;
  after: number;
  by: number;
}

function looksByNode(samples: NodeSample[]): Map<string, NodeSample[]> {
  const byNode = new Map<string, NodeSample[]>();
  for (const s of [...samples].sort((a, b) => a.start - b.start)) {
    const mine = byNode.get(s.node) ?? [];
    mine.push(s);
    byNode.set(s.node, mine);
  }
  return byNode;
}

function promotionsOf(byNode: Map<string, NodeSample[]>): Promotion[] {
  const promotions: Promotion[] = [];
  for (const [node, mine] of byNode) {
    if (mine.length && !mine[0].readOnly)
      promotions.push({ node, after: -Infinity, by: -Infinity });
    for (let i = 1; i < mine.length; i++)
      if (mine[i - 1].readOnly && !mine[i].readOnly)
        promotions.push({ node, after: mine[i - 1].start, by: mine[i].at });
  }
  return promotions;
}

/**
 * Another node's promotion that certainly came before `sentAfter` and after
 * `node` itself last became primary (its last promotion that may precede `by`).
 */
function newerPromotion(
  promotions: Promotion[],
  node: string,
  by: number,
  sentAfter: number,
): Promotion | undefined {
  const own = promotions
    .filter((p) => p.node === node && p.after < by)
    .reduce((a, p) => Math.max(a, p.by), -Infinity);
  return promotions
    .filter((p) => p.node !== node && p.after > own && p.by < sentAfter)
    .sort((a, b) => a.by - b.by)[0];
}

/**
 * Bookings acknowledged by a node (the server in their consistency token) that
 * were sent after another node was promoted during its own time as primary: a
 * second primary taking writes, whatever happened to them later.
 */
export function acksAfterNewerPrimary(
  acked: Operation[],
  samples: NodeSample[],
): Array<{ op: Operation; node: string; newer: string }> {
  const byNode = looksByNode(samples);
  const promotions = promotionsOf(byNode);
  const nodeOf = new Map(samples.map((s) => [s.serverId, s.node]));
  const found: Array<{ op: Operation; node: string; newer: string }> = [];
  for (const op of acked) {
    const node = op.server === undefined ? undefined : nodeOf.get(op.server);
    if (!node) continue;
    const newer = newerPromotion(promotions, node, op.end, op.start);
    if (newer) found.push({ op, node, newer: newer.node });
  }
  return found;
}

/**
 * The writes a node logged of its own, certainly after another node was
 * promoted (became writable) during its own time as primary. Times are
 * bounded conservatively: a promotion happened between the look that last saw
 * the node read-only began and the look that saw it writable ended; a write,
 * between the look before it began and the look that saw it ended. A node
 * writable at its first look has been primary since before the run.
 */
export function commitsAfterNewerPrimary(samples: NodeSample[]): LateCommit[] {
  const byNode = looksByNode(samples);
  const promotions = promotionsOf(byNode);
  const late: LateCommit[] = [];
  for (const [node, mine] of byNode)
    for (let i = 1; i < mine.length; i++) {
      const [prev, cur] = [mine[i - 1], mine[i]];
      const now = gtidOf(cur.binlogPos);
      if (cur.binlogPos === prev.binlogPos || now?.server !== cur.serverId) continue;
      // its own time as primary began with its last promotion that may precede these writes
      const newer = newerPromotion(promotions, node, cur.at, prev.start);
      if (!newer) continue;
      const was = gtidOf(prev.binlogPos);
      late.push({
        node,
        serverId: cur.serverId,
        fromPos: prev.binlogPos,
        toPos: cur.binlogPos,
        fromSeq: was?.seq ?? 0,
        toSeq: now.seq,
        fromStart: prev.start,
        toEnd: cur.at,
        newer: newer.node,
        newerPromotedBy: newer.by,
      });
    }
  return late;
}

/** The domain-0 GTIDs in every node's binlog, and how far back the most complete binlog reaches. */
export interface BinlogGtids {
  gtids: Set<string>;
  /** The lowest sequence number in any node's binlog: a GTID below it cannot be looked up. */
  reach: number;
}

/** Reads every node's binlog files (`mariadb-binlog`, inside its container) for their GTIDs. */
export async function binlogGtids(stack: ComposeStack): Promise<BinlogGtids> {
  const gtids = new Set<string>();
  let reach = Infinity;
  for (const node of MARIADB_NODES) {
    const out = await stack.exec(
      node,
      [
        'sh',
        '-c',
        // rows decoded to comments (not base64): only the GTID lines are kept; grep's 1 is "none"
        'cd /var/lib/mysql && command -v mariadb-binlog >/dev/null && ' +
          'mariadb-binlog --base64-output=decode-rows $(sed "s|.*/||" binlog.index) | ' +
          'grep -o "GTID 0-[0-9]*-[0-9]*"; test $? -le 1',
      ],
      120_000,
    );
    for (const line of out.split('\n')) {
      const g = line.replace('GTID ', '').trim();
      if (!g) continue;
      gtids.add(g);
      reach = Math.min(reach, Number(g.split('-')[2]));
    }
  }
  return { gtids, reach };
}

/** Whether a late commit is kept (in some node's binlog), was discarded, or cannot be told. */
export function verdictOf(c: LateCommit, logged: BinlogGtids): 'held' | 'discarded' | 'unknown' {
  for (const g of logged.gtids) {
    const [, server, seq] = g.split('-').map(Number);
    if (server === c.serverId && seq > c.fromSeq && seq <= c.toSeq) return 'held';
  }
  return logged.reach <= c.fromSeq + 1 ? 'discarded' : 'unknown';
}

const ms = (t: number) => `${Math.round(t)} ms`;

/**
 * The least and the greatest of many numbers, without spreading them into
 * arguments: an hour's history (about 70,000 requests) overflows the call stack.
 */
export const least = (xs: number[]): number => xs.reduce((a, x) => (x < a ? x : a), Infinity);
export const most = (xs: number[]): number => xs.reduce((a, x) => (x > a ? x : a), -Infinity);

/** One violation the checker found, in words. */
export interface Violation {
  check: string;
  detail: string;
}

export interface CheckResult {
  operations: number;
  acknowledged: number;
  refused: number;
  indeterminate: number;
  /** Cancels acknowledged (2xx), and their share of `acknowledged`. */
  cancels: number;
  /** Acknowledged bookings missing from a node, or acknowledged cancels undone on one. */
  lost: number;
  /** Bookings present more than once (a key on two reservations, a night booked twice, a double charge). */
  duplicated: number;
  /** Definite overlaps of two primaries taking writes. */
  twoPrimaryWindows: number;
  /**
   * Writes a fenced former primary logged after another node's promotion that
   * no node's binlog holds in the end (errant, never acknowledged, discarded by
   * the rebuild), counted by the looks that saw them.
   */
  discardedErrant: number;
  /** The longest time with no acknowledged booking or cancel, ms. */
  longestWriteOutageMs: number;
  violations: Violation[];
}

/** SQL string literal of a generated id or key (letters, digits, dashes only). */
const lit = (v: string) => `'${v.replace(/[^\w.-]/g, '')}'`;

async function column(stack: ComposeStack, node: string, sql: string): Promise<string[]> {
  const out = await stack.sql(node, sql);
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/**
 * Reads the final state on every MariaDB node and checks the history against
 * it (call with every fault healed and the replicas caught up).
 */
export async function check(
  stack: ComposeStack,
  history: Operation[],
  nodeSamples: NodeSample[],
): Promise<CheckResult> {
  const violations: Violation[] = [];
  const acked = history.filter((o) => o.outcome === 'acknowledged');
  const ackedIds = acked.flatMap((o) => o.reservationId ?? []);
  const bookings = history.filter((o) => !o.cancels);
  const ackedCancels = [...new Set(acked.flatMap((o) => o.cancels ?? []))];
  let lost = 0;
  let duplicated = 0;

  for (const node of MARIADB_NODES) {
    // acknowledged: present on every node
    const held = new Set<string>();
    for (let i = 0; i < ackedIds.length; i += 500) {
      const chunk = ackedIds.slice(i, i + 500);
      if (!chunk.length) continue;
      (
        await column(
          stack,
          node,
          `SELECT id FROM reservation.reservations WHERE id IN (${chunk.map(lit).join(',')})`,
        )
      ).forEach((id) => held.add(id));
    }
    const missing = ackedIds.filter((id) => !held.has(id));
    if (missing.length) {
      lost = Math.max(lost, missing.length);
      violations.push({
        check: 'every acknowledged booking is present',
        detail: `${missing.length} missing on ${node}, e.g. ${missing.slice(0, 3).join(' ')}`,
      });
    }
    // an acknowledged cancel holds: the reservation is cancelled on every node
    const undone: string[] = [];
    for (let i = 0; i < ackedCancels.length; i += 500) {
      const chunk = ackedCancels.slice(i, i + 500);
      undone.push(
        ...(await column(
          stack,
          node,
          `SELECT id FROM reservation.reservations WHERE id IN (${chunk.map(lit).join(',')}) AND status <> 'CANCELLED'`,
        )),
      );
    }
    if (undone.length) {
      lost = Math.max(lost, missing.length + undone.length);
      violations.push({
        check: 'every acknowledged cancel holds',
        detail: `${undone.length} not cancelled on ${node}, e.g. ${undone.slice(0, 3).join(' ')}`,
      });
    }
    // a reservation and its payment agree: confirmed is charged, cancelled is not (a cancel
    // refunds, then releases the nights: one stopped between the two leaves them apart)
    const apart: string[] = [];
    for (let i = 0; i < ackedIds.length; i += 500) {
      const chunk = ackedIds.slice(i, i + 500);
      apart.push(
        ...(await column(
          stack,
          node,
          `SELECT CONCAT(r.id, ' ', r.status, '/', COALESCE(p.status, 'no payment')) FROM reservation.reservations r ` +
            `LEFT JOIN payment.payments p ON p.reservation_id = r.id WHERE r.id IN (${chunk.map(lit).join(',')}) ` +
            `AND ((r.status = 'CONFIRMED' AND (p.status IS NULL OR p.status <> 'CHARGED')) OR (r.status = 'CANCELLED' AND p.status = 'CHARGED'))`,
        )),
      );
    }
    if (apart.length)
      violations.push({
        check: 'a reservation and its payment agree',
        detail: `${node}: ${apart.length}, e.g. ${apart.slice(0, 3).join('; ')}`,
      });
    // at most once: one reservation per key, one reservation per night, one payment per reservation
    // (a key is unique per user in the schema; the run's keys are its own and each sent by one
    // user, so a key on two rows, whoever's, is a booking made twice)
    const keys = bookings.map((o) => o.key);
    for (let i = 0; i < keys.length; i += 500) {
      const chunk = keys.slice(i, i + 500);
      const twice = await column(
        stack,
        node,
        `SELECT k.idem_key FROM reservation.idempotency_keys k JOIN reservation.reservations r ON r.id = k.reservation_id ` +
          `WHERE k.idem_key IN (${chunk.map(lit).join(',')}) GROUP BY k.idem_key HAVING COUNT(*) > 1`,
      );
      duplicated += twice.length;
      if (twice.length)
        violations.push({ check: 'a key books once', detail: `${node}: ${twice.join(' ')}` });
    }
    const nights = await column(
      stack,
      node,
      'SELECT listing_id, night FROM reservation.booked_nights GROUP BY listing_id, night HAVING COUNT(*) > 1',
    );
    const charged = await column(
      stack,
      node,
      'SELECT reservation_id FROM payment.payments GROUP BY reservation_id HAVING COUNT(*) > 1',
    );
    const orphans = await column(
      stack,
      node,
      'SELECT p.reservation_id FROM payment.payments p LEFT JOIN reservation.reservations r ON r.id = p.reservation_id WHERE r.id IS NULL',
    );
    duplicated += nights.length + charged.length;
    if (nights.length)
      violations.push({ check: 'a night is booked once', detail: `${node}: ${nights.join('; ')}` });
    if (charged.length)
      violations.push({ check: 'no double charge', detail: `${node}: ${charged.join(' ')}` });
    if (orphans.length)
      violations.push({
        check: 'no payment without its reservation',
        detail: `${node}: ${orphans.length}, e.g. ${orphans.slice(0, 3).join(' ')}`,
      });
  }

  // two primaries: bookings acknowledged by a node after another was promoted (the servers
  // in their consistency tokens against the sampled read_only flags)
  let twoPrimaryWindows = 0;
  const lateAcks = acksAfterNewerPrimary(acked, nodeSamples);
  if (lateAcks.length) {
    twoPrimaryWindows += lateAcks.length;
    const [x] = lateAcks;
    violations.push({
      check: 'never two writable primaries (acknowledged bookings)',
      detail:
        `${lateAcks.length} bookings acknowledged by a node after another was promoted, e.g. ${x.op.key} ` +
        `by ${x.node}, sent at ${ms(x.op.start)}, after ${x.newer} became writable`,
    });
  }
  // two primaries: from the sampled read_only flags and binlog positions (a node's own
  // commit after another node was promoted), each such commit looked up in every node's binlog
  const late = commitsAfterNewerPrimary(nodeSamples);
  const logged = late.length ? await binlogGtids(stack) : undefined;
  let discardedErrant = 0;
  for (const c of late) {
    const verdict = verdictOf(c, logged as BinlogGtids);
    if (verdict === 'discarded') {
      discardedErrant++;
      continue;
    }
    twoPrimaryWindows++;
    violations.push({
      check: 'never two writable primaries (sampled binlogs)',
      detail:
        `${c.node} logged ${verdict === 'held' ? 'a write that is kept' : 'a write no binlog reaches back to (cannot tell whether it was kept)'}: ` +
        `its position went from ${c.fromPos || '(empty)'} to ${c.toPos} between ${ms(c.fromStart)} and ${ms(c.toEnd)}, ` +
        `after ${c.newer} became writable (by ${ms(c.newerPromotedBy)})`,
    });
  }

  // the longest stretch without an acknowledged booking
  const ends = acked.map((o) => o.end).sort((x, y) => x - y);
  const first = history.length ? least(history.map((o) => o.start)) : 0;
  const last = history.length ? most(history.map((o) => o.end)) : 0;
  let longest = 0;
  let prev = first;
  for (const t of [...ends, last]) {
    longest = Math.max(longest, t - prev);
    prev = t;
  }

  return {
    operations: history.length,
    acknowledged: acked.length,
    cancels: acked.filter((o) => o.cancels).length,
    refused: history.filter((o) => o.outcome === 'refused').length,
    indeterminate: history.filter((o) => o.outcome === 'indeterminate').length,
    lost,
    duplicated,
    twoPrimaryWindows,
    discardedErrant,
    longestWriteOutageMs: Math.round(longest),
    violations,
  };
}

/** The summary table a run prints. */
export function summary(r: CheckResult): string {
  const rows: Array<[string, string | number]> = [
    ['operations', r.operations],
    ['acknowledged', r.acknowledged],
    ['  of which cancels', r.cancels],
    ['refused (4xx, 503)', r.refused],
    ['indeterminate', r.indeterminate],
    ['lost (must be 0)', r.lost],
    ['errant commits discarded', r.discardedErrant],
    ['duplicated (must be 0)', r.duplicated],
    ['two-primary windows (must be 0)', r.twoPrimaryWindows],
    ['longest write outage', `${(r.longestWriteOutageMs / 1000).toFixed(1)} s`],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(34)} ${v}`).join('\n');
}

/**
 * Waits until every MariaDB node holds the last acknowledged booking of the
 * history and the last acknowledged cancel (replicas caught up), and no cancel
 * is still under way (a 202 CANCELLING, finished by the reconciler).
 */
export async function waitConverged(
  stack: ComposeStack,
  history: Operation[],
  timeoutMs = 60_000,
): Promise<void> {
  const lastBooked = [...history].reverse().find((o) => o.reservationId)?.reservationId;
  const lastCancel = [...history]
    .reverse()
    .find((o) => o.cancels && o.outcome === 'acknowledged')?.cancels;
  // [query, the answer once caught up]; a cancel answered 202 is finished by the reconciler
  const probes: Array<[string, string]> = [
    ["SELECT COUNT(*) FROM reservation.reservations WHERE status = 'CANCELLING'", '0'],
    ...(lastBooked
      ? [
          [`SELECT COUNT(*) FROM reservation.reservations WHERE id = ${lit(lastBooked)}`, '1'] as [
            string,
            string,
          ],
        ]
      : []),
    ...(lastCancel
      ? [
          [
            `SELECT COUNT(*) FROM reservation.reservations WHERE id = ${lit(lastCancel)} AND status = 'CANCELLED'`,
            '1',
          ] as [string, string],
        ]
      : []),
  ];
  await waitFor(
    'every node to hold the last acknowledged booking and cancel, and no cancel to be under way',
    async () =>
      (
        await Promise.all(
          MARIADB_NODES.flatMap((n) =>
            probes.map(async ([sql, want]) => (await stack.sql(n, sql)).trim() === want),
          ),
        )
      ).every(Boolean),
    { timeoutMs, intervalMs: 500 },
  );
}
