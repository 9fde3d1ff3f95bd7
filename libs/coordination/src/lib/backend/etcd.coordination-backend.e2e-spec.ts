import { Stack, startStack } from '@stayline/stack-kit';
import { describeCoordinationContract } from '../../testing/coordination-contract';
import { EtcdCoordinationBackend } from './etcd.coordination-backend';

jest.setTimeout(90_000);

let stack: Stack;
const backends: EtcdCoordinationBackend[] = [];
const open = async () => {
  const b = new EtcdCoordinationBackend({ etcd: stack.etcdTarget() });
  backends.push(b);
  return b;
};

beforeAll(async () => {
  stack = await startStack({ mariadb: false, redis: false, nginx: false, etcd: true });
});
afterAll(async () => {
  await Promise.all(backends.map((b) => b.close()));
  await stack?.stop();
});

describeCoordinationContract('etcd (3 members)', async () => ({
  open: () => open(),
  teardown: async () => undefined,
}));
