/**
 * Calling another service over `@nestjs/microservices` TCP through discovery,
 * with client-side load balancing (docs/patterns/load-balancing.md): one
 * ClientTCP per endpoint, kept in step with the registry watch. A reply over
 * the wire bound (`TCP_MAX_MESSAGE_CHARS`) closes the connection: the call fails.
 *
 * @example
 *   const payment = await BalancedTcpClient.connect({ resolver: registry, service: 'payment', strategy: 'power-of-two' });
 *   const receipt = await payment.send<Receipt>('payment.charge', dto, { timeoutMs: 300 });
 */
import { ClientTCP } from '@nestjs/microservices';
import { TCP_FRAMING } from '@stayline/contracts';
import { ServiceInstance } from '../instance';
import { Endpoint } from '../balancing/strategy';
import { BalancedClient, BalancedClientOptions, CallOptions } from './balanced-client';
import { RemoteCallError } from './errors';

export class BalancedTcpClient extends BalancedClient<ClientTCP> {
  /** Creates the client and waits for the first list of endpoints. */
  static connect(options: BalancedClientOptions): Promise<BalancedTcpClient> {
    return new BalancedTcpClient(options).start();
  }

  /** Sends `data` to one endpoint (picked by the strategy) and resolves with the last value of the reply. */
  send<T = unknown>(pattern: unknown, data: unknown, options: CallOptions = {}): Promise<T> {
    return this.call(options, (conn, signal, endpoint) =>
      this.request<T>(conn, endpoint, pattern, data, signal),
    );
  }

  /** Sends to the given endpoint: the attempt of a resilience DependencyPolicy that picks endpoints itself. */
  sendTo<T = unknown>(
    endpointId: string,
    pattern: unknown,
    data: unknown,
    options: CallOptions = {},
  ): Promise<T> {
    return this.callOn(endpointId, options, (conn, signal, endpoint) =>
      this.request<T>(conn, endpoint, pattern, data, signal),
    );
  }

  protected portOf(instance: ServiceInstance): number | undefined {
    return instance.tcpPort;
  }

  protected open(endpoint: Endpoint): ClientTCP {
    const client = new ClientTCP({ host: endpoint.host, port: endpoint.port, ...TCP_FRAMING });
    // connect ahead so the first call does not pay for it; a failure here is retried by the first send
    client.connect().catch(() => undefined);
    return client;
  }

  protected shut(conn: ClientTCP): void {
    conn.close();
  }

  private request<T>(
    conn: ClientTCP,
    endpoint: Endpoint,
    pattern: unknown,
    data: unknown,
    signal: AbortSignal,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let last: T;
      const subscription = conn.send<T>(pattern, data).subscribe({
        next: (value) => (last = value),
        error: (err: unknown) =>
          reject(err instanceof Error ? err : new RemoteCallError(this.service, endpoint.id, err)),
        complete: () => resolve(last),
      });
      signal.addEventListener('abort', () => subscription.unsubscribe(), { once: true });
    });
  }
}
