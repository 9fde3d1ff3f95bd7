/**
 * A Jepsen-style history and checker for bookings through the gateway under
 * faults. The history is every request of a booking load, each ended as
 * acknowledged (2xx: the service committed it), refused (a 4xx or a 503: the
 * service says it did nothing), or indeterminate (a timeout, a cut
 * connection, a 502/504 or another 5xx: it may or may not have happened).
 * After the run, with every fault healed, the checker reads the final state of
 * every MariaDB node and proves what must hold (docs/patterns/failover.md,
 * "Under partitions"):
 *
 * - every acknowledged booking is present, exactly once, on the primary and on
 *   every replica;
 * - every indeterminate booking is present at most once (its Idempotency-Key
 *   names one reservation at most, and its night is booked once at most);
 * - no reservation is charged twice, and no payment lacks its reservation;
 * - never two writable primaries: no node committed a write of its own after
 *   a newer primary had begun to commit (from the sampled GTID positions), and
 *   no two servers acknowledged bookings in overlapping windows (from the
 *   servers named in the acknowledged bookings' consistency tokens).
 */
import type { Sample } from '@stayline/fault-kit';
import { waitFor } from '@stayline/stack-kit';
import { MARIADB_NODES, mariadbPrimary } from './cluster';
import type { ComposeStack } from './compose-stack';

export type Outcome = 'acknowledged' | 'refused' | 'indeterminate';

