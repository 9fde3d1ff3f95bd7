import { describeOptions, resolveRouterOptions } from './router-options';

const base = {
  database: 'reservation',
  user: 'app',
  password: 'secret',
  topology: {
    epoch: 1,
    primary: { name: 'mariadb-1', host: '127.0.0.1', port: 3306 },
    replicas: [],
  },
};

describe('router options', () => {
  it('fills in the documented defaults and never prints the password', () => {
    const o = resolveRouterOptions(base);
    expect(o).toMatchObject({
      maxLagMs: 1000,
      probeIntervalMs: 150,
      gtidWaitTimeoutMs: 300,
      synchronize: false,
    });
    expect(JSON.stringify(describeOptions(o))).not.toContain('secret');
  });

  it('fails fast on bad settings', () => {
    expect(() => resolveRouterOptions({ ...base, database: 'x; DROP DATABASE y' })).toThrow(
      /database/,
    );
    expect(() =>
      resolveRouterOptions({ ...base, readTimeoutMs: 100, gtidWaitTimeoutMs: 300 }),
    ).toThrow(/readTimeoutMs/);
    const dup = { ...base.topology, replicas: [base.topology.primary] };
    expect(() => resolveRouterOptions({ ...base, topology: dup })).toThrow(/unique/);
  });
});
