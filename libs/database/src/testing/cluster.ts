import { adminConnection, Stack, startStack, waitFor } from '@stayline/stack-kit';
import { metricsRegistry } from '@stayline/observability';
import type { Connection } from 'mysql2/promise';
import { RetryableWriteError } from '../lib/errors';
import { ReplicaRouter } from '../lib/replica-router';
import type { ReplicaRouterOptions } from '../lib/router-options';
import { ReplicaHealth } from '../lib/replica-state';
import { Note, stackRouterOptions } from './notes';

/** An all-privileges connection to one node of the stack (STOP SLAVE, MASTER_DELAY, read_only...). */
export function adminTo(stack: Stack, name: string): Promise<Connection> {
  const node = stack.mariadb.nodes.find((n) => n.name === name);
  if (!node) throw new Error(`no MariaDB node ${name}`);
  return adminConnection(node, stack.credentials);
}

/** Sets a replica's MASTER_DELAY (seconds); 0 removes it. */
export async function setReplicaDelay(conn: Connection, seconds: number): Promise<void> {
  await conn.query('STOP SLAVE');
  await conn.query(`CHANGE MASTER TO MASTER_DELAY = ${Math.trunc(seconds)}`);
  await conn.query('START SLAVE');
}

/** Waits until the router sees `replica` in state `health`. */
export function waitForHealth(
  router: ReplicaRouter,
  replica: string,
  health: ReplicaHealth,
  timeoutMs = 10_000,
): Promise<number> {
  return waitFor(
    `${replica} to be ${health}`,
    async () => router.status().replicas.find((r) => r.name === replica)?.state?.health === health,
    { timeoutMs, intervalMs: 20 },
  );
}

/** A metric's current value for the given labels (0 when never set). */
export async function metricValue(name: string, labels: Record<string, string>): Promise<number> {
  const values = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  const hit = values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x));
  return hit?.value ?? 0;
}

/** The values of one label across a metric's series (which series exist, whatever their value). */
export async function metricLabelValues(name: string, label: string): Promise<string[]> {
  const values = (await metricsRegistry.getSingleMetric(name)?.get())?.values ?? [];
  return values.map((v) => String(v.labels[label]));
}

/** One read of a {@link readLoad}: when it started (ms, performance.now), how long it took, who served it. */
export interface ReadSample {
  at: number;
  ms: number;
  server: number;
}

/** Runs `iteration(worker)` in `concurrency` loops until stopped (or an iteration returns false). */
function loops(
  concurrency: number,
  iteration: (worker: number) => Promise<boolean | void>,
): () => Promise<void> {
  let running = true;
  const loop = async (worker: number) => {
    while (running && (await iteration(worker)) !== false);
  };
  const all = Array.from({ length: concurrency }, (_, i) => loop(i));
  return async () => {
    running = false;
    await Promise.all(all);
  };
}

/** Reads `SELECT @@server_id` through the router from `concurrency` loops until stopped. */
export function readLoad(
  router: ReplicaRouter,
  concurrency: number,
): { stop: () => Promise<{ samples: ReadSample[]; failures: unknown[] }> } {
  const samples: ReadSample[] = [];
  const failures: unknown[] = [];
  const stop = loops(concurrency, async () => {
    const at = performance.now();
    try {
      const server = await router.read(async (m) =>
        Number((await m.query('SELECT @@server_id AS id'))[0].id),
      );
      samples.push({ at, ms: performance.now() - at, server });
    } catch (err) {
      if (failures.length < 20) failures.push(err); // enough to see why, without drowning
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  return { stop: async () => (await stop(), { samples, failures }) };
}

/** One acknowledged write of a {@link writeLoad}: the row id and when its successful attempt started. */
export interface WriteAck {
  id: string;
  at: number;
}

/**
 * Inserts notes in transactions from `concurrency` loops until stopped; a
 * RetryableWriteError is retried with the same id (a duplicate key after an
 * `unknown` outcome means the earlier attempt landed). Any other error ends a loop.
 */
export function writeLoad(
  router: ReplicaRouter,
  concurrency: number,
  prefix: string,
): { stop: () => Promise<{ acked: WriteAck[]; errors: unknown[] }> } {
  const acked: WriteAck[] = [];
  const errors: unknown[] = [];
  const written = new Array<number>(concurrency).fill(0);
  const stop = loops(concurrency, async (worker) => {
    const id = `${prefix}-${worker}-${written[worker]++}`;
    let maybeLanded = false;
    for (;;) {
      const at = performance.now();
      try {
        await router.transaction((m) => m.insert(Note, { id, body: `written by ${worker}` }));
        acked.push({ id, at });
        return true;
      } catch (err) {
        if (maybeLanded && /Duplicate entry/.test(String(err))) {
          acked.push({ id, at });
          return true;
        }
        errors.push(err);
        if (!(err instanceof RetryableWriteError)) return false;
        maybeLanded ||= err.outcome === 'unknown';
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  });
  return { stop: async () => (await stop(), { acked, errors }) };
}

/** Every note id on one node, straight from it. */
export async function noteIds(conn: Connection): Promise<Set<string>> {
  const [rows] = await conn.query('SELECT id FROM reservation.note');
  return new Set((rows as Array<{ id: string }>).map((r) => r.id));
}

/** `@@gtid_binlog_pos` of one node. */
export async function binlogPosition(conn: Connection): Promise<string> {
  const [rows] = await conn.query('SELECT @@gtid_binlog_pos AS pos');
  return String((rows as Array<{ pos: string }>)[0]?.pos);
}

/** Makes a replica a writable primary: STOP SLAVE, RESET SLAVE ALL, read_only off. */
export async function promote(conn: Connection): Promise<void> {
  await conn.query('STOP SLAVE');
  await conn.query('RESET SLAVE ALL');
  await conn.query('SET GLOBAL read_only = OFF');
}

/** Points a replica at a new primary, GTID auto-positioned. */
export async function repoint(
  conn: Connection,
  primary: { host: string; port: number },
  stack: Stack,
): Promise<void> {
  const { user, password } = stack.credentials.replication;
  await conn.query('STOP SLAVE');
  await conn.query(
    'CHANGE MASTER TO MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1',
    [primary.host, primary.port, user, password],
  );
  await conn.query('START SLAVE');
}

/** A launcher stack with a router over it, for one test file; admin connections opened on demand. */
export interface Cluster {
  stack: Stack;
  router: ReplicaRouter;
  /** An all-privileges connection to a node, opened on first use. */
  admin(name: string): Promise<Connection>;
  /** Closes the router and the connections, stops the stack. */
  stop(): Promise<void>;
}

/** Starts a primary + 2 replicas and a router over them ({@link stackRouterOptions} plus `overrides`). */
export async function startCluster(
  overrides: Partial<ReplicaRouterOptions> = {},
): Promise<Cluster> {
  const stack = await startStack({ replicas: 2, sentinel: false, redis: false, nginx: false });
  const conns = new Map<string, Promise<Connection>>();
  let router: ReplicaRouter | undefined;
  const stop = async () => {
    await Promise.all(
      [...conns.values()].map((c) =>
        c.then(
          (x) => x.destroy(),
          () => undefined,
        ),
      ),
    );
    await router?.close();
    await stack.stop();
  };
  try {
    router = await ReplicaRouter.create(stackRouterOptions(stack, overrides));
  } catch (err) {
    await stop();
    throw err;
  }
  const admin = (name: string) => {
    const conn = conns.get(name) ?? adminTo(stack, name);
    conns.set(name, conn);
    return conn;
  };
  return { stack, router, admin, stop };
}
