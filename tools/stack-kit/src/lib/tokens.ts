import { httpJson } from './http-json';
import { isAlive } from './process';
import type { Stack } from './stack';

/** What the auth service answers for a token (RFC 6749 section 5.1). */
export interface AccessToken {
  access_token: string;
  token_type: 'Bearer';
  /** Seconds until it expires. */
  expires_in: number;
  scope: string;
}

/** The demo users' dev-only passwords (apps/auth; refused outside the dev profile). */
export const DEMO_PASSWORDS: Readonly<Record<'alice' | 'bob' | 'admin', string>> = {
  alice: 'dev-only-alice-password',
  bob: 'dev-only-bob-password',
  admin: 'dev-only-admin-password',
};

/**
 * The operator among the demo users: its tokens carry the scope `admin` (with
 * `user`), what every admin route asks for (apps/auth's user directory).
 */
export const OPERATOR = 'admin';

/** The operator's password: STAYLINE_AUTH_ADMIN_PASSWORD, else the dev profile's. */
export function operatorPassword(env: NodeJS.ProcessEnv = process.env): string {
  return env.STAYLINE_AUTH_ADMIN_PASSWORD ?? DEMO_PASSWORDS.admin;
}

/** `{ authorization: 'Bearer <token>' }`, to spread into a request's headers. */
export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}

/**
 * Logs in as a user through the gateway (or an auth instance):
 * `POST /api/auth/token` with a username and password, as the README does.
 */
export async function login(
  baseUrl: string,
  username: string,
  password = DEMO_PASSWORDS[username as keyof typeof DEMO_PASSWORDS],
): Promise<AccessToken> {
  const res = await fetch(`${baseUrl}/api/auth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
    signal: AbortSignal.timeout(10_000),
  });
  const body = (await res.json()) as AccessToken & { message?: string };
  if (res.status !== 200) throw new Error(`login as ${username}: ${res.status} ${body.message}`);
  return body;
}

/** The stack's running auth instances; throws when there is none. */
function authInstances(stack: Stack) {
  const auth = stack.components.filter((c) => c.meta?.service === 'auth' && isAlive(c.pid));
  if (!auth.length) throw new Error('no auth instance runs in this stack: start the service auth');
  return auth;
}

/**
 * The operator logged in (`POST /api/auth/token` as {@link OPERATOR}) on one of
 * the stack's auth instances, on its own port: the stack needs no gateway.
 */
export async function operatorLogin(
  stack: Stack,
  password = operatorPassword(),
): Promise<AccessToken> {
  let last: unknown;
  for (const c of authInstances(stack)) {
    try {
      return await login(`http://${c.host}:${c.ports.http}`, OPERATOR, password);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/**
 * The operator's token per stack, logged in once and again when a third of its
 * life is left ({@link UserTokens}): what every call to an admin route sends
 * (the services' flags, auth's keys and tokens, the failover agents').
 *
 * @example
 *   await httpJson(`http://${c.host}:${c.port}/admin/flags`, { token: await adminToken(stack) });
 */
export class AdminTokens {
  private static readonly byStack = new WeakMap<Stack, AdminTokens>();
  private readonly tokens: UserTokens;

  constructor(source: () => Promise<AccessToken>) {
    this.tokens = new UserTokens(() => source());
  }

  /** The stack's operator tokens (one holder per stack), from its auth instances. */
  static of(stack: Stack): AdminTokens {
    let held = AdminTokens.byStack.get(stack);
    if (!held) AdminTokens.byStack.set(stack, (held = new AdminTokens(() => operatorLogin(stack))));
    return held;
  }

  token(): Promise<string> {
    return this.tokens.token(OPERATOR);
  }

  headers(): Promise<{ authorization: string }> {
    return this.tokens.headers(OPERATOR);
  }
}

/** A valid operator token (scope `admin`) for the stack's admin routes; see {@link AdminTokens}. */
export function adminToken(stack: Stack): Promise<string> {
  return AdminTokens.of(stack).token();
}

/**
 * A token for any user id, issued by one of the stack's auth instances on its
 * admin route (`POST /admin/tokens`, with the operator's token): tests and
 * benches act as many users, the demo directory has three.
 */
export async function issueToken(
  stack: Stack,
  sub: string,
  o: { scopes?: string[] } = {},
): Promise<AccessToken> {
  const token = await adminToken(stack);
  let last: unknown;
  for (const c of authInstances(stack)) {
    try {
      const res = await httpJson(`http://${c.host}:${c.ports.http}/admin/tokens`, {
        method: 'POST',
        token,
        body: { sub, ...(o.scopes ? { scopes: o.scopes } : {}) },
        timeoutMs: 5_000,
      });
      if (res.status === 200) return res.body as AccessToken;
      last = new Error(`${c.name} /admin/tokens: ${res.status} ${JSON.stringify(res.body)}`);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

/**
 * Tokens per user, fetched once and fetched again when a third of their life
 * is left: a long run (a bench, a random partition run) outlives a token.
 *
 * @example
 *   const tokens = new UserTokens((user) => issueToken(stack, user));
 *   await fetch(url, { headers: await tokens.headers('u-1') });
 */
export class UserTokens {
  private readonly held = new Map<string, Promise<{ token: string; renewAt: number }>>();

  constructor(private readonly source: (userId: string) => Promise<AccessToken>) {}

  /** The stack's tokens, issued by its auth instances. */
  static of(stack: Stack, o: { scopes?: string[] } = {}): UserTokens {
    return new UserTokens((user) => issueToken(stack, user, o));
  }

  async token(userId: string): Promise<string> {
    const held = await this.held.get(userId)?.catch(() => undefined);
    if (held && Date.now() < held.renewAt) return held.token;
    const next = this.source(userId).then((t) => ({
      token: t.access_token,
      renewAt: Date.now() + (t.expires_in * 1000 * 2) / 3,
    }));
    this.held.set(userId, next);
    return (await next).token;
  }

  async headers(userId: string): Promise<{ authorization: string }> {
    return bearer(await this.token(userId));
  }
}
