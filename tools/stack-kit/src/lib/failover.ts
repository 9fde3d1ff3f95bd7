/**
 * The failover agents on a launcher stack (docs/patterns/failover.md): start
 * them, ask them how they are, read the topology they published, and rejoin a
 * fenced old primary as a replica. Used by the e2e tests, `npm run chaos`,
 * `npm run demo:failover`, `npm run stack:rejoin` and the bench. (The launcher
 * reads the topology from Redis itself: the libraries' tests depend on the
 * launcher, so it cannot depend on them.)
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { TOPOLOGY_KEY, type AgentHealth, type Topology } from '@stayline/contracts';
import { waitFor } from './wait';
import { addReplica, AddReplicaOptions, cloneReplica, pickSourceReplica } from './add-replica';
import { adminConnection } from './mariadb';
import { httpJson } from './http-json';
import { adminToken } from './tokens';
import { isAlive } from './process';
import { etcdEnv, startService } from './services';
import { redisCommand, sentinelMaster } from './redis';
import type { Stack } from './stack';
import { Component, STATE_FILE } from './state';
import { REPO_ROOT } from './repo';

export interface StartAgentsOptions {
  /** How many agents (default 2): one leads, the others stand by. */
  count?: number;
  /** Extra environment for every agent, or per agent (index from 0). */
  env?: Record<string, string> | ((index: number) => Record<string, string>);
  /** Fixed HTTP ports (agent n takes index n-1); drawn free when omitted. */
  ports?: number[];
}

/** The environment an agent gets from the stack it runs on. */
export function agentEnv(stack: Stack, name: string): Record<string, string> {
  const list = (kind: 'mariadb' | 'redis') =>
    stack
      .byKind(kind)
      .map((c) => `${c.name}@${c.host}:${c.port}`)
      .join(',');
  const { admin, replication } = stack.credentials;
  return {
    AGENT_ID: name,
    MARIADB_NODES: list('mariadb'),
    REDIS_NODES: list('redis'),
    STAYLINE_DB_ADMIN_USER: admin.user,
    STAYLINE_DB_ADMIN_PASSWORD: admin.password,
    STAYLINE_DB_REPL_USER: replication.user,
    STAYLINE_DB_REPL_PASSWORD: replication.password,
    STONITH: 'native',
    STONITH_STATE_FILE: path.join(stack.stateDir, STATE_FILE),
    // with an etcd cluster in the stack, the agents elect their leader on it (docs/patterns/coordinator.md)
    ...(stack.byKind('etcd').length
      ? { COORDINATION_BACKEND: 'etcd', ...etcdEnv(stack, 'agent') }
      : {}),
  };
}

/** Starts the failover agents as `agent` components and waits until one leads and a topology is published. */
export async function startFailoverAgents(
  stack: Stack,
  o: StartAgentsOptions = {},
): Promise<Component[]> {
  const count = o.count ?? 2;
  const agents: Component[] = [];
  for (let i = 0; i < count; i++) {
    const name = `failover-agent-${i + 1}`;
    const extra = typeof o.env === 'function' ? o.env(i) : o.env;
    agents.push(await startAgent(stack, name, { ...extra }, o.ports?.[i]));
  }
  await waitFor(
    'a leader agent and a published topology',
    async () => {
      const views = await Promise.all(
        agents.map((a) => agentHealth(stack, a.name).catch(() => undefined)),
      );
      return views.some((v) => v?.role === 'leader') && views.every((v) => (v?.epoch ?? 0) > 0);
    },
    { timeoutMs: 60_000, intervalMs: 100 },
  );
  return agents;
}

/** Fixed HTTP ports of the agents on the commands' stack (`npm start`, `stack:up`); tests draw free ones. */
export const DEFAULT_AGENT_PORTS = [4801, 4802];

/**
 * Starts the failover agents on a running stack unless they already run (the
 * commands' stack: `npm run demo:failover`, `stack:rejoin`, `stack:add-replica`).
 */
