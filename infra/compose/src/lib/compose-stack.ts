/**
 * The compose stack as a test or a user drives it: `docker-compose` (1.29, or
 * `docker compose` v2) on the repo's docker-compose.yml under one project name,
 * and `docker` for what compose has no verb for (a SIGKILL that is a crash, a
 * container's health log). See docs/docker.md.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { login, OPERATOR, operatorPassword, UserTokens } from '@stayline/stack-kit';

export const REPO_ROOT = path.resolve(__dirname, '../../../..');
export const COMPOSE_FILE = path.join(REPO_ROOT, 'docker-compose.yml');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, never throwing on a non-zero exit (the caller reads `code`). */
export function runCommand(
  command: string,
  args: string[],
  o: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cwd?: string } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      command,
      args,
      {
        env: o.env ?? process.env,
        cwd: o.cwd ?? REPO_ROOT,
        timeout: o.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, stdout, stderr) => {
        // killed at its timeout: the docker CLI ends on SIGTERM with status 0 and no output
        // (seen on `docker exec` into a container whose processes are stopped), so the
        // status alone would read as success
        if (child.killed) {
          resolve({
            code: 124,
            stdout: String(stdout),
            stderr: `${String(stderr)}${command} timed out after ${o.timeoutMs ?? 120_000} ms`,
          });
          return;
        }
        const code =
          err && typeof (err as { code?: unknown }).code === 'number'
            ? ((err as { code: number }).code as number)
            : err
              ? 1
              : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr || (err?.message ?? '')) });
      },
    );
  });
}

/** One container of the project, as `docker inspect` sees it. */
export interface ContainerView {
  service: string;
  name: string;
  id: string;
  /** `running`, `exited`, ... */
  state: string;
  exitCode: number;
  /** `healthy`, `unhealthy`, `starting`, or `none` (no healthcheck). */
  health: string;
  /** The last healthcheck's output, when it failed. */
  lastProbe?: string;
  startedAt: string;
  /** Its address on the project's network ('' when it is not running). */
  ip: string;
}

/**
 * Services that run once and exit 0 (the datastores' set-up: MariaDB's cluster, Redis's and
 * etcd's logins; Prometheus' configuration): they are done, not down.
 */
export const ONE_SHOT = new Set(['db-init', 'redis-auth', 'etcd-auth', 'prometheus-config']);

export class ComposeStack {
  /**
   * @param project the compose project name (containers, network and volumes carry it)
   * @param env the environment compose reads (STAYLINE_* settings, base images)
   */
  constructor(
    readonly project: string,
    readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** The stack a `test:compose` run brought up, from the variables its driver sets. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): ComposeStack {
    const project = env.STAYLINE_COMPOSE_PROJECT;
    if (!project)
      throw new Error(
        'STAYLINE_COMPOSE_PROJECT is not set: run these suites with npm run test:compose',
      );
    return new ComposeStack(project, env);
  }

  /** The gateway, published on loopback. */
  get gateway(): string {
    return `http://127.0.0.1:${this.env.STAYLINE_GATEWAY_PORT ?? '8080'}`;
  }

  /** Prometheus, published on loopback (STAYLINE_PROMETHEUS_PORT). */
  get prometheus(): string {
    return `http://127.0.0.1:${this.env.STAYLINE_PROMETHEUS_PORT ?? '9490'}`;
  }

  /**
   * The operator's token (scope `admin`), for the admin routes: logged in as
   * the demo operator through the gateway (STAYLINE_AUTH_ADMIN_PASSWORD, else
   * the dev one), held and renewed with a third of its life left.
   */
  adminToken(): Promise<string> {
    return this.operator.token(OPERATOR);
  }

  private readonly operator = new UserTokens((user) =>
    login(this.gateway, user, operatorPassword(this.env)),
  );

  compose(args: string[], timeoutMs = 600_000): Promise<RunResult> {
    return runCommand('docker-compose', ['-p', this.project, '-f', COMPOSE_FILE, ...args], {
      env: this.env,
      timeoutMs,
    });
  }

  /**
   * Runs `counts` instances of each `--scale` template (the `scale` profile:
   * `reservation-scaled`, `payment-scaled`) from the built images, touching nothing else.
   */
  scale(counts: Record<string, number>, timeoutMs = 180_000): Promise<RunResult> {
    const services = Object.keys(counts);
    return this.compose(
      [
        ...['--profile', 'scale', 'up', '-d', '--no-deps', '--no-build'],
        ...services.flatMap((s) => ['--scale', `${s}=${counts[s]}`]),
        ...services,
      ],
      timeoutMs,
    );
  }

