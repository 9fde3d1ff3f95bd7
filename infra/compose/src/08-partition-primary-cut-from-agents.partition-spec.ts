/**
 * Partition 2, asymmetric: the MariaDB primary cut from both failover agents
 * only; it still reaches its replicas and the services. The agents' probes
 * fail, but they ask the replicas, whose IO threads are still connected to it
 * (holistic detection, as orchestrator does): the primary stays "unconfirmed",
 * nobody is promoted, and bookings keep being committed on it. Never two
 * writable primaries; nothing lost.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { check, historyOf, NodeSampler, summary, waitConverged } from './lib/checker';
import { AGENTS, agentGet, MARIADB_NODES, mariadbPrimary, mariadbRole } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';
import { Nemesis } from './lib/nemesis';
import { healAfterAll } from './lib/scenario';

jest.setTimeout(300_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);

/** What one agent says of the primary on its /health. */
async function agentView(agent: string): Promise<{ health: string; primary: string }> {
  const body = await agentGet<{ primary: { health: string; primary: string } }>(
    stack,
    agent,
    '/health',
  );
  if (!body) throw new Error(`${agent} did not answer on /health`);
  return body.primary;
}

describe('partition: the MariaDB primary cut from the failover agents only', () => {
  let run: BookingRun | undefined;
  let sampler: NodeSampler | undefined;
  healAfterAll(
    nemesis,
    () => sampler?.stop(),
    () => run?.finish(),
  );

  it('promotes nobody while the replicas still see the primary, and keeps taking bookings', async () => {
    const old = await mariadbPrimary(stack);
    sampler = new NodeSampler(stack);
    run = await BookingRun.start(stack.gateway, 4, 20);
    await sleep(2_000);

    await nemesis.isolate(old.service, AGENTS);
    const cutAt = performance.now();
    // the agents notice: their probes fail, the replicas say they are still connected
    await waitFor(
      'an agent to hold the primary unconfirmed',
      async () => {
        const views = await Promise.all(AGENTS.map((a) => agentView(a).catch(() => undefined)));
        return views.some((v) => v?.health === 'unconfirmed');
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await sleep(15_000);
    const others = await Promise.all(
      MARIADB_NODES.filter((n) => n !== old.service).map((n) => mariadbRole(stack, n)),
    );
    expect(others.filter((r) => r && !r.readOnly && !r.follows)).toEqual([]);
    expect((await mariadbPrimary(stack)).service).toBe(old.service);
    const committedDuringCut = run.load.between(cutAt).filter((s) => s.status === 201).length;
    console.log(
      `${old.service} cut from the agents for ${Math.round((performance.now() - cutAt) / 1000)} s: ` +
        `no promotion, ${committedDuringCut} bookings committed on it meanwhile`,
    );
    expect(committedDuringCut).toBeGreaterThan(10);

    await nemesis.healAll();
    await waitFor(
      'both agents to see the primary up again',
      async () => {
        const views = await Promise.all(AGENTS.map((a) => agentView(a).catch(() => undefined)));
        return views.every((v) => v?.health === 'up');
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    await run.stop();
    const history = historyOf(run.load.samples, (n) => (run as BookingRun).keyOf(n));
    await waitConverged(stack, history, 30_000);
    const result = await check(stack, history, await sampler.stop());
    console.log(`checker:\n${summary(result)}`);
    expect(result.violations).toEqual([]);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
    expect(result.twoPrimaryWindows).toBe(0);
  });
});
