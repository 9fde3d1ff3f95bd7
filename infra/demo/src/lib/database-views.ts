import { Component } from '@stayline/stack-kit';

/** How an instance's ReplicaRouter sees the cluster (its readiness `database` detail). */
export interface DatabaseView {
  epoch?: number;
  primary?: { name?: string; reachable?: boolean };
  /** Per replica: `usable`, `lagging`, `stopped` or `unreachable`, and the lag it measured. */
  replicas?: Record<string, { health: string; lagMs?: number | null }>;
}

/**
 * One instance's router view, from `/health/ready` (read whatever the status
 * code: the instance reports itself degraded while a replica is out).
 */
export async function databaseOf(c: Component): Promise<DatabaseView | undefined> {
  const res = await fetch(`http://${c.host}:${c.port}/health/ready`, {
    signal: AbortSignal.timeout(1_000),
  });
  const body = (await res.json()) as { details?: { database?: DatabaseView } };
  return body.details?.database;
}

/** Reads an instance's router sent to each replica so far (`stayline_db_queries_total`). */
export async function replicaReads(c: Component): Promise<Record<string, number>> {
  const res = await fetch(`http://${c.host}:${c.port}/metrics`, {
    signal: AbortSignal.timeout(2_000),
  });
  const reads: Record<string, number> = {};
  for (const m of (await res.text()).matchAll(
    /^stayline_db_queries_total\{target="([^"]+)",role="replica"\} (\d+)/gm,
  ))
    reads[m[1]] = Number(m[2]);
  return reads;
}
