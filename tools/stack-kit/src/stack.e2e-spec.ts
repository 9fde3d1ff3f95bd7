import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import {
  isPortOpen,
  readState,
  redisCommand,
  sentinelMaster,
  Stack,
  startStack,
  waitFor,
} from './index';
import { isAlive, isStopped, signal } from './lib/process';

jest.setTimeout(120_000);

function allPorts(stack: Stack): number[] {
  return stack.components.flatMap((c) => Object.values(c.ports));
}

describe('native stack launcher', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: true, nginx: true });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('replicates a row written on the primary to both replicas', async () => {
    const { primary, replicas } = stack.mariadb;
    const creds = stack.credentials.app;
    const conn = await mysql.createConnection({ ...primary, ...creds, database: 'reservation' });
    await conn.query('CREATE TABLE probe (id INT PRIMARY KEY, note VARCHAR(64))');
    await conn.query('INSERT INTO probe VALUES (1, ?)', ['written on the primary']);
    await conn.end();
    expect(replicas).toHaveLength(2);
    for (const r of replicas) {
      const rc = await mysql.createConnection({
        host: r.host,
        port: r.port,
        ...creds,
        database: 'reservation',
      });
      await waitFor(`row on ${r.name}`, async () => {
        const [rows] = await rc.query('SELECT note FROM probe WHERE id = 1');
        return (rows as Array<{ note: string }>)[0]?.note === 'written on the primary';
      });
      await rc.end();
    }
  });

  it('runs semi-sync replication with both replicas acknowledging, replicas read-only', async () => {
    const status = await stack.status();
    const dbs = status.components.filter((c) => c.kind === 'mariadb');
    expect(dbs.map((c) => [c.role, c.healthy, c.semiSync])).toEqual([
      ['primary', true, 'ON'],
      ['replica', true, 'ON'],
      ['replica', true, 'ON'],
    ]);
    expect(dbs[0].semiSyncClients).toBe(2);
    const replica = stack.mariadb.replicas[0];
    const conn = await mysql.createConnection({
      host: replica.host,
      port: replica.port,
      ...stack.credentials.app,
      database: 'payment',
    });
    await expect(conn.query('CREATE TABLE nope (id INT)')).rejects.toThrow(/read-only/i);
    await conn.end();
  });

  it('has every service database on every node', async () => {
    for (const node of stack.mariadb.nodes) {
      const conn = await mysql.createConnection({
        host: node.host,
        port: node.port,
        ...stack.credentials.admin,
      });
      await waitFor(`databases on ${node.name}`, async () => {
        const [rows] = await conn.query('SHOW DATABASES');
        const names = (rows as Array<{ Database: string }>).map((r) => r.Database);
        return ['reservation', 'payment', 'recommendation', 'scrap'].every((d) =>
          names.includes(d),
        );
      });
      await conn.end();
    }
  });

  it('has Sentinels that name the primary and reach a quorum', async () => {
    const { primary, sentinels, masterName } = stack.redis;
    expect(sentinels).toHaveLength(3);
    for (const s of sentinels) {
      expect(await sentinelMaster(s)).toEqual({ host: primary.host, port: primary.port });
      expect(await redisCommand<string>(s, 'SENTINEL', 'CKQUORUM', masterName)).toMatch(
        /^OK 3 usable/,
      );
    }
    const status = await stack.status();
    expect(status.components.filter((c) => c.kind === 'redis').map((c) => c.role)).toEqual([
      'primary',
      'replica',
    ]);
  });

  it('serves JSON from the nginx gateway, errors included', async () => {
    const health = await fetch(`${stack.nginx.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ status: 'ok' });
    const missing = await fetch(`${stack.nginx.url}/nowhere`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBeTruthy();
    expect(await missing.json()).toMatchObject({ error: 'not_found' });
  });

  it('reports every component in the status contract', async () => {
    const status = await stack.status();
    expect(status.components.map((c) => c.kind).sort()).toEqual(
      [
        'mariadb',
        'mariadb',
        'mariadb',
        'nginx',
        'redis',
        'redis',
        'sentinel',
        'sentinel',
        'sentinel',
      ].sort(),
    );
    for (const c of status.components) {
      expect(c).toEqual(
        expect.objectContaining({
          name: expect.any(String),
          host: '127.0.0.1',
          port: expect.any(Number),
          healthy: true,
        }),
      );
      expect(c.pid).toBeGreaterThan(0);
      expect(c.ports).toBeInstanceOf(Object);
    }
    for (const c of status.components.filter((x) => x.kind === 'mariadb')) {
      expect(c.lagMs).toBe(0);
      expect(c.gtid).toMatch(/^0-1-\d+$/);
    }
  });

  it('keeps a killed component listed as unhealthy, and brings a Redis node back as a replica', async () => {
    stack.kill('redis-2', 'SIGKILL');
    await waitFor('redis-2 to be reported down', async () => {
      const s = (await stack.status()).components.find((c) => c.name === 'redis-2');
      return s?.healthy === false && s.pid === null;
    });
    await stack.restart('redis-2');
    const s = (await stack.status()).components.find((c) => c.name === 'redis-2');
    expect(s).toMatchObject({
      role: 'replica',
      healthy: true,
      primary: `127.0.0.1:${stack.redis.primary.port}`,
    });
  });

  it('reports a frozen (SIGSTOP) node as unhealthy, and healthy again after SIGCONT', async () => {
    const name = stack.mariadb.replicas[1].name;
    stack.kill(name, 'SIGSTOP');
    // the signal is delivered asynchronously: wait until the kernel shows the process stopped
    await waitFor(`${name} stopped`, async () => isStopped(stack.component(name).pid));
    const frozen = (await stack.status()).components.find((c) => c.name === name);
    expect(frozen).toMatchObject({ healthy: false, reason: expect.stringMatching(/frozen/) });
    stack.kill(name, 'SIGCONT');
    await waitFor(
      `${name} healthy again`,
      async () => (await stack.status()).components.find((c) => c.name === name)?.healthy === true,
    );
  });

  it('leaves no listening port and no process after stop()', async () => {
    const extra = await startStack({ replicas: 1, sentinel: false, nginx: true });
    const pids = extra.components.map((c) => c.pid);
    const ports = allPorts(extra);
    await extra.stop();
    expect(pids.filter((p) => isAlive(p))).toEqual([]);
    for (const p of ports) expect(await isPortOpen(p)).toBe(false);
  });
});

describe('stack lifecycle', () => {
  const afterAllKill: Array<number | undefined> = [];
  afterAll(() => {
    for (const pid of afterAllKill) signal(pid, 'SIGKILL');
  });

  it('runs two stacks side by side without collisions', async () => {
    const [a, b] = await Promise.all([
      startStack({ replicas: 1, sentinel: false, nginx: false }),
      startStack({ replicas: 1, sentinel: false, nginx: false }),
    ]);
    try {
      const pa = allPorts(a);
      const pb = allPorts(b);
      expect(pa.filter((p) => pb.includes(p))).toEqual([]);
      expect(a.stateDir).not.toBe(b.stateDir);
      const statuses = await Promise.all([a.status(), b.status()]);
      for (const s of statuses) expect(s.components.every((c) => c.healthy)).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('starts cleanly in the state dir of a run that was SIGKILLed', async () => {
    const stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-killed-'));
    const script = path.join(stateDir, 'start.ts');
    fs.writeFileSync(
      script,
      `import { startStack } from '@stayline/stack-kit';
\n` +
        `startStack({ stateDir: ${JSON.stringify(path.join(stateDir, 'stack'))}, replicas: 1, sentinel: false, nginx: true })` +
        `.then(() => console.log('READY'));\nsetInterval(() => undefined, 1000);\n`,
    );
    const child = spawn(
      process.execPath,
      [path.resolve(__dirname, '../../../scripts/run.cjs'), script],
      {
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => d.toString().includes('READY') && resolve());
      child.once('exit', (code) => reject(new Error(`starter exited with ${code}`)));
    });
    child.kill('SIGKILL');
    const orphans = readState(path.join(stateDir, 'stack'))?.components ?? [];
    // whatever happens below, this test leaves no process behind
    afterAllKill.push(...orphans.map((c) => c.pid));
    expect(orphans.map((c) => c.kind).sort()).toEqual([
      'mariadb',
      'mariadb',
      'nginx',
      'redis',
      'redis',
    ]);
    expect(orphans.every((c) => isAlive(c.pid))).toBe(true);

    const again = await startStack({
      stateDir: path.join(stateDir, 'stack'),
      replicas: 1,
      sentinel: false,
      nginx: true,
    });
    try {
      expect(orphans.every((c) => !isAlive(c.pid))).toBe(true);
      expect((await again.status()).components.every((c) => c.healthy)).toBe(true);
    } finally {
      await again.stop();
      fs.rmSync(stateDir, { recursive: true, force: true });
    }
  });
});
