import { Controller, Get, Inject } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  type HealthCheckResult,
  type HealthCheckStatus,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { HealthRegistry, type HealthProbe, type HealthReport } from './health-registry';

/** Terminus's answer, whose status may also read `degraded` (still HTTP 200). */
export type HealthResponse = Omit<HealthCheckResult, 'status'> & {
  status: HealthCheckStatus | 'degraded';
};

/**
 * `/health/live`, `/health/ready` and `/health` (both) over the
 * {@link HealthRegistry}: 200 when up or degraded, 503 when an indicator is down.
 */
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    @Inject(HealthRegistry) private readonly registry: HealthRegistry,
  ) {}

  /** Liveness: the process answers, and its liveness indicators are not down. */
  @Get('live')
  @HealthCheck()
  live(): Promise<HealthResponse> {
    return this.check('liveness');
  }

  /** Readiness: the process may take traffic. */
  @Get('ready')
  @HealthCheck()
  ready(): Promise<HealthResponse> {
    return this.check('readiness');
  }

  /** Both probes at once. */
  @Get()
  @HealthCheck()
  all(): Promise<HealthResponse> {
    return this.check();
  }

  private async check(probe?: HealthProbe): Promise<HealthResponse> {
    const summary = await this.registry.check(probe);
    const result = await this.health.check(
      Object.entries(summary.checks).map(
        ([name, report]) =>
          () =>
            this.toTerminus(name, report),
      ),
    );
    return summary.status === 'degraded' ? { ...result, status: 'degraded' } : result;
  }

  private toTerminus(name: string, { status, details = {} }: HealthReport): HealthIndicatorResult {
    const { status: _reserved, ...data } = details;
    const session = this.indicators.check(name);
    if (status === 'down') return session.down(data);
    return session.up(status === 'degraded' ? { degraded: true, ...data } : data);
  }
}
