import { setTimeout as sleep } from 'node:timers/promises';
import { Stack } from '@stayline/stack-kit';
import { ReplicaHealth, ReplicaRouter } from '../index';
import { Cluster, readLoad, startCluster, waitForHealth } from '../testing/cluster';

jest.setTimeout(60_000);

const READ_TIMEOUT_MS = 1_000;
const PROBE_TIMEOUT_MS = 400;

describe('a replica killed (SIGKILL) or frozen (SIGSTOP) under a read load', () => {
  let cluster: Cluster;
  let stack: Stack;
  let router: ReplicaRouter;

  beforeAll(async () => {
    cluster = await startCluster({
      readTimeoutMs: READ_TIMEOUT_MS,
      probeTimeoutMs: PROBE_TIMEOUT_MS,
      connectTimeoutMs: 500,
    });
    ({ stack, router } = cluster);
  });

  afterAll(() => cluster?.stop());

  it('SIGKILL: no read fails, none waits for a timeout, and the replica rejoins once restarted', async () => {
    const load = readLoad(router, 6);
    await sleep(300);
    const killedAt = performance.now();
    stack.kill('mariadb-2', 'SIGKILL');
    await sleep(1_000);
    const restartAt = performance.now();
    await stack.restart('mariadb-2', { asReplicaOf: 'mariadb-1' });
    await waitForHealth(router, 'mariadb-2', ReplicaHealth.Usable, 10_000);
    const backAt = performance.now();
    await sleep(300);
    const { samples, failures } = await load.stop();

    expect(failures).toEqual([]);
    // a killed node refuses at once: retried on the other replica, no timeout paid
    expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(READ_TIMEOUT_MS);
    const whileDown = samples.filter((s) => s.at > killedAt + 50 && s.at < restartAt);
    expect(whileDown.length).toBeGreaterThan(10);
    expect(new Set(whileDown.map((s) => s.server))).toEqual(new Set([3]));
    expect(samples.filter((s) => s.at > backAt).some((s) => s.server === 2)).toBe(true);
  });

  it('SIGSTOP: no read fails, only reads caught by the freeze pay one timeout, and the replica rejoins after SIGCONT', async () => {
    const load = readLoad(router, 6);
    await sleep(300);
    const frozenAt = performance.now();
    stack.kill('mariadb-3', 'SIGSTOP');
    try {
      await waitForHealth(router, 'mariadb-3', ReplicaHealth.Unreachable, 3_000);
      await sleep(1_500);
    } finally {
      stack.kill('mariadb-3', 'SIGCONT');
    }
    const thawedAt = performance.now();
    await waitForHealth(router, 'mariadb-3', ReplicaHealth.Usable, 10_000);
    const backAt = performance.now();
    await sleep(300);
    const { samples, failures } = await load.stop();

    expect(failures).toEqual([]);
    const slow = samples.filter((s) => s.ms > READ_TIMEOUT_MS / 2);
    expect(slow.length).toBeGreaterThan(0); // the reads on it when it froze
    expect(slow.length).toBeLessThanOrEqual(6 * 2);
    for (const s of slow) {
      expect(s.ms).toBeLessThan(READ_TIMEOUT_MS + 1_500); // one timeout, then another node
      expect(s.at).toBeLessThan(frozenAt + READ_TIMEOUT_MS + PROBE_TIMEOUT_MS * 2); // until the first timeout or probe
    }
    const whileFrozen = samples.filter(
      (s) => s.at > frozenAt + READ_TIMEOUT_MS + PROBE_TIMEOUT_MS && s.at < thawedAt,
    );
    // reads went on meanwhile (how many depends on the host's load: a handful is enough)
    expect(whileFrozen.length).toBeGreaterThan(10);
    expect(new Set(whileFrozen.map((s) => s.server))).toEqual(new Set([2]));
    expect(samples.filter((s) => s.at > backAt).some((s) => s.server === 3)).toBe(true);
  });
});
