import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import {
  EtcdRole,
  RedisCredentials,
  RedisRole,
  REDIS_USERS,
  SENTINEL_USERS,
} from '@stayline/contracts';
import { GiveUp, waitFor } from './wait';
import { credentialsFromEnv, StackCredentials } from './credentials';
import {
  attachReplica,
  bootstrapCluster,
  initDataDir,
  mariadbSpec,
  MariaDbNode,
  rootConnection,
  waitMariaDbReady,
  waitReplicating,
} from './mariadb';
import { GatewayLimits, Upstream, writeNginxConfig } from '@stayline/gateway';
import { gatewayLimitsOf, nginxSpec } from './nginx';
import {
  etcdClientUrl,
  etcdDataDir,
  EtcdNode,
  etcdSpec,
  removeEtcdData,
  waitEtcdCluster,
} from './etcd';
import { applyEtcdAuth, etcdLogin } from './etcd-auth';
import { freePorts, isPortOpen } from './ports';
import { FaultSignal, isAlive, signal, spawnDetached, stopProcess, tail } from './process';
import {
  redisSpec,
  RedisNode,
  sentinelMaster,
  sentinelSpec,
  setOperatorLogin,
  SENTINEL_MASTER_NAME,
  waitRedisLinked,
  waitRedisReady,
  waitSentinelQuorum,
} from './redis';
import { Component, ComponentKind, readState, StackState, writeState } from './state';
import { probeStack, StackStatus } from './status';
import { entryArgs } from './repo';

/** Fixed ports for the commands (`npm start`, `stack:up`); tests draw free ones. */
export interface StackPorts {
  mariadb: number[];
  redis: number[];
  sentinel: number[];
  nginx: number;
  /** etcd members' client ports (peer ports: `etcdPeer`). */
  etcd?: number[];
  etcdPeer?: number[];
}

export interface StackOptions {
  /** Where every process keeps its files. Default: a fresh temp dir. */
  stateDir?: string;
  /** MariaDB replicas (0 for a lone primary, no MariaDB at all with `mariadb: false`). */
  replicas?: number;
  mariadb?: boolean;
  /**
   * Set up replication, accounts and databases (default). `false` leaves bare,
   * read-only nodes, as containers start before the `db-init` job runs.
   */
  mariadbBootstrap?: boolean;
  /** Redis primary + replica. */
  redis?: boolean;
  /** Three Sentinels over the Redis pair. */
  sentinel?: boolean;
  /** An etcd cluster: `true` for 3 members, or the member count. Default: none. */
  etcd?: boolean | number;
  /** etcd's `--auth-token-ttl`: how long an unused login token lives (etcd's default 300 s). */
  etcdAuthTokenTtlS?: number;
  nginx?: boolean;
  /**
   * The gateway's per-client limits and whether it shows X-Instance-Id (default:
   * the production ones, hidden). A stack that drives bookings as load from one
   * address (demos, benches) raises them, and shows the instance, on purpose:
   * {@link LOAD_GATEWAY_LIMITS}.
   */
  gatewayLimits?: Partial<GatewayLimits>;
  /** Fixed ports; omitted ones are drawn free. */
  ports?: Partial<StackPorts>;
  host?: string;
  /** Leave the processes running when this process exits (the detached `stack:up`). */
  detached?: boolean;
  credentials?: StackCredentials;
  log?: (line: string) => void;
}

export interface Endpoint {
  name: string;
  host: string;
  port: number;
}

const HOST = '127.0.0.1';

/**
 * A running stack of real datastores as plain processes: MariaDB primary +
 * replicas, Redis primary + replica + Sentinels, the nginx gateway. Used by the
 * commands, the e2e tests and the benchmarks alike.
 *
 * @example
 *   const stack = await startStack({ replicas: 2, sentinel: true, nginx: true });
 *   stack.mariadb.primary.port; stack.kill('mariadb-1', 'SIGSTOP'); await stack.stop();
 */
