/**
 * Latency with jitter without `tc netem` (this kernel has no `sch_netem`): a
 * delaying TCP relay, the technique toxiproxy uses. The {@link Nemesis} starts
 * one relay per (destination address, destination port) on the host, listening
 * on the compose network's gateway address (the bridge's own address, not
 * 0.0.0.0), and DNATs the containers' connections to it; each relay forwards
 * to the real destination and holds every chunk it reads for
 * `delayMs ± jitterMs` (uniform) before writing it on.
 *
 * The model is netem on the target container's egress: only the bytes the
 * delayed container *sends* are held. So a relay in front of a target's own
 * port delays the `downstream` direction (what the target answers), and a
 * relay in front of a peer the target connects to delays the `upstream`
 * direction (what the target asks). Either way one request/response round trip
 * through the target gains one delay, as with netem on its interface.
 *
 * Unlike netem:
 * - the delay is per chunk read from a socket, not per packet (a chunk is what
 *   one read returned: up to 64 KiB, often one message);
 * - bytes never overtake each other: a chunk is released no earlier than the
 *   previous chunk of its direction, so with jitter a burst of chunks drifts
 *   towards the slowest of them (netem with jitter would reorder packets, which
 *   TCP puts back in order anyway, at the same cost);
 * - the TCP handshake is not delayed (the relay accepts at once), nor is the
 *   FIN/RST of an error (a reset is passed on at once); a clean end (FIN) is
 *   delayed like data, behind the bytes before it;
 * - the destination sees the connection come from the gateway address, not
 *   from the real client.
 *
 * Backpressure: a direction stops reading its source while more than
 * `maxQueuedBytes` are held or while the destination's buffer is full.
 */
import net from 'node:net';

export type DelayedDirection = 'upstream' | 'downstream' | 'both';

export interface RelayOptions {
  /** Where to listen (the gateway address of the compose network, 127.0.0.1 in tests). */
  listenHost: string;
  /** 0 (the default): any free port. */
  listenPort?: number;
  targetHost: string;
  targetPort: number;
  delayMs: number;
  /** The delay of each chunk is drawn uniformly from [delayMs - jitterMs, delayMs + jitterMs] (never below 0). */
  jitterMs: number;
  /**
   * Which bytes are held: `upstream` = what the client sends to the target,
   * `downstream` = what the target sends back. Default `downstream`.
   */
  delayed?: DelayedDirection;
  /** A random source in [0, 1) (seeded in tests); default Math.random. */
  random?: () => number;
  /** Per direction and connection: stop reading past this many held bytes (default 1 MiB). */
  maxQueuedBytes?: number;
}

export interface RelayStats {
  /** Connections accepted since the start. */
  accepted: number;
  /** Connections still open (either half). */
  open: number;
  /** Bytes forwarded client -> target and target -> client. */
  bytesUp: number;
  bytesDown: number;
  /** Chunks forwarded (each held on its own). */
  chunks: number;
  /** Times a direction stopped reading its source (backpressure). */
  pauses: number;
  /** Socket errors seen (a refused upstream, a reset...): each closed its connection, never the relay. */
  errors: number;
  /** The last error's message, for a report. */
  lastError?: string;
}

interface Held {
  at: number;
  /** null: the source ended (FIN), end the destination when its turn comes. */
  chunk: Buffer | null;
}

/** One direction of one connection: reads `src`, holds each chunk, writes it to `dst` in order. */
class DelayedPipe {
  private readonly queue: Held[] = [];
  private queued = 0;
  private last = 0;
  private timer?: NodeJS.Timeout;
  private blocked = false;
  private stopped = false;

  constructor(
    private readonly src: net.Socket,
    private readonly dst: net.Socket,
    private readonly delay: () => number,
    private readonly maxQueued: number,
    private readonly count: (n: number) => void,
    private readonly onPause: () => void,
  ) {
    src.on('data', (chunk: Buffer) => this.push(chunk));
    src.on('end', () => this.push(null));
    dst.on('drain', () => {
      this.blocked = false;
      this.flow();
    });
  }

