import {
  Inject,
  Module,
  type DynamicModule,
  type OnApplicationShutdown,
  type Provider,
} from '@nestjs/common';
import { APP_FILTER } from '@nestjs/core';
import { OBSERVABILITY_LOGGER } from '@stayline/observability';
import type { Logger } from 'pino';
import { DependencyPolicy } from '../dependency-policy';
import type { DependencyConfig } from '../dependency-options';
import { DependencyUnavailableFilter } from './dependency-unavailable.filter';

/** Options of {@link ResilienceModule.forRoot}: one entry per dependency this service calls. */
export interface ResilienceModuleOptions {
  readonly dependencies: readonly DependencyConfig[];
}

/** Injection token of the DependencyPolicy of `name`. */
export function dependencyToken(name: string): string {
  return `resilience:dependency:${name}`;
}

/** Injects the DependencyPolicy of `name`: `@InjectDependency('payment') payment: DependencyPolicy`. */
export const InjectDependency = (name: string): ParameterDecorator => Inject(dependencyToken(name));

/** Every policy of the module; disposes them when the application shuts down. */
export class DependencyPolicies implements OnApplicationShutdown {
  constructor(private readonly policies: ReadonlyMap<string, DependencyPolicy>) {}

  /** The policy of `name`. */
  get(name: string): DependencyPolicy {
    const policy = this.policies.get(name);
    if (!policy) throw new Error(`no resilience policy for ${name}`);
    return policy;
  }

  /** Cancels calls in flight and withdraws health indicators. */
  onApplicationShutdown(): void {
    for (const policy of this.policies.values()) policy.dispose();
  }
}

/**
 * A DependencyPolicy per configured dependency (logging through the
 * ObservabilityModule's logger when present) and the global filter that turns
 * a failed essential call into a 503 with `Retry-After`.
 */
@Module({})
export class ResilienceModule {
  /** Builds the policies named in `options`. */
  static forRoot(options: ResilienceModuleOptions): DynamicModule {
    const all: Provider = {
      provide: DependencyPolicies,
      useFactory: (logger?: Logger) =>
        new DependencyPolicies(
          new Map(
            options.dependencies.map((c) => [c.name, DependencyPolicy.create({ ...c, logger })]),
          ),
        ),
      inject: [{ token: OBSERVABILITY_LOGGER, optional: true }],
    };
    const each: Provider[] = options.dependencies.map(({ name }) => ({
      provide: dependencyToken(name),
      useFactory: (policies: DependencyPolicies) => policies.get(name),
      inject: [DependencyPolicies],
    }));
    return {
      module: ResilienceModule,
      providers: [all, ...each, { provide: APP_FILTER, useClass: DependencyUnavailableFilter }],
      exports: [DependencyPolicies, ...each.map((p) => (p as { provide: string }).provide)],
    };
  }
}
