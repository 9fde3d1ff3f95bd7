/**
 * docker-compose.yml, checked without a Docker engine (see docs/docker.md): the
 * file is valid for `docker-compose config`; what it builds and mounts exists;
 * its entry points are files `npm run build` produces; every container's
 * environment passes its app's own config schema and points at containers that
 * listen there; the datastores run with the settings the native launcher uses.
 * Needs Debian's `docker-compose` (1.29): without it this fails, on purpose.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { load } from 'js-yaml';
import type { ZodType } from 'zod';
import { credentialsFromEnv, SERVICE_DATABASES } from './lib/credentials';
import { SERVICE_START_ORDER } from './lib/full-stack';
import { mariadbSpec } from './lib/mariadb';
import { GATEWAY_ROUTES } from './lib/nginx';
import { redisSpec, SENTINEL_MASTER_NAME, sentinelSpec } from './lib/redis';

// the launcher's specs only name their binaries; MariaDB and Redis need not be installed
jest.mock('./lib/binaries', () => ({ which: (binary: string) => `/usr/sbin/${binary}` }));
jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const ENV_EXAMPLE = path.join(ROOT, '.env.example');
/** Where the image puts the repository's files (the Dockerfile's WORKDIR). */
const IMAGE_ROOT = '/app';

interface Service {
  image?: string;
  build?: { context: string; dockerfile?: string; target?: string };
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  expose?: string[];
  ports?: Array<{ published: number | string; target: number | string }>;
  volumes?: string[];
  restart?: string;
}

