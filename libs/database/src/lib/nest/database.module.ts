import {
  DynamicModule,
  InjectionToken,
  Module,
  ModuleMetadata,
  OnApplicationShutdown,
  OnModuleInit,
  Optional,
  OptionalFactoryDependency,
} from '@nestjs/common';
import { APP_INTERCEPTOR } from '@nestjs/core';
import { HealthRegistry, healthRegistry } from '@stayline/observability';
import { registerDatabaseHealth } from '../database-health';
import { ReplicaRouter } from '../replica-router';
import { ReplicaRouterOptions } from '../router-options';
import { ConsistencyTokenInterceptor } from './consistency-token.interceptor';

/** Injection token of the router's options. */
export const DATABASE_OPTIONS = Symbol('DATABASE_OPTIONS');

/** Options of {@link DatabaseModule.forRootAsync}. */
export interface DatabaseModuleAsyncOptions extends Pick<ModuleMetadata, 'imports'> {
  /** Builds the router's options (typically from the validated config). */
  useFactory: (...args: never[]) => ReplicaRouterOptions | Promise<ReplicaRouterOptions>;
  inject?: Array<InjectionToken | OptionalFactoryDependency>;
  /** Applies {@link ConsistencyTokenInterceptor} to every route. Default true. */
  consistencyHeader?: boolean;
}

/**
 * The {@link ReplicaRouter} for a Nest service: inject `ReplicaRouter` and call
 * `read` / `write` / `transaction`. Registers the database health indicator and
 * closes the pools on shutdown. Global: import it once, in the app module.
 */
@Module({})
export class DatabaseModule implements OnModuleInit, OnApplicationShutdown {
  private unregister?: () => void;

  constructor(
    private readonly router: ReplicaRouter,
    @Optional() private readonly health?: HealthRegistry,
  ) {}

  /** The router built from options that other providers produce. */
  static forRootAsync(options: DatabaseModuleAsyncOptions): DynamicModule {
    return {
      module: DatabaseModule,
      global: true,
      imports: options.imports ?? [],
      providers: [
        { provide: DATABASE_OPTIONS, useFactory: options.useFactory, inject: options.inject ?? [] },
        {
          provide: ReplicaRouter,
          useFactory: (o: ReplicaRouterOptions) => ReplicaRouter.create(o),
          inject: [DATABASE_OPTIONS],
        },
        ...(options.consistencyHeader === false
          ? []
          : [{ provide: APP_INTERCEPTOR, useClass: ConsistencyTokenInterceptor }]),
      ],
      exports: [ReplicaRouter],
    };
  }

  /** @inheritdoc */
  onModuleInit(): void {
    this.unregister = registerDatabaseHealth(this.router, this.health ?? healthRegistry);
  }

  /** @inheritdoc */
  async onApplicationShutdown(): Promise<void> {
    this.unregister?.();
    await this.router.close();
  }
}
