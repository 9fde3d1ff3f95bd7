/**
 * The NestJS face of coordination (docs/patterns/coordinator.md): provides the
 * coordination backend, feature flags (loaded before the app starts) and
 * leadership; reports them to health and metrics; resigns and closes on
 * shutdown. Import it before DiscoveryModule (see CoordinationLifecycle).
 *
 * @example
 *   CoordinationModule.forRootAsync({
 *     inject: [OBSERVABILITY_LOGGER],
 *     useFactory: (logger: Logger) => ({
 *       service: 'reservation',
 *       backend: createCoordinationBackend('etcd', { redis, etcd }, logger),
 *       elections: { 'reservation.background-workers': {} },
 *     }),
 *   })
 *   // then: constructor(private readonly leadership: Leadership, private readonly flags: FeatureFlags)
 */
import {
  ConfigurableModuleAsyncOptions,
  ConfigurableModuleBuilder,
  Global,
  Module,
} from '@nestjs/common';
import { createLogger, OBSERVABILITY_LOGGER } from '@stayline/observability';
import { CoordinationBackend } from '../backend/coordination-backend';
import { createCoordinationBackend } from '../backend/create-coordination-backend';
import { FeatureFlags } from '../flags/feature-flags';
import { CoordinationLogger } from '../logger';
import { CoordinationLifecycle } from './coordination.lifecycle';
import {
  COORDINATION_BACKEND,
  COORDINATION_LOGGER,
  COORDINATION_OPTIONS,
  CoordinationModuleOptions,
} from './coordination.options';
import { Leadership } from './leadership';

const { ConfigurableModuleClass } = new ConfigurableModuleBuilder<CoordinationModuleOptions>({
  optionsInjectionToken: COORDINATION_OPTIONS,
})
  .setClassMethodName('forRoot')
  .build();

/** Options of {@link CoordinationModule.forRootAsync}: `imports`, `inject` and `useFactory` (or `useClass`). */
export type CoordinationModuleAsyncOptions =
  ConfigurableModuleAsyncOptions<CoordinationModuleOptions>;

@Global()
@Module({
  providers: [
    {
      provide: COORDINATION_LOGGER,
      inject: [COORDINATION_OPTIONS, { token: OBSERVABILITY_LOGGER, optional: true }],
      useFactory: (o: CoordinationModuleOptions, logger?: CoordinationLogger) =>
        logger ?? createLogger({ service: o.service }),
    },
    {
      provide: COORDINATION_BACKEND,
      inject: [COORDINATION_OPTIONS, COORDINATION_LOGGER],
      useFactory: (o: CoordinationModuleOptions, logger: CoordinationLogger) =>
        o.backend ?? createCoordinationBackend('redis', { redis: o.redis }, logger),
    },
    {
      provide: FeatureFlags,
      inject: [COORDINATION_BACKEND, COORDINATION_OPTIONS, COORDINATION_LOGGER],
      useFactory: async (
        backend: CoordinationBackend,
        o: CoordinationModuleOptions,
        logger: CoordinationLogger,
      ) => {
        const flags = new FeatureFlags(backend.flagStore(), { defaults: o.flagDefaults, logger });
        await flags.start();
        return flags;
      },
    },
    Leadership,
    CoordinationLifecycle,
  ],
  exports: [COORDINATION_BACKEND, FeatureFlags, Leadership],
})
export class CoordinationModule extends ConfigurableModuleClass {}
