/**
 * Fixture process: registers one instance (or, with --agent, a datastore on
 * behalf of that agent) in the Redis registry (--redis) or the etcd one (--etcd)
 * and keeps it renewed. SIGTERM
 * deregisters first, then exits (printing when it began: `{"event":"deregistering","at":<ms>}`;
 * `{"event":"registered"}` once the registration call returned);
 * SIGKILL and SIGSTOP leave the lease to expire.
 *   run.cjs registrant.ts --redis <url> --service payment --id payment-1 [--tcp 4201] [--ttl 3000] [--agent agent-a --role primary]
 *   run.cjs registrant.ts --etcd http://127.0.0.1:2479,... --service payment --id payment-1
 */
import {
  etcdLoginFromEnv,
  parseEtcdEndpoints,
  parseRedisTarget,
  redisAuthFromEnv,
} from '@stayline/coordination';
import { EtcdRegistry } from '../lib/etcd.registry';
import { describeInstance } from '../lib/instance';
import { RedisRegistry } from '../lib/redis.registry';
import { ServiceRegistry } from '../lib/registry';
import { fixtureArgs } from './processes';

async function main(): Promise<void> {
  const a = fixtureArgs();
  const registry: ServiceRegistry = a.etcd
    ? new EtcdRegistry({ etcd: { ...parseEtcdEndpoints(a.etcd), ...etcdLoginFromEnv() } })
    : new RedisRegistry({ redis: { ...parseRedisTarget(a.redis), ...redisAuthFromEnv() } });
  const ttlMs = a.ttl ? Number(a.ttl) : undefined;
  const instance = describeInstance({
    service: a.service,
    id: a.id,
    host: a.host ?? '127.0.0.1',
    tcpPort: a.tcp ? Number(a.tcp) : undefined,
    kind: a.agent ? 'datastore' : 'service',
    role: a.role,
  });
  const registered = a.agent
    ? registry.registerOnBehalf(instance, { ttlMs, agentId: a.agent })
    : registry.register(instance, { ttlMs });
  // installed before the registration completes: watchers may see the entry before this process sees the reply
  process.once('SIGTERM', () => {
    // when the graceful stop begins, on a clock shared by the processes of this machine (benchmarks read it)
    console.log(
      JSON.stringify({
        event: 'deregistering',
        id: a.id,
        at: performance.timeOrigin + performance.now(),
      }),
    );
    void registered
      .then((r) => (a.agent ? r.release() : r.deregister()))
      .finally(() => registry.close())
      .finally(() => process.exit(0));
  });
  await registered;
  console.log(JSON.stringify({ event: 'registered', id: a.id }));
  // keeps the process alive: every timer of the registry is unref()ed
  setInterval(() => undefined, 1 << 30);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
