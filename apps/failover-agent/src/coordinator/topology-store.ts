/**
 * What the failover agents keep in the coordinator (docs/patterns/failover.md):
 * the published topology (compare-and-set, in @stayline/database), the intent
 * of a failover in progress (so a leader that dies half-way is succeeded by one
 * that finishes the same promotion instead of starting another), and the
 * membership of the cluster (nodes added at run time by `stack:add-replica`).
 */
import { connectRedis, CoordinationLogger, LuaScript, RedisTarget } from '@stayline/coordination';
import { NodeAddress, Topology, TOPOLOGY_KEY } from '@stayline/contracts';
import {
  PublishedTopology,
  PublishOutcome,
  RedisTopologySource,
  TopologyListener,
} from '@stayline/database';
import Redis from 'ioredis';
import { z } from 'zod';

/** A failover (or switchover) decided and not yet published. */
export interface FailoverIntent {
  /** The epoch it replaces. */
  basedOn: number;
  candidate: string;
  from: string;
  token: number;
  agent: string;
  at: string;
}

/** KEYS topology hash, intent; ARGV token, JSON. Refused (0) for a token older than the last published or intended. */
const SET_INTENT = new LuaScript(
  'failover.intent',
  `local token = tonumber(ARGV[1])
if token < tonumber(redis.call('HGET', KEYS[1], 'token') or '0') then return 0 end
local cur = redis.call('GET', KEYS[2])
if cur and token < tonumber(cjson.decode(cur).token) then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
return 1`,
);

/** KEYS topology hash; ARGV token. Raises the recorded token (1); refuses an older one or a missing topology (0). */
const CLAIM = new LuaScript(
  'failover.claim',
  `if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(ARGV[1]) <= tonumber(redis.call('HGET', KEYS[1], 'token') or '0') then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[1])
return 1`,
);

const address = z.object({
  name: z.string().regex(/^[\w.-]{1,64}$/),
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535),
});

export class TopologyStore {
  readonly source: RedisTopologySource;
  private readonly redis: Redis;
  private readonly key = TOPOLOGY_KEY;

  constructor(
    target: RedisTarget,
    private readonly logger: CoordinationLogger,
  ) {
    this.source = new RedisTopologySource({ redis: target, logger, resyncMs: 1_000 });
    this.redis = connectRedis(target, {
      connectionName: `stayline-failover-agent-${process.pid}`,
      logger,
    });
  }

  current(): Promise<PublishedTopology | undefined> {
    return this.source.current();
  }

  watch(listener: TopologyListener): Promise<() => Promise<void>> {
    return this.source.watch(listener);
  }

  /**
   * Publishes by compare-and-set, then publishes again (a no-op) until a Redis
   * replica acknowledged it or `durableWithinMs` passed.
   */
  async publish(
    next: Topology,
    o: { expectedEpoch: number; token: number; publisher: string; durableWithinMs?: number },
  ): Promise<PublishOutcome> {
    let outcome = await this.source.publish(next, o);
    const until = performance.now() + (o.durableWithinMs ?? 3_000);
    while (!outcome.durable && performance.now() < until) {
      await new Promise((r) => setTimeout(r, 100));
      outcome = await this.source.publish(next, o).catch(() => outcome);
    }
    if (!outcome.durable)
      this.logger.warn(
        { epoch: next.epoch },
        'topology published but no Redis replica acknowledged it yet: a Redis failover now could roll it back',
      );
    return outcome;
  }

  /**
   * Records a new leader's fencing token on the published topology, which stays
   * as it is: from then on a deposed leader's late publish or intent is refused
   * for its token, not only by the epoch compare-and-set. False when there is
   * no topology yet, or a newer leader already recorded a larger token.
   */
  async claim(token: number): Promise<boolean> {
    const ok = await CLAIM.run<number>(this.redis, [this.key], [token]);
    if (ok === 1) await this.redis.wait(1, 500);
    return ok === 1;
  }

  async intent(): Promise<FailoverIntent | undefined> {
    const raw = await this.redis.get(`${this.key}:intent`);
    return raw ? (JSON.parse(raw) as FailoverIntent) : undefined;
  }

  /** Records the intent (acknowledged by a Redis replica when one is there); false if a newer leader holds it. */
  async setIntent(intent: FailoverIntent): Promise<boolean> {
    const ok = await SET_INTENT.run<number>(
      this.redis,
      [this.key, `${this.key}:intent`],
      [intent.token, JSON.stringify(intent)],
    );
    if (ok === 1) await this.redis.wait(1, 500);
    return ok === 1;
  }

  async clearIntent(): Promise<void> {
    await this.redis.del(`${this.key}:intent`);
  }

  /** Nodes added at run time (besides the configured ones). */
  async members(): Promise<NodeAddress[]> {
    const all = await this.redis.hgetall(`${this.key}:members`);
    return Object.values(all).flatMap((json) => {
      const parsed = address.safeParse(JSON.parse(json));
      return parsed.success ? [parsed.data] : [];
    });
  }

  async addMember(node: NodeAddress): Promise<void> {
    const checked = address.parse(node);
    await this.redis.hset(`${this.key}:members`, checked.name, JSON.stringify(checked));
    await this.redis.wait(1, 500);
  }

  async close(): Promise<void> {
    await this.source.close();
    this.redis.disconnect();
  }
}
