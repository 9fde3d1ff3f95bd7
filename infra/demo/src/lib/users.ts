import { AccessToken, bearer, issueToken, login, UserTokens } from '@stayline/stack-kit';
import type { Sample } from '@stayline/fault-kit';
import { Demo } from './demo';

/** How often the held tokens are looked at; {@link UserTokens} renews one with a third of its life left. */
const RENEW_CHECK_MS = 30_000;

/**
 * The users a demo acts as, and their tokens: every `/api` request carries
 * `Authorization: Bearer <token>` and acts for the token's subject. A full demo
 * runs for minutes and a token lives 15, so the tokens are renewed before they
 * expire ({@link UserTokens}). A load builds each request synchronously
 * ({@link Load}'s `request`), so {@link headers} hands out the token held at
 * that moment, and a timer keeps it fresh.
 *
 * @example
 *   const users = await DemoUsers.login(d, ['alice', 'bob']);
 *   Load.start({ workers: 4, request: () => ({ url, headers: users.headers('alice') }) });
 */
export class DemoUsers {
  private readonly held = new Map<string, string>();
  private readonly timer: NodeJS.Timeout;

  private constructor(
    readonly names: readonly string[],
    private readonly tokens: UserTokens,
    private readonly d: Demo,
  ) {
    this.timer = setInterval(() => void this.renew(), RENEW_CHECK_MS);
    this.timer.unref();
    d.onCleanup('stop renewing the tokens', () => clearInterval(this.timer));
  }

  /**
   * Logs the demo users in through the gateway, as a client does
   * (`POST /api/auth/token` with their dev-only passwords).
   */
  static login(d: Demo, names: readonly string[] = ['alice']): Promise<DemoUsers> {
    return DemoUsers.start(
      d,
      names,
      (user) => login(d.gateway, user),
      `logged in as ${names.join(' and ')} through the gateway (POST /api/auth/token)`,
    );
  }

  /**
   * Tokens for user ids of the demo's own choosing, issued by an auth instance on
   * its operator route (`POST /admin/tokens`, the operator's token): for an experiment
   * that needs more users than the three demo accounts, as the benches do.
   */
  static issued(d: Demo, names: readonly string[]): Promise<DemoUsers> {
    return DemoUsers.start(
      d,
      names,
      (user) => issueToken(d.stack, user),
      `tokens for ${names.length} users (${names[0]} to ${names.at(-1)}) issued by auth's operator route (POST /admin/tokens)`,
    );
  }

  private static async start(
    d: Demo,
    names: readonly string[],
    source: (user: string) => Promise<AccessToken>,
    how: string,
  ): Promise<DemoUsers> {
    const users = new DemoUsers(names, new UserTokens(source), d);
    await users.renew(true);
    d.say(`${how}: every /api request carries its user's token, renewed before it expires`);
    return users;
  }

  /** The first user (alice, when logged in with the defaults). */
  get first(): string {
    return this.names[0];
  }

  /** `{ authorization: 'Bearer …' }` of `user` (the first user by default). */
  headers(user = this.first): { authorization: string } {
    const token = this.held.get(user);
    if (!token) throw new Error(`no token held for ${user}: not one of ${this.names.join(', ')}`);
    return bearer(token);
  }

  /** The user that the n-th request of a load acts as: the users in turn. */
  nth(n: number): string {
    return this.names[n % this.names.length];
  }

  /** Fetches a token for every user whose token is due (all of them the first time). */
  private async renew(first = false): Promise<void> {
    await Promise.all(
      this.names.map(async (user) => {
        try {
          this.held.set(user, await this.tokens.token(user));
        } catch (err) {
          // the token held stays valid for a third of its life: the next look tries again
          if (first) throw err;
          this.d.say(`could not renew the token of ${user}: ${(err as Error).message}`);
        }
      }),
    );
  }
}

/**
 * Answers that refused the caller (401, 403): none is expected, every request of
 * a demo carries a valid token. A demo checks it beside its own figures, since a
 * refusal is not a failure a {@link Load} counts (those are 5xx and no answer).
 */
export function refused(samples: Sample[]): Sample[] {
  return samples.filter((s) => s.status === 401 || s.status === 403);
}

/** Records the check that every request of the loads was accepted as its user's. */
export function checkAccepted(d: Demo, users: DemoUsers, ...loads: Sample[][]): boolean {
  const all = loads.flat();
  const bad = refused(all);
  const who = users.names.length <= 3 ? users.names.join(' and ') : `${users.names.length} users`;
  return d.check(
    `every request carried a token accepted as ${who}'s (no 401)`,
    bad.length === 0,
    `${bad.length} of ${all.length} refused${bad[0] ? `, e.g. ${bad[0].status} ${bad[0].reply?.body ?? ''}` : ''}`,
  );
}
