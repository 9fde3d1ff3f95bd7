/**
 * Rebuilds a fenced node from the current primary, discarding whatever it
 * holds that the primary lacks (docs/patterns/failover.md, "Errant
 * transactions").
 *
 * Why a rebuild: a primary cut from its replicas logs the commits it is
 * asked for and waits for an acknowledgement that never comes. When it is
 * fenced (its sessions killed) or shut down cleanly, those transactions are
 * committed in its engine although no replica has them and no client was
 * told they succeeded. They cannot be "merged" (the new primary took writes
 * since, maybe on the same rows) and a restart with `--init-rpl-role=SLAVE`
 * only rolls back the ones still prepared after a crash. So the node is
 * copied from the primary, as `mariadb-dump --single-transaction
 * --gtid --master-data` would do it, over two admin connections:
 *
 * 1. on the primary, a consistent snapshot (`START TRANSACTION WITH
 *    CONSISTENT SNAPSHOT`) and the GTID position it corresponds to
 *    (`binlog_snapshot_file/position` turned into GTIDs by `BINLOG_GTID_POS`);
 * 2. on the node, with nothing logged (`sql_log_bin = 0`), every table of
 *    every application schema emptied and filled with the snapshot's rows;
 * 3. the node's own binary log reset (its errant GTIDs gone with it), its
 *    replication position set to the snapshot's, and it is pointed at the
 *    primary, where it catches up with what was written during the copy.
 *
 * The node stays read-only throughout; nobody reads from it (it is fenced, so
 * it is in no published topology) until it is admitted again as a replica.
 *
 * A rebuild is done on behalf of a leader, from the primary it published:
 * its guard is asked before every step that changes the node (emptying a
 * table, each page copied, `RESET MASTER`, `gtid_slave_pos`, starting
 * replication) and stops it there when the agent no longer leads or the
 * topology moved on. From its first change to the node until replication runs,
 * the node carries a mark (`stayline_agent.rebuild`, not logged, never
 * copied): a node stopped half-way, whatever it holds by then, is rebuilt
 * again and never admitted as it is.
 */
import type { NodeAddress } from '@stayline/database';
import type mysql from 'mysql2/promise';
import type { MariaDbAdmin } from './mariadb-admin';

type Conn = mysql.Connection;
type Row = Record<string, unknown>;

const SYSTEM_SCHEMAS = ['mysql', 'information_schema', 'performance_schema', 'sys'];
const PAGE_ROWS = 500;
/** Where a node records the rebuild it is in (one row, on the node only). */
const MARK = { db: 'stayline_agent', table: 'rebuild' } as const;
const ER_BAD_DB_ERROR = 1049;
const ER_NO_SUCH_TABLE = 1146;

/** What may stop a rebuild before its next step that changes the node. */
export interface RebuildGuard {
  /** Aborted to stop at once (its `reason` says why): the copy's connections are closed under it. */
  signal?: AbortSignal;
  /**
   * Why the rebuild must stop now, or undefined to go on; asked before every
   * step that changes the node, named by `next` ("RESET MASTER", "emptying db.t", …).
   */
  check?: (next: string) => Promise<string | undefined>;
}

/** A rebuild its guard stopped; the node keeps its mark and is rebuilt again. */
export class RebuildStoppedError extends Error {
  override readonly name = 'RebuildStoppedError';
  constructor(
    readonly node: string,
    readonly why: string,
    /** Where it stopped: before which step, or during which. */
    readonly at: string,
  ) {
    super(`rebuild of ${node} stopped: ${why} (${at})`);
  }
}

/** A rebuild a node is in, or was left in: it holds nothing to be trusted until rebuilt again. */
export interface RebuildMark {
  /** The primary it was being copied from. */
  from: string;
  /** `@@gtid_binlog_state` before the rebuild (the errant GTIDs among them). */
  discarded: string;
  /** When it started (ISO 8601). */
  at: string;
}

/** What a rebuild copied, and where the node now replicates from. */
export interface RebuildReport {
  /** The primary's GTID position at the snapshot: the node continues from there. */
  snapshotPos: string;
  /** The GTIDs the node held that the primary lacked, now discarded (`@@gtid_binlog_state` before). */
  discardedState: string;
  tables: number;
  rows: number;
  ms: number;
}

