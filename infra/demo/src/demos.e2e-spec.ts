/**
 * Every `npm run demo:<pattern>` in its `--quick` mode, one after another, on
 * one whole stack (datastores, etcd, failover agents, 2 instances of every
 * service, the gateway), as a user runs them after `npm run stack:up`. Each
 * demo breaks something, checks the system healed and puts back what it broke,
 * so the next one starts from a healthy stack; the failover demo comes last
 * because it leaves another primary. Generous time slack: the target figures
 * are checked by `npm run bench`, not here.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { LOAD_GATEWAY_LIMITS, Stack, startWholeStack } from '@stayline/stack-kit';
import { DemoReport } from './index';

jest.setTimeout(240_000);

const ROOT = path.resolve(__dirname, '../../..');
const RUN = path.join(ROOT, 'scripts/run.cjs');

/** In the order they run; each is `infra/demo/src/<name>.ts`. */
const DEMOS = [
  'lb',
  'client-lb',
  'discovery',
  'breaker',
  'flags',
  'leader',
  'replication',
  'failover',
];

interface Ran {
  code: number | null;
  output: string;
  report?: DemoReport;
}

function runDemo(stack: Stack, name: string): Promise<Ran> {
  const reportFile = path.join(stack.stateDir, `demo-${name}.json`);
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [RUN, path.join(__dirname, `${name}.ts`), '--quick', `--report=${reportFile}`],
      {
        cwd: ROOT,
        env: { ...process.env, STAYLINE_STATE_DIR: stack.stateDir },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 220_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const report = fs.existsSync(reportFile)
        ? (JSON.parse(fs.readFileSync(reportFile, 'utf8')) as DemoReport)
        : undefined;
      resolve({ code, output, report });
    });
  });
}

describe('npm run demo:<pattern> -- --quick, on one whole stack', () => {
  let stack: Stack;

  beforeAll(async () => {
    // the demos book under load from one address, as they do on `npm run stack:up`'s stack
    stack = await startWholeStack({ instances: 2, gatewayLimits: LOAD_GATEWAY_LIMITS });
  }, 240_000);

  afterAll(async () => {
    // the demos restarted components under new pids: stop the ones that run now
    stack?.reload();
    await stack?.stop();
  });

  it.each(DEMOS)('demo:%s heals and prints its table', async (name) => {
    const ran = await runDemo(stack, name);
    stack.reload();
    const failed = ran.report?.checks
      .filter((c) => !c.ok)
      .map((c) => `${c.what}: ${c.detail ?? ''}`);
    // the failed checks first (a long log may be cut), then the demo's own timeline and table
    if (ran.code !== 0)
      console.log(
        `demo:${name} failed: ${JSON.stringify(failed ?? 'no report')}\noutput:\n${ran.output}`,
      );
    expect(ran.report).toBeDefined();
    expect(failed).toEqual([]);
    expect(ran.report?.checks.length).toBeGreaterThan(0);
    expect(ran.report?.figures.length).toBeGreaterThan(0);
    expect(ran.output).toMatch(/FIGURE\s+MEASURED\s+GOAL\s+ANCHOR/);
    expect(ran.code).toBe(0);
  });
});
