/**
 * `npm run demo:discovery [-- --quick]`: service discovery
 * (docs/patterns/service-discovery.md), the seed's three styles side by side.
 * A third payment instance is started by hand under bookings and payment
 * look-ups: reservation (client-side, fed by the registry's watch) and the
 * gateway (the sync rewrites nginx from the same watch) send it requests with
 * nothing restarted; it says so in its own log. It is stopped with SIGTERM
 * (deregistered: gone from every watcher at once) and, started again, with
 * SIGKILL (gone when its lease runs out). Next to them three callers in this
 * process make the same calls over the same real payment instances, each
 * finding them its own way: the registry, a static list written at deploy
 * time, and DNS (a real dnsmasq, records updated the moment the registry
 * changes, as the best DNS automation would): the list never learns, DNS only
 * after its TTL, the registry at once. The bookings are alice's and bob's and
 * the look-ups alice's, each sent with its user's token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PaymentPatterns } from '@stayline/contracts';
import { DnsResolver, InstanceChange, StaticResolver } from '@stayline/discovery';
import { Logger } from '@nestjs/common';
import {
  Dnsmasq,
  freePorts,
  gatewayUpstreams,
  isAlive,
  Stack,
  startDnsmasq,
  startService,
} from '@stayline/stack-kit';
import { Load } from '@stayline/fault-kit';
import { checkAccepted, DemoUsers, instancesOf, runDemo } from './index';
import { removeInstance } from './lib/admin';
import { Bookings } from './lib/bookings';
import { chargedReservations, instanceLog } from './lib/instance-log';
import { instanceAt, stackRegistry } from './lib/registry';
import { TcpCaller } from './lib/tcp-caller';

const SERVICE = 'payment';
const DOMAIN = 'stayline.demo';
/** A look-up of a reservation that does not exist: a cheap call every instance answers (404). */
const PROBE = { pattern: PaymentPatterns.get, data: { reservationId: 'demo-discovery-probe' } };
/**
 * The same through the gateway: a payment id that does not exist, which every
 * instance answers with 404 (as it would another user's payment).
 */
const LOOKUP_PATH = '/api/payments/00000000-0000-4000-8000-00000000d15c';

/** The DNS zone, kept equal to the registry by this demo (nobody else updates DNS here). */
class PaymentZone {
  private server?: Dnsmasq;
  private constructor(
    private readonly stack: Stack,
    private readonly port: number,
    private readonly ttlS: number,
  ) {}

  static async start(stack: Stack, ttlS: number, instances: string[]): Promise<PaymentZone> {
    const [port] = await freePorts(1);
    const zone = new PaymentZone(stack, port, ttlS);
    await zone.publish(instances);
    return zone;
  }

  get servers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** Publishes SRV records for these instances (dnsmasq rereads SRV lines only on a restart). */
  async publish(instances: string[]): Promise<void> {
    await this.server?.stop();
    const components = instances.map((n) => this.stack.component(n));
    this.server = await startDnsmasq({
      port: this.port,
      domain: DOMAIN,
      ttlS: this.ttlS,
      hosts: components.map((c) => `${c.host} ${c.name}.${DOMAIN}`),
      srv: components.map((c) => `_${SERVICE}._tcp.${DOMAIN},${c.name}.${DOMAIN},${c.ports.tcp}`),
    });
  }

  async stop(): Promise<void> {
    await this.server?.stop();
  }
}

