/**
 * Benchmark of read distribution (docs/patterns/replication.md), against a real
 * MariaDB primary + 2 replicas from the launcher:
 * - database.reads.replicas_vs_primary: read throughput with reads over 2 replicas /
 *   all reads on the primary, same run, same router code, bounded concurrency;
 *   `.scan` the same with a read that makes the database work (an aggregate over a range);
 * - database.router.overhead_us / _ratio: one point read through the ReplicaRouter
 *   against plain TypeORM (its own `replication` option, reads on the replicas),
 *   one at a time, interleaved rounds;
 * - database.ryw.read.p50: a read with the token of the write just before it.
 *   node scripts/run.cjs bench/src/scenarios/database.ts      (prints the figures as JSON)
 */
import { cpus } from 'node:os';
import { ReplicaRouter, ReplicaRouterOptions } from '@stayline/database';
import { Stack, startStack } from '@stayline/stack-kit';
import { pino } from 'pino';
import { Column, DataSource, Entity, EntityManager, PrimaryColumn } from 'typeorm';
import { round, summarize, type Figure, runWhenMain } from '../figure';

const ROWS = 20_000;
const CONCURRENCY = 16;
const THROUGHPUT_MS = 1_000;
const THROUGHPUT_ROUNDS = 8;
const OVERHEAD_ROUNDS = 6;
const OVERHEAD_QUERIES = 500;
const RYW_SAMPLES = 300;

@Entity({ name: 'bench_item' })
class BenchItem {
  @PrimaryColumn({ type: 'int' })
  id!: number;

  @Column({ type: 'varchar', length: 64 })
  name!: string;

  @Column({ type: 'int' })
  score!: number;
}

type Read = (m: EntityManager) => Promise<unknown>;
const pointRead: Read = (m) => m.findOneBy(BenchItem, { id: 1 + Math.floor(Math.random() * ROWS) });
const scanRead: Read = (m) => {
  const from = Math.floor(Math.random() * (ROWS - 2_000));
  return m.query(
    'SELECT COUNT(*) AS n, AVG(score) AS s, MAX(name) AS x FROM bench_item WHERE id BETWEEN ? AND ?',
    [from, from + 2_000],
  );
};

