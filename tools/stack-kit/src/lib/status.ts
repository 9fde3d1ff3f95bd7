import { sequenceOf } from '@stayline/contracts';
import { etcdMemberStatus } from './etcd';
import { httpJson } from './http-json';
import { adminConnection, semiSyncStatus } from './mariadb';
import { isPortOpen } from './ports';
import { isAlive, isStopped } from './process';
import { redisCommand, replicationInfo, SENTINEL_MASTER_NAME } from './redis';
import { Component, ComponentKind, StackState } from './state';

/** One entry of the status contract (ARCHITECTURE "The status contract"). */
export interface ComponentStatus {
  name: string;
  kind: ComponentKind;
  role: string;
  host: string;
  port: number;
  ports: Record<string, number>;
  pid: number | null;
  healthy: boolean;
  /** Why it is not healthy, when it is not. */
  reason?: string;
  /** MariaDB: how far a replica is behind its primary (0 when it has every transaction). */
  lagMs?: number | null;
  /** MariaDB: the node's current GTID position. */
  gtid?: string;
  /** MariaDB: semi-sync state; the primary's master side, a replica's slave side. */
  semiSync?: 'ON' | 'OFF';
  /** MariaDB replica / Redis replica: the primary it follows. */
  primary?: string;
  /** Sentinel: the primary it names, and whether a failover could be authorised. */
  master?: string;
  quorum?: boolean;
  [extra: string]: unknown;
}

export interface StackStatus {
  stateDir: string;
  startedAt: string;
  components: ComponentStatus[];
}

const PROBE_TIMEOUT_MS = 1_500;
const KIND_ORDER: ComponentKind[] = [
  'mariadb',
  'redis',
  'sentinel',
  'etcd',
  'agent',
  'service',
  'nginx',
];

function withTimeout<T>(p: Promise<T>, ms = PROBE_TIMEOUT_MS): Promise<T> {
  return Promise.race([
    p,
    new Promise<T>((_, reject) =>
      setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref(),
    ),
  ]);
}

async function probeMariaDb(
  c: Component,
  state: StackState,
  base: ComponentStatus,
  primaryGtid: { seq?: number },
) {
  const conn = await withTimeout(adminConnection(c, state.credentials, PROBE_TIMEOUT_MS));
  try {
    const [[vars]] = (await conn.query(
      'SELECT @@read_only AS ro, @@gtid_binlog_pos AS binlog, @@gtid_slave_pos AS slave, @@gtid_current_pos AS cur, @@rpl_semi_sync_slave_enabled AS slaveSemi',
    )) as unknown as [
      [{ ro: number; binlog: string; slave: string; cur: string; slaveSemi: number }],
    ];
    const [rows] = (await conn.query('SHOW SLAVE STATUS')) as unknown as [
      Array<Record<string, unknown>>,
    ];
    const replica = rows[0];
    const semi = await semiSyncStatus(conn);
    if (!replica || !replica.Master_Host) {
      base.role = vars.ro ? 'fenced' : 'primary';
      base.gtid = vars.binlog;
      base.semiSync = semi.enabled ? 'ON' : 'OFF';
      base.lagMs = 0;
      base.semiSyncClients = semi.clients;
      base.semiSyncNoTx = semi.noTx;
      base.readOnly = Boolean(vars.ro);
      primaryGtid.seq = sequenceOf(vars.binlog);
      base.healthy = !vars.ro && semi.enabled;
      if (vars.ro) base.reason = 'read-only and not replicating (fenced or not yet promoted)';
      else if (!semi.enabled) base.reason = 'semi-sync is OFF: an acknowledged write could be lost';
      return;
    }
    const io = replica.Slave_IO_Running === 'Yes';
    const sql = replica.Slave_SQL_Running === 'Yes';
    base.role = 'replica';
    base.gtid = vars.slave || vars.cur;
    base.primary = `${replica.Master_Host}:${replica.Master_Port}`;
    base.semiSync = vars.slaveSemi ? 'ON' : 'OFF';
    base.ioThread = String(replica.Slave_IO_Running);
    base.sqlThread = String(replica.Slave_SQL_Running);
    const behind = replica.Seconds_Behind_Master;
    base.lagMs = sql && behind !== null && behind !== undefined ? Number(behind) * 1000 : null;
    base.healthy = io && sql;
    if (!base.healthy)
      base.reason = `replication threads IO=${base.ioThread} SQL=${base.sqlThread}`;
  } finally {
    await conn.end().catch(() => undefined);
  }
}

