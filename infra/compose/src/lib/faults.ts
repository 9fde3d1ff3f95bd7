/**
 * The faults a randomised run draws from, each applied by the {@link Nemesis}
 * and healed by it, and `settle()`: what an operator (or the stack itself)
 * does after a heal until the cluster is whole again, so the next fault starts
 * from a healthy stack.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import {
  AGENTS,
  MARIADB_NODES,
  mariadbPrimary,
  mariadbRole,
  REDIS_CLI,
  redisPrimary,
} from './cluster';
import type { ComposeStack } from './compose-stack';
import type { Nemesis } from './nemesis';

export interface Fault {
  name: string;
  /** Applies it; resolves with what it did, in words. */
  apply(stack: ComposeStack, nemesis: Nemesis, pick: (n: number) => number): Promise<string>;
}

const REGISTRY = ['redis-1', 'redis-2', 'sentinel-1', 'sentinel-2', 'sentinel-3'];
const INSTANCES = ['reservation-1', 'reservation-2', 'payment-1', 'payment-2'];
const ETCD = ['etcd-1', 'etcd-2', 'etcd-3'];
const REDIS = ['redis-1', 'redis-2'];

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
    name: 'payments-slow',
    async apply(_stack, nemesis, pick) {
      const seed = pick(2 ** 30);
      for (const [i, p] of ['payment-1', 'payment-2'].entries())
        await nemesis.delay(p, { delayMs: 300, jitterMs: 100, seed: seed + i });
      return 'payment-1 and payment-2 slowed by 300 ms ± 100 ms';
    },
  },
  {
    name: 'redis-primary-isolated',
    async apply(stack, nemesis) {
      const r = await redisPrimary(stack);
      await nemesis.isolate(r, 'everything');
      return `${r} (Redis primary) cut from everything`;
    },
  },
  {
    name: 'etcd-member-cut',
    async apply(_stack, nemesis, pick) {
      const m = ETCD[pick(ETCD.length)];
      await nemesis.isolate(m, [...ETCD.filter((x) => x !== m), ...AGENTS]);
      return `${m} cut from the other etcd members and the agents`;
    },
  },
  {
    name: 'agent-cut-from-etcd',
    async apply(_stack, nemesis, pick) {
      const a = AGENTS[pick(AGENTS.length)];
      await nemesis.isolate(a, ETCD);
      return `${a} cut from every etcd member`;
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
 * other node replicating from it. Nothing is done by hand: a former primary
 * that logged transactions no replica acknowledged is rebuilt from the primary
 * by the leader agent (`REBUILD_ERRANT=auto`), never merged. Resolves with what
 * the agents did meanwhile, in words ('' when nothing).
 */
export async function settle(stack: ComposeStack, timeoutMs = 180_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  const since = new Date().toISOString();
  await stack.waitHealthy(timeoutMs, undefined, { graceMs: 30_000 });
  // Redis: the Sentinels' primary is the one primary, its replica linked (a healed former
  // primary is turned into a replica some seconds after it is seen again)
  await waitFor(
    'one Redis primary, as the Sentinels name it, and its replica linked',
    async () => {
      const primary = await redisPrimary(stack);
      const infos = await Promise.all(
        REDIS.map((r) => stack.exec(r, [...REDIS_CLI, 'info', 'replication'])),
      );
      return REDIS.every((r, i) =>
        r === primary
          ? /role:master/.test(infos[i])
          : /role:slave/.test(infos[i]) && /master_link_status:up/.test(infos[i]),
      );
    },
    { timeoutMs: Math.max(1_000, deadline - Date.now()), intervalMs: 1_000 },
  );
  let primary = await waitForPrimary(stack, deadline);
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
    await sleep(1_000);
    primary = await waitForPrimary(stack, deadline);
  }
  return (await agentsSaid(stack, since, / rebuilt from /)).join('; ');
}

/** One line a failover agent logged: who, when (epoch ms, the host's clock), what. */
export interface AgentLine {
  agent: string;
  at: number;
  msg: string;
  /** Every field of the JSON line (`token`, `primary`, ...). */
  fields: Record<string, unknown>;
}

/** The failover agents' log lines since `since` (ISO time) whose message matches `pattern`, in time order. */
export async function agentLog(
  stack: ComposeStack,
  since: string,
  pattern: RegExp,
): Promise<AgentLine[]> {
  const lines: AgentLine[] = [];
  for (const a of AGENTS) {
    const out = await stack.docker(['logs', '--since', since, (await stack.container(a)).name]);
    for (const line of `${out.stdout}\n${out.stderr}`.split('\n')) {
      if (!line.startsWith('{')) continue;
      let fields: Record<string, unknown>;
      try {
        fields = JSON.parse(line) as Record<string, unknown>;
      } catch {
        continue;
      }
      const msg = typeof fields.msg === 'string' ? fields.msg : '';
      if (msg && pattern.test(msg))
        lines.push({ agent: a, at: Date.parse(String(fields.time)), msg, fields });
    }
  }
  return lines.sort((x, y) => x.at - y.at);
}

/** The failover agents' log messages since `since` (ISO time) that match `pattern`. */
export async function agentsSaid(
  stack: ComposeStack,
  since: string,
  pattern: RegExp,
): Promise<string[]> {
  return (await agentLog(stack, since, pattern)).map((l) => l.msg);
}

/**
 * A handover by the agents' own logs (one host clock), since `sinceWall` (epoch
 * ms): when `leader` said it was deposed and `other` that it was elected, in ms
 * after `sinceWall`, with their log lines (fencing `token` in `fields`).
 */
export async function handover(
  stack: ComposeStack,
  sinceWall: number,
  leader: string,
  other: string,
): Promise<{ deposed?: AgentLine; elected?: AgentLine; deposedMs?: number; electedMs?: number }> {
  const said = await agentLog(
    stack,
    new Date(sinceWall - 1_000).toISOString(),
    /^deposed: this agent stops acting|^elected: this agent acts/,
  );
  const deposed = said.find((l) => l.agent === leader && l.msg.startsWith('deposed'));
  const elected = said.find((l) => l.agent === other && l.msg.startsWith('elected'));
  return {
    deposed,
    elected,
    deposedMs: deposed && deposed.at - sinceWall,
    electedMs: elected && elected.at - sinceWall,
  };
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
