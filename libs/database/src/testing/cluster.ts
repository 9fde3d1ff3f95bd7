import { adminConnection, Stack, waitFor } from '@stayline/launcher';
import { metricsRegistry } from '@stayline/observability';
import type { Connection } from 'mysql2/promise';
import type { ReplicaRouter } from '../lib/replica-router';
import { ReplicaHealth } from '../lib/replica-state';

/** An all-privileges connection to one node of the stack (STOP SLAVE, MASTER_DELAY, read_only...). */
export function admin(stack: Stack, name: string): Promise<Connection> {
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
): Promise<void> {
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

/** One read of a {@link readLoad}: when it started (ms, performance.now), how long it took, who served it. */
export interface ReadSample {
  at: number;
  ms: number;
  server: number;
}

/** Reads `SELECT @@server_id` through the router from `concurrency` loops until stopped. */
export function readLoad(
  router: ReplicaRouter,
  concurrency: number,
): { stop: () => Promise<{ samples: ReadSample[]; failures: unknown[] }> } {
  const samples: ReadSample[] = [];
  const failures: unknown[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      const at = performance.now();
      try {
        const server = await router.read(async (m) =>
          Number((await m.query('SELECT @@server_id AS id'))[0].id),
        );
        samples.push({ at, ms: performance.now() - at, server });
      } catch (err) {
        failures.push(err);
      }
    }
  };
  const loops = Array.from({ length: concurrency }, loop);
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return { samples, failures };
    },
  };
}
