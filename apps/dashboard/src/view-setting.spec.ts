import { dashboardConfig } from './config';

describe('DASHBOARD_VIEW', () => {
  const env = { HTTP_PORT: '4501', REDIS_SENTINELS: '127.0.0.1:26479', STAYLINE_PROFILE: 'dev' };

  it('is public unless a launcher asks for full, and nothing else', () => {
    expect(dashboardConfig(env).DASHBOARD_VIEW).toBe('public');
    expect(dashboardConfig({ ...env, DASHBOARD_VIEW: 'full' }).DASHBOARD_VIEW).toBe('full');
    expect(() => dashboardConfig({ ...env, DASHBOARD_VIEW: 'all' })).toThrow(/DASHBOARD_VIEW/);
  });
});