export async function ensureFailoverAgents(
  stack: Stack,
  ports: number[] = DEFAULT_AGENT_PORTS,
): Promise<Component[]> {
  const running = stack
    .byKind('agent')
    .filter((c) => c.meta?.service === 'failover-agent' && isAlive(c.pid));
  if (running.length) return running;
  return startFailoverAgents(stack, { count: ports.length, ports });
}

/** Starts (or starts again) one agent. */
export function startAgent(
  stack: Stack,
  name: string,
  env: Record<string, string> = {},
  httpPort?: number,
): Promise<Component> {
  return startService(stack, {
    service: 'failover-agent',
    name,
    kind: 'agent',
    httpPort,
    entry: path.join(REPO_ROOT, 'apps', 'failover-agent', 'src', 'main.ts'),
    env: { ...agentEnv(stack, name), ...env },
  });
}

export async function agentHealth(stack: Stack, name: string): Promise<AgentHealth> {
  const c = stack.component(name);
  const res = await httpJson(`http://${c.host}:${c.port}/health`, { timeoutMs: 15_000 });
  return res.body as AgentHealth;
}

/** The agent that leads now (undefined while none does). */
export async function leaderAgent(stack: Stack): Promise<Component | undefined> {
  for (const a of stack.byKind('agent').filter((c) => c.meta?.service === 'failover-agent')) {
    const h = await agentHealth(stack, a.name).catch(() => undefined);
    if (h?.role === 'leader') return a;
  }
  return undefined;
}

/**
 * Calls an agent's admin route as the operator ({@link adminToken}: a token with
 * the `admin` scope from the stack's auth instances), or with `token` when given.
 */
export async function agentAdmin(
  stack: Stack,
  name: string,
  route: 'switchover' | 'nodes',
  body: unknown,
  token?: string,
): Promise<{ status: number; body: unknown }> {
  const c = stack.component(name);
  return httpJson(`http://${c.host}:${c.port}/admin/${route}`, {
    method: 'POST',
    body,
    token: token ?? (await adminToken(stack)),
    timeoutMs: 15_000,
  });
}

/** The topology the agents published now (read from the Redis primary Sentinel names). */
export async function publishedTopology(stack: Stack): Promise<Topology | undefined> {
  let lastError: unknown;
  for (const sentinel of stack.redis.sentinels) {
    try {
      const primary = await sentinelMaster(sentinel);
      const json = await redisCommand<string | null>(primary, 'HGET', TOPOLOGY_KEY, 'json');
      return json ? (JSON.parse(json) as Topology) : undefined;
    } catch (err) {
      lastError = err; // a Sentinel down, or the primary it names failing over: ask the next
    }
  }
  throw lastError;
}

/** Records the published roles in the launcher's state (`primary`, `replica`, `fenced`). */
export function recordRoles(stack: Stack, t: Topology): void {
  for (const c of stack.byKind('mariadb')) {
    const role =
      c.name === t.primary.name ? 'primary' : t.fenced?.includes(c.name) ? 'fenced' : 'replica';
    if (c.role !== role) stack.setRole(c.name, role);
  }
}

/**
 * `npm run stack:add-replica`: builds a new MariaDB replica from an existing
 * replica (never from the loaded primary), hands it to the leader agent, which
 * registers it in discovery and publishes it in the topology once it
 * replicates; services then read from it without a restart.
 */
