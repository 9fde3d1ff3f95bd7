/**
 * Fault: the Redis primary SIGKILLed, twice. Sentinel promotes the replica;
 * clients connected through Sentinel follow without a restart; no write a
 * replica acknowledged is lost; the MariaDB topology, the datastore entries
 * and the feature flags (written with WAIT) survive; the killed node comes
 * back as a replica of the new primary (never an empty primary), so the second
 * failover has a standby again. The MariaDB write stream never notices.
 */
import { FeatureFlags, flag, RedisCoordinationBackend } from '@stayline/coordination';
import { RedisRegistry } from '@stayline/discovery';
import { publishedTopology, replicationInfo, waitFor } from '@stayline/stack-kit';
import { RedisRound, redisRound, redisSettled, RedisWriteStream } from '@stayline/fault-kit';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const cluster = useAgentCluster({ writers: 2 });
let redisStream: RedisWriteStream | undefined;
const closers: Array<() => Promise<void>> = [];

beforeAll(() => {
  redisStream = RedisWriteStream.start(cluster().stack);
});
afterAll(async () => {
  for (const c of closers) await c().catch(() => undefined);
  await redisStream?.stop();
});

it('fails Redis over through Sentinel twice with nothing acknowledged lost', async () => {
  const { stack, stream: w } = cluster();
  const target = stack.redisTarget('service');
  const coordination = new RedisCoordinationBackend({ redis: target });
  closers.push(() => coordination.close());
  const flags = new FeatureFlags(coordination.flagStore());
  await flags.start();
  closers.push(() => flags.stop());
  await flags.set('failover.demo', flag.percentage(25)); // acknowledged once a replica has it (WAIT)
  const registry = new RedisRegistry({ redis: target });
  closers.push(() => registry.close());
  await waitFor(
    'the datastores registered',
    async () => (await registry.list('mariadb')).length === 3,
    {
      timeoutMs: 15_000,
    },
  );
  const topology = await publishedTopology(stack);
  const rs = redisStream as RedisWriteStream;
  const table: RedisRound[] = [];

  let lastKillAt = -Infinity;
  for (let i = 0; i < 2; i++) {
    if (i > 0) await redisSettled(stack, lastKillAt);
    const { killedAt, ...round } = await redisRound(stack, rs);
    lastKillAt = killedAt;
    table.push(round);
    expect(round.lost).toBe(0);
    // the killed node came back as a replica of the new primary, with the data, not empty
    const old = stack.component(round.killed);
    const info = await replicationInfo(old);
    expect(info.role).toBe('slave');
    expect(Number(info.master_port)).toBe(stack.component(round.promoted).port);
    await waitFor(
      'an acknowledged write again',
      async () => rs.writes.slice(-5).some((x) => x.durable),
      {
        timeoutMs: 10_000,
      },
    );
    expect(await rs.lostOn(old)).toEqual([]);
    // the agents' datastore entries follow Sentinel's roles
    await waitFor(
      'redis roles in discovery',
      async () => {
        const roles = Object.fromEntries((await registry.list('redis')).map((x) => [x.id, x.role]));
        return roles[round.promoted] === 'primary' && roles[round.killed] === 'replica';
      },
      // eventual, not a timing figure: generous for a loaded CI machine
      { timeoutMs: 30_000, intervalMs: 100 },
    );
  }

  // everything kept in the coordinator survived both failovers
  expect(await publishedTopology(stack)).toEqual(topology);
  expect((await registry.list('mariadb')).length).toBe(3);
  const reader = new FeatureFlags(coordination.flagStore());
  await reader.start();
  closers.push(() => reader.stop());
  expect(reader.get('failover.demo')).toEqual(flag.percentage(25));
  // and the MariaDB writers, whose routers follow the topology over the same Redis, never noticed
  expect(w.errors).toEqual([]);
  expect(w.epoch).toBe(topology?.epoch);
  console.log(`Redis primary SIGKILLed:\n${JSON.stringify(table, null, 1)}`);
});
