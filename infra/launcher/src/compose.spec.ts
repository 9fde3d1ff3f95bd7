/**
 * docker-compose.yml, checked without a Docker engine (see docs/docker.md): the
 * file is valid for `docker-compose config`; every image it names is built from
 * a Dockerfile of this repository, FROM the Debian bookworm and Node 24 images
 * its build arguments name, with the legacy builder (no `# syntax` line, nothing
 * BuildKit-only), and runs as a non-root user; what the Dockerfiles copy exists
 * and nothing is mounted from the host; its entry points are files
 * `scripts/build.cjs` produces; every container's environment passes its app's
 * own config schema and points at containers that listen there; the
 * datastores sit on fixed addresses of the network's subnet (outside the range
 * Docker hands out, moved as one by STAYLINE_NET_PREFIX), and Redis, the
 * Sentinels and MariaDB are addressed by those IPs, never by a container name;
 * the `scale` profile holds templates for `--scale`, not more fixed instances;
 * the datastores run with the settings the native launcher uses (MariaDB's flags
 * baked into its image's stayline.cnf and entry point, Redis's arguments, the
 * Sentinel template its entry point writes afresh at every start, etcd's Raft
 * timings); the healthcheck script and the Sentinel entry point are run here;
 * Prometheus runs Debian's server on the configuration the native stack's generator
 * renders for the compose names (each target a container listening there, the rules the
 * repository's file baked into its image), on loopback only.
 * Needs Debian's `docker-compose` (1.29): without it this fails, on purpose.
 */
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import { isIPv4, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { load } from 'js-yaml';
import type { ZodType } from 'zod';
import { ETCD_USERS, EtcdRole, REDIS_USERS, RedisRole, SENTINEL_USERS } from '@stayline/contracts';
import {
  credentialsFromEnv,
  etcdLogin,
  redisRoleOf,
  SERVICE_DATABASES,
  type ServiceDatabase,
  ETCD_ELECTION_TIMEOUT_MS,
  ETCD_HEARTBEAT_MS,
  SERVICE_START_ORDER,
  mariadbSpec,
  redisSpec,
  SENTINEL_MASTER_NAME,
  sentinelSpec,
  COMPOSE_RULES_PATH,
  composePrometheusConfig,
  PROMETHEUS_CONFIG_FILE,
  PROMETHEUS_RULES,
} from '@stayline/stack-kit';
import { GATEWAY_ROUTES } from '@stayline/gateway';
import { redisAuthFiles } from './datastore-auth';

/**
 * Whether a variable holds a secret: a password, a secret, a token (`ADMIN_TOKEN`; not the
 * gateway's per-token limits, `GATEWAY_TOKEN_*`) or a signing key.
 */
const isSecretName = (name: string) => /PASSWORD|SECRET|TOKEN$|SIGNING_KEY/.test(name);

// the launcher's specs only name their binaries; MariaDB and Redis need not be installed
jest.mock('../../../tools/stack-kit/src/lib/binaries', () => ({
  which: (binary: string) => `/usr/sbin/${binary}`,
}));
jest.setTimeout(120_000);

const ROOT = path.resolve(__dirname, '../../..');
const COMPOSE_FILE = path.join(ROOT, 'docker-compose.yml');
const ENV_EXAMPLE = path.join(ROOT, '.env.example');
/** Where the image puts the repository's files (the Dockerfile's WORKDIR). */
const IMAGE_ROOT = '/app';
/** Where an image puts the commands the compose file and the healthchecks run by name. */
const IMAGE_BIN = '/usr/local/bin';
/** The build arguments every build gets (x-base-args), and the variables they come from. */
const BASE_ARGS = { BASE_IMAGE: 'STAYLINE_BASE_IMAGE', NODE_IMAGE: 'STAYLINE_NODE_IMAGE' };
/** The compose network's /24 as .env.example gives it (STAYLINE_NET_PREFIX), and one it can move to. */
const NET_PREFIX = '10.89.51';
const MOVED_NET_PREFIX = '172.31.7';
/** A container's own address, as `ADVERTISE_HOST=auto` finds it: one Docker hands out from the ip_range. */
const containerAddress = (prefix: string) => `${prefix}.142`;
/** The containers Redis, the Sentinels and MariaDB run in: addressed by IP only. */
const BY_ADDRESS = /^(?:mariadb|redis|sentinel)-\d+$/;
/** Settings that list Redis, Sentinel or MariaDB nodes (`[name@]host:port,...`), and what they list. */
const ADDRESS_SETTINGS: Record<string, RegExp> = {
  DB_PRIMARY: /^mariadb-\d+$/,
  DB_REPLICAS: /^mariadb-\d+$/,
  MARIADB_NODES: /^mariadb-\d+$/,
  REDIS_NODES: /^redis-\d+$/,
  REDIS_SENTINELS: /^sentinel-\d+$/,
};

const run = promisify(execFile);

interface Service {
  image?: string;
  build?: {
    context: string;
    dockerfile?: string;
    target?: string;
    args?: Record<string, string>;
  };
  profiles?: string[];
  container_name?: string;
  entrypoint?: string[];
  command?: string[];
  environment?: Record<string, string>;
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  expose?: string[];
  ports?: Array<string | { host_ip?: string; published: number | string; target: number | string }>;
  volumes?: string[];
  tmpfs?: string[];
  restart?: string;
  networks?: Record<string, { ipv4_address?: string } | null>;
}

/** What `docker-compose config` prints: the services and the networks. */
interface ComposeConfig {
  services: Record<string, Service>;
  networks?: Record<string, { ipam?: { config?: Array<Record<string, string>> } } | null>;
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

/** An IPv4 address as a number. */
function ipv4Number(ip: string): number {
  return ip.split('.').reduce((n, octet) => n * 256 + Number(octet), 0);
}

/** The first address of a CIDR block and how many it holds. */
function cidrBlock(cidr: string): { start: number; size: number } {
  const [base, bits] = cidr.split('/');
  return { start: ipv4Number(base), size: 2 ** (32 - Number(bits)) };
}

function inCidr(ip: string, cidr: string): boolean {
  const { start, size } = cidrBlock(cidr);
  const n = ipv4Number(ip);
  return n >= start && n < start + size;
}

/** A published port, short (`ip:published:target/proto`) or long syntax. */
function publishedPorts(s: Service): Array<{ ip: string; published: string; target: string }> {
  return (s.ports ?? []).map((p) => {
    if (typeof p !== 'string')
      return {
        ip: p.host_ip ?? '0.0.0.0',
        published: String(p.published),
        target: String(p.target),
      };
    const m = /^(?:(.+):)?(\d+):(\d+)(?:\/\w+)?$/.exec(p);
    if (!m) throw new Error(`unreadable port ${p}`);
    return { ip: m[1] ?? '0.0.0.0', published: m[2], target: m[3] };
  });
}

/** A shell script with its `\`-continued lines joined and `VAR=value` assignments substituted. */
function shellScript(file: string): string {
  const text = fs.readFileSync(file, 'utf8').replace(/\\\n\s*/g, ' ');
  const vars = [...text.matchAll(/^([A-Z_]+)=(\S+)$/gm)];
  return vars.reduce(
    (t, [, name, value]) => t.replaceAll(`"$${name}"`, value).replaceAll(`$${name}`, value),
    text,
  );
}

/** One Dockerfile instruction, continuation lines joined and comments dropped. */
interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  body: Instruction[];
}
interface Dockerfile {
  file: string;
  context: string;
  text: string;
  /** ARGs declared before the first FROM (usable in FROM), with their defaults. */
  args: Map<string, string>;
  stages: Stage[];
  instructions: Instruction[];
}

function parseDockerfile(file: string, context: string): Dockerfile {
  const text = fs.readFileSync(file, 'utf8');
  const instructions: Instruction[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const continued = t.endsWith('\\');
    current += (current ? ' ' : '') + (continued ? t.slice(0, -1).trim() : t);
    if (continued) continue;
    const i = current.search(/\s/);
    instructions.push({ op: current.slice(0, i).toUpperCase(), args: current.slice(i + 1).trim() });
    current = '';
  }
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args) as RegExpExecArray;
      stages.push({ name: m[2] ?? String(stages.length), from: m[1], body: [] });
    } else if (stages.length) stages[stages.length - 1].body.push(ins);
    else if (ins.op === 'ARG') {
      const [name, value = ''] = ins.args.split('=');
      args.set(name, value);
    }
  }
  return { file, context, text, args, stages, instructions };
}

/** The stages a target is built from, base first (FROM <stage> chains within the file). */
function stageChain(df: Dockerfile, target?: string): Stage[] {
  const chain: Stage[] = [];
  let stage = target ? df.stages.find((s) => s.name === target) : df.stages.at(-1);
  while (stage) {
    chain.unshift(stage);
    const from = stage.from;
    stage = df.stages.find((s) => s.name === from);
  }
  return chain;
}

const ofOp = (chain: Stage[], op: string) =>
  chain.flatMap((s) => s.body.filter((i) => i.op === op).map((i) => i.args));

/** The user a built stage runs as: its last USER, following FROM chains; root when none. */
function userOf(chain: Stage[]): string {
  return ofOp(chain, 'USER').at(-1) ?? 'root';
}

