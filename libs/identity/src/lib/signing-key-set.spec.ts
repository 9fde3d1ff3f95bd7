import { SigningKeySet } from './signing-key-set';

describe('SigningKeySet', () => {
  it('publishes public keys only, each named by its thumbprint', async () => {
    const set = await SigningKeySet.generate(1_000);
    const { keys } = set.jwks(1_000);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toEqual({
      kty: 'OKP',
      crv: 'Ed25519',
      x: expect.any(String),
      kid: set.current().kid,
      alg: 'EdDSA',
      use: 'sig',
    });
    expect(JSON.stringify(keys)).not.toMatch(/"d"/);
  });

  it('rotates: the new key signs, the old stays published until it retires, then is pruned', async () => {
    const first = await SigningKeySet.generate(0);
    const rotated = await first.rotated(60_000, 10_000);
    expect(rotated.current().kid).not.toBe(first.current().kid);
    expect(rotated.jwks(69_999).keys.map((k) => k.kid)).toEqual([
      first.current().kid,
      rotated.current().kid,
    ]);
    expect(rotated.jwks(70_000).keys.map((k) => k.kid)).toEqual([rotated.current().kid]);
    expect(rotated.pruned(70_000).keys.map((k) => k.kid)).toEqual([rotated.current().kid]);
    // a second rotation before the first retired keeps the first's date
    const twice = await rotated.rotated(60_000, 20_000);
    expect(twice.keys.map((k) => k.retireAt)).toEqual([70_000, 80_000, undefined]);
  });

  it('reads back what it writes, private keys included', async () => {
    const set = await (await SigningKeySet.generate(5)).rotated(1_000, 6);
    const json = JSON.parse(JSON.stringify(set.toJSON()));
    expect(json.keys[0].privateJwk.d).toEqual(expect.any(String));
    const back = await SigningKeySet.fromJSON(json);
    expect(back.keys.map((k) => [k.kid, k.createdAt, k.retireAt])).toEqual(
      set.keys.map((k) => [k.kid, k.createdAt, k.retireAt]),
    );
  });

  it('refuses a state file whose key id is not its key', async () => {
    const json = (await SigningKeySet.generate()).toJSON();
    json.keys[0].kid = 'someone-else';
    await expect(SigningKeySet.fromJSON(json)).rejects.toThrow(/thumbprint/);
    await expect(SigningKeySet.fromJSON({ keys: [] })).rejects.toThrow(/no keys/);
  });

  it('derives the same keys from the same secrets, the last one signing', async () => {
    const a = await SigningKeySet.fromSecrets(['dev-only-first-secret', 'dev-only-second-secret']);
    const b = await SigningKeySet.fromSecrets(['dev-only-first-secret', 'dev-only-second-secret']);
    expect(a.keys.map((k) => k.kid)).toEqual(b.keys.map((k) => k.kid));
    expect(new Set(a.keys.map((k) => k.kid)).size).toBe(2);
    expect(a.current().kid).toBe(a.keys[1].kid);
    expect(a.jwks().keys).toHaveLength(2);
    await expect(SigningKeySet.fromSecrets([])).rejects.toThrow(/no signing secret/);
  });
});
