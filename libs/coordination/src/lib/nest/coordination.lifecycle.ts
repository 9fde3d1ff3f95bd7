import {
  BeforeApplicationShutdown,
  Inject,
  Injectable,
  OnApplicationBootstrap,
  OnApplicationShutdown,
  Optional,
} from '@nestjs/common';
import { HealthRegistry, healthRegistry } from '@stayline/observability';
import { CoordinationBackend } from '../backend/coordination-backend';
import { FeatureFlags } from '../flags/feature-flags';
import {
  COORDINATION_BACKEND,
  COORDINATION_OPTIONS,
  CoordinationModuleOptions,
} from './coordination.options';
import { registerCoordinationHealth, watchFlags, watchLeadership } from './coordination.telemetry';
import { Leadership } from './leadership';

/**
 * Leadership and flags over the app's life (docs/patterns/coordinator.md): the
 * configured elections are campaigned in from bootstrap on and reported to
 * health and metrics; on shutdown every election is resigned (successors take
 * over at once), then the flags stop and the backend closes. Imported before
 * DiscoveryModule, its shutdown hooks run after discovery has deregistered and
 * drained, so a leader keeps leading while its requests finish.
 */
@Injectable()
export class CoordinationLifecycle
  implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly cleanups: Array<() => void> = [];

  constructor(
    @Inject(COORDINATION_OPTIONS) private readonly options: CoordinationModuleOptions,
    @Inject(COORDINATION_BACKEND) private readonly backend: CoordinationBackend,
    private readonly flags: FeatureFlags,
    private readonly leadership: Leadership,
    @Optional() private readonly health?: HealthRegistry,
  ) {}

  onApplicationBootstrap(): void {
    for (const [name, options] of Object.entries(this.options.elections ?? {})) {
      this.cleanups.push(watchLeadership(name, this.leadership.election(name, options)));
    }
    this.cleanups.push(watchFlags(this.flags));
    this.cleanups.push(
      registerCoordinationHealth(this.health ?? healthRegistry, {
        flags: this.flags,
        leadership: this.leadership,
      }),
    );
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.leadership.stopAll();
  }

  async onApplicationShutdown(): Promise<void> {
    for (const c of this.cleanups.splice(0)) c();
    await this.flags.stop();
    await this.backend.close();
  }
}
