import { HealthRegistry, worstStatus } from './health-registry';

describe('HealthRegistry', () => {
  it('is up with no indicators', async () => {
    await expect(new HealthRegistry().check()).resolves.toEqual({ status: 'up', checks: {} });
  });

  it('aggregates to the worst status: up < degraded < down', async () => {
    const registry = new HealthRegistry();
    registry.register('db', () => ({ status: 'up' }));
    expect((await registry.check()).status).toBe('up');
    registry.register('recommendation', async () => ({
      status: 'degraded',
      details: { breaker: 'open' },
    }));
    const degraded = await registry.check();
    expect(degraded.status).toBe('degraded');
    expect(degraded.checks['recommendation']).toEqual({
      status: 'degraded',
      details: { breaker: 'open' },
    });
    registry.register('redis', () => ({ status: 'down' }));
    expect((await registry.check()).status).toBe('down');
  });

  it('separates liveness from readiness indicators', async () => {
    const registry = new HealthRegistry();
    registry.register('event-loop', () => ({ status: 'up' }), 'liveness');
    registry.register('db', () => ({ status: 'down' }));
    expect(await registry.check('liveness')).toEqual({
      status: 'up',
      checks: { 'event-loop': { status: 'up' } },
    });
    expect((await registry.check('readiness')).status).toBe('down');
    expect(Object.keys((await registry.check()).checks)).toEqual(['event-loop', 'db']);
  });

  it('reports a throwing indicator as down with its message', async () => {
    const registry = new HealthRegistry();
    registry.register('broken', () => {
      throw new Error('no connection');
    });
    expect(await registry.check()).toEqual({
      status: 'down',
      checks: { broken: { status: 'down', details: { error: 'no connection' } } },
    });
  });

  it('reports a hanging indicator as down instead of hanging the probe', async () => {
    const registry = new HealthRegistry(30);
    registry.register('hangs', () => new Promise(() => undefined));
    const started = Date.now();
    const summary = await registry.check();
    expect(summary.checks['hangs']).toEqual({
      status: 'down',
      details: { error: 'no answer within 30 ms' },
    });
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('removes an indicator with the function register() returned, and only that one', async () => {
    const registry = new HealthRegistry();
    const removeOld = registry.register('x', () => ({ status: 'down' }));
    registry.register('x', () => ({ status: 'up' }));
    removeOld();
    expect((await registry.check()).checks).toEqual({ x: { status: 'up' } });
  });

  it('worstStatus picks the most severe', () => {
    expect(worstStatus(['up', 'down', 'degraded'])).toBe('down');
    expect(worstStatus([])).toBe('up');
  });
});
