import fs from 'node:fs';
import { waitFor } from './wait';
import { ComponentStatus } from './status';
import { Stack, startStack } from './stack';

jest.setTimeout(90_000);

const etcdOf = async (stack: Stack): Promise<ComponentStatus[]> =>
  (await stack.status()).components.filter((c) => c.kind === 'etcd');

describe('launcher: the 3-member etcd cluster', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ mariadb: false, redis: false, nginx: false, etcd: true });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('boots three members with one leader, their data on tmpfs, and lists them in status', async () => {
    const members = await etcdOf(stack);
    expect(members.map((m) => m.name)).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
    expect(members.every((m) => m.healthy)).toBe(true);
    expect(members.filter((m) => m.role === 'leader')).toHaveLength(1);
    expect(members.filter((m) => m.role === 'follower')).toHaveLength(2);
    expect(new Set(members.map((m) => m.leader)).size).toBe(1);
    expect(stack.etcd.endpoints).toHaveLength(3);
    for (const c of stack.components.filter((c) => c.kind === 'etcd'))
      expect(String(c.meta?.dataDir)).toMatch(/^\/dev\/shm\//);
  });

  it('elects a new leader when the leader is killed, and reports the dead member down', async () => {
    const leader = (await etcdOf(stack)).find((m) => m.role === 'leader') as ComponentStatus;
    stack.kill(leader.name, 'SIGKILL');
    await waitFor('a new etcd leader', async () => {
      const ms = await etcdOf(stack);
      return ms.some((m) => m.role === 'leader' && m.name !== leader.name && m.healthy);
    });
    const dead = (await etcdOf(stack)).find((m) => m.name === leader.name);
    expect(dead?.healthy).toBe(false);
    await stack.restart(leader.name);
    await waitFor('the member back', async () => (await etcdOf(stack)).every((m) => m.healthy));
  });

  it('removes the tmpfs data on stop', async () => {
    const dirs = stack.components
      .filter((c) => c.kind === 'etcd')
      .map((c) => String(c.meta?.dataDir));
    await stack.stop();
    expect(dirs.filter((d) => fs.existsSync(d))).toEqual([]);
  });
});
