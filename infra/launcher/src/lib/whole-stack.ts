import { DEFAULT_AGENT_PORTS, startFailoverAgents } from './failover';
import { StartServicesOptions } from './full-stack';
import { Stack, StackOptions } from './stack';

export interface WholeStackOptions extends StackOptions {
  /** Instances of every service (default 2). */
  instances?: number;
  /** The failover agents' HTTP ports; omitted: drawn free (the commands pass DEFAULT_AGENT_PORTS). */
  agentPorts?: number[];
  services?: Pick<StartServicesOptions, 'ports' | 'gatewaySyncPort' | 'env'>;
}

/**
 * The whole stack as `npm run stack:up` runs it: the datastores with a 3-member
 * etcd, the two failover agents (first: they publish the topology the services
 * follow), every service behind the gateway. Stops what started on any failure.
 *
 * @example
 *   const stack = await startWholeStack({ stateDir }); // free ports: a test's stack
 *   // demos and scripts attach to it with Stack.attach(stateDir)
 */
export async function startWholeStack(o: WholeStackOptions = {}): Promise<Stack> {
  const stack = await Stack.start({ etcd: true, ...o });
  try {
    const agentPorts = o.agentPorts;
    await startFailoverAgents(stack, {
      count: agentPorts?.length ?? DEFAULT_AGENT_PORTS.length,
      ports: agentPorts,
    });
    await stack.startServices({ instances: o.instances ?? 2, log: o.log, ...o.services });
  } catch (err) {
    o.log?.(`start failed: ${(err as Error).message}; stopping what started`);
    await stack.stop();
    throw err;
  }
  return stack;
}
