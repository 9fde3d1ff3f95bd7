/**
 * Redis and the Sentinels of a real stack refuse a client without credentials,
 * and each role's user can do what its code does and nothing the ACL table
 * (libs/contracts/src/lib/redis-acl.ts) leaves out: the errors asserted are the
 * servers' own NOAUTH / WRONGPASS / NOPERM.
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { connectRedis, RedisCoordinationBackend } from '@stayline/coordination';
import { REDIS_USERS, RedisRole, TOPOLOGY_KEY } from '@stayline/contracts';
import { RedisTopologySource } from '@stayline/database';
import { describeInstance, RedisRegistry } from '@stayline/discovery';
import { Stack, startStack } from '@stayline/stack-kit';

jest.setTimeout(90_000);

describe('Redis and Sentinel ACLs', () => {
  let stack: Stack;
  const opened: Array<{ disconnect(): void }> = [];
  const closers: Array<() => Promise<unknown>> = [];

  /** A plain connection to one node (no retry): `login` null sends no credentials. */
  const direct = (
    node: { host: string; port: number },
    login: { username: string; password: string } | null,
  ) => {
    const r = new Redis({
      host: node.host,
      port: node.port,
      ...(login ?? {}),
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
      enableReadyCheck: false,
    });
    r.on('error', () => undefined);
    opened.push(r);
    return r;
  };
  const as = (role: RedisRole) => {
    const { username, password } = stack.redisAuth(role);
    return direct(stack.redis.primary, { username, password });
  };
  const sentinelAs = (role: 'client' | 'admin') => {
    const a = stack.redisAuth(role === 'admin' ? 'admin' : 'service');
    return direct(stack.redis.sentinels[0], {
      username: a.sentinelUsername,
      password: a.sentinelPassword,
    });
  };

  beforeAll(async () => {
    stack = await startStack({ mariadb: false, nginx: false });
  });
  afterAll(async () => {
    for (const c of closers) await c().catch(() => undefined);
    for (const r of opened) r.disconnect();
    await stack?.stop();
  });

  it('refuses a client without credentials, with a wrong password, or as the default user, on Redis and on the Sentinels', async () => {
    for (const node of [stack.redis.primary, stack.redis.replicas[0], stack.redis.sentinels[0]]) {
      await expect(direct(node, null).call('PING')).rejects.toThrow(/^NOAUTH/);
      await expect(
        direct(node, { username: REDIS_USERS.service, password: 'not-the-password' }).call('PING'),
      ).rejects.toThrow(/^WRONGPASS/);
      await expect(
        direct(node, { username: 'default', password: 'x' }).call('PING'),
      ).rejects.toThrow(/^WRONGPASS/);
    }
    // a Sentinel's client user is not a data node user, and the reverse
    await expect(sentinelAs('client').call('PING')).resolves.toBe('PONG');
    const { username, password } = stack.redisAuth('service');
    await expect(
      direct(stack.redis.sentinels[0], { username, password }).call('PING'),
    ).rejects.toThrow(/^WRONGPASS/);
  });

  it('keeps the files that hold passwords to their owner: 0600, in 0700 directories', () => {
    const mode = (f: string) => ({ f, mode: fs.statSync(f).mode & 0o777 });
    const nodes = [...stack.byKind('redis'), ...stack.byKind('sentinel')];
    for (const c of nodes) expect(mode(c.dir)).toEqual({ f: c.dir, mode: 0o700 });
    for (const c of stack.byKind('redis'))
      for (const f of ['users.acl', 'redis.conf'].map((n) => path.join(c.dir, n)))
        expect(mode(f)).toEqual({ f, mode: 0o600 });
    // a Sentinel rewrites its file as it learns (under its umask): its directory keeps it
    for (const c of stack.byKind('sentinel'))
      expect(fs.existsSync(path.join(c.dir, 'sentinel.conf'))).toBe(true);
  });

  it('lets a Sentinel client ask where the primary is and follow, never repoint a Sentinel', async () => {
    const s = sentinelAs('client');
    const master = stack.redis.masterName;
    const addr = (await s.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', master)) as string[];
    expect(Number(addr[1])).toBe(stack.redis.primary.port);
    expect(String(await s.call('SENTINEL', 'CKQUORUM', master))).toMatch(/^OK/);
    for (const args of [
      ['SET', master, 'down-after-milliseconds', '60000'],
      ['FAILOVER', master],
      ['REMOVE', master],
      ['MONITOR', 'elsewhere', '127.0.0.1', '1', '2'],
      ['RESET', '*'],
      ['CONFIG', 'SET', 'resolve-hostnames', 'yes'],
    ])
      await expect(s.call('SENTINEL', ...args)).rejects.toThrow(/^NOPERM/);
  });

  it('lets the gateway sync read and watch the registry, never register an instance or announce one', async () => {
    const service = new RedisRegistry({ redis: stack.redisTarget('service') });
    const sync = new RedisRegistry({
      redis: stack.redisTarget('gateway-sync'),
      sweepLeases: false,
    });
    closers.push(
      () => service.close(),
      () => sync.close(),
    );
    await service.register(
      describeInstance({ service: 'acl-test', id: 'acl-test-1', host: '127.0.0.1', httpPort: 1 }),
    );
    expect((await sync.list('acl-test')).map((i) => i.id)).toEqual(['acl-test-1']);
    const seen: string[][] = [];
    const stop = await sync.watch('acl-test', (list) => seen.push(list.map((i) => i.id)));
    expect(seen.at(-1)).toEqual(['acl-test-1']);
    await stop();

    await expect(
      sync.register(
        describeInstance({
          service: 'reservation',
          id: 'intruder',
          host: '127.0.0.1',
          httpPort: 1,
        }),
      ),
    ).rejects.toThrow(/NOPERM/);
    const r = as('gateway-sync');
    await expect(
      r.hset('stayline:discovery:reservation:instances', 'intruder', '{}'),
    ).rejects.toThrow(/^NOPERM this user has no permissions to run the 'hset' command/);
    await expect(
      r.publish('stayline:discovery:reservation:events', '{"type":"added"}'),
    ).rejects.toThrow(/^NOPERM this user has no permissions to run the 'publish' command/);
    await expect(r.get('stayline:coord:flags:version')).rejects.toThrow(/^NOPERM/);
    expect(await service.list('reservation')).toEqual([]);
  });

  it('lets a service read the published topology, never overwrite it or announce another', async () => {
    const agent = new RedisTopologySource({ redis: stack.redisTarget('agent') });
    const service = new RedisTopologySource({ redis: stack.redisTarget('service') });
    closers.push(
      () => agent.close(),
      () => service.close(),
    );
    const node = (name: string, port: number) => ({ name, host: '127.0.0.1', port });
    const topology = {
      epoch: 1,
      primary: node('mariadb-1', 3306),
      replicas: [node('mariadb-2', 3307)],
    };
    await agent.publish(topology, { expectedEpoch: 0, token: 1, publisher: 'agent' });
    expect((await service.current())?.topology.primary.name).toBe('mariadb-1');

    const forged = { ...topology, epoch: 2, primary: node('elsewhere', 1) };
    await expect(
      service.publish(forged, { expectedEpoch: 1, token: 99, publisher: 'intruder' }),
    ).rejects.toThrow(/NOPERM/);
    const r = as('service');
    await expect(r.hset(TOPOLOGY_KEY, 'json', JSON.stringify(forged))).rejects.toThrow(
      /^NOPERM this user has no permissions to access one of the keys used as arguments/,
    );
    await expect(r.del(TOPOLOGY_KEY)).rejects.toThrow(/^NOPERM/);
    await expect(r.publish(`${TOPOLOGY_KEY}:events`, JSON.stringify(forged))).rejects.toThrow(
      /^NOPERM this user has no permissions to access one of the channels used as arguments/,
    );
    // nor trim or drop the reservation events stream, nor reach the Redis nodes' settings
    await r.xadd('stayline:events:reservations', '*', 'k', 'v');
    await expect(r.xtrim('stayline:events:reservations', 'MAXLEN', 0)).rejects.toThrow(/^NOPERM/);
    await expect(r.del('stayline:events:reservations')).rejects.toThrow(/^NOPERM/);
    for (const args of [
      ['CONFIG', 'SET', 'appendonly', 'yes'],
      ['REPLICAOF', 'NO', 'ONE'],
      ['FLUSHALL'],
      ['KEYS', '*'],
    ])
      await expect(r.call(args[0], ...args.slice(1))).rejects.toThrow(/^NOPERM/);
    expect((await service.current())?.topology.primary.name).toBe('mariadb-1');
  });

  it('lets the dashboard read the flags and the registry and register itself, and write nothing else', async () => {
    const writer = new RedisCoordinationBackend({ redis: stack.redisTarget('service') });
    const reader = new RedisCoordinationBackend({ redis: stack.redisTarget('dashboard') });
    const registry = new RedisRegistry({
      redis: stack.redisTarget('dashboard'),
      sweepLeases: false,
    });
    closers.push(
      () => writer.close(),
      () => reader.close(),
      () => registry.close(),
    );
    await writer.flagStore().write('acl.shown', { kind: 'boolean', enabled: true });
    expect((await reader.flagStore().load()).flags['acl.shown']).toEqual({
      kind: 'boolean',
      enabled: true,
    });
    await registry.register(
      describeInstance({
        service: 'dashboard',
        id: 'dashboard-acl',
        host: '127.0.0.1',
        httpPort: 1,
      }),
    );
    expect((await registry.list('dashboard')).map((i) => i.id)).toEqual(['dashboard-acl']);

    await expect(
      reader.flagStore().write('acl.shown', { kind: 'boolean', enabled: false }),
    ).rejects.toThrow(/NOPERM/);
    await expect(
      registry.register(
        describeInstance({ service: 'payment', id: 'intruder', host: '127.0.0.1', httpPort: 1 }),
      ),
    ).rejects.toThrow(/NOPERM/);
    const r = as('dashboard');
    await expect(r.hset('stayline:coord:flags', 'acl.shown', '{}')).rejects.toThrow(/^NOPERM/);
    await expect(r.hset(TOPOLOGY_KEY, 'json', '{}')).rejects.toThrow(/^NOPERM/);
    await expect(r.publish('stayline:discovery:payment:events', '{}')).rejects.toThrow(/^NOPERM/);
    await expect(r.publish('stayline:coord:flags:events', '{}')).rejects.toThrow(/^NOPERM/);
    await expect(r.xadd('stayline:events:reservations', '*', 'k', 'v')).rejects.toThrow(/^NOPERM/);
    expect((await reader.flagStore().load()).flags['acl.shown']).toEqual({
      kind: 'boolean',
      enabled: true,
    });
  });

  it('gives the replication user and the Sentinel user nothing but their own commands', async () => {
    // they work: the replica is linked and the Sentinels reached a quorum at start
    expect((await stack.status()).components.every((c) => c.healthy)).toBe(true);
    for (const role of ['replica', 'sentinel'] as const) {
      const r = as(role);
      await expect(r.get('stayline:coord:flags:version')).rejects.toThrow(/^NOPERM/);
      await expect(r.hset(TOPOLOGY_KEY, 'json', '{}')).rejects.toThrow(/^NOPERM/);
    }
    const admin = connectRedis(stack.redisTarget('admin'));
    closers.push(async () => admin.disconnect());
    expect(await admin.hget(TOPOLOGY_KEY, 'by')).toBe('agent');
  });
});
