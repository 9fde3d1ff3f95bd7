import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import {
  redisReplicationAuthLines,
  renderRedisAclFile,
  sentinelAuthLines,
  REDIS_USERS,
} from '@stayline/contracts';
import { credentialsFromEnv, StackCredentials } from './credentials';
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
 * Files that hold passwords are their owner's alone, and so are the directories
 * they sit in: Redis (CONFIG REWRITE) and Sentinel rewrite their config files
 * under their own umask.
 */
export const SECRET_FILE_MODE = 0o600;
export const SECRET_DIR_MODE = 0o700;

function writeSecretFile(file: string, text: string): void {
  fs.rmSync(file, { force: true }); // a left-over keeps its mode: start from a new file
  fs.writeFileSync(file, text, { mode: SECRET_FILE_MODE, flag: 'wx' });
}

/**
 * A Redis server without persistence. It must only ever be (re)started as a
 * replica of the current primary: started empty as a primary, its replicas
 * would copy the empty data set. Its users are the ACL table's
 * (libs/coordination/src/lib/redis/acl.ts): `<dir>/users.acl`, and `<dir>/redis.conf`
 * names that file and how a replica logs in to its primary; both mode 0600.
 */
export function redisSpec(
  node: RedisNode,
  replicaOf?: { host: string; port: number },
  credentials: StackCredentials = credentialsFromEnv(),
): ProcessSpec {
  fs.mkdirSync(node.dir, { recursive: true });
  fs.chmodSync(node.dir, SECRET_DIR_MODE);
  const aclFile = path.join(node.dir, 'users.acl');
  const conf = path.join(node.dir, 'redis.conf');
  writeSecretFile(aclFile, renderRedisAclFile(credentials.redis));
  writeSecretFile(
    conf,
    [`aclfile ${aclFile}`, ...redisReplicationAuthLines(credentials.redis.replica), ''].join('\n'),
  );
  return {
    command: which('redis-server'),
    args: [
      conf,
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

/**
 * A Sentinel with a freshly written config file (Sentinel rewrites its config as
 * it learns), mode 0600: it logs in to the data nodes as the Sentinel user, to
 * the other Sentinels as the admin, and has users of its own (the default one off).
 */
export function sentinelSpec(
  node: RedisNode,
  primary: { host: string; port: number },
  credentials: StackCredentials = credentialsFromEnv(),
): ProcessSpec {
  fs.rmSync(node.dir, { recursive: true, force: true });
  fs.mkdirSync(node.dir, { recursive: true, mode: SECRET_DIR_MODE });
  fs.chmodSync(node.dir, SECRET_DIR_MODE);
  const conf = path.join(node.dir, 'sentinel.conf');
  writeSecretFile(
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
      ...sentinelAuthLines(SENTINEL_MASTER_NAME, {
        sentinel: credentials.redis.sentinel,
        admin: credentials.redis.admin,
        client: credentials.sentinelClient,
      }),
      '',
    ].join('\n'),
  );
  return {
    command: which('redis-sentinel'),
    args: [conf],
    logFile: path.join(node.dir, 'stdout.log'),
  };
}

/** A user and password to log in with. */
export interface RedisLogin {
  username: string;
  password: string;
}

let operator: RedisLogin | undefined;

/**
 * The login of the stack kit's own commands (readiness, status, fault tools): the
 * admin user, which exists with the same password on the data nodes and on the
 * Sentinels. A stack sets it when it starts or is attached to; the environment's
 * (or the dev profile's) otherwise.
 */
export function operatorLogin(): RedisLogin {
  return (operator ??= {
    username: REDIS_USERS.admin,
    password: credentialsFromEnv().redis.admin,
  });
}

export function setOperatorLogin(credentials: StackCredentials): void {
  operator = { username: REDIS_USERS.admin, password: credentials.redis.admin };
}

export function redisClient(
  node: { host: string; port: number },
  login: RedisLogin | null = operatorLogin(),
): Redis {
  return new Redis({
    host: node.host,
    port: node.port,
    ...(login ?? {}),
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