/** Runs docker-compose on the file with only PATH and HOME from the environment, and the given env file. */
function dockerCompose(args: string[], envFile: string): string {
  return execFileSync('docker-compose', ['--env-file', envFile, '-f', COMPOSE_FILE, ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** `--key=value` / `--key value...` / cnf `key=value` lines -> key (dashes) -> value. */
function flagMap(entries: Array<[string, string]>): Map<string, string> {
  return new Map(entries.map(([k, v]) => [k.replace(/^--/, '').replace(/_/g, '-'), v]));
}

function parseLongFlags(args: string[]): Map<string, string> {
  return flagMap(
    args
      .filter((a) => a.startsWith('--'))
      .map((a) => {
        const i = a.indexOf('=');
        return i < 0 ? [a, ''] : [a.slice(0, i), a.slice(i + 1)];
      }),
  );
}

/** Redis style: `--key value [value]`. */
function parseRedisArgs(args: string[]): Map<string, string> {
  const out: Array<[string, string[]]> = [];
  for (const a of args) {
    if (a.startsWith('--')) out.push([a, []]);
    else out[out.length - 1]?.[1].push(a);
  }
  return flagMap(out.map(([k, v]) => [k, v.join(' ')]));
}

function parseCnf(text: string): Map<string, string> {
  return flagMap(
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#') && !l.startsWith('['))
      .map((l) => {
        const i = l.indexOf('=');
        return i < 0 ? [l, ''] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
      }),
  );
}

function confLines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
}

/** Apps under apps/ that have an entry point. */
function appNames(): string[] {
  return fs
    .readdirSync(path.join(ROOT, 'apps'))
    .filter((a) => fs.existsSync(path.join(ROOT, 'apps', a, 'src', 'main.ts')));
}

/**
 * The app's exported `*ConfigSchema` (a schema, or a function of the environment
 * that returns one), built without the dev profile: every secret is required.
 */
async function appConfigSchema(file: string, env: Record<string, string>): Promise<ZodType> {
  const mod = (await import(file)) as Record<string, unknown>;
  const found = Object.entries(mod).find(([name]) => name.endsWith('ConfigSchema'));
  if (!found) throw new Error(`${path.relative(ROOT, file)} exports no *ConfigSchema`);
  const strictEnv = { ...env };
  delete strictEnv.STAYLINE_PROFILE;
  return typeof found[1] === 'function'
    ? (found[1] as (e: NodeJS.ProcessEnv) => ZodType)(strictEnv)
    : (found[1] as ZodType);
}

describe('docker-compose.yml', () => {
  let services: Record<string, Service>;
  let emptyEnv: string;
  let built: string;

  const get = (name: string): Service => {
    const s = services[name];
    if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
    return s;
  };
  const byCommand = (entry: string) =>
    Object.entries(services).filter(([, s]) => s.command?.[0] === 'node' && s.command[1] === entry);
  const instancesOf = (app: string) => byCommand(`dist/apps/${app}/src/main.js`);
  const mariadbNodes = () => Object.keys(services).filter((n) => /^mariadb-\d+$/.test(n));
  const sentinels = () => Object.keys(services).filter((n) => /^sentinel-\d+$/.test(n));

  beforeAll(() => {
    emptyEnv = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-')), 'empty.env');
    fs.writeFileSync(emptyEnv, '');
    // values as .env.example sets them (the next test shows they are the file's own defaults)
    const config = load(dockerCompose(['config'], ENV_EXAMPLE)) as {
      services: Record<string, Service>;
    };
    services = config.services;
    built = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-build-'));
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.cjs'), built], {
      stdio: 'pipe',
    });
  });

  afterAll(() => {
    fs.rmSync(path.dirname(emptyEnv), { recursive: true, force: true });
    fs.rmSync(built, { recursive: true, force: true });
  });

  it('passes `docker-compose config -q`, with and without the .env.example values', () => {
    expect(() => dockerCompose(['config', '-q'], emptyEnv)).not.toThrow();
    expect(() => dockerCompose(['config', '-q'], ENV_EXAMPLE)).not.toThrow();
  });

  it('reads only variables .env.example lists, whose values there are the file’s own defaults', () => {
    const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
    const used = new Set([...raw.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const listed = new Set(
      confLines(fs.readFileSync(ENV_EXAMPLE, 'utf8')).map((l) => l.slice(0, l.indexOf('='))),
    );
    expect([...used].sort()).toEqual([...listed].sort());
    // nothing set: every variable falls back to the same value .env.example gives it
    expect(dockerCompose(['config'], emptyEnv)).toEqual(dockerCompose(['config'], ENV_EXAMPLE));
  });

  it('holds no secret except clearly marked dev defaults, each overridable', () => {
    const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
    const secrets = [
      ...raw.matchAll(/^\s*([A-Z0-9_]*(?:PASSWORD|TOKEN|SECRET)[A-Z0-9_]*):\s*(.*)$/gm),
    ];
    expect(secrets.length).toBeGreaterThan(0);
    for (const [, name, value] of secrets) {
      expect({ name, value }).toEqual({
        name,
        value: expect.stringMatching(/^\$\{[A-Z0-9_]+:-dev-only-[\w-]+\}$/),
      });
    }
    for (const line of confLines(fs.readFileSync(ENV_EXAMPLE, 'utf8'))) {
      if (/PASSWORD|TOKEN|SECRET/.test(line.split('=')[0])) expect(line).toMatch(/=dev-only-/);
    }
  });

  it('builds from contexts, Dockerfiles and stages that exist, and mounts files that exist', () => {
    const builds = Object.values(services).filter((s) => s.build);
    expect(builds.length).toBeGreaterThan(0);
    for (const { build } of builds) {
      const context = build?.context as string;
      expect(fs.statSync(context).isDirectory()).toBe(true);
      const dockerfile = path.join(context, build?.dockerfile ?? 'Dockerfile');
      expect(fs.existsSync(dockerfile)).toBe(true);
      if (build?.target) {
        const stages = [
          ...fs.readFileSync(dockerfile, 'utf8').matchAll(/^FROM\s+\S+\s+AS\s+(\S+)/gim),
        ];
        expect(stages.map((m) => m[1])).toContain(build.target);
      }
    }
    for (const volume of Object.values(services).flatMap((s) => s.volumes ?? [])) {
      const source = volume.split(':')[0];
      if (path.isAbsolute(source))
        expect({ volume, exists: fs.existsSync(source) }).toEqual({ volume, exists: true });
    }
  });

  it('builds one Node 24 slim image: npm ci + npm run build, then production dependencies and dist/, run as `node`', () => {
    const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^ARG NODE_IMAGE=node:24[\w.-]*-slim$/m);
    expect(dockerfile).toMatch(/RUN npm ci\b/);
    expect(dockerfile).toMatch(/RUN npm run build\b/);
    expect(dockerfile).toMatch(/RUN npm ci --omit=dev\b/);
    expect(dockerfile).toMatch(/^ENV NODE_ENV=production$/m);
    expect(dockerfile).toMatch(new RegExp(`^WORKDIR ${IMAGE_ROOT}$`, 'm'));
    // the user each built stage ends with, following FROM <stage> chains
    const stages = new Map<string, { from: string; body: string }>();
    for (const part of dockerfile.split(/^(?=FROM )/m).filter((p) => p.startsWith('FROM '))) {
      const m = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(part) as RegExpExecArray;
      stages.set(m[2] ?? m[1], { from: m[1], body: part });
    }
    const userOf = (stage: string): string | undefined => {
      const s = stages.get(stage);
      if (!s) return undefined;
      const users = [...s.body.matchAll(/^USER\s+(\S+)/gm)];
      return users.length ? users[users.length - 1][1] : userOf(s.from);
    };
    const targets = new Set(
      Object.values(services)
        .map((s) => s.build?.target)
        .filter(Boolean),
    );
    for (const target of targets)
      expect({ target, user: userOf(target as string) }).toEqual({ target, user: 'node' });
  });

  it('runs two instances of every app, on entry points `npm run build` produces', () => {
    const apps = appNames();
    expect(apps).toEqual(
      expect.arrayContaining(['payment', 'recommendation', 'reservation', 'scrap']),
    );
    for (const app of apps) {
      // one dashboard: a read-only page whose timeline is its own
      const expected = app === 'dashboard' ? 1 : 2;
      expect({ app, instances: instancesOf(app).length }).toEqual({ app, instances: expected });
    }
    for (const [name, s] of Object.entries(services)) {
      if (s.command?.[0] !== 'node') continue;
      const entry = s.command[1];
      if (entry.startsWith('dist/')) {
        expect({
          name,
          entry,
          built: fs.existsSync(path.join(built, entry.slice('dist/'.length))),
        }).toEqual({ name, entry, built: true });
        continue;
      }
      // an entry copied from the repository: the Dockerfile copies it, and what it loads is built
      const source = fs.readFileSync(path.join(ROOT, entry), 'utf8');
      expect(fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8')).toContain(
        `COPY ${entry} ./${path.dirname(entry)}/`,
      );
      const loads = [...source.matchAll(/'((?:apps|libs|infra)\/[\w./-]+\.js)'/g)].map((m) => m[1]);
      expect(loads.length).toBeGreaterThan(0);
      for (const file of loads)
        expect({ entry, file, built: fs.existsSync(path.join(built, file)) }).toEqual({
          entry,
          file,
          built: true,
        });
    }
  });

  it('starts callers after their callees, as `npm start` does', () => {
    for (const [i, phase] of SERVICE_START_ORDER.entries()) {
      const callees = SERVICE_START_ORDER.slice(0, i)
        .flat()
        .flatMap((callee) => instancesOf(callee).map(([name]) => name));
      for (const [name, s] of phase.flatMap((app) => instancesOf(app))) {
        for (const callee of callees)
          expect({ name, callee, dep: s.depends_on?.[callee] }).toEqual({
            name,
            callee,
            dep: { condition: 'service_healthy' },
          });
      }
    }
  });

  it('gives every service instance an environment its app’s config schema accepts, pointing at containers that listen there', async () => {
    const dbInit = get('db-init');
    const creds = credentialsFromEnv(dbInit.environment);
    const primary = dbInit.command?.[dbInit.command.indexOf('--primary') + 1] as string;
    const replicas = (dbInit.command ?? []).filter((_, i, a) => a[i - 1] === '--replica');
    // the failover agent: the nodes it manages are the compose file's, with db-init's accounts
    type AgentEnv = {
      AGENT_ID: string;
      HOST: string;
      HTTP_PORT: number;
      MARIADB_NODES: Array<{ name: string; host: string; port: number }>;
      REDIS_NODES: Array<{ name: string; host: string; port: number }>;
      REDIS_SENTINELS: Array<{ host: string; port: number }>;
      STAYLINE_DB_ADMIN_USER: string;
      STAYLINE_DB_ADMIN_PASSWORD: string;
      STAYLINE_DB_REPL_USER: string;
      STAYLINE_DB_REPL_PASSWORD: string;
    };
    const checkAgent = (name: string, s: Service, c: AgentEnv) => {
      expect({ name, id: c.AGENT_ID, host: c.HOST }).toEqual({ name, id: name, host: '0.0.0.0' });
      expect(s.expose).toContain(String(c.HTTP_PORT));
      expect(c.MARIADB_NODES.map((n) => `${n.host}:${n.port}`)).toEqual([primary, ...replicas]);
      expect(c.REDIS_NODES.map((n) => n.host).sort()).toEqual(
        Object.keys(services).filter((n) => /^redis-\d+$/.test(n)),
      );
      for (const n of [...c.MARIADB_NODES, ...c.REDIS_NODES, ...c.REDIS_SENTINELS])
        expect(get(n.host).expose).toContain(String(n.port));
      expect(c.REDIS_SENTINELS.map((x) => x.host).sort()).toEqual(sentinels().sort());
      expect({
        admin: { user: c.STAYLINE_DB_ADMIN_USER, password: c.STAYLINE_DB_ADMIN_PASSWORD },
        replication: { user: c.STAYLINE_DB_REPL_USER, password: c.STAYLINE_DB_REPL_PASSWORD },
      }).toEqual({ admin: creds.admin, replication: creds.replication });
      expect(s.depends_on).toMatchObject({
        'db-init': { condition: 'service_completed_successfully' },
      });
    };
    // the dashboard (apps/dashboard): probes the compose file's nodes, agents and etcd read-only
    type DashboardEnv = {
      INSTANCE_ID: string;
      HOST: string;
      ADVERTISE_HOST?: string;
      HTTP_PORT: number;
      DB_USER: string;
      DB_PASSWORD: string;
      MARIADB_NODES: Array<{ name: string; host: string; port: number }>;
      FAILOVER_AGENTS: Array<{ name: string; host: string; port: number }>;
      REDIS_SENTINELS: Array<{ host: string; port: number }>;
      ETCD_ENDPOINTS: { endpoints: string[] };
    };
    const checkDashboard = (name: string, s: Service, c: DashboardEnv) => {
      expect({ name, id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
        name,
        id: name,
        advertise: name,
        host: '0.0.0.0',
      });
      expect(s.expose).toContain(String(c.HTTP_PORT));
      expect({ user: c.DB_USER, password: c.DB_PASSWORD }).toEqual(creds.app);
      expect(c.MARIADB_NODES.map((n) => `${n.host}:${n.port}`)).toEqual([primary, ...replicas]);
      expect(c.FAILOVER_AGENTS.map((a) => a.host).sort()).toEqual(
        instancesOf('failover-agent').map(([n]) => n),
      );
      for (const n of [...c.MARIADB_NODES, ...c.FAILOVER_AGENTS, ...c.REDIS_SENTINELS])
        expect(get(n.host).expose).toContain(String(n.port));
      expect(c.REDIS_SENTINELS.map((x) => x.host).sort()).toEqual(sentinels().sort());
      expect(c.ETCD_ENDPOINTS.endpoints.map((u) => new URL(u).hostname)).toEqual(
        Object.keys(services).filter((n) => /^etcd-\d+$/.test(n)),
      );
      return c.INSTANCE_ID;
    };
    const saved = process.env.STAYLINE_PROFILE;
    delete process.env.STAYLINE_PROFILE; // the compose file sets every secret: no dev default may be needed
    try {
      const ids = new Set<string>();
      for (const app of appNames()) {
        for (const [name, s] of instancesOf(app)) {
          const env = s.environment ?? {};
          const schema = await appConfigSchema(
            path.join(ROOT, 'apps', app, 'src', 'config.ts'),
            env,
          );
          const parsed = schema.safeParse(env);
          if (!parsed.success) throw new Error(`${name}: ${JSON.stringify(parsed.error.issues)}`);
          if ('AGENT_ID' in (parsed.data as object)) {
            checkAgent(name, s, parsed.data as AgentEnv);
            continue;
          }
          if ('DASHBOARD_SERVICES' in (parsed.data as object)) {
            ids.add(checkDashboard(name, s, parsed.data as DashboardEnv));
            continue;
          }
          const c = parsed.data as {
            INSTANCE_ID: string;
            HOST: string;
            ADVERTISE_HOST?: string;
            HTTP_PORT: number;
            TCP_PORT: number;
            DB_NAME: string;
            DB_USER: string;
            DB_PASSWORD: string;
            DB_PRIMARY: { name: string; host: string; port: number };
            DB_REPLICAS: Array<{ name: string; host: string; port: number }>;
            REDIS_SENTINELS: Array<{ host: string; port: number }>;
            REDIS_MASTER_NAME: string;
          };
          ids.add(c.INSTANCE_ID);
          // registered in discovery under a name the gateway and the other services resolve
          expect({ name, id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
            name,
            id: name,
            advertise: name,
            host: '0.0.0.0',
          });
          expect(s.expose).toEqual(
            expect.arrayContaining([String(c.HTTP_PORT), String(c.TCP_PORT)]),
          );
          expect(s.healthcheck?.test.join(' ')).toMatch(
            /process\.env\.HTTP_PORT\+'\/health\/live'/,
          );
          expect(c.DB_NAME).toBe(app);
          expect(SERVICE_DATABASES).toContain(c.DB_NAME);
          // the account db-init creates
          expect({ user: c.DB_USER, password: c.DB_PASSWORD }).toEqual(creds.app);
          expect(`${c.DB_PRIMARY.host}:${c.DB_PRIMARY.port}`).toBe(primary);
          expect(c.DB_REPLICAS.map((r) => `${r.host}:${r.port}`)).toEqual(replicas);
          for (const node of [c.DB_PRIMARY, ...c.DB_REPLICAS]) {
            expect(node.name).toBe(node.host);
            expect(get(node.host).expose).toContain(String(node.port));
          }
          expect(c.REDIS_SENTINELS.map((x) => x.host).sort()).toEqual(sentinels().sort());
          for (const x of c.REDIS_SENTINELS) expect(get(x.host).expose).toContain(String(x.port));
          expect(c.REDIS_MASTER_NAME).toBe(SENTINEL_MASTER_NAME);
          expect(s.depends_on).toMatchObject({
            'db-init': { condition: 'service_completed_successfully' },
            ...Object.fromEntries(sentinels().map((x) => [x, { condition: 'service_healthy' }])),
          });
        }
      }
      expect(ids.size).toBe(
        Object.values(services).filter((x) => x.environment?.INSTANCE_ID).length,
      );
    } finally {
      if (saved === undefined) delete process.env.STAYLINE_PROFILE;
      else process.env.STAYLINE_PROFILE = saved;
    }
  });

  it('runs the gateway on localhost:8080: nginx and the upstream sync, with an environment the sync accepts', async () => {
    const gateway = get('gateway');
    const schema = await appConfigSchema(
      path.join(ROOT, 'infra/gateway-sync/src/lib/sync-config.ts'),
      gateway.environment ?? {},
    );
    const parsed = schema.safeParse(gateway.environment ?? {});
    if (!parsed.success) throw new Error(`gateway: ${JSON.stringify(parsed.error.issues)}`);
    const c = parsed.data as {
      GATEWAY_HOST: string;
      GATEWAY_PORT: number;
      SYNC_PORT: number;
      REDIS_SENTINELS: Array<{ host: string; port: number }>;
      REDIS_MASTER_NAME: string;
    };
    expect(c.GATEWAY_HOST).toBe('0.0.0.0');
    expect(gateway.ports).toEqual([{ published: 8080, target: c.GATEWAY_PORT }]);
    const health = gateway.healthcheck?.test.join(' ') ?? '';
    expect(health).toContain(`127.0.0.1:${c.GATEWAY_PORT}/health`);
    expect(health).toContain(`127.0.0.1:${c.SYNC_PORT}/health/live`);
    expect(c.REDIS_SENTINELS.map((x) => x.host).sort()).toEqual(sentinels().sort());
    expect(c.REDIS_MASTER_NAME).toBe(SENTINEL_MASTER_NAME);
    // it opens once every instance it routes to is live
    const routed = new Set(GATEWAY_ROUTES.map((r) => r.service));
    for (const [name] of [...routed].flatMap((service) => instancesOf(service)))
      expect({ name, dep: gateway.depends_on?.[name] }).toEqual({
        name,
        dep: { condition: 'service_healthy' },
      });
  });

  it('has a healthcheck on every long-running container, and waits only on what can become healthy or complete', () => {
    for (const [name, s] of Object.entries(services)) {
      const oneShot = name === 'db-init';
      expect({ name, healthcheck: Boolean(s.healthcheck) }).toEqual({
        name,
        healthcheck: !oneShot,
      });
      for (const [dep, { condition }] of Object.entries(s.depends_on ?? {})) {
        const target = get(dep);
        if (condition === 'service_healthy')
          expect({ name, dep, healthcheck: Boolean(target.healthcheck) }).toEqual({
            name,
            dep,
            healthcheck: true,
          });
        else
          expect({ name, dep, condition, restart: target.restart }).toEqual({
            name,
            dep,
            condition: 'service_completed_successfully',
            restart: 'no',
          });
      }
    }
  });

  it('runs MariaDB nodes with the launcher’s server flags, and db-init with the launcher’s cluster-init', () => {
    const nodes = mariadbNodes();
    expect(nodes).toEqual(['mariadb-1', 'mariadb-2', 'mariadb-3']);
    const cnfFile = path.join(ROOT, 'infra/docker/mariadb.cnf');
    const shared = parseCnf(fs.readFileSync(cnfFile, 'utf8'));
    // per process on the native stack; the image and each node's command set these
    const perProcess = [
      'no-defaults',
      'user',
      'datadir',
      'tmpdir', // each native node its own; a container has its own /tmp
      'socket',
      'pid-file',
      'log-error',
      'bind-address',
      'log-bin',
    ];
    const serverIds = new Set<string>();
    for (const [i, name] of nodes.entries()) {
      const s = get(name);
      expect(s.image).toMatch(/^mariadb:10\.11(\.\d+)?$/);
      expect(s.volumes).toContain(`${cnfFile}:/etc/mysql/conf.d/stayline.cnf:ro`);
      expect(s.environment?.MARIADB_ROOT_PASSWORD).toBe(
        get('db-init').environment?.MARIADB_ROOT_PASSWORD,
      );
      const effective = new Map([...shared, ...parseLongFlags(s.command ?? [])]);
      const spec = parseLongFlags(
        mariadbSpec({ name, host: name, port: 3306, serverId: i + 1, dir: '/unused' }).args,
      );
      for (const key of perProcess) spec.delete(key);
      expect(Object.fromEntries([...effective].filter(([k]) => spec.has(k)))).toEqual(
        Object.fromEntries(spec),
      );
      expect(effective.has('log-bin')).toBe(true);
      // semi-sync's master side is switched on at run time by db-init, never in a config
      expect([...effective.keys()]).not.toContain('rpl-semi-sync-master-enabled');
      serverIds.add(effective.get('server-id') as string);
    }
    expect(serverIds.size).toBe(nodes.length);
    expect(get('db-init').command).toEqual([
      'node',
      'dist/infra/launcher/src/cluster-init.js',
      '--primary',
      `${nodes[0]}:3306`,
      ...nodes.slice(1).flatMap((n) => ['--replica', `${n}:3306`]),
    ]);
    expect(get('db-init').depends_on).toEqual(
      Object.fromEntries(nodes.map((n) => [n, { condition: 'service_healthy' }])),
    );
  });

  it('runs Redis and the Sentinels with the launcher’s settings, each Sentinel on a fresh config', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-redis-'));
    try {
      const perProcess = ['port', 'bind', 'dir', 'pidfile', 'logfile', 'daemonize'];
      const primary = { host: 'redis-1', port: 6379 };
      for (const [name, replicaOf] of [
        ['redis-1', undefined],
        ['redis-2', primary],
      ] as const) {
        const s = get(name);
        expect(s.image).toMatch(/^redis:7(\.\d+)*$/);
        expect(s.command?.[0]).toBe('redis-server');
        const spec = parseRedisArgs(
          redisSpec({ name, host: name, port: 6379, dir: scratch }, replicaOf).args,
        );
        for (const key of perProcess) spec.delete(key);
        expect(Object.fromEntries(parseRedisArgs(s.command ?? []))).toEqual(
          Object.fromEntries(spec),
        );
      }

      const template = fs.readFileSync(
        path.join(ROOT, 'infra/docker/sentinel.conf.template'),
        'utf8',
      );
      for (const name of sentinels()) {
        const s = get(name);
        expect(s.command?.join(' ')).toMatch(
          /sentinel\.conf\.template > \/data\/sentinel\.conf && exec redis-sentinel \/data\/sentinel\.conf/,
        );
        const host = s.environment?.SENTINEL_HOST as string;
        expect(host).toBe(name);
        const ours = confLines(template.replaceAll('{{ANNOUNCE_HOST}}', host));
        const dir = path.join(scratch, name);
        sentinelSpec({ name, host, port: 26379, dir }, primary);
        const theirs = confLines(fs.readFileSync(path.join(dir, 'sentinel.conf'), 'utf8')).filter(
          (l) => !/^(bind|dir|pidfile|logfile) /.test(l),
        );
        expect(ours).toEqual(expect.arrayContaining(theirs));
        expect(ours).toEqual(
          expect.arrayContaining([
            'sentinel resolve-hostnames yes',
            'sentinel announce-hostnames yes',
          ]),
        );
        expect(s.expose).toContain('26379');
      }
      expect(sentinels()).toHaveLength(3);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });
});
