/**
 * Discovery and client-side load balancing, measured against a real Redis +
 * Sentinel and real instance processes (docs/patterns/service-discovery.md,
 * docs/patterns/load-balancing.md):
 * - discovery.deregister.p50/.p99: from the moment an instance process begins
 *   its graceful stop (on SIGTERM; it prints the time on the machine's shared
 *   clock, as the Moleculer peer benchmark does) to its removal seen by each of
 *   5 watchers (5 independent connections in this process);
 * - discovery.crash_detect.p50/.max: SIGKILL of an instance process to its removal
 *   (the default 3 s lease; the time is TTL minus the time since the last renewal);
 * - lb.pick.overhead: one choice of endpoint, in-process;
 * - lb.call.p50/.p99: one TCP call at a time through the balancer over 2 NestJS instances.
 *   node scripts/run.cjs bench/src/scenarios/discovery.ts
 */
import fs from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { formatRedisTarget, RedisTarget } from '@stayline/coordination';
import {
  Balancer,
  BalancedTcpClient,
  DEFAULT_LEASE_TTL_MS,
  describeInstance,
  Endpoint,
  InstanceChange,
  RedisRegistry,
  StrategyName,
} from '@stayline/discovery';
import { freePorts, Stack, startStack, waitFor } from '@stayline/stack-kit';
import { Figure, round, summarize, runWhenMain } from '../figure';

const FIXTURES = path.resolve(__dirname, '../../../libs/discovery/src/testing');
const WATCHERS = 5;
/** Milliseconds on a clock every process of this machine shares. */
const now = () => performance.timeOrigin + performance.now();

/** Starts a fixture process of libs/discovery/src/testing in the stack (stopped with it). */
async function fixture(
  stack: Stack,
  name: string,
  script: string,
  args: Record<string, string | number>,
  ports: Record<string, number> = {},
) {
  await stack.spawnScript({
    name,
    script: path.join(FIXTURES, script),
    args: Object.entries(args).flatMap(([k, v]) => [`--${k}`, String(v)]),
    kind: 'service',
    role: 'instance',
    ports,
  });
}

/** 5 watchers, each on its own connections, recording when each instance id disappears. */
async function watchers(target: RedisTarget, service: string) {
  const removedAt = Array.from({ length: WATCHERS }, () => new Map<string, number>());
  const present = Array.from({ length: WATCHERS }, () => new Set<string>());
  const registries = await Promise.all(
    removedAt.map(async (removed, i) => {
      const r = new RedisRegistry({ redis: target });
      await r.watch(service, (list, change: InstanceChange) => {
        if (change.kind === 'removed') removed.set(change.id, now());
        present[i] = new Set(list.map((x) => x.id));
      });
      return r;
    }),
  );
  return {
    removedAt,
    seenByAll: (id: string) => present.every((p) => p.has(id)),
    close: () => Promise.all(registries.map((r) => r.close())),
  };
}

const until = (what: string, check: () => boolean, timeoutMs = 30_000) =>
  waitFor(what, check, { timeoutMs, intervalMs: 10 });

/** Instance processes registered as `service`, once every watcher lists them. */
async function startRegistrants(
  stack: Stack,
  target: RedisTarget,
  service: string,
  ids: string[],
  w: { seenByAll(id: string): boolean },
): Promise<void> {
  const redis = formatRedisTarget(target);
  await Promise.all(ids.map((id) => fixture(stack, id, 'registrant.ts', { redis, service, id })));
  await until(`every watcher to see ${ids.length} instances`, () =>
    ids.every((id) => w.seenByAll(id)),
  );
}

/** Graceful stops: batches of instance processes, each SIGTERMed in turn. */
async function deregistration(stack: Stack, target: RedisTarget): Promise<number[]> {
  const w = await watchers(target, 'bench-dereg');
  const samples: number[] = [];
  try {
    for (let batch = 0; batch < 3; batch++) {
      const ids = Array.from({ length: 8 }, (_, i) => `dereg-${batch}-${i}`);
      await startRegistrants(stack, target, 'bench-dereg', ids, w);
      for (const id of ids) {
        stack.kill(id, 'SIGTERM');
        await until(
          `${id} gone for every watcher`,
          () => w.removedAt.every((m) => m.has(id)),
          5_000,
        );
        const t0 = await stopBegan(stack, id);
        for (const m of w.removedAt) samples.push((m.get(id) as number) - t0);
        await sleep(50 + Math.random() * 100);
      }
    }
  } finally {
    await w.close();
  }
  return samples;
}

/** When the instance process began its graceful stop (it prints it). */
async function stopBegan(stack: Stack, id: string): Promise<number> {
  for (let i = 0; i < 500; i++) {
    const line = fs
      .readFileSync(stack.component(id).spec.logFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('"deregistering"'));
    if (line) return (JSON.parse(line) as { at: number }).at;
    await sleep(10);
  }
  throw new Error(`${id} never said when it began to stop`);
}