/** Values read as the text MariaDB sent (dates, big integers, decimals): copied without conversion. */
const asText = (
  field: { type: string; string: () => string | null },
  next: () => unknown,
): unknown =>
  ['DATE', 'DATETIME', 'TIMESTAMP', 'TIME', 'LONGLONG', 'NEWDECIMAL', 'DECIMAL', 'YEAR'].includes(
    field.type,
  )
    ? field.string()
    : next();

/**
 * Copies the primary's data onto `node` and points it at the primary
 * (see the file comment), asking `guard` before each step that changes the
 * node. `timeoutMs` bounds the whole copy.
 */
export async function rebuildFrom(
  admin: MariaDbAdmin,
  node: NodeAddress,
  primary: NodeAddress,
  guard: RebuildGuard = {},
  timeoutMs = 120_000,
): Promise<RebuildReport> {
  const started = performance.now();
  const { signal } = guard;
  let step = 'before connecting';
  const before = async (next: string) => {
    step = `before ${next}`;
    const why =
      stopReason(signal) ??
      (await guard.check?.(next).catch((err: Error) => `its guard failed (${err.message})`)) ??
      stopReason(signal);
    if (why) throw new RebuildStoppedError(node.name, why, step);
    step = `during ${next}`;
  };
  const stopped = (err: unknown): unknown => {
    const why = stopReason(signal);
    return why && !(err instanceof RebuildStoppedError)
      ? new RebuildStoppedError(node.name, why, step)
      : err;
  };

  await before('connecting');
  const report = await admin
    .run(
      primary,
      (source) =>
        admin.run(
          node,
          async (target) => {
            const cut = () => {
              source.destroy();
              target.destroy();
            };
            signal?.addEventListener('abort', cut, { once: true });
            try {
              return await copy(source, target, primary, before);
            } finally {
              signal?.removeEventListener('abort', cut);
            }
          },
          timeoutMs,
        ),
      timeoutMs + 1_000,
    )
    .catch((err: unknown) => {
      throw stopped(err);
    });
  await before('starting replication');
  await admin.replicate(node, primary);
  await before('clearing its rebuild mark');
  await admin.run(node, async (c) => {
    await c.query('SET SESSION sql_log_bin = 0');
    await c.query('DELETE FROM ??.??', [MARK.db, MARK.table]);
  });
  return { ...report, ms: Math.round(performance.now() - started) };
}

/** The copy itself, on a connection to the primary and one to the node. */
async function copy(
  source: Conn,
  target: Conn,
  primary: NodeAddress,
  before: (step: string) => Promise<void>,
): Promise<Omit<RebuildReport, 'ms'>> {
  await source.query('SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ');
  await source.query('START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY');
  const snapshotPos = await snapshotPosition(source);
  const [held] = await rows(target, 'SELECT @@gtid_binlog_state AS state');
  const discardedState = String(held?.state ?? '');

  await target.query('SET SESSION sql_log_bin = 0');
  await target.query('SET SESSION foreign_key_checks = 0');
  await before('marking the node and stopping its replication');
  await mark(target, {
    from: primary.name,
    discarded: discardedState,
    at: new Date().toISOString(),
  });
  await target.query('STOP SLAVE');
  await target.query('RESET SLAVE ALL');

  const tables = await rows(
    source,
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN (?)
        AND NOT (TABLE_SCHEMA = ? AND TABLE_NAME = ?)
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [SYSTEM_SCHEMAS, MARK.db, MARK.table],
  );
  let copied = 0;
  for (const t of tables) {
    const db = String(t.db);
    const name = String(t.name);
    await before(`emptying ${db}.${name}`);
    await ensureTable(source, target, db, name);
    await target.query('DELETE FROM ??.??', [db, name]);
    copied += await copyRows(source, target, db, name, (n) =>
      before(`copying ${db}.${name} (rows from ${n})`),
    );
  }
  await source.query('COMMIT');

  // its own log (and the errant GTIDs in it) discarded; it continues from the snapshot
  await before('RESET MASTER');
  await target.query('RESET MASTER');
  await before('setting gtid_slave_pos');
  await target.query('SET GLOBAL gtid_slave_pos = ?', [snapshotPos]);
  return { snapshotPos, discardedState, tables: tables.length, rows: copied };
}

/** Why `signal` stopped the rebuild, if it did. */
function stopReason(signal: AbortSignal | undefined): string | undefined {
  if (!signal?.aborted) return undefined;
  const r: unknown = signal.reason;
  return typeof r === 'string' ? r : r instanceof Error ? r.message : 'aborted';
}