/** Reads per second from `CONCURRENCY` loops for `ms`. */
async function throughput(router: ReplicaRouter, read: Read, ms: number): Promise<number> {
  let done = 0;
  const until = performance.now() + ms;
  const loop = async () => {
    while (performance.now() < until) {
      await router.read(read);
      done++;
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return (done * 1000) / (performance.now() - t0);
}

/** Mean µs per call of `fn`, run `n` times one after another. */
async function meanMicros(n: number, fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await fn();
  return ((performance.now() - t0) * 1000) / n;
}

function median(values: number[]): number {
  return summarize(values).p50;
}

async function seed(router: ReplicaRouter): Promise<void> {
  for (let start = 1; start <= ROWS; start += 1_000) {
    const rows = Array.from({ length: 1_000 }, (_, i) => ({
      id: start + i,
      name: `item ${start + i}`,
      score: (start + i) % 997,
    }));
    await router.write((m) => m.insert(BenchItem, rows));
  }
  await router.read((m) => m.count(BenchItem), { session: {} }); // warm the pools
}

/**
 * Replicas-vs-primary throughput ratio for one kind of read: short rounds taking
 * turns (a shared host's noise hits both sides), total reads over total reads.
 */
async function readRatio(
  spread: ReplicaRouter,
  onPrimary: ReplicaRouter,
  read: Read,
): Promise<{ ratio: number; min: number; max: number; spread: number; primary: number }> {
  const a: number[] = [];
  const b: number[] = [];
  for (let r = 0; r < THROUGHPUT_ROUNDS; r++) {
    a.push(await throughput(spread, read, THROUGHPUT_MS));
    b.push(await throughput(onPrimary, read, THROUGHPUT_MS));
  }
  const ratios = a.map((x, i) => x / b[i]);
  const sum = (xs: number[]) => xs.reduce((t, x) => t + x, 0);
  return {
    ratio: sum(a) / sum(b),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    spread: sum(a) / a.length,
    primary: sum(b) / b.length,
  };
}

/** The figures. Starts its own stack and stops it. */
export async function run(): Promise<Figure[]> {
  const stack: Stack = await startStack({
    replicas: 2,
    sentinel: false,
    redis: false,
    nginx: false,
  });
  const { primary, replicas } = stack.mariadb;
  const base: ReplicaRouterOptions = {
    database: 'reservation',
    ...stack.credentials.app,
    topology: { epoch: 1, primary, replicas },
    entities: [BenchItem],
    poolSize: CONCURRENCY,
    logger: pino({ level: 'silent' }),
  };
  const routers: ReplicaRouter[] = [];
  let plain: DataSource | undefined;
  try {
    const spread = await ReplicaRouter.create({ ...base, synchronize: true });
    routers.push(spread);
    await seed(spread);
    const onPrimary = await ReplicaRouter.create({
      ...base,
      topology: { epoch: 1, primary, replicas: [] },
    });
    routers.push(onPrimary);
    const point = await readRatio(spread, onPrimary, pointRead);
    const scan = await readRatio(spread, onPrimary, scanRead);

    const credentials = {
      username: stack.credentials.app.user,
      password: stack.credentials.app.password,
      database: 'reservation',
    };
    plain = await new DataSource({
      type: 'mariadb',
      replication: {
        master: { ...primary, ...credentials },
        slaves: replicas.map((r) => ({ ...r, ...credentials })),
      },
      entities: [BenchItem],
      poolSize: CONCURRENCY,
    }).initialize();
    const plainManager = plain.manager;
    const routed: number[] = [];
    const bare: number[] = [];
    await meanMicros(OVERHEAD_QUERIES, () => pointRead(plainManager)); // warm-up
    await meanMicros(OVERHEAD_QUERIES, () => spread.read(pointRead));
    for (let r = 0; r < OVERHEAD_ROUNDS; r++) {
      bare.push(await meanMicros(OVERHEAD_QUERIES, () => pointRead(plainManager)));
      routed.push(await meanMicros(OVERHEAD_QUERIES, () => spread.read(pointRead)));
    }
    const overheadUs = median(routed.map((x, i) => x - bare[i]));
    const overheadRatio = median(routed.map((x, i) => x / bare[i]));

    const ryw: number[] = [];
    for (let i = 0; i < RYW_SAMPLES; i++) {
      const session = {};
      const id = ROWS + 1 + i;
      await spread.write((m) => m.insert(BenchItem, { id, name: `ryw ${i}`, score: 0 }), {
        session,
      });
      const t0 = performance.now();
      const got = await spread.read((m) => m.findOneBy(BenchItem, { id }), { session });
      ryw.push(performance.now() - t0);
      if (!got) throw new Error(`read-your-writes lost row ${id}`);
    }

    const note = `${cpus().length} cores, all 3 mariadbd and the client on one host`;
    return [
      {
        name: 'database.reads.replicas_vs_primary',
        value: round(point.ratio, 2),
        unit: 'ratio',
        goal: '> 1 once replicas have their own hardware',
        anchor: `point reads, ${CONCURRENCY} in flight: ${Math.round(point.spread)} vs ${Math.round(point.primary)} reads/s (rounds ${round(point.min, 2)}-${round(point.max, 2)}); ${note}`,
      },
      {
        name: 'database.reads.replicas_vs_primary.scan',
        value: round(scan.ratio, 2),
        unit: 'ratio',
        anchor: `2,000-row aggregate: ${Math.round(scan.spread)} vs ${Math.round(scan.primary)} reads/s (rounds ${round(scan.min, 2)}-${round(scan.max, 2)}); ${note}`,
      },
      {
        name: 'database.router.overhead_us',
        value: round(overheadUs, 1),
        unit: 'µs',
        anchor: `plain TypeORM point read ${round(median(bare), 0)} µs`,
      },
      {
        name: 'database.router.overhead_ratio',
        value: round(overheadRatio, 3),
        unit: 'ratio',
        goal: '<= 1.1',
      },
      {
        name: 'database.ryw.read.p50',
        value: round(summarize(ryw).p50, 2),
        unit: 'ms',
        anchor: `p99 ${round(summarize(ryw).p99, 2)} ms; read right after its write, with the token`,
      },
    ];
  } finally {
    await Promise.all(routers.map((r) => r.close()));
    await plain?.destroy();
    await stack.stop();
  }
}

runWhenMain(module, run);
