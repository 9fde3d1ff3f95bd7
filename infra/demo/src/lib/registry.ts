import { parseEtcdEndpoints } from '@stayline/coordination';
import { ServiceRegistry } from '@stayline/discovery';
import { Stack } from '@stayline/stack-kit';
import { chosenRegistry } from '@stayline/service-runtime';
import { instancesOf } from './admin';

/**
 * The registry the stack's services use (`DISCOVERY_BACKEND`: Redis through
 * the Sentinels, or etcd), for a demo that watches it like any caller does.
 */
export function stackRegistry(stack: Stack): ServiceRegistry {
  const env: Record<string, string | undefined> = {
    ...process.env,
    ...instancesOf(stack)[0]?.spec.env,
  };
  const { sentinels, ...logins } = stack.redisTarget('service');
  return chosenRegistry(
    {
      DISCOVERY_BACKEND: env.DISCOVERY_BACKEND === 'etcd' ? 'etcd' : 'redis',
      ETCD_ENDPOINTS: env.ETCD_ENDPOINTS ? parseEtcdEndpoints(env.ETCD_ENDPOINTS) : undefined,
      ETCD_USERNAME: env.ETCD_USERNAME,
      ETCD_PASSWORD: env.ETCD_PASSWORD,
    },
    { ...logins, sentinels: sentinels.map(({ host, port }) => ({ host, port })) },
  );
}

/** Names an address (`127.0.0.1:5101`, as a static list or DNS gives it) by the instance on it. */
export function instanceAt(stack: Stack, address: string): string {
  const c = instancesOf(stack).find((x) => `${x.host}:${x.ports.tcp}` === address);
  return c?.name ?? address;
}
