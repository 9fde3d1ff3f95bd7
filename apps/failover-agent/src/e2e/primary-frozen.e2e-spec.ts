/**
 * Fault: the MariaDB primary frozen (SIGSTOP) under writes, woken (SIGCONT)
 * after the failover. The agents run without STONITH here, so the old primary
 * does wake up, writable, as it was frozen: it must take no write (the routers
 * fenced it, semi-sync has no replica to acknowledge, the agent makes it
 * read-only again and kills its connections), then rejoin as a replica.
 */
import mysql from 'mysql2/promise';
import { recordRoles, rejoinAsReplica, waitFor } from '@stayline/stack-kit';
import { queryNode, replicating, waitForEpoch, writableNodes } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const cluster = useAgentCluster({ agents: { env: { STONITH: 'none' } } });

it('detects a frozen primary, keeps it fenced after it wakes up, and rejoins it as a replica', async () => {
  const { stack, stream: w } = cluster();
  const old = stack.mariadb.primary;
  await w.resumedAfter(performance.now());
  const frozenAt = performance.now();
  stack.kill(old.name, 'SIGSTOP');
  const after = await waitForEpoch(stack, 2, 60_000);
  const switchedAt = performance.now(); // an upper bound: the agent published a little earlier
  const newId = Number(stack.component(after.primary.name).meta?.serverId);
  const first = await w.resumedAfter(frozenAt, 60_000, newId);
  recordRoles(stack, after);
  expect(after.primary.name).not.toBe(old.name);
  expect(after.fenced).toEqual([old.name]);
  const outageMs = Math.round(first.ackedAt - frozenAt);
  // the replicas notice a frozen primary only when its heartbeats stop (slave_net_timeout 2 s)
  expect(outageMs).toBeGreaterThan(1_500);

  // it wakes up as it was frozen: writable, semi-sync on, no replica attached any more
  stack.kill(old.name, 'SIGCONT');
  const late = await mysql.createConnection({
    ...old,
    ...stack.credentials.app,
    database: 'reservation',
  });
  late.on('error', () => undefined);
  const attempt = await Promise.race([
    late.query("INSERT INTO failover_probe VALUES ('written-to-the-old-primary', NOW(3))").then(
      () => 'acknowledged',
      (err: Error) => `refused: ${err.message}`,
    ),
    new Promise<string>((r) =>
      setTimeout(() => r('waiting for a replica, never acknowledged'), 3_000),
    ),
  ]);
  late.destroy();
  expect(attempt).not.toBe('acknowledged');
  await waitFor(
    'the agent to make the old primary read-only again',
    async () => !(await writableNodes(stack)).includes(old.name),
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  expect(await writableNodes(stack)).toEqual([after.primary.name]);

  // no write sent after the switch reached the old primary; the ones it acknowledged were sent
  // before the freeze (a replica's acknowledgement may be delivered after the wake-up) and are on the new primary
  const oldId = Number(stack.component(old.name).meta?.serverId);
  expect(w.acks.filter((a) => a.servedBy === oldId && a.sentAt > switchedAt)).toEqual([]);
  expect(w.router.status().topology.fenced).toEqual([old.name]);

  // rejoin: its unacknowledged transactions are discarded and it replicates from the new primary
  const rejoined = await rejoinAsReplica(stack, old.name);
  expect(rejoined.topology.fenced).toEqual([]);
  expect(await replicating(stack, old.name)).toBe(true);
  await waitFor(
    `${old.name} to hold every acknowledged write and nothing else`,
    async () => (await w.missingOn(stack, old.name)).length === 0,
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  const stray = await queryNode(
    stack,
    old.name,
    "SELECT id FROM reservation.failover_probe WHERE id = 'written-to-the-old-primary'",
  );
  expect(stray).toEqual([]);
  expect(await w.missingOn(stack, after.primary.name)).toEqual([]);
  expect(w.errors).toEqual([]);
  console.log(
    `frozen primary: outage ${outageMs} ms, late write ${attempt}, rejoin: ${rejoined.how} ${rejoined.detail ?? ''}`,
  );
});
