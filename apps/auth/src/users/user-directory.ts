import { PasswordHasher } from '@stayline/identity';

/** A user who may log in, with the scopes their tokens carry. */
export interface User {
  id: string;
  scopes: string[];
  passwordHash: string;
}

/** The demo users: alice and bob (`user`), admin (`user admin`); passwords from configuration. */
export const DEMO_USERS: ReadonlyArray<{ id: string; scopes: string[]; passwordSetting: string }> =
  [
    { id: 'alice', scopes: ['user'], passwordSetting: 'AUTH_ALICE_PASSWORD' },
    { id: 'bob', scopes: ['user'], passwordSetting: 'AUTH_BOB_PASSWORD' },
    { id: 'admin', scopes: ['user', 'admin'], passwordSetting: 'AUTH_ADMIN_PASSWORD' },
  ];

/**
 * The users, each password kept only as its scrypt hash (made at start-up).
 * Checking a name that does not exist costs one hash too (against a decoy),
 * so the answer's timing does not tell which names exist.
 */
export class UserDirectory {
  private constructor(
    private readonly users: ReadonlyMap<string, User>,
    private readonly decoyHash: string,
    private readonly hasher: PasswordHasher,
  ) {}

  static async create(
    users: ReadonlyArray<{ id: string; scopes: string[]; password: string }>,
    hasher: PasswordHasher,
  ): Promise<UserDirectory> {
    const hashed = await Promise.all(
      users.map(async (u) => ({
        id: u.id,
        scopes: u.scopes,
        passwordHash: await hasher.hash(u.password),
      })),
    );
    const decoy = await hasher.hash(`decoy-${Math.random()}`);
    return new UserDirectory(new Map(hashed.map((u) => [u.id, u])), decoy, hasher);
  }

  /** The user when the password is theirs; undefined for a wrong password or an unknown name. */
  async authenticate(username: string, password: string): Promise<User | undefined> {
    const user = this.users.get(username);
    const ok = await this.hasher.verify(password, user?.passwordHash ?? this.decoyHash);
    return user && ok ? user : undefined;
  }
}
