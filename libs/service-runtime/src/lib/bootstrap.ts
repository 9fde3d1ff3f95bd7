import {
  DynamicModule,
  INestApplication,
  LoggerService,
  Type,
  UnsupportedMediaTypeException,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { MicroserviceOptions, Transport } from '@nestjs/microservices';
import { TCP_FRAMING } from '@stayline/contracts';
import { requestIdMiddleware } from '@stayline/observability';
import express, { NextFunction, Request, Response } from 'express';
import { toErrorBody } from './error-body';
import { HttpErrorFilter } from './http-error.filter';
import { JSON_MAX_DEPTH, refuseDeepJson } from './json-depth';
import type { MessageAuth } from './message-auth';
import { callersWithoutKeys, RpcContextInterceptor } from './rpc-context';
import { createValidationPipe } from './validation';

/** The request bodies an endpoint accepts. */
const JSON_TYPES = ['application/json', 'application/*+json'];

/** The response header that names the instance that answered. */
export const INSTANCE_ID_HEADER = 'x-instance-id';

export interface ServiceBootstrapOptions {
  /** The app's root module. */
  module: Type<unknown> | DynamicModule;
  host: string;
  httpPort: number;
  /**
   * Also serve `@nestjs/microservices` TCP on this port (a hybrid app). A connection
   * that sends more than one message's bound (`TCP_MAX_MESSAGE_CHARS`) without
   * completing it is closed.
   */
  tcpPort?: number;
  /** Largest accepted JSON body (default 64 kB); larger ones get a 413 JSON error. */
  bodyLimit?: string;
  /** Deepest nesting of arrays and objects in a JSON body (default 32); deeper ones get a 400 JSON error. */
  jsonMaxDepth?: number;
  /** Last set-up before the servers listen (routes added here come before Nest's 404 handler). */
  configure?: (app: INestApplication) => void;
  /**
   * Named in an `X-Instance-Id` response header, so a client behind the gateway
   * (and the load-balancing demo) can see which instance answered.
   */
  instanceId?: string;
  /**
   * Refuse TCP messages not signed by a service whose public key it holds (see
   * MessageAuth; `@CallableBy` narrows a handler to named callers). A handler
   * callable by a service it holds no key for stops the start.
   */
  messageAuth?: MessageAuth;
  /** A logger to hand Nest once the app exists (e.g. nestjs-pino's). */
  logger?: (app: INestApplication) => LoggerService | undefined;
}

/**
 * Starts a stayline service as a NestJS hybrid app: HTTP for the gateway and
 * health, TCP for calls from other services. Inputs are validated, every error
 * is JSON, and SIGTERM runs the shutdown hooks in order: deregister from
 * discovery first (`beforeApplicationShutdown`), then stop accepting and drain.
 */
export async function bootstrapService(o: ServiceBootstrapOptions): Promise<INestApplication> {
  const app = await NestFactory.create(o.module, { bodyParser: false, bufferLogs: true });
  if (o.messageAuth) {
    const missing = callersWithoutKeys(app, o.messageAuth);
    if (missing.size) {
      await app.close();
      throw new Error(
        `SERVICE_PUBLIC_KEYS holds no key for ${[...missing]
          .map(([caller, handlers]) => `${caller} (${handlers.join(', ')} take its messages)`)
          .join('; ')}: every message of theirs would be refused`,
      );
    }
  }
  const logger = o.logger?.(app);
  if (logger) app.useLogger(logger);
  const instance = app.getHttpAdapter().getInstance() as express.Express;
  instance.disable('x-powered-by');
  // the request id first, so even a body that fails to parse is answered with it
  app.use(requestIdMiddleware);
  if (o.instanceId) {
    const id = o.instanceId;
    app.use((_req: Request, res: Response, next: NextFunction) => {
      res.setHeader(INSTANCE_ID_HEADER, id);
      next();
    });
  }
  // a body in another format would be ignored and read as an empty object: refuse it, saying why
  app.use((req: Request, res: Response, next: NextFunction) => {
    const empty =
      req.headers['transfer-encoding'] === undefined &&
      Number(req.headers['content-length'] ?? 0) === 0;
    if (empty || req.is(JSON_TYPES)) return next();
    const { body } = toErrorBody(
      new UnsupportedMediaTypeException(
        `send the body as JSON (content-type: application/json); got ${req.headers['content-type'] ?? 'no content-type'}`,
      ),
    );
    res.status(415).json(body);
  });
  app.use(
    express.json({
      limit: o.bodyLimit ?? '64kb',
      type: JSON_TYPES,
      verify: refuseDeepJson(o.jsonMaxDepth ?? JSON_MAX_DEPTH),
    }),
  );
  // body-parser errors (malformed, too large, too deep) happen before Nest routes: answer them as JSON here
  app.use((err: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (!err) return next();
    const { status, body } = toErrorBody(err);
    res.status(status).json(body);
  });
  app.useGlobalPipes(createValidationPipe());
  app.useGlobalFilters(new HttpErrorFilter());
  // a TCP message carries its caller's request id, consistency token and signature
  app.useGlobalInterceptors(new RpcContextInterceptor(o.messageAuth));
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  if (o.tcpPort !== undefined) {
    app.connectMicroservice<MicroserviceOptions>(
      { transport: Transport.TCP, options: { host: o.host, port: o.tcpPort, ...TCP_FRAMING } },
      { inheritAppConfig: true },
    );
    await app.startAllMicroservices();
  }
  o.configure?.(app);
  await app.listen(o.httpPort, o.host);
  return app;
}
