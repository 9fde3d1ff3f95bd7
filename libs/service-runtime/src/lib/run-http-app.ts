import { DynamicModule, INestApplication } from '@nestjs/common';
import { Logger } from 'nestjs-pino';
import { bootstrapService } from './bootstrap';

/**
 * The `main` of an HTTP-only app with no database of its own (the failover
 * agent, the dashboard): validates its config, starts it with its pino
 * logger; any failure ends the process with the reason, so a supervisor sees
 * it. Services with a database use {@link runService}, which migrates first.
 */
export function runHttpApp<C extends { HOST: string; HTTP_PORT: number; INSTANCE_ID?: string }>(
  name: string,
  config: () => C,
  root: (config: C) => DynamicModule,
  options: {
    /** Name the instance in an `X-Instance-Id` header, as the services behind the gateway do. */
    instanceIdHeader?: boolean;
    /** Largest JSON body accepted (default 64kb): the dashboard takes OTLP batches of spans. */
    bodyLimit?: string;
  } = {},
): Promise<INestApplication | void> {
  const start = () => {
    const c = config();
    return bootstrapService({
      module: root(c),
      host: c.HOST,
      httpPort: c.HTTP_PORT,
      instanceId: options.instanceIdHeader ? c.INSTANCE_ID : undefined,
      bodyLimit: options.bodyLimit,
      logger: (app) => app.get(Logger),
    });
  };
  return Promise.resolve()
    .then(start)
    .catch((err: Error) => {
      console.error(`${name} failed to start: ${err.stack ?? err.message}`);
      process.exit(1);
    });
}
