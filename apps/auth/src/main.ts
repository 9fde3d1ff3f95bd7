/**
 * auth: who a caller is (docs/patterns/identity.md). Issues access tokens for
 * the demo users (`POST /api/auth/token`), publishes the public keys that
 * verify them (`GET /api/auth/.well-known/jwks.json`), and rotates its keys
 * (`POST /admin/keys/rotate`, on its own port only).
 *   node scripts/run.cjs apps/auth/src/main.ts   (environment: config.ts)
 */
import './tracing';
import { runHttpApp } from '@stayline/service-runtime';
import { AppModule } from './app.module';
import { authConfig } from './config';

// behind the gateway with two instances: each answer names the one that served it, as the services' do
void runHttpApp(
  'auth',
  () => authConfig(),
  (c) => AppModule.forRoot(c),
  { instanceIdHeader: true },
);
