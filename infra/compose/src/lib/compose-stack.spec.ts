import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ComposeStack, runCommand } from './compose-stack';

/**
 * A stand-in `docker` on PATH that answers `ps`, `inspect` and `logs` from a
 * JSON file the test writes: what the driver makes of a stack's state, without
 * an engine (the real engine is the compose suite's business).
 */
function fakeDocker(): { env: NodeJS.ProcessEnv; set: (containers: unknown[]) => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fake-docker-'));
  const state = path.join(dir, 'state.json');
  fs.writeFileSync(
    path.join(dir, 'docker'),
    `#!/usr/bin/env node
const fs = require('node:fs');
const cs = JSON.parse(fs.readFileSync(${JSON.stringify(state)}, 'utf8'));
const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'ps') console.log(cs.map((c) => c.Id).join('\\n'));
else if (cmd === 'inspect') console.log(JSON.stringify(cs.filter((c) => args.includes(c.Id))));
else if (cmd === 'logs') console.log((cs.find((c) => c.Name === '/' + args[2]) || {}).logs || '');
else process.exit(1);
`,
    { mode: 0o755 },
  );
  return {
    env: { ...process.env, PATH: `${dir}:${process.env.PATH}` },
    set: (containers) => fs.writeFileSync(state, JSON.stringify(containers)),
  };
}

function container(
  service: string,
  status: string,
  health?: string,
  o: { exitCode?: number; logs?: string; probe?: string } = {},
) {
  return {
    Id: `id-${service}`,
    Name: `/p_${service}_1`,
    Config: { Labels: { 'com.docker.compose.service': service } },
    NetworkSettings: { Networks: { p_default: { IPAddress: '10.89.51.2' } } },
    State: {
      Status: status,
      ExitCode: o.exitCode ?? 0,
      StartedAt: '2026-12-04T00:00:00Z',
      Health: health
        ? { Status: health, Log: o.probe ? [{ ExitCode: 1, Output: o.probe }] : [] }
        : undefined,
    },
    logs: o.logs,
  };
}

describe('ComposeStack.waitHealthy', () => {
  it('returns once every container is healthy and the one-shot job exited 0', async () => {
    const docker = fakeDocker();
    docker.set([
      container('db-init', 'exited'),
      container('payment-1', 'running', 'healthy'),
      container('etcd-1', 'running', 'healthy'),
    ]);
    const all = await new ComposeStack('p', docker.env).waitHealthy(5_000);
    expect(all.map((c) => [c.service, c.health, c.ip])).toEqual([
      ['db-init', 'none', '10.89.51.2'],
      ['etcd-1', 'healthy', '10.89.51.2'],
      ['payment-1', 'healthy', '10.89.51.2'],
    ]);
  });

  it('fails fast on a container that exited, naming it with its exit code and last log lines', async () => {
    const docker = fakeDocker();
    docker.set([
      container('db-init', 'exited', undefined, {
        exitCode: 1,
        logs: 'cluster-init failed: timed out waiting for mariadb-1',
      }),
      container('payment-1', 'running', 'starting'),
    ]);
    const t0 = Date.now();
    await expect(new ComposeStack('p', docker.env).waitHealthy(60_000)).rejects.toThrow(
      /p_db-init_1 \(exited with code 1\)[\s\S]*cluster-init failed: timed out waiting for mariadb-1/,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it('names an unhealthy container with its last failed healthcheck, after the grace it is given', async () => {
    const docker = fakeDocker();
    docker.set([
      container('reservation-1', 'running', 'unhealthy', {
        probe: '127.0.0.1:3000/health/live: HTTP/1.1 503 Service Unavailable',
        logs: 'Error: Command timed out',
      }),
    ]);
    const stack = new ComposeStack('p', docker.env);
    await expect(stack.waitHealthy(60_000)).rejects.toThrow(
      /p_reservation-1_1 \(running, unhealthy\)\n\s+last healthcheck: 127\.0\.0\.1:3000\/health\/live: HTTP\/1\.1 503[\s\S]*Command timed out/,
    );
    // within a grace, a container that turns healthy again is waited for
    setTimeout(() => docker.set([container('reservation-1', 'running', 'healthy')]), 1_500);
    await expect(stack.waitHealthy(20_000, undefined, { graceMs: 10_000 })).resolves.toHaveLength(
      1,
    );
    // spawns the fake docker every round, as the next test
  }, 30_000);

  it('gives up at the deadline naming what it still waits for', async () => {
    const docker = fakeDocker();
    docker.set([container('gateway', 'running', 'starting')]);
    await expect(new ComposeStack('p', docker.env).waitHealthy(1_500)).rejects.toThrow(
      /not healthy after 2 s: p_gateway_1/,
    );
    // each round spawns the fake docker: on a loaded host that alone can take seconds
  }, 20_000);
});

describe('runCommand', () => {
  it('reports a command killed at its timeout as failed, even when it then exits 0', async () => {
    // as the docker CLI does on SIGTERM: no output, status 0
    const r = await runCommand('sh', ['-c', 'trap "exit 0" TERM; sleep 5 & wait'], {
      timeoutMs: 300,
    });
    expect(r.code).toBe(124);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/timed out after 300 ms/);
    const ok = await runCommand('sh', ['-c', 'echo fine'], { timeoutMs: 5_000 });
    expect(ok).toEqual({ code: 0, stdout: 'fine\n', stderr: '' });
  });
});
