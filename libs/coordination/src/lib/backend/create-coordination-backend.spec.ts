import { createCoordinationBackend } from './create-coordination-backend';
import { EtcdCoordinationBackend } from './etcd.coordination-backend';

describe('createCoordinationBackend', () => {
  it('opens the etcd backend on the etcd members', async () => {
    const b = createCoordinationBackend('etcd', { etcd: { endpoints: ['http://127.0.0.1:1'] } });
    expect(b).toBeInstanceOf(EtcdCoordinationBackend);
    await b.close();
  });

  it('names the missing setting when the chosen backend has no target', () => {
    expect(() => createCoordinationBackend('etcd', {})).toThrow(
      'COORDINATION_BACKEND=etcd needs ETCD_ENDPOINTS',
    );
    expect(() => createCoordinationBackend('redis', {})).toThrow(/needs a Redis target/);
  });
});
