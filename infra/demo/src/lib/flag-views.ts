import { setTimeout as sleep } from 'node:timers/promises';
import { adminToken, bearer, Component, DATA_SERVICES, Stack } from '@stayline/stack-kit';
import { FlagBody, instancesOf } from './admin';

/** What `GET /admin/flags` answers: the instance's local copy, the one its code reads. */
export interface FlagSnapshotView {
  version: number;
  flags: Record<string, FlagBody>;
}

/** Instances that apply the feature flags (the data services'; not the dashboard's, not auth's). */
export function flagInstances(stack: Stack, service?: string): Component[] {
  return instancesOf(stack, service).filter((c) => DATA_SERVICES.includes(String(c.meta?.service)));
}

/** One instance's own view of the flags, read from its admin API with the operator's token. */
export async function flagsOf(stack: Stack, c: Component): Promise<FlagSnapshotView> {
  const res = await fetch(`http://${c.host}:${c.port}/admin/flags`, {
    headers: bearer(await adminToken(stack)),
    signal: AbortSignal.timeout(2_000),
  });
  if (!res.ok) throw new Error(`${c.name}: GET /admin/flags answered ${res.status}`);
  return (await res.json()) as FlagSnapshotView;
}

/**
 * Polls each instance's view every `pauseMs` until `applied` holds for it, and
 * resolves when every instance was seen applying it (`performance.now()` per
 * instance). A time is when the answer that first showed it arrived: at most
 * one poll and one pause after the instance applied it.
 */
export async function whenApplied(
  stack: Stack,
  instances: Component[],
  applied: (snapshot: FlagSnapshotView) => boolean,
  timeoutMs = 10_000,
  pauseMs = 2,
): Promise<Map<string, number>> {
  const deadline = performance.now() + timeoutMs;
  const seen = new Map<string, number>();
  await Promise.all(
    instances.map(async (c) => {
      while (performance.now() < deadline) {
        const view = await flagsOf(stack, c).catch(() => undefined);
        if (view && applied(view)) {
          seen.set(c.name, performance.now());
          return;
        }
        await sleep(pauseMs);
      }
      throw new Error(`${c.name} did not apply the flag within ${timeoutMs} ms`);
    }),
  );
  return seen;
}
