import mysql from 'mysql2/promise';
import { hardClose } from './connection-tracking';
import { withDeadline } from './deadline';
import { QueryTimeoutError } from './errors';
import { GtidPosition, parseGtidList } from '@stayline/contracts';
import { NodeProbe, PrimaryStatus, ReplicaStatus } from './node-probe';
import { NodeAddress } from './topology';

/** Credentials and timing of the probes. */
export interface ProbeSettings {
  user: string;
  password: string;
  /** Connect and query timeout of one probe; a frozen node fails it. */
  timeoutMs: number;
}

type Row = Record<string, unknown>;

/**
 * Probes one MariaDB node over its own connection (not the pool: a busy pool
 * must not make a healthy node look dead). Reconnects on the next probe after
 * a failure. Needs the REPLICA MONITOR and BINLOG MONITOR privileges.
 */
export class MariaDbProbe implements NodeProbe {
  private conn?: Promise<mysql.Connection>;

  constructor(
    private readonly node: NodeAddress,
    private readonly settings: ProbeSettings,
  ) {}

  /** @inheritdoc */
  async primary(): Promise<PrimaryStatus> {
    const [row] = await this.query('SELECT @@gtid_binlog_pos AS pos, @@read_only AS ro');
    return { position: position(row?.['pos']), readOnly: Number(row?.['ro']) === 1 };
  }

  /** @inheritdoc */
  async replica(): Promise<ReplicaStatus> {
    const rows = await this.query('SHOW ALL SLAVES STATUS');
    const row = rows.find((r) => r['Connection_name'] === '') ?? rows[0];
    if (!row)
      return {
        position: new Map(),
        sqlRunning: false,
        ioRunning: false,
        problem: 'not replicating from anyone',
      };
    const sqlRunning = row['Slave_SQL_Running'] === 'Yes';
    const sqlError = String(row['Last_SQL_Error'] ?? '');
    return {
      position: position(row['Gtid_Slave_Pos']),
      sqlRunning,
      ioRunning: row['Slave_IO_Running'] === 'Yes',
      problem: sqlRunning ? undefined : sqlError || 'SQL thread stopped',
    };
  }

  /** @inheritdoc */
  close(): void {
    const conn = this.conn;
    this.conn = undefined;
    // the promise wrapper keeps the core connection, whose socket a frozen node never closes
    void conn?.then(
      (c) =>
        hardClose((c as unknown as { connection: Parameters<typeof hardClose>[0] }).connection),
      () => undefined,
    );
  }

  private async connect(): Promise<mysql.Connection> {
    const conn = await mysql.createConnection({
      host: this.node.host,
      port: this.node.port,
      user: this.settings.user,
      password: this.settings.password,
      connectTimeout: this.settings.timeoutMs,
    });
    // the node died while this connection sat idle: reconnect on the next probe
    conn.on(
      'error',
      () =>
        void this.conn?.then(
          (c) => c === conn && this.close(),
          () => undefined,
        ),
    );
    return conn;
  }

  private async query(sql: string): Promise<Row[]> {
    const { timeoutMs } = this.settings;
    const attempt = (async () => {
      this.conn ??= this.connect();
      const conn = await this.conn;
      const [rows] = await conn.query(sql);
      return rows as Row[];
    })();
    try {
      return await withDeadline(
        attempt,
        timeoutMs,
        () => new QueryTimeoutError(this.node.name, timeoutMs),
      );
    } catch (err) {
      this.close(); // a fresh connection next time
      throw err;
    }
  }
}

function position(value: unknown): GtidPosition {
  const parsed = parseGtidList(String(value ?? ''));
  if (!parsed) throw new Error(`unexpected GTID position ${String(value)}`);
  return parsed;
}
