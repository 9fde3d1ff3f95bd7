export {
  BreakerState,
  BREAKER_STATE_GAUGE,
  type BreakerSnapshot,
  type BreakerTransition,
} from './lib/breaker-state';
export {
  CircuitBreaker,
  countsAsFailure,
  type CircuitBreakerOptions,
  type EndpointBreaker,
} from './lib/circuit-breaker';
export { isClientError } from './lib/client-error';
export type { CallOutcome, Degraded, Fallback, Fresh } from './lib/degraded';
export type { DependencyConfig, ResolvedDependencyConfig } from './lib/dependency-options';
export type { Attempt, AttemptTarget, CallOptions } from './lib/call-options';
export type {
  DependencyBreaker,
  DependencySnapshot,
  EndpointSelector,
} from './lib/dependency-breaker';
export {
  DependencyPolicy,
  SINGLE_ENDPOINT,
  type DependencyPolicyOptions,
} from './lib/dependency-policy';
export type { CallOutcomeLabel, DependencyTransition } from './lib/dependency-telemetry';
export {
  BreakerOpenError,
  BulkheadRejectedError,
  CallTimeoutError,
  DependencyUnavailableError,
  NoEndpointError,
  ResilienceError,
  type ResilienceErrorCode,
} from './lib/errors';
export type { TripPolicy } from './lib/trip-policy';
export {
  retryAfterSeconds,
  toUnavailableResponse,
  type UnavailableBody,
  type UnavailableResponse,
} from './lib/unavailable-response';
