import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { waitFor } from './wait';
import { which } from './binaries';
import { ProcessSpec } from './process';

/**
 * Redis primary + replica watched by three Sentinels (quorum 2, down-after 1 s):
 * Sentinel does Redis failover. See docs/patterns/failover.md.
 */
export const SENTINEL_MASTER_NAME = 'stayline';
export const SENTINEL_QUORUM = 2;
export const SENTINEL_DOWN_AFTER_MS = 1_000;
export const SENTINEL_FAILOVER_TIMEOUT_MS = 5_000;

export interface RedisNode {
  name: string;
  host: string;
  port: number;
  dir: string;
}

/**
 * A Redis server without persistence. It must only ever be (re)started as a
 * replica of the current primary: started empty as a primary, its replicas
 * would copy the empty data set.
 */
export function redisSpec(
  node: RedisNode,
  replicaOf?: { host: string; port: number },
): ProcessSpec {
  fs.mkdirSync(node.dir, { recursive: true });
  return {
    command: which('redis-server'),
    args: [
      '--port',
      String(node.port),
      '--bind',
      node.host,
      '--dir',
      node.dir,
      '--save',
      '',
      '--appendonly',
      'no',
      '--daemonize',
      'no',
      '--protected-mode',
      'no',
      '--repl-diskless-sync',
      'yes',
      '--repl-diskless-sync-delay',
      '0',
      '--replica-announce-ip',
      node.host,
      '--pidfile',
      path.join(node.dir, 'redis.pid'),
      '--logfile',
      path.join(node.dir, 'redis.log'),
      ...(replicaOf ? ['--replicaof', replicaOf.host, String(replicaOf.port)] : []),
    ],
    logFile: path.join(node.dir, 'stdout.log'),
  };
}

/** A Sentinel with a freshly written config file (Sentinel rewrites its config as it learns). */
export function sentinelSpec(
  node: RedisNode,
  primary: { host: string; port: number },
): ProcessSpec {
  fs.rmSync(node.dir, { recursive: true, force: true });
  fs.mkdirSync(node.dir, { recursive: true });
  const conf = path.join(node.dir, 'sentinel.conf');
  fs.writeFileSync(
    conf,
    [
      `port ${node.port}`,
      `bind ${node.host}`,
      'daemonize no',
      'protected-mode no',
      `dir ${node.dir}`,
      `pidfile ${path.join(node.dir, 'sentinel.pid')}`,
      `logfile ${path.join(node.dir, 'sentinel.log')}`,
      `sentinel announce-ip ${node.host}`,
      `sentinel monitor ${SENTINEL_MASTER_NAME} ${primary.host} ${primary.port} ${SENTINEL_QUORUM}`,
      `sentinel down-after-milliseconds ${SENTINEL_MASTER_NAME} ${SENTINEL_DOWN_AFTER_MS}`,
      `sentinel failover-timeout ${SENTINEL_MASTER_NAME} ${SENTINEL_FAILOVER_TIMEOUT_MS}`,
      `sentinel parallel-syncs ${SENTINEL_MASTER_NAME} 1`,
      '',
    ].join('\n'),
  );
  return {
    command: which('redis-sentinel'),
    args: [conf],
    logFile: path.join(node.dir, 'stdout.log'),
  };
}

export function redisClient(node: { host: string; port: number }): Redis {
  return new Redis({
    host: node.host,
    port: node.port,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
}

/** Runs one command on a fresh connection and closes it. */
export async function redisCommand<T = unknown>(
  node: { host: string; port: number },
  ...args: string[]
): Promise<T> {
  const client = redisClient(node);
  try {
    await client.connect();
    return (await client.call(args[0], ...args.slice(1))) as T;
  } finally {
    client.disconnect();
  }
}

export async function waitRedisReady(node: RedisNode, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `${node.name} to answer PING`,
    async () => (await redisCommand(node, 'PING')) === 'PONG',
    {
      timeoutMs,
    },
  );
}

/** Parses `INFO replication` into a record. */
export async function replicationInfo(node: {
  host: string;
  port: number;
}): Promise<Record<string, string>> {
  const text = await redisCommand<string>(node, 'INFO', 'replication');
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

export async function waitRedisLinked(replica: RedisNode, timeoutMs = 15_000): Promise<void> {
  await waitFor(
    `${replica.name} to sync from its primary`,
    async () => (await replicationInfo(replica)).master_link_status === 'up',
    { timeoutMs },
  );
}

/** Waits until every Sentinel knows the primary and the others, so a failover could be authorised. */
export async function waitSentinelQuorum(
  sentinels: RedisNode[],
  timeoutMs = 20_000,
): Promise<void> {
  await waitFor(
    'Sentinels to see each other and reach a quorum',
    async () => {
      for (const s of sentinels) {
        const reply = await redisCommand<string>(s, 'SENTINEL', 'CKQUORUM', SENTINEL_MASTER_NAME);
        if (!reply.includes(`${sentinels.length} usable`)) return false;
      }
      return true;
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** The primary's address as one Sentinel sees it. */
export async function sentinelMaster(sentinel: {
  host: string;
  port: number;
}): Promise<{ host: string; port: number }> {
  const [host, port] = await redisCommand<[string, string]>(
    sentinel,
    'SENTINEL',
    'GET-MASTER-ADDR-BY-NAME',
    SENTINEL_MASTER_NAME,
  );
  return { host, port: Number(port) };
}
