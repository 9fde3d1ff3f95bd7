/**
 * A planned switchover through the leader's admin route, under writes: zero
 * lost writes, writes paused for the switch only, the old primary a replica
 * of the new one. The route needs an operator's token (scope `admin`); a
 * follower names the leader.
 */
import type { FailoverReport } from '@stayline/contracts';
import { agentAdmin, waitFor } from '@stayline/stack-kit';
import { replicating, waitForAgent, waitForEpoch, writableNodes } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const cluster = useAgentCluster({ auth: true });

it('switches the primary on request with no write lost and writes paused only for the switch', async () => {
  const { stack, stream: w } = cluster();
  const leader =
    (await waitForAgent(stack, 'failover-agent-1', 'a role', (h) => Boolean(h.role))).role ===
    'leader'
      ? 'failover-agent-1'
      : 'failover-agent-2';
  const follower = leader === 'failover-agent-1' ? 'failover-agent-2' : 'failover-agent-1';

  const notAToken = await agentAdmin(stack, leader, 'switchover', {}, 'wrong-token');
  expect(notAToken.status).toBe(401);
  const onFollower = await agentAdmin(stack, follower, 'switchover', { target: 'mariadb-3' });
  expect(onFollower.status).toBe(409);
  expect(onFollower.body).toMatchObject({
    error: 'not_leader',
    message: expect.stringContaining(leader),
  });
  const unknown = await agentAdmin(stack, leader, 'switchover', { target: 'mariadb-9' });
  expect(unknown.status).toBe(400);

  await w.resumedAfter(performance.now());
  const requestedAt = performance.now();
  const res = await agentAdmin(stack, leader, 'switchover', { target: 'mariadb-3' });
  expect(res.status).toBe(200);
  const report = res.body as FailoverReport;
  expect(report).toMatchObject({
    kind: 'switchover',
    from: 'mariadb-1',
    to: 'mariadb-3',
    epoch: 2,
  });

  const after = await waitForEpoch(stack, 2);
  expect(after.primary.name).toBe('mariadb-3');
  expect(after.replicas.map((r) => r.name).sort()).toEqual(['mariadb-1', 'mariadb-2']);
  expect(after.fenced ?? []).toEqual([]);
  expect(await writableNodes(stack)).toEqual(['mariadb-3']);
  const first = await w.resumedAfter(requestedAt, 30_000, 3);

  // the longest gap between two acknowledged writes around the switch: the pause the clients felt
  const around = w.acks
    .filter((a) => a.ackedAt > requestedAt - 1_000 && a.ackedAt < first.ackedAt + 1_000)
    .map((a) => a.ackedAt)
    .sort((a, b) => a - b);
  const pauseMs = Math.max(...around.slice(1).map((t, i) => t - around[i]));
  expect(pauseMs).toBeLessThan(3_000);

  await waitFor('mariadb-1 to replicate from mariadb-3', () => replicating(stack, 'mariadb-1'), {
    timeoutMs: 10_000,
  });
  await w.heldOn(stack, ['mariadb-1', 'mariadb-2', 'mariadb-3']);
  expect(w.errors).toEqual([]);
  console.log(
    `switchover: writes paused ${report.writesPausedMs} ms by the agent's clock, longest gap between acknowledged writes ${Math.round(pauseMs)} ms; steps ${JSON.stringify(report.steps)}`,
  );
});
