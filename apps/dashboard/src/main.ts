/**
 * dashboard: the live topology page at `/dashboard` (docs/dashboard.md):
 * instances with health and in-flight requests, breakers, the failover
 * leader and its fencing token, MariaDB with lag and semi-sync, Redis and its
 * Sentinels, etcd, flags, and a timeline, pushed over server-sent events.
 *   node scripts/run.cjs apps/dashboard/src/main.ts   (environment: config.ts)
 */
import { runHttpApp } from '@stayline/service-runtime';
import { AppModule } from './app.module';
import { dashboardConfig } from './config';

void runHttpApp(
  'dashboard',
  () => dashboardConfig(),
  (c) => AppModule.forRoot(c),
  // the services' OTLP exports: up to 512 spans a batch (libs/observability tracing-sdk.ts)
  { bodyLimit: '8mb' },
);
