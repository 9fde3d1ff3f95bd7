import { parseGtidList } from '@stayline/contracts';
import { PositionHistory, type PublishedTopology } from '@stayline/database';
import mysql from 'mysql2/promise';
import type { MariaDbNodeView, MariaDbRole, MariaDbView } from '../topology/snapshot';
import { errorText } from './http-json';

interface NodeAddress {
  name: string;
  host: string;
  port: number;
}

/** What one node said, before lag is worked out against the primary. */
interface Reading {
  readOnly: boolean;
  binlogPos: string;
  slavePos: string;
  replicating: boolean;
  ioRunning?: boolean;
  sqlRunning?: boolean;
  follows?: string;
  masterSemi: boolean;
  semiClients: number;
  slaveSemi: boolean;
}

type Row = Record<string, unknown>;

/**
 * Read-only SQL probes of every MariaDB node the published topology names
 * (the agents' `stayline:topology:mariadb`), over one connection per node:
 * read-only flag, GTID positions, replication threads and semi-sync state.
 * Lag is measured in milliseconds from GTIDs (libs/database PositionHistory),
 * not from `Seconds_Behind_Master` (whole seconds). Needs REPLICA MONITOR and
 * BINLOG MONITOR, which the services' user has.
 */
export class MariaDbProbe {
  private readonly connections = new Map<string, Promise<mysql.Connection>>();
  /** Every node ever seen, so a fenced one (named but not addressed by the topology) stays shown. */
  private readonly known = new Map<string, NodeAddress>();
  private readonly history = new PositionHistory();
  private historyOf?: string;

  constructor(
    private readonly o: {
      user: string;
      password: string;
      timeoutMs: number;
      /** Nodes known before any topology is published. */
      nodes: readonly NodeAddress[];
      clock?: () => number;
    },
  ) {
    for (const n of o.nodes) this.known.set(n.name, n);
  }

  async probe(published: PublishedTopology | undefined): Promise<MariaDbView> {
    const t = published?.topology;
    const roles = new Map<string, MariaDbRole>();
    if (t) {
      for (const n of [t.primary, ...t.replicas]) this.known.set(n.name, n);
      roles.set(t.primary.name, 'primary');
      for (const r of t.replicas) roles.set(r.name, 'replica');
      for (const f of t.fenced ?? []) roles.set(f, 'fenced');
    }
    const nodes = [...this.known.values()].sort((a, b) => a.name.localeCompare(b.name));
    const clock = this.o.clock ?? (() => performance.now());
    const readings = await Promise.all(
      nodes.map((n) =>
        this.read(n).then(
          (r) => ({ r, at: clock() }),
          (err: unknown) => ({ error: errorText(err) }),
        ),
      ),
    );
    const primaryName = t?.primary.name;
    if (this.historyOf !== primaryName) {
      this.history.clear(); // positions of another primary say nothing about this one
      this.historyOf = primaryName;
    }
    const primaryIndex = nodes.findIndex((n) => n.name === primaryName);
    const p = readings[primaryIndex];
    if (p && 'r' in p) {
      const pos = parseGtidList(p.r.binlogPos);
      if (pos) this.history.record(pos, p.at);
    }
    return {
      epoch: t?.epoch ?? 0,
      primary: primaryName,
      publishedBy: published?.publishedBy,
      nodes: nodes.map((n, i) => {
        const got = readings[i];
        const base = {
          name: n.name,
          host: n.host,
          port: n.port,
          role: roles.get(n.name) ?? 'unknown',
        };
        if ('error' in got) return { ...base, reachable: false, error: got.error };
        return { ...base, ...this.view(got.r, got.at, base.role) };
      }),
    };
  }

  close(): void {
    for (const c of this.connections.values())
      void c.then(
        (x) => x.destroy(),
        () => undefined,
      );
    this.connections.clear();
  }

  private view(
    r: Reading,
    at: number,
    role: MariaDbRole,
  ): Omit<MariaDbNodeView, 'name' | 'host' | 'port' | 'role'> {
    if (!r.replicating)
      return {
        reachable: true,
        readOnly: r.readOnly,
        gtid: r.binlogPos,
        lagMs: role === 'primary' ? 0 : undefined,
        semiSync: r.masterSemi ? 'ON' : 'OFF',
        semiSyncClients: r.semiClients,
      };
    const pos = parseGtidList(r.slavePos);
    return {
      reachable: true,
      readOnly: r.readOnly,
      gtid: r.slavePos,
      lagMs: r.sqlRunning && pos ? Math.round(this.history.lagMs(pos, at)) : null,
      semiSync: r.slaveSemi ? 'ON' : 'OFF',
      ioRunning: r.ioRunning,
      sqlRunning: r.sqlRunning,
      follows: r.follows,
    };
  }

  private async read(n: NodeAddress): Promise<Reading> {
    try {
      const conn = await this.connection(n);
      const [vars] = await this.query(
        conn,
        'SELECT @@read_only AS ro, @@gtid_binlog_pos AS binlog, @@gtid_slave_pos AS slave',
      );
      const replica = (await this.query(conn, 'SHOW SLAVE STATUS'))[0];
      const status = Object.fromEntries(
        (await this.query(conn, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_%'")).map((row) => [
          String(row['Variable_name']),
          String(row['Value']),
        ]),
      );
      const replicating = Boolean(replica?.['Master_Host']);
      return {
        readOnly: Number(vars?.['ro']) === 1,
        binlogPos: String(vars?.['binlog'] ?? ''),
        slavePos: String(vars?.['slave'] ?? ''),
        replicating,
        ioRunning: replicating ? replica['Slave_IO_Running'] === 'Yes' : undefined,
        sqlRunning: replicating ? replica['Slave_SQL_Running'] === 'Yes' : undefined,
        follows: replicating ? `${replica['Master_Host']}:${replica['Master_Port']}` : undefined,
        masterSemi: status['Rpl_semi_sync_master_status'] === 'ON',
        semiClients: Number(status['Rpl_semi_sync_master_clients'] ?? 0),
        slaveSemi: status['Rpl_semi_sync_slave_status'] === 'ON',
      };
    } catch (err) {
      // a dead or frozen node: reconnect on the next round
      const conn = this.connections.get(n.name);
      this.connections.delete(n.name);
      void conn?.then(
        (c) => c.destroy(),
        () => undefined,
      );
      throw err;
    }
  }

  private connection(n: NodeAddress): Promise<mysql.Connection> {
    let conn = this.connections.get(n.name);
    if (!conn) {
      const opened = mysql.createConnection({
        host: n.host,
        port: n.port,
        user: this.o.user,
        password: this.o.password,
        connectTimeout: this.o.timeoutMs,
      });
      // a node that dies between rounds errors the idle connection: forget it, never crash
      conn = opened.then((c) => {
        c.on('error', () => {
          if (this.connections.get(n.name) === conn) this.connections.delete(n.name);
        });
        return c;
      });
      conn.catch(() => this.connections.delete(n.name));
      this.connections.set(n.name, conn);
    }
    return conn;
  }

  private async query(conn: mysql.Connection, sql: string): Promise<Row[]> {
    const [rows] = await conn.query({ sql, timeout: this.o.timeoutMs });
    return rows as Row[];
  }
}
