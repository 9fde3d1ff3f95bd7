import { ServiceUnavailableException } from '@nestjs/common';

/** What fault injection needs from the feature flags: a number by name. */
export interface NumberFlags {
  number(name: string, fallback: number): number;
}

export interface FaultScope {
  service: string;
  instanceId: string;
}

/**
 * Faults switched on by feature flag, with no restart: added latency and an
 * error rate, per service, per instance and per operation. The most specific
 * flag wins:
 *   fault.payment-2.charge.latencyMs   one instance (by its id), one operation
 *   fault.payment-2.all.latencyMs      one instance, every operation
 *   fault.payment.charge.latencyMs     every instance of the service, one operation
 *   fault.payment.all.latencyMs        every instance, every operation
 * (the same names with `errorRate`, 0..1). One slow payment instance is how the
 * client-side load balancing experiment shows round robin against a load-aware choice.
 */
export class FaultInjector {
  constructor(
    private readonly flags: NumberFlags,
    private readonly scope: FaultScope,
    private readonly random: () => number = Math.random,
    private readonly sleep: (ms: number) => Promise<void> = (ms) =>
      new Promise((r) => setTimeout(r, ms)),
  ) {}

  /** The flag value for this instance and operation, the most specific one set. */
  value(operation: string, kind: 'latencyMs' | 'errorRate'): number {
    const { service, instanceId } = this.scope;
    for (const name of [
      `fault.${instanceId}.${operation}.${kind}`,
      `fault.${instanceId}.all.${kind}`,
      `fault.${service}.${operation}.${kind}`,
      `fault.${service}.all.${kind}`,
    ]) {
      const v = this.flags.number(name, Number.NaN);
      if (Number.isFinite(v)) return v;
    }
    return 0;
  }

  /** Applies the configured latency, then fails with a 503 at the configured rate. */
  async apply(operation: string): Promise<void> {
    const latency = this.value(operation, 'latencyMs');
    if (latency > 0) await this.sleep(latency);
    const rate = this.value(operation, 'errorRate');
    if (rate > 0 && this.random() < rate) {
      throw new ServiceUnavailableException({
        error: 'injected_fault',
        message: `fault injected by flag into ${this.scope.service}.${operation} on ${this.scope.instanceId}`,
      });
    }
  }
}
