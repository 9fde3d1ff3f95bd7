import type { LeaderElection } from '@stayline/coordination';
import type { Logger } from 'pino';
import { OutboxRelay } from '../outbox/outbox-relay';
import { IdempotencyKeySweeper } from './key-sweeper';
import { PaymentReconciler } from './payment-reconciler';

/**
 * The work only one reservation instance may do at a time: settle pending
 * payments, relay the outbox and sweep expired idempotency keys. Every instance campaigns; the leader runs the
 * passes with its fencing token, the others stand by to take over.
 */
export class BackgroundWorkers {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;

  constructor(
    private readonly election: LeaderElection,
    private readonly reconciler: PaymentReconciler,
    private readonly relay: OutboxRelay,
    private readonly sweeper: IdempotencyKeySweeper,
    private readonly logger: Logger,
    private readonly intervalMs = 500,
  ) {}

  async start(): Promise<void> {
    this.election.on('elected', (token) =>
      this.logger.info({ token }, 'elected: running the reconciler and the outbox relay'),
    );
    this.election.on('deposed', (token, reason) =>
      this.logger.warn({ token, reason }, 'no longer leader: background work stopped'),
    );
    await this.election.start();
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    const jitter = this.intervalMs * (0.8 + Math.random() * 0.4);
    this.timer = setTimeout(() => {
      this.running = this.pass().finally(() => this.schedule());
    }, jitter);
    this.timer.unref();
  }

  private async pass(): Promise<void> {
    const token = this.election.token;
    if (token === undefined) return;
    try {
      await this.relay.run(token);
      await this.reconciler.run(token);
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, token }, 'background pass failed');
    }
    try {
      await this.sweeper.run();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message, token }, 'idempotency key sweep failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }
}
