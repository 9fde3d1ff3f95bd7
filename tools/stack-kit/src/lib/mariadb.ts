import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import mysql from 'mysql2/promise';
import { waitFor } from './wait';
import { which } from './binaries';
import { SERVICE_DATABASES, ServiceDatabase, StackCredentials } from './credentials';
import { ProcessSpec } from './process';

/**
 * MariaDB primary + replicas as plain processes: GTID replication, semi-synchronous
 * with wait point AFTER_SYNC. See docs/patterns/replication.md.
 *
 * Semi-sync never falls back to asynchronous replication silently: the master
 * timeout is set so high (`SEMI_SYNC_TIMEOUT_MS`, ~49 days) that a commit waits
 * for a replica's acknowledgement instead of being acknowledged after a timeout
 * without one. A client that gives up on such a commit got no acknowledgement,
 * so nothing acknowledged can be lost; the price is that writes stall while no
 * replica can acknowledge (availability traded for durability).
 */
export const SEMI_SYNC_TIMEOUT_MS = 4_294_967_295;

/** Replicas notice a dead or frozen primary within ~2 s (the failover agent relies on their view). */
export const REPLICA_NET_TIMEOUT_S = 2;
export const MASTER_HEARTBEAT_PERIOD_S = 0.5;
/**
 * A replica's IO thread, when it stops, connects to its primary to end its binlog
 * dump there (semi-sync's "kill connection"), waiting up to this long for it. A
 * failover stops the replicas' IO threads while the primary is dead: to a host
 * that vanished (a killed container, a partition) nothing answers that connect,
 * so MariaDB's default, 5 s, is paid by every failover's fence step.
 */
export const SEMI_SYNC_KILL_CONN_TIMEOUT_S = 1;

/** Redo log per node: small, so a stack's three nodes take ~30 MB instead of ~300 MB (the default is 96 MB each). */
const INNODB_LOG_FILE_SIZE = '8M';

export interface MariaDbNode {
  name: string;
  host: string;
  port: number;
  serverId: number;
  /** Its directory; only for nodes this process runs. */
  dir: string;
  /**
   * How to get a root connection. Default: the node's socket in `dir` (the native
   * stack, where root has no TCP access); containers pass a TCP connection.
   */
  connect?: () => Promise<mysql.Connection>;
}

const run = promisify(execFile);

export function dataDir(node: MariaDbNode): string {
  return path.join(node.dir, 'data');
}

export function socketPath(node: MariaDbNode): string {
  return path.join(node.dir, 'mysqld.sock');
}

/**
 * Creates an empty data directory (about 1 s). With `copyFrom`, copies a freshly
 * initialised one instead (faster than another install). Each node has its own
 * tmpdir: two bootstraps sharing /tmp (two stacks started side by side) have
 * been seen removing each other's temporary tables.
 */
export async function initDataDir(node: MariaDbNode, copyFrom?: MariaDbNode): Promise<void> {
  fs.rmSync(node.dir, { recursive: true, force: true });
  fs.mkdirSync(tmpDir(node), { recursive: true });
  if (copyFrom) {
    fs.cpSync(dataDir(copyFrom), dataDir(node), { recursive: true });
    fs.chmodSync(dataDir(node), DATA_DIR_MODE);
    return;
  }
  try {
    await run(which('mariadb-install-db'), [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir(node)}`,
      `--tmpdir=${tmpDir(node)}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      `--innodb-log-file-size=${INNODB_LOG_FILE_SIZE}`,
    ]);
  } catch (err) {
    throw new Error(`mariadb-install-db failed for ${node.name}: ${(err as Error).message}`);
  }
  fs.chmodSync(dataDir(node), DATA_DIR_MODE);
}

/**
 * A data directory is its owner's alone: a replica's master.info there holds the
 * replication password in clear, and the tables hold the services' data.
 */
export const DATA_DIR_MODE = 0o700;

/** The node's own temporary directory (never the shared /tmp); whatever builds a node makes it. */
export function tmpDir(node: MariaDbNode): string {
  return path.join(node.dir, 'tmp');
}

