import { DynamicModule, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import { BalancedHttpClient, SERVICE_REGISTRY, ServiceResolver } from '@stayline/discovery';
import { BearerAuthGuard, remoteKeySet, TOKEN_VERIFIER, TokenVerifier } from '@stayline/identity';

/** What {@link CallerIdentityModule} reads from a service's validated config. */
export interface CallerIdentityConfig {
  AUTH_ISSUER: string;
  AUTH_AUDIENCE: string;
}

/** The service that issues the tokens, as registered in discovery. */
export const AUTH_SERVICE = 'auth';
/** Where an auth instance publishes its public keys. */
export const JWKS_PATH = '/api/auth/.well-known/jwks.json';

/**
 * The auth service's key set as every other service reads it: fetched from one
 * of the auth instances discovery lists, through a balanced HTTP client (an
 * instance that fails is skipped for the next), the first time a token is
 * verified; then cached and refetched as {@link remoteKeySet} says. No URL to
 * configure: a new or moved auth instance is found like any other service.
 */
@Injectable()
export class DiscoveredKeys implements OnModuleDestroy {
  private client?: Promise<BalancedHttpClient>;

  constructor(@Inject(SERVICE_REGISTRY) private readonly registry: ServiceResolver) {}

  /** `fetch` for the key set: the path of the URL, asked of an auth instance. */
  readonly fetch = async (url: string, init: { headers: Headers; signal: AbortSignal }) => {
    this.client ??= BalancedHttpClient.connect({
      resolver: this.registry,
      service: AUTH_SERVICE,
      timeoutMs: 2_000,
      retries: 1,
    }).catch((err: unknown) => {
      this.client = undefined; // a failed connect is tried again at the next fetch
      throw err;
    });
    const client = await this.client;
    return client.request(new URL(url).pathname, {
      headers: init.headers,
      signal: init.signal,
      idempotent: true,
    });
  };

  async onModuleDestroy(): Promise<void> {
    await (await this.client?.catch(() => undefined))?.close();
  }
}

/**
 * A {@link TokenVerifier} over the auth service's key set as `keys` fetches it
 * (cached 10 minutes, fetched again on a new `kid` at most once per 30 s; when
 * no auth instance answers, a request gets 503 `keys_unavailable`). The
 * services' verifier, and the failover agents' for their admin routes.
 */
export function discoveredVerifier(keys: DiscoveredKeys, c: CallerIdentityConfig): TokenVerifier {
  return new TokenVerifier(
    remoteKeySet(`http://${AUTH_SERVICE}${JWKS_PATH}`, { fetch: keys.fetch }),
    {
      issuer: c.AUTH_ISSUER,
      audience: c.AUTH_AUDIENCE,
    },
  );
}

/**
 * Who is calling (docs/patterns/identity.md): the {@link TokenVerifier} over the
 * auth service's published keys and the {@link BearerAuthGuard} a controller
 * puts on its routes (`@UseGuards(BearerAuthGuard)`, then `@CurrentUser()` in a
 * handler). Global, so every controller of the app can use the guard.
 */
@Module({})
export class CallerIdentityModule {
  static forRoot(c: CallerIdentityConfig): DynamicModule {
    return {
      module: CallerIdentityModule,
      global: true,
      providers: [
        DiscoveredKeys,
        {
          provide: TOKEN_VERIFIER,
          inject: [DiscoveredKeys],
          useFactory: (keys: DiscoveredKeys) => discoveredVerifier(keys, c),
        },
        BearerAuthGuard,
      ],
      exports: [TOKEN_VERIFIER, BearerAuthGuard],
    };
  }
}
