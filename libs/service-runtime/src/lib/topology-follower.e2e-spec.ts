/**
 * A Nest app's ReplicaRouter follows the topology published in the coordinator
 * (real MariaDB primary + 2 replicas, Redis + Sentinel): a promotion done by
 * hand here, as the failover agent would do it, moves the app's writes to the
 * new primary with no restart.
 */
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { DatabaseModule, RedisTopologySource, ReplicaRouter } from '@stayline/database';
import { adminConnection, Stack, startStack, waitFor } from '@stayline/stack-kit';
import { pino } from 'pino';
import { startupTopology } from './run-service';
import { TopologyFollower, TopologyFollowerModule } from './topology-follower';

jest.setTimeout(120_000);

let stack: Stack;
let publisher: RedisTopologySource;

beforeAll(async () => {
  stack = await startStack({ replicas: 2, nginx: false });
  publisher = new RedisTopologySource({ redis: sentinels() });
});
afterAll(async () => {
  await publisher?.close();
  await stack?.stop();
});

function sentinels() {
  return stack.redisTarget('agent');
}

async function sql(name: string, ...statements: string[]): Promise<void> {
  const node = stack.mariadb.nodes.find((n) => n.name === name);
  if (!node) throw new Error(name);
  const conn = await adminConnection(node, stack.credentials);
  try {
    for (const s of statements) await conn.query(s);
  } finally {
    await conn.end();
  }
}

it('switches the router to a newly published primary without a restart', async () => {
  const [m1, m2, m3] = stack.mariadb.nodes;
  await publisher.publish(
    { epoch: 1, primary: m1, replicas: [m2, m3] },
    { expectedEpoch: 0, token: 1, publisher: 'test' },
  );

  @Module({
    imports: [
      DatabaseModule.forRootAsync({
        useFactory: () => ({
          database: 'reservation',
          ...stack.credentials.app,
          topology: { epoch: 0, primary: m1, replicas: [m2, m3] },
          logger: pino({ level: 'silent' }),
        }),
      }),
      TopologyFollowerModule.forRoot({ redis: sentinels(), resyncMs: 60_000 }),
    ],
  })
  class AppModule {}
  const app = await Test.createTestingModule({ imports: [AppModule] }).compile();
  await app.init();
  try {
    const router = app.get(ReplicaRouter);
    const serverOfWrite = () =>
      router.write(async (m) => Number((await m.query('SELECT @@server_id AS id'))[0].id));
    expect(router.status().topology.epoch).toBe(1); // the published one, applied during init
    expect(app.get(TopologyFollower).epoch).toBe(1);
    expect(await serverOfWrite()).toBe(1);
    await router.write((m) =>
      m.query('CREATE TABLE follow_probe (id INT PRIMARY KEY, at VARCHAR(32))'),
    );

    // promote mariadb-2 by hand, as the agent would: fence, promote, repoint, semi-sync, open
    await sql('mariadb-1', 'SET GLOBAL read_only = ON');
    await sql('mariadb-2', 'STOP SLAVE', 'RESET SLAVE ALL');
    const { user, password } = stack.credentials.replication;
    await sql(
      'mariadb-3',
      'STOP SLAVE',
      `CHANGE MASTER TO MASTER_HOST = '${m2.host}', MASTER_PORT = ${m2.port}, MASTER_USER = '${user}', MASTER_PASSWORD = '${password}', MASTER_USE_GTID = slave_pos`,
      'START SLAVE',
    );
    await sql(
      'mariadb-2',
      'SET GLOBAL rpl_semi_sync_master_enabled = ON',
      'SET GLOBAL read_only = OFF',
    );
    const published = performance.now();
    await publisher.publish(
      { epoch: 2, primary: m2, replicas: [m3], fenced: [m1.name] },
      { expectedEpoch: 1, token: 1, publisher: 'test' },
    );
    await waitFor('the router to switch', async () => router.status().topology.epoch === 2, {
      timeoutMs: 5_000,
      intervalMs: 5,
    });
    const switchMs = performance.now() - published;
    expect(await serverOfWrite()).toBe(2);
    await router.write((m) => m.query("INSERT INTO follow_probe VALUES (1, 'after the switch')"));
    expect(switchMs).toBeLessThan(1_000);
  } finally {
    await app.close();
  }
});

it('a service that starts after a failover migrates on the published primary, not the one in its environment', async () => {
  const [m1, m2, m3] = stack.mariadb.nodes;
  const published = await publisher.current();
  expect(published).toBeDefined();
  const config = {
    INSTANCE_ID: 'late-1',
    HOST: '127.0.0.1',
    HTTP_PORT: 1,
    TCP_PORT: 1,
    DB_NAME: 'reservation',
    DB_USER: 'stayline',
    DB_PASSWORD: 'x',
    DB_PRIMARY: m1,
    DB_REPLICAS: [m2, m3],
  };
  // the late service's own settings: the Sentinels and its Redis logins
  const redisSettings = { REDIS_SENTINELS: sentinels().sentinels, ...stack.redisEnv('service') };
  expect(await startupTopology({ ...config, ...redisSettings })).toEqual(published?.topology);
  // without its logins, Redis refuses it (NOAUTH): the environment's topology, as unreachable
  expect(
    await startupTopology({ ...config, REDIS_SENTINELS: sentinels().sentinels }),
  ).toMatchObject({ epoch: 0, primary: m1 });
  // no coordinator configured, or none reachable: the environment's topology
  expect(await startupTopology(config)).toMatchObject({ epoch: 0, primary: m1 });
  const unreachable = await startupTopology({
    ...config,
    REDIS_SENTINELS: [{ host: '127.0.0.1', port: 1 }],
  });
  expect(unreachable).toMatchObject({ epoch: 0, primary: m1 });
});
