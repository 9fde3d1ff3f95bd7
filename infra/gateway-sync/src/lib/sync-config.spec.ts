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

  it('takes the booking and per-token limits from the environment, the production ones by default', () => {
    expect(syncLimits(syncConfig(base))).toEqual({
      bookingRate: '1r/s',
      bookingBurst: 5,
      tokenRequestRate: '10r/s',
      tokenRequestBurst: 50,
      tokenBookingRate: '30r/m',
      tokenBookingBurst: 5,
      connectionsPerClient: 64,
      exposeInstanceId: false,
    });
    const raised = syncConfig({
      ...base,
      GATEWAY_BOOKING_RATE: '500r/s',
      GATEWAY_BOOKING_BURST: '50',
      GATEWAY_TOKEN_REQUEST_RATE: '900r/s',
      GATEWAY_TOKEN_REQUEST_BURST: '90',
      GATEWAY_TOKEN_BOOKING_RATE: '600r/m',
      GATEWAY_TOKEN_BOOKING_BURST: '0',
      GATEWAY_CONNECTIONS_PER_CLIENT: '10000',
      GATEWAY_EXPOSE_INSTANCE_ID: 'true',
    });
    expect(syncLimits(raised)).toEqual({
      bookingRate: '500r/s',
      bookingBurst: 50,
      tokenRequestRate: '900r/s',
      tokenRequestBurst: 90,
      tokenBookingRate: '600r/m',
      tokenBookingBurst: 0,
      connectionsPerClient: 10_000,
      exposeInstanceId: true,
    });
    for (const name of [
      'GATEWAY_BOOKING_RATE',
      'GATEWAY_TOKEN_REQUEST_RATE',
      'GATEWAY_TOKEN_BOOKING_RATE',
    ])
      expect(() => syncConfig({ ...base, [name]: 'fast' })).toThrow(
        new RegExp(`${name}: expected requests per second or minute`),
      );
    for (const name of [
      'GATEWAY_BOOKING_BURST',
      'GATEWAY_TOKEN_REQUEST_BURST',
      'GATEWAY_TOKEN_BOOKING_BURST',
    ])
      for (const bad of ['-1', '1.5', 'many'])
        expect(() => syncConfig({ ...base, [name]: bad })).toThrow(new RegExp(name));
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
