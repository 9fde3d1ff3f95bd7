/**
 * `npm run demo:flags [-- --quick]`: feature flags through the coordinator
 * (docs/patterns/coordinator.md, "Feature flags"). Three experiments on the
 * running stack, no restart anywhere:
 * 1. a flag written once centrally, and the time until every instance of every
 *    service holds it, read from each instance's own view (`GET /admin/flags`);
 * 2. a percentage rollout of `recommendation.enabled`, which reservation
 *    evaluates per user id on every listing request: the same users get the
 *    personalized ranking on every instance and every request, exactly those
 *    whose bucket (FNV-1a of flag name + user) is under the percentage, and
 *    raising it only adds users;
 * 3. the same flag as a kill switch under a listing load through the gateway:
 *    every reservation instance switches to the fallback ranking, then back.
 *
 * A listing is ranked for the user whose token it carries. A rollout needs
 * more users than the three demo accounts, so the demo acts as user-00,
 * user-01, … (40 users, 20 in the quick run) with tokens issued by auth's
 * operator route (`POST /admin/tokens`, the operator's token it already uses for
 * the flags), as the benches do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { inRollout } from '@stayline/coordination';
import { latency, Load, percentile, Sample } from '@stayline/fault-kit';
import {
  checkAccepted,
  clearFlag,
  Demo,
  DemoUsers,
  flagInstances,
  flagsOf,
  followLogs,
  parseLogLine,
  runDemo,
  setFlag,
  whenApplied,
} from './index';

/** reservation's kill switch (apps/reservation/src/clients/ranking.client.ts), read per user. */
const KILL_SWITCH = 'recommendation.enabled';
/** A flag no code reads: safe to change as often as the measurement needs. */
const PROBE = 'demo.flags.propagation';

interface ListingPage {
  ranking: 'personalized' | 'fallback';
  reason?: string;
}

/** Whether the kill switch was on for this answer (a fallback for another reason still means it was). */
function switchedOn(page: ListingPage): boolean {
  return !(page.ranking === 'fallback' && page.reason?.includes(KILL_SWITCH));
}

/**
 * 1: one central write, then the time until each instance applied it: from its
 * own log line (`flags changed`, stamped by the instance as it applies), and
 * as its admin API shows it (the view its code reads, polled).
 */
async function propagation(d: Demo): Promise<void> {
  const instances = flagInstances(d.stack);
  const rounds = d.pick(20, 5);
  d.step(`a flag written centrally, ${rounds} times; each of ${instances.length} instances polled`);
  d.onCleanup(`clear ${PROBE}`, () => clearFlag(d.stack, PROBE));
  const appliedAt = new Map<number, Map<string, number>>(); // version -> instance -> wall ms
  const stopTail = followLogs(instances, (name, line) => {
    const e = parseLogLine(line);
    if (e?.msg !== 'flags changed' || !(e.changed as string[] | undefined)?.includes(PROBE)) return;
    const byInstance = appliedAt.get(Number(e.version)) ?? new Map<string, number>();
    byInstance.set(name, Date.parse(String(e.time)));
    appliedAt.set(Number(e.version), byInstance);
  });
  d.onCleanup('stop following the instances', stopTail);
  const acked: number[] = [];
  const everywhere: number[] = [];
  const logged: number[] = [];
  // the first write opens the writing instance's durable connection: not a propagation figure
  await setFlag(d.stack, PROBE, { kind: 'number', value: 0 });
  for (let i = 1; i <= rounds; i++) {
    const value = Date.now() % 1_000_000;
    const applied = whenApplied(
      d.stack,
      instances,
      (v) => v.flags[PROBE]?.kind === 'number' && v.flags[PROBE].value === value,
    );
    const sentWall = Date.now();
    const sentAt = performance.now();
    await setFlag(d.stack, PROBE, { kind: 'number', value });
    acked.push(performance.now() - sentAt);
    const seen = await applied;
    const times = [...seen.values()].map((t) => t - sentAt);
    everywhere.push(Math.max(...times));
    const { version } = await flagsOf(d.stack, instances[0]);
    await d
      .until(
        'every instance to log the change',
        () => appliedAt.get(version)?.size === instances.length,
        {
          timeoutMs: 2_000,
        },
      )
      .then(() =>
        logged.push(
          Math.max(...[...(appliedAt.get(version)?.values() ?? [])].map((t) => t - sentWall)),
        ),
      )
      .catch(() => d.say(`round ${i}: not every instance logged version ${version}`));
    if (i === 1 || i === rounds)
      d.say(
        `round ${i}: acknowledged (a replica has it) after ${acked.at(-1)?.toFixed(1)} ms; held by ` +
          [...seen]
            .sort(([, a], [, b]) => a - b)
            .map(([name, t]) => `${name} ${(t - sentAt).toFixed(1)}`)
            .join(', ') +
          ' ms',
      );
    await sleep(d.pick(100, 50));
  }
  stopTail();
  d.check(`every instance (${instances.length}) applied every write`, everywhere.length === rounds);
  d.check(
    'every instance logged applying every write',
    logged.length === rounds,
    `${logged.length}/${rounds}`,
  );
  d.figure('flag write acknowledged (replica has it), p50', percentile(acked, 50), 'ms');
  d.figure(
    `flag applied by all ${instances.length} instances (their logs), p50 / max`,
    `${percentile(logged, 50)} / ${Math.max(...logged)}`,
    'ms',
    { anchor: 'a redeploy of every instance; bench, 5 watchers in one process: 0.9 / 5.4 ms' },
  );
  d.figure(
    `flag seen by polling all ${instances.length} admin APIs, p50 / max`,
    `${percentile(everywhere, 50).toFixed(1)} / ${Math.max(...everywhere).toFixed(1)}`,
    'ms',
  );
}

