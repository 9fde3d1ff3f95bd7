import { HealthRegistry } from '@stayline/observability';
import { databaseHealth, registerDatabaseHealth } from './database-health';
import { ReplicaHealth, ReplicaState } from './replica-state';
import type { RouterStatus } from './replica-router';

const topology = { epoch: 3, primary: { name: 'p', host: 'h', port: 1 }, replicas: [] };
const usable: ReplicaState = {
  health: ReplicaHealth.Usable,
  lagMs: 12,
  position: new Map(),
  since: 0,
};
const lagging: ReplicaState = {
  health: ReplicaHealth.Lagging,
  lagMs: 4000,
  position: new Map(),
  since: 0,
};
const fake = (s: Partial<RouterStatus>) => ({
  status: (): RouterStatus => ({ topology, primary: undefined, replicas: [], ...s }),
});

describe('databaseHealth', () => {
  it('is up with the primary reachable and every replica usable', async () => {
    const report = await databaseHealth(
      fake({ primary: { name: 'p', reachable: true }, replicas: [{ name: 'r1', state: usable }] }),
    )();
    expect(report.status).toBe('up');
    expect(report.details).toMatchObject({
      epoch: 3,
      replicas: { r1: { health: 'usable', lagMs: 12 } },
    });
  });

  it('is degraded when a replica lags, or when only replicas answer', async () => {
    const lag = fake({
      primary: { name: 'p', reachable: true },
      replicas: [
        { name: 'r1', state: usable },
        { name: 'r2', state: lagging },
      ],
    });
    expect((await databaseHealth(lag)()).status).toBe('degraded');
    const noPrimary = fake({
      primary: { name: 'p', reachable: false, error: 'ECONNREFUSED' },
      replicas: [{ name: 'r1', state: usable }],
    });
    expect((await databaseHealth(noPrimary)()).status).toBe('degraded');
  });

  it('is down when nothing answers, and registers as a readiness check', async () => {
    const registry = new HealthRegistry();
    const remove = registerDatabaseHealth(
      fake({ primary: { name: 'p', reachable: false } }),
      registry,
    );
    expect((await registry.check('readiness')).checks['database']?.status).toBe('down');
    remove();
    expect((await registry.check('readiness')).checks).toEqual({});
  });
});
