/**
 * The topology in the coordinator (real Redis primary + replica + 3 Sentinels):
 * compare-and-set on the epoch and the fencing token, pushes in epoch order,
 * and a published topology that survives the Redis primary being SIGKILLed.
 */
import { sentinelMaster, Stack, startStack, waitFor } from '@stayline/stack-kit';
import { Topology } from './topology';
import { TopologyConflictError } from './topology-source';
import { RedisTopologySource } from './topology-source.redis';

jest.setTimeout(90_000);

const node = (n: number) => ({ name: `mariadb-${n}`, host: '127.0.0.1', port: 3400 + n });
const topology = (epoch: number, primary: number, replicas: number[], fenced: number[] = []) => ({
  epoch,
  primary: node(primary),
  replicas: replicas.map(node),
  fenced: fenced.map((n) => node(n).name),
});

let stack: Stack;
const sources: RedisTopologySource[] = [];
/**
 * A source on the test's own key (`key` of another source to share it): keys of no
 * role's, so it logs in as the operator (the agents' rights: redis-acl.e2e-spec.ts).
 */
const source = (key = `test:topology:${sources.length}`) => {
  const s = new RedisTopologySource({
    redis: stack.redisTarget('admin'),
    key,
    resyncMs: 500,
  });
  sources.push(s);
  return s;
};

beforeAll(async () => {
  stack = await startStack({ mariadb: false, nginx: false });
});
afterAll(async () => {
  await Promise.all(sources.map((s) => s.close()));
  await stack?.stop();
});

describe('RedisTopologySource', () => {
  it('replaces the topology only by compare-and-set on the epoch and a token not older than the last', async () => {
    const agent = source();
    expect(await agent.current()).toBeUndefined();
    const first = await agent.publish(topology(1, 1, [2, 3]), {
      expectedEpoch: 0,
      token: 5,
      publisher: 'agent-a',
    });
    expect(first).toEqual({ result: 'published', durable: true });
    const stored = await agent.current();
    expect(stored?.topology).toEqual(topology(1, 1, [2, 3]));
    expect(stored).toMatchObject({ token: 5, publishedBy: 'agent-a' });

    // someone based a change on an epoch that is gone
    await expect(
      agent.publish(topology(2, 2, [3], [1]), { expectedEpoch: 0, token: 5, publisher: 'agent-a' }),
    ).rejects.toMatchObject({ reason: 'stale-epoch', currentEpoch: 1 });
    // an epoch not newer than the stored one
    await expect(
      agent.publish(topology(1, 2, [3]), { expectedEpoch: 1, token: 5, publisher: 'agent-a' }),
    ).rejects.toBeInstanceOf(TopologyConflictError);
    // a newer leader (token 7) publishes; the deposed one (token 5) is refused from then on
    await agent.publish(topology(2, 2, [3], [1]), {
      expectedEpoch: 1,
      token: 7,
      publisher: 'agent-b',
    });
    await expect(
      agent.publish(topology(3, 3, [2], [1]), { expectedEpoch: 2, token: 5, publisher: 'agent-a' }),
    ).rejects.toMatchObject({ reason: 'stale-token', lastToken: 7 });
    // a retry of exactly the stored topology (its reply was lost) is not an error
    expect(
      await agent.publish(topology(2, 2, [3], [1]), {
        expectedEpoch: 1,
        token: 7,
        publisher: 'agent-b',
      }),
    ).toEqual({ result: 'unchanged', durable: true });
    expect((await agent.current())?.topology.epoch).toBe(2);
  });

  it('pushes newer topologies to watchers at once, in epoch order, and never an older one', async () => {
    const agent = source('test:topology:push');
    await agent.publish(topology(1, 1, [2, 3]), { expectedEpoch: 0, token: 1, publisher: 'a' });
    const follower = new RedisTopologySource({
      redis: stack.redisTarget('admin'),
      key: 'test:topology:push',
      resyncMs: 60_000, // no periodic reread: what arrives is pushed
    });
    sources.push(follower);
    const seen: Topology[] = [];
    const stop = await follower.watch((t) => seen.push(t));
    expect(seen.map((t) => t.epoch)).toEqual([1]); // the current one, before watch() resolves

    const t0 = performance.now();
    await agent.publish(topology(2, 2, [3], [1]), { expectedEpoch: 1, token: 1, publisher: 'a' });
    await waitFor('the push', async () => seen.length === 2, { timeoutMs: 2_000, intervalMs: 1 });
    expect(performance.now() - t0).toBeLessThan(500);
    expect(seen[1]).toEqual(topology(2, 2, [3], [1]));
    await stop();
  });

  it('keeps an acknowledged topology and keeps pushing when the Redis primary is SIGKILLed', async () => {
    const agent = source('test:topology:failover');
    await agent.publish(topology(1, 1, [2, 3]), { expectedEpoch: 0, token: 3, publisher: 'a' });
    const follower = source('test:topology:failover');
    const seen: number[] = [];
    await follower.watch((t) => seen.push(t.epoch));

    const old = stack.redis.primary;
    stack.kill(old.name, 'SIGKILL');
    await waitFor(
      'Sentinel to promote the replica',
      async () => (await sentinelMaster(stack.redis.sentinels[0])).port !== old.port,
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    expect((await agent.current())?.topology.epoch).toBe(1); // WAIT 1: the replica had it

    // the new primary has no replica until the old one is back: the publish lands but is not durable
    const lonely = await agent.publish(topology(2, 2, [3], [1]), {
      expectedEpoch: 1,
      token: 3,
      publisher: 'a',
    });
    expect(lonely).toEqual({ result: 'published', durable: false });
    await stack.restart(old.name); // back as a replica of the new primary
    await waitFor(
      'a durable re-publish',
      async () =>
        (
          await agent.publish(topology(2, 2, [3], [1]), {
            expectedEpoch: 1,
            token: 3,
            publisher: 'a',
          })
        ).durable,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    await waitFor('the follower to have epoch 2', async () => seen.includes(2), {
      timeoutMs: 5_000,
    });
    expect(seen).toEqual([1, 2]);
  });
});
