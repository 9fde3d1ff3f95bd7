/**
 * `npm run demo:leader [-- --quick]`: leader election with fencing tokens
 * (docs/patterns/coordinator.md), on the two failover agents, which elect
 * their leader on etcd (apps/failover-agent). Two faults:
 * 1. the leader SIGKILLed: how long until the other agent leads, with a larger
 *    token (etcd expires the dead leader's lease); the killed agent restarts
 *    and stands by;
 * 2. the leader SIGSTOPped past its lease, so that it wakes up "late": the
 *    other agent takes over, the woken one deposes itself before acting
 *    (`expired`), and an action carrying its old token is refused by a fenced
 *    resource that already saw the new leader's token (libs/coordination
 *    `FencedResource` on the agents' etcd: the check every guarded action makes).
 * Every agent's /health is sampled throughout: never two leaders at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createCoordinationBackend } from '@stayline/coordination';
import type { AgentHealth } from '@stayline/contracts';
import { agentHealth, Component, isAlive, publishedTopology } from '@stayline/stack-kit';
import { Demo, followLogs, parseLogLine, runDemo } from './index';

/** What the demo reads of an agent's /health (AgentHealth and the election token). */
type AgentView = AgentHealth & { token?: number };

/** One answer of an agent's /health. */
interface Seen {
  at: number;
  role: 'leader' | 'follower';
  token?: number;
}

/**
 * Polls every agent's /health back to back (a frozen one times out), keeping
 * each answer, so the demo can tell when an agent started leading and check
 * that two agents never led at the same time.
 */