export class Stack {
  private exitHook?: () => void;
  private readonly reservedNames = new Set<string>();
  /** A temp state dir this stack created is removed by stop() (STAYLINE_KEEP_STATE=1 keeps it for a post-mortem). */
  private ownsStateDir = false;

  private constructor(
    readonly state: StackState,
    private readonly log: (line: string) => void,
  ) {
    // a state file written before the stack had Redis users: the environment's (or dev) passwords
    const fromEnv = credentialsFromEnv();
    state.credentials.redis ??= fromEnv.redis;
    state.credentials.sentinelClient ??= fromEnv.sentinelClient;
    setOperatorLogin(state.credentials);
  }

  /** Starts a stack; on any failure everything already started is stopped again. */
  static async start(options: StackOptions = {}): Promise<Stack> {
    const stateDir = path.resolve(
      options.stateDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-stack-')),
    );
    const log = options.log ?? (() => undefined);
    await Stack.clearStale(stateDir, log);
    fs.mkdirSync(stateDir, { recursive: true });
    const stack = new Stack(
      {
        version: 1,
        stateDir,
        startedAt: new Date().toISOString(),
        credentials: options.credentials ?? credentialsFromEnv(),
        components: [],
      },
      log,
    );
    stack.ownsStateDir = options.stateDir === undefined && !process.env.STAYLINE_KEEP_STATE;
    if (!options.detached) stack.killOnExit();
    try {
      const started = Date.now();
      await stack.boot(options);
      log(`stack ready in ${Date.now() - started} ms (state in ${stateDir})`);
      return stack;
    } catch (err) {
      log(`start failed: ${(err as Error).message}; stopping what started`);
      await stack.stop();
      throw err;
    }
  }

  /** Attaches to a stack started by another process (the CLI's `down` and `status`). */
  static attach(
    stateDir: string,
    log: (line: string) => void = () => undefined,
  ): Stack | undefined {
    const state = readState(path.resolve(stateDir));
    return state && new Stack(state, log);
  }

  /** Stops whatever a killed earlier run left behind in this state dir, then clears it. */
  private static async clearStale(stateDir: string, log: (line: string) => void): Promise<void> {
    const stale = readState(stateDir);
    if (stale) {
      const left = stale.components.filter((c) => isAlive(c.pid));
      if (left.length) log(`stopping ${left.length} process(es) left from an earlier run`);
      await Promise.all(left.map((c) => stopProcess(c.pid, Object.values(c.ports), 5_000)));
    }
    if (fs.existsSync(stateDir)) {
      for (const entry of fs.readdirSync(stateDir))
        fs.rmSync(path.join(stateDir, entry), { recursive: true, force: true });
    }
  }

  get stateDir(): string {
    return this.state.stateDir;
  }

  get credentials(): StackCredentials {
    return this.state.credentials;
  }

  get components(): readonly Component[] {
    return this.state.components;
  }

  component(name: string): Component {
    const c = this.state.components.find((x) => x.name === name);
    if (!c)
      throw new Error(
        `no component named ${name} (have: ${this.state.components.map((x) => x.name).join(', ')})`,
      );
    return c;
  }

  byKind(kind: ComponentKind): Component[] {
    return this.state.components.filter((c) => c.kind === kind);
  }

  /** MariaDB endpoints by the roles the launcher (or a later failover) recorded. */
  get mariadb(): { primary: Endpoint; replicas: Endpoint[]; nodes: Endpoint[] } {
    const nodes = this.byKind('mariadb').map(toEndpoint);
    const primary = this.byKind('mariadb').find((c) => c.role === 'primary');
    if (!primary) throw new Error('this stack has no MariaDB primary');
    return {
      primary: toEndpoint(primary),
      replicas: this.byKind('mariadb')
        .filter((c) => c.role === 'replica')
        .map(toEndpoint),
      nodes,
    };
  }

  /**
   * Runs one statement on `database` as the test kits' user (on the primary
   * unless `node` says which), on a connection of its own, closed after:
   * how a test reads what a service wrote, or plants what it needs.
   */
  async query<T = Record<string, unknown>>(
    database: string,
    sql: string,
    params: unknown[] = [],
    node: Endpoint = this.mariadb.primary,
  ): Promise<T[]> {
    const conn = await mysql.createConnection({
      host: node.host,
      port: node.port,
      ...this.credentials.app,
      database,
    });
    try {
      return (await conn.query(sql, params))[0] as T[];
    } finally {
      await conn.end();
    }
  }

