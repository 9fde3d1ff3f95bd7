import {
  ETCD_ROLE_RULES,
  ETCD_ROLES,
  ETCD_ROOT_USER,
  ETCD_USERS,
  EtcdLogin,
  EtcdRole,
} from '@stayline/contracts';
import {
  Etcd3,
  EtcdRoleExistsError,
  EtcdRoleNotGrantedError,
  EtcdUserExistsError,
  Range,
} from 'etcd3';

/**
 * etcd users and roles (libs/contracts etcd-auth.ts, the one table) applied to
 * a cluster, then `auth enable`: the native stack kit runs it once its members
 * elect a leader, compose and Kubernetes run it as a one-shot job. Idempotent:
 * on a cluster that already has auth on it logs in as root, sets each user's
 * password, and makes each role's permissions exactly the table's.
 */

/** `STAYLINE_ETCD_<ROLE>_PASSWORD` (`STAYLINE_ETCD_GATEWAY_SYNC_PASSWORD`), `STAYLINE_ETCD_ROOT_PASSWORD`. */
export function etcdPasswordVariable(role: EtcdRole | 'root'): string {
  return `STAYLINE_ETCD_${role.toUpperCase().replace(/-/g, '_')}_PASSWORD`;
}

/** Each role's password and root's: from the environment, or the dev profile's `dev-only-etcd-<role>`. */
export function etcdPasswordsFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Record<EtcdRole | 'root', string> {
  return Object.fromEntries(
    [...ETCD_ROLES, 'root' as const].map((role) => [
      role,
      env[etcdPasswordVariable(role)] ?? `dev-only-etcd-${role}`,
    ]),
  ) as Record<EtcdRole | 'root', string>;
}

/** The login of a role (its user and password). */
export function etcdLogin(role: EtcdRole, env: NodeJS.ProcessEnv = process.env): EtcdLogin {
  return { username: ETCD_USERS[role], password: etcdPasswordsFromEnv(env)[role] };
}

/** root's login: the stack kit's own setup and its tests' look behind the scenes. */
export function etcdRootLogin(env: NodeJS.ProcessEnv = process.env): EtcdLogin {
  return { username: ETCD_ROOT_USER, password: etcdPasswordsFromEnv(env).root };
}

const permissionOf = (access: 'read' | 'readwrite') => (access === 'read' ? 'Read' : 'Readwrite');

/** Whether the cluster already refuses a client without a user (auth on). */
async function authEnabled(endpoints: string[]): Promise<boolean> {
  const anonymous = new Etcd3({ hosts: endpoints, dialTimeout: 2_000 });
  try {
    await anonymous.get('/stayline/auth-probe').exec();
    return false;
  } catch (err) {
    if (/user name is empty|invalid auth token|permission denied/.test(String(err))) return true;
    throw err;
  } finally {
    anonymous.close();
  }
}

const ignore =
  (...types: Array<new (...args: never[]) => Error>) =>
  (err: unknown) => {
    if (!types.some((t) => err instanceof t)) throw err;
  };

/** Creates root, the table's roles and users with their passwords, and turns auth on. */
export async function applyEtcdAuth(
  endpoints: string[],
  passwords: Record<EtcdRole | 'root', string> = etcdPasswordsFromEnv(),
): Promise<void> {
  const enabled = await authEnabled(endpoints);
  const client = new Etcd3({
    hosts: endpoints,
    dialTimeout: 2_000,
    ...(enabled ? { auth: { username: ETCD_ROOT_USER, password: passwords.root } } : {}),
  });
  try {
    await client.role('root').create().catch(ignore(EtcdRoleExistsError));
    await client.user(ETCD_ROOT_USER).create(passwords.root).catch(ignore(EtcdUserExistsError));
    await client.user(ETCD_ROOT_USER).setPassword(passwords.root);
    await client.user(ETCD_ROOT_USER).addRole('root');
    for (const role of ETCD_ROLES) {
      const name = ETCD_USERS[role];
      const r = client.role(name);
      await r.create().catch(ignore(EtcdRoleExistsError));
      for (const p of await r.permissions())
        await r
          .revoke({ permission: p.permission, range: p.range })
          .catch(ignore(EtcdRoleNotGrantedError));
      for (const g of ETCD_ROLE_RULES[role].grants)
        await r.grant({ permission: permissionOf(g.access), range: Range.prefix(g.prefix) });
      await client.user(name).create(passwords[role]).catch(ignore(EtcdUserExistsError));
      await client.user(name).setPassword(passwords[role]);
      await client.user(name).addRole(name);
    }
    if (!enabled) await client.auth.authEnable({});
  } finally {
    client.close();
  }
}
