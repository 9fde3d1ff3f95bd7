/**
 * Lets a circuit breaker (one per endpoint, e.g. @stayline/resilience) decide
 * which endpoints may take calls: an endpoint whose breaker is open is left
 * out of the choice, and results are reported back to it. Given a gate, the
 * balancer's own ejection is off: the breaker is the one judge.
 */
export interface EndpointGate {
  isCallPermitted(endpointId: string): boolean;
  onResult?(endpointId: string, ok: boolean, latencyMs: number): void;
}
