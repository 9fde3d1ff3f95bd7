/**
 * What the growth scenario's child processes share (bench/src/scenarios/growth.ts):
 * their command line, the registry they open, the clock they stamp events with.
 */
import fs from 'node:fs';
import {
  etcdLoginFromEnv,
  parseEtcdEndpoints,
  parseRedisTarget,
  redisAuthFromEnv,
} from '@stayline/coordination';
import { EtcdRegistry, RedisRegistry, ServiceRegistry } from '@stayline/discovery';

export type Backend = 'redis' | 'etcd';

/** Milliseconds on a clock every process of this machine shares. */
export const now = () => performance.timeOrigin + performance.now();

/** `--name value` pairs of the command line. */
export function childArgs(argv = process.argv.slice(2)): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

/** The real registry of `backend`, logged in as a service (the environment the stack gives a script). */
export function openRegistry(backend: string, target: string): ServiceRegistry {
  if (backend === 'etcd')
    return new EtcdRegistry({ etcd: { ...parseEtcdEndpoints(target), ...etcdLoginFromEnv() } });
  if (backend === 'redis')
    return new RedisRegistry({ redis: { ...parseRedisTarget(target), ...redisAuthFromEnv() } });
  throw new Error(`--backend must be redis or etcd, not ${JSON.stringify(backend)}`);
}

/** One line of JSON on stdout (the stack's out.log, which the scenario reads). */
export function say(event: string, extra: object = {}): void {
  console.log(JSON.stringify({ event, at: now(), ...extra }));
}

/** Writes `data` to `file` atomically (the scenario waits for the file to appear). */
export function dump(file: string, data: unknown): void {
  fs.writeFileSync(`${file}.tmp`, JSON.stringify(data));
  fs.renameSync(`${file}.tmp`, file);
}

/** Runs `fn` over `items`, `limit` at a time. */
export async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
