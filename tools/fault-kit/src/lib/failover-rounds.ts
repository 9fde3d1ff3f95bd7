/**
 * One round of each fault, measured the same way by the fault test, `npm run
 * chaos`, the benchmark and `npm run demo:failover` (docs/patterns/failover.md):
 * - MariaDB: SIGKILL of the primary under a write stream -> the first write
 *   accepted on the new primary through a ReplicaRouter following the topology;
 *   every acknowledged write checked on the new primary and the repointed
 *   replicas; the old primary rejoined as a replica for the next round.
 * - Redis: SIGKILL of the primary -> the first write accepted through Sentinel;
 *   every WAIT-acknowledged write checked on the new primary; the old node back
 *   as a replica.
 * "The first write" is the first one sent once the killed process is gone: kill(2)
 * returns before the signal takes the process, which may still answer a write sent in
 * that moment (a Redis round once measured an "outage" of 1 ms that way).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { FailoverReport } from '@stayline/contracts';
import {
  agentHealth,
  isAlive,
  leaderAgent,
  publishedTopology,
  recordRoles,
  redisCommand,
  rejoinAsReplica,
  SENTINEL_FAILOVER_TIMEOUT_MS,
  sentinelMaster,
  Stack,
  waitFor,
} from '@stayline/stack-kit';
import type { RedisWriteStream } from './redis-stream';
import type { WriteStream } from './write-stream';

/** What one MariaDB round measured. */
export interface MariaDbRound {
  killed: string;
  promoted: string;
  epoch: number;
  /** SIGKILL to the first write accepted on the new primary (sent after the kill). */
  outageMs: number;
  /** The leader agent's own figures: first failed probe to declared dead, then decision to publication. */
  detectionMs?: number;
  failoverMs?: number;
  /** Acknowledged writes so far, and those missing anywhere they must be. */
  acked: number;
  lost: number;
  /** Whether the killed process stayed dead until the rejoin. */
  oldPrimaryDown: boolean;
  rejoin: 'restarted' | 'rebuilt';
}

/** What a caller may watch during a round (a demo prints the kill on its timeline). */
export interface RoundHooks {
  /** Right after the SIGKILL, with the killed node and `performance.now()`. */
  onKill?: (name: string, at: number) => void;
  /** Once the first write sent after the kill was accepted, with the outage and the new primary. */
  onResumed?: (outageMs: number, promoted: string) => void;
}

/** When the process is gone (it may run on for a moment after kill(2) returns). */
async function goneAt(pid: number | undefined): Promise<number> {
  const deadline = performance.now() + 5_000;
  while (isAlive(pid) && performance.now() < deadline) await sleep(1);
  return performance.now();
}

/** SIGKILLs the MariaDB primary under `stream`, checks every acknowledged write, rejoins the old primary. */
export async function mariadbRound(
  stack: Stack,
  stream: WriteStream,
  hooks: RoundHooks = {},
): Promise<MariaDbRound> {
  const before = await publishedTopology(stack);
  if (!before) throw new Error('no topology published');
  const old = before.primary.name;
  const oldPid = stack.component(old).pid;
  await stream.resumedAfter(performance.now()); // the stream flows
  const killedAt = performance.now();
  stack.kill(old, 'SIGKILL');
  hooks.onKill?.(old, killedAt);
  const first = await stream.resumedAfter(await goneAt(oldPid), 60_000);
  const after = await publishedTopology(stack);
  if (!after || after.epoch <= before.epoch) throw new Error('no new topology after the failover');
  recordRoles(stack, after);
  const oldPrimaryDown = !isAlive(oldPid);
  hooks.onResumed?.(first.ackedAt - killedAt, after.primary.name);

  // more writes on the new primary, then every acknowledged write wherever it must be
  await sleep(300);
  const missing = new Set(await stream.missingOn(stack, after.primary.name));
  for (const r of after.replicas.filter((x) => x.name !== old)) {
    await waitFor(
      `${r.name} to catch up`,
      async () => (await stream.missingOn(stack, r.name)).length === 0,
      { timeoutMs: 10_000, intervalMs: 100 },
    ).catch(async () => (await stream.missingOn(stack, r.name)).forEach((id) => missing.add(id)));
  }
  const leader = await leaderAgent(stack);
  const report: FailoverReport | undefined = leader
    ? (await agentHealth(stack, leader.name)).lastFailover
    : undefined;
  const rejoined = await rejoinAsReplica(stack, old);
  return {
    killed: old,
    promoted: after.primary.name,
    epoch: after.epoch,
    outageMs: Math.round(first.ackedAt - killedAt),
    detectionMs: report?.epoch === after.epoch ? report.detectionMs : undefined,
    failoverMs: report?.epoch === after.epoch ? report.totalMs : undefined,
    acked: stream.acks.length,
    lost: missing.size,
    oldPrimaryDown,
    rejoin: rejoined.how,
  };
}

