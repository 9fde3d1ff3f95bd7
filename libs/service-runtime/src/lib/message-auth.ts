import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  hkdfSync,
  KeyObject,
  randomBytes,
  sign,
  verify,
} from 'node:crypto';
import { SetMetadata } from '@nestjs/common';

/** How far a message's signing time may be from the callee's clock, either way. */
export const MESSAGE_MAX_AGE_MS = 60_000;

/** What a signed message carries in its call context (`__ctx.auth`). */
export interface MessageSignature {
  /** The calling service, as registered in discovery. */
  svc: string;
  /** When it was signed, ms since the epoch. */
  iat: number;
  /** Random, so two identical calls never carry the same signature. */
  nonce: string;
  /** The caller's Ed25519 signature of the above, the pattern and the payload, base64url. */
  sig: string;
}

/**
 * Why a message was refused. `unknown_caller`: the callee holds no public key
 * for the service the message claims to come from.
 */
export type MessageRefusal =
  | 'unsigned'
  | 'bad_signature'
  | 'stale'
  | 'caller_not_allowed'
  | 'malformed_signature'
  | 'unknown_caller';

const CALLABLE_BY = 'stayline:callable-by';

/**
 * A message handler only these services may call (`@CallableBy('reservation')`):
 * a message signed by any other service is refused. Without it, any service
 * whose public key the callee holds may call.
 */
export const CallableBy = (...services: string[]) => SetMetadata(CALLABLE_BY, services);

/** The services {@link CallableBy} names on a handler, if any. */
export function callableBy(handler: object): readonly string[] | undefined {
  return Reflect.getMetadata(CALLABLE_BY, handler) as string[] | undefined;
}

/** The services that send or receive signed messages, whose dev keys the dev profile derives. */
export const MESSAGE_SERVICES = ['reservation', 'payment', 'recommendation', 'scrap'] as const;

/**
 * The public secret the dev profile derives every service's key pair from
 * (HKDF, one label per service): services started with `STAYLINE_PROFILE=dev`
 * and no keys of their own (`npm start`, the test stacks, compose's default
 * profile) can tell each other apart with no setup. Any other profile refuses
 * a key derived from it.
 */
export const DEV_SERVICE_KEYS_SECRET = 'dev-only-service-message-keys';

/** DER prefix of a PKCS#8 Ed25519 private key, before its 32-byte seed. */
const PKCS8_ED25519_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
/** DER prefix of an SPKI Ed25519 public key, before its 32 bytes. */
const SPKI_ED25519_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
/** An Ed25519 seed or public key: 32 bytes, 43 characters of base64url. */
const KEY_BYTES = 32;

/** A private key from its 32-byte Ed25519 seed. */
export function privateKeyFromSeed(seed: Buffer): KeyObject {
  if (seed.length !== KEY_BYTES) throw new Error(`an Ed25519 seed is ${KEY_BYTES} bytes`);
  return createPrivateKey({
    key: Buffer.concat([PKCS8_ED25519_PREFIX, seed]),
    format: 'der',
    type: 'pkcs8',
  });
}

/** A public key from its 32 raw bytes. */
export function publicKeyFromRaw(raw: Buffer): KeyObject {
  if (raw.length !== KEY_BYTES) throw new Error(`an Ed25519 public key is ${KEY_BYTES} bytes`);
  return createPublicKey({
    key: Buffer.concat([SPKI_ED25519_PREFIX, raw]),
    format: 'der',
    type: 'spki',
  });
}

/** The 32 raw bytes of an Ed25519 public key (or of the public half of a private one). */
export function rawPublicKey(key: KeyObject): Buffer {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519_PREFIX.length);
}

/** The 32-byte seed of an Ed25519 private key. */
export function seedOf(key: KeyObject): Buffer {
  return key.export({ format: 'der', type: 'pkcs8' }).subarray(PKCS8_ED25519_PREFIX.length);
}

/** The dev profile's seed for `service`: public, derived from {@link DEV_SERVICE_KEYS_SECRET}. */
export function devServiceSeed(service: string, secret = DEV_SERVICE_KEYS_SECRET): Buffer {
  return Buffer.from(
    hkdfSync('sha256', secret, 'stayline', `service-message-key:${service}`, KEY_BYTES),
  );
}

/** The dev profile's public keys of {@link MESSAGE_SERVICES}, by name (derived from `secret`). */
export function devPublicKeys(secret = DEV_SERVICE_KEYS_SECRET): Record<string, KeyObject[]> {
  return Object.fromEntries(
    MESSAGE_SERVICES.map((s) => [
      s,
      [createPublicKey(privateKeyFromSeed(devServiceSeed(s, secret)))],
    ]),
  );
}

/** A fresh key pair for `service`, as the environment of it and of its callees spells it. */
export function generateServiceKeys(service: string): { seed: string; publicKey: string } {
  const { privateKey } = generateKeyPairSync('ed25519');
  return {
    seed: seedOf(privateKey).toString('base64url'),
    publicKey: `${service}=${rawPublicKey(privateKey).toString('base64url')}`,
  };
}

/** The part of a service's validated config that names its message keys (message-keys.ts). */
export interface MessageKeyConfig {
  SERVICE_NAME: string;
  SERVICE_SIGNING_KEY: KeyObject;
  SERVICE_PUBLIC_KEYS: Record<string, readonly KeyObject[]>;
}

