/**
 * The rebuild of a node holding errant transactions, on a real primary and
 * replica: the replica is given a transaction of its own (what an isolated
 * primary holds after its fenced sessions committed), then rebuilt from the
 * primary while the primary keeps taking writes. Afterwards it holds exactly
 * the primary's rows, none of its own, no trace of its errant GTID, and it
 * replicates what the primary writes next. Then a rebuild whose guard fails
 * part-way (in the copy, and again just before replication would start):
 * the node is left read-only, replicating from nowhere, marked; a full
 * rebuild afterwards succeeds and clears the mark.
 */
import { adminConnection, Stack, startStack, waitFor } from '@stayline/stack-kit';
import type { Connection } from 'mysql2/promise';
import { missingFrom } from '../failover/candidate';
import { MariaDbAdmin } from './mariadb-admin';
import { rebuildFrom, RebuildStoppedError } from './rebuild';

jest.setTimeout(120_000);

let stack: Stack;
let primary: Connection;
let replica: Connection;
let admin: MariaDbAdmin;

beforeAll(async () => {
  stack = await startStack({ replicas: 1, redis: false, sentinel: false, nginx: false });
  primary = await adminConnection(stack.mariadb.primary, stack.credentials);
  replica = await adminConnection(stack.mariadb.replicas[0], stack.credentials);
  admin = new MariaDbAdmin({
    admin: stack.credentials.admin,
    replication: stack.credentials.replication,
    route: (n) => n,
    probeTimeoutMs: 1_000,
  });
});

afterAll(async () => {
  await primary?.end();
  await replica?.end();
  await stack?.stop();
});

async function one<T>(c: Connection, sql: string, values: unknown[] = []): Promise<T> {
  const [rows] = await c.query(sql, values);
  return (rows as Record<string, T>[])[0] && Object.values((rows as Record<string, T>[])[0])[0];
}

async function contents(c: Connection): Promise<string> {
  const [rows] = await c.query(
    'SELECT id, note, at, amount, big FROM scrap_rebuild_probe.t ORDER BY id',
  );
  return JSON.stringify(rows);
}

it('discards what only the node holds and continues from the primary', async () => {
  await primary.query('CREATE DATABASE scrap_rebuild_probe');
  await primary.query(
    `CREATE TABLE scrap_rebuild_probe.t (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL,
       at DATETIME(3) NOT NULL, amount DECIMAL(12,2) NOT NULL, big BIGINT UNSIGNED NOT NULL)`,
  );
  const values = Array.from({ length: 1_234 }, (_, i) => [
    i,
    `row ${i} ünïcode`,
    `2026-12-0${(i % 9) + 1} 10:11:12.${String(i % 1000).padStart(3, '0')}`,
    `${i}.25`,
    '18446744073709551615',
  ]);
  await primary.query('INSERT INTO scrap_rebuild_probe.t VALUES ?', [values]);
  const node = stack.mariadb.replicas[0];
  const applied = String(await one(primary, 'SELECT @@gtid_binlog_pos'));
  await waitFor('the replica to apply the table', async () => {
    const [r] = await replica.query('SELECT MASTER_GTID_WAIT(?, 1) AS w', [applied]);
    return (r as { w: number }[])[0].w === 0;
  });

  // an errant transaction: written on the node itself, logged under its own server id
  await replica.query('STOP SLAVE');
  await replica.query('DELETE FROM scrap_rebuild_probe.t WHERE id < 10');
  await replica.query("UPDATE scrap_rebuild_probe.t SET note = 'errant' WHERE id = 500");
  const nodeState = String(await one(replica, 'SELECT @@gtid_binlog_state'));
  const primaryState = String(await one(primary, 'SELECT @@gtid_binlog_state'));
  const errant = missingFrom(primaryState, nodeState);
  expect(errant.length).toBe(1);

  // the primary keeps taking writes during and after the copy
  let writing = true;
  let next = 10_000;
  const writer = (async () => {
    while (writing) {
      await primary.query('INSERT INTO scrap_rebuild_probe.t VALUES (?, ?, NOW(3), 1.5, 7)', [
        next++,
        'during',
      ]);
    }
  })();

  const report = await rebuildFrom(admin, node, stack.mariadb.primary);
  writing = false;
  await writer;
  await primary.query('INSERT INTO scrap_rebuild_probe.t VALUES (99999, ?, NOW(3), 2.5, 8)', [
    'after',
  ]);

  expect(report.tables).toBeGreaterThanOrEqual(1);
  expect(report.rows).toBeGreaterThanOrEqual(1_234);
  expect(report.discardedState).toContain(errant[0].split('-').slice(0, 2).join('-'));

  const end = String(await one(primary, 'SELECT @@gtid_binlog_pos'));
  await waitFor('the rebuilt node to apply everything the primary wrote', async () => {
    const [r] = await replica.query('SELECT MASTER_GTID_WAIT(?, 1) AS w', [end]);
    return (r as { w: number }[])[0].w === 0;
  });
  expect(await contents(replica)).toBe(await contents(primary));
  expect(await one(replica, 'SELECT COUNT(*) FROM scrap_rebuild_probe.t WHERE id = 99999')).toBe(1);
  // its errant GTID is gone: it holds nothing the primary lacks
  const after = String(await one(replica, 'SELECT @@gtid_binlog_state'));
  expect(missingFrom(String(await one(primary, 'SELECT @@gtid_binlog_state')), after)).toEqual([]);
  expect(await one(replica, 'SELECT @@read_only')).toBe(1);
  const [status] = await replica.query('SHOW SLAVE STATUS');
  expect((status as Record<string, string>[])[0]).toMatchObject({
    Slave_IO_Running: 'Yes',
    Slave_SQL_Running: 'Yes',
  });
});

