/**
 * The datastore agent: the agents register MariaDB and Redis nodes in
 * discovery with their roles; the leader agent SIGKILLed does not make any of
 * them look dead. A replica added at run time (built from a replica) is
 * registered and published, and a router that follows the topology reads from
 * it without a restart.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { RedisRegistry, ServiceInstance, InstanceChange } from '@stayline/discovery';
import { addReplicaToCluster, leaderAgent, waitFor } from '@stayline/stack-kit';
import { waitForAgent } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const cluster = useAgentCluster({ writers: 2, auth: true });
let registry: RedisRegistry | undefined;

beforeAll(() => {
  const { stack } = cluster();
  registry = new RedisRegistry({
    redis: stack.redisTarget('service'),
  });
});
afterAll(() => registry?.close());

const roles = (list: readonly ServiceInstance[]) =>
  Object.fromEntries(list.map((i) => [i.id, i.role]));

it('registers the datastores with their roles and keeps them while an agent dies', async () => {
  const r = registry as RedisRegistry;
  const { stack } = cluster();
  await waitFor(
    'every datastore registered',
    async () => {
      const [m, d] = await Promise.all([r.list('mariadb'), r.list('redis')]);
      return m.length === 3 && d.length === 2;
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  );
  expect(roles(await r.list('mariadb'))).toEqual({
    'mariadb-1': 'primary',
    'mariadb-2': 'replica',
    'mariadb-3': 'replica',
  });
  expect(roles(await r.list('redis'))).toEqual({ 'redis-1': 'primary', 'redis-2': 'replica' });
  const mariadb = await r.list('mariadb');
  expect(
    mariadb.every((i) => i.kind === 'datastore' && i.tcpPort === stack.component(i.id).port),
  ).toBe(true);

  const changes: InstanceChange[] = [];
  const record = (_: readonly ServiceInstance[], c: InstanceChange) => changes.push(c);
  const stops = await Promise.all([r.watch('mariadb', record), r.watch('redis', record)]);
  const leader = await leaderAgent(stack);
  stack.kill(leader?.name as string, 'SIGKILL');
  await sleep(5_000); // past the 3 s lease of the entries the dead agent renewed
  expect(changes.filter((c) => c.kind === 'removed')).toEqual([]);
  expect((await r.list('mariadb')).length).toBe(3);
  expect((await r.list('redis')).length).toBe(2);
  stops.forEach((stop) => stop());
});

it('adds a replica built from a replica, registers it, and spreads reads to it without a restart', async () => {
  const r = registry as RedisRegistry;
  const { stack, stream: w } = cluster();
  const survivor = (await leaderAgent(stack))?.name;
  expect(survivor).toBeDefined();
  const t0 = performance.now();
  const { node, topology } = await addReplicaToCluster(stack);
  const addMs = Math.round(performance.now() - t0);
  expect(node.name).toBe('mariadb-4');
  expect(topology.replicas.map((x) => x.name)).toContain('mariadb-4');
  await waitFor(
    'mariadb-4 registered as a replica',
    async () => roles(await r.list('mariadb'))['mariadb-4'] === 'replica',
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  );
  await waitForAgent(stack, survivor as string, 'the new epoch', (h) => h.epoch === topology.epoch);

  // the write stream's router (a service's, in effect) follows: reads reach the new node
  await waitFor('the router to switch', async () => w.epoch === topology.epoch, {
    timeoutMs: 5_000,
  });
  const servers = new Set<number>();
  await waitFor(
    'a read served by mariadb-4',
    async () => {
      servers.add(
        await w.router.read(async (m) => Number((await m.query('SELECT @@server_id AS id'))[0].id)),
      );
      return servers.has(4);
    },
    { timeoutMs: 15_000, intervalMs: 10 },
  );
  await waitFor(
    'every acknowledged write on mariadb-4',
    async () => (await w.missingOn(stack, 'mariadb-4')).length === 0,
    {
      timeoutMs: 10_000,
      intervalMs: 100,
    },
  );
  expect(w.errors).toEqual([]);
  console.log(
    `add-replica: mariadb-4 built, registered and published in ${addMs} ms; reads served by ${[...servers].sort().join(', ')}`,
  );
});
