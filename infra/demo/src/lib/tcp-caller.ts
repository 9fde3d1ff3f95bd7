import {
  BalancedTcpClient,
  isCallerFault,
  ServiceResolver,
  StrategyName,
} from '@stayline/discovery';
import { MessageAuth, withCallContext } from '@stayline/service-runtime';

/** One call of a {@link TcpCaller}: which instance it went to and whether it got an answer. */
export interface TcpCall {
  /** `performance.now()` when it ended. */
  at: number;
  /** The instance it was sent to (its name when the address is one the stack knows). */
  target: string;
  ok: boolean;
  ms: number;
  error?: string;
}

export interface TcpCallerOptions {
  /** Where this caller finds the service: the registry, a static list, DNS. */
  resolver: ServiceResolver;
  service: string;
  /** The message and payload sent; a 4xx answer counts as answered (the instance is alive). */
  pattern: string;
  data: unknown;
  /** Names an endpoint id (an instance id, or `host:port` for a list or DNS). */
  nameOf?: (endpointId: string) => string;
  strategy?: StrategyName;
  /** Pause between calls (default 20 ms: the seed's 50 calls/s for one worker). */
  pauseMs?: number;
  timeoutMs?: number;
  /**
   * Who the messages are signed as (services refuse unsigned ones): default
   * `reservation`, the caller payment and recommendation take calls from, with
   * its key in the dev stack (or the one SERVICE_SIGNING_KEY holds).
   */
  signAs?: string;
}

/**
 * A caller in this process, the way a service calls another: a
 * BalancedTcpClient over a resolver, one call after the other, each recorded
 * with the instance it went to. No retry, so every call sent to a dead address
 * shows as an error instead of being hidden by a second attempt. Each message
 * is signed, as a service signs its own.
 */
export class TcpCaller {
  readonly calls: TcpCall[] = [];
  private running = true;
  private loop?: Promise<void>;

  private constructor(
    private readonly o: TcpCallerOptions,
    readonly client: BalancedTcpClient,
    private readonly auth: MessageAuth,
  ) {}

  static async start(o: TcpCallerOptions): Promise<TcpCaller> {
    const client = await BalancedTcpClient.connect({
      resolver: o.resolver,
      service: o.service,
      strategy: o.strategy,
      timeoutMs: o.timeoutMs ?? 1_000,
      retries: 0,
    });
    const caller = new TcpCaller(o, client, MessageAuth.signer(o.signAs ?? 'reservation'));
    caller.loop = caller.run();
    return caller;
  }

  /** The instances this caller would pick from now. */
  listed(): string[] {
    return this.client.endpoints.map((e) => this.name(e.id));
  }

  /** Calls that went to `target` and ended within `[from, to)`. */
  to(target: string, from = 0, to = Infinity): TcpCall[] {
    return this.calls.filter((c) => c.target === target && c.at >= from && c.at < to);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.client.close();
  }

  private name(id: string): string {
    return this.o.nameOf?.(id) ?? id;
  }

  private async run(): Promise<void> {
    while (this.running) {
      const id = this.client.balancer.pick();
      if (id !== undefined) {
        const t = performance.now();
        try {
          const signed = withCallContext(this.o.data, { pattern: this.o.pattern, auth: this.auth });
          await this.client.sendTo(id, this.o.pattern, signed);
          this.record(id, t, true);
        } catch (err) {
          this.record(id, t, isCallerFault(err), (err as Error).message);
        }
      }
      await new Promise((r) => setTimeout(r, this.o.pauseMs ?? 20));
    }
  }

  private record(id: string, t: number, ok: boolean, error?: string): void {
    const at = performance.now();
    this.calls.push({ at, target: this.name(id), ok, ms: at - t, error: ok ? undefined : error });
  }
}
