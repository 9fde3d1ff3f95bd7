import http from 'node:http';

export interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json: <T = Record<string, unknown>>() => T;
}

export interface HttpRequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  timeoutMs?: number;
}

/**
 * An HTTP client over keep-alive connections that behaves like a browser on a
 * cut connection (`ECONNRESET`, "socket hang up", `EPIPE`): a GET is sent again
 * (up to twice more); any other method once, and only when the cut came on a
 * *reused* socket (Node's docs, `request.reusedSocket`: the server closed that
 * idle connection before reading the request, as nginx does on every reload) or
 * the request carries an `Idempotency-Key` (the server answers a repeat with the
 * first result: on a reload the cut can also come on a fresh socket, most
 * likely a connection an old nginx worker had accepted but not read yet). Before a
 * retry every idle pooled connection is dropped: the server that cut one has
 * closed the others too, and a retry on one of them would be cut again. Every such
 * retry is recorded in `retries`, so a test or a demo can show them.
 *
 * @example
 *   const client = new HttpClient();
 *   const res = await client.request(`${stack.nginx.url}/api/listings`, {
 *     headers: bearer((await login(stack.nginx.url, 'alice')).access_token),
 *   });
 *   res.status; res.headers['x-instance-id']; res.json();
 *   client.close();
 */
export class HttpClient {
  /** `METHOD url` of every request sent again after a reset. */
  readonly retries: string[] = [];
  private readonly agent: http.Agent;

  /**
   * @param o.localAddress the address to connect from, e.g. `127.0.0.7`: every
   *   127.x address is this host's loopback, so a test can be a client of its own
   *   to the gateway, which limits per client address
   */
  constructor(o: { maxSockets?: number; localAddress?: string } = {}) {
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: o.maxSockets ?? 16,
      localAddress: o.localAddress,
    });
  }

  request(url: string, o: HttpRequestOptions = {}, attempt = 1): Promise<HttpReply> {
    const method = o.method ?? 'GET';
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        { method, headers: o.headers, agent: this.agent, timeout: o.timeoutMs ?? 15_000 },
        (res) => {
          let body = '';
          res.setEncoding('utf8').on('data', (c: string) => (body += c));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body,
              json: <T>() => JSON.parse(body) as T,
            }),
          );
          res.on('error', reject);
          // a connection cut in the middle of the body ends the response without 'end'
          // (and, on some Node versions, without 'error'): never leave the caller waiting
          res.on('close', () => {
            if (!res.complete) reject(new Error('response cut before its end'));
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (err: NodeJS.ErrnoException) => {
        const keyed = Object.keys(o.headers ?? {}).some(
          (h) => h.toLowerCase() === 'idempotency-key',
        );
        const mayRetry =
          method === 'GET' ? attempt < 3 : (req.reusedSocket || keyed) && attempt < 2;
        if (mayRetry && (err.code === 'ECONNRESET' || err.code === 'EPIPE')) {
          this.retries.push(`${method} ${url}`);
          // the server that cut this connection has most likely closed its other
          // idle ones too (a reloading nginx closes every idle keep-alive
          // connection of its old workers): the retry must not pick another of them
          this.dropIdleSockets();
          resolve(this.request(url, o, attempt + 1));
        } else reject(err);
      });
      req.end(o.body);
    });
  }

  private dropIdleSockets(): void {
    for (const sockets of Object.values(this.agent.freeSockets))
      for (const socket of sockets ?? []) socket.destroy();
  }

  close(): void {
    this.agent.destroy();
  }
}

/**
 * Clients of the gateway, each connecting from a loopback address of its own
 * (127.0.0.x, from `first` on; every 127.x address is this host's): the gateway
 * limits per client address, so a test is a client apart from the others.
 *
 * @example
 *   const loopback = new LoopbackClients();
 *   const res = await loopback.client().request(`${stack.nginx.url}/api/listings`);
 *   loopback.close();
 */
export class LoopbackClients {
  private readonly open: HttpClient[] = [];

  constructor(private next = 10) {}

  /** A loopback address no client of this set has used. */
  address(): string {
    if (this.next > 254) throw new Error('no loopback address left: 127.0.0.254 was the last');
    return `127.0.0.${this.next++}`;
  }

  /** A client from a new address. */
  client(o: { maxSockets?: number } = {}): HttpClient {
    const c = new HttpClient({ localAddress: this.address(), maxSockets: o.maxSockets ?? 32 });
    this.open.push(c);
    return c;
  }

  close(): void {
    for (const c of this.open) c.close();
  }
}
