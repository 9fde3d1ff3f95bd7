/**
 * failover-agent: automated failover of the MariaDB primary through the
 * coordinator (docs/patterns/failover.md). Run two or more; the elected leader
 * acts. HTTP only: `/health/live` (role), `/health`, `/metrics`, and the
 * admin routes `POST /admin/switchover`, `POST /admin/nodes` (Bearer ADMIN_TOKEN).
 *   node scripts/run.cjs apps/failover-agent/src/main.ts   (environment: config.ts)
 */
import { bootstrapService } from '@stayline/service-runtime';
import { Logger } from 'nestjs-pino';
import { AppModule } from './app.module';
import { agentConfig } from './config';

async function main(): Promise<void> {
  const c = agentConfig();
  await bootstrapService({
    module: AppModule.forRoot(c),
    host: c.HOST,
    httpPort: c.HTTP_PORT,
    logger: (app) => app.get(Logger),
  });
}

main().catch((err: Error) => {
  console.error(`failover-agent failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
