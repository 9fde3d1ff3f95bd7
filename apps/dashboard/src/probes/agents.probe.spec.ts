import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AgentHealth, TopologyConcern } from '@stayline/contracts';
import { AgentsProbe } from './agents.probe';

const errant: TopologyConcern = {
  kind: 'errant-gtids',
  node: 'mariadb-1',
  primary: 'mariadb-2',
  gtids: ['0-1-102'],
  since: '2026-11-25T20:00:00.000Z',
  text: 'mariadb-1 is fenced and holds 0-1-102 that mariadb-2 lacks',
};

/** Two agents answering `/health` with whatever `bodies` holds for them now. */
async function agents(bodies: Record<string, Partial<AgentHealth> | undefined>) {
  const servers = await Promise.all(
    Object.keys(bodies).map(async (name) => {
      const server = http.createServer((_req, res) => {
        const body = bodies[name];
        if (!body) res.writeHead(503).end();
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
      await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
      return { name, server, port: (server.address() as AddressInfo).port };
    }),
  );
  const probe = new AgentsProbe(
    servers.map((s) => ({ name: s.name, host: '127.0.0.1', port: s.port })),
    1_000,
  );
  const close = () =>
    Promise.all(servers.map((s) => new Promise((ok) => s.server.close(ok)))).then(() => undefined);
  return { probe, close };
}

describe('AgentsProbe concerns', () => {
  it("takes the leader's, and keeps the last ones while no leader has any to report", async () => {
    const bodies: Record<string, Partial<AgentHealth> | undefined> = {
      'agent-1': { agentId: 'agent-1', role: 'leader', token: 4, concerns: [errant] },
      'agent-2': { agentId: 'agent-2', role: 'follower' },
    };
    const { probe, close } = await agents(bodies);
    try {
      expect(probe.concerns()).toEqual([]);
      const view = await probe.probe();
      expect(view.leader).toBe('agent-1');
      expect(probe.concerns()).toEqual([errant]);
      // the leader gone; then a new one that has not reconciled yet: what was known stands
      bodies['agent-1'] = undefined;
      await probe.probe();
      bodies['agent-2'] = { agentId: 'agent-2', role: 'leader', token: 5 };
      await probe.probe();
      expect(probe.concerns()).toEqual([errant]);
      // its first pass found the node fine again
      bodies['agent-2'] = { ...bodies['agent-2'], concerns: [] };
      await probe.probe();
      expect(probe.concerns()).toEqual([]);
    } finally {
      await close();
    }
  });
});
