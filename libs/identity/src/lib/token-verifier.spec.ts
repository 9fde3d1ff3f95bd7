import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { bearerToken } from './bearer-token';
import { SigningKeySet } from './signing-key-set';
import { TokenIssuer } from './token-issuer';
import { RejectionReason, TokenVerifier } from './token-verifier';

const ISS = 'stayline-auth';
const AUD = 'stayline';
const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('TokenIssuer and TokenVerifier', () => {
  let keys: SigningKeySet;
  let clock: number;
  let issuer: TokenIssuer;
  let verifier: TokenVerifier;
  const now = () => clock;

  beforeEach(async () => {
    clock = Date.UTC(2026, 11, 6, 9, 0, 0);
    keys = await SigningKeySet.generate(clock);
    issuer = new TokenIssuer(() => keys, { issuer: ISS, audience: AUD, now });
    verifier = TokenVerifier.local(() => keys, { issuer: ISS, audience: AUD, now });
  });

  const reason = (p: Promise<unknown>) =>
    p.then(
      () => 'accepted',
      (err: { reason?: RejectionReason }) => err.reason,
    );

  it('issues a 15-minute EdDSA token naming the user, its scopes and the key, and verifies it', async () => {
    const issued = await issuer.issue('alice', ['user']);
    expect(issued).toMatchObject({ token_type: 'Bearer', expires_in: 900, scope: 'user' });
    const [header, payload] = issued.access_token
      .split('.')
      .slice(0, 2)
      .map((p) => JSON.parse(Buffer.from(p, 'base64url').toString()));
    expect(header).toEqual({ alg: 'EdDSA', typ: 'at+jwt', kid: keys.current().kid });
    expect(payload).toEqual({
      iss: ISS,
      aud: AUD,
      sub: 'alice',
      scope: 'user',
      iat: clock / 1000,
      nbf: clock / 1000,
      exp: clock / 1000 + 900,
      jti: expect.any(String),
    });
    expect(await verifier.verify(issued.access_token)).toEqual({
      userId: 'alice',
      scopes: ['user'],
      tokenId: payload.jti,
      keyId: keys.current().kid,
      expiresAt: clock + 900_000,
    });
  });

  it('refuses an expired token, and one not valid yet, beyond 5 s of clock skew', async () => {
    const { access_token } = await issuer.issue('alice', ['user']);
    clock += 904_000;
    expect(await reason(verifier.verify(access_token))).toBe('accepted');
    clock += 1_000;
    expect(await reason(verifier.verify(access_token))).toBe('token_expired');
    clock -= 905_000 + 6_000;
    expect(await reason(verifier.verify(access_token))).toBe('token_not_yet_valid');
  });

  it('refuses a token for another audience or from another issuer', async () => {
    const other = new TokenIssuer(() => keys, { issuer: ISS, audience: 'elsewhere', now });
    expect(await reason(verifier.verify((await other.issue('a', ['user'])).access_token))).toBe(
      'wrong_audience',
    );
    const fake = new TokenIssuer(() => keys, { issuer: 'someone', audience: AUD, now });
    expect(await reason(verifier.verify((await fake.issue('a', ['user'])).access_token))).toBe(
      'wrong_issuer',
    );
  });

  it('refuses a tampered token and one signed by a key it does not publish', async () => {
    const { access_token } = await issuer.issue('alice', ['user']);
    const [h, p, s] = access_token.split('.');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
    const tampered = [h, b64({ ...claims, sub: 'bob', scope: 'user admin' }), s].join('.');
    expect(await reason(verifier.verify(tampered))).toBe('bad_signature');
    // a key of its own, claiming the published key's id: the signature does not verify
    const mallory = await SigningKeySet.generate(clock);
    const forged = await new SignJWT({ scope: 'user admin' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'at+jwt', kid: keys.current().kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setSubject('mallory')
      .setIssuedAt(clock / 1000)
      .setExpirationTime(clock / 1000 + 60)
      .setJti('x')
      .sign(mallory.current().privateKey);
    expect(await reason(verifier.verify(forged))).toBe('bad_signature');
    const unknown = new TokenIssuer(() => mallory, { issuer: ISS, audience: AUD, now });
    expect(await reason(verifier.verify((await unknown.issue('m', ['user'])).access_token))).toBe(
      'unknown_key',
    );
  });

  it('refuses alg none and an HMAC signed with the public key (algorithm confusion)', async () => {
    const { access_token } = await issuer.issue('alice', ['user']);
    const payload = access_token.split('.')[1];
    const kid = keys.current().kid;
    const none = `${b64({ alg: 'none', typ: 'at+jwt', kid })}.${payload}.`;
    expect(await reason(verifier.verify(none))).toBe('algorithm_not_allowed');
    const signingInput = `${b64({ alg: 'HS256', typ: 'at+jwt', kid })}.${payload}`;
    for (const secret of [
      JSON.stringify(keys.current().publicJwk),
      Buffer.from(keys.current().publicJwk.x as string, 'base64url'),
    ]) {
      const mac = createHmac('sha256', secret).update(signingInput).digest('base64url');
      expect(await reason(verifier.verify(`${signingInput}.${mac}`))).toBe('algorithm_not_allowed');
    }
  });

  it('refuses a token of another type, and what is not a JWT', async () => {
    const key = keys.current();
    const idToken = await new SignJWT({ scope: 'user' })
      .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT', kid: key.kid })
      .setIssuer(ISS)
      .setAudience(AUD)
      .setSubject('alice')
      .setIssuedAt(clock / 1000)
      .setExpirationTime(clock / 1000 + 60)
      .setJti('x')
      .sign(key.privateKey);
    expect(await reason(verifier.verify(idToken))).toBe('invalid_claims');
    for (const junk of ['', 'abc', 'a.b.c', `${b64({ alg: 'EdDSA' })}.e30.`])
      expect(await reason(verifier.verify(junk))).toMatch(/malformed_token|unknown_key/);
  });

  it('keeps accepting a token signed before a rotation until it expires; new tokens carry the new key', async () => {
    const before = (await issuer.issue('alice', ['user'])).access_token;
    const oldKid = keys.current().kid;
    keys = await keys.rotated((900 + 5) * 1000, clock);
    const after = await verifier.verify((await issuer.issue('alice', ['user'])).access_token);
    expect(after.keyId).toBe(keys.current().kid);
    expect(after.keyId).not.toBe(oldKid);
    clock += 600_000;
    expect((await verifier.verify(before)).keyId).toBe(oldKid);
    clock += 305_000; // the old key retired with the last token it signed
    expect(await reason(verifier.verify(before))).toMatch(/token_expired|unknown_key/);
    expect(keys.jwks(clock).keys.map((k) => k.kid)).toEqual([keys.current().kid]);
  });
});

describe('bearerToken', () => {
  const reason = (h: string | undefined) => {
    try {
      return bearerToken(h);
    } catch (err) {
      return (err as { reason: string }).reason;
    }
  };

  it('takes the token of a Bearer header, and names what is wrong with anything else', () => {
    expect(reason('Bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(reason('bearer abc.def.ghi')).toBe('abc.def.ghi');
    expect(reason(undefined)).toBe('missing_token');
    expect(reason('')).toBe('missing_token');
    expect(reason('Basic YWxpY2U6cHc=')).toBe('wrong_scheme');
    expect(reason('Bearer')).toBe('wrong_scheme');
    expect(reason('Bearer a b')).toBe('wrong_scheme');
    expect(reason('abc.def.ghi')).toBe('wrong_scheme');
  });
});
