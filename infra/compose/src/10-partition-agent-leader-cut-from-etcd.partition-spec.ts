/**
 * Partition 3: the failover agents' leader cut from every etcd member (the
 * agents elect their leader on etcd here). It cannot renew its lease: it
 * stops acting as leader on its own (it says `follower` on /health) before its
 * lease could have ended elsewhere, and the other agent is elected. Sampled
 * all along, never two agents that both say `leader` in the same round; the
 * topology both publish carries the leader's fencing token, so a late write of
 * the deposed leader is refused by the store (apps/failover-agent's e2e
 * `agent-cut-off` shows that refusal; here the point is the handover between
 * hosts). Healed, the cut agent rejoins as a follower.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { ComposeStack } from './lib/compose-stack';
import { Nemesis } from './lib/nemesis';

jest.setTimeout(300_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);
const AGENTS = ['failover-agent-1', 'failover-agent-2'];
const ETCD = ['etcd-1', 'etcd-2', 'etcd-3'];

interface Live {
  role: string;
  agentId: string;
}

/** One agent's /health/live, from inside its container (undefined when it does not answer). */
async function live(agent: string): Promise<Live | undefined> {
  const script =
    "fetch('http://127.0.0.1:3000/health/live',{signal:AbortSignal.timeout(2000)}).then(r=>r.json()).then(b=>console.log(JSON.stringify(b)))";
  return stack
    .exec(agent, ['node', '-e', script], 5_000)
    .then((out) => JSON.parse(out) as Live)
    .catch(() => undefined);
}

describe("partition: the failover agents' leader cut from the etcd majority", () => {
  nemesis.guard();
  afterAll(() => nemesis.healAll());

  it('steps down on its own, the other agent leads, never two leaders at once', async () => {
    let leader = '';
    await waitFor(
      'one agent to lead',
      async () => {
        const roles = await Promise.all(AGENTS.map(live));
        const leaders = AGENTS.filter((_, i) => roles[i]?.role === 'leader');
        leader = leaders[0] ?? '';
        return leaders.length === 1;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    const other = AGENTS.find((a) => a !== leader) as string;
    const rounds: Array<{ at: number; roles: Array<string | undefined> }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const roles = (await Promise.all(AGENTS.map(live))).map((l) => l?.role);
        rounds.push({ at: performance.now(), roles });
        await sleep(200);
      }
    })();

    await nemesis.isolate(leader, ETCD);
    const cutAt = performance.now();
    const steppedDownMs = await waitFor(
      `${leader} to step down`,
      async () => (await live(leader))?.role === 'follower',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const electedMs = await waitFor(
      `${other} to lead`,
      async () => (await live(other))?.role === 'leader',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    console.log(
      `${leader} cut from etcd: it stepped down ${Math.round(steppedDownMs)} ms after the cut; ` +
        `${other} led at ${Math.round(performance.now() - cutAt)} ms (waited ${Math.round(electedMs)} ms more)`,
    );
    await sleep(3_000);
    await nemesis.healAll();
    await waitFor(
      `${leader} back as a follower`,
      async () => (await live(leader))?.role === 'follower',
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    sampling = false;
    await sampler;

    const both = rounds.filter((r) => r.roles.every((x) => x === 'leader'));
    expect(both).toEqual([]);
    expect((await live(other))?.role).toBe('leader');
  });
});
