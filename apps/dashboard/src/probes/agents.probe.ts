import type { AgentHealth, TopologyConcern } from '@stayline/contracts';
import type { AgentsView, AgentView, FailoverSummary } from '../topology/snapshot';
import { errorText, fetchJson } from './http-json';

/** The fields of an agent's /health the dashboard reads; an old agent may omit some. */
type AgentHealthBody = Partial<AgentHealth>;

const summary = (f?: FailoverSummary): FailoverSummary | undefined =>
  f && {
    kind: f.kind,
    epoch: f.epoch,
    from: f.from,
    to: f.to,
    reason: f.reason,
    totalMs: f.totalMs,
  };

/** The fields of a concern the page shows, in a fixed order (the snapshot is compared as JSON). */
const concern = (c: TopologyConcern): TopologyConcern => ({
  kind: c.kind,
  node: c.node,
  gtids: c.gtids,
  primary: c.primary,
  since: c.since,
  text: c.text,
});

/**
 * The failover agents as their `/health` reports them (apps/failover-agent):
 * who leads, with which fencing token, whether one is failing over now, and
 * the last failover or switchover, and the leader's concerns about the
 * MariaDB nodes. The agents do not register in discovery, so their addresses
 * are configured.
 */
export class AgentsProbe {
  private leaderConcerns: TopologyConcern[] = [];

  constructor(
    private readonly agents: ReadonlyArray<{ name: string; host: string; port: number }>,
    private readonly timeoutMs: number,
  ) {}

  async probe(): Promise<AgentsView> {
    const read = await Promise.all(this.agents.map((a) => this.one(a)));
    const leader = read.find((r) => r.view.role === 'leader');
    // no leader, or one that has not reconciled yet (or an older agent): the last ones stand
    if (leader?.concerns) this.leaderConcerns = leader.concerns;
    const views = read.map((r) => r.view);
    return { leader: leader?.view.id, token: leader?.view.token, agents: views };
  }

  /**
   * The MariaDB concerns the leader reported on the last probe that had them
   * (`errant-gtids` and others); empty until one did.
   */
  concerns(): TopologyConcern[] {
    return this.leaderConcerns;
  }

  private async one(a: {
    name: string;
    host: string;
    port: number;
  }): Promise<{ view: AgentView; concerns?: TopologyConcern[] }> {
    const address = `${a.host}:${a.port}`;
    try {
      const { body } = await fetchJson(`http://${address}/health`, this.timeoutMs);
      const h = body as AgentHealthBody;
      const last = [h.lastFailover, h.lastSwitchover]
        .filter((f) => f !== undefined)
        .sort((x, y) => y.epoch - x.epoch)[0];
      const view: AgentView = {
        id: h.agentId ?? a.name,
        address,
        reachable: true,
        role: h.role,
        token: h.role === 'leader' ? h.token : undefined,
        epoch: h.epoch,
        acting: h.acting,
        degraded: h.degraded?.length ? h.degraded : undefined,
        lastFailover: summary(last),
      };
      return { view, concerns: Array.isArray(h.concerns) ? h.concerns.map(concern) : undefined };
    } catch (err) {
      return { view: { id: a.name, address, reachable: false, error: errorText(err) } };
    }
  }
}
