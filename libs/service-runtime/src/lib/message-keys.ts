import type { KeyObject } from 'node:crypto';
import { z } from 'zod';
import {
  devPublicKeys,
  devServiceSeed,
  MESSAGE_SERVICES,
  privateKeyFromSeed,
  publicKeyFromRaw,
  rawPublicKey,
  seedOf,
} from './message-auth';
import { DEV_ONLY_PREFIX, DEV_PROFILE, PROFILE_VARIABLE } from './secrets';

/** An Ed25519 seed or public key as the environment spells it: 32 bytes, base64url. */
const KEY_TEXT = /^[A-Za-z0-9_-]{43}$/;
const HOW = 'npm run -s keys:service -- <name> prints a pair';

/** A public `dev-only-*` secret the dev profile derives the keys from, in place of a key. */
interface DevDerived {
  devSecret: string;
}
const devDerived = (s: string): DevDerived | undefined =>
  s.startsWith(DEV_ONLY_PREFIX) ? { devSecret: s } : undefined;

/**
 * The keys of the signed messages between services (message-auth.ts):
 *
 * - `SERVICE_SIGNING_KEY`: this service's own Ed25519 private key, its 32-byte
 *   seed in base64url. It signs every message the service sends.
 * - `SERVICE_PUBLIC_KEYS`: `reservation=<key>,...`, the raw 32-byte public keys
 *   (base64url) of the services it takes messages from; a message from any
 *   other is refused. A name given twice has two keys, either one accepted
 *   (while its key is rotated). Empty or unset: it takes messages from none.
 *
 * Either may instead hold a public `dev-only-*` secret, like every other
 * secret of the dev profile: the keys are then derived from it, each
 * service's from its name (HKDF). Both are resolved by
 * {@link resolveMessageKeys}, after the whole environment is read: with
 * `STAYLINE_PROFILE=dev`, an unset one is derived from
 * {@link DEV_SERVICE_KEYS_SECRET}; in any other profile the signing key is
 * required, and a `dev-only-*` value or a key derived from that public secret
 * is refused.
 */
export const messageKeySettings = {
  SERVICE_SIGNING_KEY: z
    .string()
    .trim()
    .transform((s, ctx): KeyObject | DevDerived => {
      const dev = devDerived(s);
      if (dev) return dev;
      if (KEY_TEXT.test(s)) return privateKeyFromSeed(Buffer.from(s, 'base64url'));
      ctx.addIssue({
        code: 'custom',
        message: `must be a 32-byte Ed25519 seed in base64url (${HOW})`,
      });
      return z.NEVER;
    })
    .optional(),
  SERVICE_PUBLIC_KEYS: z
    .string()
    .trim()
    .transform((s, ctx): Record<string, KeyObject[]> | DevDerived => {
      const dev = devDerived(s);
      if (dev) return dev;
      const keys: Record<string, KeyObject[]> = {};
      for (const entry of s.split(',').map((e) => e.trim())) {
        if (!entry) continue;
        const m = /^([a-z][a-z0-9-]{0,31})=(.*)$/.exec(entry);
        if (!m || !KEY_TEXT.test(m[2])) {
          ctx.addIssue({
            code: 'custom',
            message: `expected service=<32-byte Ed25519 public key, base64url>, comma-separated; got "${entry.slice(0, 40)}" (${HOW})`,
          });
          continue;
        }
        (keys[m[1]] ??= []).push(publicKeyFromRaw(Buffer.from(m[2], 'base64url')));
      }
      return keys;
    })
    .optional(),
};

interface MessageKeySettings {
  STAYLINE_PROFILE?: string;
  SERVICE_SIGNING_KEY?: KeyObject | DevDerived;
  SERVICE_PUBLIC_KEYS?: Record<string, KeyObject[]> | DevDerived;
}

/** {@link messageKeySettings} once resolved: both keys always there. */
export type WithMessageKeys<C> = Omit<C, 'SERVICE_SIGNING_KEY' | 'SERVICE_PUBLIC_KEYS'> & {
  SERVICE_SIGNING_KEY: KeyObject;
  SERVICE_PUBLIC_KEYS: Record<string, KeyObject[]>;
};

const isDevDerived = (v: unknown): v is DevDerived =>
  typeof v === 'object' && v !== null && 'devSecret' in v;

/**
 * Resolves `service`'s {@link messageKeySettings} (a config schema's last
 * transform) with the profile the environment names, not the one the schema
 * was built with: in dev, what is unset or `dev-only-*` is derived; in any
 * other profile, an unset signing key, a `dev-only-*` value, or a signing or
 * public key of the dev derivation is an error naming the variable, never the
 * value.
 */
export function resolveMessageKeys<C extends object>(
  service: string,
  config: C,
  ctx: z.RefinementCtx,
): WithMessageKeys<C> {
  const c = config as C & MessageKeySettings;
  const { SERVICE_SIGNING_KEY: signing, SERVICE_PUBLIC_KEYS: publicKeys } = c;
  if (c[PROFILE_VARIABLE] === DEV_PROFILE)
    return {
      ...c,
      SERVICE_SIGNING_KEY:
        signing === undefined || isDevDerived(signing)
          ? privateKeyFromSeed(devServiceSeed(service, signing?.devSecret))
          : signing,
      SERVICE_PUBLIC_KEYS:
        publicKeys === undefined || isDevDerived(publicKeys)
          ? devPublicKeys(publicKeys?.devSecret)
          : publicKeys,
    };
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: 'custom', path: [path], message });
  const outsideDev = `, accepted only with ${PROFILE_VARIABLE}=${DEV_PROFILE}: set a key of its own (${HOW})`;
  for (const [name, value] of Object.entries({
    SERVICE_SIGNING_KEY: signing,
    SERVICE_PUBLIC_KEYS: publicKeys,
  }))
    if (isDevDerived(value)) issue(name, `holds a public ${DEV_ONLY_PREFIX}* value${outsideDev}`);
  if (!signing)
    issue(
      'SERVICE_SIGNING_KEY',
      `required: this service's own Ed25519 key signs its messages to the others (${HOW})`,
    );
  else if (
    !isDevDerived(signing) &&
    MESSAGE_SERVICES.some((s) => devServiceSeed(s).equals(seedOf(signing)))
  )
    issue('SERVICE_SIGNING_KEY', `is a dev key, derived from a public secret${outsideDev}`);
  const devPublic = Object.values(devPublicKeys()).flat().map(rawPublicKey);
  if (publicKeys && !isDevDerived(publicKeys))
    for (const [name, keys] of Object.entries(publicKeys))
      if (keys.some((key) => devPublic.some((d) => d.equals(rawPublicKey(key)))))
        issue(
          'SERVICE_PUBLIC_KEYS',
          `the key of ${name} is a dev key, one anybody can sign with${outsideDev}`,
        );
  return {
    ...c,
    SERVICE_SIGNING_KEY: signing as KeyObject,
    SERVICE_PUBLIC_KEYS: (publicKeys ?? {}) as Record<string, KeyObject[]>,
  };
}
