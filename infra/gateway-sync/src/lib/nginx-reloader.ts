import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one reload cost: validating the new file, then nginx starting workers on it. */
export interface ReloadResult {
  validateMs: number;
  /** SIGHUP to the moment every worker still accepting runs the new configuration; undefined when not confirmed. */
  reloadMs?: number;
  masterPid: number;
}

/**
 * Where the gateway's configuration goes and how nginx takes it. A small
 * interface so the sync can be tested without nginx.
 */
export interface ConfigApplier {
  /** The configuration nginx runs now (the file on disk), if any. */
  read(): string | undefined;
  /** Validates `config`, installs it and makes nginx reload it without dropping a request. */
  apply(config: string): Promise<ReloadResult>;
}

/** No nginx master to reload (not started yet, or stopped first on shutdown); the file is in place for its next start. */
export class NginxNotRunningError extends Error {}

export interface NginxReloaderOptions {
  /** nginx's prefix directory (`-p`): holds the config, nginx.pid and error.log. */
  prefix: string;
  /** The config file nginx was started with (`-c`). Default `<prefix>/nginx.conf`. */
  confFile?: string;
  /** Default `<prefix>/nginx.pid` (the template's `pid` directive). */
  pidFile?: string;
  /** The nginx binary. */
  binary: string;
  /** How long to wait for the workers on the new configuration to take over. Default 2000 ms. */
  confirmTimeoutMs?: number;
}

/**
 * Installs a new gateway configuration the way an operator would: `nginx -t`
 * on a candidate file, rename it over the live one, SIGHUP the master. nginx
 * then starts workers on the new configuration and lets the old ones finish
 * their requests: nothing in flight is dropped. A file that fails `nginx -t`
 * never replaces the running one.
 */
export class NginxReloader implements ConfigApplier {
  private readonly confFile: string;
  private readonly pidFile: string;

  constructor(private readonly o: NginxReloaderOptions) {
    this.confFile = o.confFile ?? path.join(o.prefix, 'nginx.conf');
    this.pidFile = o.pidFile ?? path.join(o.prefix, 'nginx.pid');
  }

  read(): string | undefined {
    try {
      return fs.readFileSync(this.confFile, 'utf8');
    } catch {
      return undefined;
    }
  }

  async apply(config: string): Promise<ReloadResult> {
    const candidate = `${this.confFile}.next`;
    fs.writeFileSync(candidate, config);
    const t0 = performance.now();
    try {
      await run(
        this.o.binary,
        [
          '-t',
          '-q',
          '-p',
          this.o.prefix,
          '-c',
          candidate,
          '-e',
          path.join(this.o.prefix, 'error.log'),
        ],
        { timeout: 10_000 },
      );
    } catch (err) {
      fs.rmSync(candidate, { force: true });
      const e = err as { stderr?: string; message: string };
      throw new Error(`nginx -t refused the new configuration: ${(e.stderr || e.message).trim()}`);
    }
    const validateMs = performance.now() - t0;
    fs.renameSync(candidate, this.confFile);
    const masterPid = this.masterPid();
    const before = new Set(childrenOf(masterPid));
    const t1 = performance.now();
    process.kill(masterPid, 'SIGHUP');
    const reloaded = await this.newWorker(masterPid, before);
    return { validateMs, reloadMs: reloaded ? performance.now() - t1 : undefined, masterPid };
  }

  private masterPid(): number {
    let text: string;
    try {
      text = fs.readFileSync(this.pidFile, 'utf8');
    } catch {
      throw new NginxNotRunningError(`nginx is not running: no pid file ${this.pidFile}`);
    }
    const pid = Number(text.trim());
    if (!Number.isInteger(pid) || pid <= 0 || !isRunning(pid)) {
      throw new NginxNotRunningError(
        `nginx is not running: pid file ${this.pidFile} names ${text.trim() || 'nothing'}`,
      );
    }
    return pid;
  }

  /**
   * nginx answers a SIGHUP with new workers, then tells the old ones to
   * finish: an old worker keeps accepting connections (on the old upstreams)
   * until it gets that QUIT and retitles itself "worker process is shutting
   * down". The reload is done once a new worker runs and no old worker still
   * accepts; confirming on the first new worker alone let a request that
   * followed at once meet the old configuration (a 502 "no live upstreams").
   */
  private async newWorker(master: number, before: Set<number>): Promise<boolean> {
    const deadline = performance.now() + (this.o.confirmTimeoutMs ?? 2_000);
    while (performance.now() < deadline) {
      const now = childrenOf(master);
      const started = now.some((pid) => !before.has(pid));
      if (started && !now.some((pid) => before.has(pid) && acceptsConnections(pid))) return true;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    return false;
  }
}

/** A worker that has not been told to shut down (its title says so once it has); gone: false. */
function acceptsConnections(pid: number): boolean {
  try {
    const title = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return title.includes('worker process') && !title.includes('shutting down');
  } catch {
    return false;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The live child processes of `pid`, read from /proc (Linux). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // fields[0] is the state, fields[1] the parent pid; an exited worker (Z) does not count
      if (Number(fields[1]) === pid && fields[0] !== 'Z') out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}
