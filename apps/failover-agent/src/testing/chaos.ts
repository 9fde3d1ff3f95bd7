/**
 * `npm run chaos -- --rounds 20`: the soak mode of the failover fault test. On
 * a stack of its own (MariaDB primary + 2 replicas, Redis + Sentinel, two
 * failover agents), under a steady write stream, it SIGKILLs the MariaDB
 * primary N times (rejoining the old one each time) and, with
 * `--redis-rounds M`, the Redis primary M times, then prints a table.
 * `--json` prints the rounds as JSON on stdout (the benchmark reads it).
 *   node scripts/run.cjs apps/failover-agent/src/testing/chaos.ts --rounds 20 --redis-rounds 5
 */
import { startFailoverAgents, startStack } from '@stayline/stack-kit';
import {
  MariaDbRound,
  mariadbRound,
  RedisRound,
  redisRound,
  redisSettled,
  RedisWriteStream,
  WriteStream,
} from '@stayline/fault-kit';

function option(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const raw =
    i >= 0
      ? process.argv[i + 1]
      : process.argv.find((a) => a.startsWith(`--${name}=`))?.split('=')[1];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} takes a whole number, got ${raw}`);
  return n;
}

const log = (line: string) => console.error(line);

function table(rows: Array<Record<string, unknown>>): string {
  if (!rows.length) return '(none)';
  const header = Object.keys(rows[0]);
  const cells = rows.map((r) => header.map((h) => (r[h] === undefined ? '-' : String(r[h]))));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  return [header, ...cells].map((r) => r.map((v, i) => v.padEnd(widths[i])).join('  ')).join('\n');
}

function summary(label: string, outages: number[], lost: number): string {
  const sorted = [...outages].sort((a, b) => a - b);
  const p50 = sorted[Math.ceil(sorted.length / 2) - 1];
  return `${label}: ${outages.length} round(s), outage p50 ${p50 ?? '-'} ms, max ${sorted.at(-1) ?? '-'} ms, lost ${lost}`;
}

async function main(): Promise<void> {
  const rounds = option('rounds', 3);
  const redisRounds = option('redis-rounds', 0);
  const json = process.argv.includes('--json');
  const t0 = Date.now();
  const stack = await startStack({ replicas: 2, nginx: false, log: (l) => log(`[stack] ${l}`) });
  const mariadb: MariaDbRound[] = [];
  const redis: RedisRound[] = [];
  let errors: string[] = [];
  try {
    await startFailoverAgents(stack);
    const stream = await WriteStream.start(stack);
    const redisStream = RedisWriteStream.start(stack);
    log(
      `stack and agents up in ${((Date.now() - t0) / 1000).toFixed(1)} s; ${rounds} MariaDB round(s), ${redisRounds} Redis round(s)`,
    );
    try {
      for (let i = 1; i <= rounds; i++) {
        const r = await mariadbRound(stack, stream);
        mariadb.push(r);
        log(
          `mariadb round ${i}: ${r.killed} -> ${r.promoted}, outage ${r.outageMs} ms, lost ${r.lost}, rejoin ${r.rejoin}`,
        );
      }
      let lastKillAt = -Infinity;
      for (let i = 1; i <= redisRounds; i++) {
        if (i > 1) await redisSettled(stack, lastKillAt);
        const { killedAt, ...r } = await redisRound(stack, redisStream);
        lastKillAt = killedAt;
        redis.push(r);
        log(
          `redis round ${i}: ${r.killed} -> ${r.promoted}, outage ${r.outageMs} ms, lost ${r.lost}`,
        );
      }
    } finally {
      errors = stream.errors;
      await redisStream.stop();
      await stream.stop();
    }
  } finally {
    await stack.stop();
  }
  const lost = mariadb.reduce((n, r) => n + r.lost, 0);
  const redisLost = redis.reduce((n, r) => n + r.lost, 0);
  if (json) {
    console.log(JSON.stringify({ mariadb, redis, errors }));
  } else {
    console.log(
      `\nMariaDB primary SIGKILLed under writes\n${table(mariadb.map((r, i) => ({ round: i + 1, ...r })))}`,
    );
    if (redis.length)
      console.log(
        `\nRedis primary SIGKILLed\n${table(redis.map((r, i) => ({ round: i + 1, ...r })))}`,
      );
    console.log(
      `\n${summary(
        'mariadb',
        mariadb.map((r) => r.outageMs),
        lost,
      )}`,
    );
    if (redis.length)
      console.log(
        summary(
          'redis',
          redis.map((r) => r.outageMs),
          redisLost,
        ),
      );
    if (errors.length)
      console.log(`write errors other than retryable ones: ${errors.length} (${errors[0]})`);
  }
  if (lost > 0 || redisLost > 0 || errors.length) process.exitCode = 1;
}

main().catch((err: Error) => {
  console.error(`chaos failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
