/**
 * payment: the ledger. TCP `payment.charge` (idempotent by reservation id),
 * `payment.refund`, `payment.get` for the reservation service; HTTP look-ups
 * for the gateway.
 */
import { runMigrations } from '@stayline/database';
import { bootstrapService } from '@stayline/service-runtime';
import { Logger } from 'nestjs-pino';
import { AppModule, PAYMENT_MIGRATIONS } from './app.module';
import { paymentConfig } from './config';

async function main(): Promise<void> {
  const config = paymentConfig();
  await runMigrations(
    {
      database: config.DB_NAME,
      user: config.DB_USER,
      password: config.DB_PASSWORD,
      topology: { epoch: 0, primary: config.DB_PRIMARY, replicas: config.DB_REPLICAS },
    },
    PAYMENT_MIGRATIONS,
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
  console.error(`payment failed to start: ${err.stack ?? err.message}`);
  process.exit(1);
});
