import { Stack, waitFor } from '@stayline/stack-kit';
import type { Connection } from 'mysql2/promise';
import { ReplicaHealth, ReplicaRouter } from '../index';
import {
  Cluster,
  metricValue,
  setReplicaDelay,
  startCluster,
  waitForHealth,
} from '../testing/cluster';
import { Note, serverId, stackRouterOptions } from '../testing/notes';

jest.setTimeout(60_000);

describe('replication lag (SQL thread stopped, MASTER_DELAY)', () => {
  let cluster: Cluster;
  let stack: Stack;
  let router: ReplicaRouter;
  let r2: Connection;
  let r3: Connection;
  let seq = 0;
  const readServers = async (n: number, r = router) => {
    const served: number[] = [];
    for (let i = 0; i < n; i++) served.push(await r.read((m) => serverId(m)));
    return new Set(served);
  };
  const writeNote = (r = router, session = {}) =>
    r.write((m) => m.insert(Note, { id: `n-${++seq}`, body: `body ${seq}` }), { session });

  beforeAll(async () => {
    cluster = await startCluster({ synchronize: true });
    ({ stack, router } = cluster);
    [r2, r3] = await Promise.all([cluster.admin('mariadb-2'), cluster.admin('mariadb-3')]);
    await writeNote();
  });

  afterAll(() => cluster?.stop());

  it('skips a replica whose SQL thread is stopped, and takes it back once it runs again', async () => {
    await r2.query('STOP SLAVE SQL_THREAD');
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Stopped, 3_000);
    expect(await readServers(30)).toEqual(new Set([3]));
    await r2.query('START SLAVE SQL_THREAD');
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Usable, 3_000);
    expect(await readServers(30)).toEqual(new Set([2, 3]));
  });

  it('measures lag below a second from GTIDs and skips a replica delayed past the bound', async () => {
    await setReplicaDelay(r3, 2);
    const lags: number[] = [];
    const until = Date.now() + 8_000;
    while (
      router.status().replicas[1]?.state?.health !== ReplicaHealth.Lagging &&
      Date.now() < until
    ) {
      await writeNote();
      const s = router.status().replicas[1]?.state;
      if (s && 'lagMs' in s) lags.push(s.lagMs);
      await new Promise((r) => setTimeout(r, 40));
    }
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Lagging, 1_000);
    // on the way up it was seen between 0 and 1 s: finer than Seconds_Behind_Master's whole seconds
    expect(lags.some((l) => l > 0 && l < 1000)).toBe(true);
    // the gauge follows at the end of the probe round that saw it
    await waitFor(
      'the lag gauge above 1 s',
      async () => {
        return (await metricValue('stayline_db_replica_lag_ms', { replica: 'mariadb-3' })) > 1000;
      },
      { timeoutMs: 1_000, intervalMs: 20 },
    );
    expect(await readServers(30)).toEqual(new Set([2]));
    await setReplicaDelay(r3, 0);
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Usable, 5_000);
  });

  it('reads from the primary, without an error, while every replica lags; read-your-writes still holds', async () => {
    await Promise.all([r2.query('STOP SLAVE SQL_THREAD'), r3.query('STOP SLAVE SQL_THREAD')]);
    const session = {};
    await writeNote(router, session);
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Stopped, 3_000);
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Stopped, 3_000);
    const before = await metricValue('stayline_db_primary_fallbacks_total', {
      reason: 'no-usable-replica',
    });
    expect(await readServers(20)).toEqual(new Set([1]));
    expect(
      await metricValue('stayline_db_primary_fallbacks_total', { reason: 'no-usable-replica' }),
    ).toBe(before + 20);
    expect(
      await router.read((m) => m.findOneBy(Note, { id: `n-${seq}` }), { session }),
    ).toMatchObject({ body: `body ${seq}` });
    await Promise.all([r2.query('START SLAVE SQL_THREAD'), r3.query('START SLAVE SQL_THREAD')]);
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Usable, 3_000);
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Usable, 3_000);
  });

  it('with replicas behind the token but within the bound: the token read waits, then takes the primary or the caught-up replica', async () => {
    // a lax bound keeps the delayed replicas in rotation: only the token can protect the read
    const lax = await ReplicaRouter.create(stackRouterOptions(stack, { maxLagMs: 60_000 }));
    const patient = await ReplicaRouter.create(
      stackRouterOptions(stack, {
        maxLagMs: 60_000,
        gtidWaitTimeoutMs: 8_000,
        readTimeoutMs: 10_000,
      }),
    );
    try {
      await Promise.all([setReplicaDelay(r2, 2), setReplicaDelay(r3, 2)]);
      // STOP SLAVE / START SLAVE may have been seen: wait until both are back in rotation
      for (const r of [lax, patient]) {
        await waitForHealth(r, 'mariadb-2', ReplicaHealth.Usable, 3_000);
        await waitForHealth(r, 'mariadb-3', ReplicaHealth.Usable, 3_000);
      }
      const session = {};
      await writeNote(lax, session);
      const id = `n-${seq}`;
      const find = (r: ReplicaRouter, s: object) =>
        r.read(
          async (m) => ({ note: await m.findOneBy(Note, { id }), server: await serverId(m) }),
          { session: s },
        );

      const stale = await find(lax, {});
      expect(stale.note).toBeNull(); // the anomaly the token exists for
      expect(stale.server).not.toBe(1);

      const fallback = await find(lax, session);
      expect(fallback).toMatchObject({ note: { id }, server: 1 });

      const t0 = performance.now();
      const waited = await find(patient, session);
      expect(waited.note?.id).toBe(id);
      expect([2, 3]).toContain(waited.server);
      expect(performance.now() - t0).toBeLessThan(8_000);
    } finally {
      await Promise.all([setReplicaDelay(r2, 0), setReplicaDelay(r3, 0)]);
      await Promise.all([lax.close(), patient.close()]);
    }
  });
});