function watchAgents(agents: Component[]) {
  const seen = new Map<string, Seen[]>(agents.map((a) => [a.name, []]));
  let running = true;
  const loops = agents.map(async (a) => {
    while (running) {
      const h = await fetch(`http://${a.host}:${a.port}/health`, {
        signal: AbortSignal.timeout(200),
      })
        .then((r) => r.json() as Promise<AgentView>)
        .catch(() => undefined);
      if (h) seen.get(a.name)?.push({ at: performance.now(), role: h.role, token: h.token });
      await sleep(h ? 20 : 50);
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
    },
    /** The first answer of `name` as leader, received after `t`. */
    leadingSince(name: string, t: number): Seen | undefined {
      return seen.get(name)?.find((s) => s.at > t && s.role === 'leader');
    },
    /** Whether `name` answered at all after `t`. */
    answeredSince(name: string, t: number): boolean {
      return Boolean(seen.get(name)?.some((s) => s.at > t));
    },
    /**
     * Spans in which one agent answered leader throughout, from its first to
     * its last such answer; two agents' spans overlapping would be two leaders.
     */
    overlaps(): string[] {
      const spans: Array<{ name: string; from: number; to: number; token?: number }> = [];
      for (const [name, list] of seen) {
        for (const s of list) {
          const last = spans.at(-1);
          if (s.role !== 'leader') continue;
          if (last?.name === name && last.token === s.token) last.to = s.at;
          else spans.push({ name, from: s.at, to: s.at, token: s.token });
        }
      }
      return spans.flatMap((a) =>
        spans
          .filter((b) => b.name > a.name && a.from <= b.to && b.from <= a.to)
          .map((b) => `${a.name} (token ${a.token}) and ${b.name} (token ${b.token})`),
      );
    },
  };
}

/** The agent that leads now, with its token, asking each; throws unless exactly one leads. */
async function soleLeader(d: Demo, agents: Component[]): Promise<{ name: string; token: number }> {
  const views = await Promise.all(
    agents.map((a) =>
      agentHealth(d.stack, a.name)
        .then((h) => ({ name: a.name, ...(h as AgentView) }))
        .catch(() => undefined),
    ),
  );
  const leaders = views.filter((v) => v?.role === 'leader');
  if (leaders.length !== 1 || leaders[0]?.token === undefined)
    throw new Error(`${leaders.length} agents lead: ${leaders.map((l) => l?.name).join(', ')}`);
  return { name: leaders[0].name, token: leaders[0].token };
}

/** Waits until every agent answers and exactly one leads; resolves that one. */
async function oneLeader(d: Demo, agents: Component[], timeoutMs = 20_000) {
  let leader: { name: string; token: number } | undefined;
  await d.until(
    'every agent up and exactly one leading',
    async () => {
      const views = await Promise.all(
        agents.map((a) => agentHealth(d.stack, a.name).catch(() => undefined)),
      );
      if (views.some((v) => !v)) return false;
      leader = await soleLeader(d, agents).catch(() => undefined);
      return Boolean(leader);
    },
    { timeoutMs, intervalMs: 100 },
  );
  return leader as { name: string; token: number };
}

void runDemo(
  {
    name: 'leader',
    title: 'the failover agents elect one leader; a dead or late one is replaced and fenced',
  },
  async (d) => {
    const agents = d.stack
      .byKind('agent')
      .filter((c) => c.meta?.service === 'failover-agent' && isAlive(c.pid));
    if (agents.length < 2) throw new Error('the stack runs fewer than 2 failover agents');
    // whatever happens below, every agent runs again and one leads for the next demo
    d.onCleanup('put every agent back', async () => {
      for (const a of agents) {
        const c = d.stack.component(a.name);
        if (!isAlive(c.pid)) await d.stack.restart(a.name);
        else d.stack.kill(a.name, 'SIGCONT');
      }
      await oneLeader(
        d,
        agents.map((a) => d.stack.component(a.name)),
        30_000,
      );
    });

    const first = await oneLeader(d, agents);
    const topologyBefore = await publishedTopology(d.stack);
    d.say(
      `agents: ${agents.map((a) => a.name).join(', ')}; ${first.name} leads with token ${first.token}`,
    );
    const watch = watchAgents(agents);
    d.onCleanup('stop watching the agents', () => watch.stop());
    const stopTail = followLogs(agents, (name, line) => {
      const e = parseLogLine(line);
      if (e?.msg === 'elected' || e?.msg === 'deposed')
        d.say(
          `${name}: ${e.msg} (token ${String(e.token)}${e.reason ? `, ${String(e.reason)}` : ''})`,
        );
    });
    d.onCleanup('stop following the agents', stopTail);

    // 1. crash
    d.step(`SIGKILL ${first.name}, the leader`);
    const killedAt = performance.now();
    d.stack.kill(first.name, 'SIGKILL');
    const other = agents.find((a) => a.name !== first.name) as Component;
    await d.until(
      'the other agent to lead',
      () => Boolean(watch.leadingSince(other.name, killedAt)),
      {
        timeoutMs: 15_000,
      },
    );
    const second = watch.leadingSince(other.name, killedAt) as Seen;
    const takeoverMs = second.at - killedAt;
    d.say(
      `${other.name} leads ${(takeoverMs / 1000).toFixed(2)} s after the kill, token ${second.token}`,
    );
    d.check(
      'the new leader holds a larger fencing token',
      (second.token ?? 0) > first.token,
      `${first.token} -> ${second.token}`,
    );
    d.step(`restart ${first.name}`);
    const restartAt = performance.now();
    await d.stack.restart(first.name);
    const back = await oneLeader(d, agents);
    const rejoinMs = performance.now() - restartAt;
    d.check(
      `${first.name} is back as a follower, ${back.name} still leads`,
      back.name === other.name,
      `after ${(rejoinMs / 1000).toFixed(1)} s`,
    );

    // 2. a late leader
    const freezeMs = d.pick(5_000, 3_500);
    d.step(`SIGSTOP ${other.name}, the leader, for ${freezeMs / 1000} s (its lease: 2 s)`);
    // as a service would: the services' etcd user, on their prefix (libs/contracts etcd-auth.ts)
    const fenced = createCoordinationBackend('etcd', { etcd: d.stack.etcdTarget('service') });
    d.onCleanup('close the etcd client', () => fenced.close());
    const resource = fenced.fencedResource('demo.leader.actions');
    const stoppedAt = performance.now();
    d.stack.kill(other.name, 'SIGSTOP');
    await d.until(
      `${first.name} to lead`,
      () => Boolean(watch.leadingSince(first.name, stoppedAt)),
      { timeoutMs: 15_000 },
    );
    const third = watch.leadingSince(first.name, stoppedAt) as Seen;
    const frozenTakeoverMs = third.at - stoppedAt;
    d.say(
      `${first.name} leads ${(frozenTakeoverMs / 1000).toFixed(2)} s after the freeze, token ${third.token}`,
    );
    const accepted = await resource.write(third.token ?? 0, `${first.name} acts`);
    d.say(
      `${first.name} acts on the fenced resource with token ${third.token}: ${accepted ? 'accepted' : 'refused'}`,
    );
    await sleep(Math.max(0, freezeMs - (performance.now() - stoppedAt)));

    d.step(`SIGCONT ${other.name}: it wakes up believing it still leads`);
    const wokeAt = performance.now();
    d.stack.kill(other.name, 'SIGCONT');
    await d.until(`${other.name} to answer again`, () => watch.answeredSince(other.name, wokeAt), {
      timeoutMs: 10_000,
    });
    const late = await resource.write(second.token ?? 0, `${other.name} acts late`);
    const holds = await resource.read();
    d.say(
      `${other.name}'s late action with its old token ${second.token}: ${late ? 'ACCEPTED' : 'refused'}; the resource holds "${holds?.value}" (token ${holds?.token})`,
    );
    await sleep(d.pick(1_000, 300));
    await watch.stop();
    stopTail();
    const overlaps = watch.overlaps();
    const topologyAfter = await publishedTopology(d.stack);

    d.check(
      `${other.name}, woken, deposed itself before acting`,
      !watch.leadingSince(other.name, wokeAt),
      'its /health never said leader again',
    );
    d.check(
      'the fenced resource took the new leader and refused the late one',
      accepted && !late && holds?.token === third.token,
      `tokens ${third.token} accepted, ${second.token} refused`,
    );
    d.check(
      'never two leaders at once (every /health answer)',
      overlaps.length === 0,
      overlaps.join('; ') || undefined,
    );
    d.check(
      'the topology was not touched by the late leader',
      topologyAfter?.epoch === topologyBefore?.epoch,
      `epoch ${topologyBefore?.epoch} -> ${topologyAfter?.epoch}`,
    );
    d.check(
      'takeover after SIGKILL within 10 s',
      takeoverMs < 10_000,
      `${Math.round(takeoverMs)} ms`,
    );

    d.figure('takeover after SIGKILL of the leader', takeoverMs / 1000, 's', {
      goal: '<= 3 (2 s lease + etcd sweep)',
      anchor: 'ZooKeeper: the session timeout; bench (3 s lease): 2.77 s',
    });
    d.figure('takeover after SIGSTOP of the leader', frozenTakeoverMs / 1000, 's', {
      goal: '<= 3',
    });
    d.figure('restarted agent standing by as a follower', rejoinMs / 1000, 's');
    d.figure(
      'fencing tokens: first / after kill / after freeze',
      `${first.token} / ${second.token} / ${third.token}`,
      '',
      { goal: 'increasing' },
    );
    d.figure('late actions accepted', late ? 1 : 0, '', { goal: '0' });
    d.figure('moments with two leaders', overlaps.length, '', { goal: '0' });
  },
);
