import { Stack, startStack } from '@stayline/launcher';
import { describeRegistryProcessContract, ETCD_EXPIRY } from '../testing/registry-process-contract';
import { describeRegistryContract, describeResolverContract } from '../testing/resolver-contract';
import { EtcdRegistry } from './etcd.registry';
import { describeInstance } from './instance';
import { ServiceRegistry } from './registry';

jest.setTimeout(60_000);

// one 3-member etcd for the whole file: the contract suites and the process tests share it
let stack: Stack;
const clients: ServiceRegistry[] = [];
const open = async () => {
  const r = new EtcdRegistry({ etcd: { endpoints: stack.etcd.endpoints } });
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

describeResolverContract('etcd (3 members)', async (world) => {
  const registry = await open();
  const registrations = await Promise.all(
    world.endpoints.map((e, i) =>
      registry.register(
        describeInstance({ service: world.service, id: `r-${i}`, host: e.host, tcpPort: e.port }),
      ),
    ),
  );
  return {
    resolver: await open(),
    teardown: async () => {
      await Promise.all(registrations.map((r) => r.deregister()));
    },
  };
});

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