function parseCopy(args: string): { from?: string; sources: string[]; dest: string } {
  const tokens = args.startsWith('[') ? (JSON.parse(args) as string[]) : args.split(/\s+/);
  const flags = tokens.filter((t) => t.startsWith('--'));
  const paths = tokens.filter((t) => !t.startsWith('--'));
  const from = flags.find((f) => f.startsWith('--from='))?.slice('--from='.length);
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

/** The Dockerfile a service is built from, and the stages of its target. */
function imageOf(s: Service): { df: Dockerfile; chain: Stage[] } {
  if (!s.build) throw new Error(`no build for ${s.image}`);
  const df = parseDockerfile(
    path.join(s.build.context, s.build.dockerfile ?? 'Dockerfile'),
    s.build.context,
  );
  return { df, chain: stageChain(df, s.build.target) };
}

/** Commands the service's image installs from the repository: name on PATH -> source file. */
function installed(s: Service): Map<string, string> {
  const { df, chain } = imageOf(s);
  return new Map(
    ofOp(chain, 'COPY')
      .map(parseCopy)
      .filter((c) => !c.from && path.dirname(c.dest) === IMAGE_BIN && c.sources.length === 1)
      .map((c) => [path.basename(c.dest), path.join(df.context, c.sources[0])]),
  );
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

/** The Sentinel image's entry point run here with `env` (redis-sentinel a stand-in in `bin`). */
function startSentinel0(entry: string, conf: string, bin: string, env: Record<string, string>) {
  return spawnSync('sh', [entry], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH}`, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

describe('docker-compose.yml', () => {
  let compose: ComposeConfig;
  let services: Record<string, Service>;
  let scratchDir: string;
  let emptyEnv: string;
  let built: string;

  // each lookup in the .env.example configuration unless given another one
  const get = (name: string, config = services): Service => {
    const s = config[name];
    if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
    return s;
  };
  const byCommand = (entry: string, config = services) =>
    Object.entries(config).filter(([, s]) => s.command?.[0] === 'node' && s.command[1] === entry);
  /** The app's fixed instances: what `up` starts (a service in a profile is not started). */
  const instancesOf = (app: string, config = services) =>
    byCommand(`dist/apps/${app}/src/main.js`, config).filter(([, s]) => !s.profiles);
  /** The app's templates for `--scale` (the `scale` profile). */
  const templatesOf = (app: string, config = services) =>
    byCommand(`dist/apps/${app}/src/main.js`, config).filter(([, s]) => s.profiles);
  const named = (pattern: RegExp, config = services) =>
    Object.keys(config).filter((n) => pattern.test(n));
  const mariadbNodes = (config = services) => named(/^mariadb-\d+$/, config);
  const redisNodes = (config = services) => named(/^redis-\d+$/, config);
  const sentinels = (config = services) => named(/^sentinel-\d+$/, config);
  const etcdMembers = (config = services) => named(/^etcd-\d+$/, config);
  const datastores = (config = services) => named(/^(?:mariadb|redis|sentinel|etcd)-\d+$/, config);
  /** A service's fixed address on the default network. */
  const fixedAddress = (name: string, config = services): string => {
    const address = get(name, config).networks?.default?.ipv4_address;
    if (!address) throw new Error(`${name} has no fixed address`);
    return address;
  };
  /**
   * The service a host in a setting points at: for an IPv4 address the one service whose
   * fixed address it is, for a name the service of that name.
   */
  const serviceAt = (host: string, config = services): string => {
    if (!isIPv4(host)) {
      get(host, config);
      return host;
    }
    const owners = Object.keys(config).filter(
      (n) => config[n].networks?.default?.ipv4_address === host,
    );
    if (owners.length !== 1)
      throw new Error(`${host} is the fixed address of ${owners.length} services, not one`);
    return owners[0];
  };
  /** The containers a list of Redis, Sentinel or MariaDB nodes points at, each given by its IPv4 address. */
  const addressed = (nodes: Array<{ host: string }>, config = services): string[] =>
    nodes.map(({ host }) => {
      expect({ host, ipv4: isIPv4(host) }).toEqual({ host, ipv4: true });
      return serviceAt(host, config);
    });
  /** The file as `docker-compose config` gives it with these variables set (the rest unset). */
  const composeWith = (vars: Record<string, string>): ComposeConfig => {
    const file = path.join(scratchDir, 'custom.env');
    fs.writeFileSync(
      file,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    return load(dockerCompose(['config'], file)) as ComposeConfig;
  };
  /** The services as `docker-compose config` gives them with these variables set (the rest unset). */
  const configWith = (vars: Record<string, string>): Record<string, Service> =>
    composeWith(vars).services;

  beforeAll(() => {
    scratchDir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-'));
    emptyEnv = path.join(scratchDir, 'empty.env');
    fs.writeFileSync(emptyEnv, '');
    // values as .env.example sets them (the next test shows they are the file's own defaults)
    compose = load(dockerCompose(['config'], ENV_EXAMPLE)) as ComposeConfig;
    services = compose.services;
    built = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-build-'));
    execFileSync(process.execPath, [path.join(ROOT, 'scripts/build.cjs'), built], {
      stdio: 'pipe',
    });
  });

  afterAll(() => {
    fs.rmSync(scratchDir, { recursive: true, force: true });
    fs.rmSync(built, { recursive: true, force: true });
  });

  it('passes `docker-compose config -q`, with and without the .env.example values', () => {
    expect(() => dockerCompose(['config', '-q'], emptyEnv)).not.toThrow();
    expect(() => dockerCompose(['config', '-q'], ENV_EXAMPLE)).not.toThrow();
  });

  it('reads only variables .env.example lists, each explained there, whose values there are the file’s own defaults', () => {
    const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
    const used = new Set([...raw.matchAll(/(?<!\$)\$\{([A-Z0-9_]+)/g)].map((m) => m[1]));
    const example = fs.readFileSync(ENV_EXAMPLE, 'utf8');
    const listed = new Set(confLines(example).map((l) => l.slice(0, l.indexOf('='))));
    expect([...used].sort()).toEqual([...listed].sort());
    // every group of variables (lines between blank lines) opens with a comment saying what it is
    for (const group of example.split(/\n\s*\n/)) {
      const lines = group.split('\n').filter((l) => l.trim());
      const firstVariable = lines.findIndex((l) => !l.startsWith('#'));
      if (firstVariable >= 0)
        expect({ variable: lines[firstVariable], commented: firstVariable > 0 }).toEqual({
          variable: lines[firstVariable],
          commented: true,
        });
    }
    // nothing set: every variable falls back to the same value .env.example gives it
    expect(dockerCompose(['config'], emptyEnv)).toEqual(dockerCompose(['config'], ENV_EXAMPLE));
  });

  it('holds no secret except clearly marked dev defaults, each overridable', () => {
    const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
    const secrets = [...raw.matchAll(/^\s*([A-Z0-9_]+):\s*(.*)$/gm)].filter(([, name]) =>
      isSecretName(name),
    );
    expect(secrets.length).toBeGreaterThan(0);
    for (const [, name, value] of secrets) {
      expect({ name, value }).toEqual({
        name,
        value: expect.stringMatching(/^\$\{[A-Z0-9_]+:-dev-only-[\w-]+\}$/),
      });
    }
    for (const line of confLines(fs.readFileSync(ENV_EXAMPLE, 'utf8'))) {
      if (isSecretName(line.split('=')[0])) expect(line).toMatch(/=dev-only-/);
    }
  });

  it('builds every image it names from a Dockerfile of the repo (no `image:` without `build:`, no official image), from contexts, stages and files that exist, mounts nothing from the host, and runs each as a non-root user', () => {
    const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
    const named = [...raw.matchAll(/^\s*image:\s*['"]?([^\s'"]+)/gm)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    // an official or third-party image (Docker Hub's library, any registry host) is never run
    const notOurs =
      /^(?:mariadb|mysql|redis|etcd|node|nginx|debian|library\/|bitnami\/|[\w-]+\.[\w.-]+\/)/;
    for (const image of named) {
      expect(image).toMatch(/^stayline\/[a-z0-9-]+:dev$/);
      expect(image).not.toMatch(notOurs);
    }
    const builds = new Map<string, string>();
    for (const [name, s] of Object.entries(services)) {
      expect({ name, image: s.image, build: Boolean(s.build) }).toEqual({
        name,
        image: expect.stringMatching(/^stayline\/[a-z0-9-]+:dev$/),
        build: true,
      });
      expect(s.image).not.toMatch(notOurs);
      // one tag, one build: two builds under one name would overwrite each other's image
      const build = JSON.stringify(s.build);
      expect({ image: s.image, build: builds.get(s.image as string) ?? build }).toEqual({
        image: s.image,
        build,
      });
      builds.set(s.image as string, build);
    }

    for (const [name, s] of Object.entries(services)) {
      const { build } = s as Required<Service>;
      expect(fs.statSync(build.context).isDirectory()).toBe(true);
      const dockerfile = path.join(build.context, build.dockerfile ?? 'Dockerfile');
      expect(fs.existsSync(dockerfile)).toBe(true);
      const { df, chain } = imageOf(s);
      if (build.target) expect(df.stages.map((st) => st.name)).toContain(build.target);
      // every file a stage copies from the context is there; what lands on PATH is executable
      // (the legacy builder has no COPY --chmod: the mode is the repository's)
      for (const copy of df.stages.flatMap((st) => ofOp([st], 'COPY')).map(parseCopy)) {
        if (copy.from) {
          expect(df.stages.map((st) => st.name)).toContain(copy.from);
          continue;
        }
        for (const source of copy.sources) {
          const file = path.join(df.context, source);
          expect({ dockerfile, source, exists: fs.existsSync(file) }).toEqual({
            dockerfile,
            source,
            exists: true,
          });
          if (path.dirname(copy.dest) === IMAGE_BIN)
            expect({ source, executable: (fs.statSync(file).mode & 0o111) === 0o111 }).toEqual({
              source,
              executable: true,
            });
        }
      }
      // the processes never run as root: the Node images as `node`, the datastores as theirs
      const user = userOf(chain);
      expect({ name, user, root: /^(?:root|0)(?::|$)/.test(user) }).toEqual({
        name,
        user,
        root: false,
      });
      // what a container needs is baked into its image: no file of the host is mounted
      for (const volume of s.volumes ?? []) {
        const source = volume.split(':')[0];
        expect({
          name,
          volume,
          hostPath: path.isAbsolute(source) || source.startsWith('.'),
        }).toEqual({ name, volume, hostPath: false });
      }
    }
  });

  it('builds FROM the Debian bookworm and Node 24 images the file passes as build arguments, with the legacy builder (no `# syntax` line, nothing BuildKit-only)', () => {
    // Debian bookworm, and Node 24 on that same Debian release
    const defaults = { BASE_IMAGE: 'debian:bookworm-slim', NODE_IMAGE: 'node:24-bookworm-slim' };
    const custom = 'registry.example/stayline-base:bookworm';
    const overridden = configWith(
      Object.fromEntries(Object.values(BASE_ARGS).map((variable) => [variable, custom])),
    );
    for (const [name, s] of Object.entries(services)) {
      expect({ name, args: s.build?.args }).toEqual({ name, args: defaults });
      expect({ name, args: overridden[name].build?.args }).toEqual({
        name,
        args: { BASE_IMAGE: custom, NODE_IMAGE: custom },
      });
      // every stage starts FROM an earlier stage or a base the file passes, whose default is the file's
      const { df } = imageOf(s);
      for (const [i, stage] of df.stages.entries()) {
        if (df.stages.slice(0, i).some((st) => st.name === stage.from)) continue;
        const arg = /^\$\{(\w+)\}$/.exec(stage.from)?.[1] as keyof typeof defaults;
        expect({ file: df.file, from: stage.from, passed: arg in BASE_ARGS }).toEqual({
          file: df.file,
          from: stage.from,
          passed: true,
        });
        expect({ file: df.file, arg, default: df.args.get(arg) }).toEqual({
          file: df.file,
          arg,
          default: defaults[arg],
        });
      }
    }

    const dockerfiles = new Set(
      execFileSync('git', ['ls-files', '--cached', '--others', '--exclude-standard'], {
        cwd: ROOT,
        encoding: 'utf8',
      })
        .split('\n')
        .filter((f) => /(?:^|\/)Dockerfile[^/]*$/.test(f))
        .map((f) => path.join(ROOT, f)),
    );
    for (const s of Object.values(services)) dockerfiles.add(imageOf(s).df.file);
    // flags the legacy builder knows; anything else (RUN --mount, COPY --chmod/--link, ...) is BuildKit's
    const legacyFlags: Record<string, string[]> = {
      FROM: ['platform'],
      COPY: ['from', 'chown'],
      ADD: ['chown'],
      HEALTHCHECK: ['interval', 'timeout', 'start-period', 'retries'],
    };
    for (const file of dockerfiles) {
      const df = parseDockerfile(file, path.dirname(file));
      expect({ file, syntax: /^#\s*syntax\s*=/im.test(df.text) }).toEqual({ file, syntax: false });
      for (const { op, args } of df.instructions) {
        const flags = (/^(?:--[\w-]+(?:=\S*)?\s+)*/.exec(args)?.[0] ?? '')
          .split(/\s+/)
          .filter(Boolean)
          .map((f) => f.slice(2).split('=')[0]);
        for (const flag of flags)
          expect({ file, op, flag, legacy: (legacyFlags[op] ?? []).includes(flag) }).toEqual({
            file,
            op,
            flag,
            legacy: true,
          });
        // heredocs are BuildKit's too
        expect({ file, op, heredoc: /<<-?['"]?\w+['"]?\s*$/.test(args) }).toEqual({
          file,
          op,
          heredoc: false,
        });
      }
    }
  });

  it('builds the Node images in stages: npm ci + scripts/build.cjs (what `npm run build` runs), production dependencies only, then Node 24 and dist/ on the Debian base, run as `node` (uid 1000)', () => {
    const df = parseDockerfile(path.join(ROOT, 'Dockerfile'), ROOT);
    expect(df.args.get('NODE_IMAGE')).toMatch(/^node:24[\w.-]*-slim$/);
    const stage = (test: (s: Stage) => boolean, what: string) => {
      const found = df.stages.find(test);
      if (!found) throw new Error(`the Dockerfile has no stage that ${what}`);
      return found;
    };
    const runs = (s: Stage) => ofOp([s], 'RUN');
    // Node 24 and npm: the NODE_IMAGE's, or (a bare Debian as NODE_IMAGE) the pinned Node 24 release
    const nodeStage = stage((s) => s.from === '${NODE_IMAGE}', 'starts FROM ${NODE_IMAGE}');
    expect(ofOp([nodeStage], 'ARG')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^NODE_VERSION=24\./)]),
    );
    // every dependency, then the same build `npm run build` runs
    expect(
      JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).scripts.build,
    ).toMatch(/\bscripts\/build\.cjs$/);
    const build = stage(
      (s) => runs(s).some((r) => /^node scripts\/build\.cjs\b/.test(r)),
      'runs scripts/build.cjs',
    );
    const buildSteps = runs(build);
    const ci = buildSteps.findIndex((r) => /^npm ci\b/.test(r) && !/--omit=dev/.test(r));
    expect(ci).toBeGreaterThanOrEqual(0);
    expect(ci).toBeLessThan(buildSteps.findIndex((r) => /^node scripts\/build\.cjs\b/.test(r)));
    expect(stageChain(df, build.name)[0]).toBe(nodeStage);
    const prodDeps = stage(
      (s) => runs(s).some((r) => /^npm ci --omit=dev --ignore-scripts\b/.test(r)),
      'runs npm ci --omit=dev --ignore-scripts',
    );
    const workdir = (s: Stage) => ofOp(stageChain(df, s.name), 'WORKDIR').at(-1);

    const targets = new Set(
      Object.values(services)
        .filter(
          (s) => s.build?.context === ROOT && (s.build.dockerfile ?? 'Dockerfile') === 'Dockerfile',
        )
        .map((s) => s.build?.target),
    );
    expect([...targets].sort()).toEqual(['app', 'gateway']);
    for (const target of targets) {
      const chain = stageChain(df, target);
      // on the bare Debian base: no npm, no build tools, only Node and what runs
      expect({ target, base: chain[0].from }).toEqual({ target, base: '${BASE_IMAGE}' });
      const copied = ofOp(chain, 'COPY')
        .map(parseCopy)
        .filter((c) => c.from)
        .map((c) => `${c.from}:${c.sources.join(' ')}`);
      expect({ target, copied }).toEqual({
        target,
        copied: [
          `${nodeStage.name}:/usr/local/bin/node`,
          `${prodDeps.name}:${workdir(prodDeps)}/node_modules`,
          `${build.name}:${workdir(build)}/dist`,
        ],
      });
      expect(ofOp(chain, 'ENV')).toContain('NODE_ENV=production');
      expect(ofOp(chain, 'WORKDIR').at(-1)).toBe(IMAGE_ROOT);
      // the Debian base has no `node` user: the image creates it, uid 1000 as in the node images
      expect(ofOp(chain, 'RUN').join('\n')).toMatch(/\buseradd\b[^\n]*--uid 1000\b[^\n]* node$/m);
      expect({ target, user: userOf(chain) }).toEqual({ target, user: 'node' });
    }
  });

  it('runs two instances of every app (the services without a profile), on entry points `npm run build` produces', () => {
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

  it('keeps the instances `--scale` adds in the `scale` profile: copies of a fixed instance but for their name (ADVERTISE_HOST=auto, no INSTANCE_ID), that `up` never starts and nothing waits on', () => {
    const templates = Object.entries(services).filter(([, s]) => s.profiles);
    expect(templates.map(([name]) => name).sort()).toEqual([
      'payment-scaled',
      'reservation-scaled',
    ]);
    for (const [name, s] of templates) {
      expect({ name, profiles: s.profiles }).toEqual({ name, profiles: ['scale'] });
      const app = /^dist\/apps\/([\w-]+)\/src\/main\.js$/.exec(s.command?.[1] ?? '')?.[1] as string;
      expect({ name, app: templatesOf(app).map(([n]) => n) }).toEqual({ name, app: [name] });
      const [[, sibling]] = instancesOf(app);
      const withoutName = (x: Service) => {
        const environment = { ...x.environment };
        delete environment.INSTANCE_ID;
        delete environment.ADVERTISE_HOST;
        return { ...x, environment, profiles: undefined };
      };
      // the same image, command, healthcheck, dependencies and settings as the app's fixed instances
      expect(withoutName(s)).toEqual(withoutName(sibling));
      // each copy registers under its own address, and its id names its host
      expect({
        name,
        id: s.environment?.INSTANCE_ID,
        advertise: s.environment?.ADVERTISE_HOST,
      }).toEqual({
        name,
        id: undefined,
        advertise: 'auto',
      });
      // several copies at once: no fixed container name, no host port
      expect({ name, container: s.container_name, ports: s.ports }).toEqual({
        name,
        container: undefined,
        ports: undefined,
      });
    }
    // a template may run zero times: nothing `up` starts depends on one
    for (const [name, s] of Object.entries(services))
      for (const dep of Object.keys(s.depends_on ?? {}))
        expect({ name, dep, profiles: get(dep).profiles }).toEqual({
          name,
          dep,
          profiles: undefined,
        });
  });

  it('starts callers (and their `--scale` templates) after their callees’ fixed instances, as `npm start` does', () => {
    for (const [i, phase] of SERVICE_START_ORDER.entries()) {
      const callees = SERVICE_START_ORDER.slice(0, i)
        .flat()
        .flatMap((callee) => instancesOf(callee).map(([name]) => name));
      const callers = phase.flatMap((app) => [...instancesOf(app), ...templatesOf(app)]);
      expect(callers.length).toBeGreaterThan(0);
      for (const [name, s] of callers) {
        for (const callee of callees)
          expect({ name, callee, dep: s.depends_on?.[callee] }).toEqual({
            name,
            callee,
            dep: { condition: 'service_healthy' },
          });
      }
    }
  });

  it('gives every service instance (and `--scale` template) an environment its app’s config schema accepts, pointing at containers that listen there (a datastore by its fixed address, with the default STAYLINE_NET_PREFIX and a moved one)', async () => {
    const liveness = (port: number) => ['CMD', 'stayline-health', String(port), '/health/live'];
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
      REJOIN_FENCED: string;
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
    const mariadbEntry = shellScript(
      installed(get(mariadbNodes()[0])).get('stayline-mariadb') ?? 'no stayline-mariadb',
    );

    /** Every instance of every app in one configuration of the file, its network on the prefix. */
    const checkAll = async (prefix: string, config: Record<string, Service>) => {
      const at = (host: string) => serviceAt(host, config);
      // a node a setting lists: the container at that address (or of that name) listens on its port
      const listens = (nodes: Array<{ host: string; port: number }>) => {
        for (const n of nodes)
          expect({ prefix, host: n.host, expose: get(at(n.host), config).expose }).toEqual({
            prefix,
            host: n.host,
            expose: expect.arrayContaining([String(n.port)]),
          });
      };
      // a name that labels a node (`name@host:port`) is the container at its address
      const labelled = (nodes: Array<{ name: string; host: string }>) => {
        for (const n of nodes)
          expect({ prefix, name: n.name, at: at(n.host) }).toEqual({
            prefix,
            name: n.name,
            at: n.name,
          });
      };
      const dbInit = get('db-init', config);
      const creds = credentialsFromEnv(dbInit.environment);
      const primary = dbInit.command?.[dbInit.command.indexOf('--primary') + 1] as string;
      const replicas = (dbInit.command ?? []).filter((_, i, a) => a[i - 1] === '--replica');
      const checkAgent = (name: string, s: Service, c: AgentEnv) => {
        expect({ name, id: c.AGENT_ID, host: c.HOST }).toEqual({ name, id: name, host: '0.0.0.0' });
        expect(s.expose).toContain(String(c.HTTP_PORT));
        expect(s.healthcheck?.test).toEqual(liveness(c.HTTP_PORT));
        expect(c.MARIADB_NODES.map((n) => `${n.host}:${n.port}`)).toEqual([primary, ...replicas]);
        expect(addressed(c.MARIADB_NODES, config)).toEqual(mariadbNodes(config));
        expect(addressed(c.REDIS_NODES, config).sort()).toEqual(redisNodes(config));
        labelled([...c.MARIADB_NODES, ...c.REDIS_NODES]);
        listens([...c.MARIADB_NODES, ...c.REDIS_NODES, ...c.REDIS_SENTINELS]);
        expect(addressed(c.REDIS_SENTINELS, config).sort()).toEqual(sentinels(config).sort());
        expect({
          admin: { user: c.STAYLINE_DB_ADMIN_USER, password: c.STAYLINE_DB_ADMIN_PASSWORD },
          replication: { user: c.STAYLINE_DB_REPL_USER, password: c.STAYLINE_DB_REPL_PASSWORD },
        }).toEqual({ admin: creds.admin, replication: creds.replication });
        // a killed primary's container, started again, is rejoined by the leader: safe because the
        // MariaDB entry point restarts a node with --init-rpl-role=SLAVE, rolling back what no
        // replica acknowledged
        expect(c.REJOIN_FENCED).toBe('auto');
        expect(mariadbEntry).toMatch(/set -- "\$@" --init-rpl-role=SLAVE\b/);
        expect(s.depends_on).toMatchObject({
          'db-init': { condition: 'service_completed_successfully' },
        });
      };
      const checkDashboard = (name: string, s: Service, c: DashboardEnv) => {
        expect({ name, id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
          name,
          id: name,
          advertise: name,
          host: '0.0.0.0',
        });
        expect(s.expose).toContain(String(c.HTTP_PORT));
        expect(s.healthcheck?.test).toEqual(liveness(c.HTTP_PORT));
        // its own account: replication state, no table
        expect({ user: c.DB_USER, password: c.DB_PASSWORD }).toEqual(creds.monitor);
        expect(c.MARIADB_NODES.map((n) => `${n.host}:${n.port}`)).toEqual([primary, ...replicas]);
        expect(addressed(c.MARIADB_NODES, config)).toEqual(mariadbNodes(config));
        labelled([...c.MARIADB_NODES, ...c.FAILOVER_AGENTS]);
        expect(c.FAILOVER_AGENTS.map((a) => at(a.host)).sort()).toEqual(
          instancesOf('failover-agent', config).map(([n]) => n),
        );
        listens([...c.MARIADB_NODES, ...c.FAILOVER_AGENTS, ...c.REDIS_SENTINELS]);
        expect(addressed(c.REDIS_SENTINELS, config).sort()).toEqual(sentinels(config).sort());
        // etcd by name
        const etcd = c.ETCD_ENDPOINTS.endpoints.map((u) => new URL(u));
        expect(etcd.map((u) => u.hostname)).toEqual(etcdMembers(config));
        listens(etcd.map((u) => ({ host: u.hostname, port: Number(u.port) })));
        return c.INSTANCE_ID;
      };
      // auth (apps/auth): HTTP only, no database; both instances sign with keys from one secret
      const checkAuth = (
        name: string,
        s: Service,
        c: {
          INSTANCE_ID: string;
          HOST: string;
          ADVERTISE_HOST?: string;
          HTTP_PORT: number;
          AUTH_KEYS_FILE?: string;
          AUTH_SIGNING_SECRETS?: string[];
          REDIS_SENTINELS: Array<{ host: string; port: number }>;
          ETCD_ENDPOINTS: { endpoints: string[] };
        },
      ) => {
        expect({ name, id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
          name,
          id: name,
          advertise: name,
          host: '0.0.0.0',
        });
        expect(s.expose).toEqual([String(c.HTTP_PORT)]);
        expect(s.healthcheck?.test).toEqual(liveness(c.HTTP_PORT));
        expect({ name, file: c.AUTH_KEYS_FILE, secrets: c.AUTH_SIGNING_SECRETS?.length }).toEqual({
          name,
          file: undefined,
          secrets: 1,
        });
        listens(c.REDIS_SENTINELS);
        expect(addressed(c.REDIS_SENTINELS, config).sort()).toEqual(sentinels(config).sort());
        const etcd = c.ETCD_ENDPOINTS.endpoints.map((u) => new URL(u));
        expect(etcd.map((u) => u.hostname)).toEqual(etcdMembers(config));
        return c.INSTANCE_ID;
      };
      // inside a container, ADVERTISE_HOST=auto finds the address of the container's network interface
      const address = containerAddress(prefix);
      interfaces.mockReturnValue({
        lo: [
          {
            address: '127.0.0.1',
            netmask: '255.0.0.0',
            family: 'IPv4',
            mac: '00:00:00:00:00:00',
            internal: true,
            cidr: '127.0.0.1/8',
          },
        ],
        eth0: [
          {
            address,
            netmask: '255.255.255.0',
            family: 'IPv4',
            mac: '02:42:0a:59:33:8e',
            internal: false,
            cidr: `${address}/24`,
          },
        ],
      });
      const ids = new Set<string>();
      const scaledIds = new Set<string>();
      for (const app of appNames()) {
        for (const [name, s] of [...instancesOf(app, config), ...templatesOf(app, config)]) {
          const env = s.environment ?? {};
          const schema = await appConfigSchema(
            path.join(ROOT, 'apps', app, 'src', 'config.ts'),
            env,
          );
          const parsed = schema.safeParse(env);
          if (!parsed.success)
            throw new Error(`${name} (${prefix}): ${JSON.stringify(parsed.error.issues)}`);
          if ('AGENT_ID' in (parsed.data as object)) {
            checkAgent(name, s, parsed.data as AgentEnv);
            continue;
          }
          if ('AUTH_TOKEN_TTL_S' in (parsed.data as object)) {
            ids.add(checkAuth(name, s, parsed.data as Parameters<typeof checkAuth>[2]));
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
          if (s.profiles) {
            // a copy added with --scale: registered under its own address, its id naming its host
            expect({ name, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
              name,
              advertise: address,
              host: '0.0.0.0',
            });
            expect(c.INSTANCE_ID).toMatch(new RegExp(`^${app}-`));
            expect(c.INSTANCE_ID).toContain(os.hostname().slice(0, 12));
            scaledIds.add(c.INSTANCE_ID);
          } else {
            ids.add(c.INSTANCE_ID);
            // registered in discovery under a name the gateway and the other services resolve
            expect({ name, id: c.INSTANCE_ID, advertise: c.ADVERTISE_HOST, host: c.HOST }).toEqual({
              name,
              id: name,
              advertise: name,
              host: '0.0.0.0',
            });
          }
          expect(s.expose).toEqual(
            expect.arrayContaining([String(c.HTTP_PORT), String(c.TCP_PORT)]),
          );
          expect(s.healthcheck?.test).toEqual(liveness(c.HTTP_PORT));
          expect(c.DB_NAME).toBe(app);
          expect(SERVICE_DATABASES).toContain(c.DB_NAME);
          // its service's own account, one db-init creates
          expect({ user: c.DB_USER, password: c.DB_PASSWORD }).toEqual(
            creds.services[c.DB_NAME as ServiceDatabase],
          );
          expect(`${c.DB_PRIMARY.host}:${c.DB_PRIMARY.port}`).toBe(primary);
          expect(c.DB_REPLICAS.map((r) => `${r.host}:${r.port}`)).toEqual(replicas);
          expect(addressed([c.DB_PRIMARY, ...c.DB_REPLICAS], config)).toEqual(mariadbNodes(config));
          labelled([c.DB_PRIMARY, ...c.DB_REPLICAS]);
          listens([c.DB_PRIMARY, ...c.DB_REPLICAS, ...c.REDIS_SENTINELS]);
          expect(addressed(c.REDIS_SENTINELS, config).sort()).toEqual(sentinels(config).sort());
          expect(c.REDIS_MASTER_NAME).toBe(SENTINEL_MASTER_NAME);
          expect(s.depends_on).toMatchObject({
            'db-init': { condition: 'service_completed_successfully' },
            ...Object.fromEntries(
              sentinels(config).map((x) => [x, { condition: 'service_healthy' }]),
            ),
          });
        }
      }
      // every fixed instance its own id; a scaled copy's is none of theirs
      expect(ids.size).toBe(Object.values(config).filter((x) => x.environment?.INSTANCE_ID).length);
      expect(scaledIds.size).toBe(Object.values(config).filter((x) => x.profiles).length);
      for (const id of scaledIds) expect(ids.has(id)).toBe(false);
    };

    const saved = process.env.STAYLINE_PROFILE;
    delete process.env.STAYLINE_PROFILE; // the compose file sets every secret: no dev default may be needed
    const interfaces = jest.spyOn(os, 'networkInterfaces');
    try {
      await checkAll(NET_PREFIX, services);
      // moved: every address moves with it, and still points at the container that listens there
      await checkAll(MOVED_NET_PREFIX, configWith({ STAYLINE_NET_PREFIX: MOVED_NET_PREFIX }));
    } finally {
      interfaces.mockRestore();
      if (saved === undefined) delete process.env.STAYLINE_PROFILE;
      else process.env.STAYLINE_PROFILE = saved;
    }
  });

  it('puts every datastore on a fixed address of its own, inside the subnet and outside the range Docker hands out, all moved as one by STAYLINE_NET_PREFIX', () => {
    const moved = composeWith({ STAYLINE_NET_PREFIX: MOVED_NET_PREFIX });
    // .env.example gives the default, and the fixed addresses it says the datastores sit on
    const example = fs.readFileSync(ENV_EXAMPLE, 'utf8');
    expect(confLines(example)).toContain(`STAYLINE_NET_PREFIX=${NET_PREFIX}`);
    const said = /\.(\d+)-\.(\d+)/.exec(
      example
        .slice(0, example.indexOf('STAYLINE_NET_PREFIX='))
        .split(/\n\s*\n/)
        .at(-1) ?? '',
    );
    expect(said).not.toBeNull();
    for (const [prefix, config] of [
      [NET_PREFIX, compose],
      [MOVED_NET_PREFIX, moved],
    ] as const) {
      // one network, its subnet the prefix's /24, Docker's own addresses from its upper half
      expect({ prefix, networks: Object.keys(config.networks ?? {}) }).toEqual({
        prefix,
        networks: ['default'],
      });
      const ipam = config.networks?.default?.ipam?.config;
      expect({ prefix, ipam }).toEqual({
        prefix,
        ipam: [{ subnet: `${prefix}.0/24`, ip_range: `${prefix}.128/25`, gateway: `${prefix}.1` }],
      });
      const [{ subnet, ip_range: range }] = ipam as Array<Record<string, string>>;
      const { start } = cidrBlock(subnet);
      // every service on that network only
      for (const [name, s] of Object.entries(config.services))
        expect({ prefix, name, networks: Object.keys(s.networks ?? { default: null }) }).toEqual({
          prefix,
          name,
          networks: ['default'],
        });
      // the datastores, and only they, on fixed addresses
      const stores = datastores(config.services);
      expect(new Set(stores.map((n) => n.replace(/-\d+$/, '')))).toEqual(
        new Set(['mariadb', 'redis', 'sentinel', 'etcd']),
      );
      const fixed = Object.entries(config.services)
        .filter(([, s]) => s.networks?.default?.ipv4_address !== undefined)
        .map(([name]) => name);
      expect({ prefix, fixed: fixed.sort() }).toEqual({ prefix, fixed: [...stores].sort() });
      const addresses = stores.map((name) => fixedAddress(name, config.services));
      for (const [i, address] of addresses.entries()) {
        const n = ipv4Number(address);
        expect({
          prefix,
          name: stores[i],
          address,
          ipv4: isIPv4(address),
          inSubnet: inCidr(address, subnet),
          inRange: inCidr(address, range),
          // neither the subnet's own address nor the host's (the gateway, its first host address)
          reserved: n === start || n === start + 1,
        }).toEqual({
          prefix,
          name: stores[i],
          address,
          ipv4: true,
          inSubnet: true,
          inRange: false,
          reserved: false,
        });
      }
      expect({ prefix, distinct: new Set(addresses).size }).toEqual({
        prefix,
        distinct: stores.length,
      });
      // the span .env.example gives
      const hosts = addresses.map((a) => ipv4Number(a) - start);
      expect({ first: Math.min(...hosts), last: Math.max(...hosts) }).toEqual({
        first: Number(said?.[1]),
        last: Number(said?.[2]),
      });
    }
    // every address moves with the prefix: the moved file is the default one with the prefix
    // replaced, and nothing is left on the default one
    const onPrefix = (prefix: string) =>
      new RegExp(`(?<![\\d.])${prefix.replaceAll('.', '\\.')}\\.(?=\\d)`, 'g');
    const text = JSON.stringify(compose);
    expect(text.match(onPrefix(NET_PREFIX))?.length).toBeGreaterThan(datastores().length);
    expect(JSON.stringify(moved)).toBe(text.replace(onPrefix(NET_PREFIX), `${MOVED_NET_PREFIX}.`));
    expect(JSON.stringify(moved)).not.toContain(NET_PREFIX);
  });

  it('addresses Redis, the Sentinels and MariaDB by their fixed IPs in every setting, never by a container name', () => {
    for (const [prefix, config] of [
      [NET_PREFIX, services],
      [MOVED_NET_PREFIX, configWith({ STAYLINE_NET_PREFIX: MOVED_NET_PREFIX })],
    ] as const) {
      // no setting names one of their containers, except as the label before `@` in a node list
      const names = named(BY_ADDRESS, config);
      expect(names).toEqual(expect.arrayContaining(['mariadb-1', 'redis-1', 'sentinel-1']));
      const byName = new RegExp(`(?<![\\w.-])(?:${names.join('|')})(?![\\w.@-])`);
      for (const [name, s] of Object.entries(config)) {
        const settings = [
          ...Object.entries(s.environment ?? {}).map(([k, v]) => `${k}=${v}`),
          ...(s.command ?? []),
          ...(s.entrypoint ?? []),
          ...(s.healthcheck?.test ?? []),
        ];
        for (const setting of settings)
          expect({ prefix, name, setting, byName: byName.test(setting) }).toEqual({
            prefix,
            name,
            setting,
            byName: false,
          });
      }
      const at = (host: string) => {
        expect({ prefix, host, ipv4: isIPv4(host) }).toEqual({ prefix, host, ipv4: true });
        return serviceAt(host, config);
      };
      // the node lists: each entry the IPv4 address of a container of the right kind, its label that container
      const seen = new Set<string>();
      for (const [name, s] of Object.entries(config))
        for (const [key, kind] of Object.entries(ADDRESS_SETTINGS)) {
          const value = s.environment?.[key];
          if (value === undefined) continue;
          seen.add(key);
          for (const entry of value.split(',')) {
            const m = /^(?:([\w-]+)@)?([^:@]+):(\d+)$/.exec(entry);
            expect({ prefix, name, key, entry, readable: Boolean(m) }).toEqual({
              prefix,
              name,
              key,
              entry,
              readable: true,
            });
            const target = at(m?.[2] ?? '');
            expect({ prefix, name, key, entry, target: kind.test(target) }).toEqual({
              prefix,
              name,
              key,
              entry,
              target: true,
            });
            if (m?.[1]) expect({ key, entry, label: m[1] }).toEqual({ key, entry, label: target });
          }
        }
      expect([...seen].sort()).toEqual(Object.keys(ADDRESS_SETTINGS).sort());
      // db-init's nodes, what MariaDB reports and Redis announces, redis-2's primary, the Sentinels'
      const dbInit = get('db-init', config).command ?? [];
      const flagged = (flag: string) => dbInit.filter((_, i, a) => a[i - 1] === flag);
      expect([...flagged('--primary'), ...flagged('--replica')]).toEqual(
        mariadbNodes(config).map((n) => `${fixedAddress(n, config)}:3306`),
      );
      for (const node of mariadbNodes(config)) {
        const reported = parseLongFlags(get(node, config).command ?? []).get('report-host');
        expect({ node, reported: at(reported ?? '') }).toEqual({ node, reported: node });
      }
      for (const node of redisNodes(config)) {
        const announced = parseRedisArgs(get(node, config).command ?? []).get(
          'replica-announce-ip',
        );
        expect({ node, announced: at(announced ?? '') }).toEqual({ node, announced: node });
      }
      const replicaOf = parseRedisArgs(get('redis-2', config).command ?? []).get('replicaof');
      expect(replicaOf).toBe(`${fixedAddress('redis-1', config)} 6379`);
      for (const sentinel of sentinels(config)) {
        const env = get(sentinel, config).environment ?? {};
        expect({
          sentinel,
          announce: at(env.SENTINEL_ANNOUNCE_IP ?? ''),
          primary: at(env.REDIS_PRIMARY_IP ?? ''),
        }).toEqual({ sentinel, announce: sentinel, primary: 'redis-1' });
      }
      for (const address of named(BY_ADDRESS, config).map((n) => fixedAddress(n, config)))
        expect(address.startsWith(`${prefix}.`)).toBe(true);
    }
  });

  it('runs the gateway on 127.0.0.1:8080 (STAYLINE_GATEWAY_BIND and _PORT move it; with Prometheus on loopback, the only ports published): nginx and the upstream sync, with an environment the sync accepts', async () => {
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
      GATEWAY_CONNECTIONS_PER_CLIENT: number;
      GATEWAY_EXPOSE_INSTANCE_ID: boolean;
    };
    expect(c.GATEWAY_HOST).toBe('0.0.0.0');
    // the production connection limit; X-Instance-Id kept: a stack to watch load balancing on
    expect(c.GATEWAY_CONNECTIONS_PER_CLIENT).toBe(64);
    expect(c.GATEWAY_EXPOSE_INSTANCE_ID).toBe(true);
    expect(
      configWith({ STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID: 'false' }).gateway.environment
        ?.GATEWAY_EXPOSE_INSTANCE_ID,
    ).toBe('false');
    // loopback by default (nothing set, as with .env.example): nothing on the network reaches a
    // dev stack with dev passwords
    for (const config of [services, configWith({})])
      expect(publishedPorts(config.gateway)).toEqual([
        { ip: '127.0.0.1', published: '8080', target: String(c.GATEWAY_PORT) },
      ]);
    const moved = configWith({ STAYLINE_GATEWAY_BIND: '0.0.0.0', STAYLINE_GATEWAY_PORT: '18080' });
    expect(publishedPorts(moved.gateway)).toEqual([
      { ip: '0.0.0.0', published: '18080', target: String(c.GATEWAY_PORT) },
    ]);
    for (const [name, s] of Object.entries(services))
      if (name !== 'gateway' && name !== 'prometheus')
        expect({ name, ports: s.ports }).toEqual({ name, ports: undefined });
    // healthy when nginx answers and the sync that keeps its upstreams is live
    expect(gateway.healthcheck?.test).toEqual([
      'CMD',
      'stayline-health',
      String(c.GATEWAY_PORT),
      '/health',
      String(c.SYNC_PORT),
      '/health/live',
    ]);
    // the Sentinels by their fixed addresses, each where one listens
    expect(addressed(c.REDIS_SENTINELS).sort()).toEqual(sentinels().sort());
    for (const x of c.REDIS_SENTINELS)
      expect(get(serviceAt(x.host)).expose).toContain(String(x.port));
    expect(c.REDIS_MASTER_NAME).toBe(SENTINEL_MASTER_NAME);
    // it opens once every instance it routes to is live
    const routed = new Set(GATEWAY_ROUTES.map((r) => r.service));
    for (const [name] of [...routed].flatMap((service) => instancesOf(service)))
      expect({ name, dep: gateway.depends_on?.[name] }).toEqual({
        name,
        dep: { condition: 'service_healthy' },
      });
  });

  it('runs Prometheus, Debian’s server as natively, on the configuration the native generator renders for these names: the sync’s discovery, the agents and etcd where they listen, the repository’s rules; on 127.0.0.1:9490 only', async () => {
    const p = get('prometheus');
    const { df, chain } = imageOf(p);
    // Debian's package (the native stack runs /usr/bin/prometheus from it), the rules the
    // repository's file, at the path the configuration names
    expect(ofOp(chain, 'RUN').join('\n')).toMatch(/apt-get install [^\n]*\bprometheus\b/);
    const copies = ofOp(chain, 'COPY').map(parseCopy);
    expect(
      copies
        .find((c) => c.dest === COMPOSE_RULES_PATH)
        ?.sources.map((f) => path.join(df.context, f)),
    ).toEqual([PROMETHEUS_RULES]);
    // the configuration: written by the job, from the native stack's generator, into the
    // volume Prometheus mounts read-only, where its flag looks; the job runs before it
    const job = get('prometheus-config');
    expect(job.image).toBe(get('reservation-1').image);
    const out = job.command?.[job.command.indexOf('--out') + 1] as string;
    expect(job.command).toEqual([
      'node',
      'dist/infra/prometheus/src/prometheus-config.js',
      'compose',
      '--out',
      out,
    ]);
    expect(job.restart).toBe('no');
    const volume = String(job.volumes?.[0]).split(':')[0];
    expect(job.volumes).toEqual([`${volume}:${out}:rw`]);
    expect(p.volumes).toEqual([`${volume}:${out}:ro`]);
    expect(Object.keys(compose as object)).toContain('volumes');
    expect(p.depends_on).toEqual({
      'prometheus-config': { condition: 'service_completed_successfully' },
    });
    expect(p.command?.[0]).toBe('prometheus');
    const flags = parseLongFlags(p.command ?? []);
    expect(Object.fromEntries(flags)).toEqual({
      'config.file': `${out}/${PROMETHEUS_CONFIG_FILE}`,
      'storage.tsdb.path': expect.stringMatching(/^\/[\w/-]+$/),
      'storage.tsdb.retention.time': '1d',
      'web.listen-address': '0.0.0.0:9090',
    });
    // its data in a directory the image gives its user (no volume: `down -v` leaves nothing)
    expect(ofOp(chain, 'RUN').join('\n')).toMatch(
      new RegExp(
        `mkdir -p ${flags.get('storage.tsdb.path')}\\b.*chown ${userOf(chain)}(?::\\S+)? ${flags.get('storage.tsdb.path')}\\b`,
      ),
    );
    expect(p.expose).toEqual(['9090']);
    expect(p.healthcheck?.test).toEqual(['CMD', 'stayline-health', '9090', '/-/healthy']);
    // loopback only, whatever the gateway's bind; STAYLINE_PROMETHEUS_PORT moves the port
    for (const config of [
      services,
      configWith({}),
      configWith({ STAYLINE_GATEWAY_BIND: '0.0.0.0' }),
    ])
      expect(publishedPorts(config.prometheus)).toEqual([
        { ip: '127.0.0.1', published: '9490', target: '9090' },
      ]);
    expect(publishedPorts(configWith({ STAYLINE_PROMETHEUS_PORT: '19490' }).prometheus)).toEqual([
      { ip: '127.0.0.1', published: '19490', target: '9090' },
    ]);
    // the dashboard's charts read it by name on the compose network
    expect(get('dashboard-1').environment?.PROMETHEUS_URL).toBe('http://prometheus:9090');

    const config = load(composePrometheusConfig()) as {
      rule_files: string[];
      scrape_configs: Array<{
        job_name: string;
        http_sd_configs?: Array<{ url: string }>;
        static_configs?: Array<{ targets: string[]; labels: { instance: string } }>;
      }>;
    };
    expect(config.rule_files).toEqual([COMPOSE_RULES_PATH]);
    const jobs = Object.fromEntries(config.scrape_configs.map((j) => [j.job_name, j]));
    expect(Object.keys(jobs).sort()).toEqual(['etcd', 'failover-agent', 'services']);
    // every registered instance, from the gateway container's sync: listening on the
    // compose network, on the port its environment gives it, serving /sd/prometheus
    const sd = new URL(jobs.services.http_sd_configs?.[0]?.url ?? '');
    const gateway = get('gateway');
    const sync = (
      await appConfigSchema(
        path.join(ROOT, 'infra/gateway-sync/src/lib/sync-config.ts'),
        gateway.environment ?? {},
      )
    ).parse(gateway.environment ?? {}) as { SYNC_HOST: string; SYNC_PORT: number };
    expect({ host: sd.hostname, port: Number(sd.port), path: sd.pathname }).toEqual({
      host: 'gateway',
      port: sync.SYNC_PORT,
      path: '/sd/prometheus',
    });
    expect(sync.SYNC_HOST).toBe('0.0.0.0');
    expect(gateway.expose).toContain(String(sync.SYNC_PORT));
    expect(fs.readFileSync(path.join(ROOT, 'infra/gateway-sync/src/main.ts'), 'utf8')).toContain(
      "url === '/sd/prometheus'",
    );
    // the agents and the etcd members, which do not register: each container, where it
    // listens, labelled with its name
    const statics = (job: string) =>
      (jobs[job].static_configs ?? []).map((c) => ({
        instance: c.labels.instance,
        targets: c.targets,
      }));
    const agents = byCommand('dist/apps/failover-agent/src/main.js').filter(([, s]) => !s.profiles);
    expect(agents.length).toBe(2);
    expect(statics('failover-agent')).toEqual(
      agents.map(([name, s]) => {
        expect(s.environment?.AGENT_ID).toBe(name);
        expect(s.environment?.HOST).toBe('0.0.0.0');
        expect(s.expose).toContain(s.environment?.HTTP_PORT);
        return { instance: name, targets: [`${name}:${s.environment?.HTTP_PORT}`] };
      }),
    );
    expect(statics('etcd')).toEqual(
      etcdMembers().map((name) => {
        const client = new URL(
          parseLongFlags(get(name).command ?? []).get('advertise-client-urls') ?? '',
        );
        expect(get(name).expose).toContain(client.port);
        return { instance: name, targets: [`${name}:${client.port}`] };
      }),
    );
    // a valid configuration for the server itself (promtool, Debian's package), with the
    // repository's rules where the image puts them
    const checked = path.join(scratchDir, 'prometheus.yml');
    fs.writeFileSync(
      checked,
      composePrometheusConfig().replace(COMPOSE_RULES_PATH, PROMETHEUS_RULES),
    );
    await expect(run('promtool', ['check', 'config', checked])).resolves.toBeDefined();
  });

  it('has a healthcheck on every long-running container, run by a command its image has, and waits only on what can become healthy or complete', async () => {
    for (const [name, s] of Object.entries(services)) {
      // the jobs that set up the datastores: the MariaDB cluster, Redis's and etcd's logins
      // and Prometheus' configuration
      const oneShot = ['db-init', 'redis-auth', 'etcd-auth', 'prometheus-config'].includes(name);
      expect({ name, healthcheck: Boolean(s.healthcheck) }).toEqual({
        name,
        healthcheck: !oneShot,
      });
      // a healthcheck naming one of the repository's commands: the image installs it
      const test = s.healthcheck?.test ?? [];
      if (test[0] === 'CMD' && test[1].startsWith('stayline-'))
        expect({ name, command: test[1], installed: installed(s).has(test[1]) }).toEqual({
          name,
          command: test[1],
          installed: true,
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

    // stayline-health (infra/docker/health.sh): healthy only when every PORT PATH answers 2xx
    const health = installed(get('gateway')).get('stayline-health') as string;
    expect(health).toBe(path.join(ROOT, 'infra/docker/health.sh'));
    const server = http.createServer((req, res) => {
      res.statusCode = req.url === '/health/live' ? 200 : 503;
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = String((closed.address() as AddressInfo).port);
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    try {
      const port = String((server.address() as AddressInfo).port);
      const healthy = (...args: string[]) =>
        run(health, args, { timeout: 10_000 }).then(
          () => true,
          () => false,
        );
      expect(await healthy(port, '/health/live')).toBe(true);
      expect(await healthy(port, '/health/live', port, '/health/live')).toBe(true);
      expect(await healthy(port, '/health')).toBe(false);
      expect(await healthy(port, '/health/live', port, '/health')).toBe(false);
      expect(await healthy(closedPort, '/health/live')).toBe(false);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('runs MariaDB nodes with the launcher’s server flags (stayline.cnf and the entry point baked into the image), and db-init with the launcher’s cluster-init', () => {
    const nodes = mariadbNodes();
    expect(nodes).toEqual(['mariadb-1', 'mariadb-2', 'mariadb-3']);
    for (const name of nodes)
      expect({ name, build: get(name).build?.context }).toEqual({
        name,
        build: path.join(ROOT, 'infra/docker/mariadb'),
      });
    const { df, chain } = imageOf(get(nodes[0]));
    // the image's entry point starts mariadbd on the image's stayline.cnf; the command adds to it
    const entrypoint = JSON.parse(ofOp(chain, 'ENTRYPOINT').at(-1) ?? '[]') as string[];
    expect(entrypoint).toHaveLength(1);
    const entryFile = installed(get(nodes[0])).get(entrypoint[0]) as string;
    expect(entryFile).toBe(path.join(df.context, 'entrypoint.sh'));
    const entry = shellScript(entryFile);
    const exec = /^\s*exec mariadbd (.*)$/m.exec(entry)?.[1].trim().split(/\s+/) ?? [];
    // --defaults-file only counts as the first option; "$@" passes the command on
    expect(exec[0]).toMatch(/^--defaults-file=/);
    expect(exec.at(-1)).toBe('"$@"');
    const fixed = parseLongFlags(exec);
    const cnfCopy = ofOp(chain, 'COPY')
      .map(parseCopy)
      .find((c) => c.dest === fixed.get('defaults-file'));
    expect(cnfCopy?.sources).toEqual(['stayline.cnf']);
    const cnfFile = path.join(df.context, 'stayline.cnf');
    fixed.delete('defaults-file');
    const shared = parseCnf(fs.readFileSync(cnfFile, 'utf8'));
    const user = userOf(chain);
    const owned = ofOp(chain, 'RUN').join('\n');
    // per process on the native stack; the image and each node's command set these
    const perProcess = [
      'no-defaults', // the image reads its own stayline.cnf only (--defaults-file)
      'user', // the image's USER
      'datadir',
      'tmpdir', // each native node its own; a container has its own /tmp
      'socket',
      'pid-file',
      'log-error', // stderr: the container's log
      'bind-address',
      'log-bin',
    ];
    const serverIds = new Set<string>();
    for (const [i, name] of nodes.entries()) {
      const s = get(name);
      expect(s.entrypoint).toBeUndefined();
      expect((s.command ?? []).every((a) => a.startsWith('--'))).toBe(true);
      expect(s.environment?.MARIADB_ROOT_PASSWORD).toBe(
        get('db-init').environment?.MARIADB_ROOT_PASSWORD,
      );
      // the first start sets root's password from it
      expect(entry).toContain('MARIADB_ROOT_PASSWORD');
      const effective = new Map([...shared, ...fixed, ...parseLongFlags(s.command ?? [])]);
      // the launcher's node on the container's fixed address (what it reports to replicas)
      const spec = parseLongFlags(
        mariadbSpec({ name, host: fixedAddress(name), port: 3306, serverId: i + 1, dir: '/unused' })
          .args,
      );
      // the binary log in the data directory, as the launcher keeps it
      expect(
        path.relative(
          effective.get('datadir') as string,
          path.resolve(effective.get('datadir') as string, effective.get('log-bin') as string),
        ),
      ).toBe(path.relative(spec.get('datadir') as string, spec.get('log-bin') as string));
      for (const key of perProcess) spec.delete(key);
      expect(Object.fromEntries([...effective].filter(([k]) => spec.has(k)))).toEqual(
        Object.fromEntries(spec),
      );
      // the per-process paths: absolute, and where the image's user may write
      for (const key of ['datadir', 'tmpdir', 'socket', 'pid-file']) {
        const value = effective.get(key) as string;
        expect({ key, absolute: path.isAbsolute(value) }).toEqual({ key, absolute: true });
      }
      for (const dir of [effective.get('datadir'), path.dirname(effective.get('socket') ?? '')])
        expect(owned).toMatch(new RegExp(`chown ${user}(?::\\S+)? [^&\\n]*${dir}\\b`));
      expect(effective.get('bind-address')).toBe('0.0.0.0');
      expect(effective.has('log-error')).toBe(false);
      // the healthcheck asks the server on the socket it listens on
      expect(s.healthcheck?.test.join(' ')).toContain(`--socket=${effective.get('socket')}`);
      // semi-sync's master side is switched on at run time by db-init, never in a config
      expect([...effective.keys()]).not.toContain('rpl-semi-sync-master-enabled');
      serverIds.add(effective.get('server-id') as string);
    }
    expect(serverIds.size).toBe(nodes.length);
    // a first start makes the data directory as the launcher's initDataDir does, same redo log size
    const install = /^\s*mariadb-install-db (.*)$/m.exec(entry)?.[1].split(/\s+/) ?? [];
    expect(install).toEqual(
      expect.arrayContaining([
        '--no-defaults',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        `--innodb-log-file-size=${shared.get('innodb-log-file-size')}`,
      ]),
    );
    expect(get('db-init').command).toEqual([
      'node',
      'dist/infra/launcher/src/cluster-init.js',
      '--primary',
      `${fixedAddress(nodes[0])}:3306`,
      ...nodes.slice(1).flatMap((n) => ['--replica', `${fixedAddress(n)}:3306`]),
    ]);
    expect(get('db-init').depends_on).toEqual(
      Object.fromEntries(nodes.map((n) => [n, { condition: 'service_healthy' }])),
    );
  });

  it('runs Redis and the Sentinels with the launcher’s settings on their fixed addresses, each Sentinel on a fresh config its image’s entry point writes (by address: resolve-hostnames no, announce-hostnames no)', () => {
    const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-redis-'));
    try {
      const perProcess = ['port', 'bind', 'dir', 'pidfile', 'logfile', 'daemonize'];
      const nodes = redisNodes();
      expect(nodes).toEqual(['redis-1', 'redis-2']);
      // redis-1 starts as the primary, at its fixed address
      const primary = { host: fixedAddress('redis-1'), port: 6379 };
      const redisBuild = JSON.stringify(get('redis-1').build);
      expect(get('redis-1').build?.context).toBe(path.join(ROOT, 'infra/docker/redis'));
      for (const [name, replicaOf] of [
        ['redis-1', undefined],
        ['redis-2', primary],
      ] as const) {
        const s = get(name);
        expect(JSON.stringify(s.build)).toBe(redisBuild);
        expect(s.command?.[0]).toBe('redis-server');
        // the launcher's node on the container's fixed address (what it announces to Sentinel)
        const spec = parseRedisArgs(
          redisSpec({ name, host: fixedAddress(name), port: 6379, dir: scratch }, replicaOf).args,
        );
        for (const key of perProcess) spec.delete(key);
        expect(Object.fromEntries(parseRedisArgs(s.command ?? []))).toEqual(
          Object.fromEntries(spec),
        );
      }
      const args = (name: string) => parseRedisArgs(get(name).command ?? []);
      expect(args('redis-1').has('replicaof')).toBe(false);
      expect(args('redis-2').get('replicaof')).toBe(`${fixedAddress('redis-1')} 6379`);
      for (const name of nodes)
        expect({ name, announce: args(name).get('replica-announce-ip') }).toEqual({
          name,
          announce: fixedAddress(name),
        });

      // one image, two roles: the Sentinels run the image's stayline-sentinel
      const first = get(sentinels()[0]);
      const { df, chain } = imageOf(first);
      const entryFile = installed(first).get('stayline-sentinel') as string;
      expect(entryFile).toBe(path.join(df.context, 'sentinel-entry.sh'));
      const templateFile = path.join(df.context, 'sentinel.conf.template');
      const templateDest = ofOp(chain, 'COPY')
        .map(parseCopy)
        .find((c) => c.sources[0] === 'sentinel.conf.template')?.dest as string;
      expect(templateDest).toBeDefined();
      // the template: addresses only, no name resolved or announced
      const template = confLines(fs.readFileSync(templateFile, 'utf8'));
      expect(template.filter((l) => /^sentinel (?:resolve|announce)-hostnames\b/.test(l))).toEqual([
        'sentinel resolve-hostnames no',
        'sentinel announce-hostnames no',
      ]);
      expect(template).toEqual(
        expect.arrayContaining([
          'sentinel announce-ip {{ANNOUNCE_IP}}',
          `sentinel monitor ${SENTINEL_MASTER_NAME} {{PRIMARY_IP}} 6379 2`,
        ]),
      );
      const workdir = ofOp(chain, 'WORKDIR').at(-1) as string;
      // the entry point, run here on the template with the image's paths moved to a scratch dir,
      // and a redis-sentinel that prints the file it is given
      const bin = path.join(scratch, 'bin');
      const data = path.join(scratch, 'data');
      fs.mkdirSync(bin);
      fs.mkdirSync(data);
      fs.writeFileSync(path.join(bin, 'redis-sentinel'), '#!/bin/sh\necho "$1"\ncat "$1"\n', {
        mode: 0o755,
      });
      // its users and logins, as the redis-auth job renders them (infra/launcher/src/datastore-auth.ts)
      const authDir = path.join(scratch, 'auth');
      fs.mkdirSync(authDir);
      const devEnv = { STAYLINE_PROFILE: 'dev' };
      const authLines = confLines(redisAuthFiles(authDir, devEnv)['sentinel-auth.conf']);
      const entry = path.join(scratch, 'entry.sh');
      fs.writeFileSync(
        entry,
        fs
          .readFileSync(entryFile, 'utf8')
          .replaceAll(templateDest, templateFile)
          .replaceAll(`${workdir}/`, `${data}/`)
          .replaceAll('/etc/stayline/auth/', `${authDir}/`),
      );
      const conf = path.join(data, 'sentinel.conf');
      // without the job's file it starts nothing
      expect(
        startSentinel0(entry, conf, bin, {
          SENTINEL_ANNOUNCE_IP: '192.0.2.31',
          REDIS_PRIMARY_IP: '198.51.100.21',
        }),
      ).toMatchObject({
        status: 1,
        stderr: expect.stringMatching(
          /sentinel-auth\.conf \(written by the redis-auth job\) is missing/,
        ),
      });
      fs.writeFileSync(
        path.join(authDir, 'sentinel-auth.conf'),
        redisAuthFiles(authDir, devEnv)['sentinel-auth.conf'],
      );
      const stale = 'sentinel monitor stale 10.0.0.1 6379 2\n';
      const startSentinel = (env: Record<string, string>) => {
        // what Sentinel wrote last time (it rewrites its file as it learns) is never read again
        fs.writeFileSync(conf, stale);
        return startSentinel0(entry, conf, bin, env);
      };
      const written = (env: Record<string, string>) => {
        const { status, stdout, stderr } = startSentinel(env);
        expect({ env, status, stderr }).toEqual({ env, status: 0, stderr: '' });
        const [file, ...lines] = stdout.split('\n');
        expect(file).toBe(conf);
        return confLines(lines.join('\n'));
      };
      // the monitor line takes REDIS_PRIMARY_IP, announce-ip SENTINEL_ANNOUNCE_IP
      const valid = { SENTINEL_ANNOUNCE_IP: '192.0.2.31', REDIS_PRIMARY_IP: '198.51.100.21' };
      expect(written(valid)).toEqual(
        expect.arrayContaining([
          'sentinel announce-ip 192.0.2.31',
          `sentinel monitor ${SENTINEL_MASTER_NAME} 198.51.100.21 6379 2`,
          // the default user off, the admin and client users, auth-user/auth-pass, sentinel-user
          ...authLines,
        ]),
      );
      expect(authLines).toEqual(
        expect.arrayContaining([
          'user default off resetpass resetkeys resetchannels -@all',
          `sentinel auth-user ${SENTINEL_MASTER_NAME} stayline-sentinel`,
        ]),
      );
      // the file holds passwords: its owner's alone
      expect(fs.statSync(conf).mode & 0o077).toBe(0);
      // refused, with redis-sentinel never started: either one missing (or empty), or not an IPv4 address
      const refused: Array<[Record<string, string>, RegExp]> = [
        [{ REDIS_PRIMARY_IP: valid.REDIS_PRIMARY_IP }, /SENTINEL_ANNOUNCE_IP/],
        [{ SENTINEL_ANNOUNCE_IP: valid.SENTINEL_ANNOUNCE_IP }, /REDIS_PRIMARY_IP/],
        [{ ...valid, SENTINEL_ANNOUNCE_IP: '' }, /SENTINEL_ANNOUNCE_IP/],
        [{ ...valid, REDIS_PRIMARY_IP: '' }, /REDIS_PRIMARY_IP/],
        [{ ...valid, SENTINEL_ANNOUNCE_IP: 'sentinel-1' }, /'sentinel-1' is not an IPv4 address/],
        [{ ...valid, REDIS_PRIMARY_IP: 'redis-1' }, /'redis-1' is not an IPv4 address/],
        [{ ...valid, REDIS_PRIMARY_IP: `${valid.REDIS_PRIMARY_IP}:6379` }, /not an IPv4 address/],
      ];
      for (const [env, reason] of refused) {
        const { status, stdout, stderr } = startSentinel(env);
        expect({ env, refused: status !== 0, stdout, stderr }).toEqual({
          env,
          refused: true,
          stdout: '',
          stderr: expect.stringMatching(reason),
        });
        expect(fs.readFileSync(conf, 'utf8')).toBe(stale);
      }

      for (const name of sentinels()) {
        const s = get(name);
        expect(JSON.stringify(s.build)).toBe(redisBuild);
        expect(s.command).toEqual(['stayline-sentinel']);
        expect(s.healthcheck?.test.join(' ')).toContain(`ckquorum ${SENTINEL_MASTER_NAME}`);
        // it announces its own fixed address and first monitors redis-1's
        const env = {
          SENTINEL_ANNOUNCE_IP: s.environment?.SENTINEL_ANNOUNCE_IP as string,
          REDIS_PRIMARY_IP: s.environment?.REDIS_PRIMARY_IP as string,
        };
        expect({ name, ...env }).toEqual({
          name,
          SENTINEL_ANNOUNCE_IP: fixedAddress(name),
          REDIS_PRIMARY_IP: fixedAddress('redis-1'),
        });
        const ours = written(env);
        expect(ours.join('\n')).not.toContain('stale');
        expect(ours.join('\n')).not.toMatch(/\{\{|\}\}/);
        expect(ours).toEqual(
          expect.arrayContaining([
            `sentinel announce-ip ${fixedAddress(name)}`,
            `sentinel monitor ${SENTINEL_MASTER_NAME} ${fixedAddress('redis-1')} 6379 2`,
          ]),
        );
        // its dir is the image's own, where the entry point writes the file
        expect(ours).toContain(`dir ${workdir}`);
        const dir = path.join(scratch, name);
        sentinelSpec({ name, host: env.SENTINEL_ANNOUNCE_IP, port: 26379, dir }, primary);
        // every line of the native Sentinel's, its users and logins included (the same passwords)
        const theirs = confLines(fs.readFileSync(path.join(dir, 'sentinel.conf'), 'utf8')).filter(
          (l) => !/^(bind|dir|pidfile|logfile) /.test(l),
        );
        expect(ours).toEqual(expect.arrayContaining(theirs));
        expect(ours).toEqual(
          expect.arrayContaining([
            'sentinel resolve-hostnames no',
            'sentinel announce-hostnames no',
          ]),
        );
        expect(s.expose).toContain('26379');
      }
      expect(sentinels()).toHaveLength(3);
    } finally {
      fs.rmSync(scratch, { recursive: true, force: true });
    }
  });

  it("logs every process in to Redis, the Sentinels and etcd as its role's user, with users the one table's jobs set up", () => {
    // the Redis image's user on the fixed id the redis-auth job writes its files for
    const redisImage = imageOf(get('redis-1'));
    const job = get('redis-auth');
    const owner = job.command?.[job.command.indexOf('--owner') + 1];
    expect(owner).toBe('6379:6379');
    expect(ofOp(redisImage.chain, 'RUN').join('\n')).toMatch(
      /groupadd --system --gid 6379 redis[\s\S]*useradd --system --uid 6379 --gid redis/,
    );
    expect(job.command?.slice(0, 5)).toEqual([
      'node',
      'dist/infra/launcher/src/datastore-auth.js',
      'redis-files',
      '--out',
      '/etc/stayline/auth',
    ]);
    expect(job.volumes).toEqual([expect.stringMatching(/^\S+:\/etc\/stayline\/auth(?::rw)?$/)]);
    const volume = String(job.volumes?.[0]).split(':')[0];
    // the nodes and the Sentinels read the files, never write them, and start after the job
    for (const name of [...redisNodes(), ...sentinels()]) {
      const s = get(name);
      expect({ name, volumes: s.volumes }).toEqual({
        name,
        volumes: [expect.stringMatching(new RegExp(`^${volume}:/etc/stayline/auth:ro$`))],
      });
      // redis-cli in the container logs in as the admin (healthchecks, the compose suites)
      expect({ name, auth: s.environment?.REDISCLI_AUTH }).toEqual({
        name,
        auth: credentialsFromEnv({}).redis.admin,
      });
      expect(JSON.stringify(s.healthcheck?.test)).toContain('redis-cli');
      expect(JSON.stringify(s.healthcheck?.test)).toContain(`--user ${REDIS_USERS.admin}`);
    }
    for (const name of redisNodes()) {
      expect(get(name).command?.[1]).toBe('/etc/stayline/auth/redis.conf');
      expect(get(name).depends_on?.['redis-auth']).toEqual({
        condition: 'service_completed_successfully',
      });
    }
    // etcd: the job runs before any client, on every member
    const etcdJob = get('etcd-auth');
    expect(etcdJob.command?.slice(1, 5)).toEqual([
      'dist/infra/launcher/src/datastore-auth.js',
      'etcd',
      '--endpoints',
      etcdMembers()
        .map((n) => `http://${n}:2379`)
        .join(','),
    ]);
    // each process's logins: its role's users (tools/stack-kit services.ts), the dev passwords
    const roleOf = (name: string, s: Service): string | undefined => {
      if (name === 'gateway') return 'gateway-sync';
      const entry = s.command?.[1] ?? '';
      const app = /^dist\/apps\/([\w-]+)\/src\/main\.js$/.exec(entry)?.[1];
      return app ? redisRoleOf(app) : undefined;
    };
    const dev = credentialsFromEnv({});
    let checked = 0;
    for (const [name, s] of Object.entries(services)) {
      const role = roleOf(name, s);
      if (!role) continue;
      checked++;
      const redisRole = role as RedisRole;
      const etcdRole = role as EtcdRole;
      expect({ name, env: s.environment }).toEqual({
        name,
        env: expect.objectContaining({
          REDIS_USERNAME: REDIS_USERS[redisRole],
          REDIS_PASSWORD: dev.redis[redisRole],
          REDIS_SENTINEL_USERNAME: SENTINEL_USERS.client,
          REDIS_SENTINEL_PASSWORD: dev.sentinelClient,
          ETCD_USERNAME: ETCD_USERS[etcdRole],
          ETCD_PASSWORD: etcdLogin(etcdRole, {}).password,
        }),
      });
      // after etcd-auth (the gateway after the instances, which are)
      if (name !== 'gateway')
        expect({ name, dep: s.depends_on?.['etcd-auth'] }).toEqual({
          name,
          dep: { condition: 'service_completed_successfully' },
        });
    }
    expect(checked).toBeGreaterThanOrEqual(14);
  });

  it('runs three etcd members with the launcher’s Raft timings, each keeping its data in a directory its image gives its user, and points every client at all of them', () => {
    const members = etcdMembers();
    expect(members).toEqual(['etcd-1', 'etcd-2', 'etcd-3']);
    const cluster = members.map((n) => `${n}=http://${n}:2380`).join(',');
    for (const name of members) {
      const s = get(name);
      expect(s.build?.context).toBe(path.join(ROOT, 'infra/docker/etcd'));
      expect(s.command?.[0]).toBe('etcd');
      const flags = parseLongFlags(s.command ?? []);
      const dataDir = flags.get('data-dir') as string;
      expect(Object.fromEntries([...flags].filter(([k]) => k !== 'data-dir'))).toEqual({
        name,
        'listen-client-urls': 'http://0.0.0.0:2379',
        'advertise-client-urls': `http://${name}:2379`,
        // simple tokens lapsing after 300 s unused, as the native stack kit's (tools/stack-kit etcd.ts)
        'auth-token': 'simple',
        'auth-token-ttl': '300',
        'listen-peer-urls': 'http://0.0.0.0:2380',
        'initial-advertise-peer-urls': `http://${name}:2380`,
        'initial-cluster': cluster,
        'initial-cluster-state': 'new',
        'initial-cluster-token': expect.any(String),
        'heartbeat-interval': String(ETCD_HEARTBEAT_MS),
        'election-timeout': String(ETCD_ELECTION_TIMEOUT_MS),
        'pre-vote': 'true',
      });
      expect(s.expose).toEqual(expect.arrayContaining(['2379', '2380']));
      // in the container's own directory (no tmpfs, no volume), which etcd creates inside one
      // the image makes for the user it runs as; no restart policy: never restarted empty
      const { chain } = imageOf(s);
      const parent = path.dirname(dataDir);
      expect(dataDir).toMatch(/^\/[\w/-]+\/[\w-]+$/);
      expect(ofOp(chain, 'RUN').join('\n')).toMatch(
        new RegExp(`mkdir -p ${parent}\\b.*chown ${userOf(chain)}(?::\\S+)? ${parent}\\b`),
      );
      expect({ name, tmpfs: s.tmpfs, volumes: s.volumes, restart: s.restart }).toEqual({
        name,
        tmpfs: undefined,
        volumes: undefined,
        restart: 'no',
      });
    }
    // the agents, the services, the dashboard and the gateway all know every member
    const clients = Object.entries(services).filter(([, s]) => s.environment?.ETCD_ENDPOINTS);
    expect(clients.map(([n]) => n)).toEqual(
      expect.arrayContaining(['gateway', 'dashboard-1', 'failover-agent-1', 'reservation-1']),
    );
    for (const [name, s] of clients)
      expect({ name, endpoints: s.environment?.ETCD_ENDPOINTS.split(',') }).toEqual({
        name,
        endpoints: members.map((n) => `http://${n}:2379`),
      });
  });
});

describe('docker-compose.production.yml (the production profile)', () => {
  const PRODUCTION_FILE = path.join(ROOT, 'docker-compose.production.yml');
  /** The secrets the compose files read, each with a value of its own. */
  const SECRETS: Record<string, string> = {
    MARIADB_ROOT_PASSWORD: 'root-secret-of-its-own',
    STAYLINE_DB_ADMIN_PASSWORD: 'admin-secret-of-its-own',
    STAYLINE_DB_REPL_PASSWORD: 'repl-secret-of-its-own',
    STAYLINE_DB_RESERVATION_PASSWORD: 'reservation-secret-of-its-own',
    STAYLINE_DB_PAYMENT_PASSWORD: 'payment-secret-of-its-own',
    STAYLINE_DB_RECOMMENDATION_PASSWORD: 'recommendation-secret-of-its-own',
    STAYLINE_DB_SCRAP_PASSWORD: 'scrap-secret-of-its-own',
    STAYLINE_DB_MONITOR_PASSWORD: 'monitor-secret-of-its-own',
    STAYLINE_DB_KIT_PASSWORD: 'kit-secret-of-its-own',
    STAYLINE_RESERVATION_SIGNING_KEY: 'reservation-seed-of-its-own',
    STAYLINE_PAYMENT_SIGNING_KEY: 'payment-seed-of-its-own',
    STAYLINE_RECOMMENDATION_SIGNING_KEY: 'recommendation-seed-of-its-own',
    STAYLINE_SCRAP_SIGNING_KEY: 'scrap-seed-of-its-own',
    STAYLINE_RESERVATION_PUBLIC_KEY: 'reservation=public-key-of-its-own',
    STAYLINE_AUTH_SIGNING_SECRETS: 'signing-secret-of-its-own',
    STAYLINE_AUTH_ALICE_PASSWORD: 'alice-secret-of-its-own',
    STAYLINE_AUTH_BOB_PASSWORD: 'bob-secret-of-its-own',
    STAYLINE_AUTH_ADMIN_PASSWORD: 'admin-user-secret-of-its-own',
    STAYLINE_REDIS_SERVICE_PASSWORD: 'redis-service-secret-of-its-own',
    STAYLINE_REDIS_AGENT_PASSWORD: 'redis-agent-secret-of-its-own',
    STAYLINE_REDIS_GATEWAY_SYNC_PASSWORD: 'redis-gateway-sync-secret-of-its-own',
    STAYLINE_REDIS_DASHBOARD_PASSWORD: 'redis-dashboard-secret-of-its-own',
    STAYLINE_REDIS_REPLICA_PASSWORD: 'redis-replica-secret-of-its-own',
    STAYLINE_REDIS_SENTINEL_PASSWORD: 'redis-sentinel-secret-of-its-own',
    STAYLINE_REDIS_ADMIN_PASSWORD: 'redis-admin-secret-of-its-own',
    STAYLINE_SENTINEL_PASSWORD: 'sentinel-client-secret-of-its-own',
    STAYLINE_ETCD_ROOT_PASSWORD: 'etcd-root-secret-of-its-own',
    STAYLINE_ETCD_AGENT_PASSWORD: 'etcd-agent-secret-of-its-own',
    STAYLINE_ETCD_SERVICE_PASSWORD: 'etcd-service-secret-of-its-own',
    STAYLINE_ETCD_GATEWAY_SYNC_PASSWORD: 'etcd-gateway-sync-secret-of-its-own',
    STAYLINE_ETCD_DASHBOARD_PASSWORD: 'etcd-dashboard-secret-of-its-own',
  };
  let dir: string;
  const run = (files: string[], vars: Record<string, string>) => {
    const envFile = path.join(dir, 'vars.env');
    fs.writeFileSync(
      envFile,
      Object.entries(vars)
        .map(([k, v]) => `${k}=${v}\n`)
        .join(''),
    );
    return spawnSync(
      'docker-compose',
      ['--env-file', envFile, ...files.flatMap((f) => ['-f', f]), 'config'],
      {
        cwd: ROOT,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir() },
      },
    );
  };
  const production = (vars: Record<string, string>) => run([COMPOSE_FILE, PRODUCTION_FILE], vars);
  const secretKeys = (env: Record<string, string> = {}) => Object.keys(env).filter(isSecretName);

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'stayline-compose-production-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('runs the dev profile by default: every process that reads secrets gets STAYLINE_PROFILE=dev', () => {
    const dev = load(run([COMPOSE_FILE], {}).stdout) as ComposeConfig;
    const apps = Object.entries(dev.services).filter(
      ([, s]) => s.command?.[0] === 'node' && secretKeys(s.environment).length > 0,
    );
    expect(apps.length).toBeGreaterThan(0);
    for (const [name, s] of apps)
      if (!s.command?.[1]?.startsWith('dist/infra/'))
        expect({ name, profile: s.environment?.STAYLINE_PROFILE }).toEqual({
          name,
          profile: 'dev',
        });
  });

  it('stops before anything starts while a secret is unset, naming it', () => {
    const none = production({});
    expect(none.status).not.toBe(0);
    expect(none.stderr).toMatch(/Missing mandatory value[\s\S]*set [A-Z_]+ /);
    for (const name of Object.keys(SECRETS)) {
      const { [name]: _left, ...others } = SECRETS;
      const r = production(others);
      expect({ name, status: r.status }).toEqual({ name, status: 1 });
      expect(r.stderr).toContain(`set ${name}`);
    }
  });

  it('with every secret set: each one the set value, no dev-only value anywhere, every service and agent in the production profile', () => {
    const r = production(SECRETS);
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/dev-only/);
    const config = load(r.stdout) as ComposeConfig;
    const base = (load(run([COMPOSE_FILE], {}).stdout) as ComposeConfig).services;
    // every secret the first file passes is required by the second, under the same name
    const set = new Set(Object.values(SECRETS));
    for (const [name, s] of Object.entries(base)) {
      for (const key of secretKeys(s.environment)) {
        const value = config.services[name].environment?.[key] ?? '';
        expect({ name, key, set: set.has(value) }).toEqual({ name, key, set: true });
      }
      if (s.environment?.STAYLINE_PROFILE !== undefined)
        expect({ name, profile: config.services[name].environment?.STAYLINE_PROFILE }).toEqual({
          name,
          profile: 'production',
        });
    }
    // and it names no service the first file does not have
    for (const name of Object.keys(config.services)) expect(base[name]).toBeDefined();
    // each service signs with its own key; payment and recommendation take reservation's
    const keys = (name: string) => {
      const env = config.services[name].environment ?? {};
      return { name, own: env.SERVICE_SIGNING_KEY, accepts: env.SERVICE_PUBLIC_KEYS };
    };
    for (const service of ['reservation', 'payment', 'recommendation', 'scrap'])
      for (const name of Object.keys(config.services).filter((n) => n.startsWith(`${service}-`)))
        expect(keys(name)).toEqual({
          name,
          own: SECRETS[`STAYLINE_${service.toUpperCase()}_SIGNING_KEY`],
          accepts: ['payment', 'recommendation'].includes(service)
            ? SECRETS.STAYLINE_RESERVATION_PUBLIC_KEY
            : undefined,
        });
  });
});
