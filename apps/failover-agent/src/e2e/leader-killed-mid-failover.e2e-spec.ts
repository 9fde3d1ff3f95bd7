/**
 * Fault: the leader agent SIGKILLed in the middle of a failover, between the
 * promotion and the publication (a pause point holds it there, every run).
 * The other agent must take over and finish that same failover: one
 * promotion for one failure, the intended candidate, one new epoch.
 */

import { waitForAgent, waitForEpoch, writableNodes } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

// the first agent starts alone, so it leads; only it pauses
const cluster = useAgentCluster({
  agents: {
    env: (i): Record<string, string> =>
      i === 0 ? { FAILOVER_PAUSE_POINTS: 'after-promote', FAILOVER_PAUSE_MS: '120000' } : {},
  },
});

it('lets the other agent finish the failover the killed leader started, with no second promotion', async () => {
  const { stack, stream: w } = cluster();
  await waitForAgent(stack, 'failover-agent-1', 'leading', (h) => h.role === 'leader');
  const old = stack.mariadb.primary.name;
  await w.resumedAfter(performance.now());
  const killedAt = performance.now();
  stack.kill(old, 'SIGKILL');

  await waitForAgent(
    stack,
    'failover-agent-1',
    'paused between promotion and publication',
    (h) => h.paused?.point === 'after-promote',
  );
  const promoted = await writableNodes(stack);
  expect(promoted).toHaveLength(1); // the candidate, opened, but not yet published
  const leaderKilledAt = performance.now();
  stack.kill('failover-agent-1', 'SIGKILL');

  const after = await waitForEpoch(stack, 2, 60_000);
  const takeoverMs = Math.round(performance.now() - leaderKilledAt);
  expect(after.epoch).toBe(2); // one new epoch...
  expect(after.primary.name).toBe(promoted[0]); // ...for the candidate the first leader chose
  expect(after.fenced).toEqual([old]);
  const successor = await waitForAgent(stack, 'failover-agent-2', 'its report', (h) =>
    Boolean(h.lastFailover),
  );
  expect(successor.role).toBe('leader');
  expect(successor.lastFailover).toMatchObject({ resumed: true, to: promoted[0], epoch: 2 });
  expect(await writableNodes(stack)).toEqual(promoted); // never two writable nodes

  const newId = Number(stack.component(after.primary.name).meta?.serverId);
  const first = await w.resumedAfter(killedAt, 60_000, newId);
  for (const node of [
    after.primary.name,
    ...after.replicas.map((r) => r.name).filter((n) => n !== old),
  ])
    expect(await w.missingOn(stack, node)).toEqual([]);
  expect(w.errors).toEqual([]);
  console.log(
    `leader killed mid-failover: takeover and publication ${takeoverMs} ms after the kill, writes back ${Math.round(first.ackedAt - killedAt)} ms after the primary died`,
  );
});
