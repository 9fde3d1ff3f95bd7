import { EtcdCoordinationBackend } from '@stayline/coordination';
import { EtcdRegistry } from '@stayline/discovery';
import { chosenCoordination, chosenRegistry } from './backends';
import { loadConfig } from './config';
import { generateServiceKeys } from './message-auth';
import { ownAddress, serviceConfigSchema } from './service-config';

const base = {
  HTTP_PORT: '4101',
  TCP_PORT: '5101',
  DB_PRIMARY: 'mariadb-1@127.0.0.1:3407',
  DB_REPLICAS: 'mariadb-2@127.0.0.1:3408, mariadb-3@127.0.0.1:3409',
  REDIS_SENTINELS: '127.0.0.1:26479,127.0.0.1:26480',
  DB_PASSWORD: 'p',
  SERVICE_SIGNING_KEY: generateServiceKeys('payment').seed,
};

describe('serviceConfigSchema', () => {
  it('parses node addresses and Sentinel lists', () => {
    const c = loadConfig(serviceConfigSchema('payment', {}), base);
    expect(c.DB_PRIMARY).toEqual({ name: 'mariadb-1', host: '127.0.0.1', port: 3407 });
    expect(c.DB_REPLICAS.map((r) => r.name)).toEqual(['mariadb-2', 'mariadb-3']);
    expect(c.REDIS_SENTINELS).toEqual([
      { host: '127.0.0.1', port: 26479 },
      { host: '127.0.0.1', port: 26480 },
    ]);
    expect(c.DB_NAME).toBe('payment');
  });

  it("logs in as the service's own MariaDB user by default, or the one DB_USER names", () => {
    const payment = loadConfig(serviceConfigSchema('payment', {}), base);
    const reservation = loadConfig(serviceConfigSchema('reservation', {}), base);
    expect([payment.DB_USER, reservation.DB_USER]).toEqual([
      'stayline_payment',
      'stayline_reservation',
    ]);
    const dev = { ...base, STAYLINE_PROFILE: 'dev', DB_PASSWORD: undefined };
    expect(loadConfig(serviceConfigSchema('scrap', {}, dev), dev).DB_PASSWORD).toBe(
      'dev-only-db-scrap',
    );
    const named = { ...base, DB_USER: 'pay_svc' };
    expect(loadConfig(serviceConfigSchema('payment', {}), named).DB_USER).toBe('pay_svc');
  });

  it('advertises its own address with ADVERTISE_HOST=auto, and a per-host instance id by default', () => {
    const c = loadConfig(serviceConfigSchema('payment', {}), { ...base, ADVERTISE_HOST: 'auto' });
    expect(c.ADVERTISE_HOST).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(c.ADVERTISE_HOST).not.toBe('127.0.0.1');
    expect(c.INSTANCE_ID).toMatch(new RegExp(`^payment-.+-${process.pid}$`));
    const lo = { address: '127.0.0.1', family: 'IPv4', internal: true } as const;
    const eth = { address: '172.18.0.7', family: 'IPv4', internal: false } as const;
    const common = { netmask: '', mac: '', cidr: null };
    expect(ownAddress({ lo: [{ ...lo, ...common }], eth0: [{ ...eth, ...common }] })).toBe(
      '172.18.0.7',
    );
    expect(() => ownAddress({ lo: [{ ...lo, ...common }] })).toThrow(/no IPv4 address/);
  });

  it('refuses a malformed node address and missing secrets outside the dev profile', () => {
    const { DB_PASSWORD: _p, SERVICE_SIGNING_KEY: _k, ...noSecrets } = base;
    expect(() =>
      loadConfig(serviceConfigSchema('payment', {}), {
        ...noSecrets,
        DB_PRIMARY: '127.0.0.1:3407',
      }),
    ).toThrow(/DB_PRIMARY[\s\S]*name@host:port[\s\S]*DB_PASSWORD/);
    // the message keys are resolved once the rest is valid
    expect(() =>
      loadConfig(serviceConfigSchema('payment', {}), { ...noSecrets, DB_PASSWORD: 'p' }),
    ).toThrow(/SERVICE_SIGNING_KEY: required/);
  });
});

describe('backend per concern (DISCOVERY_BACKEND, COORDINATION_BACKEND, ETCD_ENDPOINTS)', () => {
  const load = (env: Record<string, string>) =>
    loadConfig(serviceConfigSchema('payment', {}), { ...base, ...env });

  it('puts both concerns on Redis by default and needs no etcd then', () => {
    const c = load({});
    expect([c.DISCOVERY_BACKEND, c.COORDINATION_BACKEND, c.ETCD_ENDPOINTS]).toEqual([
      'redis',
      'redis',
      undefined,
    ]);
  });

  it('parses the etcd members, giving a bare host:port http://', () => {
    const c = load({
      DISCOVERY_BACKEND: 'etcd',
      ETCD_ENDPOINTS: 'http://127.0.0.1:2479, 127.0.0.1:2480,etcd-3:2379',
    });
    expect(c.DISCOVERY_BACKEND).toBe('etcd');
    expect(c.COORDINATION_BACKEND).toBe('redis');
    expect(c.ETCD_ENDPOINTS).toEqual({
      endpoints: ['http://127.0.0.1:2479', 'http://127.0.0.1:2480', 'http://etcd-3:2379'],
    });
  });

  it('requires ETCD_ENDPOINTS when either concern is on etcd, naming which', () => {
    expect(() => load({ COORDINATION_BACKEND: 'etcd' })).toThrow(
      /ETCD_ENDPOINTS: required when COORDINATION_BACKEND=etcd/,
    );
    expect(() =>
      load({ DISCOVERY_BACKEND: 'etcd', COORDINATION_BACKEND: 'etcd', ETCD_ENDPOINTS: ' ' }),
    ).toThrow(/ETCD_ENDPOINTS: required when DISCOVERY_BACKEND=etcd and COORDINATION_BACKEND=etcd/);
  });

  it('refuses an unknown backend and a malformed endpoint', () => {
    expect(() => load({ DISCOVERY_BACKEND: 'zookeeper' })).toThrow(/DISCOVERY_BACKEND/);
    expect(() =>
      load({ COORDINATION_BACKEND: 'etcd', ETCD_ENDPOINTS: 'http://127.0.0.1' }),
    ).toThrow(/ETCD_ENDPOINTS: expected http:\/\/host:port\[,...\], got "http:\/\/127.0.0.1"/);
  });

  it('opens the etcd registry and coordination backend when chosen', async () => {
    const c = load({
      DISCOVERY_BACKEND: 'etcd',
      COORDINATION_BACKEND: 'etcd',
      ETCD_ENDPOINTS: '127.0.0.1:1',
    });
    const redis = { sentinels: c.REDIS_SENTINELS, masterName: c.REDIS_MASTER_NAME };
    const registry = chosenRegistry(c, redis);
    const coordination = chosenCoordination(c, redis);
    expect(registry).toBeInstanceOf(EtcdRegistry);
    expect(coordination).toBeInstanceOf(EtcdCoordinationBackend);
    await Promise.all([registry.close(), coordination.close()]);
  });
});
