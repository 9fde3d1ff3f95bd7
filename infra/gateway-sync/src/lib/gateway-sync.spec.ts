import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeInstance,
  InstanceChange,
  ServiceInstance,
  ServiceResolver,
  WatchListener,
} from '@stayline/discovery';
import { GatewaySync, toUpstreams } from './gateway-sync';
import { ConfigApplier, ReloadResult } from './nginx-reloader';

class FakeResolver implements ServiceResolver {
  readonly lists = new Map<string, ServiceInstance[]>();
  private readonly listeners = new Map<string, WatchListener>();
  /** The next this many watches fail, as a Redis whose commands time out. */
  refuseWatches = 0;

  async list(service: string) {
    return this.lists.get(service) ?? [];
  }
  async watch(service: string, listener: WatchListener) {
    if (this.refuseWatches > 0) {
      this.refuseWatches--;
      throw new Error('Command timed out');
    }
    this.listeners.set(service, listener);
    listener(this.lists.get(service) ?? [], { kind: 'snapshot' });
    return () => this.listeners.delete(service);
  }
  async close() {
    this.listeners.clear();
  }
  add(instance: ServiceInstance) {
    this.emit(instance.service, [...(this.lists.get(instance.service) ?? []), instance], {
      kind: 'added',
      instance,
    });
  }
  remove(instance: ServiceInstance, reason: 'deregistered' | 'expired') {
    const rest = (this.lists.get(instance.service) ?? []).filter((i) => i.id !== instance.id);
    this.emit(instance.service, rest, { kind: 'removed', id: instance.id, reason });
  }
  emit(service: string, list: ServiceInstance[], change: InstanceChange) {
    this.lists.set(service, list);
    this.listeners.get(service)?.(list, change);
  }
}

class FakeNginx implements ConfigApplier {
  config?: string;
  applied: string[] = [];
  failNext = false;

  read() {
    return this.config;
  }
  async apply(config: string): Promise<ReloadResult> {
    await sleep(2);
    if (this.failNext) {
      this.failNext = false;
      throw new Error('nginx -t refused');
    }
    this.config = config;
    this.applied.push(config);
    return { validateMs: 1, reloadMs: 1, masterPid: 1 };
  }
}

const quiet = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
const instance = (service: string, port: number) =>
  describeInstance({
    service,
    id: `${service}-${port}`,
    host: '127.0.0.1',
    httpPort: port,
    tcpPort: port + 1000,
  });

describe('GatewaySync', () => {
  let resolver: FakeResolver;
  let nginx: FakeNginx;
  let sync: GatewaySync;
  const start = async (o: { debounceMs?: number; reconcileMs?: number } = {}) => {
    sync = new GatewaySync({
      resolver,
      services: ['payment', 'scrap'],
      render: (upstreams) => JSON.stringify(upstreams),
      applier: nginx,
      debounceMs: o.debounceMs ?? 40,
      reconcileMs: o.reconcileMs ?? 60_000,
      watchRetryMs: 10,
      logger: quiet,
    });
    await sync.start();
  };
  const rendered = () =>
    JSON.parse(nginx.config ?? '{}') as Record<string, Array<{ port: number }>>;

  beforeEach(() => {
    resolver = new FakeResolver();
    nginx = new FakeNginx();
  });
  afterEach(() => sync?.stop());

  it('renders the lists it finds at start, and does not reload a configuration nginx already runs', async () => {
    resolver.lists.set('payment', [instance('payment', 4101)]);
    await start();
    expect(rendered()).toEqual({ payment: [{ host: '127.0.0.1', port: 4101 }], scrap: [] });
    expect(sync.state.upstreams).toEqual({ payment: ['127.0.0.1:4101'], scrap: [] });
    await sync.stop();
    await start();
    expect(nginx.applied).toHaveLength(1);
  });

  it('retries a watch the registry refuses at start instead of failing, then follows it', async () => {
    resolver.refuseWatches = 3;
    resolver.lists.set('scrap', [instance('scrap', 4301)]);
    await start();
    expect(resolver.refuseWatches).toBe(0);
    expect(rendered()).toEqual({ payment: [], scrap: [{ host: '127.0.0.1', port: 4301 }] });
    resolver.add(instance('payment', 4101));
    await sleep(100);
    expect(rendered().payment).toEqual([{ host: '127.0.0.1', port: 4101 }]);
  });

  it('stops waiting for a registry that never answers when the sync stops', async () => {
    resolver.refuseWatches = Number.POSITIVE_INFINITY;
    const starting = start();
    await sleep(50);
    await sync.stop();
    await expect(starting).resolves.toBeUndefined();
    expect(nginx.applied).toHaveLength(0);
  });

  it('applies a burst of registrations with one reload at the end of the window', async () => {
    await start({ debounceMs: 40 });
    resolver.add(instance('payment', 4101));
    resolver.add(instance('payment', 4102));
    resolver.add(instance('scrap', 4301));
    expect(nginx.applied).toHaveLength(1);
    await sleep(80);
    expect(nginx.applied).toHaveLength(2);
    expect(rendered().payment.map((u) => u.port)).toEqual([4101, 4102]);
    expect(sync.state.reloads).toBe(2);
  });

  it('applies a graceful deregistration at once, before the instance stops serving', async () => {
    const a = instance('payment', 4101);
    resolver.lists.set('payment', [a, instance('payment', 4102)]);
    await start({ debounceMs: 10_000 });
    resolver.remove(a, 'deregistered');
    await sleep(10);
    expect(rendered().payment.map((u) => u.port)).toEqual([4102]);
  });

  it('gathers an expired lease with other changes (the instance is gone already)', async () => {
    const a = instance('payment', 4101);
    resolver.lists.set('payment', [a, instance('payment', 4102)]);
    await start({ debounceMs: 40 });
    resolver.remove(a, 'expired');
    await sleep(10);
    expect(rendered().payment).toHaveLength(2);
    await sleep(60);
    expect(rendered().payment).toHaveLength(1);
  });

  it('does not reload when only the order or other fields of the instances changed', async () => {
    const a = instance('payment', 4101);
    const b = instance('payment', 4102);
    resolver.lists.set('payment', [a, b]);
    await start({ debounceMs: 5 });
    resolver.emit('payment', [b, { ...a, version: '2.0.0' }], { kind: 'updated', instance: a });
    resolver.emit('payment', [b, a], { kind: 'resync' });
    await sleep(30);
    expect(nginx.applied).toHaveLength(1);
  });

  it('keeps the running configuration when a reload fails, and retries on the next check', async () => {
    await start({ debounceMs: 5, reconcileMs: 50 });
    nginx.failNext = true;
    resolver.add(instance('scrap', 4301));
    await sleep(20);
    expect(sync.state.lastError).toMatch(/refused/);
    expect(rendered().scrap).toEqual([]);
    await sleep(80);
    expect(rendered().scrap.map((u) => u.port)).toEqual([4301]);
    expect(sync.state.lastError).toBeUndefined();
  });

  it('sends traffic only to service instances with an HTTP port', () => {
    const datastore = describeInstance({
      service: 'payment',
      host: '10.0.0.9',
      httpPort: 9,
      kind: 'datastore',
    });
    const tcpOnly = describeInstance({ service: 'payment', host: '10.0.0.8', tcpPort: 5101 });
    expect(
      toUpstreams([instance('payment', 4102), datastore, tcpOnly, instance('payment', 4101)]),
    ).toEqual([
      { host: '127.0.0.1', port: 4101 },
      { host: '127.0.0.1', port: 4102 },
    ]);
  });
});
