import { syncConfig, syncLimits } from './sync-config';

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

  it('takes the booking limit from the environment, the production one by default', () => {
    expect(syncLimits(syncConfig(base))).toEqual({
      bookingRate: '1r/s',
      bookingBurst: 5,
      connectionsPerClient: 64,
      exposeInstanceId: false,
    });
    const raised = syncConfig({
      ...base,
      GATEWAY_BOOKING_RATE: '500r/s',
      GATEWAY_BOOKING_BURST: '50',
      GATEWAY_CONNECTIONS_PER_CLIENT: '10000',
      GATEWAY_EXPOSE_INSTANCE_ID: 'true',
    });
    expect(syncLimits(raised)).toEqual({
      bookingRate: '500r/s',
      bookingBurst: 50,
      connectionsPerClient: 10_000,
      exposeInstanceId: true,
    });
    expect(() => syncConfig({ ...base, GATEWAY_BOOKING_RATE: 'fast' })).toThrow(
      /GATEWAY_BOOKING_RATE: expected requests per second or minute/,
    );
    expect(() => syncConfig({ ...base, GATEWAY_BOOKING_BURST: '-1' })).toThrow(
      /GATEWAY_BOOKING_BURST/,
    );
  });

  it('refuses a connection limit nginx would not take, and an instance-id setting that is not a boolean', () => {
    for (const bad of ['0', '65536', '1.5', 'many'])
      expect(() => syncConfig({ ...base, GATEWAY_CONNECTIONS_PER_CLIENT: bad })).toThrow(
        /GATEWAY_CONNECTIONS_PER_CLIENT/,
      );
    expect(
      syncConfig({ ...base, GATEWAY_EXPOSE_INSTANCE_ID: '0' }).GATEWAY_EXPOSE_INSTANCE_ID,
    ).toBe(false);
    expect(() => syncConfig({ ...base, GATEWAY_EXPOSE_INSTANCE_ID: 'yes' })).toThrow(
      /GATEWAY_EXPOSE_INSTANCE_ID: expected true or false/,
    );
  });
});