  get redis(): {
    primary: Endpoint;
    replicas: Endpoint[];
    sentinels: Endpoint[];
    masterName: string;
  } {
    const nodes = this.byKind('redis');
    const primary = nodes.find((c) => c.role === 'primary');
    if (!primary) throw new Error('this stack has no Redis');
    return {
      primary: toEndpoint(primary),
      replicas: nodes.filter((c) => c.role === 'replica').map(toEndpoint),
      sentinels: this.byKind('sentinel').map(toEndpoint),
      masterName: SENTINEL_MASTER_NAME,
    };
  }

  /**
   * How a process of `role` logs in: its ACL user on the data nodes, and the
   * Sentinels' client user (the admin's, for the admin).
   */
  redisAuth(role: RedisRole): RedisCredentials {
    const { redis, sentinelClient } = this.credentials;
    const admin = role === 'admin';
    return {
      username: REDIS_USERS[role],
      password: redis[role],
      sentinelUsername: admin ? SENTINEL_USERS.admin : SENTINEL_USERS.client,
      sentinelPassword: admin ? redis.admin : sentinelClient,
    };
  }

  /** Redis behind the Sentinels as a process of `role` reaches it (default: a service). */
  redisTarget(
    role: RedisRole = 'service',
  ): RedisCredentials & { sentinels: Endpoint[]; masterName: string } {
    const { sentinels, masterName } = this.redis;
    return { sentinels, masterName, ...this.redisAuth(role) };
  }

  /** The environment that gives a process of `role` its etcd login (ETCD_USERNAME, ETCD_PASSWORD). */
  etcdEnv(role: EtcdRole): Record<string, string> {
    if (!this.byKind('etcd').length) return {};
    const login = etcdLogin(role);
    return { ETCD_USERNAME: login.username, ETCD_PASSWORD: login.password };
  }

  /** The environment that gives a process of `role` its Redis logins (REDIS_USERNAME, ...). */
  redisEnv(role: RedisRole): Record<string, string> {
    if (!this.byKind('redis').length) return {};
    const a = this.redisAuth(role);
    return {
      REDIS_USERNAME: a.username,
      REDIS_PASSWORD: a.password,
      REDIS_SENTINEL_USERNAME: a.sentinelUsername,
      REDIS_SENTINEL_PASSWORD: a.sentinelPassword,
    };
  }

  /** The etcd members (client endpoints) and the URLs a client is given. */
  get etcd(): { members: Endpoint[]; endpoints: string[] } {
    const members = this.byKind('etcd');
    if (!members.length) throw new Error('this stack has no etcd');
    return {
      members: members.map(toEndpoint),
      endpoints: members.map((c) => etcdClientUrl({ host: c.host, clientPort: c.port })),
    };
  }

  /** The etcd members as a process of `role` reaches them: its user and password (default: a service). */
  etcdTarget(role: EtcdRole = 'service'): {
    endpoints: string[];
    username: string;
    password: string;
  } {
    return { endpoints: this.etcd.endpoints, ...etcdLogin(role) };
  }

  get nginx(): Endpoint & { url: string } {
    const c = this.byKind('nginx')[0];
    if (!c) throw new Error('this stack has no nginx');
    return { ...toEndpoint(c), url: `http://${c.host}:${c.port}` };
  }

  /** Records a role change (failover, rejoin) so later commands start from the truth. */
  setRole(name: string, role: string): void {
    this.component(name).role = role;
    this.save();
  }

