/**
 * The registry contract with real instance processes (docs/patterns/service-discovery.md):
 * what every registry backend promises when a registered process stops
 * gracefully (SIGTERM), crashes (SIGKILL) or freezes (SIGSTOP), and for a
 * datastore registered by two agents. Each backend's e2e spec runs it on its
 * own stack with `registrant.ts` processes.
 */
import fs from 'node:fs';
import { Stack, waitFor } from '@stayline/stack-kit';
import { ServiceRegistry } from '../lib/registry';
import { startFixture } from './processes';
import { WatchRecorder } from './resolver-contract';

export interface ProcessFixture {
  stack: Stack;
  /** The registrant's backend arguments: `{ redis: <url> }` or `{ etcd: <endpoints> }`. */
  backend: Record<string, string>;
  /** A new client of the registry, closed by the spec. */
  open(): Promise<ServiceRegistry>;
  /**
   * When a holder that stopped renewing (SIGKILL, SIGSTOP) disappears, counted from the
   * signal: never before `notBeforeMs` (it is the lease, not anything quicker), always
   * before `withinMs`.
   */
  expiry: { notBeforeMs: number; withinMs: number };
}

const TTL = 3_000; // the default lease
const RENEW = TTL / 3;
/** How long a fixture process may take to start and register (set-up, not a measured figure). */
const STARTUP_MS = 30_000;

export function describeRegistryProcessContract(
  backend: string,
  setup: () => Promise<ProcessFixture>,
): void {
  describe(`${backend}: registry with real instance processes`, () => {
    let f: ProcessFixture;
    beforeAll(async () => {
      f = await setup();
    });

    /** Independent watchers (own connections each), as calling services would be. */
    async function watchers(service: string, count = 3): Promise<WatchRecorder[]> {
      return Promise.all(
        Array.from({ length: count }, async () => {
          const rec = new WatchRecorder();
          await (await f.open()).watch(service, rec.listener);
          return rec;
        }),
      );
    }

    /** A `payment` instance process, once every watcher lists it. */
    async function watchedInstance(name: string, count = 3): Promise<WatchRecorder[]> {
      const c = await startFixture(f.stack, {
        name,
        script: 'registrant.ts',
        args: { ...f.backend, service: 'payment', id: name, tcp: 4201 },
      });
      const recs = await watchers('payment', count);
      // set-up, not a measure: a process starting on a loaded host may take seconds
      await Promise.all(recs.map((r) => r.waitFor((_, ids) => ids.includes(name), STARTUP_MS)));
      // watchers can see the entry before the process has its reply: a signal sent in between
      // would hit a registration still starting, not a registered instance
      await waitFor(`${name} to report its registration`, async () =>
        fs.readFileSync(c.spec.logFile, 'utf8').includes('"event":"registered"'),
      );
      return recs;
    }

    const removed = (id: string) => (c: { kind: string; id?: string }) =>
      c.kind === 'removed' && c.id === id;

    it('a graceful stop (SIGTERM) reaches every watcher in well under a second', async () => {
      const recs = await watchedInstance('payment-1');
      const t0 = performance.now();
      f.stack.kill('payment-1', 'SIGTERM');
      const seen = await Promise.all(recs.map((r) => r.waitFor(removed('payment-1'))));
      for (const s of seen) expect(s.at - t0).toBeLessThan(1_000);
      expect(seen.map((s) => s.ids)).toEqual([[], [], []]);
      const reasons = recs.map((r) => r.events.find((e) => e.change.kind === 'removed')?.change);
      expect(reasons).toEqual(
        Array(3).fill({ kind: 'removed', id: 'payment-1', reason: 'deregistered' }),
      );
    });

    it('a crashed instance (SIGKILL) is gone when its lease runs out, not sooner', async () => {
      const recs = await watchedInstance('payment-2');
      const t0 = performance.now();
      f.stack.kill('payment-2', 'SIGKILL');
      const seen = await Promise.all(recs.map((r) => r.waitFor(removed('payment-2'), 10_000)));
      for (const s of seen) {
        expect(s.at - t0).toBeLessThan(f.expiry.withinMs);
        expect(s.at - t0).toBeGreaterThan(f.expiry.notBeforeMs);
      }
      const reasons = recs.map((r) => r.events.find((e) => e.change.kind === 'removed')?.change);
      expect(reasons).toEqual(
        Array(3).fill({ kind: 'removed', id: 'payment-2', reason: 'expired' }),
      );
    });

    it('a frozen instance (SIGSTOP) is gone when its lease runs out, and back after SIGCONT', async () => {
      const [rec] = await watchedInstance('payment-3', 1);
      const t0 = performance.now();
      f.stack.kill('payment-3', 'SIGSTOP');
      const gone = await rec.waitFor(removed('payment-3'), 10_000);
      expect(gone.at - t0).toBeLessThan(f.expiry.withinMs);
      f.stack.kill('payment-3', 'SIGCONT');
      const back = await rec.waitFor(
        (c) => c.kind === 'added' && c.instance.id === 'payment-3',
        10_000, // its connections may have to be made again after the freeze
        gone.at,
      );
      expect(back.ids).toEqual(['payment-3']);
      f.stack.kill('payment-3', 'SIGKILL');
    });

    it('a datastore stays registered when one of its two agents dies, and expires when both are gone', async () => {
      const datastore = { service: 'mariadb', id: 'mariadb-1', role: 'primary', tcp: 3407 };
      for (const agent of ['agent-a', 'agent-b'])
        await startFixture(f.stack, {
          name: agent,
          kind: 'agent',
          script: 'registrant.ts',
          args: { ...f.backend, ...datastore, agent },
        });
      const [rec] = await watchers('mariadb');
      await rec.waitFor((_, ids) => ids.includes('mariadb-1'), STARTUP_MS);
      f.stack.kill('agent-a', 'SIGKILL');
      await new Promise((r) => setTimeout(r, f.expiry.withinMs + RENEW));
      expect(rec.latest.map((i) => [i.id, i.kind, i.role])).toEqual([
        ['mariadb-1', 'datastore', 'primary'],
      ]);
      expect(rec.events.some((e) => e.change.kind === 'removed')).toBe(false);
      const t0 = performance.now();
      f.stack.kill('agent-b', 'SIGKILL');
      const gone = await rec.waitFor(
        (c) => c.kind === 'removed' && c.id === 'mariadb-1' && c.reason === 'expired',
        10_000,
      );
      expect(gone.at - t0).toBeLessThan(f.expiry.withinMs);
    });
  });
}

/** Redis: the server expires the key TTL after the last renewal, to the millisecond. */
export const REDIS_EXPIRY = { notBeforeMs: TTL - RENEW - 300, withinMs: TTL + RENEW + 300 };

/**
 * etcd: the same 3 s lease, counted in whole seconds by the server, which sweeps
 * expired leases every 500 ms; a watcher then reads the removal reason (one more
 * round trip). Slack for a loaded 2-core runner on top.
 */
export const ETCD_EXPIRY = { notBeforeMs: TTL - RENEW - 300, withinMs: TTL + 500 + RENEW + 500 };
