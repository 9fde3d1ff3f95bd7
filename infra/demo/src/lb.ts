/**
 * `npm run demo:lb [-- --quick]`: server-side load balancing
 * (docs/patterns/load-balancing.md). Listings load through the nginx gateway
 * over both reservation instances; one is SIGKILLed, then started again:
 * requests per instance before, during and after, the errors a client saw
 * (goal 0: nginx passes a refused request to the other instance), how long
 * until the gateway stopped routing to the dead one, and how long until the
 * restarted one got traffic again. The listings are alice's: the demo logs in
 * as her through the gateway first and sends her token on every request.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { gatewayUpstreams } from '@stayline/stack-kit';
import { Load, latency } from '@stayline/fault-kit';
import { checkAccepted, DemoUsers, instancesOf, runDemo } from './index';

const SERVICE = 'reservation';

void runDemo(
  { name: 'lb', title: 'nginx balances, routes around a killed instance and takes it back' },
  async (d) => {
    const [victim, survivor] = instancesOf(d.stack, SERVICE).map((c) => c.name);
    if (!victim || !survivor) throw new Error(`the stack runs fewer than 2 ${SERVICE} instances`);
    const upstreamOf = async () => (await gatewayUpstreams(d.stack)).upstreams[SERVICE] ?? [];
    const victimAddress = `${d.stack.component(victim).host}:${d.stack.component(victim).port}`;
    const phaseMs = d.pick(4_000, 2_000);
    const users = await DemoUsers.login(d);

    d.step(`load: alice's GET /api/listings through the gateway (${d.gateway}), 8 workers`);
    const load = Load.start({
      workers: 8,
      request: () => ({ url: `${d.gateway}/api/listings?limit=5`, headers: users.headers() }),
    });
    d.onCleanup('stop the load', () => load.stop());
    const t0 = performance.now();
    await sleep(phaseMs);
    const before = load.between(t0);
    d.say(
      `served: ${JSON.stringify(load.perInstance(before))}, p99 ${latency(before).p99.toFixed(1)} ms`,
    );

    d.step(`SIGKILL ${victim}`);
    const killedAt = performance.now();
    d.stack.kill(victim, 'SIGKILL');
    d.onCleanup(`restart ${victim}`, async () => {
      const now = (await d.stack.status()).components.find((c) => c.name === victim);
      if (!now?.healthy) await d.stack.restart(victim);
    });
    const unroutedMs = await d.until(
      `the gateway to stop routing to ${victim}`,
      async () => !(await upstreamOf()).includes(victimAddress),
      { timeoutMs: 20_000, intervalMs: 50 },
    );
    d.say(
      `the registry lease expired and the gateway sync reloaded nginx: ${victim} unrouted after ${(unroutedMs / 1000).toFixed(2)} s`,
    );
    await sleep(phaseMs);
    const during = load.between(killedAt);
    d.say(`served since the kill: ${JSON.stringify(load.perInstance(during))}`);

    d.step(`start ${victim} again`);
    const restartAt = performance.now();
    await d.stack.restart(victim);
    d.say(`${victim} listening again (pid ${d.stack.component(victim).pid})`);
    const firstMs = await d.until(
      `${victim} to get traffic again`,
      () => load.between(restartAt).some((s) => s.instance === victim),
      { timeoutMs: 20_000 },
    );
    d.say(
      `first request served by ${victim} ${(firstMs / 1000).toFixed(2)} s after it listened again`,
    );
    const backAt = performance.now();
    await sleep(phaseMs);
    await load.stop();
    const after = load.between(backAt);
    d.say(`served after the return: ${JSON.stringify(load.perInstance(after))}`);

    const errors = load.errors();
    const share = (samples: typeof before, name: string) =>
      samples.length
        ? (100 * samples.filter((s) => s.instance === name).length) / samples.length
        : 0;
    checkAccepted(d, users, load.samples);
    d.check(
      'both instances served before the kill',
      share(before, victim) > 20 && share(before, survivor) > 20,
      `${share(before, victim).toFixed(0)} % / ${share(before, survivor).toFixed(0)} %`,
    );
    d.check(
      'no request failed, the kill included',
      errors.length === 0,
      `${errors.length} of ${load.samples.length}${errors[0] ? `, e.g. ${errors[0].status} ${errors[0].error ?? ''}` : ''}`,
    );
    d.check(
      `${survivor} carried the load once ${victim} was gone`,
      load.between(killedAt + unroutedMs + 1_000, restartAt).every((s) => s.instance === survivor),
    );
    d.check(
      'the restarted instance takes its share again',
      share(after, victim) > 20,
      `${share(after, victim).toFixed(0)} %`,
    );

    d.figure('requests served', load.samples.length, '', {});
    d.figure('errors seen by clients', errors.length, 'requests', { goal: '0' });
    d.figure(
      `share ${victim} / ${survivor} before`,
      `${share(before, victim).toFixed(0)} / ${share(before, survivor).toFixed(0)}`,
      '%',
      { goal: '50 / 50' },
    );
    d.figure(
      `share ${victim} / ${survivor} after`,
      `${share(after, victim).toFixed(0)} / ${share(after, survivor).toFixed(0)}`,
      '%',
      { goal: '50 / 50' },
    );
    d.figure('SIGKILL to unrouted by the gateway', unroutedMs / 1000, 's', {
      goal: '<= 3 (lease)',
      anchor: 'nginx passive checks alone: max_fails/fail_timeout, 10 s',
    });
    d.figure('listening again to first request', firstMs / 1000, 's', {
      anchor: 'a static upstream list: a config edit and a reload by hand',
    });
    d.figure('listings p99 under load', latency(load.samples).p99, 'ms');
  },
);
