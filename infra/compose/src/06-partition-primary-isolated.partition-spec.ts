/**
 * Partition 1: the MariaDB primary's container cut from everything (replicas,
 * failover agents, services, coordinator; both directions, packets dropped)
 * under a stream of bookings. The agents promote a replica; the isolated
 * primary acknowledges nothing after the promotion (semi-sync waits for a
 * replica's acknowledgement with no timeout, and it has no replica left);
 * healed, it holds the transactions it logged but no replica acknowledged
 * (errant GTIDs): the leader agent refuses to point it at the new primary and
 * says so, and a restart (`--init-rpl-role=SLAVE`) rolls them back, after which
 * it rejoins as a replica. The checker proves nothing acknowledged was lost,
 * nothing booked twice, and never two primaries taking writes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { check, historyOf, NodeSampler, summary, waitConverged } from './lib/checker';
import { MARIADB_NODES, mariadbPrimary, mariadbRole, type MariaDbRole } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { BookingRun } from './lib/gateway';
import { Nemesis } from './lib/nemesis';

jest.setTimeout(420_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);

/** A new primary must take writes within this long of the cut (detection by timeouts, then the failover). */
const PROMOTION_BOUND_MS = 20_000;

describe('partition: the MariaDB primary isolated from everything', () => {
  let run: BookingRun | undefined;
  let sampler: NodeSampler | undefined;
  nemesis.guard();
  afterAll(async () => {
    await nemesis.healAll();
    await sampler?.stop();
    await run?.finish();
  });

  it('promotes a replica, acknowledges nothing on the isolated side, rejoins it after a restart, loses nothing', async () => {
    const old = await mariadbPrimary(stack);
    sampler = new NodeSampler(stack);
    run = await BookingRun.start(stack.gateway, 4, 20);
    await sleep(3_000);

    await nemesis.isolate(old.service, 'everything');
    const cutAt = performance.now();
    let promoted: MariaDbRole | undefined;
    await waitFor(
      'another node to be the writable primary',
      async () => {
        const roles = await Promise.all(
          MARIADB_NODES.filter((n) => n !== old.service).map((n) => mariadbRole(stack, n)),
        );
        promoted = roles.find((r) => r && !r.readOnly && !r.follows);
        return !!promoted;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const promotedMs = performance.now() - cutAt;
    // the first booking the new primary acknowledged
    const firstOnNew = () =>
      run?.load.samples.find(
        (s) =>
          s.status === 201 &&
          s.at > cutAt &&
          String(s.reply?.headers['x-consistency-token'] ?? '').includes(`-${promoted?.serverId}-`),
      );
    await waitFor('a booking acknowledged by the new primary', async () => !!firstOnNew(), {
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    const writesBackMs = (firstOnNew()?.at ?? cutAt) - cutAt;
    console.log(
      `isolated ${old.service}: ${promoted?.service} writable ${Math.round(promotedMs)} ms after the cut, ` +
        `first booking acknowledged on it at ${Math.round(writesBackMs)} ms`,
    );
    await sleep(5_000);

    // healed: the old primary comes back read-only; with transactions no replica
    // acknowledged it is not pointed at the new primary until a restart rolls them back
    await nemesis.healAll();
    const newPrimary = promoted as MariaDbRole;
    const newIp = (await stack.container(newPrimary.service)).ip;
    const replicating = async () => {
      const r = await mariadbRole(stack, old.service);
      return !!r?.follows && r.follows.host === newIp && r.follows.io === 'Yes' && r.readOnly;
    };
    let restarted = false;
    try {
      await waitFor(`${old.service} to rejoin as it is`, replicating, {
        timeoutMs: 20_000,
        intervalMs: 500,
      });
    } catch {
      const agents = await Promise.all(
        ['failover-agent-1', 'failover-agent-2'].map(async (a) =>
          stack.logs((await stack.container(a)).name, 300),
        ),
      );
      expect(agents.join('\n')).toMatch(
        new RegExp(`${old.service} is fenced and holds .* that ${newPrimary.service} lacks`),
      );
      await stack.docker(['restart', (await stack.container(old.service)).name], 120_000);
      restarted = true;
      await waitFor(`${old.service} to rejoin after its restart`, replicating, {
        timeoutMs: 90_000,
        intervalMs: 500,
      });
    }
    console.log(
      `${old.service} rejoined as a replica of ${newPrimary.service}` +
        (restarted ? ' after a restart rolled back what no replica had acknowledged' : ''),
    );

    await run.stop();
    const nodeSamples = await (sampler as NodeSampler).stop();
    const history = historyOf(run.load.samples, (n) => (run as BookingRun).keyOf(n));
    // every node caught up with every acknowledged booking before the final read
    await waitConverged(stack, history, 60_000);
    const result = await check(stack, history, nodeSamples);
    console.log(`checker:\n${summary(result)}`);

    expect(result.violations).toEqual([]);
    expect(result.acknowledged).toBeGreaterThan(10);
    expect(result.lost).toBe(0);
    expect(result.duplicated).toBe(0);
    expect(result.twoPrimaryWindows).toBe(0);
    expect(promotedMs).toBeLessThan(PROMOTION_BOUND_MS);
    // nothing acknowledged by the isolated primary once the cut was made (plus one in-flight request)
    const lateOnOld = history.filter(
      (o) => o.outcome === 'acknowledged' && o.server === old.serverId && o.start > cutAt,
    );
    expect(lateOnOld).toEqual([]);
  });
});
