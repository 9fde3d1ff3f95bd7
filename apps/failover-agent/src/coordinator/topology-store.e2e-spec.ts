/**
 * A new leader records its fencing token on the published topology at once
 * (real Redis + Sentinel): a deposed leader's late publish or intent is then
 * refused for its token, before it could reach the epoch compare-and-set.
 */
import { silentLogger } from '@stayline/coordination';
import { TopologyConflictError } from '@stayline/database';
import { Stack, startStack } from '@stayline/stack-kit';
import { TopologyStore } from './topology-store';

jest.setTimeout(60_000);

let stack: Stack;
let store: TopologyStore;

beforeAll(async () => {
  stack = await startStack({ mariadb: false, nginx: false });
  store = new TopologyStore(stack.redisTarget('agent'), silentLogger);
});
afterAll(async () => {
  await store?.close();
  await stack?.stop();
});

const node = (name: string, port: number) => ({ name, host: '127.0.0.1', port });

it('records a newer leader token on the topology unchanged; the old leader is refused', async () => {
  expect(await store.claim(3)).toBe(false); // nothing published yet: nothing to fence
  const topology = { epoch: 1, primary: node('mariadb-1', 1), replicas: [node('mariadb-2', 2)] };
  await store.publish(topology, { expectedEpoch: 0, token: 5, publisher: 'agent-a' });

  expect(await store.claim(4)).toBe(false); // older than the recorded one
  expect(await store.claim(8)).toBe(true); // agent-b elected with token 8
  const now = await store.current();
  expect(now?.token).toBe(8);
  expect(now?.topology).toEqual(topology); // the topology itself did not change

  // agent-a (token 5), deposed but not yet aware, tries to act: refused for its token
  const late = { ...topology, epoch: 2, primary: node('mariadb-2', 2), replicas: [] };
  const refused = await store
    .publish(late, { expectedEpoch: 1, token: 5, publisher: 'agent-a' })
    .catch((err: unknown) => err);
  expect(refused).toBeInstanceOf(TopologyConflictError);
  expect((refused as TopologyConflictError).reason).toBe('stale-token');
  const intent = {
    basedOn: 1,
    candidate: 'mariadb-2',
    from: 'mariadb-1',
    agent: 'agent-a',
    at: '',
  };
  expect(await store.setIntent({ ...intent, token: 5 })).toBe(false);
  expect(await store.setIntent({ ...intent, token: 8, agent: 'agent-b' })).toBe(true);
});
