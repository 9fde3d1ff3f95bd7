import type { EtcdMemberView, EtcdView } from '../topology/snapshot';
import { errorText, fetchJson } from './http-json';

const hex = (id: unknown) => (id && id !== '0' ? BigInt(String(id)).toString(16) : undefined);

/**
 * The etcd members over their HTTP gateway (`/v3/maintenance/status`,
 * `/health`): each member's id, the leader it follows, its raft term and
 * health. Read-only, no client library needed.
 */
export class EtcdProbe {
  constructor(
    private readonly endpoints: readonly string[],
    private readonly timeoutMs: number,
  ) {}

  async probe(): Promise<EtcdView> {
    const members = await Promise.all(this.endpoints.map((e) => this.one(e)));
    // the leader most members name: a partitioned member may still name an old one
    const votes = new Map<string, number>();
    for (const m of members)
      if (m.leaderId) votes.set(m.leaderId, (votes.get(m.leaderId) ?? 0) + 1);
    const leader = [...votes].sort((x, y) => y[1] - x[1])[0]?.[0];
    return {
      leader,
      members: members.map(({ leaderId: _l, ...m }) => ({
        ...m,
        isLeader: !!m.id && m.id === leader,
      })),
    };
  }

  private async one(endpoint: string): Promise<EtcdMemberView & { leaderId?: string }> {
    const base = endpoint.replace(/\/$/, '');
    try {
      const [status, health] = await Promise.all([
        fetchJson(`${base}/v3/maintenance/status`, this.timeoutMs, { method: 'POST', body: '{}' }),
        fetchJson(`${base}/health`, this.timeoutMs).catch(() => undefined),
      ]);
      const s = status.body as {
        header?: { member_id?: string; raft_term?: string };
        leader?: string;
      };
      return {
        endpoint,
        id: hex(s?.header?.member_id),
        leaderId: hex(s?.leader),
        reachable: true,
        healthy: (health?.body as { health?: string } | undefined)?.health === 'true',
        isLeader: false,
        raftTerm: Number(s?.header?.raft_term ?? 0) || undefined,
      };
    } catch (err) {
      return { endpoint, reachable: false, healthy: false, isLeader: false, error: errorText(err) };
    }
  }
}
