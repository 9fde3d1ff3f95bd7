/**
 * Redis, the Sentinels and etcd in the compose stack take logins only: a
 * client without credentials is refused by each, and a role's login can do
 * what its table says (libs/contracts redis-acl.ts, etcd-auth.ts) and nothing
 * more: the services' Redis user cannot reconfigure a node or write the
 * agents' topology, their Sentinel login cannot reconfigure a Sentinel, their
 * etcd user cannot touch the agents' election. And what that login can write
 * is checked where it is read: a registration forged with it, whose host would
 * be nginx configuration, never reaches nginx (docs/security.md, "Edge").
 */
import {
  ETCD_PREFIXES,
  REDIS_KEY_PATTERNS,
  REDIS_USERS,
  SENTINEL_USERS,
} from '@stayline/contracts';
import { RedisRegistry } from '@stayline/discovery';
import { credentialsFromEnv, etcdLogin, HttpClient, login, waitFor } from '@stayline/stack-kit';
import { redisPrimary } from './lib/cluster';
import { ComposeStack } from './lib/compose-stack';

jest.setTimeout(120_000);

const stack = ComposeStack.fromEnv();
const credentials = credentialsFromEnv();

/**
 * A shell command in a container, with its replies and errors alike (redis-cli
 * prints an error reply and may still exit 0, etcdctl exits non-zero).
 */
function sh(service: string, command: string): Promise<string> {
  return stack.exec(service, ['sh', '-c', `${command} 2>&1; true`]);
}

/** redis-cli with no login at all: the container's REDISCLI_AUTH (the admin's) removed. */
const anonymousRedisCli = 'env -u REDISCLI_AUTH redis-cli';

/** redis-cli logged in as `user` with `password` (one word, no quote: assertRedisPassword). */
const redisCliAs = (user: string, password: string) =>
  `env -u REDISCLI_AUTH redis-cli --no-auth-warning --user ${user} --pass '${password}'`;

const anonymousEtcdctl = 'etcdctl --endpoints=http://127.0.0.1:2379 --command-timeout=3s';

