/**
 * The fault tests' fixture: a launcher stack (MariaDB primary + 2 replicas,
 * Redis + 3 Sentinels), the failover agents, and a write stream whose router
 * follows the published topology; stopped (no process left) after the file.
 */
import {
  Stack,
  StartAgentsOptions,
  startFailoverAgents,
  startService,
  startStack,
} from '@stayline/stack-kit';
import { WriteStream } from '@stayline/fault-kit';

export interface AgentCluster {
  stack: Stack;
  stream: WriteStream;
}

export interface AgentClusterOptions {
  /** How to start the agents; a function sees the stack first (to put a proxy in front of a node). */
  agents?: StartAgentsOptions | ((stack: Stack) => Promise<StartAgentsOptions>);
  /** Writers of the stream. Default 4. */
  writers?: number;
  /**
   * An auth instance too: the agents' admin routes take an operator's token
   * (scope `admin`), logged in on it and verified with the keys it publishes.
   */
  auth?: boolean;
  /** Whatever else the test needs started once the agents run (a service instance...). */
  then?: (stack: Stack) => Promise<void>;
}

/** Declares the file's beforeAll/afterAll; the returned function gives the running cluster. */
export function useAgentCluster(o: AgentClusterOptions = {}): () => AgentCluster {
  let cluster: Partial<AgentCluster> = {};
  beforeAll(async () => {
    const stack = await startStack({ replicas: 2, nginx: false });
    cluster.stack = stack;
    if (o.auth) await startService(stack, { service: 'auth', tcpPort: 'none' });
    const agents = typeof o.agents === 'function' ? await o.agents(stack) : o.agents;
    await startFailoverAgents(stack, agents);
    await o.then?.(stack);
    cluster.stream = await WriteStream.start(stack, { concurrency: o.writers });
  });
  afterAll(async () => {
    await cluster.stream?.stop();
    await cluster.stack?.stop();
    cluster = {};
  });
  return () => {
    if (!cluster.stack || !cluster.stream) throw new Error('the cluster did not start');
    return cluster as AgentCluster;
  };
}