  /** Starts (or starts again) one recorded component and waits until its main port answers. */
  async spawn(
    component: Component,
    { waitPort = true, timeoutMs = 30_000 } = {},
  ): Promise<Component> {
    const existing = this.state.components.findIndex((c) => c.name === component.name);
    if (existing >= 0) this.state.components[existing] = component;
    else this.state.components.push(component);
    fs.mkdirSync(component.dir, { recursive: true });
    component.pid = spawnDetached(component.spec);
    this.save();
    if (waitPort) {
      await waitFor(
        `${component.name} to listen on ${component.port}`,
        async () => {
          if (!isAlive(component.pid)) {
            throw new GiveUp(`${component.name} exited:\n${tail(component.spec.logFile)}`);
          }
          return isPortOpen(component.port, component.host);
        },
        { timeoutMs, intervalMs: 25 },
      );
    }
    return component;
  }

  /**
   * Runs a TypeScript entry point of the repository (through scripts/run.cjs)
   * as a recorded component: a test fixture, an election candidate. It is
   * reached by `kill(name, sig)` and stopped by `stop()` like any other; its
   * output goes to `<stateDir>/<name>/out.log`. Waits for its first port, if any.
   *
   * @example
   *   const c = await stack.spawnScript({ name: 'c1', script: candidateTs, args: ['--id', 'c1'] });
   *   fs.readFileSync(c.spec.logFile, 'utf8');
   */
  spawnScript(o: {
    name: string;
    /** Absolute path of the `.ts` entry point. */
    script: string;
    args: string[];
    kind?: ComponentKind;
    role?: string;
    ports?: Record<string, number>;
    /** More environment, over the Redis and etcd logins. */
    env?: Record<string, string>;
    /** How long it may take to listen (default 30 s). */
    timeoutMs?: number;
  }): Promise<Component> {
    const dir = path.join(this.stateDir, o.name);
    const ports = o.ports ?? {};
    return this.spawn(
      {
        name: o.name,
        kind: o.kind ?? 'agent',
        role: o.role ?? o.kind ?? 'agent',
        host: HOST,
        port: Object.values(ports)[0] ?? 0,
        ports,
        dir,
        spec: {
          command: process.execPath,
          args: [...entryArgs(o.script), ...o.args],
          // a fixture logs in to Redis and etcd as a service does (REDIS_USERNAME, ETCD_USERNAME, ...)
          env: { ...this.redisEnv('service'), ...this.etcdEnv('service'), ...o.env },
          logFile: path.join(dir, 'out.log'),
        },
      },
      { waitPort: Object.keys(ports).length > 0, timeoutMs: o.timeoutMs },
    );
  }

  /**
   * The next free instance name of a service (`payment-3`), reserved at once so
   * that instances started in parallel never get the same name.
   */
  nextInstanceName(service: string): string {
    const taken = new Set([...this.state.components.map((c) => c.name), ...this.reservedNames]);
    let n = 1;
    while (taken.has(`${service}-${n}`)) n++;
    const name = `${service}-${n}`;
    this.reservedNames.add(name);
    return name;
  }

  /** Sends a fault signal: SIGKILL (crash), SIGSTOP (freeze), SIGCONT (thaw), SIGTERM (graceful stop). */
  kill(name: string, sig: FaultSignal): void {
    const c = this.component(name);
    this.log(`${sig} -> ${name} (pid ${c.pid})`);
    signal(c.pid, sig);
  }

  /** Stops one component and waits until its ports are closed. */
  async stopComponent(name: string): Promise<void> {
    const c = this.component(name);
    await stopProcess(c.pid, Object.values(c.ports));
  }

  /**
   * Starts a component again. A MariaDB node with `asReplicaOf` rejoins as a
   * replica of that node (transactions it never had acknowledged are discarded,
   * `--init-rpl-role=SLAVE`); a Redis node always comes back as a replica of the
   * current primary (the one Sentinel names), never as an empty primary.
   */
  async restart(name: string, opts: { asReplicaOf?: string } = {}): Promise<Component> {
    const c = this.component(name);
    if (isAlive(c.pid)) await stopProcess(c.pid, Object.values(c.ports));
    if (c.kind === 'mariadb') return this.restartMariaDb(c, opts.asReplicaOf);
    if (c.kind === 'redis') {
      const sentinel = this.byKind('sentinel').find((s) => isAlive(s.pid));
      const primary = sentinel
        ? await sentinelMaster(sentinel)
        : toEndpoint(
            this.byKind('redis').find((r) => r.name !== name && r.role === 'primary') ?? c,
          );
      const node = { name: c.name, host: c.host, port: c.port, dir: c.dir };
      const isSelf = primary.port === c.port && primary.host === c.host;
      c.spec = redisSpec(node, isSelf ? undefined : primary, this.credentials);
      c.role = isSelf ? 'primary' : 'replica';
      await this.spawn(c);
      await waitRedisReady(node);
      if (!isSelf) await waitRedisLinked(node);
      return c;
    }
    return this.spawn(c);
  }

