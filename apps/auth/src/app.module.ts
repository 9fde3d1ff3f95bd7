import { DynamicModule, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import {
  IdentityModule,
  PasswordHasher,
  TokenIssuer,
  TokenVerifier,
  DEFAULT_SCRYPT_COST,
} from '@stayline/identity';
import { OBSERVABILITY_LOGGER, ObservabilityModule } from '@stayline/observability';
import { coordinatorImports } from '@stayline/service-runtime';
import type { Logger } from 'pino';
import { TokensAdminController } from './admin/tokens-admin.controller';
import { KeysAdminController } from './admin/keys-admin.controller';
import { AUTH_SETTINGS } from './auth.settings';
import { AuthConfig } from './config';
import { FileKeyStore } from './keys/file-key-store';
import { ConfiguredKeyStore, KEY_STORE, KeyStore } from './keys/key-store';
import { LoginThrottle } from './tokens/login-throttle';
import { LoginUseCase } from './tokens/login.use-case';
import { TokensController } from './tokens/tokens.controller';
import { DEMO_USERS, UserDirectory } from './users/user-directory';

/** Clock skew verifiers tolerate; a replaced key stays published this much past its last token. */
const CLOCK_TOLERANCE_S = 5;

class KeyStoreCloser implements OnApplicationShutdown {
  constructor(@Inject(KEY_STORE) private readonly keys: KeyStore) {}
  onApplicationShutdown(): void {
    this.keys.close();
  }
}

/** The key store the config names: a state file, or secrets given by configuration. */
async function openKeyStore(c: AuthConfig, logger: Logger): Promise<KeyStore> {
  const store = c.AUTH_KEYS_FILE
    ? await FileKeyStore.open(c.AUTH_KEYS_FILE, {
        retireAfterMs: (c.AUTH_TOKEN_TTL_S + CLOCK_TOLERANCE_S) * 1000,
        reloadMs: c.AUTH_KEYS_RELOAD_MS,
        log: (m) => logger.info(m),
      })
    : await ConfiguredKeyStore.open(c.AUTH_SIGNING_SECRETS ?? []);
  const set = store.current();
  logger.info(
    { source: store.source, signing: set.current().kid, published: set.published().length },
    'signing keys loaded',
  );
  return store;
}

/**
 * auth imports logs, metrics, health and registration in discovery (so the
 * gateway routes `/api/auth` to it), but no database and no TCP port: its
 * users are the demo users, its keys in a state file or a secret.
 */
@Module({})
export class AppModule {
  static forRoot(c: AuthConfig): DynamicModule {
    // the store opens asynchronously (a provider); the verifier is built before it, and reads it per request
    const opened: { store?: KeyStore } = {};
    const keys = () => {
      if (!opened.store) throw new Error('the signing keys are not loaded yet');
      return opened.store.current();
    };
    const tokenOptions = { issuer: c.AUTH_ISSUER, audience: c.AUTH_AUDIENCE };
    return {
      module: AppModule,
      imports: [
        ObservabilityModule.forRoot({ service: c.SERVICE_NAME, level: c.LOG_LEVEL }),
        ...coordinatorImports(c),
        IdentityModule.forRoot({
          ...tokenOptions,
          clockToleranceS: CLOCK_TOLERANCE_S,
          verifier: TokenVerifier.local(keys, {
            ...tokenOptions,
            clockToleranceS: CLOCK_TOLERANCE_S,
          }),
        }),
      ],
      controllers: [TokensController, KeysAdminController, TokensAdminController],
      providers: [
        {
          provide: KEY_STORE,
          inject: [OBSERVABILITY_LOGGER],
          useFactory: async (logger: Logger) => (opened.store = await openKeyStore(c, logger)),
        },
        KeyStoreCloser,
        {
          provide: TokenIssuer,
          inject: [KEY_STORE],
          useFactory: (store: KeyStore) =>
            new TokenIssuer(() => store.current(), {
              ...tokenOptions,
              ttlSeconds: c.AUTH_TOKEN_TTL_S,
            }),
        },
        {
          provide: UserDirectory,
          useFactory: () =>
            UserDirectory.create(
              DEMO_USERS.map((u) => ({
                id: u.id,
                scopes: u.scopes,
                password: c[u.passwordSetting as keyof AuthConfig] as string,
              })),
              new PasswordHasher({ ...DEFAULT_SCRYPT_COST, N: c.AUTH_SCRYPT_N }),
            ),
        },
        {
          provide: LoginThrottle,
          useValue: new LoginThrottle({
            attempts: c.AUTH_LOGIN_ATTEMPTS,
            windowMs: c.AUTH_LOGIN_WINDOW_S * 1000,
          }),
        },
        LoginUseCase,
        { provide: AUTH_SETTINGS, useValue: { trustedProxyHops: c.AUTH_TRUSTED_PROXY_HOPS } },
      ],
    };
  }
}
