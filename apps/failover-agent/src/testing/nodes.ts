/** Small looks at a launcher stack's MariaDB nodes and agents, for the fault tests. */
import type { AgentHealth, Topology } from '@stayline/contracts';
import {
  adminConnection,
  agentHealth,
  publishedTopology,
  Stack,
  waitFor,
} from '@stayline/stack-kit';

/** Runs one query as admin on a node. */
export async function queryNode<T = Record<string, unknown>>(
  stack: Stack,
  name: string,
  sql: string,
  params: unknown[] = [],
): Promise<T[]> {
  const conn = await adminConnection(stack.component(name), stack.credentials, 1_000);
  try {
    const [rows] = await conn.query(sql, params);
    return rows as T[];
  } finally {
    await conn.end();
  }
}

/** Names of the nodes that take writes now (read_only OFF), among those that answer. */
export async function writableNodes(stack: Stack): Promise<string[]> {
  const out: string[] = [];
  for (const n of stack.byKind('mariadb')) {
    const rows = await queryNode<{ ro: number }>(stack, n.name, 'SELECT @@read_only AS ro').catch(
      () => undefined,
    );
    if (rows && Number(rows[0].ro) === 0) out.push(n.name);
  }
  return out;
}

/** Whether a node's replication threads both run. */
export async function replicating(stack: Stack, name: string): Promise<boolean> {
  const [r] = await queryNode(stack, name, 'SHOW SLAVE STATUS');
  return r?.Slave_IO_Running === 'Yes' && r?.Slave_SQL_Running === 'Yes';
}

/** Waits until the agents published an epoch of at least `epoch`; returns that topology. */
export async function waitForEpoch(
  stack: Stack,
  epoch: number,
  timeoutMs = 30_000,
): Promise<Topology> {
  let t: Topology | undefined;
  await waitFor(
    `topology epoch ${epoch}`,
    async () => {
      t = await publishedTopology(stack);
      return (t?.epoch ?? 0) >= epoch;
    },
    { timeoutMs, intervalMs: 20 },
  );
  return t as Topology;
}

/** Waits until `agent`'s /health satisfies `ok`; returns it. */
export async function waitForAgent(
  stack: Stack,
  agent: string,
  what: string,
  ok: (h: AgentHealth) => boolean,
  timeoutMs = 30_000,
): Promise<AgentHealth> {
  let h: AgentHealth | undefined;
  await waitFor(
    `${agent}: ${what}`,
    async () => {
      h = await agentHealth(stack, agent);
      return ok(h);
    },
    { timeoutMs, intervalMs: 20 },
  );
  return h as AgentHealth;
}
