/**
 * Redis + Sentinel against a 3-member etcd cluster, the same run, the same
 * machine (docs/patterns/coordinator.md, "etcd"):
 * - coordinator.<backend>.lock.p50/.p99: tryAcquire + release, uncontended;
 * - coordinator.<backend>.flags.p50/.p99: a flag write to its application in 5
 *   instances' FeatureFlags (Redis: acknowledged by a replica; etcd: by a majority);
 * - coordinator.<backend>.takeover.p50/.max: SIGKILL of the leading candidate
 *   process to the next one's `elected` (3 s lease; etcd's lease counts whole seconds);
 * - coordinator.<backend>.register.p50/.p99 and .deregister.p50/.p99: from the call of
 *   `register()` / `deregister()` to the change seen by each of 5 watchers (resolvers
 *   watching the service, each on its own connections), in this process.
 *   node scripts/run.cjs bench/src/scenarios/coordinator-compare.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CoordinationBackend,
  createCoordinationBackend,
  FeatureFlags,
  flag,
  formatRedisTarget,
} from '@stayline/coordination';
import {
  describeInstance,
  EtcdRegistry,
  RedisRegistry,
  ServiceRegistry,
} from '@stayline/discovery';
import { Stack, startStack, waitFor } from '@stayline/stack-kit';
import { Figure, round, summarize, runWhenMain } from '../figure';

/** One candidate process of an election, on either backend (`--redis <url>` or `--etcd <urls>`). */
const CANDIDATE = path.resolve(__dirname, '../../../libs/coordination/src/testing/candidate.ts');
type Kind = 'redis' | 'etcd';

const until = (what: string, check: () => boolean, timeoutMs = 20_000) =>
  waitFor(what, check, { timeoutMs, intervalMs: 5 });

async function locks(open: () => CoordinationBackend): Promise<number[]> {
  const backend = open();
  const lock = backend.lock('bench-compare-lock', { ttlMs: 5_000 });
  const samples: number[] = [];
  try {
    for (let i = 0; i < 600; i++) {
      const t0 = performance.now();
      const lease = await lock.tryAcquire();
      if (!lease) throw new Error('the bench lock is held by someone else');
      await lease.release();
      if (i >= 100) samples.push(performance.now() - t0);
    }
  } finally {
    await backend.close();
  }
  return samples;
}

async function flags(open: () => CoordinationBackend): Promise<number[]> {
  const backends = Array.from({ length: 6 }, open);
  const [writer, ...instances] = backends.map((b) => new FeatureFlags(b.flagStore()));
  const seenAt = instances.map(() => new Map<number, number>());
  instances.forEach((f, i) =>
    f.onChange(() => {
      const v = f.number('bench.compare', -1);
      if (!seenAt[i].has(v)) seenAt[i].set(v, performance.now());
    }),
  );
  const samples: number[] = [];
  try {
    await Promise.all([writer, ...instances].map((f) => f.start()));
    for (let v = 0; v < 120; v++) {
      const t0 = performance.now();
      await writer.set('bench.compare', flag.number(v));
      await until(`value ${v} everywhere`, () => seenAt.every((m) => m.has(v)), 5_000);
      if (v >= 20) for (const m of seenAt) samples.push((m.get(v) as number) - t0);
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await Promise.all([writer, ...instances].map((f) => f.stop()));
    await Promise.all(backends.map((b) => b.close()));
  }
  return samples;
}

/** Per watcher, when it saw each instance id come and go (performance.now()). */
interface Sightings {
  added: Map<string, number>;
  removed: Map<string, number>;
}

/**
 * One registering client and 5 watching ones, each its own connections: register and
 * deregister one instance at a time and time the call to the change reaching every watcher.
 */
async function registrations(
  open: () => ServiceRegistry,
): Promise<{ register: number[]; deregister: number[] }> {
  const service = 'bench-compare-reg';
  const [registry, ...resolvers] = Array.from({ length: 6 }, open);
  const seen: Sightings[] = resolvers.map(() => ({ added: new Map(), removed: new Map() }));
  const register: number[] = [];
  const deregister: number[] = [];
  const everywhere = (which: keyof Sightings, id: string) => () =>
    seen.every((s) => s[which].has(id));
  try {
    await Promise.all(
      resolvers.map((r, i) =>
        r.watch(service, (_, change) => {
          const at = performance.now();
          if (change.kind === 'added') seen[i].added.set(change.instance.id, at);
          if (change.kind === 'removed') seen[i].removed.set(change.id, at);
        }),
      ),
    );
    for (let n = 0; n < 120; n++) {
      const id = `reg-${n}`;
      const instance = describeInstance({ service, id, host: '127.0.0.1', tcpPort: 4201 });
      const t0 = performance.now();
      const reg = await registry.register(instance);
      await until(`${id} seen everywhere`, everywhere('added', id), 5_000);
      await sleep(10 + Math.random() * 20);
      const t1 = performance.now();
      await reg.deregister();
      await until(`${id} gone everywhere`, everywhere('removed', id), 5_000);
      if (n < 20) continue; // warm-up
      for (const s of seen) {
        register.push((s.added.get(id) as number) - t0);
        deregister.push((s.removed.get(id) as number) - t1);
      }
      await sleep(5 + Math.random() * 10);
    }
  } finally {
    await Promise.all([registry, ...resolvers].map((r) => r.close()));
  }
  return { register, deregister };
}

/** Candidate processes; takeover read from their own `elected` reports (wall clock, one machine). */
async function takeovers(stack: Stack, kind: Kind, target: string): Promise<number[]> {
  let n = 0;
  const ids: string[] = [];
  const election = `bench-compare-${kind}`;
  const start = async () => {
    const id = `${kind}-cand-${++n}`;
    ids.push(id);
    await stack.spawnScript({
      name: id,
      script: CANDIDATE,
      args: [`--${kind}`, target, '--election', election, '--id', id],
      role: 'candidate',
    });
  };
  const elected = () =>
    ids
      .flatMap((id) => {
        const f = path.join(stack.stateDir, id, 'out.log');
        return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n') : [];
      })
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { event: string; id: string; at: number })
      .filter((r) => r.event === 'elected')
      .sort((a, b) => a.at - b.at);
  await Promise.all([start(), start(), start()]);
  await until('a first leader', () => elected().length > 0, 30_000);
  await sleep(1_500);
  const samples: number[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const before = elected();
      const leader = before[before.length - 1].id;
      await sleep(200 + Math.random() * 1_000);
      const t0 = Date.now();
      stack.kill(leader, 'SIGKILL');
      await until('a new leader', () => elected().length > before.length, 15_000);
      samples.push(elected()[before.length].at - t0);
      await start();
      await sleep(2_000);
    }
  } finally {
    for (const id of ids) stack.kill(id, 'SIGKILL');
  }
  return samples;
}