/** Marks the node as being rebuilt (not logged: no GTID of its own). */
async function mark(target: Conn, m: RebuildMark): Promise<void> {
  await target.query(`CREATE DATABASE IF NOT EXISTS ${target.escapeId(MARK.db)}`);
  await target.query(
    `CREATE TABLE IF NOT EXISTS ${target.escapeId(MARK.db)}.${target.escapeId(MARK.table)} (
       id TINYINT PRIMARY KEY, from_primary VARCHAR(64) NOT NULL, discarded TEXT NOT NULL,
       started VARCHAR(32) NOT NULL)`,
  );
  await target.query('REPLACE INTO ??.?? VALUES (1, ?, ?, ?)', [
    MARK.db,
    MARK.table,
    m.from,
    m.discarded,
    m.at,
  ]);
}

/** The rebuild a node is in or was left in (undefined when none). */
export async function rebuildMark(c: Conn): Promise<RebuildMark | undefined> {
  try {
    const [r] = await rows(
      c,
      'SELECT from_primary AS `from`, discarded, started AS `at` FROM ??.?? WHERE id = 1',
      [MARK.db, MARK.table],
    );
    return r && { from: String(r.from), discarded: String(r.discarded), at: String(r.at) };
  } catch (err) {
    const errno = (err as { errno?: number }).errno;
    if (errno === ER_NO_SUCH_TABLE || errno === ER_BAD_DB_ERROR) return undefined;
    throw err;
  }
}

/** The GTID position the open consistent snapshot corresponds to. */
async function snapshotPosition(source: Conn): Promise<string> {
  const status = Object.fromEntries(
    (await rows(source, "SHOW STATUS LIKE 'binlog_snapshot_%'")).map((r) => [
      String(r.Variable_name),
      String(r.Value),
    ]),
  );
  const file = status.Binlog_snapshot_file;
  const pos = Number(status.Binlog_snapshot_position);
  if (!file || !Number.isFinite(pos))
    throw new Error('the primary reported no binlog snapshot position (is its binary log on?)');
  const [r] = await rows(source, 'SELECT BINLOG_GTID_POS(?, ?) AS gtid', [file, pos]);
  if (r?.gtid === null || r?.gtid === undefined)
    throw new Error(`no GTID position for ${file}:${pos} on the primary`);
  return String(r.gtid);
}

/** Creates a schema or table the node lacks, as the primary defines it. */
async function ensureTable(source: Conn, target: Conn, db: string, name: string): Promise<void> {
  const [exists] = await rows(
    target,
    'SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?',
    [db, name],
  );
  if (Number(exists?.n) > 0) return;
  const [def] = await rows(source, 'SHOW CREATE TABLE ??.??', [db, name]);
  await target.query(`CREATE DATABASE IF NOT EXISTS ${target.escapeId(db)}`);
  await target.query(`USE ${target.escapeId(db)}`);
  await target.query(String(def['Create Table']));
}

/**
 * Copies one table's rows from the snapshot into the node, a page per INSERT
 * (pages in primary-key order: the snapshot does not move under them), each
 * after `beforePage` let it; returns the count.
 */
async function copyRows(
  source: Conn,
  target: Conn,
  db: string,
  name: string,
  beforePage: (from: number) => Promise<void>,
): Promise<number> {
  const keys = (await rows(source, "SHOW KEYS FROM ??.?? WHERE Key_name = 'PRIMARY'", [db, name]))
    .sort((a, b) => Number(a.Seq_in_index) - Number(b.Seq_in_index))
    .map((k) => String(k.Column_name));
  const order = keys.length ? `ORDER BY ${keys.map((k) => source.escapeId(k)).join(', ')}` : '';
  let n = 0;
  for (;;) {
    const [page] = await source.query({
      // no primary key: the whole table in one page (no order to page by)
      sql: keys.length ? `SELECT * FROM ??.?? ${order} LIMIT ? OFFSET ?` : 'SELECT * FROM ??.??',
      values: [db, name, PAGE_ROWS, n],
      rowsAsArray: true,
      typeCast: asText,
    });
    const batch = page as unknown[][];
    if (batch.length) {
      await beforePage(n);
      await target.query('INSERT INTO ??.?? VALUES ?', [db, name, batch]);
    }
    n += batch.length;
    if (batch.length < PAGE_ROWS || !keys.length) return n;
  }
}

async function rows(c: Conn, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [result] = await c.query(sql, params);
  return result as Row[];
}
