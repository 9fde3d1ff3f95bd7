/**
 * The compose stack as a GatewayTarget (`@stayline/stack-kit/suites`): the
 * authorization matrix and the hostile-input suite run on it as on the native
 * stack. What differs is how a test next to the stack reaches its parts:
 * - tokens for any user id come from an auth container's admin route
 *   (`POST /admin/tokens`, with the operator's token), at the container's address
 *   on the project's network, which the host is on (the gateway never routes it);
 * - auth's signing key is derived from the configured secret
 *   (STAYLINE_AUTH_SIGNING_SECRETS, the dev one by default), as auth derives it;
 * - queries go to whichever MariaDB node is writable, as the test kit's account;
 * - test pages are served on the host's address on that network, which the
 *   driver lets scrap fetch (STAYLINE_SCRAP_ALLOW_CIDRS);
 * - every client reaches nginx from one address (the published port's proxy),
 *   so per-address limits are left to the native run, and X-Instance-Id is kept
 *   as the suites' driver asks (the compose file's default for watching).
 */
import { SigningKeySet } from '@stayline/identity';
import {
  type AccessToken,
  credentialsFromEnv,
  HttpClient,
  httpJson,
  UserTokens,
} from '@stayline/stack-kit';
import type { GatewayTarget } from '@stayline/stack-kit/suites';
import mysql from 'mysql2/promise';
import type { ComposeStack } from './compose-stack';

/** The host's address on the project's network: its gateway. */
async function hostAddress(stack: ComposeStack): Promise<string> {
  const nets = await stack.docker([
    'network',
    'ls',
    '-q',
    '--filter',
    `label=com.docker.compose.project=${stack.project}`,
  ]);
  for (const id of nets.stdout.trim().split('\n').filter(Boolean)) {
    const r = await stack.docker([
      'network',
      'inspect',
      id,
      '--format',
      '{{range .IPAM.Config}}{{.Gateway}} {{end}}',
    ]);
    const gateway = r.stdout.trim().split(/\s+/).find(Boolean);
    if (gateway) return gateway;
  }
  return `${stack.env.STAYLINE_NET_PREFIX ?? '10.89.51'}.1`;
}

/** The CIDR the suites' test pages are served from, for the driver to allow scrap. */
export function testPageCidr(env: NodeJS.ProcessEnv): string {
  return `${env.STAYLINE_NET_PREFIX ?? '10.89.51'}.1/32`;
}

export async function composeGatewayTarget(stack: ComposeStack): Promise<GatewayTarget> {
  const containers = await stack.containers();
  const ipOf = (service: string) => containers.find((c) => c.service === service)?.ip ?? '';
  const clients: HttpClient[] = [];
  const credentials = credentialsFromEnv(stack.env).app;
  const issue = async (sub: string): Promise<AccessToken> => {
    const token = await stack.adminToken();
    let last: unknown;
    for (const service of ['auth-1', 'auth-2']) {
      const ip = ipOf(service);
      if (!ip) continue;
      try {
        const res = await httpJson(`http://${ip}:3000/admin/tokens`, {
          method: 'POST',
          token,
          body: { sub },
          timeoutMs: 5_000,
        });
        if (res.status === 200) return res.body as AccessToken;
        last = new Error(`${service} /admin/tokens: ${res.status} ${JSON.stringify(res.body)}`);
      } catch (err) {
        last = err;
      }
    }
    throw last ?? new Error('no auth container has an address');
  };
  const query = async <T>(database: string, sql: string, params: unknown[] = []): Promise<T[]> => {
    for (const node of ['mariadb-1', 'mariadb-2', 'mariadb-3']) {
      const ip = ipOf(node);
      if (!ip) continue;
      const conn = await mysql.createConnection({ host: ip, port: 3306, ...credentials, database });
      try {
        const [[{ ro }]] = (await conn.query('SELECT @@read_only AS ro')) as unknown as [
          Array<{ ro: number }>,
        ];
        if (Number(ro) === 0) return (await conn.query(sql, params))[0] as T[];
      } finally {
        await conn.end();
      }
    }
    throw new Error('no writable MariaDB node in the compose stack');
  };
  const secrets = (stack.env.STAYLINE_AUTH_SIGNING_SECRETS ?? 'dev-only-auth-signing-secret')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return {
    name: 'compose',
    gateway: stack.gateway,
    internal: containers.map((c) => c.ip).filter(Boolean),
    pageHost: await hostAddress(stack),
    exposesInstanceId: (stack.env.STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID ?? 'true') === 'true',
    clientsHaveOwnAddress: false,
    client: () => {
      const c = new HttpClient();
      clients.push(c);
      return c;
    },
    clientAddress: () => '127.0.0.1',
    tokens: new UserTokens(issue),
    operatorToken: () => stack.adminToken(),
    signingKey: async (kid) =>
      (await SigningKeySet.fromSecrets(secrets)).keys.find((k) => k.kid === kid)?.privateKey,
    query,
    stop: async () => {
      for (const c of clients) c.close();
    },
  };
}
