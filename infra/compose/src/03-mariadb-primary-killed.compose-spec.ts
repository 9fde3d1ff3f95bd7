/**
 * The MariaDB primary's container SIGKILLed (`docker kill`) under a stream of
 * bookings through the gateway: the failover agents promote a replica, the
 * services follow the published topology, no acknowledged booking is lost, the
 * first booking lands on the new primary within 5 s of the kill, and the old
 * primary, started again (`docker start`), rejoins as a replica by itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import {
  acknowledged,
  MARIADB_NODES,
  mariadbPrimary,
  mariadbRole,
  missingOn,
  type MariaDbRole,
} from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';

jest.setTimeout(300_000);

const stack = ComposeStack.fromEnv();
const G = stack.gateway;

/** The server id in a consistency token (`domain-server-seq`): who committed the booking. */
function committedBy(token: unknown): number | undefined {
  const m = /^\d+-(\d+)-\d+/.exec(String(token ?? ''));
  return m ? Number(m[1]) : undefined;
}

describe('the MariaDB primary container killed under bookings', () => {
  let run: BookingRun | undefined;
  let killed: string | undefined;
  afterAll(async () => {
    await run?.finish();
    // whatever failed, the next suites get all three nodes back
    if (killed && (await stack.container(killed)).state !== 'running') await stack.start(killed);
  });

  it('promotes a replica within 5 s, loses no acknowledged booking, and rejoins the old primary', async () => {
    const old = await mariadbPrimary(stack);
    run = await BookingRun.start(G, 4);
    const load = run.load;
    await sleep(3_000);
    killed = old.service;
    const killedAt = await stack.kill(old.service);

    const killedWall = Date.now() - (performance.now() - killedAt);
    // the first booking acknowledged by another server than the old primary
    const onNew = () =>
      load
        .between(killedAt)
        .filter(
          (x) =>
            x.status === 201 &&
            committedBy(x.reply?.headers['x-consistency-token']) !== old.serverId,
        );
    await waitFor('a booking committed on the new primary', async () => onNew().length > 0, {
      timeoutMs: 30_000,
      intervalMs: 50,
    });
    // accepted: when the new primary inserted a hold (`createdAt` is the database's own
    // CURRENT_TIMESTAMP; after the kill, only the new primary takes writes); acknowledged:
    // when the client had the 201
    const created = onNew()
      .map((x) => Date.parse(x.reply?.json<{ createdAt: string }>().createdAt ?? ''))
      .filter((t) => t > killedWall);
    expect(created.length).toBeGreaterThan(0);
    const acceptedMs = Math.min(...created) - killedWall;
    const acknowledgedMs = onNew()[0].at - killedAt;
    console.log(
      `first write accepted on the new primary ${Math.round(acceptedMs)} ms after the kill, ` +
        `acknowledged to its client at ${Math.round(acknowledgedMs)} ms`,
    );
    await sleep(3_000);
    await load.stop();

    const primary = await mariadbPrimary(stack);
    expect(primary.service).not.toBe(old.service);
    expect(acceptedMs).toBeLessThan(5_000);
    expect(acknowledgedMs).toBeLessThan(10_000);

    // every booking the gateway acknowledged is on the new primary and on the other replica
    const ids = acknowledged(load.samples);
    expect(ids.length).toBeGreaterThan(10);
    expect(await missingOn(stack, primary.service, ids)).toEqual([]);
    const other = MARIADB_NODES.find((n) => n !== old.service && n !== primary.service) as string;
    expect(await missingOn(stack, other, ids)).toEqual([]);

    // started again: it comes back read-only, and the leader agent makes it a replica of the new primary
    await stack.start(old.service);
    const primaryIp = (await stack.container(primary.service)).ip;
    let back: MariaDbRole | undefined;
    await waitFor(
      `${old.service} to replicate from ${primary.service}`,
      async () => {
        back = await mariadbRole(stack, old.service);
        return (
          !!back?.follows &&
          back.follows.host === primaryIp &&
          back.follows.io === 'Yes' &&
          back.follows.sql === 'Yes'
        );
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    expect(back?.readOnly).toBe(true);
    expect(await missingOn(stack, old.service, ids)).toEqual([]);
  });
});
