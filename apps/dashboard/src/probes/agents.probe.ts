import type { AgentHealth } from '@stayline/contracts';
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

/**
 * The failover agents as their `/health` reports them (apps/failover-agent):
 * who leads, with which fencing token, whether one is failing over now, and
 * the last failover or switchover. The agents do not register in discovery,
 * so their addresses are configured.
 */
export class AgentsProbe {
  constructor(
    private readonly agents: ReadonlyArray<{ name: string; host: string; port: number }>,
    private readonly timeoutMs: number,
  ) {}

  async probe(): Promise<AgentsView> {
    const views = await Promise.all(this.agents.map((a) => this.one(a)));
    const leader = views.find((v) => v.role === 'leader');
    return { leader: leader?.id, token: leader?.token, agents: views };
  }

  private async one(a: { name: string; host: string; port: number }): Promise<AgentView> {
    const address = `${a.host}:${a.port}`;
    try {
      const { body } = await fetchJson(`http://${address}/health`, this.timeoutMs);
      const h = body as AgentHealthBody;
      const last = [h.lastFailover, h.lastSwitchover]
        .filter((f) => f !== undefined)
        .sort((x, y) => y.epoch - x.epoch)[0];
      return {
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
    } catch (err) {
      return { id: a.name, address, reachable: false, error: errorText(err) };
    }
  }
}
