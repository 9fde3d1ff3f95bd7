import { Stack, startStack, waitFor } from '@stayline/stack-kit';
import { Test } from '@nestjs/testing';
import { healthRegistry } from '@stayline/observability';
import mysql from 'mysql2/promise';
import { In } from 'typeorm';
import { DatabaseModule, ReplicaHealth, ReplicaRouter, runMigrations } from '../index';
import { metricValue } from '../testing/cluster';
import { CreateNote1760000000000, Note, serverId, stackRouterOptions } from '../testing/notes';

jest.setTimeout(60_000);

describe('ReplicaRouter routing (real primary + 2 replicas)', () => {
  let stack: Stack;
  let router: ReplicaRouter;

  beforeAll(async () => {
    stack = await startStack({ replicas: 2, sentinel: false, redis: false, nginx: false });
    const options = stackRouterOptions(stack);
    // two instances starting at once: one migrates, the other finds nothing to do
    const runs = await Promise.all([
      runMigrations(options, [CreateNote1760000000000]),
      runMigrations(options, [CreateNote1760000000000]),
    ]);
    expect(runs.flat()).toEqual(['CreateNote1760000000000']);
    router = await ReplicaRouter.create(options);
  });

  afterAll(async () => {
    await router?.close();
    await stack?.stop();
  });

  it('sends writes and transactions to the primary', async () => {
    expect(await router.write((m) => serverId(m))).toBe(1);
    expect(await router.transaction((m) => serverId(m))).toBe(1);
  });

  it('spreads reads over both replicas and never reads the primary while they keep up', async () => {
    const before = await metricValue('stayline_db_queries_total', { target: 'mariadb-1' });
    const served: number[] = [];
    for (let i = 0; i < 40; i++) served.push(await router.read((m) => serverId(m)));
    const count = (id: number) => served.filter((s) => s === id).length;
    expect(count(1)).toBe(0);
    expect(count(2)).toBeGreaterThanOrEqual(15);
    expect(count(3)).toBeGreaterThanOrEqual(15);
    expect(await metricValue('stayline_db_queries_total', { target: 'mariadb-1' })).toBe(before);
    expect(
      await metricValue('stayline_db_queries_total', { target: 'mariadb-2', role: 'replica' }),
    ).toBeGreaterThanOrEqual(15);
  });

  it('reads its own write back through the session token, from a replica', async () => {
    const session = {};
    await router.write((m) => m.insert(Note, { id: 'ryw-1', body: 'hello' }), { session });
    expect(session).toEqual({ consistencyToken: expect.stringMatching(/^0-1-\d+$/) });
    const got = await router.read(
      async (m) => ({ note: await m.findOneBy(Note, { id: 'ryw-1' }), server: await serverId(m) }),
      {
        session,
      },
    );
    expect(got.note?.body).toBe('hello');
    expect(got.server).not.toBe(1);
  });

  it('reads the latest commit on the primary with readOnly, and leaves the token as it was', async () => {
    const session = {};
    await router.write((m) => m.insert(Note, { id: 'read-only-1', body: 'first' }), { session });
    const token = (session as { consistencyToken?: string }).consistencyToken;
    expect(token).toMatch(/^0-1-\d+$/);
    const got = await router.write(
      async (m) => ({
        note: await m.findOneBy(Note, { id: 'read-only-1' }),
        server: await serverId(m),
      }),
      { session, readOnly: true },
    );
    expect(got).toEqual({ note: expect.objectContaining({ body: 'first' }), server: 1 });
    expect(session).toEqual({ consistencyToken: token });
    // a fresh session: no write, no token
    const untouched = {};
    await router.transaction((m) => m.findOneBy(Note, { id: 'read-only-1' }), {
      session: untouched,
      readOnly: true,
    });
    expect(untouched).toEqual({});
  });

  it('rolls a failed transaction back', async () => {
    await expect(
      router.transaction(async (m) => {
        await m.insert(Note, { id: 'rolled-back', body: 'never' });
        throw new Error('business rule says no');
      }),
    ).rejects.toThrow('business rule says no');
    expect(await router.write((m) => m.findOneBy(Note, { id: 'rolled-back' }))).toBeNull();
  });

  it('runs a deadlock victim again from its start: both crossing transactions commit', async () => {
    await router.write((m) =>
      m.insert(Note, [
        { id: 'dl-a', body: '-' },
        { id: 'dl-b', body: '-' },
      ]),
    );
    const before = await metricValue('stayline_db_deadlock_retries_total', {
      primary: 'mariadb-1',
    });
    // each takes one row, waits until the other holds its own, then asks for the other's: a cycle
    const runs = new Map<string, number>();
    let holding = 0;
    let bothHold!: () => void;
    const crossed = new Promise<void>((r) => (bothHold = r));
    const cross = (first: string, second: string, body: string) =>
      router.transaction(async (m) => {
        const run = (runs.get(body) ?? 0) + 1;
        runs.set(body, run);
        await m.update(Note, { id: first }, { body });
        if (run === 1) {
          if (++holding === 2) bothHold();
          await crossed;
        }
        await m.update(Note, { id: second }, { body });
      });
    await Promise.all([cross('dl-a', 'dl-b', 'x'), cross('dl-b', 'dl-a', 'y')]);
    // InnoDB rolled one back (the victim) and the router ran it once more
    expect([...runs.values()].sort()).toEqual([1, 2]);
    const victim = [...runs].find(([, n]) => n === 2)?.[0];
    expect(await metricValue('stayline_db_deadlock_retries_total', { primary: 'mariadb-1' })).toBe(
      before + 1,
    );
    // the victim's second run committed last: both rows carry its value, nothing half-applied
    const rows = await router.write((m) => m.findBy(Note, { id: In(['dl-a', 'dl-b']) }));
    expect(rows.map((r) => r.body)).toEqual([victim, victim]);
  });

  it('stores injection strings literally (values are parameterised) and ignores a malicious token', async () => {
    const evil = ["Robert'); DROP TABLE note; --", '" OR 1=1 --', "\\'; SELECT SLEEP(5); --"];
    const session = {};
    for (const [i, body] of evil.entries())
      await router.write((m) => m.insert(Note, { id: `evil-${i}`, body, author: body }), {
        session,
      });
    for (const [i, body] of evil.entries()) {
      const found = await router.read((m) => m.findBy(Note, { body }), { session });
      expect(found.map((n) => [n.id, n.body, n.author])).toEqual([[`evil-${i}`, body, body]]);
    }
    const notes = await router.read((m) => m.count(Note), {
      session: { consistencyToken: "0-1-1'); DROP TABLE note; --" },
    });
    expect(notes).toBeGreaterThanOrEqual(evil.length);
  });

  it('replicates the migrated schema and reports healthy replicas', async () => {
    const { replicas } = router.status();
    expect(replicas.map((r) => r.state?.health)).toEqual([
      ReplicaHealth.Usable,
      ReplicaHealth.Usable,
    ]);
    for (const r of stack.mariadb.replicas) {
      const conn = await mysql.createConnection({
        host: r.host,
        port: r.port,
        ...stack.credentials.app,
        database: 'reservation',
      });
      await waitFor(`note table on ${r.name}`, async () => {
        const [rows] = await conn.query("SHOW TABLES LIKE 'note'");
        return (rows as unknown[]).length === 1;
      });
      await conn.end();
    }
  });

  it('as a Nest module: provides the router, reports readiness, closes the pools on shutdown', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [DatabaseModule.forRootAsync({ useFactory: () => stackRouterOptions(stack) })],
    }).compile();
    await moduleRef.init();
    const nested = moduleRef.get(ReplicaRouter);
    expect(await nested.read((m) => serverId(m))).not.toBe(1);
    expect((await healthRegistry.check('readiness')).checks['database']).toMatchObject({
      status: 'up',
      details: { epoch: 1, replicas: { 'mariadb-2': { health: 'usable' } } },
    });
    await moduleRef.close();
    expect((await healthRegistry.check('readiness')).checks['database']).toBeUndefined();
    await expect(nested.read((m) => serverId(m))).rejects.toThrow(/closed/);
  });
});
