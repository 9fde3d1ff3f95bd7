/**
 * recommendation: ranks listings for a user (TCP `recommendation.rank`, called
 * by reservation as a non-essential dependency) and learns from reservation
 * events. See docs/patterns/circuit-breaker.md for why its absence is survivable.
 */
import { runMigrations } from '@stayline/database';
import { bootstrapService } from '@stayline/service-runtime';
import { Logger } from 'nestjs-pino';
import { AppModule, RECOMMENDATION_MIGRATIONS } from './app.module';
import { recommendationConfig } from './config';

async function main(): Promise<void> {
  const config = recommendationConfig();
  await runMigrations(
    {
      database: config.DB_NAME,
      user: config.DB_USER,
      password: config.DB_PASSWORD,
      topology: { epoch: 0, primary: config.DB_PRIMARY, replicas: config.DB_REPLICAS },
    },
    RECOMMENDATION_MIGRATIONS,
  );
  await bootstrapService({
    module: AppModule.forRoot(config),
    host: config.HOST,
    httpPort: config.HTTP_PORT,
    tcpPort: config.TCP_PORT,
    logger: (app) => app.get(Logger),
  });
}

main().catch((err: Error) => {
  console.error(`recommendation failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
