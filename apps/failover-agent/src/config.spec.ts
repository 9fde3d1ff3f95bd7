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
      ADMIN_TOKEN: 'c',
    };
    expect(agentConfig(secrets).FAILOVER_PAUSE_POINTS).toEqual([]);
    expect(() => agentConfig({ ...secrets, STONITH: 'native' })).toThrow(/STONITH_STATE_FILE/);
    expect(() => agentConfig({ ...secrets, MARIADB_NODES: 'mariadb-1@127.0.0.1:3407' })).toThrow(
      /at least a primary and a replica/,
    );
  });
});