/** Every user's kill-switch answer on every reservation instance: `n` times through the gateway, once on each instance. */
async function answersFor(d: Demo, users: DemoUsers, n: number): Promise<Map<string, Set<string>>> {
  const direct = flagInstances(d.stack, 'reservation').map((c) => `http://${c.host}:${c.port}`);
  const bases = [...Array.from({ length: n }, () => d.gateway), ...direct];
  const answers = new Map<string, Set<string>>();
  await Promise.all(
    users.names.map(async (user) => {
      const seen = new Set<string>();
      for (const base of bases) {
        const res = await fetch(`${base}/api/listings?limit=3`, {
          headers: users.headers(user),
          signal: AbortSignal.timeout(5_000),
        });
        if (!res.ok)
          throw new Error(`${base}: GET /api/listings as ${user} answered ${res.status}`);
        const page = (await res.json()) as ListingPage;
        seen.add(`${switchedOn(page) ? 'in' : 'out'}@${res.headers.get('x-instance-id')}`);
      }
      answers.set(user, seen);
    }),
  );
  return answers;
}

/** 2: a percentage rollout by user id, checked against the buckets. */
async function rollout(d: Demo, tokens: DemoUsers): Promise<void> {
  const users = tokens.names;
  const reservations = flagInstances(d.stack, 'reservation');
  const requests = d.pick(6, 3);
  d.onCleanup(`clear ${KILL_SWITCH}`, () => clearFlag(d.stack, KILL_SWITCH));
  const inAt: Record<number, string[]> = {};
  for (const percent of [30, 60]) {
    d.step(`${KILL_SWITCH} rolled out to ${percent} % of users`);
    const applied = whenApplied(
      d.stack,
      reservations,
      (v) =>
        v.flags[KILL_SWITCH]?.kind === 'percentage' && v.flags[KILL_SWITCH].percent === percent,
    );
    await setFlag(d.stack, KILL_SWITCH, { kind: 'percentage', percent });
    await applied;
    const answers = await answersFor(d, tokens, requests);
    const unstable = users.filter(
      (u) => new Set([...(answers.get(u) ?? [])].map((a) => a.split('@')[0])).size !== 1,
    );
    const isIn = (u: string) => [...(answers.get(u) ?? [])].every((a) => a.startsWith('in@'));
    inAt[percent] = users.filter(isIn);
    const wrong = users.filter((u) => isIn(u) !== inRollout(KILL_SWITCH, u, percent));
    d.say(`personalized (in): ${inAt[percent].join(' ') || 'none'}`);
    d.say(
      `each user asked ${requests} times through the gateway and once on each of ${reservations.map((c) => c.name).join(', ')}`,
    );
    d.check(
      `${percent} %: every user got one answer on every instance and every request`,
      unstable.length === 0,
      unstable.length ? `changed for ${unstable.join(' ')}` : `${users.length} users`,
    );
    d.check(
      `${percent} %: exactly the users whose bucket is under ${percent} are in`,
      wrong.length === 0,
      wrong.length ? `not as bucketed: ${wrong.join(' ')}` : undefined,
    );
    d.figure(
      `users in the rollout at ${percent} %`,
      `${inAt[percent].length}/${users.length}`,
      '',
      { goal: `~${percent} %, the same on every request` },
    );
  }
  const dropped = inAt[30].filter((u) => !inAt[60].includes(u));
  d.check(
    'raising 30 % to 60 % only added users',
    dropped.length === 0,
    dropped.length ? `dropped ${dropped.join(' ')}` : `+${inAt[60].length - inAt[30].length}`,
  );
}