export async function addReplicaToCluster(
  stack: Stack,
  o: AddReplicaOptions = {},
  timeoutMs = 60_000,
): Promise<{ node: Component; topology: Topology }> {
  const before = await publishedTopology(stack);
  if (!before) throw new Error('no topology published: are the failover agents running?');
  const node = await addReplica(stack, before.primary.name, o);
  const leader = await leaderAgent(stack);
  if (!leader) throw new Error('no leader agent to register the new replica');
  const res = await agentAdmin(stack, leader.name, 'nodes', {
    name: node.name,
    host: node.host,
    port: node.port,
  });
  if (res.status !== 202)
    throw new Error(`${leader.name} refused ${node.name}: ${JSON.stringify(res.body)}`);
  let now: Topology | undefined;
  await waitFor(
    `the agents to publish ${node.name} as a replica`,
    async () => {
      now = await publishedTopology(stack);
      return Boolean(now?.replicas.some((r) => r.name === node.name));
    },
    { timeoutMs, intervalMs: 100 },
  );
  return { node, topology: now as Topology };
}

/** How a node rejoined: restarted as a replica, or rebuilt from one because it had diverged. */
export interface Rejoined {
  topology: Topology;
  how: 'restarted' | 'rebuilt';
  /** Why it was rebuilt: the replication error it hit. */
  detail?: string;
}

/**
 * Rejoins a fenced old primary as a replica of the current one. First it is
 * restarted with `--init-rpl-role=SLAVE`, which discards the transactions it
 * logged but had not committed when it stopped (the ones in flight at a crash,
 * never acknowledged), and attached with GTID. If it committed transactions
 * that no replica acknowledged (a frozen primary that woke up without STONITH,
 * and finished a commit before it was fenced), the new primary refuses it with
 * error 1236 ("diverged"): it is then rebuilt from a replica. Resolves once the
 * agents published it as a replica again.
 */
export async function rejoinAsReplica(
  stack: Stack,
  name: string,
  timeoutMs = 60_000,
): Promise<Rejoined> {
  const before = await publishedTopology(stack);
  if (!before) throw new Error('no topology published: are the failover agents running?');
  if (before.primary.name === name)
    throw new Error(`${name} is the primary of epoch ${before.epoch}`);
  const primary = stack.component(before.primary.name);
  const restart = stack.restart(name, { asReplicaOf: primary.name });
  restart.catch(() => undefined); // raced below: a diverged node never finishes it
  const watching = { done: false };
  let outcome = await Promise.race([
    restart.then(() => undefined),
    diverged(stack, name, watching),
  ]).finally(() => (watching.done = true));
  if (!outcome) {
    // the IO thread can report Yes for a moment before the primary answers with 1236:
    // watch it a little longer before calling the rejoin done
    const settling = { done: false };
    const timer = setTimeout(() => (settling.done = true), 3_000);
    outcome = await diverged(stack, name, settling);
    clearTimeout(timer);
  }
  let how: Rejoined['how'] = 'restarted';
  if (outcome) {
    how = 'rebuilt';
    const source = await pickSourceReplica(stack, primary.name, [name]);
    await cloneReplica(stack, source, stack.component(name), primary);
  }
  let now: Topology | undefined;
  await waitFor(
    `the agents to publish ${name} as a replica`,
    async () => {
      now = await publishedTopology(stack);
      return Boolean(now?.replicas.some((r) => r.name === name) && !now.fenced?.includes(name));
    },
    { timeoutMs, intervalMs: 100 },
  );
  recordRoles(stack, now as Topology);
  return { topology: now as Topology, how, detail: outcome };
}

/** Resolves with the error once `name`'s IO thread fails with 1236 (diverged), or undefined once `watching.done`. */
async function diverged(
  stack: Stack,
  name: string,
  watching: { done: boolean },
): Promise<string | undefined> {
  while (!watching.done) {
    await sleep(200);
    const c = stack.component(name);
    const conn = await adminConnection(c, stack.credentials, 1_000).catch(() => undefined);
    if (!conn) continue;
    try {
      const [rows] = await conn.query('SHOW SLAVE STATUS');
      const r = (rows as Array<Record<string, unknown>>)[0];
      if (Number(r?.Last_IO_Errno) === 1236) return String(r?.Last_IO_Error);
    } catch {
      // starting
    } finally {
      await conn.end().catch(() => undefined);
    }
  }
  return undefined;
}
