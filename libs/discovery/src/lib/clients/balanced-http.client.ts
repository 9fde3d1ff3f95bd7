/**
 * The HTTP variant of the balanced client (docs/patterns/load-balancing.md),
 * on Node's built-in fetch (undici, keep-alive). A 5xx answer or a network
 * error counts against the endpoint; an idempotent request is then retried on
 * another endpoint, and the last answer is returned as it is.
 *
 * @example
 *   const scrap = await BalancedHttpClient.connect({ resolver: registry, service: 'scrap' });
 *   const res = await scrap.request('/api/scraps/42', { timeoutMs: 500, idempotent: true });
 */
import { ServiceInstance } from '../instance';
import { Endpoint } from '../balancing/strategy';
import { BalancedClient, BalancedClientOptions, CallOptions } from './balanced-client';
import { RemoteCallError } from './errors';

export type HttpRequestOptions = Omit<RequestInit, 'signal'> & CallOptions;

export class BalancedHttpClient extends BalancedClient<string> {
  static connect(options: BalancedClientOptions): Promise<BalancedHttpClient> {
    return new BalancedHttpClient(options).start();
  }

  /**
   * Requests `path` from one endpoint. Resolves with the response, whatever
   * its status, unless every attempt ended in a 5xx or a network error:
   * then the last 5xx response, or the error.
   */
  async request(path: string, options: HttpRequestOptions = {}): Promise<Response> {
    const idempotent =
      options.idempotent ??
      ['GET', 'HEAD', 'OPTIONS', 'PUT', 'DELETE'].includes((options.method ?? 'GET').toUpperCase());
    try {
      return await this.call({ ...options, idempotent }, (base, signal, endpoint) =>
        this.fetchOnce(base, endpoint, path, options, signal),
      );
    } catch (err) {
      if (err instanceof ServerError) return err.response;
      throw err;
    }
  }

  /** Requests from the given endpoint (the attempt of a resilience DependencyPolicy). */
  async requestFrom(
    endpointId: string,
    path: string,
    options: HttpRequestOptions = {},
  ): Promise<Response> {
    try {
      return await this.callOn(endpointId, options, (base, signal, endpoint) =>
        this.fetchOnce(base, endpoint, path, options, signal),
      );
    } catch (err) {
      if (err instanceof ServerError) return err.response;
      throw err;
    }
  }

  protected portOf(instance: ServiceInstance): number | undefined {
    return instance.httpPort;
  }

  protected open(endpoint: Endpoint): string {
    return `http://${endpoint.host}:${endpoint.port}`;
  }

  protected shut(): void {
    // fetch's pool closes idle keep-alive connections by itself
  }

  private async fetchOnce(
    base: string,
    endpoint: Endpoint,
    path: string,
    init: HttpRequestOptions,
    signal: AbortSignal,
  ): Promise<Response> {
    const { timeoutMs: _t, idempotent: _i, signal: _s, ...rest } = init;
    const response = await fetch(base + path, { ...rest, signal });
    if (response.status < 500) return response;
    // read the failed answer now: the connection goes back to the pool even if a retry discards it
    const body = await response.arrayBuffer();
    const copy = new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    });
    throw new ServerError(this.service, endpoint.id, copy);
  }
}

/** A 5xx answer: fails the attempt (and the endpoint's record) but is handed back if no retry succeeds. */
class ServerError extends RemoteCallError {
  constructor(
    service: string,
    endpointId: string,
    readonly response: Response,
  ) {
    super(service, endpointId, { statusCode: response.status, message: `HTTP ${response.status}` });
  }
}
