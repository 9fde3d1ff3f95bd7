/**
 * The frame every partition scenario shares: exit hooks that undo its faults
 * however the run ends, and after its tests every fault healed first, then
 * what it started (workload, samplers) stopped, in the order given.
 */
import type { Nemesis } from './nemesis';

export function healAfterAll(
  nemesis: Nemesis,
  ...stops: Array<() => Promise<unknown> | undefined>
): void {
  nemesis.guard();
  afterAll(async () => {
    await nemesis.healAll();
    for (const stop of stops) await stop();
  });
}