  /** Drops what is held (the connection is being torn down). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queued = 0;
  }

  private push(chunk: Buffer | null): void {
    if (this.stopped) return;
    const at = Math.max(performance.now() + this.delay(), this.last);
    this.last = at;
    this.queue.push({ at, chunk });
    if (chunk) this.queued += chunk.length;
    this.flow();
    this.schedule();
  }

  private release(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = performance.now();
    while (this.queue.length && this.queue[0].at <= now) {
      const { chunk } = this.queue.shift() as Held;
      if (this.dst.destroyed) continue;
      if (chunk === null) {
        this.dst.end();
        continue;
      }
      this.queued -= chunk.length;
      this.count(chunk.length);
      if (!this.dst.write(chunk)) this.blocked = true;
    }
    this.flow();
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || !this.queue.length || this.stopped) return;
    const wait = Math.max(0, this.queue[0].at - performance.now());
    this.timer = setTimeout(() => this.release(), wait);
  }

  private flow(): void {
    if (this.src.destroyed) return;
    if (this.blocked || this.queued >= this.maxQueued) {
      if (!this.src.isPaused()) this.onPause();
      this.src.pause();
    } else this.src.resume();
  }
}

/** Closes a socket with a reset (the peer sees ECONNRESET, as when a link dies), quietly. */
function reset(s: net.Socket): void {
  if (s.destroyed) return;
  try {
    s.resetAndDestroy();
  } catch {
    s.destroy();
  }
}

/** A delaying TCP relay: listen on one address, forward to one destination. */
export class DelayRelay {
  readonly stats: RelayStats = {
    accepted: 0,
    open: 0,
    bytesUp: 0,
    bytesDown: 0,
    chunks: 0,
    pauses: 0,
    errors: 0,
  };
  private readonly connections = new Set<{
    client: net.Socket;
    upstream: net.Socket;
    pipes: DelayedPipe[];
  }>();
  private closing?: Promise<void>;

  private constructor(
    private readonly server: net.Server,
    readonly options: RelayOptions,
  ) {}

  /** Starts listening; resolves once bound. */
  static start(o: RelayOptions): Promise<DelayRelay> {
    const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true });
    const relay = new DelayRelay(server, o);
    server.on('connection', (client) => relay.accept(client));
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      server.once('error', onError);
      server.listen({ host: o.listenHost, port: o.listenPort ?? 0 }, () => {
        server.off('error', onError);
        // after the bind, an error of the server (none expected) must not crash the process
        server.on('error', (err) => relay.noteError(err));
        resolve(relay);
      });
    });
  }

  /** The address clients connect to. */
  get address(): { host: string; port: number } {
    const a = this.server.address() as net.AddressInfo;
    return { host: a.address, port: a.port };
  }

  /** Resets every open connection (both sides); the relay keeps listening. */
  dropConnections(): void {
    for (const c of [...this.connections]) {
      for (const p of c.pipes) p.stop();
      reset(c.client);
      reset(c.upstream);
    }
  }

  /** Stops listening and resets every open connection; resolves when the listener is closed. */
  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.dropConnections();
    });
    return this.closing;
  }

  private accept(client: net.Socket): void {
    const o = this.options;
    this.stats.accepted++;
    this.stats.open++;
    const upstream = net.connect({ host: o.targetHost, port: o.targetPort, allowHalfOpen: true });
    const random = o.random ?? Math.random;
    const sample = () => Math.max(0, o.delayMs + (2 * random() - 1) * o.jitterMs);
    const none = () => 0;
    const delayed = o.delayed ?? 'downstream';
    const max = o.maxQueuedBytes ?? 1024 * 1024;
    const pause = () => {
      this.stats.pauses++;
    };
    const conn = {
      client,
      upstream,
      pipes: [
        new DelayedPipe(
          client,
          upstream,
          delayed === 'downstream' ? none : sample,
          max,
          (n) => {
            this.stats.bytesUp += n;
            this.stats.chunks++;
          },
          pause,
        ),
        new DelayedPipe(
          upstream,
          client,
          delayed === 'upstream' ? none : sample,
          max,
          (n) => {
            this.stats.bytesDown += n;
            this.stats.chunks++;
          },
          pause,
        ),
      ],
    };
    this.connections.add(conn);
    let closed = 0;
    const onClose = (other: net.Socket) => (hadError: boolean) => {
      // an error on one side resets the other at once; a clean close leaves the
      // other to finish what is still held for it (its FIN is queued behind it)
      if (hadError) {
        for (const p of conn.pipes) p.stop();
        reset(other);
      }
      if (++closed === 2) {
        for (const p of conn.pipes) p.stop();
        this.connections.delete(conn);
        this.stats.open--;
      }
    };
    const onError = (err: Error) => this.noteError(err);
    client.on('error', onError);
    upstream.on('error', onError);
    client.on('close', onClose(upstream));
    upstream.on('close', onClose(client));
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.resume();
  }

  private noteError(err: Error): void {
    this.stats.errors++;
    this.stats.lastError = err.message;
  }
}