export async function run(): Promise<Figure[]> {
  const stack = await startStack({ mariadb: false, sentinel: true, nginx: false, etcd: true });
  try {
    const { sentinels, ...logins } = stack.redisTarget('service');
    const redisTarget = {
      ...logins,
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
    };
    const backends = { redis: redisTarget, etcd: stack.etcdTarget('service') };
    const opens: Record<Kind, () => CoordinationBackend> = {
      redis: () => createCoordinationBackend('redis', backends),
      etcd: () => createCoordinationBackend('etcd', backends),
    };
    const registries: Record<Kind, () => ServiceRegistry> = {
      redis: () => new RedisRegistry({ redis: redisTarget }),
      etcd: () => new EtcdRegistry({ etcd: stack.etcdTarget('service') }),
    };
    const targets: Record<Kind, string> = {
      redis: formatRedisTarget(redisTarget),
      etcd: stack.etcd.endpoints.join(','),
    };
    const figures: Figure[] = [];
    for (const kind of ['redis', 'etcd'] as Kind[]) {
      const lock = summarize(await locks(opens[kind]));
      const flag = summarize(await flags(opens[kind]));
      const take = summarize(await takeovers(stack, kind, targets[kind]));
      const propagation = await registrations(registries[kind]);
      const reg = summarize(propagation.register);
      const dereg = summarize(propagation.deregister);
      const durable = kind === 'redis' ? 'WAIT 1: a replica has it' : 'Raft: a majority has it';
      const written =
        kind === 'redis'
          ? 'not waited for (the next renewal repairs a lost one)'
          : 'Raft: a majority has it';
      figures.push(
        {
          name: `coordinator.${kind}.lock.p50`,
          value: round(lock.p50),
          unit: 'ms',
          anchor: durable,
        },
        { name: `coordinator.${kind}.lock.p99`, value: round(lock.p99), unit: 'ms' },
        {
          name: `coordinator.${kind}.flags.p50`,
          value: round(flag.p50),
          unit: 'ms',
          anchor: `5 instances; ${durable}`,
        },
        { name: `coordinator.${kind}.flags.p99`, value: round(flag.p99), unit: 'ms' },
        {
          name: `coordinator.${kind}.takeover.p50`,
          value: round(take.p50, 0),
          unit: 'ms',
          anchor: 'SIGKILL of the leader; lease 3 s, renewed every 1 s',
        },
        { name: `coordinator.${kind}.takeover.max`, value: round(take.max, 0), unit: 'ms' },
        {
          name: `coordinator.${kind}.register.p50`,
          value: round(reg.p50),
          unit: 'ms',
          anchor: `register() called to 5 watchers; ${written}`,
        },
        { name: `coordinator.${kind}.register.p99`, value: round(reg.p99), unit: 'ms' },
        {
          name: `coordinator.${kind}.deregister.p50`,
          value: round(dereg.p50),
          unit: 'ms',
          anchor: 'deregister() called to 5 watchers (removal reason read)',
        },
        { name: `coordinator.${kind}.deregister.p99`, value: round(dereg.p99), unit: 'ms' },
      );
    }
    return figures;
  } finally {
    await stack.stop();
  }
}

runWhenMain(module, run);
