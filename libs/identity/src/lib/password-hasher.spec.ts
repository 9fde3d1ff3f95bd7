import { DEFAULT_SCRYPT_COST, PasswordHasher } from './password-hasher';

describe('PasswordHasher', () => {
  const fast = new PasswordHasher({ N: 2 ** 10, r: 8, p: 1 });

  it('hashes with the default cost and a salt of its own, and verifies', async () => {
    const hasher = new PasswordHasher();
    const stored = await hasher.hash('correct horse');
    const { N, r, p } = DEFAULT_SCRYPT_COST;
    expect(stored).toMatch(new RegExp(`^scrypt\\$${N}\\$${r}\\$${p}\\$[\\w-]{22}\\$[\\w-]{43}$`));
    expect(await hasher.verify('correct horse', stored)).toBe(true);
    expect(await hasher.verify('correct horsE', stored)).toBe(false);
    // three derivations at the real cost: well under a second each on an idle core, many
    // seconds on a host with every core taken
  }, 60_000);

  it('salts each hash: one password, two hashes', async () => {
    const [a, b] = await Promise.all([fast.hash('same'), fast.hash('same')]);
    expect(a).not.toBe(b);
    expect(await fast.verify('same', a)).toBe(true);
    expect(await fast.verify('same', b)).toBe(true);
  });

  it('reads the cost from the stored hash, so a raised cost still verifies old hashes', async () => {
    const old = await fast.hash('pw');
    expect(await new PasswordHasher().verify('pw', old)).toBe(true);
  });

  it('compares Unicode passwords in one normal form', async () => {
    const stored = await fast.hash('caf\u00e9');
    expect(await fast.verify('cafe\u0301', stored)).toBe(true);
  });

  it('answers false, never throws, for a hash it cannot read', async () => {
    for (const stored of [
      '',
      'plain',
      'bcrypt$1$2$3$a$b',
      'scrypt$x$8$1$a$b',
      'scrypt$1024$8$1$AAAA$AAAA',
    ])
      expect(await fast.verify('pw', stored)).toBe(false);
  });
});
