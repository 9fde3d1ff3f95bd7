/**
 * Feature flags on Redis (docs/patterns/coordinator.md): a hash of name ->
 * JSON value plus a version counter. A write is one Lua step (set, bump the
 * version, publish the change) followed by `WAIT 1`, and is acknowledged only
 * if a replica has it. Watchers apply pushed changes as they come and reread
 * everything periodically and after every reconnect.
 */
import Redis from 'ioredis';
import { CoordinationLogger, silentLogger } from '../logger';
import { LuaScript } from '../redis/lua-script';
import { ResyncedWatch } from '../redis/resynced-watch';
import { SubscriberHub } from '../redis/subscriber-hub';
import { FlagListener, FlagStore, FlagWriteNotDurableError } from './flag-store';
import { assertFlagName, FlagSnapshot, flagValueSchema, FlagValue } from './flag-value';

/** KEYS hash, version; ARGV name, JSON ('' deletes), channel. Publishes `version|name|json`. */
const WRITE = new LuaScript(
  'flags.write',
  `if ARGV[2] == '' then redis.call('HDEL', KEYS[1], ARGV[1]) else redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[3], v .. '|' .. ARGV[1] .. '|' .. ARGV[2])
return v`,
);

/** KEYS hash, version. One consistent read: {version, name, json, name, json...}. */
const LOAD = new LuaScript(
  'flags.load',
  `local out = { tonumber(redis.call('GET', KEYS[2]) or '0') }
for _, x in ipairs(redis.call('HGETALL', KEYS[1])) do table.insert(out, x) end
return out`,
);

/** The scripts of the flag store, to preload. */
export const FLAG_SCRIPTS = [WRITE, LOAD];

export interface RedisFlagStoreOptions {
  /** Key prefix, e.g. `stayline:coord:flags`. */
  key: string;
  /** How long a write waits for a replica's acknowledgement. Default 500 ms. */
  ackTimeoutMs?: number;
  /** Full reread period of watchers. Default 5000 ms. */
  resyncMs?: number;
  logger?: CoordinationLogger;
}

export class RedisFlagStore implements FlagStore {
  private readonly logger: CoordinationLogger;

  constructor(
    private readonly redis: Redis,
    /** Writes wait on WAIT: a connection of their own keeps them from stalling renewals. */
    private readonly durable: Redis,
    private readonly hub: () => SubscriberHub,
    private readonly options: RedisFlagStoreOptions,
  ) {
    this.logger = options.logger ?? silentLogger;
  }

  async load(): Promise<FlagSnapshot> {
    const reply = await LOAD.runReadOnly<Array<number | string>>(this.redis, this.keys(), []);
    const flags: Record<string, FlagValue> = {};
    for (let i = 1; i < reply.length; i += 2) {
      const parsed = this.parse(String(reply[i]), String(reply[i + 1]));
      if (parsed) flags[String(reply[i])] = parsed;
    }
    return { version: Number(reply[0]), flags };
  }

  async write(name: string, value: FlagValue | null): Promise<number> {
    assertFlagName(name);
    const json = value === null ? '' : JSON.stringify(flagValueSchema.parse(value));
    const version = await WRITE.run<number>(this.durable, this.keys(), [
      name,
      json,
      this.channel(),
    ]);
    const ackTimeoutMs = this.options.ackTimeoutMs ?? 500;
    const acked = await this.durable.wait(1, ackTimeoutMs);
    if (acked < 1) throw new FlagWriteNotDurableError(name, ackTimeoutMs);
    this.logger.info({ flag: name, value, version }, 'flag written');
    return version;
  }

  async watch(listener: FlagListener): Promise<() => Promise<void>> {
    let current: FlagSnapshot = { version: 0, flags: {} };
    let delivered = false;
    const publish = (next: FlagSnapshot, changed: string[]) => {
      current = next;
      if (changed.length || !delivered) listener(next, changed);
      delivered = true;
    };
    const watch = new ResyncedWatch({
      hub: this.hub(),
      channel: this.channel(),
      resyncMs: this.options.resyncMs ?? 5_000,
      logger: this.logger,
      load: async () => {
        const next = await this.load();
        const names = new Set([...Object.keys(current.flags), ...Object.keys(next.flags)]);
        const changed = [...names].filter(
          (n) => JSON.stringify(current.flags[n]) !== JSON.stringify(next.flags[n]),
        );
        publish(next, changed);
      },
      apply: (message) => {
        const [v, name, json] = splitMessage(message);
        const flags = { ...current.flags };
        const parsed = json ? this.parse(name, json) : undefined;
        if (json && !parsed) return;
        if (parsed) flags[name] = parsed;
        else delete flags[name];
        publish({ version: Math.max(current.version, Number(v)), flags }, [name]);
      },
    });
    await watch.start();
    return () => watch.stop();
  }

  private parse(name: string, json: string): FlagValue | undefined {
    try {
      return flagValueSchema.parse(JSON.parse(json));
    } catch (err) {
      this.logger.warn(
        { flag: name, json, err: (err as Error).message },
        'ignoring an invalid flag value',
      );
      return undefined;
    }
  }

  private keys(): string[] {
    return [this.options.key, `${this.options.key}:version`];
  }

  private channel(): string {
    return `${this.options.key}:events`;
  }
}

/** `version|name|json`: the name has no `|`; the JSON may. */
function splitMessage(message: string): [string, string, string] {
  const a = message.indexOf('|');
  const b = message.indexOf('|', a + 1);
  return [message.slice(0, a), message.slice(a + 1, b), message.slice(b + 1)];
}
