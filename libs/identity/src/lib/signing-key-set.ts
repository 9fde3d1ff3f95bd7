import { createPrivateKey, createPublicKey, hkdfSync, KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, generateKeyPair, type JWK } from 'jose';
import { TOKEN_ALGORITHM } from './access-token';

/** One Ed25519 key pair of the issuer, with its life: published from creation to retirement. */
export interface SigningKey {
  /** The key id: the RFC 7638 thumbprint of its public key. */
  kid: string;
  /** ms since the epoch; keys given by configuration count as created at 0, in their order. */
  createdAt: number;
  /** Once set, the key no longer signs, and it is unpublished at this time (ms since the epoch). */
  retireAt?: number;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public half as published: `kty`, `crv`, `x`, `kid`, `alg`, `use`; never `d`. */
  publicJwk: JWK;
}

/** The state file's shape: each key's private JWK and its dates. */
export interface SigningKeySetJson {
  keys: Array<{ kid: string; createdAt: number; retireAt?: number; privateJwk: JWK }>;
}

/** The PKCS#8 DER prefix of an Ed25519 private key; the 32-byte seed follows it (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

async function toSigningKey(
  privateKey: KeyObject,
  createdAt: number,
  retireAt?: number,
): Promise<SigningKey> {
  const publicKey = createPublicKey(privateKey);
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  const bare = { kty, crv, x } as JWK;
  const kid = await calculateJwkThumbprint(bare);
  const publicJwk: JWK = { ...bare, kid, alg: TOKEN_ALGORITHM, use: 'sig' };
  return { kid, createdAt, retireAt, privateKey, publicKey, publicJwk };
}

/**
 * The issuer's keys and their rotation. The newest key that is not retiring
 * signs; every key not yet retired is published, so a token signed before a
 * rotation stays valid until it expires. Rotation: a new key is added and signs
 * from now on, the previous one is marked to retire once every token it signed
 * has expired ({@link rotated}); {@link pruned} then drops it. Immutable: each
 * change returns a new set.
 */
export class SigningKeySet {
  private constructor(readonly keys: readonly SigningKey[]) {
    if (!this.keys.some((k) => k.retireAt === undefined))
      throw new Error('a signing key set needs a key that is not retiring');
  }

  /** A set of one freshly generated key. */
  static async generate(now = Date.now()): Promise<SigningKeySet> {
    return new SigningKeySet([await newKey(now)]);
  }

  /**
   * Keys derived from secrets given by configuration, oldest first (the last
   * one signs): each secret is stretched with HKDF-SHA-256 into an Ed25519
   * seed. A secret must be random (e.g. `openssl rand -base64 32`); it is the
   * private key. Rotation: append a new secret, roll out, and remove the old
   * one once the token lifetime has passed.
   */
  static async fromSecrets(secrets: readonly string[]): Promise<SigningKeySet> {
    if (!secrets.length) throw new Error('no signing secret given');
    const keys = await Promise.all(
      secrets.map((secret, i) => {
        const seed = Buffer.from(
          hkdfSync('sha256', secret, 'stayline-identity', 'ed25519-signing-key', 32),
        );
        const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
        return toSigningKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }), i);
      }),
    );
    return new SigningKeySet(keys);
  }

  /** A set read back from {@link toJSON}'s output. */
  static async fromJSON(json: SigningKeySetJson): Promise<SigningKeySet> {
    if (!Array.isArray(json?.keys) || !json.keys.length) throw new Error('no keys in the key set');
    const keys = await Promise.all(
      json.keys.map(async (k) => {
        const key = await toSigningKey(
          createPrivateKey({ key: k.privateJwk as never, format: 'jwk' }),
          k.createdAt,
          k.retireAt,
        );
        if (key.kid !== k.kid) throw new Error(`key ${k.kid}: its id is not its thumbprint`);
        return key;
      }),
    );
    return new SigningKeySet(keys);
  }

  toJSON(): SigningKeySetJson {
    return {
      keys: this.keys.map((k) => ({
        kid: k.kid,
        createdAt: k.createdAt,
        ...(k.retireAt === undefined ? {} : { retireAt: k.retireAt }),
        privateJwk: { ...(k.privateKey.export({ format: 'jwk' }) as JWK), kid: k.kid },
      })),
    };
  }

  /** The key that signs: the newest one not retiring. */
  current(): SigningKey {
    const active = this.keys.filter((k) => k.retireAt === undefined);
    return active[active.length - 1];
  }

  /** The keys verifiers accept at `now`: every one not yet retired. */
  published(now = Date.now()): SigningKey[] {
    return this.keys.filter((k) => k.retireAt === undefined || k.retireAt > now);
  }

  /** The JWKS document (RFC 7517): public keys only. */
  jwks(now = Date.now()): { keys: JWK[] } {
    return { keys: this.published(now).map((k) => ({ ...k.publicJwk })) };
  }

  /**
   * A new key signs from `now`; the keys that signed until now retire after
   * `retireAfterMs` (at least the token lifetime plus the verifiers' clock
   * tolerance), staying published until then.
   */
  async rotated(retireAfterMs: number, now = Date.now()): Promise<SigningKeySet> {
    const next = await newKey(now);
    const kept = this.keys.map((k) =>
      k.retireAt === undefined ? { ...k, retireAt: now + retireAfterMs } : k,
    );
    return new SigningKeySet([...kept, next]);
  }

  /** Without the keys retired by `now`. */
  pruned(now = Date.now()): SigningKeySet {
    return new SigningKeySet(this.published(now));
  }
}

async function newKey(now: number): Promise<SigningKey> {
  const { privateKey } = await generateKeyPair(TOKEN_ALGORITHM, {
    crv: 'Ed25519',
    extractable: true,
  });
  return toSigningKey(toKeyObject(privateKey), now);
}

/** jose hands out a WebCrypto CryptoKey here; Node's KeyObject is what this set keeps. */
function toKeyObject(key: unknown): KeyObject {
  return key instanceof KeyObject ? key : KeyObject.from(key as never);
}