  private async restartMariaDb(c: Component, asReplicaOf?: string): Promise<Component> {
    const node = toMariaNode(c);
    const base = mariadbSpec(node);
    c.spec = asReplicaOf ? { ...base, args: [...base.args, '--init-rpl-role=SLAVE'] } : base;
    await this.spawn(c);
    await waitMariaDbReady(node, () => isAlive(c.pid));
    if (asReplicaOf) {
      const primary = this.component(asReplicaOf);
      const conn = await rootConnection(node);
      try {
        await conn.query('STOP SLAVE');
        await conn.query('SET GLOBAL gtid_slave_pos = @@gtid_binlog_pos');
      } finally {
        await conn.end();
      }
      await attachReplica(node, primary, this.credentials);
      await waitReplicating(node);
      c.role = 'replica';
      this.save();
    }
    return c;
  }

  /** Re-renders the gateway's upstreams and reloads nginx without dropping requests. */
  async reloadNginx(upstreams: Record<string, Upstream[]>): Promise<void> {
    const c = this.byKind('nginx')[0];
    if (!c) throw new Error('this stack has no nginx');
    writeNginxConfig({
      prefix: c.dir,
      host: c.host,
      port: c.port,
      upstreams,
      limits: gatewayLimitsOf(c),
    });
    signal(c.pid, 'SIGHUP');
  }

  /** Probes every component: the status contract. */
  status(): Promise<StackStatus> {
    return probeStack(this.state);
  }

