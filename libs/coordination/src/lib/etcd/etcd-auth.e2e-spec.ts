import { ETCD_PREFIXES, ETCD_ROLE_RULES, ETCD_ROLES, ETCD_USERS } from '@stayline/contracts';
import {
  applyEtcdAuth,
  etcdPasswordsFromEnv,
  etcdRootLogin,
  Stack,
  startStack,
} from '@stayline/stack-kit';
import { Etcd3 } from 'etcd3';
import { EtcdCoordinationBackend } from '../backend/etcd.coordination-backend';
import { ElectionStatus, LeaderElection } from '../election/leader-election';
import { connectEtcd } from './etcd-target';

jest.setTimeout(120_000);

/** The failover agents' backend prefix and election (apps/failover-agent). */
const AGENTS = ETCD_PREFIXES.agents.replace(/\/$/, '');
const ELECTION = 'failover-agent.mariadb';
/** etcd forgets a login token unused for this long: short, so the suite outlives a few. */
const TOKEN_TTL_S = 3;

let stack: Stack;
const clients: Etcd3[] = [];
const backends: EtcdCoordinationBackend[] = [];

const client = (target: Parameters<typeof connectEtcd>[0]) => {
  const c = connectEtcd(target);
  clients.push(c);
  return c;
};
const root = () => client({ endpoints: stack.etcd.endpoints, ...etcdRootLogin() });
const agentsBackend = () => {
  const b = new EtcdCoordinationBackend({
    etcd: stack.etcdTarget('agent'),
    prefix: AGENTS,
    tokenKeepAliveMs: 1_000,
  });
  backends.push(b);
  return b;
};
const leaders = (es: LeaderElection[]) =>
  es.filter((e) => e.state.status === ElectionStatus.Leader);

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const t0 = Date.now();
  while (!check()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  stack = await startStack({
    mariadb: false,
    redis: false,
    nginx: false,
    etcd: true,
    etcdAuthTokenTtlS: TOKEN_TTL_S,
  });
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  clients.forEach((c) => c.close());
  await stack?.stop();
});

describe('etcd with auth: a user per role, the table in libs/contracts etcd-auth.ts', () => {
  it('refuses a client without a login, and a login with a wrong password', async () => {
    const anonymous = client({ endpoints: stack.etcd.endpoints });
    await expect(anonymous.put('/stayline/coord/flags/x').value('1').exec()).rejects.toThrow(
      'etcdserver: user name is empty',
    );
    await expect(anonymous.get('/stayline/services/auth/x').exec()).rejects.toThrow(
      'etcdserver: user name is empty',
    );
    const wrong = client({ ...stack.etcdTarget('service'), password: 'not-the-password' });
    await expect(wrong.get('/stayline/coord/flags/x').exec()).rejects.toThrow(
      'etcdserver: authentication failed, invalid user ID or password',
    );
  });

  it("gives each role exactly its table's prefixes, read or readwrite", async () => {
    const r = root();
    for (const role of ETCD_ROLES) {
      const granted = (await r.role(ETCD_USERS[role]).permissions()).map((p) => ({
        prefix: p.range.start.toString(),
        access:
          p.permission === 'Read' ? 'read' : p.permission === 'Readwrite' ? 'readwrite' : 'write',
      }));
      const wanted = ETCD_ROLE_RULES[role].grants.map(({ prefix, access }) => ({ prefix, access }));
      const order = (xs: { prefix: string }[]) =>
        [...xs].sort((a, b) => a.prefix.localeCompare(b.prefix));
      expect({ role, granted: order(granted) }).toEqual({ role, granted: order(wanted) });
    }
  });

  it("a service's user can neither touch the agents' leader key nor revoke its lease; the leader stays", async () => {
    const candidates = [agentsBackend(), agentsBackend()].map((b) =>
      b.election(ELECTION, { ttlMs: 2_000 }),
    );
    await Promise.all(candidates.map((c) => c.start()));
    await until('an agent to lead', () => leaders(candidates).length === 1);
    const [leader] = leaders(candidates);
    const token = leader.token as number;

    const keys = await root().getAll().prefix(`${AGENTS}/election/${ELECTION}/`).exec();
    const leaderKv = keys.kvs.find((kv) => kv.create_revision === String(token)) ?? keys.kvs[0];
    const key = leaderKv.key.toString();
    const lease = leaderKv.lease;
    expect(lease).not.toBe('0');

    const service = client(stack.etcdTarget('service'));
    const denied = 'etcdserver: permission denied';
    await expect(service.put(key).value('mine').exec()).rejects.toThrow(denied);
    await expect(service.delete().key(key).exec()).rejects.toThrow(denied);
    await expect(service.delete().prefix(`${AGENTS}/`).exec()).rejects.toThrow(denied);
    await expect(service.get(key).exec()).rejects.toThrow(denied);
    await expect(service.leaseClient.leaseRevoke({ ID: lease })).rejects.toThrow(denied);
    // its own prefixes work
    await service.put('/stayline/coord/flags/etcd-auth.e2e').value('true').exec();
    await service.delete().key('/stayline/coord/flags/etcd-auth.e2e').exec();

    // the read-only roles read and cannot write
    for (const role of ['gateway-sync', 'dashboard'] as const) {
      const reader = client(stack.etcdTarget(role));
      await reader.getAll().prefix(ETCD_PREFIXES.services).exec();
      await expect(
        reader.put('/stayline/services/reservation/x').value('{}').exec(),
      ).rejects.toThrow(denied);
      await expect(reader.put(key).value('mine').exec()).rejects.toThrow(denied);
    }
    await new Promise((r) => setTimeout(r, 2_500)); // over a lease TTL
    expect(leaders(candidates)).toEqual([leader]);
    expect(leader.token).toBe(token);

    // and the agents still hand over: the leader resigns, the other leads with a larger token
    await leader.stop();
    await until('the other agent to lead', () => leaders(candidates).length === 1);
    const [next] = leaders(candidates);
    expect(next).not.toBe(leader);
    expect(next.token as number).toBeGreaterThan(token);
    await next.stop();
  });

  it(`keeps electing across expired tokens (--auth-token-ttl ${TOKEN_TTL_S} s): a quiet follower takes over`, async () => {
    const candidates = [agentsBackend(), agentsBackend()].map((b) =>
      b.election(`${ELECTION}.ttl`, { ttlMs: 2_000 }),
    );
    await candidates[0].start();
    await until('the first to lead', () => leaders(candidates).length === 1);
    await candidates[1].start();
    // the follower only watches, the leader only renews over the keep-alive stream: several TTLs pass
    await new Promise((r) => setTimeout(r, 3 * TOKEN_TTL_S * 1_000));
    expect(leaders(candidates)).toEqual([candidates[0]]);
    const token = candidates[0].token as number;
    await candidates[0].stop();
    await until('the follower to lead', () => leaders(candidates).length === 1);
    expect(leaders(candidates)).toEqual([candidates[1]]);
    expect(candidates[1].token as number).toBeGreaterThan(token);
    await candidates[1].stop();
  });

  it('applying the table again changes nothing: auth stays on, every login still works', async () => {
    await applyEtcdAuth(stack.etcd.endpoints, etcdPasswordsFromEnv());
    await expect(
      client({ endpoints: stack.etcd.endpoints }).get('/stayline/coord/flags/x').exec(),
    ).rejects.toThrow('etcdserver: user name is empty');
    await client(stack.etcdTarget('service')).getAll().prefix(ETCD_PREFIXES.coordination).exec();
  });
});
