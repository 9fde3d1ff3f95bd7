/**
 * Generates a service's message-signing key pair (Ed25519), printed in the
 * form the environment takes it (docs/security.md, "Between services"):
 *
 *   npm run -s keys:service -- reservation [payment ...]
 *
 * For each service named: `SERVICE_SIGNING_KEY=<seed>`, the secret only that
 * service's instances hold, and `<name>=<public key>`, the entry the services
 * it calls add to their `SERVICE_PUBLIC_KEYS` (public). Nothing is written to
 * disk. To rotate a key: add the new public key to the callees next to the old
 * one (the same name twice: either is accepted), give the service its new
 * seed, then remove the old public key.
 */
import { generateServiceKeys } from '@stayline/service-runtime';

const SERVICE_NAME = /^[a-z][a-z0-9-]{0,31}$/;

function main(names: string[]): number {
  if (!names.length || names.some((n) => !SERVICE_NAME.test(n))) {
    console.error(
      'usage: npm run -s keys:service -- <service> [<service> ...]\n' +
        '  a service is named in lower case, as in discovery: reservation, payment, ...',
    );
    return 2;
  }
  for (const name of names) {
    const { seed, publicKey } = generateServiceKeys(name);
    console.log(`# ${name}: its own signing key, a secret for the ${name} instances only`);
    console.log(`SERVICE_SIGNING_KEY=${seed}`);
    console.log(`# ${name}'s public key: an entry of SERVICE_PUBLIC_KEYS on each service it calls`);
    console.log(publicKey);
  }
  return 0;
}

process.exitCode = main(process.argv.slice(2));
