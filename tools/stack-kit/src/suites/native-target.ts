import { createPrivateKey } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { LoopbackClients } from '../lib/http-client';
import { type Stack, startStack, type StackOptions } from '../lib/stack';
import { adminToken, UserTokens } from '../lib/tokens';
import { startServices, type StartServicesOptions } from '../lib/whole-stack';
import type { GatewayTarget } from './target';

/**
 * The native stack as a {@link GatewayTarget}: started here (MariaDB, Redis,
 * nginx, the services) with scrap allowed to fetch this host's loopback pages,
 * stopped by `stop()`. Clients connect from loopback addresses of their own
 * (127.0.0.x), so nginx tells them apart.
 */
export async function nativeGatewayTarget(o: {
  stack: StackOptions;
  services: StartServicesOptions;
}): Promise<GatewayTarget & { stack: Stack }> {
  const stack = await startStack({ ...o.stack, nginx: true });
  try {
    await startServices(stack, {
      ...o.services,
      env: {
        ...o.services.env,
        scrap: { SCRAP_ALLOW_CIDRS: '127.0.0.1/32', ...o.services.env?.scrap },
      },
    });
  } catch (err) {
    await stack.stop();
    throw err;
  }
  const gateway = stack.nginx.url;
  const loopback = new LoopbackClients();
  return {
    name: 'native',
    stack,
    gateway,
    internal: stack.components.flatMap((c) =>
      Object.values(c.ports)
        .filter((p) => p !== stack.nginx.port)
        .map((p) => `${c.host}:${p}`),
    ),
    pageHost: '127.0.0.1',
    exposesInstanceId: o.stack.gatewayLimits?.exposeInstanceId === true,
    clientsHaveOwnAddress: true,
    client: () => loopback.client(),
    clientAddress: () => loopback.address(),
    tokens: UserTokens.of(stack),
    operatorToken: () => adminToken(stack),
    signingKey: async (kid) => {
      // auth's state file (apps/auth FileKeyStore): each key's private JWK
      const file = path.join(stack.stateDir, 'auth', 'signing-keys.json');
      const set = JSON.parse(fs.readFileSync(file, 'utf8')) as {
        keys: Array<{ kid: string; privateJwk: Record<string, unknown> }>;
      };
      const key = set.keys.find((k) => k.kid === kid);
      return key && createPrivateKey({ key: key.privateJwk as never, format: 'jwk' });
    },
    query: (database, sql, params) => stack.query(database, sql, params),
    stop: async () => {
      loopback.close();
      await stack.stop();
    },
  };
}