/**
 * Service identity on the TCP messages between services (docs/security.md,
 * "Between services"): each message is signed with the calling service's own
 * Ed25519 private key over its name, the time, a nonce, the pattern and the
 * payload; the callee verifies with the public keys of the services it takes
 * messages from, and holds no private key but its own. So a message names who
 * really sent it: payment, which holds reservation's public key, cannot sign
 * as reservation, and neither can scrap. A process that can reach a TCP port
 * but holds no service's key cannot charge, refund or read a payment; a
 * message signed for one pattern cannot be replayed on another, nor an hour
 * later. Replays inside the window are harmless by design: every message is
 * idempotent (charges by reservation id, refunds of a refunded payment).
 */
export class MessageAuth {
  private constructor(
    readonly service: string,
    private readonly privateKey: KeyObject,
    private readonly publicKeys: ReadonlyMap<string, readonly KeyObject[]>,
    private readonly now: () => number,
  ) {}

  /**
   * Signs as `service` with `privateKey` (its Ed25519 key); accepts messages
   * from the services `publicKeys` names, each verified with its public key
   * (or any of its keys: two while one is rotated).
   */
  static of(
    service: string,
    privateKey: KeyObject,
    publicKeys: Record<string, KeyObject | readonly KeyObject[]>,
    now: () => number = Date.now,
  ): MessageAuth {
    if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'ed25519')
      throw new Error('a service signs its messages with an Ed25519 private key');
    const keys = new Map<string, readonly KeyObject[]>();
    for (const [name, given] of Object.entries(publicKeys)) {
      const list = Array.isArray(given) ? given : [given as KeyObject];
      if (list.some((k) => k.type !== 'public' || k.asymmetricKeyType !== 'ed25519'))
        throw new Error(`the key of ${name} is not an Ed25519 public key`);
      keys.set(name, list);
    }
    return new MessageAuth(service, privateKey, keys, now);
  }

  /** A service's keys as its validated config holds them (SERVICE_SIGNING_KEY, SERVICE_PUBLIC_KEYS). */
  static fromConfig(c: MessageKeyConfig): MessageAuth {
    return MessageAuth.of(c.SERVICE_NAME, c.SERVICE_SIGNING_KEY, c.SERVICE_PUBLIC_KEYS);
  }

  /**
   * The dev profile's keys: signs as `service` with its dev key, accepts every
   * service's dev key. For tests and demos against a dev stack.
   */
  static dev(service: string, now: () => number = Date.now): MessageAuth {
    return MessageAuth.of(
      service,
      privateKeyFromSeed(devServiceSeed(service)),
      devPublicKeys(),
      now,
    );
  }

  /**
   * A tool's signer (the demos): signs as `service` with the seed in
   * `SERVICE_SIGNING_KEY` when set (that service's own key), with its dev key
   * otherwise; it verifies nothing.
   */
  static signer(service: string, env: NodeJS.ProcessEnv = process.env): MessageAuth {
    const seed = env.SERVICE_SIGNING_KEY?.trim();
    return MessageAuth.of(
      service,
      privateKeyFromSeed(seed ? Buffer.from(seed, 'base64url') : devServiceSeed(service)),
      {},
    );
  }

  /** The services whose messages this one can verify. */
  get callers(): readonly string[] {
    return [...this.publicKeys.keys()];
  }

  sign(pattern: string, payload: unknown): MessageSignature {
    const iat = this.now();
    const nonce = randomBytes(12).toString('base64url');
    const data = signedBytes(this.service, iat, nonce, pattern, payload);
    return {
      svc: this.service,
      iat,
      nonce,
      sig: sign(null, data, this.privateKey).toString('base64url'),
    };
  }

  /**
   * The calling service when `signature` is by the service it names, verified
   * with that service's public key over `pattern` and `payload`, fresh, and by
   * one of `allowed` (when given); otherwise why not.
   */
  verify(
    pattern: string,
    payload: unknown,
    signature: unknown,
    allowed?: readonly string[],
  ): { caller: string } | { refused: MessageRefusal } {
    if (signature === undefined) return { refused: 'unsigned' };
    const s = signature as Partial<MessageSignature>;
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s.svc !== 'string' ||
      typeof s.iat !== 'number' ||
      typeof s.nonce !== 'string' ||
      typeof s.sig !== 'string'
    )
      return { refused: 'malformed_signature' };
    const keys = this.publicKeys.get(s.svc);
    if (!keys) return { refused: 'unknown_caller' };
    const data = signedBytes(s.svc, s.iat, s.nonce, pattern, payload);
    const sig = Buffer.from(s.sig, 'base64url');
    if (!keys.some((key) => verify(null, data, key, sig))) return { refused: 'bad_signature' };
    if (Math.abs(this.now() - s.iat) > MESSAGE_MAX_AGE_MS) return { refused: 'stale' };
    if (allowed && !allowed.includes(s.svc)) return { refused: 'caller_not_allowed' };
    return { caller: s.svc };
  }
}

/** What a signature covers: caller, time, nonce, pattern and payload, in one unambiguous string. */
function signedBytes(
  svc: string,
  iat: number,
  nonce: string,
  pattern: string,
  payload: unknown,
): Buffer {
  return Buffer.from(JSON.stringify([svc, iat, nonce, pattern, payload ?? null]));
}
