/**
 * Partition 1: the MariaDB primary's container cut from everything (replicas,
 * failover agents, services, coordinator; both directions, packets dropped)
 * under a stream of bookings. The agents promote a replica; the isolated
 * primary acknowledges nothing after the promotion (semi-sync waits for a
 * replica's acknowledgement with no timeout, and it has no replica left);
 * healed, it holds the transactions it logged but no replica acknowledged
 * (errant GTIDs): the leader agent refuses to point it at the new primary,
 * says so, and rebuilds it from the new primary (`REBUILD_ERRANT=auto`),
 * discarding them, after which it rejoins as a replica. The checker proves nothing acknowledged was lost,
 * nothing booked twice, and never two primaries taking writes.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@stayline/stack-kit';
import { check, historyOf, NodeSampler, summary, waitConverged } from './lib/checker';
import { MARIADB_NODES, mariadbPrimary, mariadbRole, type MariaDbRole } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';
import { agentsSaid } from './lib/faults';
import { BookingRun } from './lib/gateway';
import { Nemesis } from './lib/nemesis';
import { healAfterAll } from './lib/scenario';

jest.setTimeout(420_000);

const stack = ComposeStack.fromEnv();
const nemesis = new Nemesis(stack);

/**
 * A booking must be acknowledged by the new primary within this long of the cut:
 * the replicas' heartbeat timeout, the agents' probes, the failover, the services
 * following the new topology. Measured 7.1, 12.3 and 20.1 s on a loaded 2-core machine.
 */
const WRITES_BACK_BOUND_MS = 30_000;

describe('partition: the MariaDB primary isolated from everything', () => {
  let run: BookingRun | undefined;
  let sampler: NodeSampler | undefined;
  healAfterAll(
    nemesis,
    () => sampler?.stop(),
    () => run?.finish(),
  );

  it('promotes a replica, acknowledges nothing on the isolated side, rebuilds and rejoins it, loses nothing', async () => {
    const old = await mariadbPrimary(stack);
    sampler = new NodeSampler(stack);
    run = await BookingRun.start(stack.gateway, 4, 20);
    await sleep(3_000);

    // first from its replicas alone, for a moment: the bookings it commits now are
    // logged and wait for an acknowledgement that never comes (the transactions a
    // real partition catches in flight), then from everything
    const callAt = performance.now();
    // the rules are in force once isolate resolves (its instant): a booking that reached
    // the primary before may still be acknowledged by a replica
    const cutInForce = await nemesis.isolate(
      old.service,
      MARIADB_NODES.filter((n) => n !== old.service),
    );
    await sleep(1_000);
    const cutAt = await nemesis.isolate(old.service, 'everything');
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
      `isolated ${old.service} (cut from its replicas ${Math.round(cutInForce - callAt)} ms after the call, ` +
        `from everything ${Math.round(cutAt - cutInForce)} ms later): ` +
        `${promoted?.service} writable ${Math.round(promotedMs)} ms after the cut, ` +
        `first booking acknowledged on it at ${Math.round(writesBackMs)} ms`,
    );
    await sleep(5_000);

    // healed: the old primary comes back writable and is fenced (read_only, its
    // sessions killed, which commits what they were waiting on); holding those
    // transactions no replica acknowledged, it is rebuilt from the new primary
    // by the leader agent, then published as a replica. Nothing done by hand.
    const healedAt = new Date().toISOString();
    await nemesis.healAll();
    const newPrimary = promoted as MariaDbRole;
    const newIp = (await stack.container(newPrimary.service)).ip;
    const healMark = performance.now();
    await waitFor(
      `${old.service} to rejoin as a replica of ${newPrimary.service}`,
      async () => {
        const r = await mariadbRole(stack, old.service);
        return !!r?.follows && r.follows.host === newIp && r.follows.io === 'Yes' && r.readOnly;
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const rejoinMs = performance.now() - healMark;
    const said = await agentsSaid(stack, healedAt, /holds .* lacks|rebuilt from|rejoining/);
    console.log(
      `${old.service} rejoined as a replica of ${newPrimary.service} ${Math.round(rejoinMs)} ms after the heal; the agents said:\n  ${said.join('\n  ')}`,
    );
    // it held what it logged while cut off from its replicas: errant, rebuilt away
    expect(said.join('\n')).toMatch(
      new RegExp(`${old.service} is fenced and holds .* that ${newPrimary.service} lacks`),
    );
    expect(said.join('\n')).toMatch(
      new RegExp(`${old.service} rebuilt from ${newPrimary.service} in \\d+ ms`),
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
    expect(writesBackMs).toBeLessThan(WRITES_BACK_BOUND_MS);
    // nothing sent once the cut was in force was acknowledged by the isolated primary:
    // its commits wait for a replica's acknowledgement that cannot come
    const lateOnOld = history.filter(
      (o) => o.outcome === 'acknowledged' && o.server === old.serverId && o.start > cutInForce,
    );
    expect(lateOnOld).toEqual([]);
  });
});