/** When the registry's watch saw each instance come and go, and why it went. */
function watchEvents() {
  const added = new Map<string, number>();
  const removed = new Map<string, { at: number; reason: string }>();
  return {
    added,
    removed,
    listener: (_: unknown, change: InstanceChange) => {
      if (change.kind === 'added') added.set(change.instance.id, performance.now());
      if (change.kind === 'removed')
        removed.set(change.id, { at: performance.now(), reason: change.reason });
    },
  };
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

void runDemo(
  { name: 'discovery', title: 'a new instance found, a stopped one dropped: registry, list, DNS' },
  async (d) => {
    // the callers count their failed calls; Nest's ClientTCP would print every reset as well
    Logger.overrideLogger(false);
    const existing = instancesOf(d.stack, SERVICE).map((c) => c.name);
    const ttlS = d.pick(10, 3);
    const registry = stackRegistry(d.stack);
    d.onCleanup('close the registry connection', () => registry.close());
    const events = watchEvents();
    d.onCleanup('stop watching', await registry.watch(SERVICE, events.listener));
    const routed = async (name: string) => {
      const c = d.stack.component(name);
      return ((await gatewayUpstreams(d.stack)).upstreams[SERVICE] ?? []).includes(
        `${c.host}:${c.port}`,
      );
    };
    /** Milliseconds from `from` until nginx no longer routes to `name`. */
    const unroutedSince = async (name: string, from: number) => {
      await d.until(`the gateway to stop routing to ${name}`, async () => !(await routed(name)), {
        timeoutMs: 10_000,
      });
      return performance.now() - from;
    };

    d.step(
      'callers: reservation and the gateway (through the registry), and three in this process',
    );
    const zone = await PaymentZone.start(d.stack, ttlS, existing);
    d.onCleanup('stop dnsmasq', () => zone.stop());
    const nameOf = (id: string) => instanceAt(d.stack, id);
    const deployList = (names: string[]) =>
      TcpCaller.start({
        resolver: new StaticResolver({
          services: {
            [SERVICE]: names.map(
              (n) => `${d.stack.component(n).host}:${d.stack.component(n).ports.tcp}`,
            ),
          },
        }),
        service: SERVICE,
        nameOf,
        ...PROBE,
      });
    const callers = {
      registry: await TcpCaller.start({ resolver: registry, service: SERVICE, ...PROBE }),
      static: await deployList(existing),
      dns: await TcpCaller.start({
        resolver: new DnsResolver({ domain: DOMAIN, servers: zone.servers, minTtlMs: 500 }),
        service: SERVICE,
        nameOf,
        ...PROBE,
      }),
    };
    d.onCleanup('stop the callers in this process', () =>
      Promise.all(Object.values(callers).map((c) => c.stop())),
    );
    d.say(
      `registry caller, static-list caller (deployed with ${existing.join(', ')}), ` +
        `DNS caller (dnsmasq, SRV records, TTL ${ttlS} s): each one call every 20 ms, no retry`,
    );
    const users = await DemoUsers.login(d, ['alice', 'bob']);
    const bookings = await Bookings.forStack(d.gateway, users);
    const booking = bookings.load(d, { workers: 3, pauseMs: 20 });
    const lookups = Load.start({
      workers: 2,
      pauseMs: 20,
      request: () => ({ url: `${d.gateway}${LOOKUP_PATH}`, headers: users.headers() }),
    });
    d.onCleanup('stop the look-ups', () => lookups.stop());
    const failures = (from = 0) => [
      ...booking.errors(booking.between(from)).map((s) => `booking ${s.status || s.error}`),
      ...lookups.errors(lookups.between(from)).map((s) => `look-up ${s.status || s.error}`),
    ];
    const failedRequests = () => failures().length;
    d.say(
      'loads: bookings (reservation charges payment over TCP), GET /api/payments/<id> through the gateway',
    );
    await sleep(d.pick(3_000, 1_500));

    // ---- a new instance, started by hand
    const added = d.stack.nextInstanceName(SERVICE);
    d.step(`start ${added} by hand (nothing else is restarted or reconfigured)`);
    const startAt = performance.now();
    d.onCleanup(`stop ${added} and drop it from the stack`, () => removeInstance(d.stack, added));
    await startService(d.stack, { service: SERVICE, name: added });
    await d.until(`${added} in the registry`, () => events.added.has(added), { timeoutMs: 30_000 });
    const registeredAt = events.added.get(added) as number;
    d.say(
      `${added} registered ${seconds(registeredAt - startAt)} after the start (migrations, Nest, listen)`,
    );
    await zone.publish([...existing, added]);
    d.say(
      `DNS updated: a new SRV record, ${(performance.now() - registeredAt).toFixed(0)} ms after it registered`,
    );
    const firstCharge = () => Math.min(...chargedReservations(d.stack, added, startAt).values());
    const firstLookup = () =>
      lookups.between(registeredAt).find((s) => s.instance === added)?.at ?? Infinity;
    const firstCall = (c: TcpCaller) => c.to(added, registeredAt)[0]?.at ?? Infinity;
    await d.until(
      `${added} to get requests from reservation, the gateway, the registry and DNS callers`,
      () =>
        [firstCharge(), firstLookup(), firstCall(callers.registry), firstCall(callers.dns)].every(
          Number.isFinite,
        ),
      { timeoutMs: (ttlS + 20) * 1000, intervalMs: 50 },
    );
    const firstBy = {
      reservation: firstCharge() - registeredAt,
      gateway: firstLookup() - registeredAt,
      registry: firstCall(callers.registry) - registeredAt,
      dns: firstCall(callers.dns) - registeredAt,
    };
    d.say(
      `first charge from reservation (its own registry watch): +${firstBy.reservation.toFixed(0)} ms after registration (${added}'s log)`,
    );
    d.say(
      `first GET through the gateway (watch, sync, nginx reload): +${firstBy.gateway.toFixed(0)} ms`,
    );
    d.say(`first call of the registry caller: +${firstBy.registry.toFixed(0)} ms`);
    d.say(
      `first call of the DNS caller: +${seconds(firstBy.dns)} (its cached answer had to run out)`,
    );
    const staticCalls = callers.static.to(added).length;
    d.say(
      `static-list caller: ${staticCalls} calls to ${added}; it still lists ${callers.static.listed().join(', ')}`,
    );
    d.check(
      `${added} got traffic from reservation and the gateway, nothing restarted`,
      firstBy.reservation < 10_000 && firstBy.gateway < 10_000,
      `+${firstBy.reservation.toFixed(0)} / +${firstBy.gateway.toFixed(0)} ms`,
    );
    d.check('the static list never learnt of it', staticCalls === 0);

    d.step(`redeploy the static-list caller, ${added} now written in its list`);
    await callers.static.stop();
    callers.static = await deployList([...existing, added]);
    await sleep(d.pick(2_000, 1_000));

    // ---- graceful stop
    d.step(`SIGTERM ${added}: it deregisters, then drains`);
    const termAt = performance.now();
    d.stack.kill(added, 'SIGTERM');
    await d.until(`${added} removed from the registry`, () => events.removed.has(added), {
      timeoutMs: 10_000,
    });
    const removedAt = events.removed.get(added)?.at as number;
    const deregisterMs = removedAt - termAt;
    await zone.publish(existing);
    const dnsRemovedAt = performance.now();
    d.say(
      `removed from the registry (${events.removed.get(added)?.reason}) ${deregisterMs.toFixed(0)} ms after SIGTERM; its DNS record removed at once`,
    );
    const termUnroutedMs = await unroutedSince(added, termAt);
    d.say(`nginx unrouted it ${termUnroutedMs.toFixed(0)} ms after SIGTERM`);
    await d.until(`${added} to exit`, () => !isAlive(d.stack.component(added).pid), {
      timeoutMs: 15_000,
    });
    const deregistered = instanceLog(d.stack, added, startAt).find((e) =>
      e.msg.startsWith('deregistered'),
    );
    const lastCharge = Math.max(...chargedReservations(d.stack, added, startAt).values());
    if (deregistered)
      d.say(
        `${added}'s log: last charge ${(deregistered.at - lastCharge).toFixed(0)} ms before it deregistered, none after`,
      );

    // a crash needs another instance: start it now, while DNS callers wait out their TTL
    const crashed = d.stack.nextInstanceName(SERVICE);
    d.onCleanup(`stop ${crashed} and drop it from the stack`, () =>
      removeInstance(d.stack, crashed),
    );
    const crashedStarted = startService(d.stack, { service: SERVICE, name: crashed });
    d.say(`(${crashed} starting meanwhile, for the crash below)`);

    await d.until(`the DNS caller to drop ${added}`, () => !callers.dns.listed().includes(added), {
      timeoutMs: (ttlS + 5) * 1000,
    });
    const dnsListedFor = performance.now() - dnsRemovedAt;
    await sleep(d.pick(3_000, 1_000));
    const dead = (c: TcpCaller) => c.to(added, removedAt).filter((x) => !x.ok).length;
    const deadCalls = {
      registry: dead(callers.registry),
      dns: dead(callers.dns),
      static: dead(callers.static),
    };
    for (const [style, c] of Object.entries(callers))
      d.say(
        `${style.padEnd(8)} caller: ${dead(c)} failed calls to the dead ${added}; lists ${c.listed().join(', ')}`,
      );
    d.check(
      'no booking and no look-up failed through the graceful stop',
      failedRequests() === 0,
      `${failedRequests()} failed${failedRequests() ? `: ${failures().join(', ')}` : ''}`,
    );
    d.check('the registry caller never called the stopped instance', deadCalls.registry === 0);
    d.check(
      `the DNS caller kept the dead address until its TTL (${ttlS} s) ran out`,
      deadCalls.dns > 0 && dnsListedFor < (ttlS + 1.5) * 1000,
      `${deadCalls.dns} failed calls, listed ${seconds(dnsListedFor)} after the DNS update`,
    );
    d.check(
      'the static-list caller still has the dead address (until the next redeploy)',
      deadCalls.static > 0 && callers.static.listed().includes(added),
      `${deadCalls.static} failed calls`,
    );

    // ---- crash
    d.step(`${crashed} (started by hand like ${added}) gets traffic, then SIGKILL: no goodbye`);
    await crashedStarted;
    await d.until(`${crashed} in the registry`, () => events.added.has(crashed), {
      timeoutMs: 30_000,
    });
    await d.until(`the gateway to route to ${crashed}`, () => routed(crashed), {
      timeoutMs: 10_000,
    });
    await sleep(d.pick(2_000, 1_000));
    const failedBefore = failedRequests();
    const killAt = performance.now();
    d.stack.kill(crashed, 'SIGKILL');
    await d.until(`${crashed} expired from the registry`, () => events.removed.has(crashed), {
      timeoutMs: 10_000,
    });
    const detectMs = (events.removed.get(crashed)?.at as number) - killAt;
    d.say(
      `removed (${events.removed.get(crashed)?.reason}) ${seconds(detectMs)} after SIGKILL: its lease ran out`,
    );
    const killUnroutedMs = await unroutedSince(crashed, killAt);
    d.say(
      `nginx unrouted it ${seconds(killUnroutedMs)} after SIGKILL (passive checks covered the gap)`,
    );
    const inLease = callers.registry.to(crashed, killAt).filter((x) => !x.ok).length;
    d.say(
      `registry caller: ${inLease} failed calls to ${crashed} within the lease (ejected after 5 in a row)`,
    );
    await sleep(d.pick(2_000, 500));
    const killFailed = failedRequests() - failedBefore;
    if (booking.resent.length)
      d.say(
        `${booking.resent.length} booking(s) cut without an answer were sent again with the same Idempotency-Key: ${booking.resent.join('; ')}`,
      );
    d.check('the crash was detected within the lease (3 s)', detectMs <= 3_500, seconds(detectMs));
    checkAccepted(d, users, booking.samples, lookups.samples);
    d.check(
      'no booking and no look-up failed through the crash (retried on another instance)',
      killFailed === 0,
      `${killFailed} failed${killFailed ? `: ${failures(killAt).join(', ')}` : ''}`,
    );

    const ms = (v: number) => Math.round(v);
    d.figure(
      `${added} registered -> first charge from reservation`,
      ms(firstBy.reservation),
      'ms',
      { anchor: 'pushed by the registry watch' },
    );
    d.figure(`${added} registered -> first request via the gateway`, ms(firstBy.gateway), 'ms', {
      anchor: 'gateway.new_instance.first_request 218 ms (README)',
    });
    d.figure(
      `${added} registered -> first call: registry / DNS / static`,
      `${ms(firstBy.registry)} ms / ${seconds(firstBy.dns)} / never`,
      '',
      { anchor: `DNS TTL ${ttlS} s; a list: a redeploy` },
    );
    d.figure('SIGTERM -> removed from the registry', ms(deregisterMs), 'ms', {
      goal: 'p99 <= 5 (bench)',
      anchor: 'discovery.deregister 1.2 / 12.4 ms; Moleculer 2.3 / 5.5 ms',
    });
    d.figure('SIGTERM -> unrouted by nginx', ms(termUnroutedMs), 'ms', {
      anchor: 'sync + reload 25-235 ms (load-balancing.md)',
    });
    d.figure(
      'failed calls to the stopped instance: registry / DNS / static',
      `${deadCalls.registry} / ${deadCalls.dns} / ${deadCalls.static}`,
      '',
      { goal: '0 / until TTL / until redeploy' },
    );
    d.figure('dead address kept by the DNS caller after the DNS update', dnsListedFor / 1000, 's', {
      goal: `<= TTL (${ttlS} s)`,
      anchor: 'the seed: internal DNS TTL 10-60 s',
    });
    d.figure('SIGKILL -> removed (lease)', detectMs / 1000, 's', {
      goal: '<= 3',
      anchor: 'crash_detect.max 2.99 s; Eureka ~90 s+; Moleculer tuned 6.1 s',
    });
    d.figure('SIGKILL -> unrouted by nginx', killUnroutedMs / 1000, 's');
    d.figure('failed bookings and look-ups, whole run', failedRequests(), '', { goal: '0' });
    d.figure('bookings sent again, cut without an answer', booking.resent.length, '', {
      anchor: 'same Idempotency-Key: a client retry, not a failure',
    });
  },
);