/** Command line of one node. Every node starts read-only; only the launcher or the failover agent makes a primary writable. */
export function mariadbSpec(node: MariaDbNode, extraArgs: string[] = []): ProcessSpec {
  return {
    command: which('mariadbd'),
    args: [
      '--no-defaults',
      '--user=root',
      `--datadir=${dataDir(node)}`,
      `--tmpdir=${tmpDir(node)}`,
      `--port=${node.port}`,
      `--bind-address=${node.host}`,
      `--socket=${socketPath(node)}`,
      `--pid-file=${path.join(node.dir, 'mysqld.pid')}`,
      `--log-error=${path.join(node.dir, 'error.log')}`,
      `--server-id=${node.serverId}`,
      `--log-bin=${path.join(dataDir(node), 'binlog')}`,
      '--log-slave-updates=ON',
      '--binlog-format=ROW',
      '--gtid-strict-mode=ON',
      '--read-only=ON',
      '--skip-name-resolve',
      `--report-host=${node.host}`,
      `--report-port=${node.port}`,
      '--innodb-buffer-pool-size=32M',
      `--innodb-log-file-size=${INNODB_LOG_FILE_SIZE}`,
      '--performance-schema=OFF',
      '--max-connections=1000',
      `--slave-net-timeout=${REPLICA_NET_TIMEOUT_S}`,
      '--rpl-semi-sync-slave-enabled=ON',
      `--rpl-semi-sync-slave-kill-conn-timeout=${SEMI_SYNC_KILL_CONN_TIMEOUT_S}`,
      '--rpl-semi-sync-master-wait-point=AFTER_SYNC',
      `--rpl-semi-sync-master-timeout=${SEMI_SYNC_TIMEOUT_MS}`,
      '--rpl-semi-sync-master-wait-no-slave=ON',
      '--character-set-server=utf8mb4',
      '--collation-server=utf8mb4_unicode_ci',
      ...extraArgs,
    ],
    logFile: path.join(node.dir, 'stdout.log'),
  };
}

/** Connects as root: over the node's socket (root has no TCP access), or as `node.connect` says. */
export function rootConnection(node: MariaDbNode): Promise<mysql.Connection> {
  if (node.connect) return node.connect();
  return mysql.createConnection({
    socketPath: socketPath(node),
    user: 'root',
    multipleStatements: true,
  });
}

/** Connects as the admin user over TCP. */
export function adminConnection(
  node: { host: string; port: number },
  creds: StackCredentials,
  connectTimeout = 2_000,
): Promise<mysql.Connection> {
  return mysql.createConnection({
    host: node.host,
    port: node.port,
    user: creds.admin.user,
    password: creds.admin.password,
    connectTimeout,
  });
}

