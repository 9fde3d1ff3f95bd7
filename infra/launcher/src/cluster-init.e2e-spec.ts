import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { Stack, startStack, waitFor } from '@stayline/stack-kit';

jest.setTimeout(90_000);
const run = promisify(execFile);

// The compose file's db-init container runs cluster-init.ts against nodes it
// reaches over TCP; this runs the same entry point against bare native nodes.
describe('cluster-init (the db-init container entry point)', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, redis: false, nginx: false, mariadbBootstrap: false });
  });
  afterAll(() => stack?.stop());

  it('turns bare read-only nodes into a semi-sync replicated cluster, and is idempotent', async () => {
    const [p, ...rs] = stack.mariadb.nodes;
    const args = [
      path.resolve(__dirname, '../../../scripts/run.cjs'),
      path.join(__dirname, 'cluster-init.ts'),
      '--primary',
      `${p.host}:${p.port}`,
      ...rs.flatMap((r) => ['--replica', `${r.host}:${r.port}`]),
    ];
    const env = { ...process.env, MARIADB_ROOT_PASSWORD: '' };
    const first = await run(process.execPath, args, { env });
    expect(first.stdout).toMatch(/cluster ready/);

    const status = await stack.status();
    expect(status.components.map((c) => [c.role, c.healthy, c.semiSync])).toEqual([
      ['primary', true, 'ON'],
      ['replica', true, 'ON'],
      ['replica', true, 'ON'],
    ]);
    const conn = await mysql.createConnection({
      host: p.host,
      port: p.port,
      ...stack.credentials.app,
      database: 'scrap',
    });
    await conn.query('CREATE TABLE t (id INT PRIMARY KEY)');
    await conn.query('INSERT INTO t VALUES (7)');
    await conn.end();
    const rc = await mysql.createConnection({
      host: rs[1].host,
      port: rs[1].port,
      ...stack.credentials.app,
      database: 'scrap',
    });
    await waitFor(
      'row on the replica',
      async () => ((await rc.query('SELECT id FROM t'))[0] as unknown[]).length === 1,
    );
    await rc.end();

    const second = await run(process.execPath, args, { env });
    expect(second.stdout).toMatch(/already initialised/);

    // a failover happened (the first replica promoted, the old primary read-only): the job,
    // run again by `docker compose up`, must not attach the new primary to the old one
    const root = (n: { host: string; port: number }) =>
      mysql.createConnection({ host: n.host, port: n.port, user: 'root', password: '' });
    const [oldPrimary, promoted] = [await root(p), await root(rs[0])];
    await oldPrimary.query('SET GLOBAL read_only = ON');
    await promoted.query('STOP SLAVE');
    await promoted.query('RESET SLAVE ALL');
    await promoted.query('SET GLOBAL read_only = OFF');
    const third = await run(process.execPath, args, { env });
    expect(third.stdout).toMatch(/already initialised: \S+ is the writable primary/);
    const [[after]] = (await promoted.query('SELECT @@read_only AS ro')) as unknown as [
      [{ ro: number }],
    ];
    const [slave] = (await promoted.query('SHOW SLAVE STATUS')) as unknown as [unknown[]];
    expect([Number(after.ro), slave.length]).toEqual([0, 0]);
    const [[old]] = (await oldPrimary.query('SELECT @@read_only AS ro')) as unknown as [
      [{ ro: number }],
    ];
    expect(Number(old.ro)).toBe(1);
    await Promise.all([oldPrimary.end(), promoted.end()]);
  });
});
