/**
 * The MariaDB accounts of a stack, each limited to its row of
 * `accountGrants` (docs/patterns/replication.md, "Accounts and grants"), on
 * a real primary and replica: a service's user reaches its own database only
 * and changes nothing of replication, the agents' user does what failover
 * needs and manages no account, and no account takes a clear-text password.
 */
import path from 'node:path';
import mysql from 'mysql2/promise';
import { Stack, startStack, StackCredentials } from './index';
import { accountGrants } from './lib/mariadb';

jest.setTimeout(120_000);

type Login = { user: string; password: string };
type Node = { name: string; host: string; port: number };

describe('MariaDB accounts and grants', () => {
  let stack: Stack;
  let creds: StackCredentials;
  const open: mysql.Connection[] = [];

  const connect = async (node: Node, login: Login, database?: string) => {
    const c = await mysql.createConnection({
      host: node.host,
      port: node.port,
      ...login,
      database,
    });
    open.push(c);
    return c;
  };
  /** root, over the node's socket (the native stack's root has no TCP access) */
  const root = async (node: Node) => {
    const c = await mysql.createConnection({
      socketPath: path.join(stack.component(node.name).dir, 'mysqld.sock'),
      user: 'root',
    });
    open.push(c);
    return c;
  };
  /** The error MariaDB answered `work` with (its code), or 'ok'. */
  const outcome = (work: Promise<unknown>): Promise<string> =>
    work.then(
      () => 'ok',
      (err: { code?: string; message: string }) => err.code ?? err.message,
    );

  beforeAll(async () => {
    stack = await startStack({ replicas: 1 });
    creds = stack.credentials;
    // each service creates a table in its own database, with its own user (as its migrations do)
    for (const db of ['reservation', 'payment'] as const) {
      const c = await connect(stack.mariadb.primary, creds.services[db], db);
      await c.query('CREATE TABLE account_probe (id INT PRIMARY KEY, note VARCHAR(32))');
      await c.query('CREATE INDEX account_probe_note ON account_probe (note)');
      await c.query("INSERT INTO account_probe VALUES (1, 'own')");
    }
  });

  afterAll(async () => {
    await Promise.all(open.map((c) => c.end().catch(() => undefined)));
    await stack?.stop();
  });

  it("refuses payment's user reservation's tables, and reservation's user payment's", async () => {
    const primary = stack.mariadb.primary;
    for (const [who, other] of [
      ['payment', 'reservation'],
      ['reservation', 'payment'],
    ] as const) {
      const c = await connect(primary, creds.services[who], who);
      expect(await outcome(c.query(`SELECT * FROM ${other}.account_probe`))).toBe(
        'ER_TABLEACCESS_DENIED_ERROR',
      );
      expect(await outcome(c.query(`INSERT INTO ${other}.account_probe VALUES (2, 'x')`))).toBe(
        'ER_TABLEACCESS_DENIED_ERROR',
      );
      expect(await outcome(c.query(`DELETE FROM ${other}.account_probe`))).toBe(
        'ER_TABLEACCESS_DENIED_ERROR',
      );
      expect(await outcome(c.query(`USE ${other}`))).toBe('ER_DBACCESS_DENIED_ERROR');
      expect(await outcome(connect(primary, creds.services[who], other))).toBe(
        'ER_DBACCESS_DENIED_ERROR',
      );
      // the server-wide schema is closed too
      expect(await outcome(c.query('SELECT * FROM mysql.global_priv'))).toBe(
        'ER_TABLEACCESS_DENIED_ERROR',
      );
      // its own rows, as before
      const [rows] = await c.query('SELECT note FROM account_probe');
      expect(rows).toEqual([{ note: 'own' }]);
    }
    const [listed] = await (await connect(primary, creds.services.payment)).query('SHOW DATABASES');
    expect((listed as Array<{ Database: string }>).map((r) => r.Database)).not.toContain(
      'reservation',
    );
  });

  it("refuses a service's user any change to replication, and lets it read positions", async () => {
    const [primary, replica] = stack.mariadb.nodes;
    for (const node of [primary, replica]) {
      const c = await connect(node, creds.services.reservation, 'reservation');
      for (const sql of [
        'SET GLOBAL read_only = OFF',
        'SET GLOBAL read_only = ON',
        "CHANGE MASTER TO MASTER_HOST = '127.0.0.1'",
        'STOP SLAVE',
        'SET GLOBAL rpl_semi_sync_master_enabled = OFF',
        'SET SESSION sql_log_bin = 0',
        'RESET MASTER',
        "CREATE USER 'intruder'@'%'",
      ])
        expect([sql, await outcome(c.query(sql))]).toEqual([
          sql,
          'ER_SPECIFIC_ACCESS_DENIED_ERROR',
        ]);
      // the lag and GTID probes it runs
      expect(await outcome(c.query('SHOW ALL SLAVES STATUS'))).toBe('ok');
      expect(await outcome(c.query('SELECT @@gtid_binlog_pos, @@read_only'))).toBe('ok');
    }
    const [[ro]] = (await (await root(replica)).query('SELECT @@read_only AS ro')) as unknown as [
      Array<{ ro: number }>,
    ];
    expect(ro.ro).toBe(1);
  });

  it("gives the agents' user what failover needs and no account management", async () => {
    const [primary, replica] = stack.mariadb.nodes;
    const r = await connect(replica, creds.admin);
    // what a promotion and a re-pointing run (the failover suites run them all)
    await r.query('SET GLOBAL read_only = ON');
    await r.query('STOP SLAVE');
    await r.query('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
    await r.query(
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
         MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1`,
      [primary.host, primary.port, creds.replication.user, creds.replication.password],
    );
    await r.query('START SLAVE');
    await r.query('SHOW SLAVE STATUS');
    await r.query('SELECT @@gtid_binlog_pos, @@gtid_slave_pos, @@gtid_binlog_state');
    await r.query('SET SESSION sql_log_bin = 0');
    await r.query("SELECT ID FROM information_schema.PROCESSLIST WHERE USER = 'x'");
    // fencing sees every session, whoever's
    const svc = await connect(replica, creds.services.payment, 'payment');
    const [[me]] = (await svc.query('SELECT CONNECTION_ID() AS id')) as unknown as [
      Array<{ id: number }>,
    ];
    const [seen] = await r.query('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [
      me.id,
    ]);
    expect(seen).toHaveLength(1);
    await r.query(`KILL CONNECTION ${Number(me.id)}`);
    const p = await connect(primary, creds.admin);
    await p.query("SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
    await p.query('SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC');
    // service data, for rebuilds; but no account and no grant
    expect(await outcome(p.query('SELECT * FROM reservation.account_probe'))).toBe('ok');
    for (const [sql, code] of [
      ["CREATE USER 'intruder'@'%'", 'ER_SPECIFIC_ACCESS_DENIED_ERROR'],
      ['SHUTDOWN', 'ER_SPECIFIC_ACCESS_DENIED_ERROR'],
      // no GRANT OPTION: it cannot hand its rights on
      [
        `GRANT SELECT ON payment.* TO '${creds.services.reservation.user}'@'%'`,
        'ER_DBACCESS_DENIED_ERROR',
      ],
    ])
      expect([sql, await outcome(p.query(sql))]).toEqual([sql, code]);
    expect(await outcome(p.query('SELECT * FROM mysql.global_priv'))).toBe(
      'ER_TABLEACCESS_DENIED_ERROR',
    );
    const [grants] = await p.query('SHOW GRANTS');
    const text = (grants as Array<Record<string, string>>).map((g) => Object.values(g)[0]);
    expect(text.join('\n')).not.toMatch(/GRANT OPTION|SUPER|ALL PRIVILEGES/);
  });

  it('gives the replication user REPLICATION SLAVE only, and the dashboard no table', async () => {
    const primary = stack.mariadb.primary;
    const repl = await connect(primary, creds.replication);
    const [grants] = await repl.query('SHOW GRANTS');
    expect((grants as Array<Record<string, string>>).map((g) => Object.values(g)[0])).toEqual([
      expect.stringMatching(/^GRANT REPLICATION SLAVE ON \*\.\* TO `stayline_repl`@`%`/),
    ]);
    expect(await outcome(repl.query('SELECT * FROM payment.account_probe'))).toBe(
      'ER_TABLEACCESS_DENIED_ERROR',
    );
    const monitor = await connect(primary, creds.monitor);
    expect(await outcome(monitor.query('SHOW ALL SLAVES STATUS'))).toBe('ok');
    expect(await outcome(monitor.query('SELECT * FROM payment.account_probe'))).toBe(
      'ER_TABLEACCESS_DENIED_ERROR',
    );
  });

  it('has the same accounts on every node, none taking a clear-text password', async () => {
    const expected = accountGrants(creds)
      .map((a) => a.user)
      .sort();
    for (const node of stack.mariadb.nodes) {
      const [rows] = await (
        await root(node)
      ).query(
        `SELECT User AS user, JSON_VALUE(Priv, '$.plugin') AS plugin FROM mysql.global_priv
          WHERE Host = '%' ORDER BY User`,
      );
      const accounts = rows as Array<{ user: string; plugin: string }>;
      expect(accounts.map((a) => a.user)).toEqual(expected);
      expect(new Set(accounts.map((a) => a.plugin))).toEqual(new Set(['mysql_native_password']));
      const [plugins] = await (
        await root(node)
      ).query(
        "SELECT PLUGIN_NAME FROM information_schema.PLUGINS WHERE PLUGIN_NAME IN ('pam', 'auth_pam', 'dialog', 'mysql_clear_password') AND PLUGIN_STATUS = 'ACTIVE'",
      );
      expect(plugins).toEqual([]);
    }
  });
});
