/**
 * The shared contract every discovery backend passes, split by capability
 * (docs/patterns/service-discovery.md, "How it is tested"):
 * - {@link describeResolverContract}: resolving and listing (every backend);
 * - {@link describeRegistryContract}: leases, agents and pushed watch (registry backends).
 * A new backend (etcd) calls both from its own spec with a factory.
 */
import { describeInstance, ServiceInstance } from '../lib/instance';
import { InstanceChange, ServiceRegistry, ServiceResolver } from '../lib/registry';

export interface ContractWorld {
  service: string;
  /** What the backend must list for `service` (the port is the TCP port). */
  endpoints: Array<{ host: string; port: number }>;
}

export interface ResolverFixture {
  resolver: ServiceResolver;
  teardown(): Promise<void>;
}

/** The instances' addresses, order-free. */
export function addresses(instances: readonly ServiceInstance[]): string[] {
  return instances.map((i) => `${i.host}:${i.tcpPort}`).sort();
}

/** Resolving and listing: every backend. `setup` builds a world holding exactly `world.endpoints`. */
export function describeResolverContract(
  backend: string,
  setup: (world: ContractWorld) => Promise<ResolverFixture>,
): void {
  describe(`${backend}: resolver contract`, () => {
    const world: ContractWorld = {
      service: 'contract-payment',
      endpoints: [
        { host: '127.0.0.1', port: 24201 },
        { host: '127.0.0.2', port: 24202 },
      ],
    };
    let fixture: ResolverFixture;

    beforeAll(async () => {
      fixture = await setup(world);
    });
    afterAll(async () => {
      await fixture?.teardown();
    });

    it('lists every instance of a known service with its address', async () => {
      const list = await fixture.resolver.list(world.service);
      expect(addresses(list)).toEqual(world.endpoints.map((e) => `${e.host}:${e.port}`).sort());
      expect(new Set(list.map((i) => i.id)).size).toBe(list.length);
      for (const i of list) expect(i.service).toBe(world.service);
    });

    it('lists nothing for a service nobody provides', async () => {
      expect(await fixture.resolver.list('contract-nobody')).toEqual([]);
    });

    it('delivers the current list to a new watcher before watch() resolves, and stops on unsubscribe', async () => {
      const seen: Array<{ list: string[]; change: InstanceChange }> = [];
      const stop = await fixture.resolver.watch(world.service, (list, change) =>
        seen.push({ list: addresses(list), change }),
      );
      expect(seen[0]).toEqual({
        list: world.endpoints.map((e) => `${e.host}:${e.port}`).sort(),
        change: { kind: 'snapshot' },
      });
      stop();
      const count = seen.length;
      await new Promise((r) => setTimeout(r, 50));
      expect(seen.length).toBe(count);
    });
  });
}

/**
 * A resolver-contract world for a registry backend: the world's endpoints
 * registered through one client, resolved through another.
 */
export function registeredWorld(
  open: () => Promise<ServiceRegistry>,
): (world: ContractWorld) => Promise<ResolverFixture> {
  return async (world) => {
    const registry = await open();
    const registrations = await Promise.all(
      world.endpoints.map((e, i) =>
        registry.register(
          describeInstance({ service: world.service, id: `r-${i}`, host: e.host, tcpPort: e.port }),
        ),
      ),
    );
    return {
      resolver: await open(),
      teardown: async () => {
        await Promise.all(registrations.map((r) => r.deregister()));
      },
    };
  };
}

export interface RegistryFixture {
  /** A new, independent client (its own connections), closed by teardown. */
  open(): Promise<ServiceRegistry>;
  teardown(): Promise<void>;
}

/** Collects what a watcher sees, to wait for a given change. */
export class WatchRecorder {
  readonly events: Array<{ at: number; ids: string[]; change: InstanceChange }> = [];
  latest: readonly ServiceInstance[] = [];

  readonly listener = (list: readonly ServiceInstance[], change: InstanceChange) => {
    this.latest = list;
    this.events.push({ at: performance.now(), ids: list.map((i) => i.id).sort(), change });
  };