const answered = new WeakMap<Sample, boolean>();
/** Whether the kill switch was on for a listing answer (parsed once per sample). */
function sampleOn(s: Sample): boolean | undefined {
  if (s.status !== 200 || !s.reply) return undefined;
  if (!answered.has(s)) answered.set(s, switchedOn(s.reply.json<ListingPage>()));
  return answered.get(s);
}

/**
 * Per reservation instance, when it first answered on the new side after
 * `from`; a relapse is an old-side answer to a request sent after that.
 */
function switchTimes(
  samples: Sample[],
  from: number,
  instances: string[],
  nowOn: boolean,
): { at: Map<string, number>; relapses: number } {
  const at = new Map<string, number>();
  let relapses = 0;
  for (const s of samples.filter((x) => x.at >= from && x.instance)) {
    const on = sampleOn(s);
    if (on === undefined) continue;
    const name = s.instance as string;
    if (on === nowOn && !at.has(name)) at.set(name, s.at);
    // a request already in flight when the instance switched may still answer the old way
    else if (on !== nowOn && s.at - s.ms > (at.get(name) ?? Infinity)) relapses++;
  }
  return {
    at: new Map(instances.filter((n) => at.has(n)).map((n) => [n, at.get(n) as number])),
    relapses,
  };
}

/** 3: the kill switch under load through the gateway. */
async function killSwitch(d: Demo, users: DemoUsers): Promise<void> {
  const reservations = flagInstances(d.stack, 'reservation').map((c) => c.name);
  d.step(`kill switch: ${KILL_SWITCH} off under a listing load through the gateway`);
  const load = Load.start({
    workers: 4,
    keepReplies: true,
    request: (n) => ({
      url: `${d.gateway}/api/listings?limit=3`,
      headers: users.headers(users.nth(n)),
    }),
  });
  d.onCleanup('stop the load', () => load.stop());
  await clearFlag(d.stack, KILL_SWITCH);
  await sleep(d.pick(2_000, 1_000));
  const before = load.samples.filter((s) => sampleOn(s));
  d.say(`${before.length}/${load.samples.length} listings ranked by recommendation before`);

  const phase = async (nowOn: boolean) => {
    const sentAt = performance.now();
    if (nowOn) await clearFlag(d.stack, KILL_SWITCH);
    else await setFlag(d.stack, KILL_SWITCH, { kind: 'boolean', enabled: false });
    await d.until(
      `every reservation instance to answer ${nowOn ? 'personalized' : 'with the fallback'}`,
      () => switchTimes(load.samples, sentAt, reservations, nowOn).at.size === reservations.length,
      { timeoutMs: 10_000 },
    );
    await sleep(d.pick(3_000, 1_000));
    const t = switchTimes(load.samples, sentAt, reservations, nowOn);
    const ms = Math.max(...[...t.at.values()].map((x) => x - sentAt));
    d.say(
      `${nowOn ? 'back on' : 'off'}: ${[...t.at].map(([name, x]) => `${name} after ${(x - sentAt).toFixed(1)} ms`).join(', ')}` +
        ` (first answer that showed it)`,
    );
    d.check(
      `${nowOn ? 'flag cleared: personalized again' : 'flag off: fallback ranking'} on every reservation instance, and it stayed`,
      t.relapses === 0,
      `${t.relapses} requests sent afterwards answered the old way`,
    );
    return ms;
  };
  const offMs = await phase(false);
  const onMs = await phase(true);
  await load.stop();

  const errors = load.errors();
  checkAccepted(d, users, load.samples);
  d.check(
    'no listing request failed while the switch flipped',
    errors.length === 0,
    `${errors.length} of ${load.samples.length}`,
  );
  d.figure('kill switch off: every instance on the fallback', offMs, 'ms', {
    goal: '< 1000',
    anchor: 'a redeploy of every instance',
  });
  d.figure('kill switch cleared: every instance personalized again', onMs, 'ms', {
    goal: '< 1000',
    anchor: 'a redeploy of every instance',
  });
  d.figure('listing requests / failed', `${load.samples.length} / ${errors.length}`, '', {
    goal: 'failed 0',
  });
  d.figure('listings p99 under the load', latency(load.samples).p99, 'ms');
}

void runDemo(
  {
    name: 'flags',
    title: 'a flag changed centrally reaches every instance; rollout and kill switch',
  },
  async (d) => {
    await propagation(d);
    const users = await DemoUsers.issued(
      d,
      Array.from({ length: d.pick(40, 20) }, (_, i) => `user-${String(i).padStart(2, '0')}`),
    );
    await rollout(d, users);
    await killSwitch(d, users);
  },
);
