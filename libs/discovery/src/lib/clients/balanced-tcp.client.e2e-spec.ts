import { formatRedisTarget } from '@stayline/coordination';
import { freePorts, Stack, startStack, waitFor } from '@stayline/stack-kit';
import { sentinelTarget, startFixture } from '../../testing/processes';
import { RedisRegistry } from '../redis.registry';
import { BalancedHttpClient } from './balanced-http.client';
import { BalancedTcpClient } from './balanced-tcp.client';
import { NoEndpointError, RemoteCallError } from './errors';

jest.setTimeout(60_000);

let stack: Stack;
let registry: RedisRegistry;
const clients: Array<{ close(): Promise<void> }> = [];

/** Starts an echo callee (a separate NestJS process) registered as `service`. */
async function startCallee(service: string, id: string, extra: Record<string, number> = {}) {
  const [http, tcp] = await freePorts(2);
  await startFixture(stack, {
    name: id,
    script: 'callee.ts',
    args: { redis: formatRedisTarget(sentinelTarget(stack)), service, id, http, tcp, ...extra },
    ports: { http, tcp },
  });
}

async function tcpClient(
  service: string,
  options: Partial<Parameters<typeof BalancedTcpClient.connect>[0]> = {},
) {
  const c = await BalancedTcpClient.connect({
    resolver: registry,
    service,
    timeoutMs: 1_000,
    ...options,
  });
  clients.push(c);
  return c;
}

/** Waits until `check()` is true. */
const until = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  waitFor(what, check, { timeoutMs, intervalMs: 20 });

function tally(ids: string[]): Record<string, number> {
  return ids.reduce<Record<string, number>>(
    (acc, id) => ({ ...acc, [id]: (acc[id] ?? 0) + 1 }),
    {},
  );
}

