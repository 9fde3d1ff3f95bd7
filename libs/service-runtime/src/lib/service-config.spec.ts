import { loadConfig } from './config';
import { serviceConfigSchema } from './service-config';

describe('serviceConfigSchema', () => {
  const base = {
    HTTP_PORT: '4101',
    TCP_PORT: '5101',
    DB_PRIMARY: 'mariadb-1@127.0.0.1:3407',
    DB_REPLICAS: 'mariadb-2@127.0.0.1:3408, mariadb-3@127.0.0.1:3409',
    REDIS_SENTINELS: '127.0.0.1:26479,127.0.0.1:26480',
    DB_PASSWORD: 'p',
    ADMIN_TOKEN: 't',
  };

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

  it('refuses a malformed node address and missing secrets outside the dev profile', () => {
    const { DB_PASSWORD: _p, ADMIN_TOKEN: _t, ...noSecrets } = base;
    expect(() =>
      loadConfig(serviceConfigSchema('payment', {}), {
        ...noSecrets,
        DB_PRIMARY: '127.0.0.1:3407',
      }),
    ).toThrow(/DB_PRIMARY[\s\S]*name@host:port[\s\S]*DB_PASSWORD[\s\S]*ADMIN_TOKEN/);
  });
});
