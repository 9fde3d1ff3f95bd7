/**
 * What the compose stack's datastores hold and who leads them, read from inside
 * their containers (root over MariaDB's socket, redis-cli on the Sentinels).
 */
import { type Sample } from '@stayline/fault-kit';
import { reservationIdOf } from '@stayline/demo';
import { REDIS_USERS } from '@stayline/contracts';
import { etcdRootLogin, waitFor } from '@stayline/stack-kit';
import type { ComposeStack } from './compose-stack';

/**
 * redis-cli in a data node's or a Sentinel's container, logged in as the admin
 * (the container's REDISCLI_AUTH holds its password: docker-compose.yml).
 */
export const REDIS_CLI = ['redis-cli', '--user', REDIS_USERS.admin];

/** etcdctl's `--user` for root: the compose file's STAYLINE_ETCD_ROOT_PASSWORD, as this process has it. */
export function etcdRootUser(): string {
  const root = etcdRootLogin();
  return `--user=${root.username}:${root.password}`;
}

export const MARIADB_NODES = ['mariadb-1', 'mariadb-2', 'mariadb-3'];

export interface MariaDbRole {
  service: string;
  serverId: number;
  readOnly: boolean;
  /** The primary it replicates from, with both threads' state, if it is a replica. */
  follows?: { host: string; io: string; sql: string };
}

/** One node's role, or undefined when it does not answer. */
export async function mariadbRole(
  stack: ComposeStack,
  service: string,
): Promise<MariaDbRole | undefined> {
  try {
    const [id, ro] = (await stack.sql(service, 'SELECT @@server_id, @@read_only'))
      .trim()
      .split('\t');
    const status = await stack.sql(service, 'SHOW SLAVE STATUS\\G', true);
    const field = (name: string) =>
      new RegExp(`^\\s*${name}: (.*)$`, 'm').exec(status)?.[1]?.trim();
    const host = field('Master_Host');
    return {
      service,
      serverId: Number(id),
      readOnly: ro === '1',
      follows: host
        ? { host, io: field('Slave_IO_Running') ?? '', sql: field('Slave_SQL_Running') ?? '' }
        : undefined,
    };
  } catch {
    return undefined;
  }
}

/** The one writable node that replicates from nobody. */
export async function mariadbPrimary(stack: ComposeStack): Promise<MariaDbRole> {
  const roles = await Promise.all(MARIADB_NODES.map((s) => mariadbRole(stack, s)));
  const writable = roles.filter((r): r is MariaDbRole => !!r && !r.readOnly && !r.follows);
  if (writable.length !== 1)
    throw new Error(
      `expected one writable primary, found ${writable.map((r) => r.service).join(' ') || 'none'}`,
    );
  return writable[0];
}

/** The reservations the gateway acknowledged (201) in a load's samples. */
export function acknowledged(samples: Sample[]): string[] {
  return samples.filter((s) => s.status === 201).flatMap((s) => reservationIdOf(s) ?? []);
}

/** Which of `ids` a node holds in `reservation.reservations`. */
export async function reservationsOn(
  stack: ComposeStack,
  service: string,
  ids: string[],
): Promise<Set<string>> {
  const held = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const out = await stack.sql(
      service,
      `SELECT id FROM reservation.reservations WHERE id IN (${chunk.map((id) => `'${id.replace(/[^\w-]/g, '')}'`).join(',')})`,
    );
    out
      .split('\n')
      .filter(Boolean)
      .forEach((id) => held.add(id.trim()));
  }
  return held;
}

/** Waits until a node holds every one of `ids` (a replica catching up), then says which it lacks. */
export async function missingOn(
  stack: ComposeStack,
  service: string,
  ids: string[],
  timeoutMs = 20_000,
): Promise<string[]> {
  let missing = ids;
  await waitFor(
    `${service} to hold ${ids.length} acknowledged reservations`,
    async () => {
      const held = await reservationsOn(stack, service, ids);
      missing = ids.filter((id) => !held.has(id));
      return missing.length === 0;
    },
    { timeoutMs, intervalMs: 500 },
  ).catch(() => undefined);
  return missing;
}

/** Payments per reservation, for `ids`: a double charge would be a count above 1. */
export async function chargesOf(
  stack: ComposeStack,
  service: string,
  ids: string[],
): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < ids.length; i += 500) {
    const chunk = ids.slice(i, i + 500);
    const out = await stack.sql(
      service,
      `SELECT reservation_id, COUNT(*) FROM payment.payments WHERE reservation_id IN (${chunk.map((id) => `'${id.replace(/[^\w-]/g, '')}'`).join(',')}) GROUP BY reservation_id`,
    );
    for (const line of out.split('\n').filter(Boolean)) {
      const [id, n] = line.split('\t');
      counts.set(id, Number(n));
    }
  }
  return counts;
}

/** The Redis primary's address, as one Sentinel names it. */
export async function sentinelMasterIp(
  stack: ComposeStack,
  sentinel = 'sentinel-1',
): Promise<string> {
  const out = await stack.exec(sentinel, [
    ...REDIS_CLI,
    '-p',
    '26379',
    'sentinel',
    'get-master-addr-by-name',
    'stayline',
  ]);
  return out.split('\n')[0].trim();
}

/** The Redis primary's service as the Sentinels name it (they speak of addresses). */
export async function redisPrimary(stack: ComposeStack, sentinel = 'sentinel-1'): Promise<string> {
  const ip = await sentinelMasterIp(stack, sentinel);
  const c = (await stack.containers()).find((x) => x.ip === ip && x.service.startsWith('redis-'));
  if (!c) throw new Error(`the Sentinels name ${ip}, which is no Redis container of the project`);
  return c.service;
}

/** A failover agent's role as its /health/live says it. */
export interface AgentLive {
  role: string;
  agentId: string;
}

/**
 * A GET to one failover agent's HTTP port, from the host at its container's
 * address (undefined when it does not answer). The nemesis cuts containers
 * from each other, never from the host, so this reaches an isolated agent too;
 * a plain request costs nothing next to a `docker exec` on a loaded host.
 */
export async function agentGet<T>(
  stack: ComposeStack,
  agent: string,
  path: string,
): Promise<T | undefined> {
  try {
    const c = await stack.known(agent);
    if (!c.ip) throw new Error(`${agent} has no address (not running when last seen)`);
    const res = await fetch(`http://${c.ip}:3000${path}`, { signal: AbortSignal.timeout(3_000) });
    return (await res.json()) as T;
  } catch {
    stack.forget(agent); // restarted with another address, perhaps: look again next time
    return undefined;
  }
}

/** One agent's /health/live (undefined when it does not answer). */
export function agentLive(stack: ComposeStack, agent: string): Promise<AgentLive | undefined> {
  return agentGet<AgentLive>(stack, agent, '/health/live');
}

export const AGENTS = ['failover-agent-1', 'failover-agent-2'];

/** Waits until exactly one agent says `leader`; returns it and the other. */
export async function soleLeader(stack: ComposeStack): Promise<{ leader: string; other: string }> {
  let leader = '';
  await waitFor(
    'one agent to lead',
    async () => {
      const roles = await Promise.all(AGENTS.map((a) => agentLive(stack, a)));
      const leaders = AGENTS.filter((_, i) => roles[i]?.role === 'leader');
      leader = leaders[0] ?? '';
      return leaders.length === 1;
    },
    { timeoutMs: 60_000, intervalMs: 500 },
  );
  return { leader, other: AGENTS.find((a) => a !== leader) as string };
}
