/**
 * Fault: the agent cut off from the primary while the replicas still see it.
 * The test puts a TCP proxy of its own between the agent and the primary
 * (MARIADB_VIA) and cuts it: the agent's probes fail, but the replicas' IO
 * threads stay connected, so the primary is healthy and must not be failed over.
 */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePorts } from '@stayline/stack-kit';
import { waitForAgent, writableNodes } from '../testing/nodes';
import { useAgentCluster } from '../testing/agent-cluster';

jest.setTimeout(180_000);

/** A TCP proxy that can be cut: existing connections dropped, new ones left hanging (a partition). */
class CuttableProxy {
  private readonly sockets = new Set<net.Socket>();
  private cut = false;
  readonly server: net.Server;

  constructor(target: { host: string; port: number }) {
    this.server = net.createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.cut) return; // accepted, never answered
      const upstream = net.connect(target.port, target.host);
      this.sockets.add(upstream);
      upstream.on('close', () => this.sockets.delete(upstream));
      upstream.on('error', () => client.destroy());
      client.on('error', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    });
  }

  listen(port: number): Promise<void> {
    return new Promise((resolve) => this.server.listen(port, '127.0.0.1', resolve));
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const s of this.sockets) s.destroy();
  }

  close(): Promise<void> {
    this.setCut(true);
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

let proxy: CuttableProxy | undefined;
const cluster = useAgentCluster({
  // one agent, whose path to the primary goes through the test's proxy
  agents: async (stack) => {
    const primary = stack.mariadb.primary;
    const [port] = await freePorts(1);
    proxy = new CuttableProxy(primary);
    await proxy.listen(port);
    return { count: 1, env: { MARIADB_VIA: `${primary.name}@127.0.0.1:${port}` } };
  },
});
afterAll(() => proxy?.close());

it('does not fail over a healthy primary when only the agent lost its path to it', async () => {
  const { stack, stream: w } = cluster();
  const agent = 'failover-agent-1';
  await waitForAgent(stack, agent, 'the primary up', (h) => h.primary.health === 'up');
  const primary = stack.mariadb.primary.name;
  const primaryId = Number(stack.component(primary).meta?.serverId);

  (proxy as CuttableProxy).setCut(true);
  const cutAt = performance.now();
  const seen = await waitForAgent(
    stack,
    agent,
    'the primary unanswered, unconfirmed',
    (h) => h.primary.health === 'unconfirmed',
  );
  expect(seen.primary).toMatchObject({
    replicas: { 'mariadb-2': 'connected', 'mariadb-3': 'connected' },
  });
  await sleep(5_000); // well past the probe threshold and the replicas' own timeout (2 s)

  const h = await waitForAgent(
    stack,
    agent,
    'still unconfirmed',
    (x) => x.primary.health === 'unconfirmed',
  );
  expect(h.epoch).toBe(1);
  expect(h.lastFailover).toBeUndefined();
  expect(await writableNodes(stack)).toEqual([primary]);
  expect(w.acks.filter((a) => a.sentAt > cutAt && a.servedBy === primaryId).length).toBeGreaterThan(
    20,
  );

  (proxy as CuttableProxy).setCut(false);
  await waitForAgent(stack, agent, 'the primary up again', (x) => x.primary.health === 'up');
  expect(w.errors).toEqual([]);
});
