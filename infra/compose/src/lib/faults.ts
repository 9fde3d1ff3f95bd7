/**
 * The faults a randomised run draws from, each applied by the {@link Nemesis}
 * and healed by it, and `settle()`: what an operator (or the stack itself)
 * does after a heal until the cluster is whole again, so the next fault starts
 * from a healthy stack.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { MARIADB_NODES, mariadbPrimary, mariadbRole } from './cluster';
import type { ComposeStack } from './compose-stack';
import type { Nemesis } from './nemesis';

export interface Fault {
  name: string;
  /** Applies it; resolves with what it did, in words. */
  apply(stack: ComposeStack, nemesis: Nemesis, pick: (n: number) => number): Promise<string>;
}

const AGENTS = ['failover-agent-1', 'failover-agent-2'];
const REGISTRY = ['redis-1', 'redis-2', 'sentinel-1', 'sentinel-2', 'sentinel-3'];
const INSTANCES = ['reservation-1', 'reservation-2', 'payment-1', 'payment-2'];

export const FAULTS: readonly Fault[] = [
  {
    name: 'primary-isolated',
    async apply(stack, nemesis) {
      const p = await mariadbPrimary(stack);
      await nemesis.isolate(p.service, 'everything');
      return `${p.service} (primary) cut from everything`;
    },
  },
  {
    name: 'primary-cut-from-agents',
    async apply(stack, nemesis) {
      const p = await mariadbPrimary(stack);
      await nemesis.isolate(p.service, AGENTS);
      return `${p.service} (primary) cut from the failover agents`;
    },
  },
  {
    name: 'replica-paused',
    async apply(stack, nemesis, pick) {
      const p = await mariadbPrimary(stack);
      const replicas = MARIADB_NODES.filter((n) => n !== p.service);
      const r = replicas[pick(replicas.length)];
      await nemesis.pause(r);
      return `${r} (replica) paused`;
    },
  },
  {
    name: 'instance-cut-off',
    async apply(_stack, nemesis, pick) {
      const i = INSTANCES[pick(INSTANCES.length)];
      await nemesis.isolate(i, [...REGISTRY, 'gateway']);
      return `${i} cut from the registry and the gateway`;
    },
  },
  {
    name: 'instance-killed',
    async apply(_stack, nemesis, pick) {
      const i = INSTANCES[pick(INSTANCES.length)];
      await nemesis.kill(i);
      return `${i} killed`;
    },
  },
  {
    name: 'agent-leader-paused',
    async apply(_stack, nemesis, pick) {
      const a = AGENTS[pick(AGENTS.length)];
      await nemesis.pause(a);
      return `${a} paused`;
    },
  },
];

/**
 * After a heal: every container healthy again, one writable primary, every
 * other node replicating from it. A former primary that logged transactions
 * no replica acknowledged is held back by the agents (never merged); it is
 * restarted, which rolls them back (`--init-rpl-role=SLAVE`), and then
 * rejoins. Resolves with what it had to do, in words ('' when nothing).
 */
export async function settle(stack: ComposeStack, timeoutMs = 180_000): Promise<string> {
  const done: string[] = [];
  const deadline = Date.now() + timeoutMs;
  await stack.waitHealthy(timeoutMs, undefined, { graceMs: 30_000 });
  let primary = await waitForPrimary(stack, deadline);
  const restarted = new Set<string>();
  const since = Date.now();
  for (;;) {
    const roles = await Promise.all(MARIADB_NODES.map((n) => mariadbRole(stack, n)));
    const ip = (await stack.container(primary)).ip;
    const behind = MARIADB_NODES.filter((n, i) => {
      const r = roles[i];
      return (
        n !== primary &&
        !(r?.follows?.host === ip && r.follows.io === 'Yes' && r.follows.sql === 'Yes')
      );
    });
    if (!behind.length) break;
    if (Date.now() > deadline)
      throw new Error(`not replicating from ${primary} after the heal: ${behind.join(', ')}`);
    // given the agents 20 s to rejoin it: it holds what the primary lacks, a restart rolls it back
    for (const n of behind)
      if (Date.now() - since > 20_000 && !restarted.has(n)) {
        restarted.add(n);
        await stack.docker(['restart', (await stack.container(n)).name], 120_000);
        done.push(`${n} restarted (it held transactions no replica had acknowledged)`);
      }
    await sleep(1_000);
    primary = await waitForPrimary(stack, deadline);
  }
  return done.join('; ');
}

async function waitForPrimary(stack: ComposeStack, deadline: number): Promise<string> {
  let name = '';
  await waitFor(
    'one writable primary',
    async () => {
      name = (await mariadbPrimary(stack)).service;
      return true;
    },
    { timeoutMs: Math.max(1_000, deadline - Date.now()), intervalMs: 500 },
  );
  return name;
}

/** A small seeded generator (mulberry32): the same seed, the same schedule. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