it('stopped part-way, leaves the node read-only, replicating from nowhere and marked; a full rebuild then succeeds', async () => {
  const node = stack.mariadb.replicas[0];
  const from = stack.mariadb.primary;
  const primaryState = async () => String(await one(primary, 'SELECT @@gtid_binlog_state'));
  // another errant transaction on the node
  await replica.query('STOP SLAVE');
  await replica.query("UPDATE scrap_rebuild_probe.t SET note = 'errant again' WHERE id = 600");
  const errant = missingFrom(
    await primaryState(),
    String(await one(replica, 'SELECT @@gtid_binlog_state')),
  );
  expect(errant.length).toBe(1);
  /** A guard that fails (`why`) before the step named `at`. */
  const failingBefore = (at: string, why: string) => ({
    check: async (next: string) => (next === at ? why : undefined),
  });

  // the leadership lost in the middle of the copy
  const inCopy = await rebuildFrom(
    admin,
    node,
    from,
    failingBefore('copying scrap_rebuild_probe.t (rows from 1000)', 'leadership lost'),
  ).catch((err: Error) => err);
  expect(inCopy).toBeInstanceOf(RebuildStoppedError);
  expect((inCopy as Error).message).toBe(
    `rebuild of ${node.name} stopped: leadership lost (before copying scrap_rebuild_probe.t (rows from 1000))`,
  );
  let half = await admin.view(node);
  expect(half.readOnly).toBe(true);
  expect(half.replication).toBeUndefined(); // replicating from nowhere
  expect(half.rebuild).toMatchObject({ from: from.name });
  expect(missingFrom(half.rebuild?.discarded ?? '', half.binlogState)).toEqual([]);
  // its log untouched: the errant GTID still there, half the table copied
  expect(missingFrom(await primaryState(), half.binlogState)).toEqual(errant);
  expect(await one(replica, 'SELECT COUNT(*) FROM scrap_rebuild_probe.t')).toBe(1_000);

  // again, the primary changed just before replication would start: the log reset, nothing errant
  // left in it, yet the mark says the node is not to be trusted
  const beforeStart = await rebuildFrom(
    admin,
    node,
    from,
    failingBefore('starting replication', 'primary changed'),
  ).catch((err: Error) => err);
  expect((beforeStart as Error).message).toBe(
    `rebuild of ${node.name} stopped: primary changed (before starting replication)`,
  );
  half = await admin.view(node);
  expect(half.readOnly).toBe(true);
  expect(half.replication).toBeUndefined();
  expect(missingFrom(await primaryState(), half.binlogState)).toEqual([]);
  expect(half.rebuild).toMatchObject({ from: from.name });

  // a full rebuild: the node holds the primary's rows, replicates, and carries no mark
  const report = await rebuildFrom(admin, node, from, { check: async () => undefined });
  expect(report.rows).toBeGreaterThanOrEqual(1_234);
  await primary.query('INSERT INTO scrap_rebuild_probe.t VALUES (99998, ?, NOW(3), 3.5, 9)', [
    'later',
  ]);
  const end = String(await one(primary, 'SELECT @@gtid_binlog_pos'));
  await waitFor('the rebuilt node to apply what the primary wrote since', async () => {
    const [r] = await replica.query('SELECT MASTER_GTID_WAIT(?, 1) AS w', [end]);
    return (r as { w: number }[])[0].w === 0;
  });
  expect(await contents(replica)).toBe(await contents(primary));
  const rebuilt = await admin.view(node);
  expect(rebuilt.rebuild).toBeUndefined();
  expect(rebuilt.readOnly).toBe(true);
  expect(rebuilt.replication).toMatchObject({ masterPort: from.port, io: 'Yes', sql: 'Yes' });
  expect(missingFrom(await primaryState(), rebuilt.binlogState)).toEqual([]);
});
