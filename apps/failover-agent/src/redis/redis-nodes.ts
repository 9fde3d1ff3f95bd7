/**
 * The Redis nodes as the agent sees them, for their registration in discovery:
 * each node's own `ROLE` (Sentinel fails Redis over; the agent only reports).
 */
import type { NodeAddress } from '@stayline/database';
import Redis from 'ioredis';
import type { RedisAuth } from '@stayline/coordination';

export type RedisRole = 'primary' | 'replica' | 'down';

export class RedisNodes {
  private readonly conns = new Map<string, Redis>();

  constructor(
    private readonly nodes: NodeAddress[],
    /** The agents' Redis user: ROLE is in its rights (libs/coordination/src/lib/redis/acl.ts). */
    private readonly auth: RedisAuth = {},
  ) {}

  get all(): readonly NodeAddress[] {
    return this.nodes;
  }

  /** Every node's role now (`down` when it does not answer within 500 ms). */
  async roles(): Promise<Record<string, RedisRole>> {
    const answers = await Promise.all(
      this.nodes.map(async (n) => {
        try {
          const role = (await this.conn(n).call('ROLE')) as [string, ...unknown[]];
          return [n.name, role[0] === 'master' ? 'primary' : 'replica'] as const;
        } catch {
          return [n.name, 'down'] as const;
        }
      }),
    );
    return Object.fromEntries(answers);
  }

  close(): void {
    for (const c of this.conns.values()) c.disconnect();
    this.conns.clear();
  }

  private conn(n: NodeAddress): Redis {
    let c = this.conns.get(n.name);
    if (!c) {
      c = new Redis({
        host: n.host,
        port: n.port,
        username: this.auth.username,
        password: this.auth.password,
        connectionName: `stayline-failover-agent-probe-${process.pid}`,
        enableOfflineQueue: false, // a down node fails the probe at once
        maxRetriesPerRequest: 0,
        commandTimeout: 500,
        connectTimeout: 500,
        retryStrategy: () => 250,
      });
      c.on('error', () => undefined);
      this.conns.set(n.name, c);
    }
    return c;
  }
}