  docker(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return runCommand('docker', args, { env: this.env, timeoutMs });
  }

  /**
   * The last container seen per service: ids survive kill, start, pause and
   * partitions, so a command for a service costs one `docker` call, not three
   * (on a loaded host each `docker` call takes a second or more).
   */
  private readonly seen = new Map<string, ContainerView>();

  /** Every container of the project, one-shot jobs included. */
  async containers(): Promise<ContainerView[]> {
    const list = await this.inspectAll();
    for (const c of list) this.seen.set(c.service, c);
    return list;
  }

  /**
   * A service's container as last seen (id, name, address), without asking
   * Docker again; its state may be stale. `forget` drops it after a failure.
   */
  async known(service: string): Promise<ContainerView> {
    return this.seen.get(service) ?? this.container(service);
  }

  forget(service: string): void {
    this.seen.delete(service);
  }

  private async inspectAll(): Promise<ContainerView[]> {
    let out: RunResult | undefined;
    // a container removed between `ps` and `inspect` (a one-shot job, `rm`) fails the
    // inspect: list again (three tries)
    for (let attempt = 1; ; attempt++) {
      const ids = await this.docker([
        'ps',
        '-aq',
        '--filter',
        `label=com.docker.compose.project=${this.project}`,
      ]);
      const list = ids.stdout.split('\n').filter(Boolean);
      if (!list.length) return [];
      out = await this.docker(['inspect', ...list]);
      if (out.code === 0) break;
      if (attempt >= 3 || !/no such (object|container)/i.test(out.stderr))
        throw new Error(`docker inspect failed: ${out.stderr.trim() || `exit ${out.code}`}`);
    }
    type Inspect = {
      Id: string;
      Name: string;
      Config: { Labels: Record<string, string> };
      NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
      State: {
        Status: string;
        ExitCode: number;
        StartedAt: string;
        Health?: { Status: string; Log?: Array<{ ExitCode: number; Output: string }> };
      };
    };
    return (JSON.parse(out.stdout) as Inspect[])
      .map((c) => {
        const failed = c.State.Health?.Log?.filter((l) => l.ExitCode !== 0).pop();
        return {
          service: c.Config.Labels['com.docker.compose.service'],
          name: c.Name.replace(/^\//, ''),
          id: c.Id,
          state: c.State.Status,
          exitCode: c.State.ExitCode,
          health: c.State.Health?.Status ?? 'none',
          lastProbe: failed?.Output.trim(),
          startedAt: c.State.StartedAt,
          ip: Object.values(c.NetworkSettings.Networks)[0]?.IPAddress ?? '',
        };
      })
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The one container of a service (`mariadb-1`, `payment-2`). */
  async container(service: string): Promise<ContainerView> {
    const c = (await this.containers()).find((x) => x.service === service);
    if (!c) throw new Error(`no container of service ${service} in project ${this.project}`);
    return c;
  }

  /**
   * `docker kill` (SIGKILL): the container's processes die at once, as in a crash.
   * Resolves when the kill was sent (`performance.now()`): what an outage is measured from.
   */
  async kill(service: string): Promise<number> {
    const c = await this.container(service);
    const sentAt = performance.now();
    const r = await this.docker(['kill', c.id]);
    if (r.code !== 0) throw new Error(`docker kill ${c.name}: ${r.stderr.trim()}`);
    return sentAt;
  }

  async start(service: string): Promise<void> {
    const c = await this.container(service);
    const r = await this.docker(['start', c.id]);
    if (r.code !== 0) throw new Error(`docker start ${c.name}: ${r.stderr.trim()}`);
  }

  /** Runs a command in a service's container; throws with its stderr on a non-zero exit. */
  async exec(service: string, command: string[], timeoutMs = 30_000): Promise<string> {
    let c = await this.known(service);
    let r = await this.docker(['exec', c.id, ...command], timeoutMs);
    if (r.code !== 0 && /No such container/i.test(r.stderr)) {
      // recreated since it was seen (a new `up`): look it up again
      this.forget(service);
      c = await this.container(service);
      r = await this.docker(['exec', c.id, ...command], timeoutMs);
    }
    if (r.code !== 0)
      throw new Error(`${command.join(' ')} in ${c.name} exited ${r.code}: ${r.stderr.trim()}`);
    return r.stdout;
  }

  /**
   * A SQL query as root inside a MariaDB container (over its socket), rows
   * tab-separated; `named`: with column names (`\G` then prints `Name: value` lines).
   */
  sql(service: string, query: string, named = false): Promise<string> {
    return this.exec(service, [
      'mariadb',
      '--socket=/run/mysqld/mysqld.sock',
      '--user=root',
      '--batch',
      ...(named ? [] : ['--skip-column-names']),
      '-e',
      query,
    ]);
  }

  /** The last lines a container logged. */
  async logs(name: string, lines = 20): Promise<string> {
    const r = await this.docker(['logs', '--tail', String(lines), name]);
    return `${r.stdout}${r.stderr}`.trim();
  }

  /**
   * Waits until every long-running container is healthy and every one-shot job
   * exited 0. Fails fast when a container exited or turned unhealthy, naming it
   * with its last log lines and the output of its last failed healthcheck.
   */
  async waitHealthy(
    timeoutMs = 300_000,
    expected?: string[],
    o: { graceMs?: number } = {},
  ): Promise<ContainerView[]> {
    const until = Date.now() + timeoutMs;
    // `graceMs`: an unhealthy container with a restart policy may come back within it
    const unhealthySince = new Map<string, number>();
    for (;;) {
      const all = await this.containers();
      const missing = (expected ?? []).filter((s) => !all.some((c) => c.service === s));
      for (const c of all)
        if (c.health !== 'unhealthy') unhealthySince.delete(c.name);
        else if (!unhealthySince.has(c.name)) unhealthySince.set(c.name, Date.now());
      const broken = all.filter((c) =>
        ONE_SHOT.has(c.service)
          ? c.state === 'exited' && c.exitCode !== 0
          : c.state === 'exited' ||
            c.state === 'dead' ||
            (c.health === 'unhealthy' &&
              Date.now() - (unhealthySince.get(c.name) ?? 0) >= (o.graceMs ?? 0)),
      );
      if (broken.length) throw new Error(await this.explain(broken, 'failed'));
      const waiting = all.filter((c) =>
        ONE_SHOT.has(c.service)
          ? c.state !== 'exited'
          : c.health !== 'healthy' && c.health !== 'none',
      );
      if (!waiting.length && !missing.length && all.length) return all;
      if (Date.now() > until) {
        const names = [...waiting.map((c) => c.name), ...missing.map((s) => `${s} (no container)`)];
        throw new Error(
          `not healthy after ${Math.round(timeoutMs / 1000)} s: ${names.join(', ')}\n` +
            (await this.explain(waiting, 'still waiting')),
        );
      }
      await sleep(1_000);
    }
  }

  /** What went wrong with some containers: state, last failed probe, last log lines. */
  async explain(containers: ContainerView[], what: string): Promise<string> {
    const parts = await Promise.all(
      containers.map(async (c) => {
        const state =
          c.state === 'exited' ? `exited with code ${c.exitCode}` : `${c.state}, ${c.health}`;
        const probe = c.lastProbe ? `\n  last healthcheck: ${c.lastProbe.split('\n')[0]}` : '';
        const logs = (await this.logs(c.name, 12))
          .split('\n')
          .map((l) => `  | ${l.slice(0, 300)}`)
          .join('\n');
        return `${c.name} (${state})${probe}\n  last log lines:\n${logs}`;
      }),
    );
    return `${containers.length} container(s) ${what}:\n${parts.join('\n')}`;
  }

  /**
   * `docker-compose down -v`, then what the project left behind: containers,
   * networks and volumes that still carry its label (none, when all went well).
   */
  async down(): Promise<{ left: string[]; output: string }> {
    // the `scale` profile too: instances added with --scale are the project's as well
    const r = await runCommand(
      'docker-compose',
      ['-p', this.project, '-f', COMPOSE_FILE, 'down', '-v', '--remove-orphans', '--timeout', '10'],
      { env: { ...this.env, COMPOSE_PROFILES: 'scale' }, timeoutMs: 180_000 },
    );
    const label = `label=com.docker.compose.project=${this.project}`;
    const [cs, ns, vs] = await Promise.all([
      this.docker(['ps', '-aq', '--filter', label]),
      this.docker(['network', 'ls', '-q', '--filter', label]),
      this.docker(['volume', 'ls', '-q', '--filter', label]),
    ]);
    const left = [
      ...cs.stdout
        .split('\n')
        .filter(Boolean)
        .map((id) => `container ${id}`),
      ...ns.stdout
        .split('\n')
        .filter(Boolean)
        .map((id) => `network ${id}`),
      ...vs.stdout
        .split('\n')
        .filter(Boolean)
        .map((id) => `volume ${id}`),
    ];
    return { left, output: `${r.stdout}${r.stderr}` };
  }
}
