import { RESERVATION_EVENTS_STREAM } from './recommendation';
import {
  REDIS_ACL,
  REDIS_KEY_PATTERNS,
  REDIS_ROLES,
  REDIS_USERS,
  redisAclRules,
  renderRedisAclFile,
  renderSentinelUsers,
  sentinelAuthLines,
  SENTINEL_USERS,
} from './redis-acl';
import { TOPOLOGY_KEY } from './topology';

const passwords = Object.fromEntries(REDIS_ROLES.map((r) => [r, `dev-only-redis-${r}`])) as Record<
  (typeof REDIS_ROLES)[number],
  string
>;

/** Whether a Redis glob with `*` only matches `key`. */
const matches = (pattern: string, key: string) =>
  new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`).test(key);

describe('the Redis ACL table', () => {
  it('renders an ACL file: the default user off with no rights, then one user per role with its password', () => {
    const lines = renderRedisAclFile(passwords).trim().split('\n');
    expect(lines[0]).toBe('user default off resetpass resetkeys resetchannels -@all');
    expect(lines.slice(1).map((l) => l.split(' ')[1])).toEqual(
      REDIS_ROLES.map((r) => REDIS_USERS[r]),
    );
    for (const role of REDIS_ROLES) {
      const line = lines.find((l) => l.startsWith(`user ${REDIS_USERS[role]} `)) as string;
      expect(line).toBe(
        `user ${REDIS_USERS[role]} on resetpass >dev-only-redis-${role} ${redisAclRules(role)}`,
      );
    }
  });

  it('starts every role from nothing, and gives all keys only to the admin', () => {
    for (const role of REDIS_ROLES) {
      expect(redisAclRules(role)).toMatch(/^resetkeys resetchannels -@all /);
      const broad = /(^| |\()(~\*|%R~\*|&\*|\+@all)( |\)|$)/.test(redisAclRules(role));
      expect({ role, broad }).toEqual({ role, broad: role === 'admin' });
    }
  });

  it('keeps PUBLISH out of the root: a role publishes only where a grant says so', () => {
    for (const role of REDIS_ROLES.filter((r) => r !== 'sentinel' && r !== 'admin')) {
      expect(REDIS_ACL[role].commands).not.toContain('publish');
      for (const g of REDIS_ACL[role].grants)
        expect({ role, what: g.what, publish: g.commands.includes('publish') }).toEqual({
          role,
          what: g.what,
          publish: false,
        });
    }
    expect(redisAclRules('gateway-sync')).not.toContain('+publish');
    expect(redisAclRules('service')).not.toMatch(/&stayline:topology:\*[^(]*\+publish\)/);
  });

  it('gives writes on the topology to the agents alone, and the registry to the gateway sync read-only', () => {
    const writers = REDIS_ROLES.filter((r) =>
      REDIS_ACL[r].grants.some((g) => (g.keys ?? []).some((k) => matches(k, TOPOLOGY_KEY))),
    );
    expect(writers).toEqual(['agent']);
    expect(REDIS_ACL['gateway-sync'].grants.flatMap((g) => g.keys ?? [])).toEqual([]);
    expect(REDIS_ACL.dashboard.grants.flatMap((g) => g.keys ?? [])).toEqual([
      'stayline:discovery:dashboard:*',
    ]);
  });

  it('names the keys the code uses', () => {
    expect(matches(REDIS_KEY_PATTERNS.topology, TOPOLOGY_KEY)).toBe(true);
    expect(matches(REDIS_KEY_PATTERNS.events, RESERVATION_EVENTS_STREAM)).toBe(true);
  });

  it('writes the Sentinel lines: its logins to the data nodes and its peers, its own users', () => {
    const lines = sentinelAuthLines('stayline', {
      sentinel: 'dev-only-redis-sentinel',
      admin: 'dev-only-redis-admin',
      client: 'dev-only-sentinel-client',
    });
    expect(lines.slice(0, 4)).toEqual([
      'sentinel auth-user stayline stayline-sentinel',
      'sentinel auth-pass stayline dev-only-redis-sentinel',
      'sentinel sentinel-user stayline-admin',
      'sentinel sentinel-pass dev-only-redis-admin',
    ]);
    const users = renderSentinelUsers({ admin: 'a-password', client: 'c-password' });
    expect(users[0]).toMatch(/^user default off /);
    const client = users.find((l) => l.startsWith(`user ${SENTINEL_USERS.client} `)) as string;
    expect(client).toContain('+sentinel|get-master-addr-by-name');
    expect(client).not.toMatch(
      /\+sentinel( |\||$)(?!get-master|sentinels|master|replicas|slaves|ckquorum)/,
    );
    expect(client).not.toContain('+@all');
  });

  it('refuses a password that would break a config line', () => {
    for (const bad of ['', 'two words', 'tab\there', 'quote"d', "it's", 'x'.repeat(257)])
      expect(() => renderRedisAclFile({ ...passwords, service: bad })).toThrow(/service password/);
  });
});
