import fs from 'node:fs';
import path from 'node:path';
import { Component, Stack, startStack } from '@stayline/stack-kit';
import { describeCoordinationContract } from '../../testing/coordination-contract';
import { CoordinationBackend } from './coordination-backend';
import { FlagWriteNotDurableError } from '../flags/flag-store';
import { flag } from '../flags/flag-value';
import { LeaseNotDurableError } from '../redis/lease';
import { formatRedisTarget, RedisTarget } from '../redis/redis-target';
import { RedisCoordinationBackend } from './redis.coordination-backend';

jest.setTimeout(90_000);

let stack: Stack;
let target: RedisTarget;
const backends: CoordinationBackend[] = [];
const open = async (
  options: Partial<ConstructorParameters<typeof RedisCoordinationBackend>[0]> = {},
) => {
  const b = new RedisCoordinationBackend({ redis: target, ...options });
  backends.push(b);
  return b;
};

beforeAll(async () => {
  stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
  target = {
    ...stack.redisTarget('service'),
    sentinels: stack.redis.sentinels.map(({ host, port }) => ({ host, port })),
  };
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await stack?.stop();
});

describeCoordinationContract('redis (through Sentinel)', async () => ({
  open: () => open(),
  teardown: async () => undefined,
}));

describe('redis: durability of acknowledged writes', () => {
  it('refuses to acknowledge a flag write or a lease no replica has (replica frozen)', async () => {
    const b = await open({ replicaAckTimeoutMs: 200 });
    const replica = stack.redis.replicas[0].name;
    stack.kill(replica, 'SIGSTOP');
    try {
      await expect(
        b.flagStore().write('durability-probe', flag.boolean(true)),
      ).rejects.toBeInstanceOf(FlagWriteNotDurableError);
      await expect(b.lock('durability-probe').tryAcquire()).rejects.toBeInstanceOf(
        LeaseNotDurableError,
      );
    } finally {
      stack.kill(replica, 'SIGCONT');
    }
    await expect(
      b.flagStore().write('durability-probe', flag.boolean(true)),
    ).resolves.toBeGreaterThan(0);
    const lease = await b.lock('durability-probe').tryAcquire(); // the refused lease was released again
    expect(lease).toBeDefined();
    await lease?.release();
  });
});

interface Report {
  event: 'started' | 'elected' | 'deposed' | 'refused' | 'write-failed';
  id: string;
  at: number;
  token?: number;
  reason?: string;
}

describe('leader election across three candidate processes', () => {
  const TTL = 3_000; // the default lease
  const RENEW = TTL / 3;
  const candidates = new Map<string, Component>();

  async function startCandidate(id: string, election: string, unsafe = false) {
    const c = await stack.spawnScript({
      name: id,
      script: path.join(__dirname, '../../testing/candidate.ts'),
      args: ['--redis', formatRedisTarget(target), '--election', election, '--id', id].concat(
        unsafe ? ['--unsafe', '1'] : [],
      ),
      role: 'candidate',
    });
    candidates.set(id, c);
  }

  function reports(): Report[] {
    return [...candidates.values()]
      .flatMap((c) =>
        fs.existsSync(c.spec.logFile) ? fs.readFileSync(c.spec.logFile, 'utf8').split('\n') : [],
      )
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Report)
      .sort((a, b) => a.at - b.at);
  }

  async function waitReport(match: (r: Report) => boolean, timeoutMs = 15_000): Promise<Report> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = reports().find(match);
      if (hit) return hit;
      if (Date.now() > deadline)
        throw new Error(`no such report in ${timeoutMs} ms: ${JSON.stringify(reports())}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Leadership intervals [elected, deposed or killed) per token. */
  function assertNoOverlap(killedAt: Record<string, number>) {
    const rs = reports();
    const terms = rs
      .filter((r) => r.event === 'elected')
      .map((e) => {
        const end =
          rs.find((r) => r.event === 'deposed' && r.id === e.id && r.token === e.token)?.at ??
          killedAt[e.id] ??
          Infinity;
        return { id: e.id, token: e.token as number, start: e.at, end };
      });
    for (let i = 1; i < terms.length; i++) {
      expect(terms[i].token).toBeGreaterThan(terms[i - 1].token);
      expect(terms[i].start).toBeGreaterThanOrEqual(terms[i - 1].end);
    }
    return terms;
  }

  it('has exactly one leader at a time, as the fencing tokens show; a killed leader is replaced within TTL + one renewal', async () => {
    const election = 'demo';
    await Promise.all(['c1', 'c2', 'c3'].map((id) => startCandidate(id, election)));
    const first = await waitReport((r) => r.event === 'elected');
    await new Promise((r) => setTimeout(r, 1_500));
    expect(reports().filter((r) => r.event === 'elected')).toHaveLength(1);

    const killedAt = Date.now();
    stack.kill(first.id, 'SIGKILL');
    const second = await waitReport((r) => r.event === 'elected' && r.id !== first.id);
    expect(second.at - killedAt).toBeLessThan(TTL + RENEW + 500);
    expect(second.token as number).toBeGreaterThan(first.token as number);
    await new Promise((r) => setTimeout(r, 300));

    // a graceful stop hands over at once
    const resignedAt = Date.now();
    stack.kill(second.id, 'SIGTERM');
    const third = await waitReport(
      (r) => r.event === 'elected' && r.id !== first.id && r.id !== second.id,
    );
    expect(third.at - resignedAt).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, 300));

    const terms = assertNoOverlap({ [first.id]: killedAt });
    expect(terms.map((t) => t.id)).toEqual([first.id, second.id, third.id]);
    // the resource saw each leader's writes in term order, each token from one writer only
    const writes = await (await open()).fencedResource(election).history();
    const writerOf = new Map<number, Set<string>>();
    for (const w of writes)
      writerOf.set(w.token, (writerOf.get(w.token) ?? new Set()).add(w.value));
    expect([...writerOf.values()].every((s) => s.size === 1)).toBe(true);
    expect(writes.map((w) => w.token)).toEqual(
      [...writes.map((w) => w.token)].sort((a, b) => a - b),
    );
    expect([...writerOf.keys()]).toEqual(terms.map((t) => t.token));
    expect(reports().filter((r) => r.event === 'refused')).toEqual([]);
    stack.kill(third.id, 'SIGTERM');
  });

  it('a frozen leader (SIGSTOP) is replaced; woken, it stops acting, and its stale writes are refused by the resource', async () => {
    const election = 'frozen';
    await startCandidate('u1', election, true); // acts on the token it captured: the unsafe pattern
    const first = await waitReport((r) => r.event === 'elected' && r.id === 'u1');
    await startCandidate('s1', election);
    await waitReport((r) => r.event === 'started' && r.id === 's1');
    stack.kill('u1', 'SIGSTOP');
    const second = await waitReport((r) => r.event === 'elected' && r.id === 's1');
    expect(second.token as number).toBeGreaterThan(first.token as number);
    await new Promise((r) => setTimeout(r, 300)); // s1 writes with its newer token
    stack.kill('u1', 'SIGCONT');
    const deposed = await waitReport((r) => r.event === 'deposed' && r.id === 'u1');
    expect(deposed.reason).toBe('expired'); // its own deadline told it, before any renewal answer
    const refused = await waitReport((r) => r.event === 'refused' && r.id === 'u1', 5_000);
    expect(refused.token).toBe(first.token);
    const resource = await (await open()).fencedResource(election).read();
    expect(resource).toEqual({ token: second.token, value: 's1' });
    stack.kill('s1', 'SIGTERM');
    stack.kill('u1', 'SIGTERM');
  });
});
