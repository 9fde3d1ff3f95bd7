import { Stack, startStack } from '@stayline/stack-kit';
import { describeRegistryProcessContract, ETCD_EXPIRY } from '../testing/registry-process-contract';
import {
  describeRegistryContract,
  describeResolverContract,
  registeredWorld,
} from '../testing/resolver-contract';
import { EtcdRegistry } from './etcd.registry';
import { ServiceRegistry } from './registry';

jest.setTimeout(60_000);

// one 3-member etcd for the whole file: the contract suites and the process tests share it
let stack: Stack;
const clients: ServiceRegistry[] = [];
const open = async () => {
  const r = new EtcdRegistry({ etcd: stack.etcdTarget() });
  clients.push(r);
  return r;
};

beforeAll(async () => {
  stack = await startStack({
    mariadb: false,
    redis: false,
    sentinel: false,
    nginx: false,
    etcd: true,
  });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stack?.stop();
});

describeResolverContract('etcd (3 members)', registeredWorld(open));

describeRegistryContract('etcd (3 members)', async () => ({
  open: () => open(),
  teardown: async () => undefined,
}));

describeRegistryProcessContract('etcd (3 members)', async () => ({
  stack,
  backend: { etcd: stack.etcd.endpoints.join(',') },
  open: () => open(),
  expiry: ETCD_EXPIRY,
}));
