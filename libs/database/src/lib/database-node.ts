import { DataSource, DataSourceOptions, QueryRunner } from 'typeorm';
import { ConnectionTracker, hardClose } from './connection-tracking';
import { withDeadline } from './deadline';
import { NodeClosedError, QueryTimeoutError, TopologyChangedError } from './errors';
import { NodeAddress } from './topology';

/** How a node's TypeORM DataSource is configured (built by the router from its options). */
export type DataSourceFactory = (node: NodeAddress, driver: unknown) => DataSourceOptions;

/** A node's connection, as far as killing it goes (TypeORM types it `any`). */
type HeldConnection = Parameters<typeof hardClose>[0];

const DESTROY_TIMEOUT_MS = 1_000;

/**
 * One MariaDB node: its own TypeORM DataSource (own pool), opened lazily and
 * again after a failure (TypeORM refuses to create a pool while the node is
 * down), every unit of work run under a deadline that destroys its connection
 * when it passes, and a close that can cut even a frozen node loose.
 */
export class DatabaseNode {
  private readonly tracker = new ConnectionTracker();
  /** Writes holding a connection: {@link abortWrites} cuts it. */
  private readonly writers = new Set<QueryRunner>();
  /** Writes still waiting for one: {@link abortWrites} turns them away at once. */
  private readonly acquiring = new Set<(err: Error) => void>();
  private dataSource?: DataSource;
  private opening?: Promise<DataSource>;
  private running = 0;
  private closed = false;

  constructor(
    readonly address: NodeAddress,
    private readonly factory: DataSourceFactory,
  ) {}

  get name(): string {
    return this.address.name;
  }

  /** The node's DataSource, opened on first use. */
  ready(): Promise<DataSource> {
    if (this.closed) return Promise.reject(new NodeClosedError(this.name));
    if (this.dataSource) return Promise.resolve(this.dataSource);
    this.opening ??= new DataSource(this.factory(this.address, this.tracker.driver))
      .initialize()
      .then(
        (ds) => {
          this.dataSource = ds;
          if (this.closed) void this.destroy(ds);
          return ds;
        },
        (err: unknown) => {
          this.opening = undefined; // try again next time
          throw err;
        },
      );
    return this.opening;
  }

  /**
   * Runs `work` on one connection of this node within `timeoutMs` (acquiring the
   * connection included). `writer` work is cut off by {@link abortWrites}: a write
   * still waiting for its connection then fails at once with a
   * {@link TopologyChangedError} (nothing was sent), instead of after the connect
   * timeout, which to a host that vanished (a killed container, a partition) is
   * the whole timeout.
   */
  async run<T>(
    mode: 'master' | 'slave',
    work: (qr: QueryRunner) => Promise<T>,
    timeoutMs: number,
    writer = false,
  ): Promise<T> {
    if (this.closed) throw new NodeClosedError(this.name);
    let qr: QueryRunner | undefined;
    // timed out, or turned away while acquiring: its connection, once it has one, is cut
    let stopped = false;
    let turnAway: ((err: Error) => void) | undefined;
    this.running++;
    const job = (async () => {
      const ds = await this.ready();
      if (stopped) throw new QueryTimeoutError(this.name, timeoutMs);
      qr = ds.createQueryRunner(mode);
      await qr.connect();
      if (stopped) throw new QueryTimeoutError(this.name, timeoutMs);
      if (turnAway) this.acquiring.delete(turnAway);
      if (writer) this.writers.add(qr);
      return work(qr);
    })();
    const started = writer
      ? Promise.race([
          job,
          new Promise<never>((_, reject) => {
            turnAway = (err) => {
              stopped = true;
              reject(err);
            };
            this.acquiring.add(turnAway);
          }),
        ])
      : job;
    try {
      return await withDeadline(started, timeoutMs, () => {
        stopped = true;
        return new QueryTimeoutError(this.name, timeoutMs);
      });
    } finally {
      this.running--;
      if (turnAway) this.acquiring.delete(turnAway);
      if (stopped) {
        if (qr) this.cut(qr);
        // the work may still be acquiring its connection: cut it whenever it has one, then give it back
        void job
          .catch(() => undefined)
          .finally(() => {
            if (!qr) return;
            this.cut(qr);
            this.writers.delete(qr);
            void qr.release();
          });
      } else if (qr) {
        this.writers.delete(qr);
        await qr.release();
      }
    }
  }

  /**
   * This node stopped being the primary: cuts the connection of every write
   * running here and turns away those still waiting for one. Returns how many.
   */
  abortWrites(): number {
    const waiting = [...this.acquiring];
    this.acquiring.clear();
    for (const turnAway of waiting) turnAway(new TopologyChangedError(this.name));
    const n = this.writers.size + waiting.length;
    for (const qr of this.writers) this.cut(qr);
    return n;
  }

  /**
   * Takes the node out of service: no new work; running work gets `drainMs` to
   * finish, then every connection is closed (at once when `drainMs` is 0).
   */
  async close(drainMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const until = performance.now() + drainMs;
    while (this.running > 0 && performance.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    if (this.running > 0 || drainMs === 0) this.tracker.closeAll();
    const ds = this.dataSource ?? (await this.opening?.catch(() => undefined));
    if (ds) await this.destroy(ds);
    this.tracker.closeAll();
  }

  /** Closes the connection under `qr`; whatever it runs next fails as a lost connection. */
  private cut(qr: QueryRunner): void {
    const conn = (qr as unknown as { databaseConnection?: HeldConnection }).databaseConnection;
    if (conn) hardClose(conn);
    else
      void qr.connect().then(
        (c: HeldConnection) => hardClose(c),
        () => undefined,
      );
  }

  private async destroy(ds: DataSource): Promise<void> {
    if (!ds.isInitialized) return;
    // a graceful QUIT to idle connections; a frozen node never answers, so bounded
    await withDeadline(
      ds.destroy(),
      DESTROY_TIMEOUT_MS,
      () => new QueryTimeoutError(this.name, DESTROY_TIMEOUT_MS),
    ).catch(() => undefined);
  }
}
