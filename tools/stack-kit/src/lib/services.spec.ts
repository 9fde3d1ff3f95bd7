import { pinnedSettings } from './services';

describe('pinnedSettings', () => {
  it('keeps the service settings an operator chose, nothing else of the shell', () => {
    expect(
      pinnedSettings({
        DISCOVERY_BACKEND: 'etcd',
        COORDINATION_BACKEND: 'redis',
        LB_STRATEGY: 'power-of-two',
        SCRAP_MAX_BYTES: '2000',
        PATH: '/usr/bin',
        HOME: '/root',
        DB_PASSWORD: 'from the shell',
        NOT_DISCOVERY_BACKEND: 'x',
        UNSET: undefined,
      }),
    ).toEqual({
      DISCOVERY_BACKEND: 'etcd',
      COORDINATION_BACKEND: 'redis',
      LB_STRATEGY: 'power-of-two',
      SCRAP_MAX_BYTES: '2000',
    });
  });
});
