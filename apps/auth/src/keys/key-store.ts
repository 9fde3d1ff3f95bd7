import { ConflictException } from '@nestjs/common';
import { SigningKeySet } from '@stayline/identity';

/** Injection token of the {@link KeyStore}. */
export const KEY_STORE = Symbol('KEY_STORE');

/**
 * Where the issuer's signing keys live: a state file (native stack) or a
 * secret (compose, Kubernetes). Both hand out the current set at once, from
 * memory; a file store also follows rotations other instances make.
 */
export interface KeyStore {
  /** Where the keys come from, for logs and the admin view. */
  readonly source: string;
  current(): SigningKeySet;
  /** A new key signs from now on; the old ones retire once their tokens have expired. */
  rotate(): Promise<SigningKeySet>;
  close(): void;
}

/** Keys derived from secrets in the environment: rotated by changing the secret, not here. */
export class ConfiguredKeyStore implements KeyStore {
  readonly source = 'AUTH_SIGNING_SECRETS';

  private constructor(private readonly set: SigningKeySet) {}

  static async open(secrets: readonly string[]): Promise<ConfiguredKeyStore> {
    return new ConfiguredKeyStore(await SigningKeySet.fromSecrets(secrets));
  }

  current(): SigningKeySet {
    return this.set;
  }

  rotate(): Promise<SigningKeySet> {
    throw new ConflictException({
      error: 'keys_from_configuration',
      message:
        'the signing keys come from AUTH_SIGNING_SECRETS: append a new secret, roll out, and remove the old one once the token lifetime has passed (docs/patterns/identity.md)',
    });
  }

  close(): void {
    // nothing to release
  }
}
