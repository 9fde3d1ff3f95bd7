/**
 * Failover, measured (docs/patterns/failover.md), by the soak tool of the
 * failover fault test in a child process (its own stack: MariaDB primary + 2
 * replicas, Redis + 3 Sentinels, two failover agents, a steady write stream):
 * - failover.mariadb.outage.p50/.max: SIGKILL of the MariaDB primary to the first
 *   write accepted on the new primary through a ReplicaRouter that follows the
 *   published topology (what every service runs);
 * - failover.mariadb.detection.p50: first failed probe to the primary declared dead;
 * - failover.mariadb.lost: acknowledged writes missing afterwards (new primary,
 *   repointed replica), over every round;
 * - failover.redis.outage.p50/.max, failover.redis.lost: the same for Redis
 *   through Sentinel (writes acknowledged with WAIT 1).
 *   FAILOVER_BENCH_ROUNDS=10 node scripts/run.cjs bench/src/scenarios/failover.ts
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Figure, summarize, runWhenMain } from '../figure';

const ROOT = path.resolve(__dirname, '../../..');
const CHAOS = path.join(ROOT, 'apps', 'failover-agent', 'src', 'testing', 'chaos.ts');
const ROUNDS = Number(process.env.FAILOVER_BENCH_ROUNDS ?? 5);
const REDIS_ROUNDS = Number(process.env.FAILOVER_BENCH_REDIS_ROUNDS ?? 3);

interface Rounds {
  mariadb: Array<{ outageMs: number; detectionMs?: number; lost: number }>;
  redis: Array<{ outageMs: number; lost: number }>;
  errors: string[];
}

function chaos(): Promise<Rounds> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        path.join(ROOT, 'scripts', 'run.cjs'),
        CHAOS,
        '--rounds',
        String(ROUNDS),
        '--redis-rounds',
        String(REDIS_ROUNDS),
        '--json',
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.on('error', reject);
    child.on('exit', () => {
      const last = out.trim().split('\n').at(-1) ?? '';
      try {
        resolve(JSON.parse(last) as Rounds);
      } catch {
        reject(new Error(`the chaos tool printed no result: ${out.slice(-500)}`));
      }
    });
  });
}

export async function run(): Promise<Figure[]> {
  const r = await chaos();
  const maria = summarize(r.mariadb.map((x) => x.outageMs));
  const detection = summarize(
    r.mariadb.flatMap((x) => (x.detectionMs === undefined ? [] : [x.detectionMs])),
  );
  const redis = summarize(r.redis.map((x) => x.outageMs));
  const mariaAnchor = 'RDS Multi-AZ 60-120 s; Aurora ~30 s; orchestrator typically 10-20 s';
  const redisAnchor = 'Sentinel defaults: 30 s detection; tuned (down-after 1 s) 2.2 s here';
  const figures: Figure[] = [
    {
      name: 'failover.mariadb.outage.p50',
      value: maria.p50,
      unit: 'ms',
      goal: '< 5000',
      anchor: mariaAnchor,
    },
    {
      name: 'failover.mariadb.outage.max',
      value: maria.max,
      unit: 'ms',
      goal: '< 5000',
      anchor: mariaAnchor,
    },
    { name: 'failover.mariadb.detection.p50', value: detection.p50, unit: 'ms' },
    {
      name: 'failover.mariadb.lost',
      value: r.mariadb.reduce((n, x) => n + x.lost, 0),
      unit: 'count',
      goal: '0',
    },
    { name: 'failover.mariadb.rounds', value: r.mariadb.length, unit: 'count' },
  ];
  if (r.redis.length) {
    figures.push(
      {
        name: 'failover.redis.outage.p50',
        value: redis.p50,
        unit: 'ms',
        goal: '< 3000',
        anchor: redisAnchor,
      },
      {
        name: 'failover.redis.outage.max',
        value: redis.max,
        unit: 'ms',
        goal: '< 3000',
        anchor: redisAnchor,
      },
      {
        name: 'failover.redis.lost',
        value: r.redis.reduce((n, x) => n + x.lost, 0),
        unit: 'count',
        goal: '0',
      },
      { name: 'failover.redis.rounds', value: r.redis.length, unit: 'count' },
    );
  }
  return figures;
}

runWhenMain(module, run);
