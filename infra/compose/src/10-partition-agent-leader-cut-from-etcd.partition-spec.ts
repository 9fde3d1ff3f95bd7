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
import { AGENTS, agentLive, soleLeader } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { handover } from './lib/faults';
import { Nemesis } from './lib/nemesis';
import { healAfterAll } from './lib/scenario';

jest.setTimeout(300_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);
const ETCD = ['etcd-1', 'etcd-2', 'etcd-3'];
/** The agents' election lease (ELECTION_TTL_MS, apps/failover-agent/src/config.ts). */
const ELECTION_TTL_MS = 2_000;

describe("partition: the failover agents' leader cut from the etcd majority", () => {
  healAfterAll(nemesis);

  it('steps down on its own, the other agent leads, never two leaders at once', async () => {
    const { leader, other } = await soleLeader(stack);
    const rounds: Array<{ at: number; roles: Array<string | undefined> }> = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const roles = (await Promise.all(AGENTS.map((a) => agentLive(stack, a)))).map(
          (l) => l?.role,
        );
        rounds.push({ at: performance.now(), roles });
        await sleep(200);
      }
    })();

    const cutAt = await nemesis.isolate(leader, ETCD);
    const cutWall = Math.round(Date.now() - (performance.now() - cutAt));
    const steppedDownMs = await waitFor(
      `${leader} to step down`,
      async () => (await agentLive(stack, leader))?.role === 'follower',
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const electedMs = await waitFor(
      `${other} to lead`,
      async () => (await agentLive(stack, other))?.role === 'leader',
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
      async () => (await agentLive(stack, leader))?.role === 'follower',
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    sampling = false;
    await sampler;

    const both = rounds.filter((r) => r.roles.every((x) => x === 'leader'));
    expect(both).toEqual([]);
    // by their own logs (one host clock): the cut leader stopped acting before its lease
    // could end on etcd, and the other was elected only after that
    const {
      deposed,
      elected,
      deposedMs,
      electedMs: electedAtMs,
    } = await handover(stack, cutWall, leader, other);
    console.log(
      `by the agents' logs: ${leader} deposed itself ${deposedMs ?? '?'} ms after the cut ` +
        `(lease ${ELECTION_TTL_MS} ms), ${other} elected ${electedAtMs ?? '?'} ms after it`,
    );
    expect(deposed).toBeDefined();
    expect(elected).toBeDefined();
    if (!deposed || !elected) return;
    expect(deposed.at - cutWall).toBeLessThanOrEqual(ELECTION_TTL_MS);
    expect(elected.at).toBeGreaterThan(deposed.at);
    expect((await agentLive(stack, other))?.role).toBe('leader');
  });
});
