/**
 * A process that starts while its coordinator Redis answers too slowly (a
 * loaded host: every command hits its timeout) must not die: a reservation
 * instance starts with its defaults, a failover agent waits to follow the
 * topology and to campaign, the gateway sync waits to watch the registry (nginx
 * keeps its upstreams); all keep retrying and turn ready once Redis answers again.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs';
import Redis from 'ioredis';
import {
  Component,
  isAlive,
  isPortOpen,
  Stack,
  startAgent,
  startGatewaySync,
  startService,
  startStack,
  waitFor,
} from '@stayline/stack-kit';

jest.setTimeout(180_000);

const STARTERS = [
  {
    what: 'a reservation instance',
    name: 'reservation-slow-1',
    start: (stack: Stack, name: string) => startService(stack, { service: 'reservation', name }),
  },
  {
    what: 'a failover agent',
    name: 'failover-agent-slow-1',
    start: (stack: Stack, name: string) => startAgent(stack, name),
  },
  {
    what: 'the gateway sync',
    name: 'gateway-sync',
    // its start resolves once it is ready: after the pauses, which may last 100 s
    start: (stack: Stack) => startGatewaySync(stack, { readyTimeoutMs: 170_000 }),
  },
];

describe('starting while Redis is too slow to answer', () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ replicas: 1, sentinel: true, nginx: true });
  });
  afterAll(() => stack?.stop());

  it.each(STARTERS)(
    '$what stays up through the slow start and turns ready once Redis answers again',
    async ({ name, start }) => {
      // every Redis node paused (the replica too, so the Sentinels have nobody to promote):
      // each command of the instance's start-up waits past its 1 s timeout
      const { username, password } = stack.redisAuth('admin');
      const nodes = [stack.redis.primary, ...stack.redis.replicas].map(
        (n) =>
          new Redis({
            host: n.host,
            port: n.port,
            username,
            password,
            enableReadyCheck: false,
            maxRetriesPerRequest: 0,
          }),
      );
      let pausing = true;
      const pauses = (async () => {
        while (pausing) {
          await Promise.all(
            nodes.map((r) => r.call('CLIENT', 'PAUSE', '2000', 'ALL').catch(() => undefined)),
          );
          await sleep(2_050);
        }
      })();

      let failed: Error | undefined;
      const started = start(stack, name).catch((err: Error) => {
        failed = err;
        return err;
      });
      const component = (): Component => stack.component(name);
      const log = () => {
        try {
          return fs.readFileSync(component().spec.logFile, 'utf8');
        } catch {
          return '(no log)';
        }
      };
      try {
        // the start-up meets Redis while every command times out (the first timed-out command
        // in its log, whichever part of the start-up sent it); the instance must live on
        // through Nest's start, however long it takes
        const deadline = Date.now() + 90_000;
        let met: number | undefined;
        while (met === undefined || Date.now() < met + 8_000) {
          if (failed) throw new Error(`${failed.message}\n${log()}`);
          const c = stack.components.find((x) => x.name === name);
          if (c && !isAlive(c.pid)) throw new Error(`the instance died:\n${log()}`);
          if (met === undefined && c && /Command timed out/.test(log())) met = Date.now();
          if (Date.now() > deadline) throw new Error(`the instance never met Redis:\n${log()}`);
          await sleep(100);
        }
      } finally {
        pausing = false;
        await pauses;
      }
      // a client with no retries may be between connections when the pauses stop: unpause
      // until every node has answered, not once
      await Promise.all(
        nodes.map((r) =>
          waitFor(
            'a Redis node to unpause',
            async () => (await r.call('CLIENT', 'UNPAUSE')) === 'OK',
            { timeoutMs: 15_000, intervalMs: 200 },
          ),
        ),
      );
      for (const r of nodes) r.disconnect();

      const result = await started;
      if (result instanceof Error) throw new Error(`${result.message}\n${log()}`);
      expect(isAlive(component().pid)).toBe(true);
      expect(await isPortOpen(component().port, component().host)).toBe(true);
      const url = `http://127.0.0.1:${component().port}/health/ready`;
      await waitFor(
        'the instance to turn ready',
        async () => {
          if (!isAlive(component().pid)) throw new Error(`the instance died:\n${log()}`);
          return (await fetch(url)).status === 200;
        },
        { timeoutMs: 30_000, intervalMs: 250 },
      ).catch(async (err: Error) => {
        const body = await fetch(url)
          .then((r) => r.text())
          .catch(() => '');
        throw new Error(`${err.message}\n${body}\n${log()}`);
      });
    },
  );
});
