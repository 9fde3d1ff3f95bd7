import { connectRedis } from '@stayline/coordination';
import type Redis from 'ioredis';
import type { RedisNodeView, RedisView, SentinelView } from '../topology/snapshot';
import { errorText } from './http-json';

/** `['flags', 'master', 'ip', '...']` -> `{ flags: 'master', ip: '...' }` (Sentinel's replies). */
export function pairs(reply: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const list = Array.isArray(reply) ? (reply as unknown[]) : [];
  for (let i = 0; i + 1 < list.length; i += 2) out[String(list[i])] = String(list[i + 1]);
  return out;
}

/**
 * Redis as the Sentinels see it: the primary each one names, whether a
 * failover could be authorised (`CKQUORUM`), and the replicas with their link
 * (`SENTINEL REPLICAS`). Asks the Sentinels only: they are the authority on
 * who the Redis primary is, and a probe never connects to a data node.
 */
export class RedisProbe {
  private readonly clients: Array<{ address: string; redis: Redis }>;

  constructor(
    sentinels: ReadonlyArray<{ host: string; port: number }>,
    private readonly masterName: string,
    timeoutMs: number,
    /** The Sentinels' client user: it may ask, never change anything. */
    auth: { sentinelUsername?: string; sentinelPassword?: string } = {},
  ) {
    const login = { username: auth.sentinelUsername, password: auth.sentinelPassword };
    this.clients = sentinels.map((s) => ({
      address: `${s.host}:${s.port}`,
      redis: connectRedis(
        { host: s.host, port: s.port, ...login },
        { commandTimeoutMs: timeoutMs, connectionName: 'dashboard' },
      ),
    }));
  }

  async probe(): Promise<RedisView> {
    const sentinels = await Promise.all(this.clients.map((c) => this.sentinel(c)));
    // the primary most Sentinels name, as a client following Sentinel would pick
    const votes = new Map<string, number>();
    for (const s of sentinels) if (s.master) votes.set(s.master, (votes.get(s.master) ?? 0) + 1);
    const primary = [...votes].sort((x, y) => y[1] - x[1])[0]?.[0];
    const asked = this.clients.find((_, i) => sentinels[i].master === primary);
    const nodes = primary && asked ? await this.nodes(asked.redis, primary).catch(() => []) : [];
    return { masterName: this.masterName, primary, nodes, sentinels };
  }

  close(): void {
    for (const c of this.clients) c.redis.disconnect();
  }

  private async sentinel(c: { address: string; redis: Redis }): Promise<SentinelView> {
    try {
      const addr = (await c.redis.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', this.masterName)) as
        [string, string] | null;
      const quorum = await c.redis
        .call('SENTINEL', 'CKQUORUM', this.masterName)
        .then((r) => String(r).startsWith('OK'))
        .catch(() => false);
      return {
        address: c.address,
        reachable: true,
        master: addr ? `${addr[0]}:${addr[1]}` : undefined,
        quorum,
      };
    } catch (err) {
      return { address: c.address, reachable: false, error: errorText(err) };
    }
  }

  private async nodes(redis: Redis, primary: string): Promise<RedisNodeView[]> {
    const master = pairs(await redis.call('SENTINEL', 'MASTER', this.masterName));
    const replicas = (await redis.call('SENTINEL', 'REPLICAS', this.masterName)) as unknown[];
    const flagsDown = (flags: string) => /s_down|o_down|disconnected/.test(flags);
    return [
      {
        address: primary,
        role: 'primary',
        up: !flagsDown(master.flags ?? ''),
        flags: master.flags ?? '',
      },
      ...replicas.map(pairs).map((r): RedisNodeView => ({
        address: `${r.ip}:${r.port}`,
        role: 'replica',
        up: !flagsDown(r.flags ?? '') && r['master-link-status'] === 'ok',
        flags: r.flags ?? '',
      })),
    ];
  }
}
