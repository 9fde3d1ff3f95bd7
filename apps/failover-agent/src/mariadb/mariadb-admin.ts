/**
 * Every statement the failover agent runs on a MariaDB node
 * (docs/patterns/failover.md): looking, fencing, promoting, repointing,
 * opening. One short-lived admin connection per operation, under a deadline
 * that destroys it: a frozen node costs one timeout, never a hung agent.
 */
import type { NodeAddress } from '@stayline/database';
import mysql from 'mysql2/promise';
import { rebuildMark, type RebuildMark } from './rebuild';

/** A user and its password. */
export interface Credentials {
  user: string;
  password: string;
}

/** A replica's replication threads, from `SHOW SLAVE STATUS`. */
export interface ReplicationView {
  masterHost: string;
  masterPort: number;
  /** `Yes`, `Connecting` or `No`. */
  io: string;
  sql: string;
  /** Everything received (`Gtid_IO_Pos`), applied or not. */
  receivedPos: string;
  lastIoError: string;
}

/** The master side of semi-sync. */
export interface SemiSyncView {
  enabled: boolean;
  /** `Rpl_semi_sync_master_status`: OFF while enabled means it fell back to asynchronous. */
  active: boolean;
  clients: number;
  /** Commits waiting for a replica's acknowledgement right now. */
  waitSessions: number;
  /** Commits acknowledged without a replica (a fallback happened). */
  noTx: number;
}

/** One node as the agent sees it now. */
export interface NodeView {
  name: string;
  readOnly: boolean;
  serverId: number;
  /** `@@gtid_binlog_pos`: what this node logged (own writes and, with log-slave-updates, applied ones). */
  binlogPos: string;
  /** `@@gtid_slave_pos`: what its SQL thread applied. */
  slavePos: string;
  /** `@@gtid_binlog_state`: the last GTID it logged from each server of each domain. */
  binlogState: string;
  /** Undefined when it is not configured as a replica (a primary, or a promoted replica). */
  replication?: ReplicationView;
  semiSync: SemiSyncView;
  /** A rebuild it is in, or was left in half-way (mariadb/rebuild.ts): nothing it holds is to be trusted. */
  rebuild?: RebuildMark;
}

export interface MariaDbAdminOptions {
  admin: Credentials;
  replication: Credentials;
  /** The agent's own path to a node (its address unless configured otherwise). */
  route: (node: NodeAddress) => { host: string; port: number };
  /** Deadline of one probe (`ping`), connection included. */
  probeTimeoutMs: number;
  /** Deadline of one look at a node (`view`) and of the other short operations. Default 1000 ms. */
  timeoutMs?: number;
}

const SEMI_SYNC_TIMEOUT_MS = 4_294_967_295;
const HEARTBEAT_S = 0.5;
const IGNORED_USERS = ['system user', 'event_scheduler', 'unauthenticated user', ''];

type Conn = mysql.Connection;
type Row = Record<string, unknown>;

export class MariaDbAdmin {
  private readonly timeoutMs: number;

  constructor(private readonly o: MariaDbAdminOptions) {
    this.timeoutMs = o.timeoutMs ?? 1_000;
  }

  /** Runs `work` on a fresh admin connection to `node`; past `timeoutMs` the connection is destroyed. */
  async run<T>(node: NodeAddress, work: (c: Conn) => Promise<T>, timeoutMs = this.timeoutMs) {
    // only the address: a node's name is no connection option (mysql2 warns about unknown ones)
    const { host, port } = this.o.route(node);
    let conn: Conn | undefined;
    let timer: NodeJS.Timeout | undefined;
    const job = (async () => {
      conn = await mysql.createConnection({
        host,
        port,
        ...this.o.admin,
        connectTimeout: Math.max(50, timeoutMs),
        multipleStatements: false,
      });
      conn.on('error', () => undefined); // a node dying under an idle connection must not reach the process
      return work(conn);
    })();
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${node.name}: no answer within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    let answered = false;
    try {
      const value = await Promise.race([job, deadline]);
      answered = true;
      return value;
    } finally {
      clearTimeout(timer);
      if (answered && conn) quit(conn);
      else {
        conn?.destroy();
        // still connecting when the deadline passed: close it whenever it opens
        void job.catch(() => undefined).finally(() => conn?.destroy());
      }
    }
  }

  /** A round trip (`SELECT 1`) within the probe deadline. */
  async ping(node: NodeAddress): Promise<void> {
    await this.run(node, (c) => c.query('SELECT 1'), this.o.probeTimeoutMs);
  }

