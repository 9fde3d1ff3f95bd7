import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { QueryTimeoutError, RetryableWriteError, StaleTopologyError } from '../index';
import {
  binlogPosition,
  Cluster,
  metricLabelValues,
  noteIds,
  promote,
  repoint,
  startCluster,
  writeLoad,
} from '../testing/cluster';
import { serverId } from '../testing/notes';

jest.setTimeout(60_000);

describe('updateTopology under a write load (switchover, old primary turned zombie)', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ synchronize: true, writeTimeoutMs: 3_000 });
  });

  afterAll(() => cluster?.stop());

  it('refuses a topology whose epoch is not newer than the current one', async () => {
    const { stack, router } = cluster;
    const { primary, replicas } = stack.mariadb;
    await expect(router.updateTopology({ epoch: 1, primary, replicas })).rejects.toBeInstanceOf(
      StaleTopologyError,
    );
    await expect(
      router.updateTopology({ epoch: 0, primary: replicas[0], replicas: [] }),
    ).rejects.toThrow(/not newer/);
    expect(router.status().topology.epoch).toBe(1);
    expect(await router.write((m) => serverId(m))).toBe(1);
  });

  it('switches without a restart: no write lands on the old primary afterwards, none acknowledged is lost', async () => {
    const { stack, router } = cluster;
    const [m1, m2, m3] = await Promise.all(
      ['mariadb-1', 'mariadb-2', 'mariadb-3'].map(cluster.admin),
    );
    const [n1, n2, n3] = stack.mariadb.nodes;
    const load = writeLoad(router, 4, 'switch');
    await sleep(500);

    // the failover agent's steps, by hand: fence, let the successor catch up, promote, repoint, publish
    await m1.query('SET GLOBAL read_only = ON');
    await m2.query('SELECT MASTER_GTID_WAIT(?, 10)', [await binlogPosition(m1)]);
    await promote(m2);
    await repoint(m3, n2, stack);
    await router.updateTopology({ epoch: 2, primary: n2, replicas: [n3], fenced: [n1.name] });
    const switchedAt = performance.now();

    // a zombie: the old primary takes writes again; from now on only the router keeps them off it
    await m1.query('SET GLOBAL read_only = OFF');
    const zombieAt = await binlogPosition(m1);
    await sleep(1_500);
    const { acked, errors } = await load.stop();

    expect(await binlogPosition(m1)).toBe(zombieAt);
    const onNewPrimary = await noteIds(m2);
    expect(acked.filter((a) => !onNewPrimary.has(a.id))).toEqual([]);
    expect(acked.filter((a) => a.at > switchedAt).length).toBeGreaterThan(20);
    expect(errors.filter((e) => !(e instanceof RetryableWriteError))).toEqual([]);
    // writes cut at the switch fail at once, not when their deadline passes
    expect(errors.filter((e) => (e as Error).cause instanceof QueryTimeoutError)).toEqual([]);

    // the fenced node's pool is closed: no connection of the service's user is left on it
    await waitFor(
      'no app connections on the fenced node',
      async () => {
        const [rows] = await m1.query(
          'SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE USER = ?',
          [stack.credentials.app.user],
        );
        return Number((rows as Array<{ n: number }>)[0]?.n) === 0;
      },
      { timeoutMs: 3_000 },
    );
    expect(await router.write((m) => serverId(m))).toBe(2);
    expect(await router.read((m) => serverId(m))).toBe(3);

    // the promoted replica is the primary now: no replica series of it is left behind
    for (const metric of ['stayline_db_replica_lag_ms', 'stayline_db_replica_usable']) {
      expect(await metricLabelValues(metric, 'replica')).not.toContain(n2.name);
      expect(await metricLabelValues(metric, 'replica')).toContain(n3.name);
    }
  });
});
