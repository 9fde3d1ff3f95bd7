/**
 * failover-agent: automated failover of the MariaDB primary through the
 * coordinator (docs/patterns/failover.md). Run two or more; the elected leader
 * acts. HTTP only: `/health/live` (role), `/health`, `/metrics`, and the
 * admin routes `POST /admin/switchover`, `POST /admin/nodes` (an access token
 * with the `admin` scope).
 *   node scripts/run.cjs apps/failover-agent/src/main.ts   (environment: config.ts)
 */
import { runHttpApp } from '@stayline/service-runtime';
import { AppModule } from './app.module';
import { agentConfig } from './config';

void runHttpApp(
  'failover-agent',
  () => agentConfig(),
  (c) => AppModule.forRoot(c),
);
