/**
 * One-shot set-up of a MariaDB cluster whose nodes run elsewhere (the compose
 * file's `db-init` container): the very code the native launcher runs.
 *   cluster-init.ts --primary mariadb-1:3306 --replica mariadb-2:3306 --replica mariadb-3:3306
 * Root connects over TCP with MARIADB_ROOT_PASSWORD; the accounts it creates
 * take their passwords from STAYLINE_DB_* (see .env.example).
 */
import mysql from 'mysql2/promise';
import {
  credentialsFromEnv,
  SERVICE_DATABASES,
  bootstrapCluster,
  MariaDbNode,
  openPrimary,
  waitFor,
} from '@stayline/stack-kit';

function parseArgs(argv: string[]): { primary: string; replicas: string[] } {
  const replicas: string[] = [];
  let primary = '';
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--primary') primary = argv[++i];
    else if (argv[i] === '--replica') replicas.push(argv[++i]);
  }
  if (!primary)
    throw new Error('usage: cluster-init --primary HOST:PORT [--replica HOST:PORT ...]');
  return { primary, replicas };
}

function node(address: string, serverId: number, rootPassword: string): MariaDbNode {
  const [host, port] = address.split(':');
  return {
    name: host,
    host,
    port: Number(port ?? 3306),
    serverId,
    dir: '',
    connect: () =>
      mysql.createConnection({
        host,
        port: Number(port ?? 3306),
        user: 'root',
        password: rootPassword,
        connectTimeout: 2_000,
      }),
  };
}

/** What one node holds: enough to tell a bare node from a member of a cluster. */
interface NodeState {
  node: MariaDbNode;
  readOnly: boolean;
  /** The primary it replicates from (`host:port`), if it is configured as a replica. */
  follows?: string;
  /** Whether any service database exists on it. */
  hasData: boolean;
}

async function stateOf(n: MariaDbNode): Promise<NodeState> {
  const c = await (n.connect as () => Promise<mysql.Connection>)();
  try {
    const [[{ ro }]] = (await c.query('SELECT @@read_only AS ro')) as unknown as [[{ ro: number }]];
    const [slave] = (await c.query('SHOW SLAVE STATUS')) as unknown as [
      Array<{ Master_Host?: string; Master_Port?: number }>,
    ];
    const [dbs] = (await c.query(
      `SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name IN (${SERVICE_DATABASES.map(() => '?').join(',')})`,
      [...SERVICE_DATABASES],
    )) as unknown as [[{ n: number }]];
    const m = slave[0];
    return {
      node: n,
      readOnly: Number(ro) === 1,
      follows: m?.Master_Host ? `${m.Master_Host}:${m.Master_Port}` : undefined,
      hasData: Number(dbs[0].n) > 0,
    };
  } finally {
    await c.end();
  }
}

/**
 * Bootstraps only bare nodes. A cluster that exists is never re-bootstrapped: after
 * a failover, the node named `--primary` may be a fenced former primary, and
 * attaching the others to it would undo the failover. `docker compose up` runs this
 * job again whenever it (re)starts a service that depends on it.
 */
async function main(): Promise<void> {
  const rootPassword = process.env.MARIADB_ROOT_PASSWORD;
  if (rootPassword === undefined) throw new Error('MARIADB_ROOT_PASSWORD is required');
  const { primary, replicas } = parseArgs(process.argv.slice(2));
  const p = node(primary, 1, rootPassword);
  const rs = replicas.map((r, i) => node(r, i + 2, rootPassword));
  const all = [p, ...rs];
  for (const n of all) {
    await waitFor(
      `${n.name} to accept connections`,
      async () => {
        const c = await (n.connect as () => Promise<mysql.Connection>)();
        await c.end();
        return true;
      },
      { timeoutMs: 120_000, intervalMs: 500 },
    );
  }
  const states = await Promise.all(all.map(stateOf));
  if (states.every((s) => !s.hasData && !s.follows)) {
    await bootstrapCluster(p, rs, credentialsFromEnv());
    console.log(`cluster ready: primary ${primary}, replicas ${replicas.join(', ')}, semi-sync on`);
    return;
  }
  const writable = states.filter((s) => !s.readOnly && !s.follows);
  if (writable.length === 1) {
    console.log(
      `cluster already initialised: ${writable[0].node.name} is the writable primary; the failover agents keep its topology`,
    );
    return;
  }
  // every node restarted read-only (a whole-stack stop and start): the primary is the node
  // the replicas follow, when they all agree on one that follows nobody
  const followed = [...new Set(states.flatMap((s) => (s.follows ? [s.follows] : [])))];
  const head = states.find((s) => `${s.node.host}:${s.node.port}` === followed[0]);
  if (writable.length === 0 && followed.length === 1 && head && !head.follows) {
    const attached = states.filter((s) => s.follows).length;
    await openPrimary(head.node, attached);
    console.log(
      `cluster already initialised: reopened ${head.node.name}, the primary its ${attached} replica(s) follow`,
    );
    return;
  }
  console.log(
    `cluster already initialised, primary unclear (${writable.length} writable, replicas following ${followed.join(' ') || 'nobody'}): left to the failover agents and the operator`,
  );
}

main().catch((err: Error) => {
  console.error(`cluster-init failed: ${err.message}`);
  process.exit(1);
});