  /** Read-only state, replication threads, semi-sync and any rebuild mark of a node, in one connection. */
  view(node: NodeAddress, timeoutMs = this.timeoutMs): Promise<NodeView> {
    return this.run(
      node,
      async (c) => {
        const vars = (
          await rows(
            c,
            `SELECT @@read_only AS ro, @@server_id AS id, @@gtid_binlog_pos AS binlog,
                  @@gtid_slave_pos AS slave, @@gtid_binlog_state AS state,
                  @@rpl_semi_sync_master_enabled AS semi`,
          )
        )[0];
        const replica = (await rows(c, 'SHOW SLAVE STATUS'))[0];
        const status = Object.fromEntries(
          (await rows(c, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'")).map((r) => [
            String(r.Variable_name),
            String(r.Value),
          ]),
        );
        const rebuild = await rebuildMark(c);
        return {
          name: node.name,
          readOnly: Number(vars.ro) === 1,
          serverId: Number(vars.id),
          binlogPos: String(vars.binlog ?? ''),
          slavePos: String(vars.slave ?? ''),
          binlogState: String(vars.state ?? ''),
          replication: replica?.Master_Host
            ? {
                masterHost: String(replica.Master_Host),
                masterPort: Number(replica.Master_Port),
                io: String(replica.Slave_IO_Running),
                sql: String(replica.Slave_SQL_Running),
                receivedPos: String(replica.Gtid_IO_Pos ?? ''),
                lastIoError: String(replica.Last_IO_Error ?? ''),
              }
            : undefined,
          semiSync: {
            enabled: Number(vars.semi) === 1,
            active: status.Rpl_semi_sync_master_status === 'ON',
            clients: Number(status.Rpl_semi_sync_master_clients ?? 0),
            waitSessions: Number(status.Rpl_semi_sync_master_wait_sessions ?? 0),
            noTx: Number(status.Rpl_semi_sync_master_no_tx ?? 0),
          },
          ...(rebuild ? { rebuild } : {}),
        };
      },
      timeoutMs,
    );
  }

  /**
   * Fences a reachable node: `read_only=ON` (writes of non-admin users refused
   * from now on), then every other connection killed, so no session holds on
   * to a transaction it started before (`keepReplication`: replicas stay
   * attached, a planned switchover needs them to receive the last writes).
   * Returns how many were killed.
   */
  fence(node: NodeAddress, timeoutMs = 2_000, keepReplication = false): Promise<number> {
    return this.run(
      node,
      async (c) => {
        const killOthers = async () => {
          const others = await rows(
            c,
            `SELECT ID AS id FROM information_schema.PROCESSLIST
              WHERE ID <> CONNECTION_ID() AND USER NOT IN (?) AND (? = 0 OR COMMAND NOT LIKE 'Binlog Dump%')`,
            [IGNORED_USERS, keepReplication ? 1 : 0],
          );
          let n = 0;
          for (const r of others) {
            // gone meanwhile is fine
            await c.query(`KILL CONNECTION ${Number(r.id)}`).then(
              () => n++,
              () => undefined,
            );
          }
          return n;
        };
        // a commit waiting for a semi-sync acknowledgement holds read_only up: cut the sessions first
        let killed = keepReplication ? 0 : await killOthers();
        await c.query('SET SESSION lock_wait_timeout = 2');
        await c.query('SET GLOBAL read_only = ON');
        killed += await killOthers(); // whoever connected in between
        return killed;
      },
      timeoutMs,
    );
  }

  /** Stops receiving (the IO thread) so the received set stops moving. */
  stopReceiving(node: NodeAddress): Promise<void> {
    // a stopping IO thread connects to the primary to end its dump there: with the primary gone
    // that waits up to rpl_semi_sync_slave_kill_conn_timeout (1 s, not MariaDB's 5 s; stack-kit)
    return this.run(node, async (c) => void (await c.query('STOP SLAVE IO_THREAD')), 6_000);
  }

  /** Waits until the node applied `pos` (`MASTER_GTID_WAIT`); false when it did not in time. */
  waitApplied(node: NodeAddress, pos: string, timeoutMs: number): Promise<boolean> {
    if (!pos) return Promise.resolve(true);
    return this.run(
      node,
      async (c) => {
        const [r] = await rows(c, 'SELECT MASTER_GTID_WAIT(?, ?) AS reached', [
          pos,
          timeoutMs / 1000,
        ]);
        return String(r?.reached) === '0';
      },
      timeoutMs + 2_000,
    );
  }

  /**
   * Makes a replica a primary that is still read-only: replication stopped and
   * forgotten, the master side of semi-sync on (AFTER_SYNC, never falling back).
   */
  promote(node: NodeAddress): Promise<void> {
    return this.run(
      node,
      async (c) => {
        await c.query('SET GLOBAL read_only = ON');
        await c.query('STOP SLAVE');
        await c.query('RESET SLAVE ALL');
        await c.query('SET GLOBAL rpl_semi_sync_master_wait_point = AFTER_SYNC');
        await c.query(`SET GLOBAL rpl_semi_sync_master_timeout = ${SEMI_SYNC_TIMEOUT_MS}`);
        await c.query('SET GLOBAL rpl_semi_sync_master_wait_no_slave = ON');
        await c.query('SET GLOBAL rpl_semi_sync_master_enabled = ON');
      },
      5_000,
    );
  }

