import { syncConfig } from './sync-config';

describe('syncConfig: the registry it reads', () => {
  const base = {
    REDIS_SENTINELS: '127.0.0.1:26479',
    GATEWAY_PREFIX: '/tmp/nginx',
    GATEWAY_PORT: '8080',
    SYNC_PORT: '8089',
  };

  it('reads the Redis registry by default, the etcd one as the services are told', () => {
    expect(syncConfig(base).DISCOVERY_BACKEND).toBe('redis');
    const c = syncConfig({ ...base, DISCOVERY_BACKEND: 'etcd', ETCD_ENDPOINTS: '127.0.0.1:2479' });
    expect(c.ETCD_ENDPOINTS).toEqual({ endpoints: ['http://127.0.0.1:2479'] });
  });

  it('refuses DISCOVERY_BACKEND=etcd without ETCD_ENDPOINTS', () => {
    expect(() => syncConfig({ ...base, DISCOVERY_BACKEND: 'etcd' })).toThrow(
      /ETCD_ENDPOINTS: required when DISCOVERY_BACKEND=etcd/,
    );
  });
});
