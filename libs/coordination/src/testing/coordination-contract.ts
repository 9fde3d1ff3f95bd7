/**
 * The contract every coordination backend passes (Redis now, etcd next):
 * leader election, locks, fencing and feature flags, against a real coordinator.
 * `open()` returns a new, independent client (its own connections), as another
 * process would have.
 */
import { waitFor } from '@stayline/stack-kit';
import { CoordinationBackend } from '../lib/backend/coordination-backend';
import { ElectionStatus, LeaderElection } from '../lib/election/leader-election';
import { FeatureFlags } from '../lib/flags/feature-flags';
import { flag } from '../lib/flags/flag-value';
import { inRollout } from '../lib/flags/rollout';

export interface CoordinationFixture {
  open(): Promise<CoordinationBackend>;
  teardown(): Promise<void>;
}

/** Polls every 2 ms (the figures are propagation times), resolving with how long it took. */
const until = (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 5_000) =>
  waitFor(what, check, { timeoutMs, intervalMs: 2 });

export function describeCoordinationContract(
  backend: string,
  setup: () => Promise<CoordinationFixture>,
): void {
  describe(`${backend}: coordination contract`, () => {
    let fixture: CoordinationFixture;
    let n = 0;
    const name = (what: string) => `contract-${what}-${++n}`;
    const leaders = (es: LeaderElection[]) =>
      es.filter((e) => e.state.status === ElectionStatus.Leader);

    beforeAll(async () => {
      fixture = await setup();
    });
    afterAll(async () => {
      await fixture?.teardown();
    });

    it('elects exactly one of three candidates, with a fencing token', async () => {
      const election = name('election');
      const candidates = await Promise.all(
        [1, 2, 3].map(async () => (await fixture.open()).election(election, { ttlMs: 1_000 })),
      );
      await Promise.all(candidates.map((c) => c.start()));
      await until('a leader', () => leaders(candidates).length === 1);
      await new Promise((r) => setTimeout(r, 1_500)); // over a TTL: renewals keep the same leader
      expect(leaders(candidates)).toHaveLength(1);
      expect(candidates.filter((c) => c.token !== undefined)).toHaveLength(1);
      await Promise.all(candidates.map((c) => c.stop()));
    });

    it('hands over at once when the leader resigns, with a larger token', async () => {
      const election = name('election');
      const candidates = await Promise.all(
        [1, 2].map(async () => (await fixture.open()).election(election, { ttlMs: 3_000 })),
      );
      await Promise.all(candidates.map((c) => c.start()));
      await until('a leader', () => leaders(candidates).length === 1);
      const [first] = leaders(candidates);
      const firstToken = first.token as number;
      await first.stop();
      const took = await until('the other to lead', () => leaders(candidates).length === 1);
      expect(took).toBeLessThan(1_000); // not the 3 s TTL: the release is announced
      const [second] = leaders(candidates);
      expect(second).not.toBe(first);
      expect(second.token as number).toBeGreaterThan(firstToken);
      await second.stop();
    });

    it('gives a lock to one holder at a time, with growing tokens; a waiter gets it once released', async () => {
      const lockName = name('lock');
      const [a, b] = await Promise.all([fixture.open(), fixture.open()]);
      const held = await a.lock(lockName).tryAcquire();
      expect(held).toBeDefined();
      expect(await b.lock(lockName).tryAcquire()).toBeUndefined();
      const waiting = b.lock(lockName).acquire({ waitMs: 3_000 });
      await new Promise((r) => setTimeout(r, 50));
      expect(await held?.release()).toBe(true);
      const next = await waiting;
      expect(next.token).toBeGreaterThan(held?.token as number);
      expect(await next.release()).toBe(true);
    });

    it('lets only the owner release, and lets a lease run out when not extended', async () => {
      const lockName = name('lock');
      const [a, b] = await Promise.all([fixture.open(), fixture.open()]);
      const first = await a.lock(lockName, { ttlMs: 300 }).acquire();
      const second = await b.lock(lockName, { ttlMs: 3_000 }).acquire({ waitMs: 2_000 }); // after the 300 ms lease ran out
      expect(first.valid).toBe(false);
      expect(await first.release()).toBe(false); // not the owner any more
      expect(await first.extend()).toBe(false);
      expect(second.valid).toBe(true);
      expect(await b.lock(lockName).tryAcquire()).toBeUndefined(); // still held by the second
      expect(await second.release()).toBe(true);
    });

    it('refuses writes with a fencing token older than the newest accepted', async () => {
      const resource = (await fixture.open()).fencedResource(name('fenced'));
      expect(await resource.write(5, 'leader-5')).toBe(true);
      expect(await resource.write(4, 'stale-4')).toBe(false);
      expect(await resource.write(5, 'leader-5-again')).toBe(true);
      expect(await resource.read()).toEqual({ token: 5, value: 'leader-5-again' });
    });

    it('pushes a flag write to every instance, which applies it without a restart', async () => {
      const flagName = name('flag');
      const writer = new FeatureFlags((await fixture.open()).flagStore());
      const instances = await Promise.all(
        [1, 2, 3].map(async () => new FeatureFlags((await fixture.open()).flagStore())),
      );
      await Promise.all([writer, ...instances].map((f) => f.start()));
      expect(instances.map((f) => f.isEnabled(flagName))).toEqual([false, false, false]);
      await writer.set(flagName, flag.boolean(true));
      const took = await until('every instance to see it', () =>
        instances.every((f) => f.isEnabled(flagName)),
      );
      expect(took).toBeLessThan(500);
      await writer.set(flagName, flag.percentage(40));
      await until('the rollout', () =>
        instances.every((f) => f.get(flagName)?.kind === 'percentage'),
      );
      for (const user of ['u-1', 'u-2', 'u-3', 'u-4']) {
        expect(instances.map((f) => f.isEnabled(flagName, { key: user }))).toEqual(
          Array(3).fill(inRollout(flagName, user, 40)),
        );
      }
      await writer.set(flagName, null);
      await until('the deletion', () => instances.every((f) => f.get(flagName) === undefined));
      await Promise.all([writer, ...instances].map((f) => f.stop()));
    });
  });
}
