import http from 'node:http';

export interface HttpCall {
  method: 'GET' | 'POST';
  /** Path and query, e.g. `/api/listings?limit=20`. */
  path: string;
  headers: Record<string, string>;
  body?: string;
}

export interface HttpAnswer {
  /** 0 when no answer came (see `error`). */
  status: number;
  body: string;
  /** `performance.now()` when the request got its connection. */
  sentAt?: number;
  /** `timeout`, `ECONNREFUSED`, `ECONNRESET`...: why no answer came. */
  error?: string;
}

const CUT = new Set(['ECONNRESET', 'EPIPE']);

/**
 * Requests to one origin over keep-alive connections, at most `connections`
 * of them: a request that finds every connection busy opens a new one up to
 * that bound, then waits for the first that frees up (and is sent late: its
 * latency, counted from the intended time, includes the wait). Never rejects:
 * a timeout or a connection error is an answer with status 0.
 *
 * No retry, with one exception a browser makes too: a request cut on a reused
 * idle connection before any answer (nginx closes idle keep-alive connections
 * on every reload, as the demos cause) is sent once more on a new one, within
 * its deadline; `resent` counts them.
 */
export class HttpSender {
  private readonly agent: http.Agent;
  resent = 0;

  constructor(
    readonly origin: string,
    connections: number,
  ) {
    this.agent = new http.Agent({
      keepAlive: true,
      maxSockets: connections,
      maxFreeSockets: connections,
      scheduling: 'fifo',
    });
  }

  /** Sends `call`; gives up at `deadline` (`performance.now()` time) with error `timeout`. */
  send(call: HttpCall, deadline: number, again = true): Promise<HttpAnswer> {
    const left = deadline - performance.now();
    if (left <= 0) return Promise.resolve({ status: 0, body: '', error: 'timeout' });
    return new Promise((resolve) => {
      let sentAt: number | undefined;
      let settled = false;
      const done = (a: HttpAnswer) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
      };
      const req = http.request(`${this.origin}${call.path}`, {
        method: call.method,
        headers: call.body
          ? { ...call.headers, 'content-length': String(Buffer.byteLength(call.body)) }
          : call.headers,
        agent: this.agent,
      });
      const timer = setTimeout(() => {
        done({ status: 0, body: '', sentAt, error: 'timeout' });
        req.destroy();
      }, left);
      req.on('socket', () => (sentAt = performance.now()));
      req.on('response', (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (c: string) => (body += c));
        res.on('end', () => done({ status: res.statusCode ?? 0, body, sentAt }));
        res.on('error', (err) => done({ status: 0, body: '', sentAt, error: codeOf(err) }));
        res.on('close', () => {
          if (!res.complete) done({ status: 0, body: '', sentAt, error: 'response cut' });
        });
      });
      req.on('error', (err) => {
        const code = codeOf(err);
        if (again && req.reusedSocket && (CUT.has(code) || code === 'socket hang up')) {
          this.resent++;
          clearTimeout(timer);
          settled = true;
          void this.send(call, deadline, false).then(resolve);
          return;
        }
        done({ status: 0, body: '', sentAt, error: code });
      });
      req.end(call.body);
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

function codeOf(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e?.code ?? e?.message ?? String(err);
}