  /**
   * Points a node at `primary` (its address as services know it) with GTID
   * auto-positioning and the short heartbeat; it stays read-only.
   * `fromBinlog`: a former primary, whose replication position is what it logged.
   */
  replicate(node: NodeAddress, primary: NodeAddress, fromBinlog = false): Promise<void> {
    const { user, password } = this.o.replication;
    return this.run(
      node,
      async (c) => {
        await c.query('SET GLOBAL read_only = ON');
        await c.query('STOP SLAVE');
        await c.query('SET GLOBAL rpl_semi_sync_master_enabled = OFF');
        if (fromBinlog) await c.query('SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos');
        await c.query(
          `CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?,
             MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = ${HEARTBEAT_S}`,
          [primary.host, primary.port, user, password],
        );
        await c.query('START SLAVE');
      },
      5_000,
    );
  }

  /** Waits until `n` replicas are attached as semi-sync clients; returns how many are. */
  waitSemiSyncClients(node: NodeAddress, n: number, timeoutMs: number): Promise<number> {
    return this.run(
      node,
      async (c) => {
        const until = performance.now() + timeoutMs;
        for (;;) {
          const [r] = await rows(c, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'");
          const clients = Number(r?.Value ?? 0);
          if (clients >= n || performance.now() > until) return clients;
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
      },
      timeoutMs + 2_000,
    );
  }

  /**
   * Records the topology epoch and the agent's fencing token on a primary
   * (replicated to its replicas). A token older than the one stored is
   * refused: a deposed agent cannot open a node a newer leader already took.
   * With semi-sync on, this write also proves a replica acknowledges.
   */
  recordEpoch(
    node: NodeAddress,
    r: { epoch: number; token: number; agent: string },
    timeoutMs: number,
  ): Promise<void> {
    return this.run(
      node,
      async (c) => {
        await c.query('CREATE DATABASE IF NOT EXISTS stayline_agent');
        await c.query(
          `CREATE TABLE IF NOT EXISTS stayline_agent.topology_epoch (
             id TINYINT PRIMARY KEY, epoch INT NOT NULL, token BIGINT NOT NULL,
             primary_name VARCHAR(64) NOT NULL, agent VARCHAR(64) NOT NULL, at DATETIME(3) NOT NULL)`,
        );
        await c.query(
          `INSERT INTO stayline_agent.topology_epoch VALUES (1, ?, ?, ?, ?, NOW(3))
           ON DUPLICATE KEY UPDATE
             epoch = IF(VALUES(token) >= token, VALUES(epoch), epoch),
             primary_name = IF(VALUES(token) >= token, VALUES(primary_name), primary_name),
             agent = IF(VALUES(token) >= token, VALUES(agent), agent),
             at = IF(VALUES(token) >= token, VALUES(at), at),
             token = GREATEST(token, VALUES(token))`,
          [r.epoch, r.token, node.name, r.agent],
        );
        const [stored] = await rows(
          c,
          'SELECT token FROM stayline_agent.topology_epoch WHERE id = 1',
        );
        if (Number(stored?.token) > r.token)
          throw new Error(
            `fencing token ${r.token} refused on ${node.name}: ${stored?.token} is newer`,
          );
      },
      timeoutMs,
    );
  }

  /** The epoch recorded on a node (0 when none), to continue numbering after the coordinator lost it. */
  recordedEpoch(node: NodeAddress): Promise<number> {
    return this.run(node, async (c) => {
      const found = await rows(
        c,
        "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'stayline_agent' AND TABLE_NAME = 'topology_epoch'",
      );
      if (Number(found[0]?.n) === 0) return 0;
      const [r] = await rows(c, 'SELECT epoch FROM stayline_agent.topology_epoch WHERE id = 1');
      return Number(r?.epoch ?? 0);
    });
  }

  /** Lets the node take writes. */
  open(node: NodeAddress): Promise<void> {
    return this.run(node, async (c) => void (await c.query('SET GLOBAL read_only = OFF')), 2_000);
  }
}

/** A polite QUIT (no "aborted connection" in the server's log), destroyed if it takes long. */
function quit(conn: Conn): void {
  const force = setTimeout(() => conn.destroy(), 1_000);
  force.unref();
  void conn.end().then(
    () => clearTimeout(force),
    () => conn.destroy(),
  );
}

async function rows(c: Conn, sql: string, params: unknown[] = []): Promise<Row[]> {
  const [result] = await c.query(sql, params);
  return result as Row[];
}
