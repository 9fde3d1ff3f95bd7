import { agentConfig } from './config';

const base = {
  HTTP_PORT: '4801',
  MARIADB_NODES: 'mariadb-1@127.0.0.1:3407, mariadb-2@127.0.0.1:3408',
  REDIS_SENTINELS: '127.0.0.1:26479',
};

describe('agentConfig', () => {
  it('reads the nodes, routes and timings, with the documented defaults', () => {
    const c = agentConfig({
      ...base,
      STAYLINE_PROFILE: 'dev',
      MARIADB_VIA: 'mariadb-1@127.0.0.1:9999',
      FAILOVER_PAUSE_POINTS: 'after-promote',
    });
    expect(c.MARIADB_NODES).toEqual([
      { name: 'mariadb-1', host: '127.0.0.1', port: 3407 },
      { name: 'mariadb-2', host: '127.0.0.1', port: 3408 },
    ]);
    expect(c.MARIADB_VIA).toEqual([{ name: 'mariadb-1', host: '127.0.0.1', port: 9999 }]);
    expect(c).toMatchObject({
      PROBE_INTERVAL_MS: 250,
      PROBE_TIMEOUT_MS: 300,
      PROBE_FAILURES: 3,
      AUTO_FAILOVER: true,
      REJOIN_FENCED: 'manual',
      STONITH: 'none',
      FAILOVER_PAUSE_POINTS: ['after-promote'],
    });
  });

  it('has no secret defaults outside the dev profile, and checks STONITH settings', () => {
    expect(() => agentConfig(base)).toThrow(/STAYLINE_DB_ADMIN_PASSWORD/);
    const secrets = {
      ...base,
      STAYLINE_DB_ADMIN_PASSWORD: 'a',
      STAYLINE_DB_REPL_PASSWORD: 'b',
    };
    expect(agentConfig(secrets).FAILOVER_PAUSE_POINTS).toEqual([]);
    expect(() => agentConfig({ ...secrets, STONITH: 'native' })).toThrow(/STONITH_STATE_FILE/);
    expect(() => agentConfig({ ...secrets, MARIADB_NODES: 'mariadb-1@127.0.0.1:3407' })).toThrow(
      /at least a primary and a replica/,
    );
  });
});

describe('agentConfig secrets', () => {
  const secrets = {
    ...base,
    STAYLINE_DB_ADMIN_PASSWORD: 'dev-only-admin',
    STAYLINE_DB_REPL_PASSWORD: 'dev-only-repl',
  };

  it('takes the public dev-only values in the dev profile only, naming each variable and no value', () => {
    expect(agentConfig({ ...secrets, STAYLINE_PROFILE: 'dev' }).STAYLINE_PROFILE).toBe('dev');
    for (const profile of [undefined, 'production']) {
      const error = (() => {
        try {
          agentConfig({ ...secrets, STAYLINE_PROFILE: profile });
        } catch (e) {
          return (e as Error).message;
        }
        return 'accepted';
      })();
      expect(error).toMatch(/STAYLINE_DB_ADMIN_PASSWORD[\s\S]*STAYLINE_DB_REPL_PASSWORD/);
      expect(error).not.toMatch(/dev-only-(admin|repl)\b/);
    }
  });

  it('refuses a dev-only Redis, Sentinel or etcd password outside the dev profile, naming each', () => {
    const logins = {
      ...secrets,
      STAYLINE_DB_ADMIN_PASSWORD: 'own-admin',
      STAYLINE_DB_REPL_PASSWORD: 'own-repl',
      REDIS_USERNAME: 'stayline-agent',
      REDIS_PASSWORD: 'dev-only-redis-agent',
      REDIS_SENTINEL_USERNAME: 'stayline-client',
      REDIS_SENTINEL_PASSWORD: 'dev-only-sentinel-client',
      ETCD_USERNAME: 'stayline-agent',
      ETCD_PASSWORD: 'dev-only-etcd-agent',
    };
    expect(agentConfig({ ...logins, STAYLINE_PROFILE: 'dev' }).REDIS_PASSWORD).toBe(
      'dev-only-redis-agent',
    );
    expect(() => agentConfig({ ...logins, STAYLINE_PROFILE: 'production' })).toThrow(
      /REDIS_PASSWORD[\s\S]*REDIS_SENTINEL_PASSWORD[\s\S]*ETCD_PASSWORD/,
    );
    const own = {
      ...logins,
      STAYLINE_PROFILE: 'production',
      REDIS_PASSWORD: 'own-redis',
      REDIS_SENTINEL_PASSWORD: 'own-sentinel',
      ETCD_PASSWORD: 'own-etcd',
    };
    expect(agentConfig(own).ETCD_PASSWORD).toBe('own-etcd');
  });

  it('holds no admin secret: its admin routes take access tokens, checked with published keys', () => {
    const c = agentConfig({ ...secrets, STAYLINE_PROFILE: 'dev', ADMIN_TOKEN: 'x'.repeat(32) });
    expect(c).not.toHaveProperty('ADMIN_TOKEN');
    expect(c).toMatchObject({
      AUTH_ISSUER: 'stayline-auth',
      AUTH_AUDIENCE: 'stayline',
      DISCOVERY_BACKEND: 'redis',
    });
    const dev = { ...secrets, STAYLINE_PROFILE: 'dev', DISCOVERY_BACKEND: 'etcd' };
    expect(() => agentConfig(dev)).toThrow(/ETCD_ENDPOINTS: required when DISCOVERY_BACKEND=etcd/);
    expect(agentConfig({ ...dev, ETCD_ENDPOINTS: 'http://127.0.0.1:2479' }).DISCOVERY_BACKEND).toBe(
      'etcd',
    );
  });
});
