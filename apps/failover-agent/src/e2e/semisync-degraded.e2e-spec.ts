/**
 * Fault: no replica can acknowledge (both SIGKILLed). Semi-sync never falls
 * back to asynchronous replication, so writes wait and then fail, never
 * acknowledged, and nothing acknowledged can be lost; the agent reports it
 * loudly: /health degraded with the reason, and a metric.
 */
import { agentAdmin, Stack } from '@stayline/stack-kit';
import { waitForAgent } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const cluster = useAgentCluster({ agents: { count: 1 }, writers: 2, auth: true });

async function degradedMetric(stack: Stack): Promise<number> {
  const c = stack.component('failover-agent-1');
  const text = await (await fetch(`http://${c.host}:${c.port}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('stayline_failover_semisync_degraded{reason="no-replica-attached"}'));
  return Number(line?.split(' ')[1] ?? NaN);
}

it('reports semi-sync degraded, and acknowledges no write, while no replica can acknowledge', async () => {
  const { stack, stream: w } = cluster();
  const agent = 'failover-agent-1';
  await waitForAgent(stack, agent, 'semi-sync healthy', (h) => h.semiSync.ok);
  expect(await degradedMetric(stack)).toBe(0);
  const primary = stack.mariadb.primary.name;
  await w.resumedAfter(performance.now());

  stack.kill('mariadb-2', 'SIGKILL');
  stack.kill('mariadb-3', 'SIGKILL');
  const killedAt = performance.now();
  const h = await waitForAgent(stack, agent, 'health degraded', (x) => x.status === 'degraded');
  expect(h.semiSync).toMatchObject({ ok: false, reason: 'no-replica-attached', clients: 0 });
  expect(h.degraded).toContain('semi-sync: no-replica-attached');
  expect(await degradedMetric(stack)).toBe(1);
  await new Promise((r) => setTimeout(r, 6_000)); // past the writers' 5 s write timeout
  const stalledUntil = performance.now();
  // nothing sent while no replica was attached was acknowledged meanwhile
  expect(w.acks.filter((a) => a.sentAt > killedAt + 200 && a.ackedAt < stalledUntil)).toEqual([]);
  expect(w.retried).toBeGreaterThan(0); // the writers got retryable errors, not acknowledgements
  expect(h.epoch).toBe(1); // a primary that answers is not failed over
  const refused = await agentAdmin(stack, agent, 'switchover', {});
  expect(refused.status).toBe(400); // no replica to switch to either

  await Promise.all(
    ['mariadb-2', 'mariadb-3'].map((r) => stack.restart(r, { asReplicaOf: primary })),
  );
  await waitForAgent(
    stack,
    agent,
    'semi-sync healthy again',
    (x) => x.semiSync.ok && x.status === 'up',
  );
  expect(await degradedMetric(stack)).toBe(0);
  await w.resumedAfter(performance.now());
  await w.heldOn(stack, ['mariadb-1', 'mariadb-2', 'mariadb-3']);
  expect(w.errors).toEqual([]);
});
