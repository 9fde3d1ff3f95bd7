/**
 * Fixture process: one candidate of a leader election. While it leads, it
 * writes its id to a fenced resource every 50 ms with its fencing token, and
 * prints one JSON line per event ({ event, id, at, token, reason }).
 *   run.cjs candidate.ts --redis <url> --election demo --id c1 [--unsafe 1]
 *   run.cjs candidate.ts --etcd <url,url,url> --election demo --id c1 [--unsafe 1]
 * --unsafe 1 uses the token captured when elected instead of reading
 * `election.token` (which checks the local deadline): a leader that acts
 * before it learns it lost, to show the resource refusing it.
 */
import { CoordinationBackend } from '../lib/backend/coordination-backend';
import { etcdLoginFromEnv, parseEtcdEndpoints } from '../lib/etcd/etcd-target';
import { EtcdCoordinationBackend } from '../lib/backend/etcd.coordination-backend';
import { parseRedisTarget, redisAuthFromEnv } from '../lib/redis/redis-target';
import { RedisCoordinationBackend } from '../lib/backend/redis.coordination-backend';

const argv = process.argv.slice(2);
const arg = (name: string) => argv[argv.indexOf(`--${name}`) + 1];
const id = arg('id');
const unsafe = argv.includes('--unsafe');
const report = (event: string, extra: object = {}) =>
  console.log(JSON.stringify({ event, id, at: Date.now(), ...extra }));

async function main(): Promise<void> {
  const backend: CoordinationBackend = argv.includes('--etcd')
    ? new EtcdCoordinationBackend({
        etcd: { ...parseEtcdEndpoints(arg('etcd')), ...etcdLoginFromEnv() },
      })
    : new RedisCoordinationBackend({
        redis: { ...parseRedisTarget(arg('redis')), ...redisAuthFromEnv() },
      });
  const election = backend.election(arg('election'), { candidateId: id });
  const resource = backend.fencedResource(arg('election'));
  let captured: number | undefined;
  election.on('elected', (token) => {
    captured = token;
    report('elected', { token });
  });
  election.on('deposed', (token, reason) => {
    captured = undefined;
    report('deposed', { token, reason });
  });
  setInterval(() => {
    const token = unsafe ? captured : election.token;
    if (token === undefined) return;
    resource.write(token, id).then(
      (ok) => ok || report('refused', { token }),
      (err: Error) => report('write-failed', { token, err: err.message }),
    );
  }, 50);
  process.once('SIGTERM', () => {
    void election
      .stop()
      .finally(() => backend.close())
      .finally(() => process.exit(0));
  });
  await election.start();
  report('started');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
