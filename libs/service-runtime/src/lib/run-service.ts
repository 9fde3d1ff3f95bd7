import { DynamicModule, INestApplication } from '@nestjs/common';
import { MigrationClass, runMigrations } from '@stayline/database';
import { Logger } from 'nestjs-pino';
import { bootstrapService } from './bootstrap';

/** The part of a service's validated config that starting it needs. */
export interface RunnableConfig {
  INSTANCE_ID: string;
  HOST: string;
  HTTP_PORT: number;
  TCP_PORT: number;
  DB_NAME: string;
  DB_USER: string;
  DB_PASSWORD: string;
  DB_PRIMARY: { name: string; host: string; port: number };
  DB_REPLICAS: Array<{ name: string; host: string; port: number }>;
}

/**
 * A service's `main`: runs its schema migrations on the primary (one instance at
 * a time), then starts the hybrid app with its pino logger. Any failure ends the
 * process with the reason, so a supervisor sees it.
 */
export function runService<C extends RunnableConfig>(
  name: string,
  config: () => C,
  root: (config: C) => DynamicModule,
  migrations: MigrationClass[],
  configure?: (app: INestApplication) => void,
): Promise<INestApplication | void> {
  const start = async () => {
    const c = config();
    await runMigrations(
      {
        database: c.DB_NAME,
        user: c.DB_USER,
        password: c.DB_PASSWORD,
        topology: { epoch: 0, primary: c.DB_PRIMARY, replicas: c.DB_REPLICAS },
      },
      migrations,
    );
    return bootstrapService({
      module: root(c),
      host: c.HOST,
      httpPort: c.HTTP_PORT,
      tcpPort: c.TCP_PORT,
      instanceId: c.INSTANCE_ID,
      logger: (app) => app.get(Logger),
      configure,
    });
  };
  return start().catch((err: Error) => {
    console.error(`${name} failed to start: ${err.stack ?? err.message}`);
    process.exit(1);
  });
}
