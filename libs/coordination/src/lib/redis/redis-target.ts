import Redis, { RedisOptions } from 'ioredis';
import { CoordinationLogger, silentLogger } from '../logger';

/**
 * Where the coordinator's Redis lives: behind Sentinel (the production shape:
 * ioredis asks the Sentinels for the current primary and follows a failover)
 * or one node directly (tests of a single Redis, local experiments).
 * See docs/patterns/coordinator.md.
 */
export type RedisTarget =
  | ({ sentinels: Array<{ host: string; port: number }>; masterName: string } & RedisAuth &
      SentinelAuth)
  | ({ host: string; port: number } & RedisAuth);

/** The ACL user a client logs in to the Redis data nodes as (see acl.ts for the roles). */
export interface RedisAuth {
  username?: string;
  password?: string;
}

/** The user a client logs in to the Sentinels as. */
export interface SentinelAuth {
  sentinelUsername?: string;
  sentinelPassword?: string;
}

export interface RedisConnectionOptions {
  /** A command that gets no answer within this time fails (default 1000 ms): a frozen primary must not hang renewals. */
  commandTimeoutMs?: number;
  /** `CLIENT SETNAME`, visible in `CLIENT LIST`. */
  connectionName?: string;
  logger?: CoordinationLogger;
}

/**
 * Parses `redis-sentinel://host:port,host:port/masterName` or `redis://host:port`
 * (a user and password go before the hosts: `redis-sentinel://user:secret@h:p/name`; they
 * are the data nodes' user, the Sentinels' is set apart).
 */
export function parseRedisTarget(url: string): RedisTarget {
  const m = /^(redis|redis-sentinel):\/\/(?:([^:@/]*):([^@]*)@)?([^/]+?)(?:\/([^/]+))?\/?$/.exec(
    url.trim(),
  );
  if (!m)
    throw new Error(
      `not a Redis target: ${url} (expected redis://host:port or redis-sentinel://h:p,h:p/master)`,
    );
  const [, scheme, username, password, hosts, masterName] = m;
  const nodes = hosts.split(',').map((hp) => {
    const i = hp.lastIndexOf(':');
    const port = Number(hp.slice(i + 1));
    if (i <= 0 || !Number.isInteger(port) || port <= 0)
      throw new Error(`bad host:port "${hp}" in ${url}`);
    return { host: hp.slice(0, i), port };
  });
  const auth = {
    ...(username ? { username: decodeURIComponent(username) } : {}),
    ...(password ? { password: decodeURIComponent(password) } : {}),
  };
  if (scheme === 'redis') {
    if (nodes.length !== 1) throw new Error(`redis:// takes exactly one host:port: ${url}`);
    return { ...nodes[0], ...auth };
  }
  if (!masterName) throw new Error(`redis-sentinel:// needs the master name as path: ${url}`);
  return { sentinels: nodes, masterName, ...auth };
}

/**
 * The logins in the environment (`REDIS_USERNAME`, `REDIS_PASSWORD`,
 * `REDIS_SENTINEL_USERNAME`, `REDIS_SENTINEL_PASSWORD`, the services' settings):
 * for a process given a target's URL, which carries no Sentinel login.
 */
export function redisAuthFromEnv(env: NodeJS.ProcessEnv = process.env): RedisAuth & SentinelAuth {
  const pick = (k: string) => (env[k] ? env[k] : undefined);
  const out: RedisAuth & SentinelAuth = {
    username: pick('REDIS_USERNAME'),
    password: pick('REDIS_PASSWORD'),
    sentinelUsername: pick('REDIS_SENTINEL_USERNAME'),
    sentinelPassword: pick('REDIS_SENTINEL_PASSWORD'),
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** The inverse of {@link parseRedisTarget} (without the password): for logs and child processes. */
export function formatRedisTarget(target: RedisTarget): string {
  if ('sentinels' in target) {
    return `redis-sentinel://${target.sentinels.map((s) => `${s.host}:${s.port}`).join(',')}/${target.masterName}`;
  }
  return `redis://${target.host}:${target.port}`;
}

/**
 * An ioredis client that does not give up: ioredis can end a Sentinel
 * connection for good ("Connection is closed.", status `end`) when its failover
 * detector drops the connection while a reconnect is still asking the Sentinels
 * for the primary (see redis/ioredis#1683). Unless we closed it, connect again.
 */
class PersistentRedis extends Redis {
  private closedByUs = false;

  override disconnect(reconnect = false): void {
    if (!reconnect) this.closedByUs = true;
    super.disconnect(reconnect);
  }

  override quit(...args: Parameters<Redis['quit']>): ReturnType<Redis['quit']> {
    this.closedByUs = true;
    return super.quit(...args);
  }

  /** Called on `end`: reconnects unless the end was asked for. */
  reviveUnlessClosed(logger: CoordinationLogger, name?: string): void {
    if (this.closedByUs) return;
    logger.warn({ connection: name }, 'ioredis ended the connection by itself; connecting again');
    const timer = setTimeout(() => void this.connect().catch(() => undefined), 200);
    timer.unref();
  }
}

/**
 * Opens an ioredis connection that rides through a Sentinel failover: it reconnects
 * quickly (50 ms steps, at most 500 ms apart), asks the Sentinels for the new
 * primary, and with the failover detector drops a connection to a demoted primary
 * as soon as a Sentinel announces `+switch-master`.
 */
export function connectRedis(target: RedisTarget, options: RedisConnectionOptions = {}): Redis {
  const logger = options.logger ?? silentLogger;
  const retry = (attempt: number) => Math.min(50 * attempt, 500);
  const common: RedisOptions = {
    username: target.username,
    password: target.password,
    connectionName: options.connectionName,
    commandTimeout: options.commandTimeoutMs ?? 1_000,
    connectTimeout: 1_000,
    retryStrategy: retry,
    maxRetriesPerRequest: 1,
    enableAutoPipelining: false,
  };
  const redis =
    'sentinels' in target
      ? new PersistentRedis({
          ...common,
          sentinels: target.sentinels,
          sentinelUsername: target.sentinelUsername,
          sentinelPassword: target.sentinelPassword,
          name: target.masterName,
          role: 'master',
          sentinelRetryStrategy: retry,
          failoverDetector: true,
        })
      : new PersistentRedis({ ...common, host: target.host, port: target.port });
  let lastError = '';
  redis.on('error', (err: Error) => {
    // ioredis reports every failed reconnect attempt; one line per distinct error is enough
    if (err.message !== lastError) {
      logger.warn(
        { err: err.message, connection: options.connectionName },
        'redis connection error',
      );
    }
    lastError = err.message;
  });
  redis.on('ready', () => {
    lastError = '';
  });
  redis.on('end', () => redis.reviveUnlessClosed(logger, options.connectionName));
  observeResentCommands(redis);
  return redis;
}

/**
 * After a reconnect ioredis sends SELECT and the SUBSCRIBEs again itself, and
 * drops the promises (redis/built/redis/event_handler.js, readyHandler): when
 * one of them fails (a Redis that answers nothing times it out), the rejection
 * is unhandled and Node ends the process. Every call of these commands gets an
 * observer here; a caller awaiting one still sees it fail.
 */
function observeResentCommands(redis: Redis): void {
  for (const name of ['select', 'subscribe', 'psubscribe', 'ssubscribe'] as const) {
    const original = (redis[name] as (...args: unknown[]) => Promise<unknown>).bind(redis);
    Object.defineProperty(redis, name, {
      configurable: true,
      writable: true,
      value: (...args: unknown[]) => {
        const sent = original(...args);
        sent.catch(() => undefined);
        return sent;
      },
    });
  }
}
