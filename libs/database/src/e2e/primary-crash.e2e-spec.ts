import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection } from 'mysql2/promise';
import { ReplicaHealth, RetryableWriteError } from '../index';
import {
  Cluster,
  metricValue,
  noteIds,
  promote,
  readLoad,
  repoint,
  startCluster,
  waitForHealth,
  writeLoad,
} from '../testing/cluster';
import { serverId } from '../testing/notes';

jest.setTimeout(60_000);

/** A replica's received (IO) position once its SQL thread applied all of it. */
async function drainRelayLog(conn: Connection): Promise<string> {
  const [rows] = await conn.query('SHOW SLAVE STATUS');
  const io = String((rows as Array<{ Gtid_IO_Pos: string }>)[0]?.Gtid_IO_Pos ?? '');
  await conn.query('SELECT MASTER_GTID_WAIT(?, 10)', [io]);
  return io;
}

async function staleReads(): Promise<number> {
  const labels = ['mariadb-2', 'mariadb-3'].map((replica) => ({ replica }));
  const values = await Promise.all(
    labels.map((l) => metricValue('stayline_db_stale_reads_total', l)),
  );
  return values.reduce((a, b) => a + b, 0);
}

function seqOf(gtid: string): number {
  return Math.max(0, ...gtid.split(',').map((g) => Number(g.split('-')[2] ?? 0)));
}

describe('the primary killed (SIGKILL) under a write load', () => {
  let cluster: Cluster;

  beforeAll(async () => {
    cluster = await startCluster({ synchronize: true, writeTimeoutMs: 3_000 });
  });

  afterAll(() => cluster?.stop());

  it('fails in-flight writes with a retryable error, keeps reads going, and loses no acknowledged write', async () => {
    const { stack, router } = cluster;
    const [m2, m3] = await Promise.all([cluster.admin('mariadb-2'), cluster.admin('mariadb-3')]);
    const writes = writeLoad(router, 4, 'crash');
    const reads = readLoad(router, 2);
    await sleep(500);
    stack.kill('mariadb-1', 'SIGKILL');
    await sleep(500);

    // promote the replica that received the most (semi-sync AFTER_SYNC: every acknowledged write reached one)
    const [p2, p3] = await Promise.all([drainRelayLog(m2), drainRelayLog(m3)]);
    // promotion stops replication on both replicas: with the primary dead, reads must still find one
    await Promise.all([m2.query('STOP SLAVE'), m3.query('STOP SLAVE')]);
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Stopped, 3_000);
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Stopped, 3_000);
    const staleBefore = await staleReads();
    await sleep(300);
    expect(await staleReads()).toBeGreaterThan(staleBefore);
    const [winner, other] = seqOf(p2) >= seqOf(p3) ? [m2, m3] : [m3, m2];
    const [, n2, n3] = stack.mariadb.nodes;
    const [next, rest] = winner === m2 ? [n2, n3] : [n3, n2];
    await promote(winner);
    await repoint(other, next, stack);
    await router.updateTopology({
      epoch: 2,
      primary: next,
      replicas: [rest],
      fenced: ['mariadb-1'],
    });
    const switchedAt = performance.now();
    await sleep(1_000);
    const { acked, errors } = await writes.stop();
    const { failures } = await reads.stop();

    expect(errors.length).toBeGreaterThan(0); // the crash was felt...
    for (const e of errors) expect(e).toBeInstanceOf(RetryableWriteError); // ...only as retryable errors
    expect(failures).toEqual([]); // replicas served every read meanwhile, in range or not
    const onNewPrimary = await noteIds(winner);
    expect(acked.filter((a) => !onNewPrimary.has(a.id))).toEqual([]);
    expect(acked.filter((a) => a.at > switchedAt).length).toBeGreaterThan(20);
    expect(await router.write((m) => serverId(m))).toBe(winner === m2 ? 2 : 3);
  });
});
