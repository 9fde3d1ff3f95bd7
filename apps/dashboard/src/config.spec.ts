import { dashboardConfig } from './config';

describe('dashboardConfig', () => {
  const base = { HTTP_PORT: '4501', REDIS_SENTINELS: '127.0.0.1:26479' };

  it('reads agents and MariaDB nodes as name@host:port and needs no database of its own', () => {
    const c = dashboardConfig({
      ...base,
      STAYLINE_PROFILE: 'dev',
      FAILOVER_AGENTS: 'failover-agent-1@127.0.0.1:4801, failover-agent-2@127.0.0.1:4802',
      ETCD_ENDPOINTS: 'http://127.0.0.1:2479',
    });
    expect(c.FAILOVER_AGENTS).toEqual([
      { name: 'failover-agent-1', host: '127.0.0.1', port: 4801 },
      { name: 'failover-agent-2', host: '127.0.0.1', port: 4802 },
    ]);
    expect(c).toMatchObject({
      SERVICE_NAME: 'dashboard',
      DB_USER: 'stayline_monitor',
      DB_PASSWORD: 'dev-only-db-monitor',
      MARIADB_NODES: [],
    });
    expect(c.DASHBOARD_SERVICES).toContain('dashboard');
    expect(c.ETCD_ENDPOINTS?.endpoints).toEqual(['http://127.0.0.1:2479']);
    expect(c.DISCOVERY_BACKEND).toBe('redis');
  });

  it('watches an etcd registry only with the members named', () => {
    const dev = { ...base, STAYLINE_PROFILE: 'dev', DISCOVERY_BACKEND: 'etcd' };
    expect(() => dashboardConfig(dev)).toThrow(
      /ETCD_ENDPOINTS: required when DISCOVERY_BACKEND=etcd/,
    );
    expect(dashboardConfig({ ...dev, ETCD_ENDPOINTS: '127.0.0.1:2479' }).DISCOVERY_BACKEND).toBe(
      'etcd',
    );
  });

  it('has no default for the probe password outside the dev profile', () => {
    expect(() => dashboardConfig(base)).toThrow(/DB_PASSWORD/);
  });
});
