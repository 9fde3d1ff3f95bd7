import { setTimeout as sleep } from 'node:timers/promises';
import {
  describeInstance,
  InstanceChange,
  ServiceInstance,
  ServiceResolver,
  WatchListener,
} from '@stayline/discovery';
import { renderNginxConfig } from '@stayline/gateway';
import { GatewaySync, toUpstreams } from './gateway-sync';
import { ConfigApplier, ReloadResult } from './nginx-reloader';

/** Polls until `done()` (the sync debounces and renders on its own timers; a loaded host is slow). */
async function until(done: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > end) throw new Error(`not done within ${timeoutMs} ms`);
    await sleep(5);
  }
}

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
  const start = async (
    o: {
      debounceMs?: number;
      reconcileMs?: number;
      minReloadIntervalMs?: number;
      render?: (upstreams: Record<string, Array<{ host: string; port: number }>>) => string;
      logger?: typeof quiet;
    } = {},
  ) => {
    sync = new GatewaySync({
      resolver,
      services: ['payment', 'scrap'],
      render: o.render ?? ((upstreams) => JSON.stringify(upstreams)),
      applier: nginx,
      debounceMs: o.debounceMs ?? 40,
      reconcileMs: o.reconcileMs ?? 60_000,
      minReloadIntervalMs: o.minReloadIntervalMs,
      watchRetryMs: 10,
      logger: o.logger ?? quiet,
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

  it("gives Prometheus every instance's metrics address with its service and id, following the registry", async () => {
    resolver.lists.set('payment', [instance('payment', 4102), instance('payment', 4101)]);
    await start();
    expect(sync.prometheusTargets()).toEqual([
      { targets: ['127.0.0.1:4101'], labels: { job: 'payment', instance: 'payment-4101' } },
      { targets: ['127.0.0.1:4102'], labels: { job: 'payment', instance: 'payment-4102' } },
    ]);
    resolver.add(instance('scrap', 4301));
    resolver.remove(instance('payment', 4102), 'expired');
    resolver.add({ ...instance('scrap', 4302), host: '10.0.0.1:80; } server {' });
    expect(sync.prometheusTargets()).toEqual([
      { targets: ['127.0.0.1:4101'], labels: { job: 'payment', instance: 'payment-4101' } },
      { targets: ['127.0.0.1:4301'], labels: { job: 'scrap', instance: 'scrap-4301' } },
    ]);
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

  it('under churn reloads once per token, deregistrations included, and ends on the last list', async () => {
    await start({ debounceMs: 5, minReloadIntervalMs: 100 });
    const t0 = Date.now();
    const ports = Array.from({ length: 30 }, (_, i) => 5000 + i);
    for (const [i, port] of ports.entries()) {
      resolver.add(instance('payment', port));
      if (i > 0) resolver.remove(instance('payment', ports[i - 1]), 'deregistered');
      await sleep(10);
    }
    await until(() => rendered().payment?.length === 1 && rendered().payment[0].port === 5029);
    const reloads = nginx.applied.length - 1; // the first one is the start's
    // 59 changes, 29 of them deregistrations: one at once, then one per 100 ms
    expect(reloads).toBeLessThanOrEqual(2 + Math.ceil((Date.now() - t0) / 100));
    expect(reloads).toBeLessThan(15);
    // a deregistration after a quiet period still goes out at once
    await sleep(250);
    resolver.add(instance('payment', 6000));
    await until(() => rendered().payment.length === 2);
    await sleep(250);
    resolver.remove(instance('payment', 6000), 'deregistered');
    await sleep(10);
    expect(rendered().payment.map((u) => u.port)).toEqual([5029]);
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
    // polled, not slept: on a loaded host 20 ms may pass before the first attempt runs
    await until(() => sync.state.lastError !== undefined);
    expect(sync.state.lastError).toMatch(/refused/);
    expect(rendered().scrap).toEqual([]);
    await until(() => rendered().scrap.length > 0);
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

  describe('registrations that are not addresses', () => {
    /** A registration as anyone who can write to the registry could store it, unchecked. */
    const forged = (id: string, host: unknown, httpPort: unknown) =>
      ({ ...instance('payment', 4199), id, host, httpPort }) as unknown as ServiceInstance;
    const FORGED = [
      forged('payment-inject', '10.0.0.1:80; } server { listen 9999', 80),
      forged('payment-newline', 'evil.example\n', 80),
      forged('payment-port-0', '10.0.0.9', 0),
      forged('payment-port-70000', '10.0.0.9', 70_000),
      forged('payment-port-string', '10.0.0.9', '80'),
    ];
    const recording = () => {
      const lines: Array<{ level: string; fields: Record<string, unknown>; msg: string }> = [];
      const at = (level: string) => (fields: Record<string, unknown> | string, msg?: string) => {
        if (typeof fields === 'string') lines.push({ level, fields: {}, msg: fields });
        else lines.push({ level, fields, msg: msg ?? '' });
      };
      return {
        lines,
        logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') },
      };
    };

    it('leaves each one out with one warning naming it, and keeps the valid instances', async () => {
      const log = recording();
      resolver.lists.set('payment', [instance('payment', 4101), ...FORGED.slice(0, 2)]);
      await start({
        debounceMs: 5,
        logger: log.logger as typeof quiet,
        render: (upstreams) =>
          renderNginxConfig({ prefix: '/tmp/x', host: '127.0.0.1', port: 8080, upstreams }),
      });
      // more changes: the same forged registrations are not logged again
      for (const f of FORGED.slice(2)) resolver.add(f);
      resolver.add(instance('payment', 4102));
      resolver.emit('payment', resolver.lists.get('payment') ?? [], { kind: 'resync' });
      await until(
        () =>
          (sync.state.upstreams.payment ?? []).includes('127.0.0.1:4102') &&
          /127\.0\.0\.1:4102/.test(nginx.config ?? ''),
      );

      expect(sync.state.upstreams.payment).toEqual(['127.0.0.1:4101', '127.0.0.1:4102']);
      expect(sync.state.lastError).toBeUndefined();
      const conf = nginx.config ?? '';
      expect(conf).toMatch(/server 127\.0\.0\.1:4101 /);
      expect(conf).toMatch(/server 127\.0\.0\.1:4102 /);
      expect(conf).not.toMatch(/9999|evil|10\.0\.0\.9/);
      const warnings = log.lines.filter((l) => l.level === 'warn');
      expect(warnings.map((w) => w.fields.instance)).toEqual(FORGED.map((f) => f.id));
      for (const w of warnings) {
        expect(w.msg).toMatch(
          /^payment: registration "payment-[a-z0-9-]+" left out of nginx \((host|port) /,
        );
        expect(w.msg).not.toMatch(/\n/);
      }
      expect(warnings[0].msg).toContain(
        'host "10.0.0.1:80; } server { listen 9999" is not an IP address',
      );
      expect(warnings[1].msg).toContain('host "evil.example\\n" is not');
      expect(warnings[4].msg).toContain('port "80" is not a whole number from 1 to 65535');
    });

    it('logs a registration again only after it went away and came back', async () => {
      const log = recording();
      await start({ debounceMs: 5, logger: log.logger as typeof quiet });
      resolver.add(FORGED[0]);
      resolver.remove(FORGED[0], 'expired');
      resolver.add(FORGED[0]);
      await until(() => log.lines.filter((l) => l.level === 'warn').length >= 2);
      await sleep(20);
      expect(log.lines.filter((l) => l.level === 'warn')).toHaveLength(2);
    });

    it('keeps the running configuration, and keeps running, when rendering refuses an upstream', async () => {
      resolver.lists.set('payment', [instance('payment', 4101)]);
      let refuse = false;
      await start({
        debounceMs: 5,
        render: (upstreams) => {
          if (refuse) throw new Error('upstream payment: host "x;" is not an IP address');
          return JSON.stringify(upstreams);
        },
      });
      const running = nginx.config;
      refuse = true;
      resolver.add(instance('payment', 4102));
      await until(() => /upstream payment/.test(sync.state.lastError ?? ''));
      expect(nginx.config).toBe(running);
      expect(sync.state.lastError).toMatch(/upstream payment/);
      refuse = false;
      resolver.add(instance('payment', 4103));
      await until(() => sync.state.lastError === undefined && /4103/.test(nginx.config ?? ''));
      expect(rendered().payment.map((u) => u.port)).toEqual([4101, 4102, 4103]);
      expect(sync.state.lastError).toBeUndefined();
    });

    it('toUpstreams passes each one it leaves out to its caller, with what is wrong', () => {
      const refused: string[] = [];
      const kept = toUpstreams([instance('payment', 4101), ...FORGED], (r) =>
        refused.push(`${r.instance.id}: ${r.problem}`),
      );
      expect(kept).toEqual([{ host: '127.0.0.1', port: 4101 }]);
      expect(refused).toEqual([
        'payment-inject: host "10.0.0.1:80; } server { listen 9999" is not an IP address or an RFC 1123 host name',
        'payment-newline: host "evil.example\\n" is not an IP address or an RFC 1123 host name',
        'payment-port-0: port 0 is not a whole number from 1 to 65535',
        'payment-port-70000: port 70000 is not a whole number from 1 to 65535',
        'payment-port-string: port "80" is not a whole number from 1 to 65535',
      ]);
    });
  });
});
