import { ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Stack, startStack } from '@stayline/stack-kit';
import type { Connection } from 'mysql2/promise';
import { runMigrations } from '../index';
import { adminTo } from '../testing/cluster';
import { CreateNote1760000000000, stackRouterOptions } from '../testing/notes';

jest.setTimeout(60_000);

const ROOT = path.resolve(__dirname, '../../../..');
const WAIT_MS = 2_500;

interface Instance {
  child: ChildProcess;
  url: string;
}

/** Starts the notes app as its own node process and waits for its port. */
function startInstance(env: Record<string, string>): Promise<Instance> {
  const child = spawn(
    process.execPath,
    ['scripts/run.cjs', 'libs/database/src/testing/notes-app.ts'],
    {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('notes app did not start within 30 s')),
      30_000,
    );
    child.once('exit', (code) => reject(new Error(`notes app exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const port = /^\{"port":(\d+)\}$/.exec(line)?.[1];
      if (!port) return;
      clearTimeout(timer);
      resolve({ child, url: `http://127.0.0.1:${port}` });
    });
  });
}

async function stopInstance(i: Instance | undefined): Promise<void> {
  if (!i || i.child.exitCode !== null) return;
  const exited = new Promise((r) => i.child.once('exit', r));
  i.child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000).unref())]);
  if (i.child.exitCode === null) i.child.kill('SIGKILL');
}

async function call(
  url: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown>; token: string | null; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(url, {
    ...init,
    headers: { 'content-type': 'application/json', ...init.headers },
  });
  const body = (await res.json()) as Record<string, unknown>;
  return {
    status: res.status,
    body,
    token: res.headers.get('x-consistency-token'),
    ms: performance.now() - t0,
  };
}

describe('read-your-writes across two processes (X-Consistency-Token)', () => {
  let stack: Stack;
  let a: Instance | undefined;
  let b: Instance | undefined;
  let replicas: Connection[] = [];

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: false, redis: false, nginx: false });
    const { logger: _logger, entities: _entities, ...options } = stackRouterOptions(stack);
    await runMigrations(stackRouterOptions(stack), [CreateNote1760000000000]);
    // Each instance probes lag once at start and then not for a minute: replicas stay in
    // rotation while they lag, the worst case for the token (a monitor is always a probe behind).
    const env = {
      STAYLINE_DB_OPTIONS: JSON.stringify({
        ...options,
        probeIntervalMs: 60_000,
        gtidWaitTimeoutMs: WAIT_MS,
        readTimeoutMs: WAIT_MS * 2,
      }),
    };
    [a, b] = await Promise.all([startInstance(env), startInstance(env)]);
    replicas = await Promise.all([adminTo(stack, 'mariadb-2'), adminTo(stack, 'mariadb-3')]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((c) => c.query('START SLAVE SQL_THREAD').then(() => c.end())));
    await Promise.all([stopInstance(a), stopInstance(b)]);
    await stack?.stop();
  });

  const both = (sql: string) => Promise.all(replicas.map((c) => c.query(sql)));

  it('a write through A is read through B with its token, from the primary once the wait times out', async () => {
    if (!a || !b) throw new Error('instances did not start');
    await both('STOP SLAVE SQL_THREAD');
    const created = await call(`${a.url}/notes`, {
      method: 'POST',
      body: JSON.stringify({ id: 'n1', body: 'from A' }),
    });
    expect(created.status).toBe(201);
    expect(created.body['servedBy']).toBe(1);
    expect(created.token).toMatch(/^0-1-\d+$/);

    const plain = await call(`${b.url}/notes/n1`);
    expect(plain.status).toBe(404); // without the token: a lagging replica, not forced to the primary
    expect([2, 3]).toContain(plain.body['servedBy']);

    const own = await call(`${b.url}/notes/n1`, {
      headers: { 'x-consistency-token': created.token ?? '' },
    });
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id: 'n1', body: 'from A', servedBy: 1 });
    expect(own.ms).toBeGreaterThanOrEqual(WAIT_MS - 100);
    expect(own.token).toBe(created.token);
  });

  it('a write through B is read through A with its token, from a replica that catches up during the wait', async () => {
    if (!a || !b) throw new Error('instances did not start');
    const created = await call(`${b.url}/notes`, {
      method: 'POST',
      body: JSON.stringify({ id: 'n2', body: 'from B' }),
    });
    expect(created.token).toMatch(/^0-1-\d+$/);
    const read = call(`${a.url}/notes/n2`, {
      headers: { 'x-consistency-token': created.token ?? '' },
    });
    await new Promise((r) => setTimeout(r, 300));
    await both('START SLAVE SQL_THREAD');
    const own = await read;
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({ id: 'n2', body: 'from B' });
    expect([2, 3]).toContain(own.body['servedBy']);
    expect(own.ms).toBeLessThan(WAIT_MS);
  });

  it('refuses a malformed token with a 400 and a JSON message', async () => {
    if (!b) throw new Error('instance did not start');
    const bad = await call(`${b.url}/notes/n1`, {
      headers: { 'x-consistency-token': "0-1-1' OR '1'='1" },
    });
    expect(bad.status).toBe(400);
    expect(String(bad.body['message'])).toMatch(/X-Consistency-Token/);
  });
});