/** What one Redis round measured. */
export interface RedisRound {
  killed: string;
  promoted: string;
  /** SIGKILL to the first write accepted through Sentinel (sent once the old primary was gone). */
  outageMs: number;
  /** Writes a replica acknowledged (WAIT 1) so far, and those missing on the new primary. */
  acked: number;
  lost: number;
}

/**
 * Waits until a Sentinel may fail the master over again: every Sentinel sees
 * the replica healthy, and twice `failover-timeout` passed since the last
 * failover started (Sentinel's own rule; back-to-back rounds would otherwise
 * measure that wait, 10 s here, not a failover).
 */
export async function redisSettled(stack: Stack, lastKillAt: number): Promise<void> {
  await waitFor(
    'the Sentinels to see a healthy replica',
    async () => {
      for (const s of stack.redis.sentinels) {
        const replicas = await redisCommand<string[][]>(
          s,
          'SENTINEL',
          'REPLICAS',
          stack.redis.masterName,
        );
        const healthy = replicas.some((fields) => {
          const f = Object.fromEntries(
            fields.flatMap((v, i) => (i % 2 ? [] : [[v, fields[i + 1]]])),
          );
          return f.flags === 'slave' && f['master-link-status'] === 'ok';
        });
        if (!healthy) return false;
      }
      return true;
    },
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const wait = lastKillAt + 2 * SENTINEL_FAILOVER_TIMEOUT_MS + 500 - performance.now();
  if (wait > 0) await sleep(wait);
}

/** SIGKILLs the Redis primary under `stream`; Sentinel fails over; the old node comes back as a replica. */
export async function redisRound(
  stack: Stack,
  stream: RedisWriteStream,
  hooks: RoundHooks = {},
): Promise<RedisRound & { killedAt: number }> {
  const old = stack.redis.primary;
  await stream.acceptedAfter(performance.now());
  const killedAt = performance.now();
  stack.kill(old.name, 'SIGKILL');
  hooks.onKill?.(old.name, killedAt);
  const first = await stream.acceptedAfter(await goneAt(stack.component(old.name).pid), 60_000);
  // the write went to the new primary through whichever Sentinel answered first; the one
  // asked here may still be switching its configuration (under load: a moment later)
  let promoted = await sentinelMaster(stack.redis.sentinels[0]);
  const known = () => stack.redis.replicas.find((r) => r.port === promoted.port);
  await waitFor(
    'the first Sentinel to name the promoted replica',
    async () => {
      promoted = await sentinelMaster(stack.redis.sentinels[0]);
      return !!known();
    },
    { timeoutMs: 15_000, intervalMs: 100 },
  ).catch(() => undefined);
  const next = known();
  if (!next)
    throw new Error(`Sentinel names ${promoted.host}:${promoted.port}, not a known replica`);
  hooks.onResumed?.(first.acceptedAt - killedAt, next.name);
  stack.setRole(next.name, 'primary');
  stack.setRole(old.name, 'replica');
  const lost = await stream.lostOn(promoted);
  await stack.restart(old.name); // back as a replica of the new primary, never an empty primary
  return {
    killedAt,
    killed: old.name,
    promoted: next.name,
    outageMs: Math.round(first.acceptedAt - killedAt),
    acked: stream.writes.filter((w) => w.durable).length,
    lost: lost.length,
  };
}
