/**
 * One-shot set-up of a MariaDB cluster whose nodes run elsewhere (the compose
 * file's `db-init` container): the very code the native launcher runs.
 *   cluster-init.ts --primary mariadb-1:3306 --replica mariadb-2:3306 --replica mariadb-3:3306
 * Root connects over TCP with MARIADB_ROOT_PASSWORD; the accounts it creates
 * take their passwords from STAYLINE_DB_* (see .env.example).
 */
import mysql from 'mysql2/promise';
import { credentialsFromEnv } from './lib/credentials';
import { bootstrapCluster, MariaDbNode, semiSyncStatus } from './lib/mariadb';
import { waitFor } from './lib/ports';

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

async function main(): Promise<void> {
  const rootPassword = process.env.MARIADB_ROOT_PASSWORD;
  if (rootPassword === undefined) throw new Error('MARIADB_ROOT_PASSWORD is required');
  const { primary, replicas } = parseArgs(process.argv.slice(2));
  const p = node(primary, 1, rootPassword);
  const rs = replicas.map((r, i) => node(r, i + 2, rootPassword));
  for (const n of [p, ...rs]) {
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
  const conn = await (p.connect as () => Promise<mysql.Connection>)();
  const [[{ ro }]] = (await conn.query('SELECT @@read_only AS ro')) as unknown as [
    [{ ro: number }],
  ];
  const semi = await semiSyncStatus(conn);
  await conn.end();
  if (!ro && semi.enabled) {
    console.log(`cluster already initialised: ${primary} is the writable primary`);
    return;
  }
  await bootstrapCluster(p, rs, credentialsFromEnv());
  console.log(`cluster ready: primary ${primary}, replicas ${replicas.join(', ')}, semi-sync on`);
}

main().catch((err: Error) => {
  console.error(`cluster-init failed: ${err.message}`);
  process.exit(1);
});
