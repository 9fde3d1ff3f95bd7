import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
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
  /** HMAC-SHA-256 of the above, the pattern and the payload, base64url. */
  sig: string;
}

/** Why a message was refused. */
export type MessageRefusal =
  'unsigned' | 'bad_signature' | 'stale' | 'caller_not_allowed' | 'malformed_signature';

const CALLABLE_BY = 'stayline:callable-by';

/**
 * A message handler only these services may call (`@CallableBy('reservation')`):
 * a message signed by any other service is refused. Without it, any service
 * holding the key may call.
 */
export const CallableBy = (...services: string[]) => SetMetadata(CALLABLE_BY, services);

/** The services {@link CallableBy} names on a handler, if any. */
export function callableBy(handler: object): readonly string[] | undefined {
  return Reflect.getMetadata(CALLABLE_BY, handler) as string[] | undefined;
}

/**
 * Service identity on the TCP messages between services (docs/security.md,
 * "Between services"): each message is signed with HMAC-SHA-256 over the
 * caller's name, the time, a nonce, the pattern and the payload, with a key
 * every service derives from the platform's admin secret, `ADMIN_TOKEN` (HKDF, its own label:
 * the secret itself is never used as the key). A process that can reach a TCP
 * port but holds no key cannot charge, refund or read a payment; a message
 * signed for one pattern cannot be replayed on another, nor an hour later.
 * Replays inside the window are harmless by design: every message is
 * idempotent (charges by reservation id, refunds of a refunded payment).
 * What it does not give: services tell each other apart only by what they
 * claim, since they share the key (per-service keys, mTLS, are the next step).
 */
export class MessageAuth {
  private constructor(
    readonly service: string,
    private readonly key: Buffer,
    private readonly now: () => number,
  ) {}

  /** Signs as `service`, with the key derived from `secret` (ADMIN_TOKEN, which opens no route). */
  static fromSecret(service: string, secret: string, now: () => number = Date.now): MessageAuth {
    const key = Buffer.from(hkdfSync('sha256', secret, 'stayline', 'service-messages', 32));
    return new MessageAuth(service, key, now);
  }

  sign(pattern: string, payload: unknown): MessageSignature {
    const iat = this.now();
    const nonce = randomBytes(12).toString('base64url');
    return {
      svc: this.service,
      iat,
      nonce,
      sig: this.mac(this.service, iat, nonce, pattern, payload),
    };
  }

  /**
   * The calling service when `signature` is this key's over `pattern` and
   * `payload`, fresh, and by one of `allowed` (when given); otherwise why not.
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
    const expected = Buffer.from(this.mac(s.svc, s.iat, s.nonce, pattern, payload), 'base64url');
    const given = Buffer.from(s.sig, 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { refused: 'bad_signature' };
    if (Math.abs(this.now() - s.iat) > MESSAGE_MAX_AGE_MS) return { refused: 'stale' };
    if (allowed && !allowed.includes(s.svc)) return { refused: 'caller_not_allowed' };
    return { caller: s.svc };
  }

  private mac(svc: string, iat: number, nonce: string, pattern: string, payload: unknown): string {
    return createHmac('sha256', this.key)
      .update(JSON.stringify([svc, iat, nonce, pattern, payload ?? null]))
      .digest('base64url');
  }
}
