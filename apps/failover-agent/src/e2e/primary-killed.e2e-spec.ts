/**
 * Fault: the MariaDB primary SIGKILLed under a steady write stream, three
 * rounds on one stack (each round kills the primary the previous one
 * promoted, after the old one rejoined). Every acknowledged write must be on
 * the new primary and on the repointed replica, the stream must resume by
 * itself, and a service (payment) must switch without a restart.
 *   FAILOVER_ROUNDS=20 npx jest primary-killed   (or npm run chaos -- --rounds 20)
 */
import { Component, publishedTopology, waitFor, startService } from '@stayline/stack-kit';
import { MariaDbRound, mariadbRound } from '@stayline/fault-kit';
import { replicating } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

const ROUNDS = Number(process.env.FAILOVER_ROUNDS ?? 3);

let payment: Component;
const cluster = useAgentCluster({
  then: async (stack) => {
    payment = await startService(stack, { service: 'payment' });
  },
});

async function paymentEpoch(): Promise<number> {
  const res = await fetch(`http://${payment.host}:${payment.port}/health/ready`);
  const body = (await res.json()) as { details?: { database?: { epoch?: number } } };
  return body.details?.database?.epoch ?? -1;
}

it(`loses no acknowledged write when the primary is SIGKILLed under writes (${ROUNDS} rounds)`, async () => {
  const { stack, stream: w } = cluster();
  const rounds: MariaDbRound[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const round = await mariadbRound(stack, w);
    rounds.push(round);
    expect(round).toMatchObject({ lost: 0, oldPrimaryDown: true, rejoin: 'restarted' });
    expect(round.promoted).not.toBe(round.killed);
    const now = await publishedTopology(stack);
    // the writers' router is on the new epoch; the first write after the kill came from the new primary
    expect(w.router.status().topology.epoch).toBe(now?.epoch);
    // a service switched without a restart
    await waitFor('payment to follow', async () => (await paymentEpoch()) === now?.epoch, {
      timeoutMs: 10_000,
      intervalMs: 100,
    });
    // the old primary is a healthy replica again, holding every acknowledged write
    expect(await replicating(stack, round.killed)).toBe(true);
    await waitFor(
      `${round.killed} to hold every acknowledged write`,
      async () => (await w.missingOn(stack, round.killed)).length === 0,
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  }
  console.log(`MariaDB primary SIGKILLed under writes:\n${JSON.stringify(rounds, null, 1)}`);
  expect(w.errors).toEqual([]);
  for (const r of rounds) expect(r.outageMs).toBeLessThan(15_000); // the figures go to the bench
});