  /** Stops everything (services first, datastores last) and waits until every port is closed. */
  async stop(): Promise<void> {
    const order: ComponentKind[] = [
      'nginx',
      'service',
      'agent',
      'sentinel',
      'redis',
      'etcd',
      'mariadb',
    ];
    for (const kind of order) {
      await Promise.all(this.byKind(kind).map((c) => stopProcess(c.pid, Object.values(c.ports))));
    }
    if (this.exitHook) process.removeListener('exit', this.exitHook);
    this.exitHook = undefined;
    removeEtcdData(this.state.components);
    // a MariaDB node's files take tens of MB: a test run must not leave them behind
    if (this.ownsStateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
  }

  save(): void {
    writeState(this.state);
  }

  /**
   * Re-reads the state file another process may have changed (a demo or
   * `stack:rejoin` restarting a component under a new pid), so stop() and the
   * exit hook reach the processes that run now.
   */
  reload(): void {
    const fresh = readState(this.stateDir);
    if (fresh) Object.assign(this.state, fresh);
  }

  /** A stack started by a test dies with the test process, whatever way it exits. */
  private killOnExit(): void {
    this.exitHook = () => {
      for (const c of this.state.components) signal(c.pid, 'SIGKILL');
      removeEtcdData(this.state.components);
      if (this.ownsStateDir) fs.rmSync(this.stateDir, { recursive: true, force: true });
    };
    process.once('exit', this.exitHook);
  }

  private async boot(o: StackOptions): Promise<void> {
    const host = o.host ?? HOST;
    const replicas = o.mariadb === false ? 0 : (o.replicas ?? 2);
    const withMaria = o.mariadb !== false;
    const withRedis = o.redis !== false;
    const withSentinel = withRedis && o.sentinel !== false;
    const etcdMembers = o.etcd === true ? 3 : typeof o.etcd === 'number' ? o.etcd : 0;
    const need =
      2 * etcdMembers +
      (withMaria ? 1 + replicas : 0) +
      (withRedis ? 2 : 0) +
      (withSentinel ? 3 : 0) +
      (o.nginx !== false ? 1 : 0);
    const pool = await freePorts(need);
    const take = (fixed: number | undefined) => fixed ?? (pool.shift() as number);
    const ports: StackPorts = {
      mariadb: Array.from({ length: withMaria ? 1 + replicas : 0 }, (_, i) =>
        take(o.ports?.mariadb?.[i]),
      ),
      redis: Array.from({ length: withRedis ? 2 : 0 }, (_, i) => take(o.ports?.redis?.[i])),
      sentinel: Array.from({ length: withSentinel ? 3 : 0 }, (_, i) =>
        take(o.ports?.sentinel?.[i]),
      ),
      nginx: o.nginx !== false ? take(o.ports?.nginx) : 0,
      etcd: Array.from({ length: etcdMembers }, (_, i) => take(o.ports?.etcd?.[i])),
      etcdPeer: Array.from({ length: etcdMembers }, (_, i) => take(o.ports?.etcdPeer?.[i])),
    };
    const tasks: Promise<void>[] = [];
    if (withMaria) tasks.push(this.bootMariaDb(host, ports.mariadb, o.mariadbBootstrap !== false));
    if (withRedis)
      tasks.push(this.bootRedis(host, ports.redis, withSentinel ? ports.sentinel : []));
    if (o.nginx !== false) tasks.push(this.bootNginx(host, ports.nginx, o.gatewayLimits));
    if (etcdMembers)
      tasks.push(this.bootEtcd(host, ports.etcd ?? [], ports.etcdPeer ?? [], o.etcdAuthTokenTtlS));
    const results = await Promise.allSettled(tasks);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async bootMariaDb(host: string, ports: number[], bootstrap: boolean): Promise<void> {
    const t0 = Date.now();
    const nodes: MariaDbNode[] = ports.map((port, i) => ({
      name: `mariadb-${i + 1}`,
      host,
      port,
      serverId: i + 1,
      dir: path.join(this.stateDir, `mariadb-${i + 1}`),
    }));
    await initDataDir(nodes[0]);
    await Promise.all(nodes.slice(1).map((n) => initDataDir(n, nodes[0])));
    await Promise.all(
      nodes.map(async (node, i) => {
        const component: Component = {
          name: node.name,
          kind: 'mariadb',
          role: i === 0 ? 'primary' : 'replica',
          host,
          port: node.port,
          ports: { mysql: node.port },
          dir: node.dir,
          spec: mariadbSpec(node),
          meta: { serverId: node.serverId },
        };
        await this.spawn(component, { waitPort: false });
        await waitMariaDbReady(node, () => isAlive(component.pid));
      }),
    );
    const [primary, ...replicas] = nodes;
    if (!bootstrap) return;
    await bootstrapCluster(primary, replicas, this.credentials);
    this.save();
    this.log(
      `mariadb: primary ${primary.name} :${primary.port}, ${replicas.length} replica(s), semi-sync on, ${Date.now() - t0} ms`,
    );
  }

  private async bootRedis(host: string, ports: number[], sentinelPorts: number[]): Promise<void> {
    const t0 = Date.now();
    const nodes: RedisNode[] = ports.map((port, i) => ({
      name: `redis-${i + 1}`,
      host,
      port,
      dir: path.join(this.stateDir, `redis-${i + 1}`),
    }));
    const [primary, ...replicas] = nodes;
    const spawnRedis = async (node: RedisNode, replicaOf?: RedisNode) => {
      await this.spawn({
        name: node.name,
        kind: 'redis',
        role: replicaOf ? 'replica' : 'primary',
        host,
        port: node.port,
        ports: { redis: node.port },
        dir: node.dir,
        spec: redisSpec(node, replicaOf, this.credentials),
      });
      await waitRedisReady(node);
    };
    await spawnRedis(primary);
    await Promise.all(replicas.map((r) => spawnRedis(r, primary)));
    await Promise.all(replicas.map((r) => waitRedisLinked(r)));
    const sentinels: RedisNode[] = sentinelPorts.map((port, i) => ({
      name: `sentinel-${i + 1}`,
      host,
      port,
      dir: path.join(this.stateDir, `sentinel-${i + 1}`),
    }));
    await Promise.all(
      sentinels.map((s) =>
        this.spawn({
          name: s.name,
          kind: 'sentinel',
          role: 'monitor',
          host,
          port: s.port,
          ports: { sentinel: s.port },
          dir: s.dir,
          spec: sentinelSpec(s, primary, this.credentials),
        }),
      ),
    );
    if (sentinels.length) await waitSentinelQuorum(sentinels);
    this.log(
      `redis: primary ${primary.name} :${primary.port}, ${replicas.length} replica(s), ${sentinels.length} sentinel(s), ${Date.now() - t0} ms`,
    );
  }

  private async bootEtcd(
    host: string,
    ports: number[],
    peerPorts: number[],
    authTokenTtlS?: number,
  ): Promise<void> {
    const t0 = Date.now();
    const nodes: EtcdNode[] = ports.map((clientPort, i) => ({
      name: `etcd-${i + 1}`,
      host,
      clientPort,
      peerPort: peerPorts[i],
      dir: path.join(this.stateDir, `etcd-${i + 1}`),
      dataDir: etcdDataDir(this.stateDir, `etcd-${i + 1}`),
    }));
    removeEtcdData(nodes.map((n) => ({ kind: 'etcd', meta: { dataDir: n.dataDir } })));
    await Promise.all(
      nodes.map((node) =>
        this.spawn({
          name: node.name,
          kind: 'etcd',
          role: 'member',
          host,
          port: node.clientPort,
          ports: { client: node.clientPort, peer: node.peerPort },
          dir: node.dir,
          spec: etcdSpec(node, nodes, { authTokenTtlS }),
          meta: { dataDir: node.dataDir },
        }),
      ),
    );
    await waitEtcdCluster(nodes);
    // users and roles from the one table, then auth on: no client without a login (libs/contracts etcd-auth.ts)
    await applyEtcdAuth(nodes.map(etcdClientUrl));
    this.log(
      `etcd: ${nodes.length} members on ${ports.join(', ')}, data on ${path.dirname(nodes[0].dataDir)}, ${Date.now() - t0} ms`,
    );
  }

  private async bootNginx(
    host: string,
    port: number,
    limits: Partial<GatewayLimits> = {},
  ): Promise<void> {
    const dir = path.join(this.stateDir, 'nginx');
    fs.mkdirSync(dir, { recursive: true });
    const component: Component = {
      name: 'gateway',
      kind: 'nginx',
      role: 'gateway',
      host,
      port,
      ports: { http: port },
      dir,
      // kept with the component: a reload and the gateway sync render the same limits
      meta: { ...limits },
      spec: nginxSpec({ prefix: dir, host, port, limits }),
    };
    await this.spawn(component);
    const l = gatewayLimitsOf(component);
    this.log(
      `nginx: gateway on http://${host}:${port}; bookings per client address: ${l.bookingRate}, burst ${l.bookingBurst}; ` +
        `per token: bookings ${l.tokenBookingRate}, burst ${l.tokenBookingBurst}, requests ${l.tokenRequestRate}, burst ${l.tokenRequestBurst}; ` +
        `${l.connectionsPerClient} requests at once per address; X-Instance-Id ${l.exposeInstanceId ? 'shown' : 'hidden'}`,
    );
  }
}

function toEndpoint(c: Component): Endpoint {
  return { name: c.name, host: c.host, port: c.port };
}

function toMariaNode(c: Component): MariaDbNode {
  return {
    name: c.name,
    host: c.host,
    port: c.port,
    serverId: Number(c.meta?.serverId),
    dir: c.dir,
  };
}

/** Starts a stack of real datastores on free loopback ports (see {@link Stack}). */
export function startStack(options: StackOptions = {}): Promise<Stack> {
  return Stack.start(options);
}
