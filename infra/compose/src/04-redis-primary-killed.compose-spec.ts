/**
 * The Redis primary's container SIGKILLed: the Sentinels promote the replica,
 * the services (registry, flags, outbox stream) follow through Sentinel, and
 * bookings keep being accepted; the old primary, started again, is turned into
 * a replica of the new one by the Sentinels.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { REDIS_CLI, redisPrimary, sentinelMasterIp } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';

jest.setTimeout(240_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;

describe('the Redis primary container killed under bookings', () => {
  let run: BookingRun | undefined;
  let killed: string | undefined;
  afterAll(async () => {
    await run?.finish();
    if (killed && (await stack.container(killed)).state !== 'running') await stack.start(killed);
  });

  it('is replaced by the Sentinels, and bookings keep working', async () => {
    const old = await redisPrimary(stack);
    expect(['redis-1', 'redis-2']).toContain(old);
    run = await BookingRun.start(G, 4);
    const load = run.load;
    await sleep(3_000);
    const oldIp = await sentinelMasterIp(stack);
    killed = old;
    const killedAt = await stack.kill(old);

    let promotedAt = 0;
    await waitFor(
      'the Sentinels to name a new primary',
      async () => {
        const now = await sentinelMasterIp(stack).catch(() => oldIp);
        promotedAt = performance.now();
        return now !== oldIp;
      },
      { timeoutMs: 30_000, intervalMs: 50 },
    );
    // the Sentinels agree on a Redis container of the project
    expect(await redisPrimary(stack)).not.toBe(old);
    console.log(
      `Sentinel promoted the replica ${Math.round(promotedAt - killedAt)} ms after the kill`,
    );
    // bookings go on: after the promotion settles, every booking is accepted
    await sleep(5_000);
    const settled = performance.now();
    await sleep(5_000);
    await load.stop();
    const after = load.between(settled);
    expect(after.length).toBeGreaterThan(10);
    expect(after.filter((s) => ![201, 202, 409].includes(s.status)).map((s) => s.status)).toEqual(
      [],
    );
    // during the promotion some bookings may fail: said, not hidden (docs/docker.md, "Measured")
    const during = load.errors(load.between(killedAt, settled));
    const statuses: Record<string, number> = {};
    for (const e of during)
      statuses[e.status || 'no answer'] = (statuses[e.status || 'no answer'] ?? 0) + 1;
    console.log(
      `bookings that failed between the kill and 5 s after the promotion: ${during.length} of ${load.between(killedAt, settled).length} ${JSON.stringify(statuses)}`,
    );
    // and none outside that window
    expect(load.errors().length).toBe(during.length);

    // started again, empty: the Sentinels make it a replica of the new primary
    await stack.start(old);
    await waitFor(
      `${old} to be a replica`,
      async () =>
        /role:slave/.test(await stack.exec(old, [...REDIS_CLI, 'info', 'replication'])) &&
        /master_link_status:up/.test(await stack.exec(old, [...REDIS_CLI, 'info', 'replication'])),
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
});