export async function waitMariaDbReady(
  node: MariaDbNode,
  isRunning: () => boolean,
  timeoutMs = 30_000,
): Promise<void> {
  await waitFor(
    `${node.name} to accept connections`,
    async () => {
      if (!isRunning()) {
        throw new Error(`${node.name} exited; see ${path.join(node.dir, 'error.log')}`);
      }
      const conn = await rootConnection(node);
      await conn.end();
      return true;
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/**
 * What each account may do, the one table (docs/patterns/replication.md,
 * "Accounts and grants"). Database-level rights apply to the database and to
 * the ones named after it (`reservation_*`); global rights to the whole server.
 */
export interface AccountGrants {
  user: string;
  password: string;
  /** Rights on `*.*`. */
  global: string[];
  /** Rights per database. */
  databases: Array<{ db: string; rights: string[] }>;
}

/** A service's rights on its own database: its queries and its own TypeORM migrations (DDL). */
export const SERVICE_DB_RIGHTS = [
  'SELECT',
  'INSERT',
  'UPDATE',
  'DELETE',
  'CREATE',
  'ALTER',
  'INDEX',
  'DROP',
  'REFERENCES',
];
/** Lag and GTID probes (`SHOW ALL SLAVES STATUS`, `@@gtid_binlog_pos`); `MASTER_GTID_WAIT` needs nothing more. */
export const MONITOR_RIGHTS = ['REPLICA MONITOR', 'BINLOG MONITOR'];
/**
 * The failover agents' server rights, each for a statement they run:
 * `SET GLOBAL read_only` and writing the epoch on a still read-only node
 * (READ_ONLY ADMIN), CHANGE MASTER / START, STOP, RESET SLAVE / gtid_slave_pos /
 * the replica side of semi-sync (REPLICATION SLAVE ADMIN), the primary side
 * of semi-sync (REPLICATION MASTER ADMIN), `sql_log_bin = 0` (BINLOG ADMIN),
 * RESET MASTER on a rebuilt node (RELOAD), fencing: every session listed and
 * killed (PROCESS, CONNECTION ADMIN), and reading positions and replica state
 * (BINLOG MONITOR, REPLICA MONITOR). No SUPER, no GRANT OPTION, no CREATE USER.
 */
export const AGENT_GLOBAL_RIGHTS = [
  'READ_ONLY ADMIN',
  'REPLICATION SLAVE ADMIN',
  'REPLICATION MASTER ADMIN',
  'BINLOG ADMIN',
  'RELOAD',
  'PROCESS',
  'CONNECTION ADMIN',
  'REPLICA MONITOR',
  'BINLOG MONITOR',
];
/** Where the agents keep the epoch and a rebuild's mark. */
export const AGENT_DATABASE = 'stayline_agent';

/** Every account of a stack and its rights (root aside). */
export function accountGrants(
  creds: StackCredentials,
  databases: readonly ServiceDatabase[] = SERVICE_DATABASES,
): AccountGrants[] {
  const own = (db: string, rights: string[]) => [
    { db, rights },
    { db: `${db}\\_%`, rights },
  ];
  return [
    {
      ...creds.admin,
      global: AGENT_GLOBAL_RIGHTS,
      // a rebuild copies every service database: it reads, creates, empties and fills their tables
      databases: [
        { db: AGENT_DATABASE, rights: SERVICE_DB_RIGHTS },
        ...databases.flatMap((db) => own(db, SERVICE_DB_RIGHTS)),
      ],
    },
    { ...creds.replication, global: ['REPLICATION SLAVE'], databases: [] },
    ...databases.map((db) => ({
      ...creds.services[db],
      global: MONITOR_RIGHTS,
      databases: own(db, SERVICE_DB_RIGHTS),
    })),
    { ...creds.monitor, global: MONITOR_RIGHTS, databases: [] },
    {
      ...creds.app,
      global: MONITOR_RIGHTS,
      databases: databases.flatMap((db) => own(db, SERVICE_DB_RIGHTS)),
    },
  ];
}

/**
 * Creates the users on one node, outside the binary log so every node has the
 * same accounts without a replicated transaction, and removes root's TCP access.
 * The accounts live in the `mysql` schema, which a rebuild never copies nor
 * empties and a cold copy (add-replica) carries: they survive rebuilds and
 * failovers. Each account gets exactly its row of `accountGrants` (rights it
 * held before and lost since are revoked).
 */
export async function createUsers(node: MariaDbNode, creds: StackCredentials): Promise<void> {
  const conn = await rootConnection(node);
  try {
    const q = (sql: string, params: unknown[] = []) => conn.query(sql, params);
    await q('SET SESSION sql_log_bin = 0');
    if (!node.connect) {
      // the native stack's root is reachable over the socket only
      await q("DELETE FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost'");
      await q('FLUSH PRIVILEGES');
    }
    for (const a of accountGrants(creds)) {
      // mysql_native_password: a hash goes over the wire, never the password (no mysql_clear_password)
      await q('CREATE USER IF NOT EXISTS ?@? IDENTIFIED BY ?', [a.user, '%', a.password]);
      await q('ALTER USER ?@? IDENTIFIED BY ?', [a.user, '%', a.password]);
      await q('REVOKE ALL PRIVILEGES, GRANT OPTION FROM ?@?', [a.user, '%']);
      await q(`GRANT ${a.global.join(', ')} ON *.* TO ?@?`, [a.user, '%']);
      for (const d of a.databases)
        await q(`GRANT ${d.rights.join(', ')} ON \`${d.db}\`.* TO ?@?`, [a.user, '%']);
    }
    await q('SET SESSION sql_log_bin = 1');
  } finally {
    await conn.end();
  }
}

/** Creates the service databases on the primary; they reach the replicas through replication. */
export async function createDatabases(
  primary: MariaDbNode,
  databases: readonly string[] = SERVICE_DATABASES,
): Promise<void> {
  const conn = await rootConnection(primary);
  try {
    for (const db of databases) {
      await conn.query(
        `CREATE DATABASE IF NOT EXISTS \`${db}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci`,
      );
    }
  } finally {
    await conn.end();
  }
}

/**
 * Points a node at a primary with GTID auto-positioning and a short heartbeat.
 * `gtidMode` is `slave_pos` for a fresh replica, `current_pos` for a rejoining former primary.
 */
export async function attachReplica(
  replica: MariaDbNode,
  primary: { host: string; port: number },
  creds: StackCredentials,
  gtidMode: 'slave_pos' | 'current_pos' = 'slave_pos',
): Promise<void> {
  const conn = await rootConnection(replica);
  try {
    await conn.query('STOP SLAVE');
    await conn.query('SET GLOBAL read_only = ON');
    await conn.query(
      `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
         MASTER_USE_GTID = ${gtidMode}, MASTER_CONNECT_RETRY = 1,
         MASTER_HEARTBEAT_PERIOD = ${MASTER_HEARTBEAT_PERIOD_S}`,
      [primary.host, primary.port, creds.replication.user, creds.replication.password],
    );
    await conn.query('START SLAVE');
  } finally {
    await conn.end();
  }
}

async function globalStatus(conn: mysql.Connection, like: string): Promise<Record<string, string>> {
  const [rows] = await conn.query('SHOW GLOBAL STATUS LIKE ?', [like]);
  const out: Record<string, string> = {};
  for (const r of rows as Array<{ Variable_name: string; Value: string }>)
    out[r.Variable_name] = r.Value;
  return out;
}

/** Semi-sync state of a primary, as MariaDB reports it. */
export async function semiSyncStatus(
  conn: mysql.Connection,
): Promise<{ enabled: boolean; clients: number; noTx: number; yesTx: number }> {
  const s = await globalStatus(conn, 'Rpl_semi_sync_master_%');
  return {
    enabled: s.Rpl_semi_sync_master_status === 'ON',
    clients: Number(s.Rpl_semi_sync_master_clients ?? 0),
    noTx: Number(s.Rpl_semi_sync_master_no_tx ?? 0),
    yesTx: Number(s.Rpl_semi_sync_master_yes_tx ?? 0),
  };
}

/**
 * Makes a node the writable primary: semi-sync on once `minReplicas` replicas are
 * attached as semi-sync clients (enabling it earlier makes commits wait with no
 * replica to answer), then `read_only=OFF`.
 */
export async function openPrimary(
  primary: MariaDbNode,
  minReplicas: number,
  timeoutMs = 20_000,
): Promise<void> {
  const conn = await rootConnection(primary);
  try {
    await conn.query('SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC');
    await conn.query(`SET GLOBAL rpl_semi_sync_master_timeout = ${SEMI_SYNC_TIMEOUT_MS}`);
    await conn.query('SET GLOBAL rpl_semi_sync_master_enabled = ON');
    if (minReplicas > 0) {
      await waitFor(
        `${minReplicas} semi-sync replica(s) on ${primary.name}`,
        async () => (await semiSyncStatus(conn)).clients >= minReplicas,
        { timeoutMs, intervalMs: 50 },
      );
    }
    await conn.query('SET GLOBAL read_only = OFF');
  } finally {
    await conn.end();
  }
}

/** Waits until a replica's IO and SQL threads both run. */
export async function waitReplicating(replica: MariaDbNode, timeoutMs = 20_000): Promise<void> {
  const conn = await rootConnection(replica);
  try {
    await waitFor(
      `${replica.name} to replicate`,
      async () => {
        const [rows] = await conn.query('SHOW SLAVE STATUS');
        const row = (rows as Array<Record<string, unknown>>)[0];
        if (row?.Last_IO_Error) {
          // a transient connect error while the primary starts is retried by MASTER_CONNECT_RETRY
          await sleep(10);
        }
        return row?.Slave_IO_Running === 'Yes' && row?.Slave_SQL_Running === 'Yes';
      },
      { timeoutMs, intervalMs: 50 },
    );
  } finally {
    await conn.end();
  }
}

/**
 * Turns running, empty nodes into a replicated cluster: the same accounts on
 * every node, the service databases on the primary, each replica attached with
 * GTID, then semi-sync on and the primary writable. The native launcher and the
 * compose file's one-shot `db-init` container both run exactly this.
 */
export async function bootstrapCluster(
  primary: MariaDbNode,
  replicas: MariaDbNode[],
  creds: StackCredentials,
): Promise<void> {
  await Promise.all([primary, ...replicas].map((n) => createUsers(n, creds)));
  await createDatabases(primary);
  await Promise.all(replicas.map((r) => attachReplica(r, primary, creds)));
  await Promise.all(replicas.map((r) => waitReplicating(r)));
  await openPrimary(primary, replicas.length);
}