beforeAll(async () => {
  stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
  registry = new RedisRegistry({ redis: sentinelTarget(stack) });
  await Promise.all([
    startCallee('echo', 'echo-1'),
    startCallee('echo', 'echo-2'),
    startCallee('lopsided', 'slow-1', { delay: 30 }),
    startCallee('lopsided', 'fast-1'),
  ]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await registry?.close();
  await stack?.stop();
});

describe('BalancedTcpClient over real NestJS TCP instances', () => {
  it('finds both instances through the registry and takes them in turn (round robin)', async () => {
    const echo = await tcpClient('echo');
    await until('two endpoints', () => echo.endpoints.length === 2);
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await echo.send<{ id: string }>('ping', {})).id);
    expect(tally(ids)).toEqual({ 'echo-1': 50, 'echo-2': 50 });
  });

  it('power of two choices sends most concurrent calls to the faster instance; round robin does not', async () => {
    const share = async (strategy: 'round-robin' | 'power-of-two') => {
      const c = await tcpClient('lopsided', { strategy });
      await until('two endpoints', () => c.endpoints.length === 2);
      const ids: string[] = [];
      // 8 callers, each calling again as soon as its answer is in
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          for (let i = 0; i < 25; i++) ids.push((await c.send<{ id: string }>('ping', {})).id);
        }),
      );
      return (tally(ids)['fast-1'] ?? 0) / ids.length;
    };
    expect(await share('round-robin')).toBeCloseTo(0.5, 1);
    expect(await share('power-of-two')).toBeGreaterThan(0.75);
  });

  it('ejects an instance that keeps failing for the cool-down, then tries it again', async () => {
    const echo = await tcpClient('echo', {
      ejection: { consecutiveFailures: 3, coolDownMs: 1_000 },
    });
    await until('two endpoints', () => echo.endpoints.length === 2);
    await echo.sendTo('echo-1', 'fail-mode', { on: true });
    const outcomes: string[] = [];
    for (let i = 0; i < 20; i++) {
      outcomes.push(
        await echo.send<{ id: string }>('ping', {}).then(
          (r) => r.id,
          (e: Error) => `${e.name}`,
        ),
      );
    }
    // echo-1 fails 3 times (non-idempotent: no retry), then it is out and echo-2 takes everything
    expect(tally(outcomes)).toEqual({ RemoteCallError: 3, 'echo-2': 17 });
    expect(echo.stats().find((s) => s.id === 'echo-1')?.ejectedForMs).toBeGreaterThan(0);
    await echo.sendTo('echo-1', 'fail-mode', { on: false });
    await new Promise((r) => setTimeout(r, 1_100));
    const after: string[] = [];
    for (let i = 0; i < 10; i++) after.push((await echo.send<{ id: string }>('ping', {})).id);
    expect(tally(after)).toEqual({ 'echo-1': 5, 'echo-2': 5 });
  });

  it('keeps serving when an instance is killed mid-stream: idempotent calls are retried on the other one', async () => {
    await startCallee('stream', 'stream-1');
    await startCallee('stream', 'stream-2');
    const c = await tcpClient('stream', { strategy: 'power-of-two' });
    await until('two endpoints', () => c.endpoints.length === 2);
    let stop = false;
    const ids: string[] = [];
    const failures: Error[] = [];
    const loops = Array.from({ length: 4 }, async () => {
      while (!stop) {
        await c.send<{ id: string }>('slow', { ms: 5 }, { idempotent: true, timeoutMs: 500 }).then(
          (r) => ids.push(r.id),
          (e: Error) => failures.push(e),
        );
      }
    });
    await until('calls to both', () => ids.includes('stream-1') && ids.includes('stream-2'));
    stack.kill('stream-1', 'SIGKILL');
    const killedAt = ids.length;
    await until('the registry to drop stream-1', () => c.endpoints.length === 1, 6_000);
    const droppedAt = ids.length;
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await Promise.all(loops);
    expect(failures).toEqual([]);
    expect(ids.length).toBeGreaterThan(droppedAt);
    expect(new Set(ids.slice(killedAt + 8))).toEqual(new Set(['stream-2'])); // after the in-flight ones, only the survivor
    expect(c.endpoints.map((e) => e.id)).toEqual(['stream-2']);
  });

  it('connects to a new instance as soon as it registers', async () => {
    const c = await tcpClient('late');
    expect(c.endpoints).toEqual([]);
    await expect(c.send('ping', {})).rejects.toBeInstanceOf(NoEndpointError);
    await startCallee('late', 'late-1');
    await until('the new endpoint', () => c.endpoints.length === 1);
    expect(await c.send<{ id: string }>('ping', {})).toMatchObject({ id: 'late-1' });
  });

  it('passes a remote error through without retrying it elsewhere when the call is not idempotent', async () => {
    const echo = await tcpClient('echo', { strategy: 'round-robin' });
    await until('two endpoints', () => echo.endpoints.length === 2);
    await echo.sendTo('echo-2', 'fail-mode', { on: true });
    const results = await Promise.allSettled([echo.send('ping', {}), echo.send('ping', {})]);
    await echo.sendTo('echo-2', 'fail-mode', { on: false });
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(rejected).toHaveLength(1);
    expect(rejected[0].reason).toBeInstanceOf(RemoteCallError);
    expect((rejected[0].reason as RemoteCallError).endpointId).toBe('echo-2');
  });
});

describe('BalancedHttpClient', () => {
  it('balances HTTP requests and retries an idempotent one on another instance after a 5xx', async () => {
    const http = await BalancedHttpClient.connect({
      resolver: registry,
      service: 'echo',
      timeoutMs: 1_000,
    });
    clients.push(http);
    await until('two endpoints', () => http.endpoints.length === 2);
    const ids: string[] = [];
    for (let i = 0; i < 10; i++)
      ids.push(((await (await http.request('/ping')).json()) as { id: string }).id);
    expect(tally(ids)).toEqual({ 'echo-1': 5, 'echo-2': 5 });
    const tcp = await tcpClient('echo');
    await until('two endpoints', () => tcp.endpoints.length === 2);
    await tcp.sendTo('echo-1', 'fail-mode', { on: true });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await http.request('/ping')).status);
    const fresh = await BalancedHttpClient.connect({
      resolver: registry,
      service: 'echo',
      timeoutMs: 1_000,
    });
    clients.push(fresh);
    await until('two endpoints', () => fresh.endpoints.length === 2);
    const unsafe: number[] = [];
    for (let i = 0; i < 4; i++)
      unsafe.push((await fresh.request('/ping', { idempotent: false })).status);
    await tcp.sendTo('echo-1', 'fail-mode', { on: false });
    expect(statuses).toEqual([200, 200, 200, 200]);
    expect(unsafe.sort()).toEqual([200, 200, 503, 503]); // not retried: echo-1's 503 comes back as it is
  });
});
