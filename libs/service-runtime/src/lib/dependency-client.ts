import { BalancedTcpClient, ServiceResolver, StrategyName } from '@stayline/discovery';
import {
  Attempt,
  CallOutcome,
  DependencyConfig,
  DependencyPolicy,
  Fallback,
} from '@stayline/resilience';
import type { Logger } from 'pino';
import type { MessageAuth } from './message-auth';
import { withCallContext, withTraceContext } from './rpc-context';

export interface DependencyClientOptions {
  /** Where the callee's instances are found (and watched). */
  resolver: ServiceResolver;
  /** The callee's service name in discovery. */
  service: string;
  /** Signs every message as this service (the callee refuses unsigned ones). */
  messageAuth?: MessageAuth;
  /** Client-side load balancing: `round-robin` (the seed's) or `power-of-two`. */
  strategy?: StrategyName;
  /** Timeout, breakers, retries, bulkhead: see @stayline/resilience. */
  policy: DependencyConfig;
  logger?: Logger;
}

export interface SendOptions {
  /** Safe to repeat on another instance. */
  idempotent?: boolean;
  /**
   * Makes a non-idempotent call safe to repeat: the key the callee deduplicates
   * it by, already in `data` (a charge's reservation id). Not sent separately.
   */
  retryKey?: string;
  timeoutMs?: number;
}

/**
 * How one service calls another over `@nestjs/microservices` TCP: discovery
 * finds the instances, the client-side balancer picks one per attempt, and the
 * dependency's circuit breakers decide which may be tried: an instance whose
 * breaker is open is left out of the choice (ejected), and the dependency is
 * open when all are. An instance that leaves discovery takes its breaker with it,
 * so the dependency's state and its Retry-After speak of the instances that are
 * there (one that comes back starts closed, like any new instance). Timeouts
 * count as failures, 4xx answers do not; safe calls are retried on another
 * instance. See docs/patterns/circuit-breaker.md and
 * docs/patterns/load-balancing.md.
 */
export class DependencyClient {
  private constructor(
    readonly policy: DependencyPolicy,
    readonly tcp: BalancedTcpClient,
    private readonly messageAuth?: MessageAuth,
  ) {}

  static async connect(o: DependencyClientOptions): Promise<DependencyClient> {
    // the gate consults the policy, which needs the client's balancer: tie the knot after both exist
    const ref: { policy?: DependencyPolicy } = {};
    let known = new Set<string>();
    const tcp = await BalancedTcpClient.connect({
      resolver: o.resolver,
      service: o.service,
      strategy: o.strategy ?? 'round-robin',
      // the breaker is the one judge of an endpoint: an open one is not picked
      gate: { isCallPermitted: (id) => ref.policy?.endpoint(id).isCallPermitted() ?? true },
      // the policy's timeout governs; this one only bounds a stuck socket
      timeoutMs: (o.policy.timeoutMs ?? 300) * 4 + 1_000,
      retries: 0,
      observer: {
        onEndpoints: (_service, endpoints) => {
          const now = new Set(endpoints.map((e) => e.id));
          for (const id of known) if (!now.has(id)) ref.policy?.forgetEndpoint(id);
          known = now;
        },
      },
    });
    ref.policy = DependencyPolicy.create({ ...o.policy, selector: tcp.balancer, logger: o.logger });
    return new DependencyClient(ref.policy, tcp, o.messageAuth);
  }

  /** Sends and waits for the answer; a failure is a ResilienceError (or the callee's 4xx body). */
  send<T>(pattern: string, data: unknown, options: SendOptions = {}): Promise<T> {
    return this.policy.call<T>(
      { ...options, operation: pattern },
      this.attempt<T>(pattern, data, options),
    );
  }

  /** Like {@link send}, but a failure yields the fallback, marked degraded with the reason. */
  sendOr<T, F>(
    pattern: string,
    data: unknown,
    options: SendOptions,
    fallback: Fallback<F>,
  ): Promise<CallOutcome<T, F>> {
    return this.policy.call<T, F>(
      { ...options, operation: pattern },
      this.attempt<T>(pattern, data, options),
      fallback,
    );
  }

  // The one way a message leaves: with the caller's request id, consistency token and signature.
  private attempt<T>(pattern: string, data: unknown, options: SendOptions): Attempt<T> {
    const auth = this.messageAuth;
    const message = withCallContext(data, auth && { pattern, auth });
    // each attempt carries its own span's trace context (the policy runs it inside that span)
    return ({ endpointId, signal }) =>
      this.tcp.sendTo<T>(endpointId, pattern, withTraceContext(message), {
        signal,
        timeoutMs: options.timeoutMs,
      });
  }

  async close(): Promise<void> {
    this.policy.dispose();
    await this.tcp.close();
  }
}
