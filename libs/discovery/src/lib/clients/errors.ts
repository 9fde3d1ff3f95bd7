/** Why a balanced call failed without an answer from the service. */
export class DiscoveryCallError extends Error {
  constructor(
    message: string,
    readonly service: string,
    readonly endpointId?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** No endpoint to call: none registered, or all ejected / refused by their breakers. */
export class NoEndpointError extends DiscoveryCallError {
  constructor(service: string, known: number) {
    super(
      known === 0
        ? `no instance of ${service} is registered`
        : `all ${known} instance(s) of ${service} are ejected or refused`,
      service,
    );
  }
}

/** The endpoint did not answer in time. */
export class EndpointTimeoutError extends DiscoveryCallError {
  constructor(service: string, endpointId: string, timeoutMs: number) {
    super(`${service} (${endpointId}) did not answer within ${timeoutMs} ms`, service, endpointId);
  }
}

/**
 * The service answered with an error (a Nest RpcException, an HTTP error status).
 * `statusCode` 4xx means the caller's fault: the endpoint is fine and the call is not retried.
 */
export class RemoteCallError extends DiscoveryCallError {
  readonly statusCode?: number;
  readonly isClientError: boolean;

  constructor(
    service: string,
    endpointId: string,
    readonly remote: unknown,
  ) {
    const r = (
      typeof remote === 'object' && remote !== null ? remote : { message: remote }
    ) as Record<string, unknown>;
    super(
      `${service} (${endpointId}) answered with an error: ${String(r['message'] ?? JSON.stringify(remote))}`,
      service,
      endpointId,
    );
    const status = r['statusCode'] ?? r['status'];
    this.statusCode = typeof status === 'number' ? status : undefined;
    this.isClientError =
      this.statusCode !== undefined &&
      this.statusCode >= 400 &&
      this.statusCode < 500 &&
      this.statusCode !== 408 &&
      this.statusCode !== 429;
  }
}

/** Whether a failed call says nothing bad about the endpoint (it answered; the caller was wrong). */
export function isCallerFault(err: unknown): boolean {
  return err instanceof RemoteCallError && err.isClientError;
}