async function probeRedis(c: Component, base: ComponentStatus) {
  const info = await withTimeout(replicationInfo(c));
  if (info.role === 'master') {
    base.role = 'primary';
    base.replicas = Number(info.connected_slaves ?? 0);
    base.healthy = true;
  } else {
    base.role = 'replica';
    base.primary = `${info.master_host}:${info.master_port}`;
    base.healthy = info.master_link_status === 'up';
    if (!base.healthy) base.reason = `link to primary ${info.master_link_status}`;
  }
}

async function probeSentinel(c: Component, base: ComponentStatus) {
  const [host, port] = await withTimeout(
    redisCommand<[string, string]>(c, 'SENTINEL', 'GET-MASTER-ADDR-BY-NAME', SENTINEL_MASTER_NAME),
  );
  base.master = `${host}:${port}`;
  const quorum = await withTimeout(
    redisCommand<string>(c, 'SENTINEL', 'CKQUORUM', SENTINEL_MASTER_NAME),
  ).catch((e: Error) => e.message);
  base.quorum = quorum.startsWith('OK');
  base.healthy = true;
}

/** etcd: `role` leader or follower, `member` and `leader` ids, healthy when it has a leader. */
async function probeEtcd(c: Component, base: ComponentStatus) {
  const s = await etcdMemberStatus({ host: c.host, clientPort: c.port }, PROBE_TIMEOUT_MS);
  base.member = s.member;
  base.leader = s.leader ?? null;
  base.role = s.leader === undefined ? 'no-leader' : s.leader === s.member ? 'leader' : 'follower';
  base.healthy = s.healthy;
  if (!s.healthy) base.reason = s.leader ? 'health check failed' : 'no leader (no quorum?)';
}

async function probeHttp(c: Component, base: ComponentStatus, path: string) {
  const port = c.ports.http ?? c.port;
  const res = await httpJson(`http://${c.host}:${port}${path}`, { timeoutMs: PROBE_TIMEOUT_MS });
  base.healthy = res.status === 200;
  const body = res.body as { role?: string; status?: string } | undefined;
  if (body && typeof body === 'object' && typeof body.role === 'string') base.role = body.role;
  if (!base.healthy) base.reason = `health answered ${res.status}`;
}

/** Probes every recorded component; one that is down stays listed with `healthy: false`. */
export async function probeStack(state: StackState): Promise<StackStatus> {
  const primaryGtid: { seq?: number } = {};
  const ordered = [...state.components].sort(
    (a, b) => Number(b.role === 'primary') - Number(a.role === 'primary'),
  );
  const results = new Map<string, ComponentStatus>();
  // the primary first, so replicas' lag can be compared with its GTID
  for (const group of [
    ordered.filter((c) => c.kind === 'mariadb'),
    ordered.filter((c) => c.kind !== 'mariadb'),
  ]) {
    await Promise.all(
      group.map(async (c) => {
        const base: ComponentStatus = {
          name: c.name,
          kind: c.kind,
          role: c.role,
          host: c.host,
          port: c.port,
          ports: c.ports,
          pid: c.pid ?? null,
          healthy: false,
        };
        results.set(c.name, base);
        if (!isAlive(c.pid)) {
          base.pid = null;
          base.reason = 'not running';
          return;
        }
        if (isStopped(c.pid)) {
          base.reason = 'frozen (SIGSTOP)';
          return;
        }
        try {
          if (c.kind === 'mariadb') await probeMariaDb(c, state, base, primaryGtid);
          else if (c.kind === 'redis') await probeRedis(c, base);
          else if (c.kind === 'sentinel') await probeSentinel(c, base);
          else if (c.kind === 'etcd') await probeEtcd(c, base);
          else if (c.kind === 'nginx') await probeHttp(c, base, '/health');
          else if (c.meta?.service === 'prometheus') await probeHttp(c, base, '/-/healthy');
          else if (c.kind === 'service' || c.kind === 'agent')
            await probeHttp(c, base, '/health/live');
          else base.healthy = await isPortOpen(c.port, c.host);
        } catch (err) {
          base.healthy = false;
          base.reason = (err as Error).message;
        }
      }),
    );
  }
  // a replica holding every transaction the primary has is not behind, whatever Seconds_Behind_Master says
  for (const s of results.values()) {
    if (
      s.kind === 'mariadb' &&
      s.role === 'replica' &&
      s.gtid !== undefined &&
      primaryGtid.seq !== undefined
    ) {
      if (sequenceOf(s.gtid) >= primaryGtid.seq) s.lagMs = 0;
    }
  }
  return {
    stateDir: state.stateDir,
    startedAt: state.startedAt,
    components: [...state.components]
      .sort(
        (a, b) =>
          KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || a.name.localeCompare(b.name),
      )
      .map((c) => results.get(c.name) as ComponentStatus),
  };
}
