/**
 * The coordinator on Redis + Sentinel, measured (docs/patterns/coordinator.md):
 * - flags.propagation.p50/.p99: a flag write (acknowledged by a replica) to its
 *   application in each of 5 instances' FeatureFlags (5 independent connections);
 * - leader.takeover.p50/.max: SIGKILL of the leading candidate process to the
 *   next leader's acquisition (3 candidate processes; the default 3 s lease);
 * - leader.handover.max: SIGTERM of the leader (it resigns) to the next acquisition;
 * - coordinator.redis.lock.p50/.p99: acquire (with the replica's acknowledgement) + release.
 *   node scripts/run.cjs bench/src/scenarios/coordination.ts
 */
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  connectRedis,
  FeatureFlags,
  flag,
  formatRedisTarget,
  RedisCoordinationBackend,
  RedisTarget,
} from '@stayline/coordination';
import { Stack, startStack, waitFor } from '@stayline/stack-kit';
import { Figure, round, summarize, runWhenMain } from '../figure';

const CANDIDATE = path.resolve(__dirname, '../../../libs/coordination/src/testing/candidate.ts');
const ELECTION = 'bench-leader';
const WATCHERS = 5;

const until = (what: string, check: () => boolean, timeoutMs = 20_000) =>
  waitFor(what, check, { timeoutMs, intervalMs: 5 });

async function flagPropagation(target: RedisTarget): Promise<number[]> {
  const backends = Array.from(
    { length: WATCHERS + 1 },
    () => new RedisCoordinationBackend({ redis: target }),
  );
  const [writer, ...instances] = backends.map((b) => new FeatureFlags(b.flagStore()));
  const seenAt = instances.map(() => new Map<number, number>());
  instances.forEach((f, i) =>
    f.onChange(() => {
      const v = f.number('bench.latencyMs', -1);
      if (!seenAt[i].has(v)) seenAt[i].set(v, performance.now());
    }),
  );
  try {
    await Promise.all([writer, ...instances].map((f) => f.start()));
    const samples: number[] = [];
    for (let v = 0; v < 220; v++) {
      const t0 = performance.now();
      await writer.set('bench.latencyMs', flag.number(v));
      await until(`value ${v} everywhere`, () => seenAt.every((m) => m.has(v)), 5_000);
      if (v >= 20) for (const m of seenAt) samples.push((m.get(v) as number) - t0); // the first 20 warm up
      await sleep(10 + Math.random() * 20);
    }
    return samples;
  } finally {
    await Promise.all([writer, ...instances].map((f) => f.stop()));
    await Promise.all(backends.map((b) => b.close()));
  }
}

/** Candidate processes, and the acquisitions the election announces (seen from this process). */
async function leadership(
  stack: Stack,
  target: RedisTarget,
): Promise<{ takeover: number[]; handover: number[] }> {
  const acquired: Array<{ at: number; owner: string }> = [];
  const sub = connectRedis(target);
  sub.on('message', (_channel: string, message: string) => {
    const [kind, owner] = message.split('|');
    if (kind === 'acquired') acquired.push({ at: performance.now(), owner });
  });
  await sub.subscribe(`stayline:coord:election:${ELECTION}:events`);
  let n = 0;
  const startCandidate = async () => {
    const id = `cand-${++n}`;
    await stack.spawnScript({
      name: id,
      script: CANDIDATE,
      args: ['--redis', formatRedisTarget(target), '--election', ELECTION, '--id', id],
      role: 'candidate',
    });
  };
  const measure = async (sig: 'SIGKILL' | 'SIGTERM') => {
    const leader = acquired[acquired.length - 1].owner;
    const count = acquired.length;
    await sleep(200 + Math.random() * 1_000); // anywhere in the leader's renewal cycle
    const t0 = performance.now();
    stack.kill(leader, sig);
    await until('a new leader', () => acquired.length > count, 10_000);
    const took = acquired[count].at - t0;
    await startCandidate(); // back to three candidates
    await sleep(1_500); // it has compiled and joined the campaign
    return took;
  };
  try {
    await Promise.all([startCandidate(), startCandidate(), startCandidate()]);
    await until('a first leader', () => acquired.length > 0);
    await sleep(1_500);
    const takeover: number[] = [];
    for (let i = 0; i < 6; i++) takeover.push(await measure('SIGKILL'));
    const handover: number[] = [];
    for (let i = 0; i < 3; i++) handover.push(await measure('SIGTERM'));
    return { takeover, handover };
  } finally {
    sub.disconnect();
  }
}

async function lockRoundTrips(target: RedisTarget): Promise<number[]> {
  const backend = new RedisCoordinationBackend({ redis: target });
  const lock = backend.lock('bench-lock', { ttlMs: 5_000 });
  try {
    const samples: number[] = [];
    for (let i = 0; i < 2_200; i++) {
      const t0 = performance.now();
      const lease = await lock.tryAcquire();
      if (!lease) throw new Error('the bench lock is held by someone else');
      await lease.release();
      if (i >= 200) samples.push(performance.now() - t0);
    }
    return samples;
  } finally {
    await backend.close();
  }
}

export async function run(): Promise<Figure[]> {
  const stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
  try {
    const { sentinels, ...logins } = stack.redisTarget('service');
    const target: RedisTarget = {
      ...logins,
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    };
    const flags = summarize(await flagPropagation(target));
    const lock = summarize(await lockRoundTrips(target));
    const { takeover, handover } = await leadership(stack, target);
    const take = summarize(takeover);
    const hand = summarize(handover);
    return [
      {
        name: 'flags.propagation.p50',
        value: round(flags.p50),
        unit: 'ms',
        anchor: `${WATCHERS} instances; includes WAIT 1 (a replica has it)`,
      },
      {
        name: 'flags.propagation.p99',
        value: round(flags.p99),
        unit: 'ms',
        anchor: 'without push: a redeploy, or a config poll interval',
      },
      {
        name: 'leader.takeover.p50',
        value: round(take.p50, 0),
        unit: 'ms',
        anchor: 'lease TTL 3000 ms, renewed every 1000 ms',
      },
      {
        name: 'leader.takeover.max',
        value: round(take.max, 0),
        unit: 'ms',
        goal: '<= 4000 (TTL + one renewal)',
        anchor: 'etcd3 npm Election: 60 s lease by default; ZooKeeper: the session timeout',
      },
      {
        name: 'leader.handover.max',
        value: round(hand.max, 1),
        unit: 'ms',
        anchor: 'graceful stop: the leader resigns and the release is announced',
      },
      {
        name: 'coordinator.redis.lock.p50',
        value: round(lock.p50),
        unit: 'ms',
        anchor: 'acquire (SET NX PX + INCR, WAIT 1) + release (Lua compare-and-delete)',
      },
      { name: 'coordinator.redis.lock.p99', value: round(lock.p99), unit: 'ms' },
    ];
  } finally {
    await stack.stop();
  }
}

runWhenMain(module, run);
