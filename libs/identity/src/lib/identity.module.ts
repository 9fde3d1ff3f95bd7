import { DynamicModule, Module } from '@nestjs/common';
import { BearerAuthGuard, TOKEN_VERIFIER } from './bearer-auth.guard';
import { RemoteKeySetOptions, remoteKeySet } from './remote-key-set';
import { TokenVerifier, TokenVerifierOptions } from './token-verifier';

export interface IdentityModuleOptions extends TokenVerifierOptions {
  /** The auth service's JWKS, e.g. `http://auth:3000/api/auth/.well-known/jwks.json`. */
  jwksUrl?: string;
  jwks?: RemoteKeySetOptions;
  /** A verifier of one's own instead (the auth service, tests). */
  verifier?: TokenVerifier;
}

/**
 * What a service imports to know its callers: a {@link TokenVerifier} over the
 * auth service's published keys, and the {@link BearerAuthGuard} that uses it
 * (`@UseGuards(BearerAuthGuard)`, `@RequireScope('admin')`, `@CurrentUser()`).
 */
@Module({})
export class IdentityModule {
  static forRoot(o: IdentityModuleOptions): DynamicModule {
    if (!o.verifier && !o.jwksUrl) throw new Error('IdentityModule: give jwksUrl or a verifier');
    const verifier = o.verifier ?? new TokenVerifier(remoteKeySet(o.jwksUrl as string, o.jwks), o);
    return {
      module: IdentityModule,
      providers: [{ provide: TOKEN_VERIFIER, useValue: verifier }, BearerAuthGuard],
      exports: [TOKEN_VERIFIER, BearerAuthGuard],
    };
  }
}