describe('logins to the datastores', () => {
  let primary = '';
  beforeAll(async () => {
    primary = await redisPrimary(stack);
  });

  it('Redis refuses a client without credentials, and the default user', async () => {
    expect(await sh(primary, `${anonymousRedisCli} ping`)).toMatch(/NOAUTH/);
    expect(await sh(primary, `${anonymousRedisCli} get ${REDIS_KEY_PATTERNS.topology}`)).toMatch(
      /NOAUTH/,
    );
    expect(await sh(primary, `${redisCliAs('default', 'anything')} ping`)).toMatch(
      /WRONGPASS|NOAUTH/,
    );
  });

  it('a Sentinel refuses a client without credentials', async () => {
    expect(
      await sh(
        'sentinel-1',
        `${anonymousRedisCli} -p 26379 sentinel get-master-addr-by-name stayline`,
      ),
    ).toMatch(/NOAUTH/);
  });

  it("the services' Redis user does its work, and cannot reconfigure a node or write the agents' topology", async () => {
    const service = redisCliAs(REDIS_USERS.service, credentials.redis.service);
    const probe = 'stayline:coord:logins-probe';
    expect((await sh(primary, `${service} set ${probe} 1`)).trim()).toBe('OK');
    expect((await sh(primary, `${service} del ${probe}`)).trim()).toBe('1');
    expect(await sh(primary, `${service} config set maxmemory 1`)).toMatch(/NOPERM/);
    expect(await sh(primary, `${service} set stayline:topology:current forged`)).toMatch(/NOPERM/);
    expect(await sh(primary, `${service} flushall`)).toMatch(/NOPERM/);
    // the gateway sync reads the registry and writes nothing
    const sync = redisCliAs(REDIS_USERS['gateway-sync'], credentials.redis['gateway-sync']);
    expect(await sh(primary, `${sync} set stayline:discovery:payment:forged 1`)).toMatch(/NOPERM/);
  });

  it("a registration forged with the services' login, its host a piece of nginx configuration, never reaches nginx; the gateway goes on routing", async () => {
    // a compromised service: the registry's own client, logged in as the services' user
    const prefix = stack.env.STAYLINE_NET_PREFIX ?? '10.89.51';
    const registry = new RedisRegistry({
      redis: {
        // through the Sentinels, as the services find the primary
        sentinels: [31, 32, 33].map((n) => ({ host: `${prefix}.${n}`, port: 26379 })),
        masterName: 'stayline',
        sentinelUsername: SENTINEL_USERS.client,
        sentinelPassword: credentials.sentinelClient,
        username: REDIS_USERS.service,
        password: credentials.redis.service,
      },
    });
    const hostile = '10.0.0.1:80; } server { listen 9999';
    const forged = await registry.register({
      service: 'payment',
      id: 'payment-forged',
      host: hostile,
      httpPort: 80,
      tcpPort: 80,
      kind: 'service',
      version: 'forged',
      startedAt: new Date().toISOString(),
      metadata: {},
    });
    const http = new HttpClient();
    try {
      const gateway = (await stack.container('gateway')).name;
      // the sync saw it, and left it out with a warning naming it
      await waitFor(
        'the gateway sync to name the forged registration',
        async () => /payment-forged/.test(await stack.logs(gateway, 400)),
        { timeoutMs: 20_000, intervalMs: 500 },
      );
      expect(await stack.logs(gateway, 400)).toMatch(
        /payment-forged.*not an IP address or an RFC 1123 host name/,
      );
      const conf = await sh('gateway', "find /tmp/stayline-gateway -name '*.conf' -exec cat {} +");
      expect(conf).toMatch(/upstream/);
      expect({ listen9999: conf.includes('9999'), forgedHost: conf.includes('10.0.0.1') }).toEqual({
        listen9999: false,
        forgedHost: false,
      });
      // and the payments route still answers, from the real instances
      const token = (await login(stack.gateway, 'alice')).access_token;
      for (let i = 0; i < 4; i++) {
        const res = await http.request(`${stack.gateway}/api/payments`, {
          headers: { authorization: `Bearer ${token}` },
        });
        expect(res.status).toBe(200);
      }
    } finally {
      http.close();
      await forged.deregister();
      await registry.close();
    }
  });

  it("the Sentinels' client login asks where the primary is, and cannot reconfigure a Sentinel", async () => {
    const client = `${redisCliAs(SENTINEL_USERS.client, credentials.sentinelClient)} -p 26379`;
    expect(await sh('sentinel-1', `${client} sentinel get-master-addr-by-name stayline`)).toMatch(
      /^\d+\.\d+\.\d+\.\d+\s+6379/,
    );
    expect(
      await sh('sentinel-1', `${client} sentinel set stayline down-after-milliseconds 100000`),
    ).toMatch(/NOPERM/);
    expect(await sh('sentinel-1', `${client} sentinel failover stayline`)).toMatch(/NOPERM/);
  });

  it('etcd refuses a client without a user', async () => {
    expect(await sh('etcd-1', `${anonymousEtcdctl} get ${ETCD_PREFIXES.coordination}x`)).toMatch(
      /user name is empty/,
    );
    expect(await sh('etcd-1', `${anonymousEtcdctl} put ${ETCD_PREFIXES.agents}forged x`)).toMatch(
      /user name is empty/,
    );
  });

  it("the services' etcd user writes its own prefix, and cannot touch the agents' election", async () => {
    const login = etcdLogin('service');
    const service = `${anonymousEtcdctl} --user='${login.username}:${login.password}'`;
    const probe = `${ETCD_PREFIXES.coordination}logins-probe`;
    expect((await sh('etcd-1', `${service} put ${probe} 1`)).trim()).toBe('OK');
    expect((await sh('etcd-1', `${service} del ${probe}`)).trim()).toBe('1');
    expect(await sh('etcd-1', `${service} put ${ETCD_PREFIXES.agents}forged x`)).toMatch(
      /permission denied/,
    );
    expect(await sh('etcd-1', `${service} get --prefix ${ETCD_PREFIXES.agents}`)).toMatch(
      /permission denied/,
    );
    expect(await sh('etcd-1', `${service} user list`)).toMatch(/permission denied/);
  });
});
