import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { httpJson } from '@stayline/stack-kit';

// A real callee: answers `GET /?status=&delay=` with its name and count (every call with
// CALLEE_STATUS when set), `GET /stats` with the count.
const SCRIPT = `
const http = require('node:http');
let served = 0;
const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://callee');
  if (url.pathname === '/stats') return res.end(JSON.stringify({ served }));
  served++;
  const status = Number(process.env.CALLEE_STATUS || url.searchParams.get('status') || 200);
  setTimeout(() => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ instance: process.env.CALLEE_NAME, served }));
  }, Number(url.searchParams.get('delay') || 0));
});
server.listen(Number(process.env.CALLEE_PORT || 0), '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

/** A callee HTTP server in its own process, to hang (SIGSTOP), resume, crash (SIGKILL) and restart. */
export class CalleeProcess {
  private constructor(
    readonly name: string,
    readonly port: number,
    private child: ChildProcess,
    private readonly status?: number,
  ) {}

  /**
   * Starts a callee named `name` on `port` (0: a free one), answering every
   * call with `status` when given, and waits until it listens.
   */
  static async start(
    name: string,
    { port = 0, status }: { port?: number; status?: number } = {},
  ): Promise<CalleeProcess> {
    const child = spawn(process.execPath, ['-e', SCRIPT], {
      env: {
        ...process.env,
        CALLEE_NAME: name,
        CALLEE_PORT: String(port),
        CALLEE_STATUS: String(status ?? ''),
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const [line] = (await Promise.race([
      once(child.stdout, 'data'),
      once(child, 'exit').then(() =>
        Promise.reject(new Error(`callee ${name} exited before listening`)),
      ),
    ])) as [Buffer];
    const match = /listening (\d+)/.exec(line.toString());
    if (!match) throw new Error(`callee ${name} said: ${line.toString()}`);
    return new CalleeProcess(name, Number(match[1]), child, status);
  }

  /** `http://127.0.0.1:<port><path>` */
  url(path = '/'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** SIGSTOP: connections are still accepted by the kernel, nothing answers. */
  hang(): void {
    this.child.kill('SIGSTOP');
  }

  /** SIGCONT after {@link hang}. */
  resume(): void {
    this.child.kill('SIGCONT');
  }

  /** SIGKILL: connections are refused from now on. */
  async crash(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGKILL');
    await exited;
  }

  /** Starts the process again on the same port. */
  async restart(): Promise<void> {
    await this.crash();
    this.child = (
      await CalleeProcess.start(this.name, { port: this.port, status: this.status })
    ).child;
  }

  /** How many calls it has served (not counting /stats). */
  async served(): Promise<number> {
    return (await getJson<{ served: number }>(this.url('/stats'))).served;
  }

  /** Kills it for good (works on a stopped process too). */
  stop(): Promise<void> {
    return this.crash();
  }
}

/** Error of a non-2xx answer, carrying the HTTP status so 4xx reads as a client error. */
export class HttpStatusError extends Error {
  constructor(readonly status: number) {
    super(`HTTP ${status}`);
  }
}

/** GETs JSON from `url` on a fresh connection, rejecting on a non-2xx status or when `signal` aborts. */
export async function getJson<T>(url: string, signal?: AbortSignal): Promise<T> {
  const reply = await httpJson(url, { signal, timeoutMs: 60_000 });
  if (reply.status < 200 || reply.status > 299) throw new HttpStatusError(reply.status);
  return reply.body as T;
}