/** Crashes: instance processes SIGKILLed at random moments of their renewal cycle. */
async function crashDetection(stack: Stack, target: RedisTarget): Promise<number[]> {
  const w = await watchers(target, 'bench-crash');
  try {
    const ids = Array.from({ length: 10 }, (_, i) => `crash-${i}`);
    await startRegistrants(stack, target, 'bench-crash', ids, w);
    await sleep(3_000); // past the new watches' expiry grace: only the lease decides
    const killedAt = new Map<string, number>();
    for (const id of ids) {
      await sleep(Math.random() * 400);
      killedAt.set(id, now());
      stack.kill(id, 'SIGKILL');
    }
    await until(
      'every crash to be detected',
      () => ids.every((id) => w.removedAt[0].has(id)),
      10_000,
    );
    return ids.map((id) => (w.removedAt[0].get(id) as number) - (killedAt.get(id) as number));
  } finally {
    await w.close();
  }
}

/** Microseconds per pick, in-process, over 2 endpoints. */
function pickOverhead(strategy: StrategyName): number {
  const b = new Balancer({ strategy });
  const endpoints: Endpoint[] = [4201, 4202].map((port, i) => {
    const instance = describeInstance({
      service: 'payment',
      id: `p${i}`,
      host: '127.0.0.1',
      tcpPort: port,
    });
    return { id: instance.id, host: instance.host, port, instance };
  });
  b.setEndpoints(endpoints);
  const n = 1_000_000;
  for (let i = 0; i < 100_000; i++) b.pick();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) b.pick();
  return Number(process.hrtime.bigint() - t0) / n / 1_000;
}

/** One TCP call at a time through the balancer over 2 callee processes. */
async function lbCalls(stack: Stack, target: RedisTarget): Promise<number[]> {
  for (const id of ['lb-1', 'lb-2']) {
    const [http, tcp] = await freePorts(2);
    await fixture(
      stack,
      id,
      'callee.ts',
      { redis: formatRedisTarget(target), service: 'bench-lb', id, http, tcp },
      { http, tcp },
    );
  }
  const registry = new RedisRegistry({ redis: target });
  const client = await BalancedTcpClient.connect({
    resolver: registry,
    service: 'bench-lb',
    timeoutMs: 1_000,
  });
  try {
    await until('both instances', () => client.endpoints.length === 2);
    for (let i = 0; i < 3_000; i++) await client.send('ping', {});
    const samples: number[] = [];
    for (let i = 0; i < 10_000; i++) {
      const t0 = performance.now();
      await client.send('ping', {});
      samples.push(performance.now() - t0);
    }
    return samples;
  } finally {
    await client.close();
    await registry.close();
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
    const dereg = summarize(await deregistration(stack, target));
    const crash = summarize(await crashDetection(stack, target));
    const rr = pickOverhead('round-robin');
    const p2c = pickOverhead('power-of-two');
    const call = summarize(await lbCalls(stack, target));
    const moleculer = 'Moleculer 0.15 Redis transporter';
    return [
      {
        name: 'discovery.deregister.p50',
        value: round(dereg.p50),
        unit: 'ms',
        anchor: `${moleculer}: 2.3 ms (${WATCHERS} watchers)`,
      },
      {
        name: 'discovery.deregister.p99',
        value: round(dereg.p99),
        unit: 'ms',
        goal: '<= 5',
        anchor: `${moleculer}: 5.5 ms; its Redis discoverer 312 ms`,
      },
      {
        name: 'discovery.crash_detect.p50',
        value: round(crash.p50, 0),
        unit: 'ms',
        anchor: `lease TTL ${DEFAULT_LEASE_TTL_MS} ms, renewed every ${DEFAULT_LEASE_TTL_MS / 3} ms`,
      },
      {
        name: 'discovery.crash_detect.max',
        value: round(crash.max, 0),
        unit: 'ms',
        goal: '<= 3000',
        anchor:
          'Moleculer tuned 1 s/3 s heartbeats: 6.1 s (defaults 55 s); Eureka defaults: ~90 s+; ZooKeeper: the session timeout',
      },
      {
        name: 'lb.pick.overhead',
        value: round(rr, 4),
        unit: 'µs',
        anchor: 'round robin, 2 endpoints',
      },
      {
        name: 'lb.pick.overhead.power_of_two',
        value: round(p2c, 4),
        unit: 'µs',
        anchor: 'power of two choices, 2 endpoints',
      },
      {
        name: 'lb.call.p50',
        value: round(call.p50),
        unit: 'ms',
        goal: '<= 0.3',
        anchor: 'Moleculer round robin over Redis: 0.50 ms',
      },
      {
        name: 'lb.call.p99',
        value: round(call.p99),
        unit: 'ms',
        goal: '<= 2',
        anchor: 'Moleculer round robin over Redis: 3.7 ms',
      },
    ];
  } finally {
    await stack.stop();
  }
}

runWhenMain(module, run);