/** One booking request of the history. */
export interface Operation {
  key: string;
  outcome: Outcome;
  status: number;
  /** When it was sent and when it ended (`performance.now()`). */
  start: number;
  end: number;
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

/** The history of a booking load: `keyOf(n)` is the Idempotency-Key of its n-th request. */
export function historyOf(samples: Sample[], keyOf: (n: number) => string): Operation[] {
  return samples.map((s) => {
    const token = String(s.reply?.headers['x-consistency-token'] ?? '');
    const m = /^\d+-(\d+)-(\d+)/.exec(token);
    const outcome = outcomeOf(s.status);
    const id =
      outcome === 'acknowledged' ? s.reply?.json<{ id?: string }>().id : (undefined as undefined);
    return {
      key: keyOf(s.n ?? -1),
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
  at: number;
  node: string;
  serverId: number;
  readOnly: boolean;
  /** `@@gtid_binlog_pos`: the last GTID it wrote to its binlog (domain 0). */
  binlogPos: string;
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
      if (r.code !== 0) return;
      const [id, ro, pos] = r.stdout.trim().split('\t');
      this.samples.push({
        at: performance.now(),
        node,
        serverId: Number(id),
        readOnly: ro === '1',
        binlogPos: pos ?? '',
      });
    } catch {
      // paused, killed or slow: no sample this round
    }
  }
}

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
  /** Acknowledged bookings missing from a node. */
  lost: number;
  /** Bookings present more than once (a key on two reservations, a night booked twice, a double charge). */
  duplicated: number;
  /** Definite overlaps of two primaries taking writes. */
  twoPrimaryWindows: number;
  /**
   * Commits a fenced former primary made after the promotion that no node holds
   * in the end (errant, never acknowledged, discarded by the rebuild).
   */
  discardedErrant: number;
  /** The longest time with no acknowledged booking, ms. */
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
    // at most once: one reservation per key, one reservation per night, one payment per reservation
    const keys = history.map((o) => o.key);
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

  // two primaries: from the acknowledged bookings (a definite overlap only)
  const byServer = new Map<number, Operation[]>();
  for (const o of acked)
    if (o.server !== undefined) byServer.set(o.server, [...(byServer.get(o.server) ?? []), o]);
  let twoPrimaryWindows = 0;
  const servers = [...byServer.keys()];
  for (let i = 0; i < servers.length; i++)
    for (let j = i + 1; j < servers.length; j++) {
      const a = byServer.get(servers[i]) as Operation[];
      const b = byServer.get(servers[j]) as Operation[];
      const aFirst = Math.min(...a.map((o) => o.end));
      const bFirst = Math.min(...b.map((o) => o.end));
      const aLast = Math.max(...a.map((o) => o.start));
      const bLast = Math.max(...b.map((o) => o.start));
      if (aLast > bFirst && bLast > aFirst) {
        twoPrimaryWindows++;
        violations.push({
          check: 'never two writable primaries (acknowledged bookings)',
          detail: `servers ${servers[i]} and ${servers[j]} both acknowledged bookings sent after the other's first acknowledgement`,
        });
      }
    }
  // two primaries: from the sampled binlog positions (a node's own commit after a newer primary's first)
  const firstOwn = new Map<string, number>();
  const owns: Array<{ node: string; from: number; to: number; gtid: string }> = [];
  for (const node of MARIADB_NODES) {
    const mine = nodeSamples.filter((s) => s.node === node);
    for (let i = 1; i < mine.length; i++) {
      const [prev, cur] = [mine[i - 1], mine[i]];
      const server = Number(/^\d+-(\d+)-/.exec(cur.binlogPos)?.[1]);
      if (cur.binlogPos !== prev.binlogPos && server === cur.serverId) {
        owns.push({ node, from: prev.at, to: cur.at, gtid: cur.binlogPos });
        if (!firstOwn.has(node)) firstOwn.set(node, cur.at);
      }
    }
  }
  // an own commit the final primary does not hold was never acknowledged and was
  // discarded (an isolated primary's errant transaction, rebuilt away): no second primary
  const finalState = await finalPrimaryState(stack);
  let discardedErrant = 0;
  for (const own of owns)
    for (const [other, first] of firstOwn)
      if (other !== own.node && first > (firstOwn.get(own.node) ?? Infinity) && own.from > first) {
        if (!heldIn(finalState, own.gtid)) {
          discardedErrant++;
          break;
        }
        twoPrimaryWindows++;
        violations.push({
          check: 'never two writable primaries (sampled binlogs)',
          detail: `${own.node} committed a write of its own after ${other}, a newer primary, had begun to`,
        });
        break;
      }

  // the longest stretch without an acknowledged booking
  const ends = acked.map((o) => o.end).sort((x, y) => x - y);
  const first = history.length ? Math.min(...history.map((o) => o.start)) : 0;
  const last = history.length ? Math.max(...history.map((o) => o.end)) : 0;
  let longest = 0;
  let prev = first;
  for (const t of [...ends, last]) {
    longest = Math.max(longest, t - prev);
    prev = t;
  }

  return {
    operations: history.length,
    acknowledged: acked.length,
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
/** The final primary's `@@gtid_binlog_state` (the last GTID of each domain and server). */
async function finalPrimaryState(stack: ComposeStack): Promise<string> {
  const p = await mariadbPrimary(stack);
  return (await stack.sql(p.service, 'SELECT @@gtid_binlog_state')).trim();
}

/** Whether a binlog state holds GTID `d-s-n` (server s's n-th transaction in domain d, or a later one). */
export function heldIn(state: string, gtid: string): boolean {
  const [d, sv, n] = gtid.split(',').at(-1)?.trim().split('-') ?? [];
  return state
    .split(',')
    .map((g) => g.trim().split('-'))
    .some(([d2, s2, n2]) => d2 === d && s2 === sv && BigInt(n2 ?? 0) >= BigInt(n ?? 0));
}

export function summary(r: CheckResult): string {
  const rows: Array<[string, string | number]> = [
    ['operations', r.operations],
    ['acknowledged', r.acknowledged],
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

/** Waits until every MariaDB node holds the last acknowledged booking of the history (replicas caught up). */
export async function waitConverged(
  stack: ComposeStack,
  history: Operation[],
  timeoutMs = 60_000,
): Promise<void> {
  const last = [...history].reverse().find((o) => o.reservationId);
  if (!last) return;
  const id = lit(last.reservationId as string);
  await waitFor(
    'every node to hold the last acknowledged booking',
    async () =>
      (
        await Promise.all(
          MARIADB_NODES.map((n) =>
            stack.sql(n, `SELECT COUNT(*) FROM reservation.reservations WHERE id = ${id}`),
          ),
        )
      ).every((h) => h.trim() === '1'),
    { timeoutMs, intervalMs: 500 },
  );
}
