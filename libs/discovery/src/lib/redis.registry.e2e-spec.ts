import { formatRedisTarget } from '@stayline/coordination';
import { Stack, startStack } from '@stayline/stack-kit';
import { sentinelTarget } from '../testing/processes';
import {
  describeRegistryProcessContract,
  REDIS_EXPIRY,
} from '../testing/registry-process-contract';
import {
  describeRegistryContract,
  describeResolverContract,
  registeredWorld,
} from '../testing/resolver-contract';
import { RedisRegistry } from './redis.registry';
import { ServiceRegistry } from './registry';

jest.setTimeout(60_000);

// one stack for the whole file: the contract suites and the process tests share it
let stack: Stack;
const clients: ServiceRegistry[] = [];
// the expiry grace scales with the lease: the contract suite uses 600 ms leases
const open = async (expiryGraceMs?: number) => {
  const r = new RedisRegistry({ redis: sentinelTarget(stack), expiryGraceMs });
  clients.push(r);
  return r;
};

beforeAll(async () => {
  stack = await startStack({ mariadb: false, sentinel: true, nginx: false });
});
afterAll(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await stack?.stop();
});

describeResolverContract('redis (through Sentinel)', registeredWorld(open));

describeRegistryContract('redis (through Sentinel)', async () => ({
  open: () => open(600),
  teardown: async () => undefined,
}));

describeRegistryProcessContract('redis (through Sentinel)', async () => ({
  stack,
  backend: { redis: formatRedisTarget(sentinelTarget(stack)) },
  open: () => open(),
  expiry: REDIS_EXPIRY,
}));
