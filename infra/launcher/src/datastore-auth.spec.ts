import {
  REDIS_ROLES,
  REDIS_USERS,
  redisReplicationAuthLines,
  renderRedisAclFile,
} from '@stayline/contracts';
import {
  credentialsFromEnv,
  redisPasswordVariable,
  SENTINEL_CLIENT_PASSWORD_VARIABLE,
  SENTINEL_MASTER_NAME,
} from '@stayline/stack-kit';
import { devOnlyOutsideDev, redisAuthFiles } from './datastore-auth';

/** Every Redis password the job reads, each a secret of its own. */
const OWN: Record<string, string> = {
  ...Object.fromEntries(REDIS_ROLES.map((r) => [redisPasswordVariable(r), `own-${r}-secret`])),
  [SENTINEL_CLIENT_PASSWORD_VARIABLE]: 'own-client-secret',
};

describe('datastore-auth redis-files (the compose redis-auth job)', () => {
  it("renders the native stack's ACL file, replication login and Sentinel lines from the same table", () => {
    const env = { STAYLINE_PROFILE: 'dev' };
    const files = redisAuthFiles('/etc/stayline/auth', env);
    const dev = credentialsFromEnv(env);
    expect(files['users.acl']).toBe(renderRedisAclFile(dev.redis));
    expect(files['users.acl'].split('\n')[0]).toBe(
      'user default off resetpass resetkeys resetchannels -@all',
    );
    expect(files['redis.conf'].trim().split('\n')).toEqual([
      'aclfile /etc/stayline/auth/users.acl',
      ...redisReplicationAuthLines(dev.redis.replica),
    ]);
    expect(files['sentinel-auth.conf']).toContain(
      `sentinel auth-user ${SENTINEL_MASTER_NAME} ${REDIS_USERS.sentinel}\n`,
    );
    expect(files['sentinel-auth.conf']).toContain(
      `sentinel auth-pass ${SENTINEL_MASTER_NAME} ${dev.redis.sentinel}\n`,
    );
  });

  it('takes the passwords set, in any profile', () => {
    const files = redisAuthFiles('/x', { ...OWN, STAYLINE_PROFILE: 'production' });
    expect(files['users.acl']).toContain(
      `user ${REDIS_USERS.service} on resetpass >own-service-secret `,
    );
    expect(files['sentinel-auth.conf']).toContain('>own-client-secret');
    expect(Object.values(files).join('\n')).not.toContain('dev-only-');
  });

  it('refuses outside the dev profile a password left unset or dev-only, naming the variable and never the value', () => {
    for (const profile of [undefined, 'production']) {
      const env = {
        ...OWN,
        STAYLINE_REDIS_AGENT_PASSWORD: 'dev-only-redis-agent',
        STAYLINE_PROFILE: profile,
      };
      delete (env as Record<string, unknown>)[SENTINEL_CLIENT_PASSWORD_VARIABLE];
      let message = 'accepted';
      try {
        redisAuthFiles('/x', env);
      } catch (e) {
        message = (e as Error).message;
      }
      expect(message).toMatch(/STAYLINE_REDIS_AGENT_PASSWORD, STAYLINE_SENTINEL_PASSWORD: /);
      expect(message).not.toMatch(/dev-only-redis-agent|dev-only-sentinel-client/);
    }
  });
});

describe('devOnlyOutsideDev', () => {
  it('names the dev-only values outside dev, none in dev', () => {
    const values = { A: 'dev-only-a', B: 'own', C: 'dev-only-c' };
    expect(devOnlyOutsideDev(values, { STAYLINE_PROFILE: 'production' })).toEqual(['A', 'C']);
    expect(devOnlyOutsideDev(values, {})).toEqual(['A', 'C']);
    expect(devOnlyOutsideDev(values, { STAYLINE_PROFILE: 'dev' })).toEqual([]);
  });
});