  /** Resolves with the first event (already seen or to come, after `since` if given) matching `match`. */
  async waitFor(
    match: (change: InstanceChange, ids: string[]) => boolean,
    timeoutMs = 5_000,
    since = -Infinity,
  ): Promise<{ at: number; ids: string[] }> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const hit = this.events.find((e) => e.at > since && match(e.change, e.ids));
      if (hit) return hit;
      if (performance.now() > deadline) {
        throw new Error(
          `no matching watch event in ${timeoutMs} ms; saw ${JSON.stringify(this.events.map((e) => e.change))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Leases, the agent API and pushed watch: registry backends only. */
export function describeRegistryContract(
  backend: string,
  setup: () => Promise<RegistryFixture>,
): void {
  describe(`${backend}: registry contract`, () => {
    const ttlMs = 600;
    let fixture: RegistryFixture;
    let registry: ServiceRegistry;
    let watcher: ServiceRegistry;
    let n = 0;
    const service = () => `contract-reg-${n}`;

    beforeAll(async () => {
      fixture = await setup();
      registry = await fixture.open();
      watcher = await fixture.open();
    });
    beforeEach(() => {
      n += 1;
    });
    afterAll(async () => {
      await fixture?.teardown();
    });

    const instance = (id: string, extra: Partial<ServiceInstance> = {}) => ({
      ...describeInstance({ service: service(), id, host: '127.0.0.1', tcpPort: 25000 + n }),
      ...extra,
    });
    const datastore = (id: string) => instance(id, { kind: 'datastore', role: 'primary' });
    const removedWith = (id: string, reason: string) => (c: InstanceChange) =>
      c.kind === 'removed' && c.id === id && c.reason === reason;

    it('pushes a registration to watchers at once and lists it', async () => {
      const rec = new WatchRecorder();
      const stop = await watcher.watch(service(), rec.listener);
      const t0 = performance.now();
      const reg = await registry.register(instance('a'), { ttlMs });
      const seen = await rec.waitFor((c) => c.kind === 'added' && c.instance.id === 'a');
      expect(seen.at - t0).toBeLessThan(500);
      expect((await watcher.list(service())).map((i) => i.id)).toEqual(['a']);
      await reg.deregister();
      stop();
    });

    it('pushes a deregistration (reason "deregistered") and lists nothing after it', async () => {
      const rec = new WatchRecorder();
      const reg = await registry.register(instance('a'), { ttlMs });
      const stop = await watcher.watch(service(), rec.listener);
      const t0 = performance.now();
      await reg.deregister();
      const seen = await rec.waitFor(removedWith('a', 'deregistered'));
      expect(seen.at - t0).toBeLessThan(500);
      expect(rec.latest).toEqual([]);
      expect(await watcher.list(service())).toEqual([]);
      stop();
    });

    it('keeps a renewed entry well past its TTL', async () => {
      const reg = await registry.register(instance('a'), { ttlMs });
      await new Promise((r) => setTimeout(r, 3 * ttlMs));
      expect((await watcher.list(service())).map((i) => i.id)).toEqual(['a']);
      await reg.deregister();
    });

    it('expires an entry nobody renews within the TTL plus one renewal period (reason "expired")', async () => {
      const rec = new WatchRecorder();
      const stop = await watcher.watch(service(), rec.listener);
      const reg = await registry.register(instance('a'), { ttlMs });
      const t0 = performance.now();
      await reg.release();
      const seen = await rec.waitFor(removedWith('a', 'expired'));
      expect(seen.at - t0).toBeLessThan(ttlMs + ttlMs / 3 + 300);
      expect(seen.at - t0).toBeGreaterThan(ttlMs * 0.5);
      expect(await watcher.list(service())).toEqual([]);
      stop();
    });

    it('pushes an update of the record (a datastore changing role)', async () => {
      const rec = new WatchRecorder();
      const stop = await watcher.watch(service(), rec.listener);
      const reg = await registry.registerOnBehalf(datastore('db-1'), { ttlMs, agentId: 'agent-a' });
      await reg.update({ role: 'replica' });
      await rec.waitFor((c) => c.kind === 'updated' && c.instance.role === 'replica');
      expect((await watcher.list(service()))[0].role).toBe('replica');
      await reg.deregister();
      stop();
    });

    it('keeps a datastore while any agent renews it, and expires it once all agents are gone', async () => {
      const other = await fixture.open();
      const a = await registry.registerOnBehalf(datastore('db-1'), { ttlMs, agentId: 'agent-a' });
      const b = await other.registerOnBehalf(datastore('db-1'), { ttlMs, agentId: 'agent-b' });
      await a.release(); // agent a "dies"
      await new Promise((r) => setTimeout(r, 3 * ttlMs));
      expect((await watcher.list(service())).map((i) => i.id)).toEqual(['db-1']);
      const rec = new WatchRecorder();
      const stop = await watcher.watch(service(), rec.listener);
      await b.release(); // the last agent is gone
      await rec.waitFor(removedWith('db-1', 'expired'), 3 * ttlMs);
      stop();
      await other.close();
    });

    it('removes a datastore reported down at once, even while another agent still renews it', async () => {
      const other = await fixture.open();
      const rec = new WatchRecorder();
      const stop = await watcher.watch(service(), rec.listener);
      const a = await registry.registerOnBehalf(datastore('db-1'), { ttlMs, agentId: 'agent-a' });
      await other.registerOnBehalf(datastore('db-1'), { ttlMs, agentId: 'agent-b' });
      await a.deregister();
      await rec.waitFor(removedWith('db-1', 'reported-down'));
      await new Promise((r) => setTimeout(r, 2 * ttlMs)); // agent b's renewals must not bring it back
      expect(await watcher.list(service())).toEqual([]);
      const back = await registry.registerOnBehalf(datastore('db-1'), {
        ttlMs,
        agentId: 'agent-a',
      });
      expect((await watcher.list(service())).map((i) => i.id)).toEqual(['db-1']);
      await back.deregister();
      stop();
      await other.close();
    });

    it('refuses to register a service instance through the agent API', async () => {
      await expect(
        registry.registerOnBehalf(instance('a'), { ttlMs, agentId: 'agent-a' }),
      ).rejects.toThrow(/datastore/);
    });
  });
}
