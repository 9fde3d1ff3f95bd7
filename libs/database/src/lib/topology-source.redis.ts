/**
 * The MariaDB topology in the coordinator's Redis (docs/patterns/failover.md):
 * one hash holding the topology's JSON, its epoch and the publisher's fencing
 * token; replaced only by a Lua compare-and-set (the epoch the publisher based
 * its change on, and a token not older than the last one recorded), then
 * `WAIT 1` so a Redis failover cannot roll it back; every change is pushed over
 * pub/sub and watchers reread it periodically and after every reconnect.
 */
import { TOPOLOGY_KEY } from '@stayline/contracts';
import Redis from 'ioredis';
import {
  connectRedis,
  CoordinationLogger,
  LuaScript,
  preloadScripts,
  RedisTarget,
  ResyncedWatch,
  silentLogger,
  SubscriberHub,
} from '@stayline/coordination';
import { describeTopology, parseTopology, Topology } from './topology';
import {
  PublishedTopology,
  PublishOptions,
  PublishOutcome,
  TopologyConflictError,
  TopologyListener,
  TopologySource,
} from './topology-source';

/**
 * KEYS hash; ARGV expected epoch, new epoch, JSON, token, publisher, time, channel.
 * Returns {1, 'published'|'unchanged', epoch, token} or {0, reason, epoch, last token}.
 */
const PUBLISH = new LuaScript(
  'topology.publish',
  `local cur = redis.call('HMGET', KEYS[1], 'epoch', 'json', 'token')
local epoch = tonumber(cur[1] or '0')
local last = tonumber(cur[3] or '0')
local token = tonumber(ARGV[4])
if token < last then return {0, 'stale-token', epoch, last} end
if cur[2] == ARGV[3] then
  if token > last then redis.call('HSET', KEYS[1], 'token', ARGV[4]) end
  return {1, 'unchanged', epoch, token}
end
if epoch ~= tonumber(ARGV[1]) or tonumber(ARGV[2]) <= epoch then return {0, 'stale-epoch', epoch, last} end
redis.call('HSET', KEYS[1], 'epoch', ARGV[2], 'json', ARGV[3], 'token', ARGV[4], 'by', ARGV[5], 'at', ARGV[6])
redis.call('PUBLISH', ARGV[7], ARGV[3])
return {1, 'published', tonumber(ARGV[2]), token}`,
);

export interface RedisTopologySourceOptions {
  redis: RedisTarget;
  /** The hash's key; its pub/sub channel is `<key>:events`. Default `stayline:topology:mariadb`. */
  key?: string;
  /** Full reread period of watchers. Default 2000 ms. */
  resyncMs?: number;
  /** How long a publish waits for a Redis replica's acknowledgement. Default 500 ms. */
  ackTimeoutMs?: number;
  /** Per-command timeout. Default 1000 ms. */
  commandTimeoutMs?: number;
  logger?: CoordinationLogger;
}

export class RedisTopologySource implements TopologySource {
  private readonly key: string;
  private readonly channel: string;
  private readonly logger: CoordinationLogger;
  private commands?: Redis;
  private durable?: Redis;
  private hub?: SubscriberHub;
  private readonly watches = new Set<ResyncedWatch>();

  constructor(private readonly o: RedisTopologySourceOptions) {
    this.key = o.key ?? TOPOLOGY_KEY;
    this.channel = `${this.key}:events`;
    this.logger = o.logger ?? silentLogger;
  }

  async current(): Promise<PublishedTopology | undefined> {
    const [json, token, by, at] = await this.redis().hmget(this.key, 'json', 'token', 'by', 'at');
    if (!json) return undefined;
    return {
      topology: parseTopology(JSON.parse(json) as Topology),
      token: Number(token ?? 0),
      publishedBy: by ?? '',
      publishedAt: at ?? '',
    };
  }

  async publish(next: Topology, o: PublishOptions): Promise<PublishOutcome> {
    const topology = parseTopology(next);
    const json = JSON.stringify(topology);
    this.durable ??= this.connect('topology-publish', true);
    const reply = await PUBLISH.run<[number, string, number, number]>(
      this.durable,
      [this.key],
      [
        o.expectedEpoch,
        topology.epoch,
        json,
        o.token,
        o.publisher,
        new Date().toISOString(),
        this.channel,
      ],
    );
    const [ok, what, epoch, token] = reply;
    if (ok !== 1) throw new TopologyConflictError(what as never, Number(epoch), Number(token));
    const durable = (await this.durable.wait(1, this.o.ackTimeoutMs ?? 500)) >= 1;
    const result = what === 'unchanged' ? 'unchanged' : 'published';
    this.logger.info(
      { epoch: topology.epoch, token: o.token, durable, result },
      `topology ${result}: ${describeTopology(topology)}`,
    );
    return { result, durable };
  }

  async watch(listener: TopologyListener): Promise<() => Promise<void>> {
    let epoch = -1;
    const deliver = (t: Topology) => {
      if (t.epoch <= epoch) return;
      epoch = t.epoch;
      listener(t);
    };
    this.hub ??= new SubscriberHub(this.connect('topology-watch'));
    const watch = new ResyncedWatch({
      hub: this.hub,
      channel: this.channel,
      resyncMs: this.o.resyncMs ?? 2_000,
      logger: this.logger,
      load: async () => {
        const now = await this.current();
        if (now) deliver(now.topology);
      },
      apply: (message) => {
        try {
          deliver(parseTopology(JSON.parse(message) as Topology));
        } catch (err) {
          // the next resync reads the truth
          this.logger.warn({ err: (err as Error).message }, 'unusable topology message');
        }
      },
    });
    await watch.start();
    this.watches.add(watch);
    return async () => {
      this.watches.delete(watch);
      await watch.stop();
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.watches].map((w) => w.stop()));
    this.watches.clear();
    this.hub?.close();
    this.commands?.disconnect();
    this.durable?.disconnect();
  }

  private redis(): Redis {
    this.commands ??= this.connect('topology', true);
    return this.commands;
  }

  private connect(role: string, scripts = false): Redis {
    const redis = connectRedis(this.o.redis, {
      connectionName: `stayline-${role}-${process.pid}`,
      commandTimeoutMs: this.o.commandTimeoutMs,
      logger: this.logger,
    });
    if (scripts) preloadScripts(redis, [PUBLISH]);
    return redis;
  }
}
