/**
 * @stayline/identity: who makes a request (docs/patterns/identity.md).
 * Access tokens issued and verified with asymmetric keys (EdDSA) and a key set
 * that rotates, the guard and decorators a NestJS service adopts, and password
 * hashing with scrypt.
 */
export * from './lib/access-token';
export * from './lib/signing-key-set';
export * from './lib/token-issuer';
export * from './lib/token-verifier';
export * from './lib/remote-key-set';
export * from './lib/bearer-token';
export * from './lib/bearer-auth.guard';
export * from './lib/identity.module';
export * from './lib/password-hasher';
